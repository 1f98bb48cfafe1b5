// Starts the booking server: one thread per loop, each with its own evhttp
// listener (shared port, SO_REUSEPORT) and its own Redis connection, and
// stops it gracefully: stop accepting, answer what is in hand, then exit.
import Foundation
import Logging
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import Synchronization

public final class BookingServer: Service {
    public let name = "seatlock-server"
    public let config: ServerConfig
    private let scripts: BookingScripts
    private let dashboard: Dashboard
    private let apiDocument: HTTPResponse
    private let loops = Mutex<[EventLoop.Handle]>([])
    private let finished = DispatchGroup()
    /// Shared by every loop: /metrics shows the whole server.
    public let metrics = ServerMetrics()

    public init(config: ServerConfig, library: ScriptLibrary) throws {
        self.config = config
        self.scripts = try BookingScripts(library)
        self.dashboard = try Dashboard.locate()
        self.apiDocument = try Dashboard.apiDocument()
    }

    private let boundPort = Mutex(0)
    /// The port every loop listens on (the one picked when `config.port` is 0), once started.
    public var port: Int { boundPort.withLock { $0 } }

    /// Starts every loop; returns once all of them listen.
    public func start() throws {
        raiseOpenFileLimit()
        ignoreBrokenPipes()
        var port = config.port
        for index in 0..<max(1, config.threads) {
            port = try startLoop(index: index, port: port)
        }
        boundPort.withLock { $0 = port }
    }

    private func startLoop(index: Int, port: Int) throws -> Int {
        let started = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<Int, any Error>?>(nil)
        let config = self.perLoopConfig
        let scripts = self.scripts, metrics = self.metrics, dashboard = self.dashboard, apiDocument = self.apiDocument
        finished.enter()
        let thread = Thread { [self] in
            defer { finished.leave() }
            var logger = Logger(label: "seatlock.loop\(index)")
            logger.logLevel = .info
            let loop: EventLoop
            do { loop = try EventLoop() } catch {
                outcome.withLock { $0 = .failure(error) }
                started.signal()
                return
            }
            let redis = RedisConnection(loop: loop, url: config.redis, options: config.redisOptions)
            var streamLimits = AvailabilityStreams.Limits()
            // Streams may take at most half of this loop's connections; the rest stay for buying.
            streamLimits.perLoop = max(1, config.http.maxConnections / 2)
            streamLimits.heartbeat = min(.seconds(5), .milliseconds(config.http.idleTimeoutSeconds * 500))
            let streams = AvailabilityStreams(loop: loop, url: config.redis, redis: redis, limits: streamLimits)
            let inventory = EventInventory(loop: loop, redis: redis)
            let queues = QueueDesk(loop: loop, redis: redis, scripts: scripts, shoppingBound: config.queueShoppingBound)
            let handlers = BookingHandlers(config: config, scripts: scripts, dashboard: dashboard, apiDocument: apiDocument, redis: redis, streams: streams,
                                           inventory: inventory, queues: queues, metrics: metrics, logger: logger)
            let server: HTTPServer
            do {
                server = try HTTPServer(loop: loop, host: config.host, port: port, limits: config.http) { request, responder in
                    handlers.handle(request, responder)
                }
            } catch {
                outcome.withLock { $0 = .failure(error) }
                started.signal()
                return
            }
            redis.onStateChange = { state in
                if state == .disconnected { logger.warning("Redis connection lost; reconnecting", metadata: ["redis": "\(config.redis)"]) }
                if state == .connected { logger.debug("Redis connected") }
            }
            loop.onShutdownRequest = {
                streams.close()
                inventory.close()
                queues.close()
                server.shutdown {
                    redis.close()
                    loop.handle.stop()
                }
            }
            loops.withLock { $0.append(loop.handle) }
            outcome.withLock { $0 = .success(server.port) }
            started.signal()
            loop.run()
            _ = server // keep the server alive until the loop returns
        }
        thread.name = "seatlock-loop-\(index)"
        thread.start()
        started.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Each loop takes its share of the connection cap.
    private var perLoopConfig: ServerConfig {
        var config = self.config
        config.http.maxConnections = max(1, config.http.maxConnections / max(1, config.threads))
        config.http.maxConnectionsPerAddress = max(1, config.http.maxConnectionsPerAddress / max(1, config.threads))
        return config
    }

    public func stop() { stop(timeout: .seconds(10)) }

    /// Graceful stop: returns when every loop has finished (or after `timeout`).
    public func stop(timeout: Duration) {
        for handle in loops.withLock({ $0 }) { handle.requestShutdown() }
        let seconds = Double(timeout.components.seconds)
        if finished.wait(timeout: .now() + seconds) == .timedOut {
            for handle in loops.withLock({ $0 }) { handle.stop() }
            _ = finished.wait(timeout: .now() + 1)
        }
    }
}
