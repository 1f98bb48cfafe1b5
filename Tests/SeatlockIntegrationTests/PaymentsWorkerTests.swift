// The payments worker on a real Redis, through its real consumer group.
// Each test has its own redis-server: the worker consumes every event's log.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockRedis
import SeatlockScripts
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
import Testing

private struct PaymentsHarness {
    let redis: TestRedis
    let client: RedisClient
    let event: String
    var keys: EventKeys { EventKeys(event) }
    var scripts: BookingScripts { redis.scripts }

    init(holdSeconds: Int = 900) throws {
        redis = try TestRedis()
        client = try redis.client()
        event = TestServer.uniqueEventId("pay")
        let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"\(event)","name":"Pay","venue":"V","startsAt":"2027-01-01T00:00:00Z","holdSeconds":\(holdSeconds),"maxSeatsPerUser":4,
         "sections":[{"id":"A","rows":10,"seatsPerRow":10,"priceCents":2500}]}
        """.utf8))
        try client.call("SADD", GlobalKeys.events, event)
        #expect(try client.run(scripts.createEvent(spec)).array?.first?.int == 201)
    }

    func options(claimIdle: Duration = .seconds(30), crashAfterCharge: Bool = false) -> PaymentsOptions {
        var options = PaymentsOptions(consumer: "test-\(UUID().uuidString.prefix(8))")
        options.firstBackoff = .milliseconds(50)
        options.consumer.claimIdle = claimIdle
        options.consumer.claimEvery = .milliseconds(100)
        options.consumer.discoverEvery = .milliseconds(100)
        options.consumer.maxDeliveries = 3
        options.crashAfterCharge = crashAfterCharge
        return options
    }

    func worker(_ options: PaymentsOptions) throws -> PaymentsService {
        let service = PaymentsService(redis: redis.url, scripts: scripts, options: options)
        try service.start()
        return service
    }

    /// Holds `seat` and asks to pay with `token`; returns the booking id.
    func holdAndPay(_ seat: String, user: String, token: String, graceMs: Int = 60_000) throws -> String {
        let booking = BookingID.random()
        #expect(try client.run(scripts.hold(.seats([SeatID(seat)!]), event: event, booking: booking, user: user)).array?.first?.int == 201)
        let paid = try client.run(scripts.requestPayment(event: event, booking: booking, owner: user, paymentToken: token, graceMilliseconds: graceMs))
        #expect(paid.array?.first?.int == 202)
        return booking
    }

    func waitForStatus(_ booking: String, in statuses: Set<String>, timeout: TimeInterval = 10) throws -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let status = try client.call("HGET", keys.booking(booking), "status").string, statuses.contains(status) { return status }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return try client.call("HGET", keys.booking(booking), "status").string
    }

    /// The booking's log entries' types, in order (payment and booking topics).
    func history(_ booking: String) throws -> [String] {
        (try client.call("XRANGE", keys.log, "-", "+").array ?? []).compactMap { entry -> String? in
            let fields = entry.array?.last?.fields ?? [:]
            return fields["bookingId"] == booking ? fields["type"] : nil
        }
    }

    func charges(_ booking: String) throws -> String? {
        try client.call("HGET", GlobalKeys.providerCharges, booking).string
    }
}

@Suite(.serialized) struct PaymentsWorkerTests {
    @Test func eachTestTokenEndsInItsFinalStateWithItsEventsOnce() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        let service = try h.worker(h.options())
        defer { service.stop() }
        let visa = try h.holdAndPay("A-1-1", user: "v", token: "tok_visa")
        let declined = try h.holdAndPay("A-1-2", user: "d", token: "tok_chargeDeclined")
        let flaky = try h.holdAndPay("A-1-3", user: "f", token: "tok_flaky")
        let slow = try h.holdAndPay("A-1-4", user: "s", token: "tok_slow")
        let started = Date()

        #expect(try h.waitForStatus(visa, in: ["confirmed"]) == "confirmed")
        #expect(try h.history(visa) == ["booking.initiated", "seat.reserved", "payment.requested", "payment.completed", "booking.confirmed"])
        let code = try h.client.call("HGET", h.keys.booking(visa), "confirmationCode").string ?? ""
        #expect(code.hasPrefix("SL-") && code.count == 11)
        #expect(try h.client.call("HGET", h.keys.sold, "A-1-1").string == visa)

        #expect(try h.waitForStatus(declined, in: ["cancelled"]) == "cancelled")
        #expect(try h.history(declined) == ["booking.initiated", "seat.reserved", "payment.requested", "payment.failed", "booking.cancelled", "seat.released"])
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-2") != .null)
        #expect(try h.client.call("GET", h.keys.user("d")).string == "0")

        #expect(try h.waitForStatus(flaky, in: ["confirmed"]) == "confirmed")
        #expect(try h.history(flaky) == ["booking.initiated", "seat.reserved", "payment.requested", "payment.failed", "payment.failed",
                                         "payment.completed", "booking.confirmed"])

        #expect(try h.waitForStatus(slow, in: ["confirmed"]) == "confirmed")
        #expect(Date().timeIntervalSince(started) >= 1.9)
        #expect(try h.client.call("HGET", h.keys.event, "sold").int == 3)
        #expect(try h.client.call("HGET", h.keys.event, "revenueCents").int == 7500)
        #expect(try h.client.call("HLEN", GlobalKeys.providerCharges).int == 3)
    }

    @Test func aWorkerKilledAfterTheChargeIsReplacedAndTheBookingIsChargedAndConfirmedOnce() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        let first = try h.worker(h.options(claimIdle: .milliseconds(500), crashAfterCharge: true))
        let booking = try h.holdAndPay("A-2-1", user: "k", token: "tok_visa")
        let deadline = Date().addingTimeInterval(5)
        while try h.charges(booking) == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try h.charges(booking) != nil)
        first.stop(timeout: .seconds(1)) // "killed": it never confirmed nor acked
        #expect(try h.client.call("HGET", h.keys.booking(booking), "status").string == "payment_pending")

        let second = try h.worker(h.options(claimIdle: .milliseconds(500)))
        defer { second.stop() }
        #expect(try h.waitForStatus(booking, in: ["confirmed"]) == "confirmed")
        #expect(try h.history(booking).filter { $0 == "booking.confirmed" }.count == 1)
        #expect(try h.client.call("HLEN", GlobalKeys.providerCharges).int == 1)
        #expect(try h.client.call("HGET", GlobalKeys.providerAttempts, booking).int == 2) // asked twice, charged once
        let pending = try h.client.call("XPENDING", h.keys.log, "payments").array?.first?.int
        #expect(pending == 0)
    }

    @Test func aPoisonEntryIsDeadLetteredAndTheWorkerKeepsGoing() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        try h.client.call("XADD", h.keys.log, "*", "type", "payment.requested", "eventId", h.event, "bookingId", "{bad}", "amountCents", "lots")
        let service = try h.worker(h.options(claimIdle: .milliseconds(200)))
        defer { service.stop() }
        let dlq = GlobalKeys.deadLetters(group: "payments")
        let deadline = Date().addingTimeInterval(10)
        while try h.client.call("XLEN", dlq).int == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        let letters = try h.client.call("XRANGE", dlq, "-", "+").array ?? []
        #expect(letters.count == 1)
        let fields = letters.first?.array?.last?.fields ?? [:]
        #expect(fields["stream"] == h.keys.log && fields["field.bookingId"] == "{bad}" && fields["reason"]?.contains("delivered") == true)
        let booking = try h.holdAndPay("A-3-1", user: "after", token: "tok_visa")
        #expect(try h.waitForStatus(booking, in: ["confirmed"]) == "confirmed")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try h.client.call("XLEN", dlq).int == 1)
    }

    @Test func entriesOfOtherTopicsAreAckedAndNeverDeadLettered() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        let service = try h.worker(h.options())
        defer { service.stop() }
        let booking = try h.holdAndPay("A-6-1", user: "topics", token: "tok_visa")
        #expect(try h.waitForStatus(booking, in: ["confirmed"]) == "confirmed")
        // Not a payments topic, and not parseable as one: acked, never dead-lettered.
        try h.client.call("XADD", h.keys.log, "*", "type", "seat.reserved", "bookingId", "{bad}")
        let last = try h.client.call("XADD", h.keys.log, "*", "type", "booking.released", "eventId", h.event).string
        let deadline = Date().addingTimeInterval(10)
        func group() throws -> [String: String] {
            let groups = try h.client.call("XINFO", "GROUPS", h.keys.log).array ?? []
            return groups.map(\.fields).first { $0["name"] == "payments" } ?? [:]
        }
        while try group()["last-delivered-id"] != last, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        while try group()["pending"] != "0", Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try group()["last-delivered-id"] == last)
        #expect(try group()["pending"] == "0")
        #expect(try h.client.call("XLEN", GlobalKeys.deadLetters(group: "payments")).int == 0)
    }

    @Test func aPaymentThatSucceedsAfterTheHoldExpiredIsRefunded() throws {
        let h = try PaymentsHarness(holdSeconds: 1)
        defer { h.redis.server.stop() }
        let service = try h.worker(h.options())
        defer { service.stop() }
        let booking = try h.holdAndPay("A-4-1", user: "late", token: "tok_slow", graceMs: 100) // deadline ~1 s, charge takes 2 s
        #expect(try h.waitForStatus(booking, in: ["refunded", "confirmed"]) == "refunded")
        #expect(try h.client.call("HEXISTS", h.keys.sold, "A-4-1").int == 0)
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-4-1") != .null)
        let history = try h.history(booking)
        #expect(history.contains("booking.expired") && history.last == "payment.refunded" && !history.contains("booking.confirmed"))
        #expect(try h.client.call("HGET", GlobalKeys.providerRefunds, booking).string != nil)
        // The booking names the charge the provider refunded, as the provider named it.
        #expect(try h.client.call("HGET", h.keys.booking(booking), "paymentId").string == h.charges(booking))
    }

    @Test func deletingAConfirmedBookingRefundsIt() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        let service = try h.worker(h.options())
        defer { service.stop() }
        let booking = try h.holdAndPay("A-5-1", user: "r", token: "tok_visa")
        #expect(try h.waitForStatus(booking, in: ["confirmed"]) == "confirmed")
        let released = try h.client.run(h.scripts.release(event: h.event, booking: booking, owner: "r", actor: "buyer"))
        #expect(released.array?.first?.int == 202)
        #expect(try h.waitForStatus(booking, in: ["refunded"]) == "refunded")
        #expect(try h.history(booking).suffix(2) == ["payment.refund_requested", "payment.refunded"])
        #expect(try h.client.call("HGET", h.keys.event, "sold").int == 0)
    }

    @Test func cancellingAnEventEndsEveryBookingAndRefundsEachSaleOnce() throws {
        let h = try PaymentsHarness()
        defer { h.redis.server.stop() }
        var options = h.options()
        options.cancelBatch = 2 // several batches for a handful of bookings
        let service = try h.worker(options)
        defer { service.stop() }
        let sold = try (1...5).map { try h.holdAndPay("A-7-\($0)", user: "sold\($0)", token: "tok_visa") }
        for booking in sold { #expect(try h.waitForStatus(booking, in: ["confirmed"]) == "confirmed") }
        let held = BookingID.random()
        #expect(try h.client.run(h.scripts.hold(.seats([SeatID("A-8-1")!]), event: h.event, booking: held, user: "held")).array?.first?.int == 201)
        let paying = try h.holdAndPay("A-8-2", user: "paying", token: "tok_slow") // its charge is under way during the cancel

        #expect(try h.client.run(h.scripts.cancelEvent(event: h.event, actor: "admin")).array?.first?.int == 202)
        for booking in sold { #expect(try h.waitForStatus(booking, in: ["refunded"]) == "refunded") }
        #expect(try h.waitForStatus(held, in: ["released"]) == "released")
        #expect(try h.waitForStatus(paying, in: ["refunded"], timeout: 15) == "refunded") // charged after its hold ended: refunded
        for booking in sold + [paying] {
            #expect(try h.history(booking).filter { $0 == "payment.refunded" }.count == 1)
            #expect(try h.client.call("HGET", GlobalKeys.providerRefunds, booking).string != nil)
        }
        #expect(try h.history(sold[0]).contains("booking.cancelled"))
        #expect(try h.client.call("HGET", h.keys.booking(sold[0]), "refundReason").string == "event_cancelled")
        #expect(try h.client.call("HGET", h.keys.event, "sold").int == 0)
        #expect(try h.client.call("HGET", h.keys.event, "held").int == 0)
        #expect(try h.client.call("HGET", h.keys.event, "cancelCompletedAt").string != nil)
        let types = (try h.client.call("XRANGE", h.keys.log, "-", "+").array ?? []).compactMap { $0.array?.last?.fields["type"] }
        #expect(types.filter { $0 == "event.cancel_completed" }.count == 1)
        let report = try EventAudit(eventId: h.event).run(h.client)
        #expect(report.passed, "\(report)")
    }
}

@Suite struct LogTrimmerTests {
    @Test(arguments: [false, true]) func trimmingNeverDropsAnEntryStillPendingInAGroup(onCluster: Bool) throws {
        let redis = try onCluster ? TestRedis.sharedCluster() : TestRedis.shared()
        let client = try redis.client()
        let stream = EventKeys(TestServer.uniqueEventId("trim")).log
        var ids: [String] = []
        for i in 1...10 { ids.append(try client.call("XADD", stream, "*", "type", "test", "n", String(i)).string!) }
        try client.call("XGROUP", "CREATE", stream, "payments", "0")
        try client.call("XGROUP", "CREATE", stream, "notifications", "0")
        let trimmer = LogTrimmer(groups: ["payments", "notifications", "analytics"])
        // A group that does not exist yet has read nothing: no trim at all.
        #expect(try trimmer.trim(stream: stream, client: client) == .blocked("group analytics does not exist yet"))
        try client.call("XGROUP", "CREATE", stream, "analytics", "0")

        // payments reads all ten and acks all but the 5th; notifications reads 7
        // and acks them; analytics reads all and acks all.
        try client.call("XREADGROUP", "GROUP", "payments", "p1", "COUNT", "10", "STREAMS", stream, ">")
        for (index, id) in ids.enumerated() where index != 4 { try client.call("XACK", stream, "payments", id) }
        try client.call("XREADGROUP", "GROUP", "notifications", "n1", "COUNT", "7", "STREAMS", stream, ">")
        for id in ids.prefix(7) { try client.call("XACK", stream, "notifications", id) }
        try client.call("XREADGROUP", "GROUP", "analytics", "a1", "COUNT", "10", "STREAMS", stream, ">")
        for id in ids { try client.call("XACK", stream, "analytics", id) }

        #expect(try trimmer.trim(stream: stream, client: client) == .trimmed(minimumId: ids[4], removed: 4))
        let left = try client.call("XRANGE", stream, "-", "+").array?.compactMap { $0.array?.first?.string }
        #expect(left == Array(ids[4...]))
        // The pending entry can still be claimed and acked.
        let claimed = try client.call("XCLAIM", stream, "payments", "p2", "0", ids[4]).array ?? []
        #expect(claimed.count == 1)
        try client.call("XACK", stream, "payments", ids[4])
        // Now payments has nothing pending; notifications still waits at its 7th entry.
        #expect(try trimmer.trim(stream: stream, client: client) == .trimmed(minimumId: ids[6], removed: 2))
        #expect(try client.call("XLEN", stream).int == 4)
    }
}
