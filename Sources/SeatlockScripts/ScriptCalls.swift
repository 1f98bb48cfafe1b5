// How each Lua script is called: its KEYS and ARGV in the order the script's
// header block declares. The HTTP handlers, the CLI, the workers and the
// tests all build calls here, so a script's contract lives in one place.
import Foundation
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
    public func createEvent(_ spec: EventSpec, idempotencyKey: String? = nil, fingerprint: String = "", chunkedToken: String = "",
                            now: Date = Date()) -> ScriptCall {
        let keys = EventKeys(spec.id)
        var args = [fingerprint, spec.id, spec.name, spec.venue, spec.startsAt,
                    String(spec.holdSecondsOrDefault), String(spec.maxSeatsOrDefault), chunkedToken,
                    spec.queue?.scriptArgument(now: now) ?? ""]
        for section in spec.sections {
            args += [section.id, String(section.rows), String(section.seatsPerRow), String(section.priceCents)]
        }
        return ScriptCall(script: createEvent, keys: [keys.event, keys.seats, keys.log, idempotencyKey ?? keys.noIdempotency, keys.freePrefix,
                                                      keys.creating, keys.queue], args: args)
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
    /// `admittedPosition`: the queue position of the buyer's verified admission (queued events).
    public func hold(_ request: HoldRequest, event eventId: String, booking bookingId: String, user userId: String,
                     client: String = "", policy: String = AbusePolicy.unlimited.scriptArgument,
                     idempotencyKey: String? = nil, fingerprint: String = "", admittedPosition: Int? = nil) -> ScriptCall {
        hold(request, keys: EventHoldKeys(EventKeys(eventId)), booking: bookingId, user: userId, client: client, policy: policy,
             idempotencyKey: idempotencyKey, fingerprint: fingerprint, admittedPosition: admittedPosition)
    }

    /// The same with the event's hold keys made beforehand (the server keeps them per event).
    public func hold(_ request: HoldRequest, keys event: EventHoldKeys, booking bookingId: String, user userId: String,
                     client: String = "", policy: String = AbusePolicy.unlimited.scriptArgument,
                     idempotencyKey: String? = nil, fingerprint: String = "", admittedPosition: Int? = nil) -> ScriptCall {
        let keys = event.keys
        let scriptKeys = [event.event, event.seats, event.sold, keys.booking(bookingId), keys.expiry(bookingId), event.expiries,
                          keys.user(userId), event.log, idempotencyKey ?? event.noIdempotency, event.holdPrefix, event.freePrefix,
                          keys.rateLimit(user: userId), keys.rateLimit(address: clientAddressKey(client)), event.admissionLimit,
                          keys.idempotencyCount(caller: Caller.buyer(userId).scope), keys.liveHolds(userId), event.queue, event.queueAttempts,
                          event.queueTold, event.bookings]
        let position = admittedPosition.map(String.init) ?? ""
        switch request {
        case let .seats(seats):
            var args: [String] = []
            args.reserveCapacity(5 + seats.count)
            args += [bookingId, userId, fingerprint, policy, position]
            for seat in seats { args.append(seat.description) }
            return ScriptCall(script: hold, keys: scriptKeys, args: args)
        case let .bestAvailable(section, quantity):
            return ScriptCall(script: holdBest, keys: scriptKeys, args: [bookingId, userId, fingerprint, policy, position, section, String(quantity)])
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
                                 keys.idempotencyCount(caller: Caller.buyer(owner).scope), keys.liveHolds(owner), keys.bookings, keys.event],
                          args: [owner, paymentToken, String(graceMilliseconds), fingerprint, policy])
    }

    public func confirm(event eventId: String, booking bookingId: String, paymentId: String, confirmationCode: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: confirm,
                          keys: [keys.booking(bookingId), keys.sold, keys.expiry(bookingId), keys.expiries, keys.event, keys.log, keys.holdPrefix,
                                 keys.user(""), keys.bookings],
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
        return ScriptCall(script: refund, keys: [keys.booking(bookingId), keys.log, keys.bookings], args: [paymentId, refundId, reason])
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
                keys.user(""), keys.holdPrefix, keys.freePrefix, keys.seats, keys.waitlist, keys.bookingPrefix, keys.expiryPrefix, keys.bookings]
    }

    /// queue_join.lua, queue_tick.lua and queue_control.lua start with these keys.
    private static func queueKeys(_ eventId: String) -> [String] {
        let keys = EventKeys(eventId)
        return [keys.queue, keys.prequeue, keys.queuePositions, keys.event, keys.log]
    }

    /// Several buyers in one call; `draw`: a buyer's random place in the prequeue's shuffle (0 ..< 2^52).
    public func queueJoin(event eventId: String, buyers: [(userId: String, draw: UInt64)]) -> ScriptCall {
        ScriptCall(script: queueJoin, keys: Self.queueKeys(eventId), args: buyers.flatMap { [$0.userId, String($0.draw & ((1 << 52) - 1))] })
    }

    /// `bound`: automatic admission's cap on admitted buyers without a hold;
    /// `told`: positions the caller told "admitted" since its last call.
    public func queueTick(event eventId: String, bound: Int, told: [Int] = []) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: queueTick, keys: Self.queueKeys(eventId) + [keys.queueCheckpoints, keys.queueTold, keys.queueRecent],
                          args: [String(bound)] + told.map(String.init))
    }

    public func queueControl(event eventId: String, pause: Bool, actor: String) -> ScriptCall {
        ScriptCall(script: queueControl, keys: Self.queueKeys(eventId), args: [pause ? "pause" : "resume", actor])
    }

    public func waitlistJoin(event eventId: String, user userId: String, _ request: WaitlistRequest) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: waitlistJoin,
                          keys: [keys.event, keys.waitlist, keys.waitlistEntry(userId), keys.log, keys.user(""), keys.queue, keys.seats,
                                 keys.holdPrefix, keys.freePrefix, keys.bookingPrefix, keys.expiryPrefix, keys.expiries, keys.bookings],
                          args: [userId, String(request.quantity), request.section ?? ""])
    }

    public func waitlistGet(event eventId: String, user userId: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: waitlistGet, keys: [keys.waitlistEntry(userId), keys.bookingPrefix], args: [])
    }

    public func waitlistLeave(event eventId: String, user userId: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: waitlistLeave,
                          keys: [keys.waitlistEntry(userId), keys.sold, keys.expiries, keys.event, keys.log, keys.user(""), keys.holdPrefix,
                                 keys.freePrefix, keys.seats, keys.waitlist, keys.bookingPrefix, keys.expiryPrefix, keys.bookings],
                          args: [userId])
    }

    /// PATCH /v1/events/{e} and the operator's sales switch (`EventPatch.scriptArguments`).
    public func updateEvent(event eventId: String, _ patch: EventPatch, actor: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: updateEvent, keys: [keys.event, keys.log, keys.seats], args: [actor] + patch.scriptArguments)
    }

    public func cancelEvent(event eventId: String, actor: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: cancelEvent, keys: [keys.event, keys.log], args: [actor])
    }

    /// One batch of a cancelled event's bookings (the payments group calls it until nothing is left).
    public func cancelBookings(event eventId: String, batch: Int, actor: String) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: cancelBookings,
                          keys: [keys.event, keys.sold, keys.expiries, keys.log, keys.user(""), keys.holdPrefix, keys.freePrefix, keys.seats,
                                 keys.waitlist, keys.bookingPrefix, keys.expiryPrefix, keys.bookings],
                          args: [String(batch), actor])
    }

    /// Lists `bookingIds` (existing bookings) in the booking lists: `seatlock reindex`.
    public func reindexBookings(event eventId: String, bookingIds: [String]) -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: reindexBookings, keys: [keys.bookings, keys.bookingPrefix], args: bookingIds)
    }

    /// One page of a booking list: `list` is `EventKeys.bookings`, `bookings(status:)` or `bookings(user:)`;
    /// `after` the previous page's last member ('' for the first); `status` filters the page ('' keeps all).
    public func listBookings(event eventId: String, list: String, after: String, limit: Int, status: String = "") -> ScriptCall {
        let keys = EventKeys(eventId)
        return ScriptCall(script: listBookings, keys: [keys.event, list, keys.bookingPrefix], args: [after, String(limit), status])
    }
}

extension RedisConnection {
    public func run(_ call: ScriptCall, completion: @escaping Completion) {
        run(call.script, keys: call.keys, args: call.args, completion: completion)
    }

    /// Runs the call, then WAITs for `replicas` replicas to have it (see `runReplicated`).
    public func runReplicated(_ call: ScriptCall, replicas: Int?, timeout: Duration, completion: @escaping Completion) {
        runReplicated(call.script, keys: call.keys, args: call.args, replicas: replicas, timeout: timeout, completion: completion)
    }
}

extension RedisClient {
    public func run(_ call: ScriptCall) throws -> RedisValue {
        try run(call.script, keys: call.keys, args: call.args)
    }
}
