// `seatlock serve`: the booking server, until SIGINT/SIGTERM.
import ArgumentParser
import Foundation
import Logging
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
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
    /// expired-key events. Fills the event list's index for older events.
    static func check(_ url: RedisURL, library: ScriptLibrary, listen: Bool) throws {
        let client: RedisClient
        do { client = try RedisClient(url: url) } catch {
            throw ValidationError("Redis at \(url) is unreachable: \(error)")
        }
        try RedisRequirements.checkEvictionPolicy(client)
        try client.load(library)
        try EventListIndex.backfill(client)
        if listen { try ExpiryService.ensureNotifications(client) }
    }
}

enum ServerRunner {
    /// Starts `workers`, the expiry service and the server, in that order,
    /// waits for SIGINT or SIGTERM, and stops them gracefully in reverse.
    static func runUntilSignal(config: ServerConfig, library: ScriptLibrary, expiry: ExpiryOptions,
                               workers: [any Service] = [], banner: ((Int) -> Void)? = nil) throws {
        let logger = Logger(label: "seatlock")
        let server = try BookingServer(config: config, library: library)
        let expiryService = ExpiryService(redis: config.redis, scripts: try BookingScripts(library), options: expiry)
        try ServiceRunner.runUntilSignal(workers + [expiryService, server], started: {
            logger.info("listening", metadata: ["port": "\(server.port)", "threads": "\(config.threads)", "redis": "\(config.redis)"])
            banner?(server.port)
        }, onSignal: { signal in
            logger.info("stopping", metadata: ["signal": "\(signal)"])
        })
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
        let logger = Logger(label: "seatlock.expiry")
        try ServiceRunner.runUntilSignal([service], started: {
            logger.info("expiry running", metadata: ["listener": "\(options.listen)", "redis": "\(url)"])
        })
        let counts = service.expired
        logger.info("stopped", metadata: ["expiredByListener": "\(counts.byListener)", "expiredBySweeper": "\(counts.bySweeper)"])
    }
}
