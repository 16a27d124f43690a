import Foundation

/// A real `redis-server` on a free loopback port with its own data folder, for tests; killed when
/// released. Fault tests stop, pause and restart it.
///
/// It runs the shipped `deploy/redis.conf` (append-only file, `appendfsync always`), or another
/// file of `deploy/` (`redis-cluster.conf`), with only the address, the data folder and the log
/// changed, plus any `settings` (e.g. `appendfsync everysec`), so the tests hold what deployments get.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: String
    /// The configuration file it runs.
    public let config: String
    private var process: Process?
    /// More `--name value` arguments over the shipped file's; a change takes effect at the next
    /// `start()`.
    public var settings: [String]

    /// - Parameters:
    ///   - config: the configuration file.
    ///   - settings: more `--name value` arguments over the file's.
    public init(config: String = RedisServer.shippedConfig, settings: [String] = []) throws {
        self.config = config
        port = try RedisServer.freePort()
        directory = NSTemporaryDirectory() + "tally-redis-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        self.settings = settings
        try start()
    }

    /// A Redis without an append-only file, which tallyd refuses unless `allow_volatile`.
    public static func volatile() throws -> RedisServer { try RedisServer(settings: ["--appendonly", "no"]) }

    /// The repository's `deploy/redis.conf`.
    public static let shippedConfig = deployFile("redis.conf")

    /// A file of the repository's `deploy/`.
    public static func deployFile(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("deploy/\(name)").path
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts (or restarts, on the same port and data) and waits until it answers PING.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = [
            config, "--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory, "--daemonize", "no",
            "--logfile", "",
        ] + settings
        process.standardOutput = FileHandle.nullDevice
        try ProcessGate.shared.launch { try process.run() }
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if (try? cli(["PING"])) == "PONG" { return }
            usleep(20_000)
        }
        throw DaemonError(message: "redis-server did not start on port \(port)")
    }

    /// SIGKILL: gone at once, as in a crash.
    public func kill() {
        guard let process, process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Whether it runs (not killed).
    public var isRunning: Bool { process?.isRunning ?? false }

    /// The process id, for fault injection (e.g. strace).
    public var processIdentifier: Int32 { process?.processIdentifier ?? 0 }

    /// SIGSTOP / SIGCONT: alive but not answering.
    public func pause() { if let process { Foundation.kill(process.processIdentifier, SIGSTOP) } }
    public func resume() { if let process { Foundation.kill(process.processIdentifier, SIGCONT) } }

    /// Runs `redis-cli` against this server; its output without the trailing newline.
    @discardableResult
    public func cli(_ arguments: [String]) throws -> String {
        try runToCompletion(URL(fileURLWithPath: "/usr/bin/redis-cli"), ["-p", "\(port)"] + arguments)
            .output.trimmingCharacters(in: .newlines)
    }

    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else { throw DaemonError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
