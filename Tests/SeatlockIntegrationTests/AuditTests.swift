// The audit on a real Redis: clean after a small sale, and each check
// catches its invariant's violation when one is planted by hand.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
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

/// A fresh event whose log goes on with `entries` as written by hand (as
/// log_event in lua/includes/common.lua writes them), and one named check
/// of its audit. The entries name bookings Redis does not have, so only
/// checks that read the log's entries alone are meaningful here.
private func auditOfCraftedLog(_ name: String, queued: Bool, _ entries: [(String, [String: String])]) throws -> AuditCheck {
    let h = try ScriptHarness(maxSeats: 4)
    if queued { try h.client.call("HSET", h.keys.event, "queue", "1767225600000 0 300") }
    for (type, fields) in entries {
        try h.client.checked(["XADD", h.keys.log, "*", "type", type, "eventId", h.event, "at", "0"] + fields.flatMap { [$0.key, $0.value] })
    }
    let report = try audit(h)
    return try #require(report.checks.first(where: { $0.name == name }))
}

@Suite struct AuditTests {
    @Test func aCleanSalePassesEveryCheck() throws {
        let (h, _, _) = try smallSale()
        let report = try audit(h)
        #expect(report.passed, "\(report.text)")
        #expect(report.checks.count == 14)
        #expect(report.checks.contains(where: { $0.name.hasPrefix("queued sale") && $0.detail == "the event sells directly" }))
        #expect(report.json.contains("\"passed\":true"))
    }

    @Test func aChargeKeptForABookingThatEndedIsCaught() throws {
        let (h, _, confirmed) = try smallSale()
        var byStatus: [String: [String]] = [:]
        for key in try h.client.scanKeys(h.keys.bookingPrefix + "*") {
            let fields = try h.client.call("HGETALL", key).fields
            byStatus[fields["status"] ?? "", default: []].append(fields["id"] ?? "")
        }
        let refunded = try #require(byStatus["refunded"]?.first), released = try #require(byStatus["released"]?.first)
        defer { _ = try? h.client.send(["HDEL", GlobalKeys.providerCharges, confirmed, refunded, released]) }
        defer { _ = try? h.client.send(["HDEL", GlobalKeys.providerRefunds, refunded]) }
        // The provider's ledger as a sale leaves it: the confirmed booking charged, the refunded one charged and refunded.
        try h.client.call("HSET", GlobalKeys.providerCharges, confirmed, "pay_1", refunded, "pay_2")
        try h.client.call("HSET", GlobalKeys.providerRefunds, refunded, "re_2")
        #expect(try audit(h).passed)
        // Money taken for a booking that was released, and kept.
        try h.client.call("HSET", GlobalKeys.providerCharges, released, "pay_3")
        let report = try audit(h)
        #expect(failed(report) == ["charges match bookings"])
        #expect(report.text.contains(released))
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
        try h.client.call("HSET", h.keys.booking(held), "status", "payment_pending") // changed without its log entry (nor its list)
        #expect(failed(try audit(h)) == ["the log replays to the same state", "booking lists == bookings"])
    }

    @Test func aBookingMissingFromItsListIsCaught() throws {
        let (h, held, _) = try smallSale()
        let created = try h.client.call("HGET", h.keys.booking(held), "createdAt").string ?? ""
        try h.client.call("ZREM", h.keys.bookings(status: "held"), GlobalKeys.listEntry(milliseconds: Int64(created) ?? 0, id: held))
        #expect(failed(try audit(h)) == ["booking lists == bookings"])
    }

    @Test func reindexListsBookingsMadeBeforeTheListsAndAddsNothingTheSecondTime() throws {
        let (h, _, _) = try smallSale()
        let keys = h.keys
        // As an event sold by a version without the lists: none of them exists.
        let lists = try h.client.scanKeys(keys.bookings + "*") + [keys.bookings]
        for list in Set(lists) { try h.client.call("DEL", list) }
        #expect(failed(try audit(h)) == ["booking lists == bookings"])
        let first = try BookingListRepair.run(eventId: h.event, client: h.client, scripts: h.scripts, batch: 2)
        #expect(first.bookings >= 4 && first.added == first.bookings * 3) // each in three lists
        #expect(try audit(h).passed)
        #expect(try BookingListRepair.run(eventId: h.event, client: h.client, scripts: h.scripts).added == 0)
    }

    @Test func aCancelledEventWithASaleLeftIsCaught() throws {
        let (h, _, _) = try smallSale()
        try h.client.call("HSET", h.keys.event, "status", "cancelled", "cancelCompletedAt", "1")
        #expect(failed(try audit(h)) == ["a cancelled event holds and sells nothing"])
    }

    @Test func aQueuedHoldBeforeTheQueueReachedItIsCaught() throws {
        let name = "queued sale: every booking has an admission, admitted in position order"
        let early = try auditOfCraftedLog(name, queued: true, [
            ("queue.advanced", ["servingPosition": "4", "joined": "9", "admitted": "4"]),
            ("booking.initiated", ["bookingId": "bq1", "userId": "u5", "seats": "A-1-1", "amountCents": "1000", "position": "5"]),
            ("queue.advanced", ["servingPosition": "6", "joined": "9", "admitted": "2"]),
        ])
        #expect(!early.passed && early.violations.count == 1, "\(early)")
        let admitted = try auditOfCraftedLog(name, queued: true, [
            ("queue.advanced", ["servingPosition": "5", "joined": "9", "admitted": "5"]),
            ("booking.initiated", ["bookingId": "bq1", "userId": "u5", "seats": "A-1-1", "amountCents": "1000", "position": "5"]),
            ("booking.initiated", ["bookingId": "w1", "userId": "u9", "seats": "A-1-2", "amountCents": "1000", "waitlist": "1"]),
        ])
        #expect(admitted.passed, "\(admitted)")
        #expect(admitted.detail == "1 bookings through the queue, 1 waitlist offers, highest serving position 5")
        let direct = try auditOfCraftedLog(name, queued: false, [
            ("booking.initiated", ["bookingId": "b1", "userId": "u1", "seats": "A-1-1", "amountCents": "1000"]),
        ])
        #expect(direct.passed && direct.detail == "the event sells directly", "\(direct)")
    }

    @Test func returnedSeatsThatPassTheWaitlistOverAreCaught() throws {
        let name = "returned seats went to the waitlist first"
        let held: [(String, [String: String])] = [
            ("booking.initiated", ["bookingId": "b1", "userId": "u1", "seats": "A-1-1,A-1-2", "amountCents": "2000"]),
            ("waitlist.joined", ["userId": "u2", "position": "1", "quantity": "2", "section": ""]),
            ("waitlist.joined", ["userId": "u3", "position": "2", "quantity": "2", "section": "A"]),
            ("booking.released", ["bookingId": "b1", "userId": "u1", "seats": "A-1-1,A-1-2", "actor": "buyer"]),
            ("seat.released", ["bookingId": "b1", "seats": "A-1-1,A-1-2", "reason": "released", "actor": "buyer"]),
        ]
        func offer(_ user: String, _ position: String) -> [(String, [String: String])] {
            [("booking.initiated", ["bookingId": "w" + position, "userId": user, "seats": "A-1-1,A-1-2", "amountCents": "2000", "waitlist": position]),
             ("seat.reserved", ["bookingId": "w" + position, "userId": user, "seats": "A-1-1,A-1-2", "expiresAt": "0"]),
             ("waitlist.offered", ["bookingId": "w" + position, "userId": user, "seats": "A-1-1,A-1-2", "position": position, "quantity": "2"])]
        }
        let inOrder = try auditOfCraftedLog(name, queued: false, held + offer("u2", "1"))
        #expect(inOrder.passed, "\(inOrder)")
        #expect(inOrder.detail.hasPrefix("1 returns, 1 offers made, 0 offers expired, 1 entries still waiting"), "\(inOrder)")
        let outOfOrder = try auditOfCraftedLog(name, queued: false, held + offer("u3", "2"))
        #expect(!outOfOrder.passed && outOfOrder.violations.count == 1, "\(outOfOrder)")
        let soldAround = try auditOfCraftedLog(name, queued: false, held + [
            ("booking.initiated", ["bookingId": "b2", "userId": "u4", "seats": "A-1-2", "amountCents": "1000"]),
        ])
        #expect(!soldAround.passed && soldAround.violations.count == 1, "\(soldAround)")
    }

    @Test func missingEventsAreAnError() throws {
        let client = try TestRedis.shared().client()
        #expect(throws: AuditError.self) { try EventAudit(eventId: "no-such-event-x").run(client) }
    }
}
