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
            logReplayMatches(state), queuedBookingsWereAdmitted(state), returnedSeatsWentToTheWaitlist(state),
            bookingListsMatchBookings(state), cancelledEventHoldsNothing(state), chargesMatchBookings(state),
        ])
    }

    /// With the simulated payment provider (its ledger in Redis): a charge
    /// that was not given back belongs to a confirmed booking, a confirmed
    /// booking was charged, a refunded one was charged and refunded. Bookings
    /// still on their way (payment or refund pending) are left out.
    func chargesMatchBookings(_ s: EventState) -> AuditCheck {
        guard s.providerLedger else { return check("charges match bookings", "skipped: no charge of this event in the simulated provider's ledger", []) }
        var violations: [String] = []
        for booking in s.bookings.values.sorted(by: { $0.id < $1.id }) {
            let charged = s.charges.contains(booking.id), refunded = s.refunds.contains(booking.id)
            switch booking.status {
            case "confirmed" where !charged || refunded:
                violations.append("booking \(booking.id) is confirmed, " + (charged ? "yet its charge was refunded" : "yet it was never charged"))
            case "refunded" where !(charged && refunded):
                violations.append("booking \(booking.id) is refunded without a charge and its refund at the provider")
            case "payment_pending", "refund_pending", "confirmed", "refunded":
                break
            default:
                if charged, !refunded { violations.append("booking \(booking.id) is \(booking.status), and its charge was kept") }
            }
        }
        return check("charges match bookings", "every charge kept is a confirmed booking, every confirmed booking was charged", violations)
    }

    /// Every booking is listed once in the event's list, in its buyer's and
    /// in exactly its status's, and no list names a booking that is not so.
    func bookingListsMatchBookings(_ s: EventState) -> AuditCheck {
        var violations: [String] = []
        var expectedByStatus: [String: Set<String>] = [:], expectedByUser: [String: Set<String>] = [:], expectedAll: Set<String> = []
        for booking in s.bookings.values {
            let member = GlobalKeys.listEntry(milliseconds: Int64(booking.createdAt), id: booking.id)
            expectedAll.insert(member)
            expectedByStatus[booking.status, default: []].insert(member)
            expectedByUser[booking.userId, default: []].insert(member)
        }
        for member in expectedAll.subtracting(s.allList).sorted() { violations.append("booking \(member) is missing from the event's list") }
        for member in s.allList.subtracting(expectedAll).sorted() { violations.append("the event's list names \(member), which is no booking") }
        for status in Set(s.statusLists.keys).union(expectedByStatus.keys).sorted() {
            let listed = s.statusLists[status] ?? [], expected = expectedByStatus[status] ?? []
            for member in expected.subtracting(listed).sorted() { violations.append("booking \(member) is \(status) but not in that list") }
            for member in listed.subtracting(expected).sorted() { violations.append("the \(status) list names \(member), which is not \(status)") }
        }
        for (user, expected) in expectedByUser.sorted(by: { $0.key < $1.key }) where expected != s.userLists[user] ?? [] {
            violations.append("buyer \(user)'s list has \(s.userLists[user]?.count ?? 0) bookings, the buyer has \(expected.count)")
        }
        return check("booking lists == bookings", "\(s.allList.count) listed", violations)
    }

    /// Once a cancellation has finished, no booking is held, paying or confirmed.
    func cancelledEventHoldsNothing(_ s: EventState) -> AuditCheck {
        guard s.status == "cancelled", s.cancelCompleted else {
            return check("a cancelled event holds and sells nothing", s.status == "cancelled" ? "cancellation under way" : "not cancelled", [])
        }
        let open = s.bookings.values.filter { Self.live.contains($0.status) || $0.status == "confirmed" }.map(\.id).sorted()
        var violations = open.map { "booking \($0) is still live or confirmed" }
        if s.soldCounter != 0 || s.heldCounter != 0 { violations.append("counters held=\(s.heldCounter) sold=\(s.soldCounter)") }
        return check("a cancelled event holds and sells nothing", "\(s.bookings.count) bookings ended", violations)
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
                if entry["reason"] == "refund_requested" || entry["reason"] == "event_cancelled" { // a sale given back for its refund
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

    /// Invariant 8. hold.lua refuses a queued event's hold unless the queue's
    /// serving position has reached the buyer's, and serving moves on only in
    /// queue_tick.lua, which logs `queue.advanced`: so a hold made through the
    /// queue follows an advance that reached its position. A waitlist offer
    /// needs no admission (its buyer waited for returned seats instead).
    func queuedBookingsWereAdmitted(_ s: EventState) -> AuditCheck {
        let name = "queued sale: every booking has an admission, admitted in position order"
        guard s.queue != nil else { return AuditCheck(name: name, passed: true, detail: "the event sells directly", violations: []) }
        guard s.logComplete else { return skippedTrimmed(name) } // the advances before the trim are gone
        var serving = 0, queued = 0, offers = 0
        var violations: [String] = []
        // A replayed dead letter repeats an entry for one consumer group; the original counts.
        for entry in s.log where entry["replayFor"] == nil {
            switch entry["type"] {
            case "queue.advanced": serving = max(serving, Int(entry["servingPosition"] ?? "") ?? 0)
            case "booking.initiated":
                let booking = entry["bookingId"] ?? "?"
                if entry["waitlist"] != nil {
                    offers += 1
                } else if let position = entry["position"] {
                    queued += 1
                    if (Int(position) ?? .max) > serving {
                        violations.append("booking \(booking) was held at queue position \(position) while the queue served \(serving)")
                    }
                } else {
                    violations.append("booking \(booking) of user \(entry["userId"] ?? "?") has neither an admission position nor a waitlist offer")
                }
            default: break
            }
        }
        return check(name, "\(queued) bookings through the queue, \(offers) waitlist offers, highest serving position \(serving)", violations)
    }

    /// Invariant 9 (lua/includes/waitlist.lua): seats that come back are
    /// offered, in the same call, to the first 50 waiting entries in position
    /// order; an entry gets an offer when the seats not yet offered to an
    /// earlier entry hold its quantity in one section (its own, if it named
    /// one) and its buyer stays within maxSeatsPerUser. Replayed from the log,
    /// an entry is owed an offer by a return when it was among the first 50
    /// waiting, the seats that certainly came back (WaitlistReplay.released)
    /// less those offered to earlier positions fit it, and its buyer's seat
    /// count as the log changes it left room. The check fails only with proof
    /// that the scan reached such an entry and passed it over: a later
    /// position got an offer from the same return (the scan is in position
    /// order), or, sales being open, one of the seats nobody was offered went
    /// on to an ordinary hold.
    func returnedSeatsWentToTheWaitlist(_ s: EventState) -> AuditCheck {
        let name = "returned seats went to the waitlist first"
        guard s.logComplete else { return skippedTrimmed(name) } // the entries waiting at the trim are unknown
        var replay = WaitlistReplay(maxSeatsPerUser: s.maxSeatsPerUser)
        for entry in s.log where entry["replayFor"] == nil { replay.apply(entry) }
        replay.finish()
        return check(name, "\(replay.returns) returns, \(replay.offers) offers made, \(replay.expired) offers expired, "
            + "\(replay.waiting.count) entries still waiting; checked: no entry owed an offer by a return (among the first "
            + "\(WaitlistReplay.scanned) waiting, sales open, enough of the seats not yet offered in its section, room under "
            + "maxSeatsPerUser) was passed over for a later position or for an ordinary hold", replay.violations)
    }

    /// A check that needs the log from the event's creation passes on a trimmed log, saying it could not look.
    private func skippedTrimmed(_ name: String) -> AuditCheck {
        AuditCheck(name: name, passed: true, detail: "skipped: the log was trimmed (it no longer starts at event.created)", violations: [])
    }
}

/// The waitlist as the log replays it (invariant 9), entry by entry in log
/// order: who waits, the seats each return gave back, the offers that
/// followed it, whether sales were open and each buyer's seat count.
struct WaitlistReplay {
    struct Waiting {
        let userId: String
        let position: Int
        let quantity: Int
        let section: String // '' = any section
    }

    struct Offer {
        let userId: String
        let position: Int
        let seats: [String]
    }

    /// One `seat.released` and the offers logged right after it (one script call: nothing else comes between).
    struct SeatReturn {
        let id: Int
        let bookingId: String
        /// The seats the log proves came back in this call.
        let seats: [String]
        /// The entries the script's scan looked at, in position order.
        let scanned: [Waiting]
        let salesOpen: Bool
        var offers: [Offer] = []
    }

    /// waitlist.lua's `waitlist_scan`: how many waiting entries one return looks at.
    static let scanned = 50
    /// What an offer logs after its `seat.released`; any other entry ends the return.
    private static let offerEntries: Set<String> = ["booking.initiated", "seat.reserved", "waitlist.offered"]

    let maxSeatsPerUser: Int
    private(set) var waiting: [String: Waiting] = [:]
    private(set) var returns = 0, offers = 0, expired = 0
    private(set) var violations: [String] = []
    /// Every entry that joined, in position order; `head` skips those at the front no longer waiting.
    private var order: [Waiting] = []
    private var head = 0
    private var salesOpen = true // create_event.lua opens them
    /// The booking that last took each seat, until a return lists it.
    private var lastHolder: [String: String] = [:]
    /// Buyers' seat counts (sl:{E}:user:U): + a booking's seats when it starts, - when it ends.
    private var seatCounts: [String: Int] = [:]
    private var counted: [String: (userId: String, seats: Int)] = [:]
    private var current: SeatReturn?
    /// Seats nobody was offered by a return that passed an owed entry over -> that return's id, until a hold takes them;
    /// `passedOver` the description of each such return, until an ordinary hold proves the seats were on sale.
    private var leftOver: [String: Int] = [:]
    private var passedOver: [Int: String] = [:]

    init(maxSeatsPerUser: Int) { self.maxSeatsPerUser = maxSeatsPerUser }

    mutating func apply(_ entry: [String: String]) {
        let type = entry["type"] ?? ""
        if current != nil, !Self.offerEntries.contains(type) || (type == "booking.initiated" && entry["waitlist"] == nil) { finish() }
        switch type {
        case "waitlist.joined": joined(entry)
        case "waitlist.offered": offered(entry)
        case "waitlist.left": if let user = entry["userId"] { waiting[user] = nil }
        case "waitlist.expired": expired += 1 // its entry stopped waiting when it was offered
        case "event.sales_opened": salesOpen = true
        case "event.sales_closed": salesOpen = false
        case "booking.initiated": initiated(entry)
        case "booking.released", "booking.expired", "booking.cancelled": ended(entry["bookingId"] ?? "")
        case "seat.released": released(entry)
        default: break
        }
    }

    /// Ends the return being read: an owed entry without an offer is a
    /// violation when a later position got one, else (sales open) a suspect
    /// until an ordinary hold takes one of the seats nobody was offered.
    mutating func finish() {
        guard let r = current else { return }
        current = nil
        guard !r.seats.isEmpty else { return }
        var suspect: String?
        for entry in r.scanned where !r.offers.contains(where: { $0.userId == entry.userId }) && isOwed(entry, by: r) {
            let passed = "\(r.seats.count) seats came back from booking \(r.bookingId): waitlist position \(entry.position) "
                + "(\(entry.quantity) seats\(entry.section.isEmpty ? "" : " in \(entry.section)")) fitted them and got no offer"
            if let later = r.offers.first(where: { $0.position > entry.position }) {
                violations.append(passed + ", position \(later.position) did")
            } else if r.salesOpen, suspect == nil {
                suspect = passed
            }
        }
        guard let suspect else { return }
        let offered = Set(r.offers.flatMap(\.seats))
        passedOver[r.id] = suspect
        for seat in r.seats where !offered.contains(seat) { leftOver[seat] = r.id }
    }

    /// Whether the scan, reaching `entry`, had to offer it seats. The seats
    /// counted are a subset of those the script had (see `released`), and the
    /// seat count is the script's when the log is whole: an entry owed here
    /// was owed there.
    private func isOwed(_ entry: Waiting, by r: SeatReturn) -> Bool {
        guard (seatCounts[entry.userId] ?? 0) + entry.quantity <= maxSeatsPerUser else { return false }
        let offeredEarlier = Set(r.offers.filter { $0.position < entry.position }.flatMap(\.seats))
        var perSection: [String: Int] = [:]
        for seat in r.seats where !offeredEarlier.contains(seat) { perSection[SeatID(seat)?.section ?? seat, default: 0] += 1 }
        if entry.section.isEmpty { return perSection.values.contains { $0 >= entry.quantity } }
        return perSection[entry.section, default: 0] >= entry.quantity
    }

    private mutating func joined(_ entry: [String: String]) {
        guard let userId = entry["userId"], let position = Int(entry["position"] ?? ""), let quantity = Int(entry["quantity"] ?? ""),
              quantity > 0 else { return } // waitlist_join.lua takes 1...50
        let waiter = Waiting(userId: userId, position: position, quantity: quantity, section: entry["section"] ?? "")
        waiting[userId] = waiter
        // Positions are handed out in log order (HINCRBY in the joining call); in place should one not be.
        let index = order.lastIndex { $0.position < position }.map { $0 + 1 } ?? 0
        order.insert(waiter, at: index)
        head = min(head, index)
    }

    private mutating func offered(_ entry: [String: String]) {
        offers += 1
        guard let userId = entry["userId"] else { return }
        waiting[userId] = nil
        // An unreadable position counts as earlier than every entry: its seats were not there for them.
        current?.offers.append(Offer(userId: userId, position: Int(entry["position"] ?? "") ?? .min, seats: Self.seats(entry)))
    }

    private mutating func initiated(_ entry: [String: String]) {
        guard let bookingId = entry["bookingId"], let userId = entry["userId"] else { return }
        let seats = Self.seats(entry)
        counted[bookingId] = (userId, seats.count)
        seatCounts[userId, default: 0] += seats.count
        for seat in seats {
            lastHolder[seat] = bookingId
            guard let id = leftOver.removeValue(forKey: seat), entry["waitlist"] == nil, let passed = passedOver.removeValue(forKey: id) else { continue }
            violations.append(passed + "; seat \(seat) went to the ordinary hold \(bookingId) instead")
        }
    }

    /// booking.released / expired / cancelled: the scripts take the booking's seats off its buyer's count.
    private mutating func ended(_ bookingId: String) {
        guard let booking = counted.removeValue(forKey: bookingId) else { return }
        seatCounts[booking.userId, default: 0] -= booking.seats
    }

    private mutating func released(_ entry: [String: String]) {
        let bookingId = entry["bookingId"] ?? ""
        let listed = Self.seats(entry)
        guard !listed.isEmpty else { return }
        returns += 1
        // ending.lua lists seats that may already be free (a lapsed hold's
        // seat taken and given back by another booking meanwhile) and offers
        // only the others. A seat certainly comes back now when this booking
        // took it last and no return has listed it since.
        let back = listed.filter { lastHolder[$0] == bookingId }
        for seat in listed { lastHolder[seat] = nil }
        current = SeatReturn(id: returns, bookingId: bookingId, seats: back, scanned: firstWaiting(), salesOpen: salesOpen)
    }

    /// The first `scanned` entries still waiting, in position order (the script's ZRANGE 0 49).
    private mutating func firstWaiting() -> [Waiting] {
        // (a buyer who left and joined again is waiting at their new position only)
        func isWaiting(_ entry: Waiting) -> Bool { waiting[entry.userId]?.position == entry.position }
        while head < order.count, !isWaiting(order[head]) { head += 1 }
        var first: [Waiting] = []
        for entry in order[head...] where isWaiting(entry) {
            first.append(entry)
            if first.count == Self.scanned { break }
        }
        return first
    }

    private static func seats(_ entry: [String: String]) -> [String] {
        (entry["seats"] ?? "").split(separator: ",").map(String.init)
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
        let createdAt: Int
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
    /// The event's queue settings ('opensAtMs rate seconds'), nil for an event that sells directly.
    var queue: String?
    var maxSeatsPerUser = 0
    var status = ""
    var cancelCompleted = false
    /// The booking lists (lua/includes/booking_index.lua): all, by status, by buyer.
    var allList: Set<String> = []
    var statusLists: [String: Set<String>] = [:]
    var userLists: [String: Set<String>] = [:]
    /// The simulated payment provider's ledger (booking ids charged / refunded), when this event's payments went through it.
    var providerLedger = false
    var charges: Set<String> = []
    var refunds: Set<String> = []

    static func load(eventId: String, client: RedisClient) throws -> EventState {
        let keys = EventKeys(eventId)
        let event = try client.checked(["HGETALL", keys.event]).fields
        guard !event.isEmpty else { throw AuditError.noSuchEvent(eventId) }
        var state = EventState()
        state.capacity = Int(event["capacity"] ?? "") ?? 0
        state.heldCounter = Int(event["held"] ?? "") ?? 0
        state.soldCounter = Int(event["sold"] ?? "") ?? 0
        state.revenueCounter = Int(event["revenueCents"] ?? "") ?? 0
        state.queue = event["queue"].flatMap { $0.isEmpty ? nil : $0 }
        state.maxSeatsPerUser = Int(event["maxSeatsPerUser"] ?? "") ?? 0
        state.status = event["status"] ?? ""
        state.cancelCompleted = event["cancelCompletedAt"] != nil
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
                                             totalCents: Int(f["totalCents"] ?? "") ?? 0, expiresAt: Int(f["expiresAt"] ?? "") ?? 0,
                                             createdAt: Int(f["createdAt"] ?? "") ?? 0)
            }
        }
        func members(_ key: String) throws -> Set<String> {
            Set(try client.checked(["ZRANGE", key, "0", "-1"]).array?.compactMap(\.string) ?? [])
        }
        state.allList = try members(keys.bookings)
        for status in BookingStatus.all { state.statusLists[status] = try members(keys.bookings(status: status)) }
        let buyers = Array(Set(state.bookings.values.map(\.userId)))
        for batch in buyers.chunked(1000) {
            for (user, reply) in zip(batch, try client.pipeline(batch.map { ["ZRANGE", keys.bookings(user: $0), "0", "-1"] })) {
                state.userLists[user] = Set(reply.array?.compactMap(\.string) ?? [])
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
        for batch in Array(state.bookings.keys).chunked(1000) {
            let replies = try client.pipeline([["HMGET", GlobalKeys.providerCharges] + batch, ["HMGET", GlobalKeys.providerRefunds] + batch])
            for (id, charge) in zip(batch, replies[0].array ?? []) where charge.string != nil { state.charges.insert(id) }
            for (id, refund) in zip(batch, replies[1].array ?? []) where refund.string != nil { state.refunds.insert(id) }
        }
        state.providerLedger = !state.charges.isEmpty // this event's payments went through the simulated provider
        return state
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
