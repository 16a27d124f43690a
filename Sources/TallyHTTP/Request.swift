import CLibUV
import Glibc

/// Where a header's name and value lie in the connection's request bytes.
struct HeaderSpan {
    var nameStart: Int32 = 0
    var nameCount: Int32 = 0
    var valueStart: Int32 = 0
    var valueCount: Int32 = 0
}

/// One parsed request, as a view into its connection's buffer: valid only while the handler runs
/// (copy out what must outlive it). Nothing here allocates.
public struct Request {
    public let method: HTTPMethod
    /// The request target up to `?`, still percent-encoded.
    public let path: UnsafeRawBufferPointer
    /// After `?`, without it; empty when there is none.
    public let query: UnsafeRawBufferPointer
    public let body: UnsafeRawBufferPointer
    /// The peer's IP address (IPv4 mapped into IPv6), for trusted-proxy checks.
    public let peer: PeerAddress
    let buffer: UnsafeRawPointer
    let headers: UnsafeBufferPointer<HeaderSpan>

    /// The value of the first header named `name` (ASCII, any case), without surrounding spaces.
    public func header(_ name: StaticString) -> UnsafeRawBufferPointer? {
        let wanted = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for span in headers where Int(span.nameCount) == wanted.count {
            let candidate = UnsafeRawBufferPointer(start: buffer + Int(span.nameStart), count: Int(span.nameCount))
            if ASCII.equalsIgnoringCase(candidate, wanted) {
                return ASCII.trimmed(UnsafeRawBufferPointer(start: buffer + Int(span.valueStart), count: Int(span.valueCount)))
            }
        }
        return nil
    }

    /// The path split at `/`, without empty segments.
    public var pathSegments: PathSegments { PathSegments(remaining: path) }
}

/// Iterates the segments of a path without allocating.
public struct PathSegments: Sequence, IteratorProtocol {
    var remaining: UnsafeRawBufferPointer
    public mutating func next() -> UnsafeRawBufferPointer? {
        while let first = remaining.first, first == UInt8(ascii: "/") { remaining = UnsafeRawBufferPointer(rebasing: remaining.dropFirst()) }
        guard !remaining.isEmpty else { return nil }
        let end = remaining.firstIndex(of: UInt8(ascii: "/")) ?? remaining.count
        let segment = UnsafeRawBufferPointer(rebasing: remaining[0..<end])
        remaining = UnsafeRawBufferPointer(rebasing: remaining[end...])
        return segment
    }
}

/// A peer's IP address: 16 bytes, IPv4 as IPv4-mapped IPv6.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static let unknown = PeerAddress(high: 0, low: 0)

    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        high = 0
        low = 0x0000_FFFF_0000_0000 | UInt64(a) << 24 | UInt64(b) << 16 | UInt64(c) << 8 | UInt64(d)
    }

    /// Parses IPv4 or IPv6 text (`inet_pton`); nil if it is neither.
    public init?(parsing text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            let bytes = withUnsafeBytes(of: v4) { Array($0) }
            self.init(ipv4: bytes[0], bytes[1], bytes[2], bytes[3])
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self = withUnsafeBytes(of: v6) { PeerAddress(ipv6: $0) }
        } else {
            return nil
        }
    }

    /// From the 16 bytes of an IPv6 address in network order.
    init(ipv6 bytes: UnsafeRawBufferPointer) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        self.init(high: high, low: low)
    }

    public var description: String {
        if high == 0 && low >> 32 == 0xFFFF {
            return "\(low >> 24 & 0xFF).\(low >> 16 & 0xFF).\(low >> 8 & 0xFF).\(low & 0xFF)"
        }
        return (0..<8).map { index in
            String((index < 4 ? high : low) >> (48 - 16 * UInt64(index % 4)) & 0xFFFF, radix: 16)
        }.joined(separator: ":")
    }
}

/// Byte helpers for ASCII protocol text.
public enum ASCII {
    public static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    public static func equalsIgnoringCase(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count where lowercased(a[index]) != lowercased(b[index]) { return false }
        return true
    }

    /// Whether `bytes` start with `prefix` (ASCII, any case): a media type before its parameters.
    public static func startsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        let wanted = UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        return bytes.count >= wanted.count && equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: bytes[0..<wanted.count]), wanted)
    }

    public static func equals(_ a: UnsafeRawBufferPointer, _ b: StaticString) -> Bool {
        equals(a, UnsafeRawBufferPointer(start: b.utf8Start, count: b.utf8CodeUnitCount))
    }

    /// Byte equality with `memcmp` (the generic `elementsEqual` costs ~10 instructions a byte:
    /// callgrind put routing at 4.7 k instructions of a Talk vote that way).
    public static func equals(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        guard let left = a.baseAddress, let right = b.baseAddress else { return true }
        return memcmp(left, right, a.count) == 0
    }

    public static func trimmed(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start += 1 }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }

    /// Parses an unsigned decimal that fills all of `bytes`; nil on anything else or overflow.
    public static func parseUInt64(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in bytes {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}
