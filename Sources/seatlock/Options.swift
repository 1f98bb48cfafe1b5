// Settings shared by the subcommands: each flag falls back to its
// environment variable (docs/api.md and README "Configuration"), then to a default.
import ArgumentParser
import Foundation
import Logging
import SeatlockCore
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
    @OptionGroup var secrets: SecretOptions
    @Option(name: .customLong("payment-grace"), help: "Seconds a hold is extended when the buyer pays (default 120)")
    var paymentGrace: Int = 120
    @Option(name: .customLong("log-level"), help: "trace, debug, info, warning, error (env SEATLOCK_LOG_LEVEL)")
    var logLevel: String?
    @OptionGroup var expiry: ExpiryFlags
    @OptionGroup var limits: LimitOptions

    func config(redis: RedisURL, fallbackAdminToken: String? = nil, fallbackSecret: String? = nil) throws -> ServerConfig {
        let env = ProcessInfo.processInfo.environment
        guard let admin = try secrets.adminToken() ?? fallbackAdminToken, admin.count >= 16 else {
            throw ValidationError("set SEATLOCK_ADMIN_TOKEN (or SEATLOCK_ADMIN_TOKEN_FILE / --admin-token-file), at least 16 characters")
        }
        guard let secret = try secrets.tokenSecret() ?? fallbackSecret, secret.count >= 32 else {
            throw ValidationError("set SEATLOCK_TOKEN_SECRET (or SEATLOCK_TOKEN_SECRET_FILE / --token-secret-file), at least 32 characters")
        }
        var config = ServerConfig(redis: redis, adminToken: admin, tokenSecret: secret)
        try limits.apply(to: &config)
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

/// Secrets come from the environment or from a file, never from a flag's
/// value (which any user sees in `ps`), and are never logged.
struct SecretOptions: ParsableArguments {
    @Option(name: .customLong("admin-token-file"), help: "File holding the admin bearer token (env SEATLOCK_ADMIN_TOKEN or SEATLOCK_ADMIN_TOKEN_FILE)")
    var adminTokenFile: String?
    @Option(name: .customLong("token-secret-file"), help: "File holding the HS256 secret of buyer tokens (env SEATLOCK_TOKEN_SECRET or SEATLOCK_TOKEN_SECRET_FILE)")
    var tokenSecretFile: String?

    func adminToken() throws -> String? { try Self.secret(file: adminTokenFile, variable: "SEATLOCK_ADMIN_TOKEN") }
    func tokenSecret() throws -> String? { try Self.secret(file: tokenSecretFile, variable: "SEATLOCK_TOKEN_SECRET") }

    private static func secret(file: String?, variable: String) throws -> String? {
        let env = ProcessInfo.processInfo.environment
        if let path = file ?? env[variable + "_FILE"].nonEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read the secret file \(path)")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines).nonEmptyString
        }
        return env[variable].nonEmpty
    }
}

extension String {
    var nonEmptyString: String? { isEmpty ? nil : self }
}

/// The abuse limits (SeatlockCore/AbusePolicy.swift) and the HTTP limits.
struct LimitOptions: ParsableArguments {
    @Option(name: .customLong("rate-buyer"), help: "Holds + payment requests per buyer per event, RATE/BURST per second, or off (env SEATLOCK_RATE_BUYER, default 2/10)")
    var rateBuyer: String?
    @Option(name: .customLong("rate-address"), help: "Holds + payment requests per client address per event (env SEATLOCK_RATE_ADDRESS, default 50/200)")
    var rateAddress: String?
    @Option(name: .customLong("rate-event"), help: "New holds per event, all buyers: the admission rate (env SEATLOCK_RATE_EVENT, default off)")
    var rateEvent: String?
    @Option(name: .customLong("rate-registrations"), help: "POST /v1/users per client address (env SEATLOCK_RATE_REGISTRATIONS, default 0.2/20)")
    var rateRegistrations: String?
    @Option(name: .customLong("rate-seat-map"), help: "Seat map reads per client address, per server loop (env SEATLOCK_RATE_SEAT_MAP, default 10/50)")
    var rateSeatMap: String?
    @Option(name: .customLong("max-live-holds"), help: "Unpaid holds per buyer per event, 0 = no cap (default 2)")
    var maxLiveHolds: Int?
    @Option(name: .customLong("max-idempotency-keys"), help: "New Idempotency-Keys per buyer per event per 24 h, 0 = no cap (default 1000)")
    var maxIdempotencyKeys: Int?
    @Option(name: .customLong("trusted-proxy"), help: "A load balancer's address whose X-Forwarded-For gives the buyer's address for the per-address limits; repeat for several (env SEATLOCK_TRUSTED_PROXIES, comma-separated; default none: the header is ignored)")
    var trustedProxies: [String] = []
    @Option(name: .customLong("max-connections"), help: "Open HTTP connections, all loops together (default 10000)")
    var maxConnections: Int?
    @Option(name: .customLong("max-connections-per-address"), help: "Open HTTP connections from one client address (default 512)")
    var maxConnectionsPerAddress: Int?
    @Option(name: .customLong("idle-timeout"), help: "Seconds an idle keep-alive connection is kept (default 15)")
    var idleTimeout: Int?
    @Option(name: .customLong("request-deadline"), help: "Seconds a request may take to arrive completely (default 20)")
    var requestDeadline: Int?

    func apply(to config: inout ServerConfig) throws {
        let env = ProcessInfo.processInfo.environment
        func rate(_ flag: String?, _ variable: String, _ name: String, into value: inout RateLimit) throws {
            guard let text = flag ?? env[variable].nonEmpty else { return }
            guard let parsed = RateLimit(text) else { throw ValidationError("--\(name) must be RATE/BURST (e.g. 2/10) or off, not \(text)") }
            value = parsed
        }
        try rate(rateBuyer, "SEATLOCK_RATE_BUYER", "rate-buyer", into: &config.abuse.perBuyer)
        try rate(rateAddress, "SEATLOCK_RATE_ADDRESS", "rate-address", into: &config.abuse.perAddress)
        try rate(rateEvent, "SEATLOCK_RATE_EVENT", "rate-event", into: &config.abuse.eventAdmission)
        try rate(rateRegistrations, "SEATLOCK_RATE_REGISTRATIONS", "rate-registrations", into: &config.abuse.registrationsPerAddress)
        try rate(rateSeatMap, "SEATLOCK_RATE_SEAT_MAP", "rate-seat-map", into: &config.abuse.seatMapReadsPerAddress)
        func bounded(_ flag: Int?, _ range: ClosedRange<Int>, _ name: String, into value: inout Int) throws {
            guard let flag else { return }
            guard range.contains(flag) else { throw ValidationError("--\(name) must be \(range.lowerBound)-\(range.upperBound)") }
            value = flag
        }
        let proxies = trustedProxies.isEmpty ? (env["SEATLOCK_TRUSTED_PROXIES"] ?? "").split(separator: ",").map { String($0.trimmingCharacters(in: .whitespaces)) }.filter { !$0.isEmpty } : trustedProxies
        for proxy in proxies where clientAddressKey(proxy) != proxy {
            throw ValidationError("--trusted-proxy takes a numeric IPv4 or IPv6 address, not \(proxy)")
        }
        config.trustedProxies = Set(proxies)
        try bounded(maxLiveHolds, 0...1000, "max-live-holds", into: &config.abuse.maxLiveHolds)
        try bounded(maxIdempotencyKeys, 0...1_000_000, "max-idempotency-keys", into: &config.abuse.maxIdempotencyKeys)
        try bounded(maxConnections, 1...1_000_000, "max-connections", into: &config.http.maxConnections)
        try bounded(maxConnectionsPerAddress, 1...1_000_000, "max-connections-per-address", into: &config.http.maxConnectionsPerAddress)
        try bounded(idleTimeout, 1...3600, "idle-timeout", into: &config.http.idleTimeoutSeconds)
        try bounded(requestDeadline, 1...3600, "request-deadline", into: &config.http.requestDeadlineSeconds)
    }
}
