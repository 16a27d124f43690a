#if canImport(Glibc)
import Glibc
#endif

/// A growable byte buffer owned by one loop thread: a connection's request bytes, its pending
/// responses, a loop's scratch space. Allocated once and reused, so steady-state requests do not
/// allocate; it grows by doubling up to whatever limit its owner enforces.
public final class ByteBuffer {
    // The hot methods are inlinable: JSON and HTTP heads are written a few bytes at a time, from
    // other modules (callgrind: calls, not copies, were most of a dialect's answer).
    @usableFromInline var storage: UnsafeMutableRawPointer
    @usableFromInline var used = 0
    @usableFromInline var room: Int

    public init(capacity: Int) {
        room = max(capacity, 16)
        storage = .allocate(byteCount: room, alignment: 16)
    }

    deinit { storage.deallocate() }

    public var base: UnsafeMutableRawPointer { storage }
    public var count: Int { used }
    public var capacity: Int { room }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage, count: used) }

    public func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage + range.lowerBound, count: range.count)
    }

    public func removeAll() { used = 0 }

    /// Drops the first `n` bytes (after a partial write).
    public func removeFirst(_ n: Int) {
        precondition(n <= used)
        if n < used { memmove(storage, storage + n, used - n) }
        used -= n
    }

    /// Gives back memory above `limit` bytes when empty, so idle connections stay small.
    public func shrink(to limit: Int) {
        guard used == 0, room > limit else { return }
        storage.deallocate()
        room = limit
        storage = .allocate(byteCount: limit, alignment: 16)
    }

    /// Makes room for `additional` more bytes: the check is inlined into every append (several
    /// dozen a request), growing (rare) is not.
    @inlinable public func reserve(_ additional: Int) {
        if used + additional > room { grow(toHold: used + additional) }
    }

    @usableFromInline @inline(never) func grow(toHold needed: Int) {
        var newCapacity = room * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: storage, byteCount: used)
        storage.deallocate()
        storage = grown
        room = newCapacity
    }

    @inlinable public func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        let target = storage + used
        if bytes.count <= 16 {
            // A key or a word: a short loop beats a call to memcpy.
            for index in 0..<bytes.count { target.storeBytes(of: source.load(fromByteOffset: index, as: UInt8.self), toByteOffset: index, as: UInt8.self) }
        } else {
            target.copyMemory(from: source, byteCount: bytes.count)
        }
        used += bytes.count
    }

    public func append(_ pointer: UnsafePointer<CChar>, length: Int) {
        append(UnsafeRawBufferPointer(start: pointer, count: length))
    }

    /// Writes up to `maxCount` bytes in place: `write` gets where they go and returns how many it
    /// wrote. One reservation for a few pieces (a JSON key and its quotes and colon).
    @inlinable public func append(upTo maxCount: Int, _ write: (UnsafeMutableRawPointer) -> Int) {
        reserve(maxCount)
        used += write(storage + used)
    }

    @inlinable public func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A String's bytes. Labelled, so that a literal picks the `StaticString` overload (a plain
    /// copy) instead: Swift prefers `String` for literals, and its `withUTF8` costs ~240
    /// instructions a call (callgrind: 5 header pieces per response went this way).
    public func append(string text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    @inlinable public func append(byte: UInt8) {
        reserve(1)
        storage.storeBytes(of: byte, toByteOffset: used, as: UInt8.self)
        used += 1
    }

    /// Appends a decimal integer without allocating.
    @inlinable public func append(decimal value: Int64) {
        if value >= 0 && value < 10 { return append(byte: UInt8(ascii: "0") + UInt8(value)) }
        appendDecimal(value)
    }

    @usableFromInline func appendDecimal(_ value: Int64) {
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

    @inlinable public func append(decimal value: Int) { append(decimal: Int64(value)) }
}
