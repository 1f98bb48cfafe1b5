// The audit on a real Redis: clean after a small sale, and each check
// catches its invariant's violation when one is planted by hand.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Testing

/// A small finished sale: confirmed, released, expired, refunded and live bookings.
private func smallSale() throws -> (ScriptHarness, held: String, confirmed: String) {
    let h = try ScriptHarness(rows: 3, seatsPerRow: 10, holdSeconds: 1)
    let confirmed = BookingID.random(), released = BookingID.random(), expired = BookingID.random(), refunded = BookingID.random()
    #expect(try h.hold(["A-1-1", "A-1-2"], user: "alice", booking: confirmed).0 == 201)
    #expect(try h.pay(confirmed, user: "alice").0 == 202)
    #expect(try h.confirm(confirmed).0 == 200)
    #expect(try h.hold(["A-2-1"], user: "bob", booking: released).0 == 201)
    #expect(try h.call(h.scripts.release(event: h.event, booking: released, owner: "bob", actor: "buyer")).0 == 200)
    #expect(try h.hold(["A-2-2"], user: "carol", booking: expired).0 == 201)
    #expect(try h.hold(["A-3-1"], user: "dave", booking: refunded).0 == 201)
    #expect(try h.pay(refunded, user: "dave").0 == 202)
    #expect(try h.confirm(refunded).0 == 200)
    #expect(try h.call(h.scripts.release(event: h.event, booking: refunded, owner: "dave", actor: "buyer")).0 == 202)
    _ = try h.client.run(h.scripts.refund(event: h.event, booking: refunded, paymentId: "p", refundId: "r", reason: "buyer_request"))
    Thread.sleep(forTimeInterval: 1.1)
    #expect(try h.expire(expired).array?.first?.int == 1)
    try h.client.call("HSET", h.keys.event, "holdSeconds", "900") // the live hold below must not be overdue
    let held = BookingID.random()
    #expect(try h.hold(["B-1-1"], user: "erin", booking: held).0 == 201)
    return (h, held, confirmed)
}

private func audit(_ h: ScriptHarness) throws -> AuditReport {
    try EventAudit(eventId: h.event).run(h.client)
}

private func failed(_ report: AuditReport) -> [String] {
    report.checks.filter { !$0.passed }.map(\.name)
}

@Suite struct AuditTests {
    @Test func aCleanSalePassesEveryCheck() throws {
        let (h, _, _) = try smallSale()
        let report = try audit(h)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.count == 9)
        #expect(report.json.contains("\"passed\":true"))
    }

    @Test func aSeatInTwoConfirmedBookingsIsCaught() throws {
        let (h, _, confirmed) = try smallSale()
        let copy = try h.client.call("HGETALL", h.keys.booking(confirmed)).fields
        try h.client.checked(["HSET", h.keys.booking("twin")] + copy.merging(["id": "twin"]) { $1 }.flatMap { [$0.key, $0.value] })
        #expect(failed(try audit(h)).contains("no seat sold twice"))
    }

    @Test func soldCounterBeyondTheSoldHashIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("HINCRBY", h.keys.event, "sold", "1")
        #expect(failed(try audit(h)) == ["sold <= capacity"])
    }

    @Test func aSoldSeatWithoutAConfirmedBookingIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("HSET", h.keys.sold, "A-3-5", "ghost")
        #expect(failed(try audit(h)).contains("sold seats == seats of confirmed bookings"))
    }

    @Test func revenueThatDoesNotAddUpIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("HINCRBY", h.keys.event, "revenueCents", "1")
        #expect(failed(try audit(h)) == ["revenue == prices of confirmed bookings"])
    }

    @Test func aHoldWithoutALiveBookingIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("SET", h.keys.hold("A-3-9"), "ghost", "PX", "60000")
        #expect(failed(try audit(h)).contains("every live hold belongs to a live booking"))
    }

    @Test func aHoldPastItsDeadlineIsCaught() throws {
        let (h, held, _) = try smallSale()
        let past = Int(Date().timeIntervalSince1970 * 1000) - 60_000
        try h.client.call("HSET", h.keys.booking(held), "expiresAt", String(past))
        #expect(failed(try audit(h)) == ["every hold ends by its deadline + 5000 ms"])
    }

    @Test func aWrongUserCountIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("INCR", h.keys.user("alice"))
        #expect(failed(try audit(h)) == ["user counts == seats held + bought"])
    }

    @Test func aHeldSeatInTheFreeSetIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("ZADD", h.keys.free("B"), "10001", "B-1-1")
        #expect(failed(try audit(h)) == ["free seats are neither held nor sold"])
    }

    @Test func aStateChangeMissingFromTheLogIsCaught() throws {
        let (h, held, _) = try smallSale()
        try h.client.call("HSET", h.keys.booking(held), "status", "payment_pending") // changed without its log entry
        #expect(failed(try audit(h)) == ["the log replays to the same state"])
    }

    @Test func missingEventsAreAnError() throws {
        let client = try TestRedis.shared().client()
        #expect(throws: AuditError.self) { try EventAudit(eventId: "no-such-event-x").run(client) }
    }
}
