import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client over a real socket, for tests that need to control every byte: split
/// requests, pipelining, malformed input, slow clients.
public final class RawClient {
    public let fd: Int32

    public init(port: Int, host: String = "127.0.0.1") throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard status == 0 else { throw POSIXError(.ECONNREFUSED) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    public func send(_ text: String) { send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return }
            offset += sent
        }
    }

    /// Closes the sending side only (a half-close): the server sees the end of input, and this
    /// client can still read.
    public func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until `count` complete responses arrived, the peer closed, or `timeout` passed.
    public func responses(_ count: Int, timeout: Double = 5) -> [HTTPResponse] {
        var data: [UInt8] = []
        var parsed: [HTTPResponse] = []
        let deadline = Date().addingTimeInterval(timeout)
        while parsed.count < count && Date() < deadline {
            guard let chunk = read(until: deadline) else { break }
            data += chunk
            parsed = HTTPResponse.parseAll(data)
        }
        return parsed
    }

    public func response(timeout: Double = 5) -> HTTPResponse? { responses(1, timeout: timeout).first }

    /// Everything that arrives within `timeout` (or until the peer closes).
    public func receiveAll(timeout: Double) -> String {
        var data: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline, let chunk = read(until: deadline) { data += chunk }
        return String(decoding: data, as: UTF8.self)
    }

    /// True when the server closed the connection (EOF) within `timeout`.
    public func isClosedByPeer(timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let chunk = read(until: deadline) else { return true }
            if chunk.isEmpty { continue }
        }
        return false
    }

    /// One recv, waiting at most until `deadline`; nil on EOF or error, [] on timeout.
    private func read(until deadline: Date) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let wait = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
        guard poll(&poller, 1, wait) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count > 0 ? Array(buffer[0..<count]) : nil
    }
}

/// A response parsed leniently enough for tests (Content-Length bodies only).
public struct HTTPResponse: CustomStringConvertible {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] }
    public var description: String { "\(status) \(headers) \(text)" }

    static func parseAll(_ data: [UInt8]) -> [HTTPResponse] {
        var responses: [HTTPResponse] = []
        var rest = data[...]
        while let end = rest.firstRange(of: Array("\r\n\r\n".utf8)) {
            let head = String(decoding: rest[rest.startIndex..<end.lowerBound], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { break }
            var headers: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            let length = Int(headers["content-length"] ?? "0") ?? 0
            guard rest.distance(from: end.upperBound, to: rest.endIndex) >= length else { break }
            let bodyEnd = rest.index(end.upperBound, offsetBy: length)
            responses.append(HTTPResponse(status: status, headers: headers, body: Array(rest[end.upperBound..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}
