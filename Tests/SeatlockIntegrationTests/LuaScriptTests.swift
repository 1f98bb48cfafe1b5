// Each Lua script called directly on a real Redis, including its error
// returns. Every test works on its own event id.
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockScripts
import SeatlockServer
import SeatlockTestSupport
import Testing

struct ScriptHarness {
    let redis: TestRedis
    let client: RedisClient
    let event: String
    var scripts: BookingScripts { redis.scripts }
    var keys: EventKeys { EventKeys(event) }

    /// On the shared single Redis, or on `redis` (the shared cluster, say).
    init(rows: Int = 3, seatsPerRow: Int = 10, holdSeconds: Int = 900, maxSeats: Int = 4, on redis: TestRedis? = nil) throws {
        self.redis = try redis ?? TestRedis.shared()
        client = try self.redis.client()
        event = TestServer.uniqueEventId("lua")
        let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"\(event)","name":"Lua","venue":"V","startsAt":"2027-01-01T00:00:00Z","holdSeconds":\(holdSeconds),"maxSeatsPerUser":\(maxSeats),
         "sections":[{"id":"A","rows":\(rows),"seatsPerRow":\(seatsPerRow),"priceCents":1000},{"id":"B","rows":1,"seatsPerRow":5,"priceCents":500}]}
        """.utf8))
        let reply = try client.run(scripts.createEvent(spec))
        precondition(reply.array?.first?.int == 201, "create_event failed: \(reply)")
    }

    /// Runs a script call; returns (status, parsed body).
    func call(_ call: ScriptCall) throws -> (Int, [String: Any]) {
        let reply = try client.run(call)
        guard let items = reply.array, items.count == 2, let status = items[0].int, let body = items[1].string else {
            throw RedisError(.server, "unexpected reply \(reply)")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
        return (status, json)
    }

    func hold(_ seats: [String], user: String = "u1", booking: String = BookingID.random(), fingerprint: String = "", idem: String? = nil) throws -> (Int, [String: Any]) {
        try call(scripts.hold(.seats(seats.map { SeatID($0)! }), event: event, booking: booking, user: user,
                              idempotencyKey: idem.map { keys.idempotency(caller: user, key: $0) }, fingerprint: fingerprint))
    }

    func holdBest(_ quantity: Int, section: String = "A", user: String = "u1") throws -> (Int, [String: Any]) {
        try call(scripts.hold(.bestAvailable(section: section, quantity: quantity), event: event, booking: BookingID.random(), user: user))
    }

    func pay(_ booking: String, user: String = "u1", graceMs: Int = 60_000) throws -> (Int, [String: Any]) {
        try call(scripts.requestPayment(event: event, booking: booking, owner: user, paymentToken: "tok_visa", graceMilliseconds: graceMs))
    }

    func confirm(_ booking: String) throws -> (Int, [String: Any]) {
        try call(scripts.confirm(event: event, booking: booking, paymentId: "pay_1", confirmationCode: "SL-TEST01"))
    }

    func expire(_ booking: String) throws -> RedisValue {
        try client.run(scripts.expire(event: event, booking: booking, actor: "test"))
    }

    func field(_ key: String, _ name: String) throws -> String? { try client.call("HGET", key, name).string }

    func logTypes() throws -> [String] {
        (try client.call("XRANGE", keys.log, "-", "+").array ?? []).compactMap { entry in
            entry.array?.last?.fields["type"]
        }
    }
}

@Suite struct CreateEventScriptTests {
    @Test func createsSeatMapCountsAndLog() throws {
        let h = try ScriptHarness(rows: 3, seatsPerRow: 10)
        #expect(try h.client.call("HLEN", h.keys.seats).int == 35)
        #expect(try h.client.call("ZCARD", h.keys.free("A")).int == 30)
        #expect(try h.client.call("HGET", h.keys.seats, "A-2-3").string == "1000")
        #expect(try h.field(h.keys.event, "capacity") == "35")
        #expect(try h.logTypes() == ["event.created"])
        let (status, body) = try h.call(h.scripts.getEvent(h.event))
        #expect(status == 200 && body["available"] as? Int == 35 && body["held"] as? Int == 0)
    }

    @Test func refusesDuplicateAndReplaysIdempotently() throws {
        let h = try ScriptHarness()
        let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"\(h.event)","name":"Again","venue":"V","startsAt":"2027-01-01T00:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":1,"priceCents":1}]}
        """.utf8))
        let (status, body) = try h.call(h.scripts.createEvent(spec))
        #expect(status == 409 && body["error"] as? String == "event_exists")
        #expect(try h.field(h.keys.event, "name") == "Lua")
    }

    @Test func largeEventsAreWrittenInBatches() throws {
        let redis = try TestRedis.shared()
        let client = try redis.client()
        let id = TestServer.uniqueEventId("big")
        let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"\(id)","name":"Big","venue":"V","startsAt":"2027-01-01T00:00:00Z","sections":[{"id":"A","rows":100,"seatsPerRow":500,"priceCents":100}]}
        """.utf8))
        #expect(try client.run(redis.scripts.createEvent(spec)).array?.first?.int == 201)
        #expect(try client.call("HLEN", EventKeys(id).seats).int == 50_000)
        #expect(try client.call("ZCARD", EventKeys(id).free("A")).int == 50_000)
    }

    @Test func missingEventIs404() throws {
        let h = try ScriptHarness()
        let (status, body) = try h.call(h.scripts.getEvent("no-such-event"))
        #expect(status == 404 && body["error"] as? String == "event_not_found")
    }
}

@Suite struct HoldScriptTests {
    @Test func holdsSeatsWithTTLAndWritesEverything() throws {
        let h = try ScriptHarness(holdSeconds: 900)
        let booking = BookingID.random()
        let (status, body) = try h.hold(["A-1-1", "A-1-2"], booking: booking)
        #expect(status == 201)
        #expect(body["status"] as? String == "held" && body["totalCents"] as? Int == 2000)
        #expect(body["seats"] as? [String] == ["A-1-1", "A-1-2"])
        #expect(try h.client.call("GET", h.keys.hold("A-1-1")).string == booking)
        let ttl = try h.client.call("PTTL", h.keys.hold("A-1-2")).int ?? 0
        #expect(ttl > 890_000 && ttl <= 900_000)
        #expect(try h.client.call("PTTL", h.keys.expiry(booking)).int ?? 0 > 890_000)
        #expect(try h.client.call("ZSCORE", h.keys.expiries, booking).string != nil)
        #expect(try h.client.call("GET", h.keys.user("u1")).string == "2")
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-1") == .null)
        #expect(try h.field(h.keys.event, "held") == "2")
        #expect(try h.logTypes() == ["event.created", "booking.initiated", "seat.reserved"])
    }

    @Test func conflictListsExactlyTheTakenSeatsAndIsAllOrNothing() throws {
        let h = try ScriptHarness()
        #expect(try h.hold(["A-1-2"], user: "first").0 == 201)
        let (status, body) = try h.hold(["A-1-1", "A-1-2"], user: "second")
        #expect(status == 409 && body["error"] as? String == "seats_unavailable")
        #expect(body["seats"] as? [String] == ["A-1-2"])
        // Nothing of the refused hold was written: A-1-1 is still free.
        #expect(try h.client.call("EXISTS", h.keys.hold("A-1-1")).int == 0)
        #expect(try h.client.call("GET", h.keys.user("second")) == .null)
        #expect(try h.hold(["A-1-1"], user: "third").0 == 201)
    }

    @Test func soldSeatsAreUnavailable() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-5"], booking: booking).0 == 201)
        #expect(try h.pay(booking).0 == 202)
        #expect(try h.confirm(booking).0 == 200)
        let (status, body) = try h.hold(["A-1-5"], user: "late")
        #expect(status == 409 && body["seats"] as? [String] == ["A-1-5"])
    }

    @Test func unknownSeatsAndEvents() throws {
        let h = try ScriptHarness()
        let (status, body) = try h.hold(["A-9-1", "A-1-1"])
        #expect(status == 400 && body["error"] as? String == "unknown_seats" && body["seats"] as? [String] == ["A-9-1"])
        let missing = try h.call(h.scripts.hold(.seats([SeatID("A-1-1")!]), event: "nope-" + h.event, booking: "b1", user: "u1"))
        #expect(missing.0 == 404 && missing.1["error"] as? String == "event_not_found")
    }

    @Test func perUserLimitCountsHeldAndBought() throws {
        let h = try ScriptHarness(maxSeats: 3)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], booking: booking).0 == 201)
        #expect(try h.pay(booking).0 == 202)
        #expect(try h.confirm(booking).0 == 200)
        let (status, body) = try h.hold(["A-2-1", "A-2-2"])
        #expect(status == 422 && body["error"] as? String == "limit_exceeded")
        #expect(try h.hold(["A-2-1"]).0 == 201)
        #expect(try h.hold(["A-2-2"]).0 == 422)
    }

    @Test func idempotentReplayAndMismatch() throws {
        let h = try ScriptHarness()
        let first = try h.client.run(h.scripts.hold(.seats([SeatID("A-1-1")!]), event: h.event, booking: "bfirst", user: "u1",
                                                    idempotencyKey: h.keys.idempotency(caller: "u1", key: "k1"), fingerprint: "fp1"))
        let replay = try h.client.run(h.scripts.hold(.seats([SeatID("A-1-1")!]), event: h.event, booking: "bsecond", user: "u1",
                                                     idempotencyKey: h.keys.idempotency(caller: "u1", key: "k1"), fingerprint: "fp1"))
        #expect(first == replay) // same status and body, byte for byte
        #expect(try h.client.call("EXISTS", h.keys.booking("bsecond")).int == 0)
        #expect(try h.client.call("GET", h.keys.user("u1")).string == "1")
        let (status, body) = try h.hold(["A-1-2"], user: "u1", fingerprint: "fp2", idem: "k1")
        #expect(status == 422 && body["error"] as? String == "idempotency_mismatch")
        #expect(try h.client.call("TTL", h.keys.idempotency(caller: "u1", key: "k1")).int ?? 0 > 86_000)
    }

    @Test func closedSalesRefuseHolds() throws {
        let h = try ScriptHarness()
        try h.client.call("HSET", h.keys.event, "status", "closed")
        let (status, body) = try h.hold(["A-1-1"])
        #expect(status == 409 && body["error"] as? String == "sales_closed")
    }
}

@Suite struct BestAvailableScriptTests {
    @Test func picksAdjacentSeatsFrontRowFirst() throws {
        let h = try ScriptHarness(rows: 3, seatsPerRow: 10)
        let (status, body) = try h.holdBest(3)
        #expect(status == 201 && body["seats"] as? [String] == ["A-1-1", "A-1-2", "A-1-3"])
        let next = try h.holdBest(2, user: "u2")
        #expect(next.1["seats"] as? [String] == ["A-1-4", "A-1-5"])
    }

    @Test func skipsGapsToFindARun() throws {
        let h = try ScriptHarness(rows: 2, seatsPerRow: 6)
        // Row 1 keeps free seats 1, 3, 5 only: no run of 2 there.
        #expect(try h.hold(["A-1-2", "A-1-4", "A-1-6"], user: "x").0 == 201)
        let (status, body) = try h.holdBest(2)
        #expect(status == 201 && body["seats"] as? [String] == ["A-2-1", "A-2-2"])
    }

    /// hold_best reads a row's first 4n free seats (12 at least) before the
    /// whole row: a run cut off where that read ends is taken only when the
    /// rest of the row cannot change the choice.
    @Test func aRunCutOffByTheFirstReadIsJudgedOnTheWholeRow() throws {
        let h = try ScriptHarness(rows: 1, seatsPerRow: 40, maxSeats: 20)
        // Free: ten single seats (1, 3, ... 19), then 21-23, then 25-40. The first
        // twelve free seats end on 21-22: a pair there might strand 23, and does.
        let taken = stride(from: 2, through: 20, by: 2).map { "A-1-\($0)" } + ["A-1-24"]
        #expect(try h.hold(taken, user: "x").0 == 201)
        let (status, body) = try h.holdBest(2)
        #expect(status == 201 && body["seats"] as? [String] == ["A-1-25", "A-1-26"], "\(body)")
        // Now 21-23 and 27-40: a single seat is the front-most free one; a trio fills 21-23 exactly.
        #expect(try h.holdBest(1, user: "u2").1["seats"] as? [String] == ["A-1-1"])
        #expect(try h.holdBest(3, user: "u3").1["seats"] as? [String] == ["A-1-21", "A-1-22", "A-1-23"])
        // The first read (3, 5, ... 19, 27, 28, 29) cannot tell whether 27-29 goes on; the whole row says it does.
        #expect(try h.holdBest(3, user: "u4").1["seats"] as? [String] == ["A-1-27", "A-1-28", "A-1-29"])
    }

    @Test func fallsBackToSeparateSeatsWhenNoRunExists() throws {
        let h = try ScriptHarness(rows: 1, seatsPerRow: 6, maxSeats: 10)
        #expect(try h.hold(["A-1-2", "A-1-4", "A-1-6"], user: "x").0 == 201)
        let (status, body) = try h.holdBest(3)
        #expect(status == 201 && body["seats"] as? [String] == ["A-1-1", "A-1-3", "A-1-5"])
    }

    @Test func soldOutAndUnknownSection() throws {
        let h = try ScriptHarness()
        #expect(try h.holdBest(3, section: "B", user: "a").0 == 201)
        let (status, body) = try h.holdBest(3, section: "B", user: "b")
        #expect(status == 409 && body["error"] as? String == "sold_out")
        let unknown = try h.holdBest(1, section: "Z")
        #expect(unknown.0 == 404 && unknown.1["error"] as? String == "section_not_found")
        let prefix = try h.holdBest(1, section: "")
        #expect(prefix.0 == 404)
    }

    @Test func limitAppliesToBestAvailable() throws {
        let h = try ScriptHarness(maxSeats: 2)
        let (status, _) = try h.holdBest(3)
        #expect(status == 422)
    }
}

@Suite struct PaymentScriptTests {
    @Test func payExtendsTheHoldAndLogsTheRequest() throws {
        let h = try ScriptHarness(holdSeconds: 5)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        let (status, body) = try h.pay(booking, graceMs: 60_000)
        #expect(status == 202 && body["status"] as? String == "payment_pending")
        #expect(try h.client.call("PTTL", h.keys.hold("A-1-1")).int ?? 0 > 50_000)
        #expect(try h.client.call("PTTL", h.keys.expiry(booking)).int ?? 0 > 50_000)
        #expect(try h.logTypes().last == "payment.requested")
        let again = try h.pay(booking)
        #expect(again.0 == 409 && again.1["error"] as? String == "invalid_state")
    }

    @Test func anotherUsersBookingIsNotFound() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], user: "owner", booking: booking).0 == 201)
        let (status, _) = try h.pay(booking, user: "intruder")
        #expect(status == 404)
        #expect(try h.field(h.keys.booking(booking), "status") == "held")
        #expect(try h.call(h.scripts.getBooking(event: h.event, booking: booking, owner: "intruder")).0 == 404)
        #expect(try h.call(h.scripts.getBooking(event: h.event, booking: booking, owner: "owner")).0 == 200)
    }

    @Test func payingAnExpiredHoldIsRefused() throws {
        let h = try ScriptHarness(holdSeconds: 1)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        Thread.sleep(forTimeInterval: 1.1)
        let (status, body) = try h.pay(booking)
        #expect(status == 409 && body["error"] as? String == "hold_expired")
    }

    @Test func confirmSellsTheSeatsOnce() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], booking: booking).0 == 201)
        #expect(try h.confirm(booking).0 == 409) // not payment_pending yet
        #expect(try h.pay(booking).0 == 202)
        let (status, body) = try h.confirm(booking)
        #expect(status == 200 && body["status"] as? String == "confirmed" && body["confirmationCode"] as? String == "SL-TEST01")
        #expect(try h.client.call("HGET", h.keys.sold, "A-1-1").string == booking)
        #expect(try h.client.call("EXISTS", h.keys.hold("A-1-1"), h.keys.expiry(booking)).int == 0)
        #expect(try h.field(h.keys.event, "sold") == "2" && h.field(h.keys.event, "held") == "0")
        #expect(try h.field(h.keys.event, "revenueCents") == "2000")
        // A second confirm changes nothing and logs nothing.
        let logLength = try h.client.call("XLEN", h.keys.log).int
        #expect(try h.confirm(booking).0 == 200)
        #expect(try h.client.call("XLEN", h.keys.log).int == logLength)
        #expect(try h.logTypes().suffix(2) == ["payment.completed", "booking.confirmed"])
    }

    @Test func confirmAfterTheHoldsExpiredIsRefused() throws {
        let h = try ScriptHarness(holdSeconds: 1)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        #expect(try h.pay(booking, graceMs: 200).0 == 202)
        Thread.sleep(forTimeInterval: 1.2)
        let (status, body) = try h.confirm(booking)
        #expect(status == 409 && body["error"] as? String == "hold_expired")
        #expect(try h.client.call("HEXISTS", h.keys.sold, "A-1-1").int == 0)
        #expect(try h.field(h.keys.booking(booking), "status") == "payment_pending")
    }

    @Test func confirmRefusedWhenAnotherBuyerTookALapsedSeat() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        #expect(try h.pay(booking).0 == 202)
        // The hold key vanished (as if its TTL lapsed): nobody may take the seat until
        // the booking is expired (hold.lua takes only seats in the free set) ...
        try h.client.call("DEL", h.keys.hold("A-1-1"))
        #expect(try h.hold(["A-1-1"], user: "early").0 == 409)
        // ... but should it come back to the free set meanwhile (an operator, an older
        // version), someone else takes it, and the late payment must not sell it.
        try h.client.call("ZADD", h.keys.free("A"), "10001", "A-1-1")
        #expect(try h.hold(["A-1-1"], user: "other").0 == 201)
        #expect(try h.confirm(booking).0 == 409)
        #expect(try h.client.call("HEXISTS", h.keys.sold, "A-1-1").int == 0)
    }
}

@Suite struct ReleaseAndExpireScriptTests {
    @Test func releaseFreesSeatsAndCounts() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], booking: booking).0 == 201)
        let (status, body) = try h.call(h.scripts.release(event: h.event, booking: booking, owner: "u1", actor: "buyer"))
        #expect(status == 200 && body["status"] as? String == "released")
        #expect(try h.client.call("EXISTS", h.keys.hold("A-1-1")).int == 0)
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-1") != .null)
        #expect(try h.client.call("GET", h.keys.user("u1")).string == "0")
        #expect(try h.field(h.keys.event, "held") == "0")
        #expect(try h.client.call("ZSCORE", h.keys.expiries, booking) == .null)
        let again = try h.call(h.scripts.release(event: h.event, booking: booking, owner: "u1", actor: "buyer"))
        #expect(again.0 == 409 && again.1["error"] as? String == "invalid_state")
        #expect(try h.call(h.scripts.release(event: h.event, booking: booking, owner: "other", actor: "buyer")).0 == 404)
    }

    @Test func releasingAConfirmedBookingStartsARefund() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        #expect(try h.pay(booking).0 == 202)
        #expect(try h.confirm(booking).0 == 200)
        let (status, body) = try h.call(h.scripts.release(event: h.event, booking: booking, owner: "u1", actor: "buyer"))
        #expect(status == 202 && body["status"] as? String == "refund_pending")
        #expect(try h.client.call("HEXISTS", h.keys.sold, "A-1-1").int == 0)
        #expect(try h.field(h.keys.event, "sold") == "0" && h.field(h.keys.event, "revenueCents") == "0")
        #expect(try h.logTypes().suffix(3) == ["booking.cancelled", "seat.released", "payment.refund_requested"])
    }

    @Test func expireIsIdempotentAndWaitsForTheDeadline() throws {
        let h = try ScriptHarness(holdSeconds: 1)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], booking: booking).0 == 201)
        #expect(try h.expire(booking) == .array([.integer(0), .bulk("not_due")]))
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try h.expire(booking) == .array([.integer(1), .bulk("expired")]))
        #expect(try h.field(h.keys.booking(booking), "status") == "expired")
        #expect(try h.client.call("ZCARD", h.keys.free("A")).int == 30)
        #expect(try h.client.call("GET", h.keys.user("u1")).string == "0")
        let logLength = try h.client.call("XLEN", h.keys.log).int
        #expect(try h.expire(booking) == .array([.integer(0), .bulk("expired")]))
        #expect(try h.client.call("XLEN", h.keys.log).int == logLength)
        #expect(try h.expire("no-such-booking") == .array([.integer(0), .bulk("missing")]))
    }

    @Test func expireNeverFreesASeatHeldByAnotherBooking() throws {
        let h = try ScriptHarness(holdSeconds: 1)
        let old = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], booking: old).0 == 201)
        Thread.sleep(forTimeInterval: 1.1)
        // The hold keys lapsed by TTL. Before the expire script runs nobody may take the
        // seats (not in the free set: they come back through expire.lua, to the waitlist first).
        #expect(try h.hold(["A-1-1"], user: "u1", booking: BookingID.random()).0 == 409)
        // Should A-1-1 be put back by hand meanwhile and taken, expire must leave it to its new owner.
        try h.client.call("ZADD", h.keys.free("A"), "10001", "A-1-1")
        let newer = BookingID.random()
        #expect(try h.hold(["A-1-1"], user: "u2", booking: newer).0 == 201)
        #expect(try h.expire(old).array?.first?.int == 1)
        #expect(try h.client.call("GET", h.keys.hold("A-1-1")).string == newer)
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-1") == .null)
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-2") != .null)
    }

    @Test func expiredBookingCannotBePaidOrReleased() throws {
        let h = try ScriptHarness(holdSeconds: 1)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        Thread.sleep(forTimeInterval: 1.1)
        _ = try h.expire(booking)
        #expect(try h.pay(booking).1["error"] as? String == "hold_expired")
        #expect(try h.call(h.scripts.release(event: h.event, booking: booking, owner: "u1", actor: "buyer")).0 == 409)
        #expect(try h.confirm(booking).1["error"] as? String == "hold_expired")
    }
}

@Suite struct ScriptErrorReturnTests {
    @Test func missingBookingsAre404Everywhere() throws {
        let h = try ScriptHarness()
        #expect(try h.call(h.scripts.getBooking(event: h.event, booking: "nope", owner: "")).0 == 404)
        #expect(try h.confirm("nope").0 == 404)
        #expect(try h.pay("nope").0 == 404)
        #expect(try h.call(h.scripts.release(event: h.event, booking: "nope", owner: "", actor: "operator")).0 == 404)
    }

    @Test func paymentRequestsReplayByIdempotencyKey() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        let idem = h.keys.idempotency(caller: "u1", key: "pay-1")
        let call = h.scripts.requestPayment(event: h.event, booking: booking, owner: "u1", paymentToken: "tok_visa",
                                            graceMilliseconds: 60_000, idempotencyKey: idem, fingerprint: "fp-pay")
        let first = try h.client.run(call)
        let replay = try h.client.run(call)
        #expect(first.array?.first?.int == 202 && first == replay)
        let requested = try h.logTypes().filter { $0 == "payment.requested" }
        #expect(requested.count == 1)
    }

    @Test func releaseByAnOperatorIsLogged() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1"], booking: booking).0 == 201)
        #expect(try h.call(h.scripts.release(event: h.event, booking: booking, owner: "", actor: "operator")).0 == 200)
        let last = try h.client.call("XREVRANGE", h.keys.log, "+", "-", "COUNT", "1").array?.first?.array?.last?.fields
        #expect(last?["type"] == "seat.released" && last?["actor"] == "operator")
    }
}
