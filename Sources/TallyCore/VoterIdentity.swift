/// A voter id held inline (no allocation), with its engine key: what every dialect's credential
/// names and what the store writes to Redis.
public struct VoterIdentity {
    /// The longest voter id, in bytes (UTF-8 text, by convention).
    public static let maxBytes = 128

    private var storage = InlineArray<128, UInt8>(repeating: 0)
    public let count: Int
    public let key: VoterKey

    /// From raw id bytes; nil if empty or longer than `maxBytes`.
    public init?(_ id: UnsafeRawBufferPointer) {
        guard !id.isEmpty && id.count <= VoterIdentity.maxBytes else { return nil }
        for index in 0..<id.count { storage[index] = id[index] }
        count = id.count
        key = VoterKey(bytes: id)
    }

    /// From bytes `fill` writes into up to `maxBytes` of room, returning how many (nil or 0: none).
    public init?(filling fill: (UnsafeMutableRawBufferPointer) -> Int?) {
        var span = storage.mutableSpan
        guard let filled = span.withUnsafeMutableBytes({ fill($0) }), filled > 0, filled <= VoterIdentity.maxBytes else { return nil }
        count = filled
        key = storage.span.withUnsafeBytes { VoterKey(bytes: UnsafeRawBufferPointer(rebasing: $0[0..<filled])) }
    }

    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        storage.span.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    public var id: String { withBytes { String(decoding: $0, as: UTF8.self) } }
}
