#if canImport(Glibc)
import Glibc
#endif

/// A growable byte buffer owned by one loop thread: a connection's request bytes, its pending
/// responses, a loop's scratch space. Allocated once and reused, so steady-state requests do not
/// allocate; it grows by doubling up to whatever limit its owner enforces.
public final class ByteBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var count = 0
    public private(set) var capacity: Int

    public init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    public func removeAll() { count = 0 }

    /// Drops the first `n` bytes (after a partial write).
    public func removeFirst(_ n: Int) {
        precondition(n <= count)
        if n < count { memmove(base, base + n, count - n) }
        count -= n
    }

    /// Gives back memory above `limit` bytes when empty, so idle connections stay small.
    public func shrink(to limit: Int) {
        guard count == 0, capacity > limit else { return }
        base.deallocate()
        capacity = limit
        base = .allocate(byteCount: limit, alignment: 16)
    }

    /// Makes room for `additional` more bytes: the check is inlined into every append (several
    /// dozen a request), growing (rare) is not.
    @inline(__always) public func reserve(_ additional: Int) {
        if count + additional > capacity { grow(toHold: count + additional) }
    }

    @inline(never) private func grow(toHold needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        (base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    public func append(_ pointer: UnsafePointer<CChar>, length: Int) {
        append(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    public func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A String's bytes. Labelled, so that a literal picks the `StaticString` overload (a plain
    /// copy) instead: Swift prefers `String` for literals, and its `withUTF8` costs ~240
    /// instructions a call (callgrind: 5 header pieces per response went this way).
    public func append(string text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    public func append(byte: UInt8) {
        reserve(1)
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// Appends a decimal integer without allocating.
    public func append(decimal value: Int64) {
        if value < 0 { append(byte: UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var index = digits.count
            repeat {
                index -= 1
                digits[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            append(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[index...])))
        }
    }

    public func append(decimal value: Int) { append(decimal: Int64(value)) }
}
