// `seatlock serve`: the booking server, until SIGINT/SIGTERM.
import ArgumentParser
import Foundation
import Logging
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the booking HTTP server.")

    @OptionGroup var redis: RedisOptions
    @OptionGroup var server: ServerOptions

    func run() throws {
        server.bootstrapLogging()
        let config = try server.config(redis: try redis.resolved())
        let library = try ScriptLibrary.locate()
        try Preflight.check(config.redis, library: library)
        try ServerRunner.runUntilSignal(config: config, library: library)
    }
}

enum Preflight {
    /// Fails early, with the reason, when Redis is unreachable or refuses the scripts.
    static func check(_ url: RedisURL, library: ScriptLibrary) throws {
        let client: RedisClient
        do { client = try RedisClient(url: url) } catch {
            throw ValidationError("Redis at \(url) is unreachable: \(error)")
        }
        try client.load(library)
    }
}

enum ServerRunner {
    /// Starts the server, waits for SIGINT or SIGTERM, stops it gracefully.
    static func runUntilSignal(config: ServerConfig, library: ScriptLibrary, banner: ((Int) -> Void)? = nil) throws {
        let logger = Logger(label: "seatlock")
        let server = try BookingServer(config: config, library: library)
        let port = try server.start()
        logger.info("listening", metadata: ["port": "\(port)", "threads": "\(config.threads)", "redis": "\(config.redis)"])
        banner?(port)
        let main = EventLoop()
        let signals = SignalWatcher(loop: main) { signal in
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            main.handle.stop()
        }
        main.run()
        signals.cancel()
        server.stop()
        logger.info("stopped")
    }
}
