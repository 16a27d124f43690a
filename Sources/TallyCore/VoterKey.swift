/// A voter as the ledger knows them: a 128-bit keyed hash of the voter id.
///
/// 128 bits make a collision (two voters sharing a ballot) practically impossible (~2^-64 at four
/// billion voters in one poll). The hash is seeded per process (Swift's `Hasher`), so crafted ids
/// cannot aim at one probe chain; keys are never stored or compared across processes — Redis keeps
/// the voter id itself.
public struct VoterKey: Hashable, Sendable {
    /// Always has its top bit set, so it never equals one of the ledger's slot states (0, 1, 2).
    public let high: UInt64
    public let low: UInt64

    public init(id: String) {
        var id = id
        self = id.withUTF8 { VoterKey(bytes: UnsafeRawBufferPointer($0)) }
    }

    public init(bytes: UnsafeRawBufferPointer) {
        var first = Hasher()
        first.combine(0x5441_4C4C_5901 as UInt64)
        first.combine(bytes: bytes)
        var second = Hasher()
        second.combine(0x5441_4C4C_5902 as UInt64)
        second.combine(bytes: bytes)
        high = UInt64(UInt(bitPattern: first.finalize())) | (1 << 63)
        low = UInt64(UInt(bitPattern: second.finalize()))
    }
}
