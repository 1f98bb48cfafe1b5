// `seatlock worker payments`: a consumer-group worker, until SIGINT/SIGTERM.
import ArgumentParser
import Foundation
import Logging
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockWorkers

struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a Redis Streams worker.",
        subcommands: [Payments.self]
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
            try service.start()
            Logger(label: "seatlock.payments").info("payments worker running", metadata: ["redis": "\(url)"])
            let main = try EventLoop()
            let signals = SignalWatcher(loop: main) { _ in main.handle.stop() }
            main.run()
            signals.cancel()
            service.stop()
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
}
