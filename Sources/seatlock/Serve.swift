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
        let expiry = try server.expiry.options()
        try Preflight.check(config.redis, library: library, listen: expiry.listen)
        try ServerRunner.runUntilSignal(config: config, library: library, expiry: expiry)
    }
}

enum Preflight {
    /// Fails early, with the reason, when Redis is unreachable, may evict keys,
    /// refuses the scripts, or (with the listener on) will not publish
    /// expired-key events.
    static func check(_ url: RedisURL, library: ScriptLibrary, listen: Bool) throws {
        let client: RedisClient
        do { client = try RedisClient(url: url) } catch {
            throw ValidationError("Redis at \(url) is unreachable: \(error)")
        }
        try RedisRequirements.checkEvictionPolicy(client)
        try client.load(library)
        if listen { try ExpiryService.ensureNotifications(client) }
    }
}

enum ServerRunner {
    /// Starts the server, waits for SIGINT or SIGTERM, stops it gracefully.
    static func runUntilSignal(config: ServerConfig, library: ScriptLibrary, expiry: ExpiryOptions, banner: ((Int) -> Void)? = nil) throws {
        let logger = Logger(label: "seatlock")
        let server = try BookingServer(config: config, library: library)
        let expiryService = ExpiryService(redis: config.redis, scripts: try BookingScripts(library), options: expiry)
        try expiryService.start()
        let port = try server.start()
        logger.info("listening", metadata: ["port": "\(port)", "threads": "\(config.threads)", "redis": "\(config.redis)"])
        banner?(port)
        let main = try EventLoop()
        let signals = SignalWatcher(loop: main) { signal in
            logger.info("stopping", metadata: ["signal": "\(signal)"])
            main.handle.stop()
        }
        main.run()
        signals.cancel()
        server.stop()
        expiryService.stop()
        let counts = expiryService.expired
        logger.info("stopped", metadata: ["expiredByListener": "\(counts.byListener)", "expiredBySweeper": "\(counts.bySweeper)"])
    }
}

/// `seatlock expiry`: the listener and sweeper alone, without HTTP.
struct Expiry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run only the hold-expiry listener and sweeper.")

    @OptionGroup var redis: RedisOptions
    @OptionGroup var expiry: ExpiryFlags

    func run() throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let url = try redis.resolved()
        let library = try ScriptLibrary.locate()
        let options = try expiry.options()
        try Preflight.check(url, library: library, listen: options.listen)
        let service = ExpiryService(redis: url, scripts: try BookingScripts(library), options: options)
        try service.start()
        let logger = Logger(label: "seatlock.expiry")
        logger.info("expiry running", metadata: ["listener": "\(options.listen)", "redis": "\(url)"])
        let main = try EventLoop()
        let signals = SignalWatcher(loop: main) { _ in main.handle.stop() }
        main.run()
        signals.cancel()
        service.stop()
        let counts = service.expired
        logger.info("stopped", metadata: ["expiredByListener": "\(counts.byListener)", "expiredBySweeper": "\(counts.bySweeper)"])
    }
}
