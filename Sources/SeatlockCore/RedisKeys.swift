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
}

public enum GlobalKeys {
    /// Set of event ids, for workers and the sweeper to discover logs.
    public static let events = "sl:events"
}
