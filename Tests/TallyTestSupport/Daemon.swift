import Foundation

/// The real `tallyd` binary, run as a child process with a temporary configuration on a free port.
public final class Daemon: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    public let configPath: String
    private let errors = Pipe()
    private var log = ""
    /// The Redis it stores votes in.
    public let redis: RedisServer

    /// The `tallyd` built next to the test bundle (`swift test` builds it: the tests depend on it),
    /// or `TALLY_TEST_TALLYD` (to run the tests against another build, e.g. an earlier commit's).
    public static var binary: URL {
        if let other = ProcessInfo.processInfo.environment["TALLY_TEST_TALLYD"] { return URL(fileURLWithPath: other) }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tallyd")
    }

    /// Starts `tallyd run` with `config` (TOML; `listen` is set to a free port unless given) and
    /// waits until it listens. Votes go to `redis`, or to a fresh redis-server of its own.
    public init(config: String, redis: RedisServer? = nil, environment: [String: String] = [:]) throws {
        self.redis = try redis ?? RedisServer()
        configPath = NSTemporaryDirectory() + "tally-\(UUID().uuidString).toml"
        var full = config.contains("listen") ? config : config.replacingOccurrences(
            of: "[server]", with: "[server]\nlisten = \"127.0.0.1:0\"")
        if !full.contains("[redis]") { full += "\n[redis]\naddress = \"127.0.0.1:\(self.redis.port)\"\n" }
        try full.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = Daemon.binary
        process.arguments = ["run", "--config", configPath]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = errors
        try ProcessGate.shared.launch { try process.run() }
        let deadline = Date().addingTimeInterval(10)
        while port == 0 && Date() < deadline && process.isRunning {
            let data = errors.fileHandleForReading.availableData
            log += String(decoding: data, as: UTF8.self)
            if let range = log.range(of: #"listening on [^ ]+:(\d+)"#, options: .regularExpression) {
                port = Int(log[range].split(separator: ":").last!) ?? 0
            }
        }
        guard port != 0 else {
            if !process.isRunning { log += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
            throw DaemonError(message: "tallyd did not start: \(log)")
        }
    }

    deinit {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: configPath)
    }

    public func client() throws -> RawClient { try RawClient(port: port) }

    /// The daemon's resident memory (VmRSS), in kB.
    public var residentKilobytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// SIGKILL: gone at once, as in a crash.
    public func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM, waits for the exit and returns its status and everything it logged.
    public func stop() -> (status: Int32, log: String) {
        process.terminate()
        process.waitUntilExit()
        log += String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, log)
    }

    /// Runs `tallyd ARGUMENTS` to completion: exit status and combined output.
    public static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        try runToCompletion(binary, arguments, environment: environment)
    }
}

/// Runs a program to completion: its exit status and its standard output and error together.
public func runToCompletion(_ program: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = program
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try ProcessGate.shared.launch { try process.run() }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

public struct DaemonError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

extension RawClient {
    /// Sends one request on this connection and reads its response.
    public func request(
        _ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil
    ) -> HTTPResponse? {
        send(RawClient.requestText(method, path, headers: headers, body: body))
        return response()
    }

    /// A request as sent: `body`, if any, as JSON.
    public static func requestText(_ method: String, _ path: String, headers: [String: String] = [:], body: String? = nil) -> String {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: tally\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return head + "\r\n" + (body ?? "")
    }
}
