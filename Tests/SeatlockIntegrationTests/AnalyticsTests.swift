// The analytics worker on a real Redis, fed by real traffic through the HTTP
// API (holds, best-available, payments by the real payments worker,
// declines, releases, refunds, expiries): the figures it keeps must equal
// the ones computed here from the log, the live held/sold must equal the
// event hash's, and a rebuild from the log must give every figure again.
// Tests with a worker get their own redis-server: it consumes every event.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockScripts
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
import Testing

private struct LogEntry {
    let id: String
    let fields: [String: String]
}

private func readLog(_ client: RedisClient, _ stream: String) throws -> [LogEntry] {
    var out: [LogEntry] = []
    var start = "-"
    while true {
        let batch = try client.call("XRANGE", stream, start, "+", "COUNT", "1000").array ?? []
        for raw in batch {
            if let parts = raw.array, parts.count == 2, let id = parts[0].string { out.append(LogEntry(id: id, fields: parts[1].fields)) }
        }
        guard batch.count == 1000, let last = out.last else { return out }
        start = "(" + last.id
    }
}

private func waitUntil(_ timeout: TimeInterval, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return try condition()
}

/// The figures computed in Swift from the log, by the rules listed in
/// lua/analytics_apply.lua's header.
private struct ExpectedFigures {
    var counters: [String: Int] = [:]
    var buyers = Set<String>()
    var histogram: [String: Int] = [:]
    var series: [Int: SeriesPoint] = [:]

    init(log: [LogEntry], createdAt: [String: Int]) {
        for name in EventStats.counterNames { counters[name] = 0 }
        for entry in log {
            let fields = entry.fields
            let seats = (fields["seats"] ?? "").split(separator: ",").count
            let amount = Int(fields["amountCents"] ?? "") ?? 0
            let at = Int(fields["at"] ?? "")
            var point: ((inout SeriesPoint) -> Void)?
            switch fields["type"] ?? "" {
            case "booking.initiated":
                add("bookingsInitiated"); add("holds")
                if let user = fields["userId"] { buyers.insert(user) }
                point = { $0.holds += 1 }
            case "seat.reserved":
                add("seatsHeld", seats); add("held", seats)
                point = { $0.seatsHeld += seats }
            case "booking.confirmed":
                add("confirmations"); add("seatsSold", seats); add("held", -seats); add("sold", seats); add("revenueCents", amount)
                point = { $0.confirmations += 1; $0.seatsSold += seats }
                if let at, let created = fields["bookingId"].flatMap({ createdAt[$0] }) {
                    let ms = max(0, at - created)
                    let bucket = EventStats.confirmBounds.first { ms <= $0 }.map { String($0) } ?? "+Inf"
                    histogram[bucket, default: 0] += 1
                    histogram["count", default: 0] += 1
                    histogram["sum", default: 0] += ms
                    histogram["max"] = max(histogram["max"] ?? -1, ms)
                }
            case "booking.expired":
                add("expiries"); add("held", -seats)
                point = { $0.expiries += 1 }
            case "booking.released":
                add("releases"); add("held", -seats)
                point = { $0.releases += 1 }
            case "booking.cancelled":
                if fields["reason"] == "refund_requested" { add("refunds") } else { add("cancellations"); add("held", -seats) }
            case "seat.released":
                if fields["reason"] == "refund" { add("sold", -seats) }
            case "payment.requested": add("paymentsRequested")
            case "payment.completed": add("paymentsCompleted")
            case "payment.failed": add("paymentsFailed")
            case "payment.refunded": add("paymentsRefunded")
            case "payment.refund_requested": add("revenueCents", -amount)
            default: break
            }
            if let point, let at {
                let second = at / 1000
                var slot = series[second] ?? SeriesPoint(t: second)
                point(&slot)
                series[second] = slot
            }
        }
    }

    private mutating func add(_ name: String, _ by: Int = 1) { counters[name, default: 0] += by }
}

/// Everything the analytics keys hold, as comparable values.
private struct AnalyticsSnapshot: Equatable {
    var stats: [String: String]
    var activeBuyers: Int
    var confirmMs: [String: String]
    var series: [String: String]

    init(_ client: RedisClient, _ event: String) throws {
        let keys = AnalyticsKeys(event)
        stats = try client.call("HGETALL", keys.stats).fields
        activeBuyers = try client.call("PFCOUNT", keys.buyers).int ?? -1
        confirmMs = try client.call("HGETALL", keys.confirmMs).fields
        series = try client.call("HGETALL", keys.series).fields
    }
}

@Suite(.serialized) struct AnalyticsTests {
    @Test func figuresFollowTheLogThroughLiveTrafficAndARebuildGivesThemAgain() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let client = try redis.client()
        let server = try TestServer(redis: redis) { config in
            config.abuse = .unlimited        // a thousand bookings from one address
            config.paymentGraceSeconds = 30  // a paid hold outlives the payments worker's lag
        }
        defer { server.stop() }
        var expiryOptions = ExpiryOptions()
        expiryOptions.sweepInterval = .milliseconds(250)
        let expiry = ExpiryService(redis: redis.url, scripts: redis.scripts, options: expiryOptions)
        try expiry.start()
        defer { expiry.stop() }
        var paymentOptions = PaymentsOptions(consumer: "analytics-test-payments")
        paymentOptions.consumer.discoverEvery = .milliseconds(100)
        let payments = PaymentsService(redis: redis.url, scripts: redis.scripts, options: paymentOptions)
        try payments.start()
        defer { payments.stop() }
        let script = try redis.library.script(AnalyticsScript.name)
        var analyticsOptions = AnalyticsOptions(consumer: "analytics-test")
        analyticsOptions.consumer.discoverEvery = .milliseconds(100)
        let analytics = AnalyticsService(redis: redis.url, script: script, options: analyticsOptions)
        try analytics.start()
        defer { analytics.stop() }

        let event = TestServer.uniqueEventId("an")
        let keys = EventKeys(event)
        #expect(try server.createEvent(event, rows: 40, seatsPerRow: 50, priceCents: 4000, holdSeconds: 3, maxSeatsPerUser: 50).status == 201)

        // 1,000 attempts: half explicit seats (some collide: 409), half best
        // available; then pay (visa or declined), release, pay and refund
        // later, or leave the hold to expire (3 s).
        var rng = SeededRandom(seed: 20_261_125)
        var bookings: [(id: String, user: String)] = []
        var toRefund: [(id: String, user: String)] = []
        var releasedByBuyer = 0
        for _ in 0..<1000 {
            let user = "buyer-\(Int.random(in: 0..<400, using: &rng))"
            let quantity = Int.random(in: 1...3, using: &rng)
            let hold: HTTPReply
            if Bool.random(using: &rng) {
                let row = Int.random(in: 1...40, using: &rng), first = Int.random(in: 1...(51 - quantity), using: &rng)
                hold = try server.hold(event, user: user, seats: (first..<first + quantity).map { "A-\(row)-\($0)" })
            } else {
                hold = try server.holdBest(event, user: user, quantity: quantity)
            }
            guard hold.status == 201, let booking = hold.string("id") else {
                #expect([409].contains(hold.status), "\(hold.status) \(hold.text)")
                continue
            }
            bookings.append((booking, user))
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<45:
                #expect(try server.pay(event, booking: booking, user: user).status == 202)
            case 45..<55:
                #expect(try server.pay(event, booking: booking, user: user).status == 202)
                toRefund.append((booking, user))
            case 55..<70:
                #expect(try server.pay(event, booking: booking, user: user, token: "tok_chargeDeclined").status == 202)
            case 70..<92:
                let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders(user))
                #expect(released.status == 200)
                if released.status == 200 { releasedByBuyer += 1 }
            default:
                break // expires
            }
        }
        #expect(bookings.count > 500)

        func status(_ booking: String) throws -> String { try client.call("HGET", keys.booking(booking), "status").string ?? "" }
        var refundsAsked = 0
        for (booking, user) in toRefund {
            _ = try waitUntil(15) { try ["confirmed", "expired", "refunded", "cancelled"].contains(status(booking)) }
            guard try status(booking) == "confirmed" else { continue }
            let reply = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders(user))
            #expect(reply.status == 202)
            if reply.status == 202 { refundsAsked += 1 }
        }
        #expect(refundsAsked > 0)

        // Every booking ends, then the analytics group reaches the log's end.
        let final: Set<String> = ["confirmed", "released", "expired", "cancelled", "refunded"]
        let ended = try waitUntil(30) {
            let replies = try client.pipeline(bookings.map { ["HGET", keys.booking($0.id), "status"] })
            return replies.allSatisfy { final.contains($0.string ?? "") }
        }
        #expect(ended)
        func newest() throws -> String { try client.call("XREVRANGE", keys.log, "+", "-", "COUNT", "1").array?.first?.array?.first?.string ?? "" }
        let caughtUp = try waitUntil(20) {
            try client.call("HGET", AnalyticsKeys(event).stats, "lastEntry").string == newest()
        }
        #expect(caughtUp)

        // What the log says, computed here.
        let log = try readLog(client, keys.log)
        let confirmedIds = log.filter { $0.fields["type"] == "booking.confirmed" }.compactMap { $0.fields["bookingId"] }
        var createdAt: [String: Int] = [:]
        let created = try client.pipeline(confirmedIds.map { ["HGET", keys.booking($0), "createdAt"] })
        for (id, value) in zip(confirmedIds, created) { createdAt[id] = value.int }
        let expected = ExpectedFigures(log: log, createdAt: createdAt)
        let live = try AnalyticsSnapshot(client, event)

        #expect(live.stats["lastEntry"] == log.last?.id)
        for name in EventStats.counterNames {
            #expect(Int(live.stats[name] ?? "0") == expected.counters[name], "\(name)")
        }
        // ... and what the API and the event hash say, independently.
        let eventHash = try client.call("HGETALL", keys.event).fields
        #expect(live.stats["held"] ?? "0" == eventHash["held"])
        #expect(live.stats["sold"] ?? "0" == eventHash["sold"])
        #expect(live.stats["revenueCents"] ?? "0" == eventHash["revenueCents"])
        #expect(Int(live.stats["bookingsInitiated"] ?? "") == bookings.count)
        #expect(Int(live.stats["releases"] ?? "") == releasedByBuyer)
        #expect(Int(live.stats["refunds"] ?? "") == refundsAsked)
        #expect((expected.counters["expiries"] ?? 0) > 0 && (expected.counters["cancellations"] ?? 0) > 0)
        #expect((expected.counters["paymentsRefunded"] ?? 0) >= refundsAsked)

        let buyers = expected.buyers.count
        #expect(abs(live.activeBuyers - buyers) <= max(2, buyers / 50), "HLL \(live.activeBuyers) for \(buyers) buyers")
        #expect(live.confirmMs.mapValues { Int($0) ?? -1 } == expected.histogram)
        #expect(expected.histogram["count"] == expected.counters["confirmations"])
        #expect(EventStats.seriesPoints(live.series) == expected.series.values.sorted { $0.t < $1.t })

        // The endpoint's JSON agrees.
        let json = try #require(try EventStats.read(eventId: event, client: client))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["held"] as? Int == Int(eventHash["held"] ?? "") && object["sold"] as? Int == Int(eventHash["sold"] ?? ""))
        #expect(object["activeBuyers"] as? Int == live.activeBuyers)
        #expect((object["totals"] as? [String: Any])?["confirmations"] as? Int == expected.counters["confirmations"])
        #expect((object["holdToConfirmMs"] as? [String: Any])?["count"] as? Int == expected.counters["confirmations"])
        #expect((object["series"] as? [[String: Any]])?.count == expected.series.count)
        #expect(try EventStats.read(eventId: "no-such-event", client: client) == nil)

        // A rebuild from the log gives every figure again, field by field.
        let applied = try AnalyticsService.rebuild(eventId: event, client: client, script: script, batchSize: 300)
        #expect(applied == log.count)
        let rebuilt = try AnalyticsSnapshot(client, event)
        #expect(rebuilt.stats == live.stats)
        #expect(rebuilt.activeBuyers == live.activeBuyers)
        #expect(rebuilt.confirmMs == live.confirmMs)
        #expect(rebuilt.series == live.series)
        #expect(try client.call("EXISTS", AnalyticsKeys.staging(event).stats).int == 0)
    }

    @Test func aWorkerAppliesWhatACrashedConsumerLeftPendingBeforeTheNewerEntries() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let client = try redis.client()
        let event = TestServer.uniqueEventId("an")
        let log = EventKeys(event).log
        try client.call("SADD", GlobalKeys.events, event)
        try client.call("XGROUP", "CREATE", log, "analytics", "0", "MKSTREAM")
        func append(_ user: Int) throws -> String {
            try client.call("XADD", log, "*", "type", "booking.initiated", "eventId", event, "at", String(1_800_000_000_000 + user),
                            "bookingId", "b\(user)", "userId", "u\(user)", "seats", "A-1-\(user + 1)", "amountCents", "100").string ?? ""
        }
        for user in 0..<5 { _ = try append(user) }
        // A consumer took these five and died before applying them.
        try client.call("XREADGROUP", "GROUP", "analytics", "crashed", "COUNT", "5", "STREAMS", log, ">")
        var last = ""
        for user in 5..<8 { last = try append(user) }

        var options = AnalyticsOptions(consumer: "successor")
        options.consumer.discoverEvery = .milliseconds(100)
        options.consumer.claimIdle = .seconds(60) // the group does not hand the five back during this test
        let service = try AnalyticsService(redis: redis.url, library: redis.library, options: options)
        try service.start()
        defer { service.stop() }

        let stats = AnalyticsKeys(event).stats
        #expect(try waitUntil(10) { try client.call("HGET", stats, "lastEntry").string == last })
        #expect(try client.call("HGET", stats, "holds").int == 8)
        #expect(try client.call("PFCOUNT", AnalyticsKeys(event).buyers).int == 8)
        // Left pending: the crashed consumer's five, skipped as duplicates once claimed.
        #expect(try waitUntil(5) { try client.call("XPENDING", log, "analytics").array?.first?.int == 5 })
    }

    @Test func anEntryAppliedTwiceOrBeforeTheOneAheadOfItChangesNothing() throws {
        let redis = try TestRedis.shared()
        let client = try redis.client()
        let event = TestServer.uniqueEventId("an")
        let log = EventKeys(event).log
        let script = try redis.library.script(AnalyticsScript.name)
        var entries: [(id: String, fields: [String: String])] = []
        for (index, type) in ["booking.initiated", "seat.reserved", "booking.released"].enumerated() {
            let fields = ["type": type, "eventId": event, "bookingId": "b1", "userId": "u1", "seats": "A-1-1,A-1-2",
                          "at": String(1_800_000_000_000 + index * 100), "actor": "buyer"]
            let id = try client.checked(["XADD", log, "*"] + fields.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }).string ?? ""
            entries.append((id, fields))
        }
        func apply(_ index: Int) throws -> AnalyticsScript.Outcome? {
            try AnalyticsScript.outcome(client.run(AnalyticsScript.call(script, eventId: event, entryId: entries[index].id, fields: entries[index].fields)))
        }
        #expect(try apply(1) == .gap(lastEntry: ""))
        #expect(try apply(0) == .applied)
        #expect(try apply(2) == .gap(lastEntry: entries[0].id))
        #expect(try apply(1) == .applied)
        #expect(try apply(1) == .duplicate(lastEntry: entries[1].id))
        #expect(try apply(0) == .duplicate(lastEntry: entries[1].id))
        #expect(try apply(2) == .applied)
        let keys = AnalyticsKeys(event)
        let stats = try client.call("HGETALL", keys.stats).fields
        #expect(stats == ["bookingsInitiated": "1", "holds": "1", "seatsHeld": "2", "held": "0", "releases": "1", "lastEntry": entries[2].id])
        // The same log folded in batches, on fresh keys: a batch stops at its
        // first gap (nothing after it applied), duplicates are skipped.
        let batched = AnalyticsKeys.staging(event)
        func applyBatch(_ indices: [Int]) throws -> [AnalyticsScript.Outcome]? {
            try AnalyticsScript.outcomes(client.run(AnalyticsScript.call(script, eventId: event, entries: indices.map { (entries[$0].id, entries[$0].fields) }, into: batched)))
        }
        #expect(try applyBatch([0, 2, 1]) == [.applied, .gap(lastEntry: entries[0].id), .gap(lastEntry: entries[0].id)])
        #expect(try applyBatch([0, 1, 2]) == [.duplicate(lastEntry: entries[2].id), .applied, .applied])
        #expect(try client.call("HGETALL", batched.stats).fields == stats)
        #expect(try client.call("HGETALL", batched.series).fields == client.call("HGETALL", keys.series).fields)
        try client.checked(["DEL"] + batched.all)
        let series = try client.call("HGETALL", keys.series).fields
        #expect(EventStats.seriesPoints(series) == [SeriesPoint(t: 1_800_000_000, holds: 1, releases: 1, seatsHeld: 2)])
        #expect(series.keys.sorted() == [String(1_800_000_000 % EventStats.seriesSeconds)])
    }
}
