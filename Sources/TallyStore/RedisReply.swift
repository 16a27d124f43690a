import CHiredis

/// A view of a hiredis reply, valid only during the reply callback.
public struct RedisReply {
    let pointer: UnsafeMutablePointer<redisReply>

    init(_ pointer: UnsafeMutablePointer<redisReply>) { self.pointer = pointer }

    public var isError: Bool { pointer.pointee.type == REDIS_REPLY_ERROR }
    public var isNil: Bool { pointer.pointee.type == REDIS_REPLY_NIL }
    public var integer: Int64? { pointer.pointee.type == REDIS_REPLY_INTEGER ? Int64(pointer.pointee.integer) : nil }

    /// The bytes of a string, status or error reply.
    public var bytes: UnsafeRawBufferPointer? {
        switch pointer.pointee.type {
        case REDIS_REPLY_STRING, REDIS_REPLY_STATUS, REDIS_REPLY_ERROR:
            UnsafeRawBufferPointer(start: pointer.pointee.str, count: Int(pointer.pointee.len))
        default: nil
        }
    }

    /// The text of a string, status or error reply (allocates; off the vote path).
    public var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

    /// An integer reply, or a string reply of decimal digits (as HGET returns counters), read
    /// without allocating; nil otherwise (a nil reply: no such field).
    public var decimal: Int64? {
        if let integer { return integer }
        guard pointer.pointee.type == REDIS_REPLY_STRING, var digits = bytes else { return nil }
        let negative = digits.first == UInt8(ascii: "-")
        if negative { digits = UnsafeRawBufferPointer(rebasing: digits.dropFirst()) }
        guard !digits.isEmpty, digits.count <= 18 else { return nil }  // 18 digits cannot overflow
        var value: Int64 = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int64(byte - UInt8(ascii: "0"))
        }
        return negative ? -value : value
    }

    public var isArray: Bool { pointer.pointee.type == REDIS_REPLY_ARRAY }

    /// The elements of an array reply (empty for other replies).
    public var count: Int { pointer.pointee.type == REDIS_REPLY_ARRAY ? Int(pointer.pointee.elements) : 0 }

    public subscript(index: Int) -> RedisReply {
        precondition(index < count)
        return RedisReply(pointer.pointee.element[index]!)
    }

    /// Whether a string/status/error reply begins with `prefix`.
    public func hasPrefix(_ prefix: StaticString) -> Bool {
        guard let bytes, bytes.count >= prefix.utf8CodeUnitCount else { return false }
        return UnsafeRawBufferPointer(rebasing: bytes[0..<prefix.utf8CodeUnitCount])
            .elementsEqual(UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount))
    }
}
