// Runs a whole stress session: make sure the event exists, let the buyers
// loose, read the final counts, and audit the event from Redis.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis

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
    /// Blocks until every buyer has finished. `progress` gets a line a second.
    public static func run(_ options: StressOptions, redis: RedisURL?, progress: @escaping (String) -> Void = { _ in }) throws -> StressReport {
        let client = BlockingHTTPClient(host: options.host, port: options.port)
        let existing = try client.request("GET", "/v1/events/\(options.eventId)")
        if existing.status == 404 {
            let created = try client.request("POST", "/v1/events", headers: ["Authorization": "Bearer " + options.adminToken], json: options.eventJSON)
            guard created.status == 201 else { throw StressError.cannotCreateEvent(created.status, created.text) }
        }

        let loop = try EventLoop()
        var report: StressReport?
        let run = StressRun(loop: loop, options: options, onProgress: progress) { finished in
            report = finished
            loop.handle.stop()
        }
        run.start()
        loop.run()
        guard var final = report else { throw StressError.interrupted }

        var event = try client.request("GET", "/v1/events/\(options.eventId)")
        final.seatsSold = event.json?["sold"] as? Int
        if let redis {
            // The audit reads Redis in many steps; holds that expire meanwhile
            // (abandoned carts) would show up as passing inconsistencies. Let the
            // live holds end first (at most hold TTL + 15 s).
            let waitStart = Date()
            while let held = event.json?["held"] as? Int, held > 0,
                  Date().timeIntervalSince(waitStart) < Double(options.holdSeconds + 15) {
                progress(String(format: "%6.1fs  waiting for %d held seats to end before the audit", run.elapsedSeconds, held))
                Thread.sleep(forTimeInterval: 0.5)
                event = try client.request("GET", "/v1/events/\(options.eventId)")
            }
            final.heldAtEnd = event.json?["held"] as? Int
            final.waitedForHolds = Date().timeIntervalSince(waitStart)
            let audit = try EventAudit(eventId: options.eventId).run(try RedisClient(url: redis))
            final.auditText = audit.text
            final.auditPassed = audit.passed
        }
        return final
    }
}
