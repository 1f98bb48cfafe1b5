// Proves the booking invariants (docs/operations/audit.md) for one event from what Redis holds, and works
// while a sale runs: it reads with SCAN and pipelined batches, never KEYS or
// a long script. A booking that changes between two reads can show up as a
// violation on a busy event; run it again, or after the sale, to be sure.
import SeatlockCore
import SeatlockRedis

public struct AuditCheck: Sendable, Equatable {
    public let name: String
    public let passed: Bool
    /// What was counted, for a person reading the report.
    public let detail: String
    /// The first few violations.
    public let violations: [String]
}

public struct AuditReport: Sendable {
    public let eventId: String
    public let checks: [AuditCheck]
    public var passed: Bool { checks.allSatisfy(\.passed) }

    public var text: String {
        var lines = ["audit of event \(eventId): " + (passed ? "all invariants hold" : "VIOLATIONS FOUND")]
        for check in checks {
            lines.append("  [\(check.passed ? "ok" : "FAIL")] \(check.name): \(check.detail)")
            for violation in check.violations { lines.append("         - \(violation)") }
        }
        return lines.joined(separator: "\n")
    }

    public var json: String {
        let items = checks.map { check in
            "{\"name\":\(JSONText.quote(check.name)),\"passed\":\(check.passed),\"detail\":\(JSONText.quote(check.detail)),"
                + "\"violations\":[" + check.violations.map(JSONText.quote).joined(separator: ",") + "]}"
        }
        return "{\"eventId\":\(JSONText.quote(eventId)),\"passed\":\(passed),\"checks\":[" + items.joined(separator: ",") + "]}"
    }
}

public enum AuditError: Error, CustomStringConvertible {
    case noSuchEvent(String)
    public var description: String {
        switch self {
        case let .noSuchEvent(id): "no event \(id) in Redis"
        }
    }
}

public struct EventAudit {
    public let eventId: String
    /// How long past its deadline a hold may still be live (the sweeper's
    /// interval plus slack).
    public var graceMilliseconds = 5_000
    private static let live: Set<String> = ["held", "payment_pending"]
    private static let maxListed = 10

    public init(eventId: String) { self.eventId = eventId }

    public func run(_ client: RedisClient) throws -> AuditReport {
        let state = try EventState.load(eventId: eventId, client: client)
        return AuditReport(eventId: eventId, checks: [
            seatsSoldOnce(state), soldWithinCapacity(state), soldMatchesConfirmed(state), revenueMatches(state),
            holdsHaveLiveBookings(state), noHoldPastDeadline(state), userCountsMatch(state), freeSeatsAreFree(state),
            logReplayMatches(state),
        ])
    }

    private func check(_ name: String, _ detail: String, _ violations: [String]) -> AuditCheck {
        AuditCheck(name: name, passed: violations.isEmpty, detail: detail + (violations.isEmpty ? "" : ", \(violations.count) violations"),
                   violations: Array(violations.prefix(Self.maxListed)))
    }

    func seatsSoldOnce(_ s: EventState) -> AuditCheck {
        var owner: [String: String] = [:]
        var violations: [String] = []
        for booking in s.bookings.values where booking.status == "confirmed" {
            for seat in booking.seats {
                if let other = owner[seat] { violations.append("seat \(seat) is in confirmed bookings \(other) and \(booking.id)") }
                owner[seat] = booking.id
            }
        }
        for (seat, bookingId) in s.sold.sorted(by: { $0.key < $1.key }) {
            guard let booking = s.bookings[bookingId], booking.status == "confirmed", booking.seats.contains(seat) else {
                violations.append("seat \(seat) is sold to \(bookingId), which is not a confirmed booking holding it")
                continue
            }
        }
        return check("no seat sold twice", "\(s.sold.count) seats sold", violations)
    }

    func soldWithinCapacity(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        if s.sold.count > s.capacity { violations.append("\(s.sold.count) seats sold, capacity \(s.capacity)") }
        if s.sold.keys.contains(where: { s.prices[$0] == nil }) { violations.append("a sold seat is not in the seat map") }
        if s.soldCounter != s.sold.count { violations.append("event counter sold=\(s.soldCounter), sold hash has \(s.sold.count)") }
        return check("sold <= capacity", "\(s.sold.count) of \(s.capacity)", violations)
    }

    func soldMatchesConfirmed(_ s: EventState) -> AuditCheck {
        let confirmedSeats = Set(s.bookings.values.filter { $0.status == "confirmed" }.flatMap(\.seats))
        let soldSeats = Set(s.sold.keys)
        var violations = soldSeats.subtracting(confirmedSeats).sorted().map { "seat \($0) is sold but no confirmed booking has it" }
        violations += confirmedSeats.subtracting(soldSeats).sorted().map { "seat \($0) is in a confirmed booking but not sold" }
        return check("sold seats == seats of confirmed bookings", "\(confirmedSeats.count) seats in confirmed bookings", violations)
    }

    func revenueMatches(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        var total = 0
        for booking in s.bookings.values.sorted(by: { $0.id < $1.id }) where booking.status == "confirmed" {
            let priced = booking.seats.reduce(0) { $0 + (s.prices[$1] ?? 0) }
            if priced != booking.totalCents { violations.append("booking \(booking.id) charged \(booking.totalCents), its seats cost \(priced)") }
            total += booking.totalCents
        }
        if total != s.revenueCounter { violations.append("event revenueCents=\(s.revenueCounter), confirmed bookings add up to \(total)") }
        return check("revenue == prices of confirmed bookings", "\(total) cents", violations)
    }

    func holdsHaveLiveBookings(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        for (seat, bookingId) in s.holds.sorted(by: { $0.key < $1.key }) {
            guard let booking = s.bookings[bookingId] else { violations.append("seat \(seat) is held by \(bookingId), which does not exist"); continue }
            if !Self.live.contains(booking.status) { violations.append("seat \(seat) is held by \(bookingId), which is \(booking.status)") }
            else if !booking.seats.contains(seat) { violations.append("seat \(seat) is held by \(bookingId), which does not list it") }
            if s.sold[seat] != nil { violations.append("seat \(seat) is both held and sold") }
        }
        return check("every live hold belongs to a live booking", "\(s.holds.count) live holds", violations)
    }

    func noHoldPastDeadline(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        var heldSeats = 0
        for booking in s.bookings.values.sorted(by: { $0.id < $1.id }) where Self.live.contains(booking.status) {
            heldSeats += booking.seats.count
            if booking.expiresAt + graceMilliseconds < s.now {
                violations.append("booking \(booking.id) is \(booking.status) \(s.now - booking.expiresAt) ms past its deadline")
            }
        }
        if heldSeats != s.heldCounter { violations.append("event counter held=\(s.heldCounter), live bookings hold \(heldSeats) seats") }
        return check("every hold ends by its deadline + \(graceMilliseconds) ms", "\(heldSeats) seats in live bookings", violations)
    }

    func userCountsMatch(_ s: EventState) -> AuditCheck {
        var expected: [String: Int] = [:]
        for booking in s.bookings.values where Self.live.contains(booking.status) || booking.status == "confirmed" {
            expected[booking.userId, default: 0] += booking.seats.count
        }
        var violations: [String] = []
        for user in Set(expected.keys).union(s.userCounts.keys).sorted() where (expected[user] ?? 0) != (s.userCounts[user] ?? 0) {
            violations.append("user \(user) has count \(s.userCounts[user] ?? 0), holds or bought \(expected[user] ?? 0)")
        }
        return check("user counts == seats held + bought", "\(expected.count) buyers with seats", violations)
    }

    func freeSeatsAreFree(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        for seat in s.free.sorted() {
            if s.sold[seat] != nil { violations.append("seat \(seat) is in the free set and sold") }
            if let holder = s.holds[seat] { violations.append("seat \(seat) is in the free set and held by \(holder)") }
        }
        return check("free seats are neither held nor sold", "\(s.free.count) free", violations)
    }

    func logReplayMatches(_ s: EventState) -> AuditCheck {
        guard s.logComplete else {
            return AuditCheck(name: "the log replays to the same state", passed: true,
                              detail: "skipped: the log was trimmed (it no longer starts at event.created)", violations: [])
        }
        var status: [String: String] = [:]
        var sold: [String: String] = [:]
        for entry in s.log {
            // A replayed dead letter repeats an entry for one consumer group; the original counts.
            guard let bookingId = entry["bookingId"], entry["replayFor"] == nil else { continue }
            let seats = (entry["seats"] ?? "").split(separator: ",").map(String.init)
            switch entry["type"] {
            case "booking.initiated": status[bookingId] = "held"
            case "payment.requested": status[bookingId] = "payment_pending"
            case "booking.confirmed":
                status[bookingId] = "confirmed"
                for seat in seats { sold[seat] = bookingId }
            case "booking.released": status[bookingId] = "released"
            case "booking.expired": status[bookingId] = "expired"
            case "booking.cancelled":
                if entry["reason"] == "refund_requested" {
                    status[bookingId] = "refund_pending"
                    for seat in seats where sold[seat] == bookingId { sold[seat] = nil }
                } else {
                    status[bookingId] = "cancelled"
                }
            case "payment.refunded": status[bookingId] = "refunded"
            default: break
            }
        }
        var violations: [String] = []
        for booking in s.bookings.values.sorted(by: { $0.id < $1.id }) where status[booking.id] != booking.status {
            violations.append("booking \(booking.id) is \(booking.status), its log says \(status[booking.id] ?? "nothing")")
        }
        for bookingId in Set(status.keys).subtracting(s.bookings.keys).sorted() {
            violations.append("the log has booking \(bookingId), Redis has no such booking")
        }
        if sold != s.sold { violations.append("replayed sales (\(sold.count) seats) differ from the sold hash (\(s.sold.count))") }
        return check("the log replays to the same state", "\(s.log.count) log entries, \(status.count) bookings", violations)
    }
}

/// Everything the checks read, loaded in pipelined batches.
struct EventState {
    struct Booking {
        let id: String
        let userId: String
        let status: String
        let seats: [String]
        let totalCents: Int
        let expiresAt: Int
    }

    var capacity = 0
    var heldCounter = 0
    var soldCounter = 0
    var revenueCounter = 0
    var prices: [String: Int] = [:]
    var sold: [String: String] = [:]
    var free: Set<String> = []
    var holds: [String: String] = [:]
    var bookings: [String: Booking] = [:]
    var userCounts: [String: Int] = [:]
    var log: [[String: String]] = []
    var logComplete = true
    var now = 0

    static func load(eventId: String, client: RedisClient) throws -> EventState {
        let keys = EventKeys(eventId)
        let event = try client.checked(["HGETALL", keys.event]).fields
        guard !event.isEmpty else { throw AuditError.noSuchEvent(eventId) }
        var state = EventState()
        state.capacity = Int(event["capacity"] ?? "") ?? 0
        state.heldCounter = Int(event["held"] ?? "") ?? 0
        state.soldCounter = Int(event["sold"] ?? "") ?? 0
        state.revenueCounter = Int(event["revenueCents"] ?? "") ?? 0
        state.prices = try client.checked(["HGETALL", keys.seats]).fields.compactMapValues { Int($0) }
        state.sold = try client.checked(["HGETALL", keys.sold]).fields
        let sections = (event["sections"] ?? "").split(separator: ",").compactMap { $0.split(separator: ":").first.map(String.init) }
        for section in sections {
            state.free.formUnion(try client.checked(["ZRANGE", keys.free(section), "0", "-1"]).array?.compactMap(\.string) ?? [])
        }
        if let time = try client.checked(["TIME"]).array, time.count == 2, let seconds = time[0].int, let micros = time[1].int {
            state.now = seconds * 1000 + micros / 1000
        }

        let holdKeys = try client.scanKeys(keys.holdPrefix + "*")
        for batch in holdKeys.chunked(1000) {
            for (key, value) in zip(batch, try client.pipeline(batch.map { ["GET", $0] })) {
                if let owner = value.string { state.holds[String(key.dropFirst(keys.holdPrefix.count))] = owner }
            }
        }
        let bookingPrefix = keys.booking("")
        for batch in try client.scanKeys(bookingPrefix + "*").chunked(1000) {
            for reply in try client.pipeline(batch.map { ["HGETALL", $0] }) {
                let f = reply.fields
                guard let id = f["id"] else { continue }
                state.bookings[id] = Booking(id: id, userId: f["userId"] ?? "", status: f["status"] ?? "",
                                             seats: (f["seats"] ?? "").split(separator: ",").map(String.init),
                                             totalCents: Int(f["totalCents"] ?? "") ?? 0, expiresAt: Int(f["expiresAt"] ?? "") ?? 0)
            }
        }
        let userPrefix = keys.user("")
        for batch in try client.scanKeys(userPrefix + "*").chunked(1000) {
            for (key, value) in zip(batch, try client.pipeline(batch.map { ["GET", $0] })) {
                state.userCounts[String(key.dropFirst(userPrefix.count))] = value.int ?? 0
            }
        }
        var start = "-"
        while true {
            let page = try client.checked(["XRANGE", keys.log, start, "+", "COUNT", "10000"]).array ?? []
            for entry in page { state.log.append(entry.array?.last?.fields ?? [:]) }
            guard page.count == 10000, let last = page.last?.array?.first?.string else { break }
            start = "(" + last
        }
        state.logComplete = state.log.first?["type"] == "event.created"
        return state
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
