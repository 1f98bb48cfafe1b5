// What a stress run counted, and its report (text for people, JSON for tools).
import Foundation
import Histogram
import SeatlockCore
import SeatlockLoop

public struct StressStats {
    public var requests = 0
    public var errors = 0
    public var finished = 0
    public var wallSeconds = 0.0
    /// Seconds since the open (the start, for a direct sale).
    public var firstSoldOut: Double?
    public var lastConfirmation: Double?
    public var firstAdmission: Double?
    /// Every seat held or sold once: the first moment nothing was available.
    public var sellThrough: Double?
    /// Every buyer had a final answer (bought, sold out, waitlisted, …).
    public var allAnswered: Double?
    public var waitlistJoined = 0
    /// Offers the waitlisted saw, paid for, and let go (abandoned, expired, declined).
    public var offersSeen = 0
    public var offersTaken = 0
    public var offersLeft = 0
    public var outcomes: [BuyerOutcome: Int] = [:]
    /// "hold 201" → count.
    public var statuses: [String: Int] = [:]
    /// "hold 503", "pay transport" → count.
    public var errorKinds: [String: Int] = [:]
    var latency: [Endpoint: Histogram<UInt64>] = [:]
    var bookingTime = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(_ endpoint: Endpoint, status: Int, latency: Duration) {
        requests += 1
        statuses["\(endpoint.rawValue) \(status == 0 ? "transport" : String(status))", default: 0] += 1
        if status == 0 || !(200..<300 ~= status || status == 409 || status == 422) {
            errors += 1
            errorKinds["\(endpoint.rawValue) \(status == 0 ? "transport error" : String(status))", default: 0] += 1
        }
        // In place: a copy of a histogram per request was the client's bottleneck.
        _ = self.latency[endpoint, default: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)]
            .record(Self.microseconds(latency))
    }

    /// Bookings the buyers were shown `confirmed` (read again from Redis after the run).
    var confirmedSeen: [String] = []
    /// 503s waited out and sent again (`retryUnavailable`), and when the first and last came (s since the start).
    public var unavailable = 0
    public var firstUnavailable: Double?
    public var lastUnavailable: Double?

    /// Holds refused 403 `admission_invalid` because the queue had forgotten the admission (a failover), sent back to the queue.
    public var requeued = 0

    mutating func recordUnavailable(at seconds: Double) {
        unavailable += 1
        if firstUnavailable == nil { firstUnavailable = seconds }
        lastUnavailable = seconds
    }

    /// From a buyer's wish to send a request to a free connection sending it: the tool's own
    /// queueing (a poll late here is a buyer late whom the server cannot see).
    var clientWait: [Endpoint: Histogram<UInt64>] = [:]

    mutating func record(_ endpoint: Endpoint, clientWait duration: Duration) {
        _ = clientWait[endpoint, default: Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)]
            .record(Self.microseconds(duration))
    }

    mutating func record(bookingTime duration: Duration) {
        _ = bookingTime.record(Self.microseconds(duration))
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(max(0, duration.wholeMicroseconds))
    }
}

public struct StressReport {
    public let options: StressOptions
    public let stats: StressStats
    public var seatsSold: Int?
    /// Seconds spent waiting for live holds to end before the audit, and what was left.
    public var waitedForHolds: Double?
    public var heldAtEnd: Int?
    public var auditText: String?
    public var auditPassed: Bool?
    /// From the server's /metrics after the run: queue polls answered from memory, and the queue's Redis calls.
    public var queuePolls: Int?
    /// Of the bookings buyers saw confirmed, how many were confirmed no more when read again after the run.
    public var confirmedLost: Int?
    public var queueRedisCalls: Int?

    init(options: StressOptions, stats: StressStats) {
        self.options = options
        self.stats = stats
    }

    public var passed: Bool { stats.errors == 0 && (auditPassed ?? true) && (confirmedLost ?? 0) == 0 }

    private static let percentiles: [(String, Double)] = [("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)]

    private func milliseconds(_ microseconds: UInt64) -> String { String(format: "%.2f", Double(microseconds) / 1000) }

    public var text: String {
        var lines: [String] = []
        let s = stats
        lines.append("Seatlock stress: \(options.buyers) buyers, \(options.seats) seats, \(options.connections) connections, event \(options.eventId)")
        lines.append(String(format: "wall time %.2f s, %d requests, %.0f requests/s, %.0f buyers/s", s.wallSeconds, s.requests,
                            Double(s.requests) / max(s.wallSeconds, 0.001), Double(s.finished) / max(s.wallSeconds, 0.001)))
        lines.append("buyers: " + BuyerOutcome.allCases.map { "\($0.rawValue) \(s.outcomes[$0] ?? 0)" }.joined(separator: ", "))
        if let sold = seatsSold { lines.append("seats sold: \(sold) of \(options.seats)") }
        func at(_ seconds: Double?) -> String { seconds.map { String(format: "%.2f s", $0) } ?? "never" }
        lines.append((options.queued ? "since the queue opened: " : "since the start: ")
                     + "first admission \(at(s.firstAdmission)), sell-through \(at(s.sellThrough)), first sold_out \(at(s.firstSoldOut)), "
                     + "every buyer answered \(at(s.allAnswered)), last confirmation \(at(s.lastConfirmation))")
        if options.queued {
            let polls = s.latency[.queue]?.totalCount ?? 0
            lines.append(String(format: "queue: %d joins, %d polls (%.0f/s over the run)", s.latency[.join]?.totalCount ?? 0, polls,
                                Double(polls) / max(s.wallSeconds, 0.001))
                         + (queuePolls.map { polls in
                             let calls = queueRedisCalls ?? 0
                             return String(format: "; server: %d polls from memory, %d queue Redis calls (%.4f per poll, joins included)",
                                           polls, calls, Double(calls) / Double(max(polls, 1)))
                         } ?? ""))
            lines.append("waitlist: \(s.waitlistJoined) joined; offers seen \(s.offersSeen), taken \(s.offersTaken), let go \(s.offersLeft)")
        }
        lines.append("latency (ms)      " + Self.percentiles.map { $0.0.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "max     count")
        for endpoint in Endpoint.allCases {
            guard let h = s.latency[endpoint], h.totalCount > 0 else { continue }
            let values = Self.percentiles.map { milliseconds(h.valueAtPercentile($0.1)).padding(toLength: 8, withPad: " ", startingAt: 0) }.joined()
            lines.append("  \(endpoint.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))\(values)\(milliseconds(h.max).padding(toLength: 8, withPad: " ", startingAt: 0))\(h.totalCount)")
        }
        if s.bookingTime.totalCount > 0 {
            let values = Self.percentiles.map { milliseconds(s.bookingTime.valueAtPercentile($0.1)).padding(toLength: 8, withPad: " ", startingAt: 0) }.joined()
            lines.append("  hold→confirmed  \(values)\(milliseconds(s.bookingTime.max).padding(toLength: 8, withPad: " ", startingAt: 0))\(s.bookingTime.totalCount)")
        }
        // Seconds: under load these waits, not the server's answers, are what make buyers late.
        if !s.clientWait.isEmpty {
            lines.append("waited in this tool for a free connection (s; arrivals wait behind buyers already in the flow)")
            lines.append("                  " + Self.percentiles.map { $0.0.padding(toLength: 8, withPad: " ", startingAt: 0) }.joined() + "max     count")
        }
        func seconds(_ microseconds: UInt64) -> String {
            String(format: "%.3f", Double(microseconds) / 1_000_000).padding(toLength: 8, withPad: " ", startingAt: 0)
        }
        for endpoint in Endpoint.allCases {
            guard let h = s.clientWait[endpoint], h.totalCount > 0 else { continue }
            let values = Self.percentiles.map { seconds(h.valueAtPercentile($0.1)) }.joined()
            lines.append("  \(endpoint.rawValue.padding(toLength: 16, withPad: " ", startingAt: 0))\(values)\(seconds(h.max))\(h.totalCount)")
        }
        lines.append("responses: " + s.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        if let first = s.firstUnavailable, let last = s.lastUnavailable {
            lines.append(String(format: "unavailable (503, waited out and sent again): %d, from %.2f s to %.2f s (%.2f s)", s.unavailable, first, last, last - first))
        }
        if s.requeued > 0 {
            lines.append("admissions the queue forgot (hold 403 admission_invalid, the buyer sent back to the queue): \(s.requeued)")
        }
        lines.append("errors: \(s.errors)" + (s.errorKinds.isEmpty ? "" : " (" + s.errorKinds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"))
        if let waited = waitedForHolds {
            lines.append(String(format: "waited %.1f s for live holds to end before the audit (%d still held)", waited, heldAtEnd ?? 0))
        }
        if let lost = confirmedLost {
            lines.append("bookings buyers saw confirmed: \(s.confirmedSeen.count), read again after the run: \(s.confirmedSeen.count - lost) still confirmed, \(lost) not")
        }
        if let auditText { lines.append(auditText) }
        lines.append(passed ? "result: PASS" : "result: FAIL")
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let s = stats
        var latency: [String] = []
        for endpoint in Endpoint.allCases {
            guard let h = s.latency[endpoint], h.totalCount > 0 else { continue }
            let values = Self.percentiles.map { "\"\($0.0)\":\(Double(h.valueAtPercentile($0.1)) / 1000)" }.joined(separator: ",")
            latency.append("\"\(endpoint.rawValue)\":{\(values),\"max\":\(Double(h.max) / 1000),\"count\":\(h.totalCount)}")
        }
        let outcomes = BuyerOutcome.allCases.map { "\"\($0.rawValue)\":\(s.outcomes[$0] ?? 0)" }.joined(separator: ",")
        let statuses = s.statuses.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)):\($0.value)" }.joined(separator: ",")
        let errors = s.errorKinds.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)):\($0.value)" }.joined(separator: ",")
        let booking = Self.percentiles.map { "\"\($0.0)\":\(Double(s.bookingTime.valueAtPercentile($0.1)) / 1000)" }.joined(separator: ",")
        let clientWait = Endpoint.allCases.compactMap { endpoint -> String? in
            guard let h = s.clientWait[endpoint], h.totalCount > 0 else { return nil }
            return "\"\(endpoint.rawValue)\":{" + Self.percentiles.map { "\"\($0.0)\":\(Double(h.valueAtPercentile($0.1)) / 1000)" }.joined(separator: ",") + "}"
        }.joined(separator: ",")
        return "{\"buyers\":\(options.buyers),\"seats\":\(options.seats),\"wallSeconds\":\(s.wallSeconds),\"requests\":\(s.requests),"
            + "\"requestsPerSecond\":\(Double(s.requests) / max(s.wallSeconds, 0.001)),\"outcomes\":{\(outcomes)},"
            + "\"seatsSold\":\(seatsSold.map(String.init) ?? "null"),\"firstSoldOutSeconds\":\(s.firstSoldOut.map { "\($0)" } ?? "null"),"
            + "\"queued\":\(options.queued),\"sellThroughSeconds\":\(s.sellThrough.map { "\($0)" } ?? "null"),"
            + "\"allAnsweredSeconds\":\(s.allAnswered.map { "\($0)" } ?? "null"),\"waitlistJoined\":\(s.waitlistJoined),"
            + "\"offers\":{\"seen\":\(s.offersSeen),\"taken\":\(s.offersTaken),\"letGo\":\(s.offersLeft)},"
            + "\"queuePollsFromMemory\":\(queuePolls.map(String.init) ?? "null"),\"queueRedisCalls\":\(queueRedisCalls.map(String.init) ?? "null"),"
            + "\"latencyMs\":{\(latency.joined(separator: ","))},\"holdToConfirmedMs\":{\(booking)},\"toolQueueMs\":{\(clientWait)},"
            + "\"responses\":{\(statuses)},\"errors\":\(s.errors),\"unavailable\":\(s.unavailable),"
            + "\"unavailableFrom\":\(s.firstUnavailable.map { String($0) } ?? "null"),\"unavailableTo\":\(s.lastUnavailable.map { String($0) } ?? "null"),\"errorKinds\":{\(errors)},"
            + "\"auditPassed\":\(auditPassed.map { "\($0)" } ?? "null"),\"passed\":\(passed)}"
    }
}
