// `seatlock stress`: the reference on-sale against a running server.
import ArgumentParser
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockStress

struct StressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stress",
        abstract: "Simulate buyers over HTTP (default 500,000 for 50,000 seats), then report and audit.")

    @OptionGroup var redis: RedisOptions
    @Option(help: "Server address.") var host = "127.0.0.1"
    @Option(name: .customLong("http-port"), help: "Server port (env SEATLOCK_HTTP_PORT, default 8080).") var httpPort: Int?
    @Option(help: "Event id (created if missing, with the admin token).") var event = "stress"
    @Option(help: "Events sold at once (EVENT-1 … EVENT-N, the buyers, seats and connections split between them; on a cluster they spread over the primaries).")
    var events = 1
    @Option(help: "Buyers.") var buyers = 500_000
    @Option(help: "Seats of the event when it is created.") var seats = 50_000
    @Option(help: "Keep-alive connections.") var connections = 256
    @Option(help: "Share of buyers picking explicit seats (rest: best available).") var pick = 0.5
    @Option(help: "Share of explicit buyers who look at the seat map first.") var look = 0.05
    @Option(help: "Hold attempts after a 409.") var retries = 2
    @Option(help: "Share of buyers who never pay.") var abandon = 0.1
    @Option(name: .customLong("pay-mix"), help: "Payment tokens with weights.") var payMix = "tok_visa=0.85,tok_chargeDeclined=0.1,tok_flaky=0.05"
    @Option(help: "Seconds over which buyers arrive (0: all at once).") var ramp = 0.0
    @Option(name: .customLong("hold-seconds"), help: "Hold TTL of a created event.") var holdSeconds = 60
    @Option(help: "Seed: the same seed makes the same buyers.") var seed: UInt64 = 1
    @Flag(help: "Rush the hold endpoint directly: a created event has no queue (default: through the on-sale queue).") var direct = false
    @Option(help: "Seconds from creating the event to the queue's open (default: 12,000 joins a second, at least 3).") var prequeue: Double?
    @Option(name: .customLong("admission-seconds"), help: "How long an admitted buyer may take to hold (queued events; the API's default).") var admissionSeconds = 300
    @Option(help: "Share of the buyers told sold out who join the waitlist.") var waitlist = 0.05
    @Option(name: .customLong("waitlist-watch"), help: "Seconds the waitlisted watch for offers after every buyer had an answer (default hold-seconds + 15).")
    var waitlistWatch: Double?
    @Flag(name: .customLong("retry-unavailable"), help: "Wait out a 503 (Retry-After) and send the request again, as a buyer's page would; counted apart from errors.")
    var retryUnavailable = false
    @Flag(help: "Print the report as JSON.") var json = false
    @Flag(name: .customLong("no-audit"), help: "Skip the audit at the end.") var noAudit = false

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        var options = StressOptions()
        options.host = host
        options.port = httpPort ?? env["SEATLOCK_HTTP_PORT"].flatMap { Int($0) } ?? 8080
        options.eventId = event
        options.buyers = buyers
        options.seats = seats
        options.connections = connections
        options.explicitShare = pick
        options.lookShare = look
        options.retries = retries
        options.abandonShare = abandon
        options.rampSeconds = ramp
        options.holdSeconds = holdSeconds
        options.seed = seed
        options.queued = !direct
        options.prequeueSeconds = prequeue
        options.admissionSeconds = admissionSeconds
        options.waitlistShare = waitlist
        options.waitlistWatchSeconds = waitlistWatch
        options.retryUnavailable = retryUnavailable
        guard let mix = StressOptions.parseMix(payMix) else { throw ValidationError("--pay-mix looks like tok_visa=0.8,tok_flaky=0.2") }
        options.paymentMix = mix
        guard Identifier.isValid(event), (1...50_000_000).contains(buyers), (1...250_000).contains(seats), (1...10_000).contains(connections),
              (0...1).contains(pick), (0...1).contains(look), (0...1).contains(abandon), retries >= 0, ramp >= 0,
              (0...1).contains(waitlist), (prequeue ?? 0) >= 0, (10...86_400).contains(admissionSeconds), (waitlistWatch ?? 0) >= 0,
              (1...100).contains(events), buyers >= events, seats >= events, connections >= events else {
            throw ValidationError("check the ranges: buyers 1-50M, seats 1-250k, connections 1-10k, shares 0-1, events 1-100 (at most the buyers, seats and connections)")
        }
        guard let secret = env["SEATLOCK_TOKEN_SECRET"].nonEmpty, let admin = env["SEATLOCK_ADMIN_TOKEN"].nonEmpty else {
            throw ValidationError("set SEATLOCK_TOKEN_SECRET and SEATLOCK_ADMIN_TOKEN to the server's")
        }
        options.tokenSecret = secret
        options.adminToken = admin
        let interactive = isatty(STDERR_FILENO) == 1
        if events > 1 { return try runEvents(options, redis: noAudit ? nil : try redis.resolved()) }
        var lastPlain = 0.0
        let report = try Stress.run(options, redis: noAudit ? nil : try redis.resolved()) { line in
            if interactive {
                FileHandle.standardError.write(Data(("\r" + line).utf8))
            } else if let seconds = Double(line.prefix(7).trimmingCharacters(in: .whitespaces).dropLast()), seconds - lastPlain >= 5 {
                lastPlain = seconds
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        say(json ? report.json : report.text)
        if !report.passed { throw ExitCode(1) }
    }

    /// Each event on its own thread and loop; one report per event, then the totals
    /// and, with Redis, each primary's share of the script calls.
    private func runEvents(_ base: StressOptions, redis: RedisURL?) throws {
        let started = Date()
        let callsBefore = try redis.map(Self.scriptCallsPerPrimary)
        let reports = StressReports()
        let group = DispatchGroup()
        for index in 1...events {
            var options = base
            options.eventId = "\(event)-\(index)"
            options.buyers = base.buyers / events + (index <= base.buyers % events ? 1 : 0)
            options.seats = base.seats / events + (index <= base.seats % events ? 1 : 0)
            options.connections = max(1, base.connections / events)
            options.seed = base.seed &+ UInt64(index)
            let eventId = options.eventId
            let eventOptions = options
            group.enter()
            Thread.detachNewThread {
                let result = Result { try Stress.run(eventOptions, redis: redis) { line in
                    if line.contains("sold_out") || line.contains("audit") { FileHandle.standardError.write(Data("\(eventId) \(line)\n".utf8)) }
                } }
                reports.set(index, result)
                group.leave()
            }
        }
        group.wait()
        var passed = true
        var totals = (buyers: 0, requests: 0, errors: 0, sold: 0, seats: 0, unavailable: 0)
        var unavailableSpan: (Double, Double)?
        for index in 1...events {
            switch reports.get(index)! {
            case let .success(report):
                say(json ? report.json : report.text + "\n")
                passed = passed && report.passed
                totals.buyers += report.options.buyers
                totals.requests += report.stats.requests
                totals.errors += report.stats.errors
                totals.sold += report.seatsSold ?? 0
                totals.seats += report.options.seats
                totals.unavailable += report.stats.unavailable
                if let first = report.stats.firstUnavailable, let last = report.stats.lastUnavailable {
                    unavailableSpan = (min(unavailableSpan?.0 ?? first, first), max(unavailableSpan?.1 ?? last, last))
                }
            case let .failure(error):
                say("\(event)-\(index): \(error)")
                passed = false
            }
        }
        let wall = Date().timeIntervalSince(started)
        say(String(format: "%d events: %d buyers, %d requests in %.1f s (%.0f requests/s), %d errors, %d of %d seats sold, audits %@",
                   events, totals.buyers, totals.requests, wall, Double(totals.requests) / max(wall, 0.001), totals.errors,
                   totals.sold, totals.seats, passed ? "PASS" : "FAIL"))
        if let (first, last) = unavailableSpan {
            say(String(format: "  503s waited out: %d, from %.2f s to %.2f s (%.2f s)", totals.unavailable, first, last, last - first))
        }
        if let redis, let callsBefore {
            let callsAfter = try Self.scriptCallsPerPrimary(redis)
            for (node, calls) in callsAfter.sorted(by: { $0.key < $1.key }) {
                say("  primary \(node): \(calls - (callsBefore[node] ?? 0)) script calls (EVALSHA, INFO commandstats)")
            }
        }
        if !passed { throw ExitCode(1) }
    }

    static func scriptCallsPerPrimary(_ url: RedisURL) throws -> [String: Int] {
        var calls: [String: Int] = [:]
        for node in try RedisClient(url: url).primaries() {
            let stats = try node.call("INFO", "commandstats").string ?? ""
            let line = stats.split(separator: "\r\n").first { $0.hasPrefix("cmdstat_evalsha:") }
            calls["\(node.url.host):\(node.url.port)"] = line.flatMap { $0.split(separator: "=").dropFirst().first?.split(separator: ",").first }
                .flatMap { Int($0) } ?? 0
        }
        return calls
    }
}

/// The events' reports, filled in by their threads.
private final class StressReports: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<StressReport, Error>] = [:]
    func set(_ index: Int, _ result: Result<StressReport, Error>) { lock.withLock { results[index] = result } }
    func get(_ index: Int) -> Result<StressReport, Error>? { lock.withLock { results[index] } }
}
