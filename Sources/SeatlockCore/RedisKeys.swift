// The Redis key schema (SPEC "Redis layout"). Every key of one event carries
// the hash tag `{EVENT}`, so an event lives in one Redis Cluster slot and its
// Lua scripts may touch all of its keys atomically.
public struct EventKeys: Sendable {
    public let eventId: String
    private let prefix: String

    /// `eventId` must already be a valid `Identifier`.
    public init(_ eventId: String) {
        self.eventId = eventId
        self.prefix = "sl:{\(eventId)}:"
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
    public func booking(_ bookingId: String) -> String { prefix + "booking:" + bookingId }
    public func expiry(_ bookingId: String) -> String { prefix + "expiry:" + bookingId }
    public func user(_ userId: String) -> String { prefix + "user:" + userId }
    /// Idempotency records are scoped per caller.
    public func idempotency(caller: String, key: String) -> String { prefix + "idem:" + caller + ":" + key }
    /// Passed to scripts when the request carries no Idempotency-Key (never written).
    public var noIdempotency: String { prefix + "idem:-" }
    /// How many Idempotency-Keys a caller stored in the current 24 h window.
    public func idempotencyCount(caller: String) -> String { prefix + "idemkeys:" + caller }
    /// Sorted set: the buyer's live holds, booking id by deadline.
    public func liveHolds(_ userId: String) -> String { user(userId) + ":live" }
    /// GCRA state (next allowed arrival, ms) per buyer, per client address, and for the event.
    public func rateLimit(user userId: String) -> String { prefix + "rl:user:" + userId }
    public func rateLimit(address: String) -> String { prefix + "rl:ip:" + address }
    public var admissionLimit: String { prefix + "rl:event" }
}

public enum GlobalKeys {
    /// Set of event ids, for workers and the sweeper to discover logs.
    public static let events = "sl:events"
}

/// Registered buyers. SPEC names the record `sl:user:U`; every user key
/// carries the hash tag `{users}` so that a user and the claim on their
/// e-mail address sit in one Redis Cluster slot and registration stays one
/// atomic script (e-mail uniqueness).
public enum UserKeys {
    /// Hash: `email`, `name`, `phone` (may be absent), `createdAt` (ms since epoch).
    public static func user(_ userId: String) -> String { "sl:{users}:user:" + userId }
    /// String: the user id that registered this (lowercased) e-mail address.
    public static func email(_ email: String) -> String { "sl:{users}:email:" + email }
    /// GCRA state of registrations from one client address.
    public static func registrationLimit(address: String) -> String { "sl:{users}:rl:ip:" + address }
}
