import TallyBase

/// Called on every tick of the loop's sweep timer (every 250 ms) while a response streams
/// Server-Sent Events; writes zero or more events and returns false to end the stream.
public typealias EventStreamTick = (inout EventStreamWriter) -> Bool

/// Writes Server-Sent Events as chunks of a chunked HTTP/1.1 response.
public struct EventStreamWriter {
    let output: ByteBuffer
    let scratch: ByteBuffer

    /// Writes `event: NAME` with a JSON `data:` line that `build` writes. Returns the frame's bytes
    /// hash, so a caller can skip frames that did not change (`send(…, unlessHash:)`).
    @discardableResult
    public mutating func send(event: StaticString, unlessHash previous: Int? = nil, _ build: (inout JSONWriter) -> Void) -> Int {
        scratch.removeAll()
        scratch.append("event: ")
        scratch.append(event)
        scratch.append("\ndata: ")
        var json = JSONWriter(scratch)
        build(&json)  // JSON has no raw newlines, so one data line carries it
        scratch.append("\n\n")
        var hasher = Hasher()
        hasher.combine(bytes: scratch.bytes)
        let hash = hasher.finalize()
        if hash != previous { EventStreamWriter.chunk(scratch.bytes, to: output) }
        return hash
    }

    /// A comment line, which keeps proxies from closing an idle stream.
    public mutating func heartbeat() {
        let line: StaticString = ": heartbeat\n\n"
        EventStreamWriter.chunk(UnsafeRawBufferPointer(start: line.utf8Start, count: line.utf8CodeUnitCount), to: output)
    }

    static func chunk(_ bytes: UnsafeRawBufferPointer, to output: ByteBuffer) {
        let hex: StaticString = "0123456789abcdef"
        var digits = 0
        var length = bytes.count
        repeat {
            digits += 1
            length >>= 4
        } while length > 0
        for digit in stride(from: digits - 1, through: 0, by: -1) {
            output.append(byte: hex.utf8Start[(bytes.count >> (4 * digit)) & 0xF])
        }
        output.append("\r\n")
        output.append(bytes)
        output.append("\r\n")
    }
}
