import Atomics
import CHTTPParser
import TallyBase

/// N event loops, each on its own thread with its own SO_REUSEPORT listener on the same address.
///
/// Lifecycle: `init` binds every listener (so a taken port fails here), `start()` runs the loops,
/// `stop()` asks each to drain (stop accepting, finish requests in flight, close), `wait()` joins.
public final class HTTPServer: @unchecked Sendable {
    public let limits: HTTPLimits
    /// The port bound (useful with port 0).
    public let port: Int
    private let loops: [EventLoop]
    private let stopRequested = ManagedAtomic(false)
    private let joined = ManagedAtomic(false)

    /// - Parameter makeRouter: called once per loop, before it runs, with the loop's context; the
    ///   routes' handlers run on that loop's thread only.
    public init(
        host: String, port: Int, loopCount: Int, limits: HTTPLimits, makeRouter: (LoopContext) -> Router
    ) throws(HTTPServerError) {
        precondition(loopCount > 0)
        self.limits = limits
        http_parser_set_max_header_size(UInt32(limits.maxHeaderBytes))
        let perLoop = (limits.maxConnections + loopCount - 1) / loopCount
        var loops: [EventLoop] = []
        // The first loop binds the port asked for; the others join it (port 0 picks one for all).
        var boundPort = port
        for index in 0..<loopCount {
            let loop = try EventLoop(
                index: index, host: host, port: boundPort, limits: limits, maxConnections: perLoop, makeRouter: makeRouter)
            if index == 0 { boundPort = loop.boundPort }
            loops.append(loop)
        }
        self.loops = loops
        self.port = boundPort
    }

    public func start() {
        for loop in loops { loop.start() }
    }

    /// Graceful stop, from any thread: stop accepting, finish requests in flight (up to
    /// `limits.drainTimeoutMilliseconds`), close every connection; `wait()` then returns.
    public func stop() {
        guard !stopRequested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for loop in loops { loop.requestStop() }
    }

    /// Returns when every loop has stopped. Call once after `stop()`; later calls return at once.
    public func wait() {
        guard !joined.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for loop in loops { loop.join() }
    }

    /// Each loop's transport counters.
    public var stats: [LoopStats] { loops.map(\.stats) }
}
