// Runs a whole stress session: make sure the event exists, let the buyers
// loose, read the final counts, and audit the event from Redis.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis

extension ISO8601DateFormatter {
    static var withFractions: ISO8601DateFormatter {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }
}

public enum StressError: Error, CustomStringConvertible {
    case cannotCreateEvent(Int, String)
    case interrupted
    public var description: String {
        switch self {
        case .interrupted: "the stress loop stopped before every buyer had finished"
        case let .cannotCreateEvent(status, body): "creating the stress event failed (\(status)): \(body)"
        }
    }
}

public enum Stress {
    /// The server's queue counters from /metrics (one server process: the one answering here).
    static func queueCounters(_ client: BlockingHTTPClient) -> (polls: Int, calls: Int)? {
        guard let reply = try? client.request("GET", "/metrics"), reply.status == 200 else { return nil }
        var polls: Int?, calls: Int?
        for line in reply.text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            if parts[0] == "seatlock_queue_polls_total" { polls = Int(value) }
            if parts[0] == "seatlock_queue_redis_calls_total" { calls = Int(value) }
        }
        guard let polls, let calls else { return (0, 0) }
        return (polls, calls)
    }

    /// Blocks until every buyer has finished. `progress` gets a line a second.
    public static func run(_ options: StressOptions, redis: RedisURL?, progress: @escaping (String) -> Void = { _ in }) throws -> StressReport {
        let client = BlockingHTTPClient(host: options.host, port: options.port)
        var existing = try client.request("GET", "/v1/events/\(options.eventId)")
        if existing.status == 404 {
            let opensAt = options.queued ? Int((Date().timeIntervalSince1970 + options.prequeueOrDefault) * 1000) : nil
            existing = try client.request("POST", "/v1/events", headers: ["Authorization": "Bearer " + options.adminToken],
                                          json: options.eventJSON(opensAt: opensAt))
            guard existing.status == 201 else { throw StressError.cannotCreateEvent(existing.status, existing.text) }
        }
        // An existing event sells the way it was made: through its queue or directly.
        var opensAt: Int?
        if let queue = existing.json?["queue"] as? [String: Any], let text = queue["opensAt"] as? String,
           let date = ISO8601DateFormatter.withFractions.date(from: text) ?? ISO8601DateFormatter().date(from: text) {
            opensAt = Int(date.timeIntervalSince1970 * 1000)
        }
        var options = options
        options.queued = opensAt != nil
        let before = queueCounters(client)

        let loop = try EventLoop()
        var report: StressReport?
        let run = StressRun(loop: loop, options: options, opensAt: opensAt, onProgress: progress) { finished in
            report = finished
            loop.handle.stop()
        }
        run.start()
        loop.run()
        guard var final = report else { throw StressError.interrupted }

        var event = try client.request("GET", "/v1/events/\(options.eventId)")
        final.seatsSold = event.json?["sold"] as? Int
        if options.queued, let before, let after = queueCounters(client) {
            final.queuePolls = after.polls - before.polls
            final.queueRedisCalls = after.calls - before.calls
        }
        if let redis {
            // The audit reads Redis in many steps; holds that expire meanwhile
            // (abandoned carts) would show up as passing inconsistencies. Let the
            // live holds end first (at most hold TTL + 15 s). Sales close first: the buyers
            // are gone, and each unpaid waitlist offer would otherwise pass its seats on to
            // the next entry, hold after hold, for as long as the waitlist lasts.
            if (event.json?["held"] as? Int ?? 0) > 0 {
                let closed = try client.request("PATCH", "/v1/events/\(options.eventId)", headers: ["Authorization": "Bearer " + options.adminToken],
                                                json: #"{"status":"closed"}"#)
                progress(String(format: "%6.1fs  sales closed before the audit (%d)", run.elapsedSeconds, closed.status))
            }
            let waitStart = Date()
            while let held = event.json?["held"] as? Int, held > 0,
                  Date().timeIntervalSince(waitStart) < Double(options.holdSeconds + 15) {
                progress(String(format: "%6.1fs  waiting for %d held seats to end before the audit", run.elapsedSeconds, held))
                Thread.sleep(forTimeInterval: 0.5)
                event = try client.request("GET", "/v1/events/\(options.eventId)")
            }
            final.heldAtEnd = event.json?["held"] as? Int
            final.waitedForHolds = Date().timeIntervalSince(waitStart)
            let store = try RedisClient(url: redis)
            let keys = EventKeys(options.eventId)
            var lost = 0
            let seen = final.stats.confirmedSeen
            for start in stride(from: 0, to: seen.count, by: 1000) {
                let batch = seen[start..<min(start + 1000, seen.count)]
                lost += try store.pipeline(batch.map { ["HGET", keys.booking($0), "status"] }).filter { $0.string != "confirmed" }.count
            }
            final.confirmedLost = lost
            let audit = try EventAudit(eventId: options.eventId).run(store)
            final.auditText = audit.text
            final.auditPassed = audit.passed
        }
        return final
    }
}
