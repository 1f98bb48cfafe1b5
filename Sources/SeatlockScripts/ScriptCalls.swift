// How each Lua script is called: its KEYS and ARGV in the order the script's
// header block declares. The HTTP handlers, the CLI, the workers and the
// tests all build calls here, so a script's contract lives in one place.
import SeatlockCore
import SeatlockRedis

public struct ScriptCall: Sendable {
    public let script: LuaScript
    public let keys: [String]
    public let args: [String]
}

extension BookingScripts {
    /// With `chunkedToken`, the seats were written by `addSeats` under that
    /// token; without, the script writes them itself (one call).
    public func createEvent(_ spec: EventSpec, idempotencyKey: String? = nil, fingerprint: String = "", chunkedToken: String = "") -> ScriptCall {
        let keys = EventKeys(spec.id)
        var args = [fingerprint, spec.id, spec.name, spec.venue, spec.startsAt,
                    String(spec.holdSecondsOrDefault), String(spec.maxSeatsOrDefault), chunkedToken]
        for section in spec.sections {
            args += [section.id, String(section.rows), String(section.seatsPerRow), String(section.priceCents)]
        }
        return ScriptCall(script: createEvent, keys: [keys.event, keys.seats, keys.log, idempotencyKey ?? keys.noIdempotency, keys.freePrefix,
                                                      keys.creating], args: args)
    }

    /// The seat map in calls of at most `maxSeats` seats (whole rows), for
    /// `createEvent(…, chunkedToken: token)` to finish: no call keeps Redis long.
    public func addSeats(_ spec: EventSpec, token: String, maxSeats: Int = EventSpec.seatsPerCall) -> [ScriptCall] {
        let keys = EventKeys(spec.id)
        var calls: [ScriptCall] = []
        for section in spec.sections {
            let rowsPerCall = max(1, maxSeats / section.seatsPerRow)
            for first in stride(from: 1, through: section.rows, by: rowsPerCall) {
                var args = [token, calls.isEmpty ? "1" : "0", section.id, String(first), String(min(section.rows, first + rowsPerCall - 1)),
                            String(section.seatsPerRow), String(section.priceCents)]
                if calls.isEmpty { args += spec.sections.map(\.id) }
                calls.append(ScriptCall(script: addSeats, keys: [keys.event, keys.seats, keys.freePrefix, keys.creating], args: args))
            }
        }
        return calls
    }

    public func getEvent(_ eventId: String) -> ScriptCall {
        ScriptCall(script: getEvent, keys: [EventKeys(eventId).event], args: [])
    }

    public func getBooking(event eventId: String, booking bookingId: String, owner: String) -> ScriptCall {
        ScriptCall(script: getBooking, keys: [EventKeys(eventId).booking(bookingId)], args: [owner])
    }

    /// `client` is the caller's address (rate limited per address), `policy`
    /// the admission policy (`AbusePolicy.scriptArgument`; the default is no limits).
    public func hold(_ request: HoldRequest, event eventId: String, booking bookingId: String, user userId: String,
                     client: String = "", policy: String = AbusePolicy.unlimited.scriptArgument,
                     idempotencyKey: String? = nil, fingerprint: String = "") -> ScriptCall {
        let keys = EventKeys(eventId)
        let scriptKeys = [keys.event, keys.seats, keys.sold, keys.booking(bookingId), keys.expiry(bookingId), keys.expiries,
                          keys.user(userId), keys.log, idempotencyKey ?? keys.noIdempotency, keys.holdPrefix, keys.freePrefix,
                          keys.rateLimit(user: userId), keys.rateLimit(address: clientAddressKey(client)), keys.admissionLimit,
                          keys.idempotencyCount(caller: Caller.buyer(userId).scope), keys.liveHolds(userId)]
        switch request {
        case let .seats(seats):
            return ScriptCall(script: hold, keys: scriptKeys, args: [bookingId, userId, fingerprint, policy] + seats.map(\.description))
        case let .bestAvailable(section, quantity):
            return ScriptCall(script: holdBest, keys: scriptKeys, args: [bookingId, userId, fingerprint, policy, section, String(quantity)])
        }
    }

    public func requestPayment(event eventId: String, booking bookingId: String, owner: String, paymentToken: String,
                               graceMilliseconds: Int, client: String = "", policy: String = AbusePolicy.unlimited.scriptArgument,
                               idempotencyKey: String? = nil, fingerprint: String = "") -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: pay,
                          keys: [keys.booking(bookingId), keys.expiry(bookingId), keys.expiries, keys.log,
                                 idempotencyKey ?? keys.noIdempotency, keys.holdPrefix,
                                 keys.rateLimit(user: owner), keys.rateLimit(address: clientAddressKey(client)),
                                 keys.idempotencyCount(caller: Caller.buyer(owner).scope), keys.liveHolds(owner)],
                          args: [owner, paymentToken, String(graceMilliseconds), fingerprint, policy])
    }

    public func confirm(event eventId: String, booking bookingId: String, paymentId: String, confirmationCode: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: confirm,
                          keys: [keys.booking(bookingId), keys.sold, keys.expiry(bookingId), keys.expiries, keys.event, keys.log, keys.holdPrefix,
                                 keys.user("")],
                          args: [paymentId, confirmationCode])
    }

    /// `owner` '' lets any caller (admin, operator) release; `actor` goes into the log.
    public func release(event eventId: String, booking bookingId: String, owner: String, actor: String) -> ScriptCall {
        ScriptCall(script: release, keys: Self.endingKeys(eventId, bookingId), args: [owner, actor])
    }

    public func expire(event eventId: String, booking bookingId: String, actor: String) -> ScriptCall {
        ScriptCall(script: expire, keys: Self.endingKeys(eventId, bookingId), args: [bookingId, actor])
    }

    public func paymentFailed(event eventId: String, booking bookingId: String, attempt: Int, reason: String, retryAtMilliseconds: Int) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: paymentFailed, keys: [keys.booking(bookingId), keys.log], args: [String(attempt), reason, String(retryAtMilliseconds)])
    }

    /// Compensation for a payment that failed for good.
    public func cancel(event eventId: String, booking bookingId: String, attempt: Int, reason: String) -> ScriptCall {
        ScriptCall(script: cancel, keys: Self.endingKeys(eventId, bookingId), args: [String(attempt), reason])
    }

    public func refund(event eventId: String, booking bookingId: String, paymentId: String, refundId: String, reason: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: refund, keys: [keys.booking(bookingId), keys.log], args: [paymentId, refundId, reason])
    }

    public func createUser(_ user: UserRegistration, id userId: String, client: String = "",
                           registrations: RateLimit = .off) -> ScriptCall {
        let policy = registrations.isOff ? "0 0" : "\(RateLimit.format(registrations.perSecond)) \(registrations.burst)"
        return ScriptCall(script: createUser,
                          keys: [UserKeys.user(userId), UserKeys.email(user.email), UserKeys.registrationLimit(address: clientAddressKey(client))],
                          args: [userId, user.email, user.name, user.phone ?? "", policy])
    }

    /// release.lua, expire.lua and cancel.lua share this KEYS layout.
    private static func endingKeys(_ eventId: String, _ bookingId: String) -> [String] {
        let keys = EventKeys(eventId)
        return [keys.booking(bookingId), keys.sold, keys.expiry(bookingId), keys.expiries, keys.event, keys.log,
                keys.user(""), keys.holdPrefix, keys.freePrefix]
    }
}

extension RedisConnection {
    public func run(_ call: ScriptCall, completion: @escaping Completion) {
        run(call.script, keys: call.keys, args: call.args, completion: completion)
    }
}

extension RedisClient {
    public func run(_ call: ScriptCall) throws -> RedisValue {
        try run(call.script, keys: call.keys, args: call.args)
    }
}
