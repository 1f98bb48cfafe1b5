// `seatlock worker payments`: a consumer-group worker, until SIGINT/SIGTERM.
import ArgumentParser
import Foundation
import Logging
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import SeatlockWorkers

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Redis Streams worker.",
        subcommands: [Payments.self, Notifications.self, Analytics.self]
    )

    struct Payments: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The payments consumer group: charge, confirm, retry, compensate, refund.")

        @OptionGroup var redis: RedisOptions
        @Option(help: "Consumer name in the group (default: payments-PID).") var consumer: String?
        @Option(help: "Charge attempts before a retryable failure is final.") var maxAttempts = 4
        @Option(help: "Seconds an entry stays pending before another consumer claims it.") var claimIdle: Double = 30
        @Option(help: "Deliveries before an entry goes to the dead-letter stream sl:dlq:payments.") var maxDeliveries = 5

        func run() throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            let url = try redis.resolved()
            let library = try ScriptLibrary.locate()
            try RedisClient(url: url).load(library)
            let service = PaymentsService(redis: url, scripts: try BookingScripts(library), options: try options())
            try ServiceRunner.runUntilSignal([service]) {
                Logger(label: "seatlock.payments").info("payments worker running", metadata: ["redis": "\(url)"])
            }
        }

        func options() throws -> PaymentsOptions {
            guard (1...100).contains(maxAttempts), (1...1000).contains(maxDeliveries), claimIdle >= 0.1 else {
                throw ValidationError("--max-attempts 1-100, --max-deliveries 1-1000, --claim-idle >= 0.1")
            }
            var options = consumer.map { PaymentsOptions(consumer: $0) } ?? PaymentsOptions()
            options.maxAttempts = maxAttempts
            options.consumer.maxDeliveries = maxDeliveries
            options.consumer.claimIdle = .milliseconds(Int(claimIdle * 1000))
            return options
        }
    }

    struct Analytics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The analytics consumer group: per-event figures in Redis for /metrics, /stats and the dashboard.")

        @OptionGroup var redis: RedisOptions
        @Option(help: "Consumer name in the group (default: analytics-PID). One consumer is enough and cheapest.") var consumer: String?
        @Option(help: "Rebuild this event's figures from its log (safe while the worker runs), print the entries applied, and exit.")
        var rebuild: String?

        func run() throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            let url = try redis.resolved()
            let library = try ScriptLibrary.locate()
            let client = try RedisClient(url: url)
            try client.load(library)
            if let rebuild {
                guard Identifier.isValid(rebuild) else { throw ValidationError("event ids are 1-64 letters, digits, '-' or '_'") }
                let applied = try AnalyticsService.rebuild(eventId: rebuild, client: client, script: try library.script(AnalyticsScript.name))
                return say("rebuilt \(rebuild) from its log: \(applied) entries applied")
            }
            let service = try AnalyticsService(redis: url, library: library,
                                               options: consumer.map { AnalyticsOptions(consumer: $0) } ?? AnalyticsOptions())
            try ServiceRunner.runUntilSignal([service]) {
                Logger(label: "seatlock.analytics").info("analytics worker running", metadata: ["redis": "\(url)"])
            }
        }
    }

    struct Notifications: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The notifications consumer group: e-mail, SMS and push to registered buyers, at most once each.")

        @OptionGroup var redis: RedisOptions
        @Option(help: "Consumer name in the group (default: notifications-PID).") var consumer: String?
        @Option(help: "Template directory (env SEATLOCK_TEMPLATES; default: the templates shipped with Seatlock).") var templates: String?
        @Option(help: "SMTP relay for e-mail, plain SMTP (env SEATLOCK_SMTP_HOST).") var smtpHost: String?
        @Option(help: "SMTP port.") var smtpPort = 25
        @Option(help: "Envelope sender and From address.") var sender = "tickets@seatlock.invalid"
        @Option(help: "http:// URL receiving SMS and push as JSON POSTs (env SEATLOCK_WEBHOOK_URL).") var webhookURL: String?
        @Option(help: "Append the kinds without another channel to this file, one JSON line each (development).") var outbox: String?
        @Option(help: "Attempts per message before it is dead-lettered.") var maxAttempts = 5
        @Option(help: "Seconds before the first retry; doubles each time.") var firstBackoff: Double = 1
        @Option(help: "Seconds one delivery may take.") var timeout: Double = 10
        @Option(help: "Currency code shown before amounts.") var currency = "EUR"

        func run() throws {
            LoggingSystem.bootstrap(StreamLogHandler.standardError)
            let url = try redis.resolved()
            let service = NotificationsService(redis: url, options: try options())
            try ServiceRunner.runUntilSignal([service]) {
                Logger(label: "seatlock.notifications").info("notifications worker running", metadata: ["redis": "\(url)"])
            }
        }

        func options() throws -> NotificationsOptions {
            guard (1...100).contains(maxAttempts), firstBackoff >= 0.001, timeout >= 0.1, (1...65535).contains(smtpPort) else {
                throw ValidationError("--max-attempts 1-100, --first-backoff >= 0.001, --timeout >= 0.1, --smtp-port 1-65535")
            }
            let env = ProcessInfo.processInfo.environment
            var options = consumer.map { NotificationsOptions(consumer: $0) } ?? NotificationsOptions()
            options.templatesDirectory = templates
            options.smtpHost = smtpHost ?? env["SEATLOCK_SMTP_HOST"].nonEmpty
            options.smtpPort = smtpPort
            options.sender = sender
            options.webhookURL = webhookURL ?? env["SEATLOCK_WEBHOOK_URL"].nonEmpty
            options.webhookPost = NotificationsOptions.evhttpPost
            options.outboxPath = outbox
            options.maxAttempts = maxAttempts
            options.currency = currency
            options.firstBackoff = .milliseconds(Int(firstBackoff * 1000))
            options.timeout = .milliseconds(Int(timeout * 1000))
            return options
        }
    }
}

extension NotificationsOptions {
    /// The webhook channel's POSTs, through evhttp's client.
    static let evhttpPost: WebhookPost = { loop, request, completion in
        HTTPClientConnection.sendOnce(on: loop, host: request.endpoint.host, port: request.endpoint.port,
                                      timeoutSeconds: request.timeoutSeconds, method: "POST", path: request.endpoint.target,
                                      headers: request.headers, body: request.body) { completion($0.status) }
    }
}
