// Settings shared by the subcommands: each flag falls back to its
// environment variable (SPEC "Configuration"), then to a default.
import ArgumentParser
import Foundation
import Logging
import SeatlockRedis
import SeatlockServer

struct RedisOptions: ParsableArguments {
    @Option(name: .customLong("redis-url"), help: "redis://[user:pass@]host:port/db (env REDIS_URL)")
    var redisURL: String?

    var environmentURL: String? {
        redisURL ?? ProcessInfo.processInfo.environment["REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    func resolved() throws -> RedisURL {
        let text = environmentURL ?? "redis://127.0.0.1:6379/0"
        guard let url = RedisURL(text) else { throw ValidationError("REDIS_URL is not a redis:// URL: \(text)") }
        return url
    }
}

struct ServerOptions: ParsableArguments {
    @Option(name: .customLong("http-port"), help: "HTTP port (env SEATLOCK_HTTP_PORT, default 8080)")
    var httpPort: Int?
    @Option(name: .customLong("host"), help: "Address to listen on (default 0.0.0.0)")
    var host: String = "0.0.0.0"
    @Option(name: .customLong("threads"), help: "Event loops, one thread each (env SEATLOCK_THREADS, default: cores)")
    var threads: Int?
    @Option(name: .customLong("admin-token"), help: "Admin bearer token (env SEATLOCK_ADMIN_TOKEN)")
    var adminToken: String?
    @Option(name: .customLong("token-secret"), help: "HS256 secret for buyer tokens (env SEATLOCK_TOKEN_SECRET)")
    var tokenSecret: String?
    @Option(name: .customLong("payment-grace"), help: "Seconds a hold is extended when the buyer pays (default 120)")
    var paymentGrace: Int = 120
    @Option(name: .customLong("log-level"), help: "trace, debug, info, warning, error (env SEATLOCK_LOG_LEVEL)")
    var logLevel: String?
    @OptionGroup var expiry: ExpiryFlags

    func config(redis: RedisURL, fallbackAdminToken: String? = nil, fallbackSecret: String? = nil) throws -> ServerConfig {
        let env = ProcessInfo.processInfo.environment
        guard let admin = adminToken ?? env["SEATLOCK_ADMIN_TOKEN"].nonEmpty ?? fallbackAdminToken, admin.count >= 16 else {
            throw ValidationError("set SEATLOCK_ADMIN_TOKEN (or --admin-token), at least 16 characters")
        }
        guard let secret = tokenSecret ?? env["SEATLOCK_TOKEN_SECRET"].nonEmpty ?? fallbackSecret, secret.count >= 32 else {
            throw ValidationError("set SEATLOCK_TOKEN_SECRET (or --token-secret), at least 32 characters")
        }
        var config = ServerConfig(redis: redis, adminToken: admin, tokenSecret: secret)
        config.host = host
        config.port = httpPort ?? env["SEATLOCK_HTTP_PORT"].flatMap { Int($0) } ?? 8080
        config.threads = threads ?? env["SEATLOCK_THREADS"].flatMap { Int($0) } ?? ProcessInfo.processInfo.activeProcessorCount
        guard (1...256).contains(config.threads) else { throw ValidationError("threads must be 1-256") }
        guard (0...65535).contains(config.port) else { throw ValidationError("the HTTP port must be 0-65535") }
        config.paymentGraceSeconds = paymentGrace
        return config
    }

    func bootstrapLogging() {
        let level = Logger.Level(rawValue: logLevel ?? ProcessInfo.processInfo.environment["SEATLOCK_LOG_LEVEL"] ?? "info") ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

extension Optional where Wrapped == String {
    var nonEmpty: String? { flatMap { $0.isEmpty ? nil : $0 } }
}

struct ExpiryFlags: ParsableArguments {
    @Flag(name: .customLong("no-expiry"), help: "Do not run the keyspace-notification listener (the sweeper keeps running).")
    var noExpiry = false
    @Option(name: .customLong("sweep-interval"), help: "Seconds between sweeps for overdue holds (default 1).")
    var sweepInterval: Double = 1

    func options() throws -> ExpiryOptions {
        guard sweepInterval >= 0.05, sweepInterval <= 3600 else { throw ValidationError("--sweep-interval must be 0.05-3600 seconds") }
        var options = ExpiryOptions()
        options.listen = !noExpiry
        options.sweepInterval = .milliseconds(Int(sweepInterval * 1000))
        return options
    }
}
