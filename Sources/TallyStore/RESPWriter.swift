import TallyBase
import TallyCore

/// Formats Redis commands (RESP arrays of bulk strings) into a reusable buffer, without allocating.
public struct RESPWriter {
    public let buffer: ByteBuffer

    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// Starts a command of `count` arguments (the command name included).
    public func begin(arguments count: Int) {
        buffer.append(byte: UInt8(ascii: "*"))
        buffer.append(decimal: count)
        buffer.append("\r\n")
    }

    public func argument(_ bytes: UnsafeRawBufferPointer) {
        buffer.append(byte: UInt8(ascii: "$"))
        buffer.append(decimal: bytes.count)
        buffer.append("\r\n")
        buffer.append(bytes)
        buffer.append("\r\n")
    }

    public func argument(_ text: StaticString) {
        argument(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Labelled for the same reason as `ByteBuffer.append(string:)`: literals take the
    /// `StaticString` overload.
    public func argument(string text: String) {
        var text = text
        text.withUTF8 { argument(UnsafeRawBufferPointer($0)) }
    }

    public func argument(decimal value: Int64) {
        var digits = value < 0 ? 2 : 1
        var rest = value.magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        buffer.append(byte: UInt8(ascii: "$"))
        buffer.append(decimal: digits)
        buffer.append("\r\n")
        buffer.append(decimal: value)
        buffer.append("\r\n")
    }

    /// 16 lowercase hex digits (a ballot mask, as the vote script stores it).
    public func argument(hex value: UInt64) {
        buffer.append("$16\r\n")
        appendHex(value)
    }

    /// `+` and 16 hex digits: options the vote script adds to the voter's ballot.
    public func argument(addingHex value: UInt64) {
        buffer.append("$17\r\n+")
        appendHex(value)
    }

    private func appendHex(_ value: UInt64) {
        for shift in stride(from: 60, through: 0, by: -4) {
            buffer.append(byte: RESPWriter.hexDigits[Int((value >> UInt64(shift)) & 0xF)])
        }
        buffer.append("\r\n")
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A poll's key (`{p:ID}:suffix`), written without building a String.
    func key(_ kind: KeySchema.PollKey, _ poll: PollID) { key(kind, PollShard(poll: poll)) }

    /// A poll shard's key (`{p:ID}:suffix`, or `{p:ID:TAG}:suffix` for one of several shards).
    func key(_ kind: KeySchema.PollKey, _ shard: PollShard) {
        let suffix = kind.suffix
        let tagLength = shard.tag < 0 ? 0 : 1 + RESPWriter.digits(UInt64(shard.tag))
        buffer.append(byte: UInt8(ascii: "$"))
        buffer.append(decimal: 4 + RESPWriter.digits(shard.poll) + tagLength + suffix.utf8CodeUnitCount)
        buffer.append("\r\n{p:")
        buffer.append(decimal: Int64(shard.poll))
        if shard.tag >= 0 {
            buffer.append(byte: UInt8(ascii: ":"))
            buffer.append(decimal: Int64(shard.tag))
        }
        buffer.append(byte: UInt8(ascii: "}"))
        buffer.append(suffix)
        buffer.append("\r\n")
    }

    private static func digits(_ value: UInt64) -> Int {
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        return digits
    }

    /// A whole command from strings (admin path).
    public func command(_ arguments: [String]) { command(bytes: arguments.map { Array($0.utf8) }) }

    /// A whole command from raw byte strings (voter ids need not be UTF-8).
    public func command(bytes arguments: [[UInt8]]) {
        begin(arguments: arguments.count)
        for argument in arguments { argument.withUnsafeBytes { self.argument($0) } }
    }
}
