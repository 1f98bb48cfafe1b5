// The whole Redis key schema (docs/operations/keys.md): every key Seatlock
// writes is named here and nowhere else. Every key of one event carries the
// hash tag `{EVENT}`, so an event lives in one Redis Cluster slot and its Lua
// scripts may touch all of its keys atomically; global keys (the event set,
// users, dead letters, the simulated provider's ledger) never share a
// script with an event's keys.
public struct EventKeys: Sendable {
    public let eventId: String
    private let prefix: String

    /// `eventId` must already be a valid `Identifier`, and not a reserved tag.
    public init(_ eventId: String) {
        self.eventId = eventId
        self.prefix = "sl:{\(eventId)}:"
    }

    /// Hash tags of global keys. An event with one of these ids would share
    /// its keys with them (`sl:{users}:user:U` is both a registered buyer and
    /// event `users`' count for that buyer), so no event may have one: with
    /// that, every key names exactly one thing (the schema is injective).
    public static let reservedTags: Set<String> = [UserKeys.tag]

    /// A valid identifier that is not a reserved tag.
    public static func isValidEventId(_ text: String) -> Bool {
        Identifier.isValid(text) && !reservedTags.contains(text)
    }

    /// `sl:{E}:NAME`, for the key types of this file.
    func key(_ name: String) -> String { prefix + name }

    /// `sl:{E}:` + name + id + suffix made in one allocation (a hold names seven such keys).
    private func key(_ name: StaticString, _ id: String, _ suffix: StaticString = "") -> String {
        var key = ""
        key.reserveCapacity(prefix.utf8.count + name.utf8CodeUnitCount + id.utf8.count + suffix.utf8CodeUnitCount)
        key += prefix
        key += name.description
        key += id
        key += suffix.description
        return key
    }

    public var event: String { prefix + "event" }
    public var seats: String { prefix + "seats" }
    public var sold: String { prefix + "sold" }
    public var expiries: String { prefix + "expiries" }
    public var log: String { prefix + "log" }
    /// `holdPrefix + seatId` is the seat's hold key.
    public var holdPrefix: String { prefix + "hold:" }
    /// `freePrefix + section` is the sorted set of that section's free seats.
    public var freePrefix: String { prefix + "free:" }

    public func hold(_ seat: String) -> String { holdPrefix + seat }
    public func free(_ section: String) -> String { freePrefix + section }
    /// Best available's row index of a section (a segment tree of bounds on
    /// each row's longest free run): the scripts derive it from freePrefix
    /// (includes/seats.lua); section ids have no ':'.
    public func freeRuns(_ section: String) -> String { free(section) + ":runs" }
    public func booking(_ bookingId: String) -> String { key("booking:", bookingId) }
    public func expiry(_ bookingId: String) -> String { key("expiry:", bookingId) }
    public func user(_ userId: String) -> String { key("user:", userId) }
    /// Idempotency records are scoped per caller.
    public func idempotency(caller: String, key: String) -> String { prefix + "idem:" + caller + ":" + key }
    /// Passed to scripts when the request carries no Idempotency-Key (never written).
    public var noIdempotency: String { prefix + "idem:-" }
    /// How many Idempotency-Keys a caller stored in the current 24 h window.
    public func idempotencyCount(caller: String) -> String { key("idemkeys:", caller) }
    /// Sorted set: the buyer's live holds, booking id by deadline.
    public func liveHolds(_ userId: String) -> String { key("user:", userId, ":live") }
    /// GCRA state (next allowed arrival, ms) per buyer, per client address, and for the event.
    public func rateLimit(user userId: String) -> String { key("rl:user:", userId) }
    public func rateLimit(address: String) -> String { key("rl:ip:", address) }
    public var admissionLimit: String { prefix + "rl:event" }
    /// String, 60 s: the token of the creation writing a large event's seats in chunks.
    public var creating: String { prefix + "creating" }

    /// Sorted set: every booking, `CREATEDMS:B` at score 0 (lua/includes/booking_index.lua);
    /// also the prefix the scripts name the other booking lists by.
    public var bookings: String { prefix + "bookings" }
    /// Sorted set: the bookings in status S, same members.
    public func bookings(status: String) -> String { bookings + ":status:" + status }
    /// Sorted set: buyer U's bookings, same members.
    public func bookings(user userId: String) -> String { bookings + ":user:" + userId }

    /// `bookingPrefix + B` is booking B (a waitlist offer is a booking the scripts name).
    public var bookingPrefix: String { prefix + "booking:" }
    /// `expiryPrefix + B` is booking B's hold timer.
    public var expiryPrefix: String { prefix + "expiry:" }

    /// The on-sale queue (lua/includes/queue.lua): hash of its state
    /// (status, opensAt, admitPerSecond, admissionSeconds, joined, serving, …).
    public var queue: String { prefix + "queue" }
    /// Sorted set: the prequeue, user id by the random draw made at join.
    public var prequeue: String { prefix + "queue:pre" }
    /// Hash: user id -> position, for buyers who joined after the open.
    public var queuePositions: String { prefix + "queue:who" }
    /// Bitmap: the positions whose buyers tried to hold (automatic admission counts them).
    public var queueAttempts: String { prefix + "queue:tried" }
    /// Bitmap: the positions whose buyers were told "admitted" (automatic admission counts them).
    public var queueTold: String { prefix + "queue:told" }
    /// List of `serving:told:tried:ms`, one per advance, kept for admissionSeconds.
    public var queueCheckpoints: String { prefix + "queue:checkpoints" }
    /// The same checkpoints for the last 35 s only: automatic admission's counts lapse over them.
    public var queueRecent: String { prefix + "queue:recent" }

    /// Sorted set: the waitlist's waiting buyers by position (lua/includes/waitlist.lua).
    public var waitlist: String { prefix + "waitlist" }
    /// Hash: buyer U's waitlist entry.
    public func waitlistEntry(_ userId: String) -> String { waitlist + ":" + userId }

    /// Hash: the notifications worker's delivery marks of one booking.
    public func notified(_ bookingId: String) -> String { prefix + "notified:" + bookingId }
    /// Stream: one entry per delivery attempt (`notification.delivered` / `notification.failed`).
    public var notifications: String { prefix + "notifications" }

    /// The event id and the rest of one of an event's keys (`sl:{E}:log` →
    /// `("E", "log")`); nil for a key of no event or an invalid event id.
    /// (Read in place: the expiry listener parses every key that expires, the
    /// buyers' rate limits too.)
    public static func parse(_ key: String) -> (eventId: String, name: Substring)? {
        let text = key.utf8
        guard key.hasPrefix("sl:{") else { return nil }
        let start = text.index(text.startIndex, offsetBy: 4)
        guard let close = text[start...].firstIndex(of: UInt8(ascii: "}")), text.index(after: close) < text.endIndex,
              text[text.index(after: close)] == UInt8(ascii: ":") else { return nil }
        let eventId = String(key[start..<close])
        guard isValidEventId(eventId) else { return nil }
        return (eventId, key[text.index(close, offsetBy: 2)...])
    }

    /// `sl:{E}:log` → E.
    public static func eventId(ofLog key: String) -> String? {
        guard let (eventId, name) = parse(key), name == "log" else { return nil }
        return eventId
    }

    /// `sl:{E}:expiry:B` → (E, B).
    public static func booking(ofExpiry key: String) -> (eventId: String, bookingId: String)? {
        guard let (eventId, name) = parse(key), name.hasPrefix("expiry:") else { return nil }
        let bookingId = String(name.dropFirst("expiry:".count))
        return Identifier.isValid(bookingId) ? (eventId, bookingId) : nil
    }
}

/// The keys of an event that every hold names, each made once: a loop keeps
/// one per event it sells (an event id costs ~15 key strings a hold
/// otherwise), so a hold builds only its buyer's and its booking's keys.
public final class EventHoldKeys: Sendable {
    public let keys: EventKeys
    public let event, seats, sold, expiries, log, noIdempotency, holdPrefix, freePrefix, admissionLimit: String
    public let queue, queueAttempts, queueTold, bookings: String

    public init(_ keys: EventKeys) {
        self.keys = keys
        (event, seats, sold, expiries, log) = (keys.event, keys.seats, keys.sold, keys.expiries, keys.log)
        (noIdempotency, holdPrefix, freePrefix, admissionLimit) = (keys.noIdempotency, keys.holdPrefix, keys.freePrefix, keys.admissionLimit)
        (queue, queueAttempts, queueTold, bookings) = (keys.queue, keys.queueAttempts, keys.queueTold, keys.bookings)
    }
}

public enum GlobalKeys {
    /// Set of event ids, for workers and the sweeper to discover logs.
    public static let events = "sl:events"

    /// Sorted set: every event as `STARTSMS:E` at score 0, for `GET /v1/events`
    /// in start order (lex ranges, like the booking lists). Global: written by
    /// the server beside the event's own script, so an entry may outlive a
    /// change of startsAt; the list drops such entries as it reads them.
    public static let eventIndex = "sl:events:by-start"

    /// The index member of an event starting at `startsAtMs`.
    public static func eventIndexEntry(eventId: String, startsAtMs: Int64) -> String {
        listEntry(milliseconds: startsAtMs, id: eventId)
    }

    /// A member of a list read by lex range: `MS:ID`, the time in 13 digits
    /// (ms since the epoch), so lex order is time order (then id order).
    /// The booking lists use the same form (lua/includes/booking_index.lua).
    public static func listEntry(milliseconds: Int64, id: String) -> String {
        let digits = String(max(0, milliseconds))
        return String(repeating: "0", count: max(0, 13 - digits.count)) + digits + ":" + id
    }

    /// String, 24 h: the fingerprint of the admin request that first used
    /// Idempotency-Key K to create an event (the event's own record is under
    /// its id, which another body changes).
    public static func adminIdempotency(_ key: String) -> String { "sl:idem:admin:" + key }

    /// Stream: entries a consumer group gave up on (`sl:dlq:payments`, …).
    public static func deadLetters(group: String) -> String { "sl:dlq:" + group }

    /// The simulated payment provider's ledger, so that "charged once" holds
    /// across worker restarts (hashes keyed by idempotency key): the payment
    /// id of each charge, the charge attempts (for tok_flaky), the refund id.
    public static let providerCharges = "sl:provider:charges"
    public static let providerAttempts = "sl:provider:attempts"
    public static let providerRefunds = "sl:provider:refunds"
}

/// Registered buyers. The contract names the record `sl:user:U`; every user key
/// carries the hash tag `{users}` so that a user and the claim on their
/// e-mail address sit in one Redis Cluster slot and registration stays one
/// atomic script (e-mail uniqueness).
public enum UserKeys {
    /// The hash tag of every user key (an event may not take it as its id).
    public static let tag = "users"
    private static let prefix = "sl:{\(tag)}:"
    /// Hash: `email`, `name`, `phone` (may be absent), `createdAt` (ms since epoch).
    public static func user(_ userId: String) -> String { prefix + "user:" + userId }
    /// String: the user id that registered this (lowercased) e-mail address.
    public static func email(_ email: String) -> String { prefix + "email:" + email }
    /// GCRA state of registrations from one client address.
    public static func registrationLimit(address: String) -> String { prefix + "rl:ip:" + address }
}

/// The analytics keys of one event (same `{E}` slot as
/// the event's other keys, so analytics_apply.lua may touch them together).
public struct AnalyticsKeys: Sendable, Equatable {
    public let eventId: String
    /// Hash: counters, live `held` / `sold`, `lastEntry` (last applied log id).
    public let stats: String
    /// HyperLogLog of the buyers who made a hold.
    public let buyers: String
    /// Hash: hold -> confirmation histogram, bucket upper bound (ms) -> count, `+Inf`, `count`, `sum`, `max`.
    public let confirmMs: String
    /// Hash: per-second ring buffer, `second % 3600` -> compact JSON.
    public let series: String

    /// `eventId` must already be a valid `Identifier`.
    public init(_ eventId: String) {
        self.init(eventId, base: "stats")
    }

    /// Where `AnalyticsService.rebuild` folds the log before swapping the result in.
    public static func staging(_ eventId: String) -> AnalyticsKeys {
        AnalyticsKeys(eventId, base: "stats-rebuild")
    }

    private init(_ eventId: String, base: String) {
        self.eventId = eventId
        let prefix = EventKeys(eventId).key(base)
        stats = prefix
        buyers = prefix + ":buyers"
        confirmMs = prefix + ":confirm_ms"
        series = prefix + ":series"
    }

    /// In the order analytics_apply.lua takes them (KEYS[1...4]).
    public var all: [String] { [stats, buyers, confirmMs, series] }
}

/// A stream entry id (`ms-seq`), ordered as Redis orders them.
public struct StreamID: Comparable, Hashable, Sendable, CustomStringConvertible {
    public let milliseconds: UInt64
    public let sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    public static let zero = StreamID(milliseconds: 0, sequence: 0)

    /// Exactly `DIGITS-DIGITS`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return nil }
        milliseconds = ms
        sequence = seq
    }

    public static func < (a: StreamID, b: StreamID) -> Bool { (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence) }
    public var description: String { "\(milliseconds)-\(sequence)" }
}
