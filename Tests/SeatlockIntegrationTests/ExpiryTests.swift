// Hold expiry on a real Redis: the keyspace-notification listener, the
// sweeper alone, and the listener knocked out during a run of short holds.
// Each test gets its own redis-server: the expiry service sweeps every event
// it finds, and must not touch other tests' bookings.
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Testing

private struct ExpiryHarness {
    let redis: TestRedis
    let client: RedisClient
    let event: String
    var keys: EventKeys { EventKeys(event) }

    init(rows: Int, seatsPerRow: Int, holdSeconds: Int) throws {
        redis = try TestRedis()
        client = try redis.client()
        event = TestServer.uniqueEventId("exp")
        let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"\(event)","name":"Expiry","venue":"V","startsAt":"2027-01-01T00:00:00Z","holdSeconds":\(holdSeconds),"maxSeatsPerUser":4,
         "sections":[{"id":"A","rows":\(rows),"seatsPerRow":\(seatsPerRow),"priceCents":100}]}
        """.utf8))
        #expect(try client.run(redis.scripts.createEvent(spec)).array?.first?.int == 201)
        try client.call("SADD", GlobalKeys.events, event)
    }

    func service(listen: Bool, sweepEvery: Duration) -> ExpiryService {
        var options = ExpiryOptions()
        options.listen = listen
        options.sweepInterval = sweepEvery
        return ExpiryService(redis: redis.url, scripts: redis.scripts, options: options)
    }

    func hold(_ seat: String, user: String) throws -> String {
        let booking = BookingID.random()
        let reply = try client.run(redis.scripts.hold(.seats([SeatID(seat)!]), event: event, booking: booking, user: user))
        #expect(reply.array?.first?.int == 201, "\(reply)")
        return booking
    }

    /// Waits until the booking is no longer held; returns its hash.
    func waitForEnd(_ booking: String, timeout: TimeInterval) throws -> [String: String] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let fields = try client.call("HGETALL", keys.booking(booking)).fields
            if fields["status"] != "held" { return fields }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return try client.call("HGETALL", keys.booking(booking)).fields
    }

    func lateness(_ fields: [String: String]) -> Int {
        (Int(fields["expiredAt"] ?? "") ?? .max) - (Int(fields["expiresAt"] ?? "") ?? 0)
    }
}

@Suite(.serialized) struct ExpiryTests {
    @Test func theListenerReleasesATwoSecondHoldWithinASecond() throws {
        let h = try ExpiryHarness(rows: 1, seatsPerRow: 5, holdSeconds: 2)
        let service = h.service(listen: true, sweepEvery: .seconds(60))
        try service.start()
        defer { service.stop(); h.redis.server.stop() }
        Thread.sleep(forTimeInterval: 0.2) // subscribed
        let booking = try h.hold("A-1-1", user: "u1")
        let fields = try h.waitForEnd(booking, timeout: 4)
        #expect(fields["status"] == "expired")
        #expect(fields["expiredBy"] == "listener")
        #expect(h.lateness(fields) <= 1000, "released \(h.lateness(fields)) ms after the deadline")
        #expect(try h.client.call("ZCARD", h.keys.free("A")).int == 5)
        #expect(try h.client.call("GET", h.keys.user("u1")).string == "0")
        #expect(service.expired == ExpiryCounts(byListener: 1, bySweeper: 0))
    }

    @Test func theSweeperAloneReleasesItWhenTheListenerIsOff() throws {
        let h = try ExpiryHarness(rows: 1, seatsPerRow: 5, holdSeconds: 2)
        let service = h.service(listen: false, sweepEvery: .milliseconds(500))
        try service.start()
        defer { service.stop(); h.redis.server.stop() }
        let booking = try h.hold("A-1-2", user: "u1")
        let fields = try h.waitForEnd(booking, timeout: 4)
        #expect(fields["status"] == "expired" && fields["expiredBy"] == "sweeper")
        #expect(h.lateness(fields) <= 1000, "released \(h.lateness(fields)) ms after the deadline")
        #expect(try h.client.call("HGET", h.keys.event, "held").int == 0)
    }

    @Test func tenThousandShortHoldsAllEndExpiredWhileTheListenerIsKnockedOut() throws {
        let h = try ExpiryHarness(rows: 100, seatsPerRow: 100, holdSeconds: 1)
        let service = h.service(listen: true, sweepEvery: .seconds(1))
        try service.start()
        defer { service.stop(); h.redis.server.stop() }
        Thread.sleep(forTimeInterval: 0.2)
        var bookings: [String] = []
        for row in 1...100 {
            for number in 1...100 {
                bookings.append(try h.hold("A-\(row)-\(number)", user: "buyer\(row)x\(number)"))
            }
            // Knock the listener's connection out now and then: notifications
            // published meanwhile are lost for good.
            if row % 25 == 0 { try h.client.call("CLIENT", "KILL", "TYPE", "pubsub") }
        }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, try h.client.call("HGET", h.keys.event, "held").int != 0 {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(try h.client.call("HGET", h.keys.event, "held").int == 0)
        #expect(try h.client.call("ZCARD", h.keys.free("A")).int == 10_000)
        #expect(try h.client.call("ZCARD", h.keys.expiries).int == 0)
        for booking in bookings.shuffled().prefix(200) {
            #expect(try h.client.call("HGET", h.keys.booking(booking), "status").string == "expired")
        }
        let counts = service.expired
        #expect(counts.byListener + counts.bySweeper == 10_000, "\(counts)")
        let expiredEvents = try h.client.call("XRANGE", h.keys.log, "-", "+").array?
            .filter { $0.array?.last?.fields["type"] == "booking.expired" }.count
        #expect(expiredEvents == 10_000)
        for row in [1, 50, 100] {
            #expect(try h.client.call("GET", h.keys.user("buyer\(row)x1")).string == "0")
        }
    }

    @Test func notificationsAreTurnedOnWhenMissing() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let client = try redis.client()
        try client.call("CONFIG", "SET", "notify-keyspace-events", "")
        try ExpiryService.ensureNotifications(client)
        let flags = try client.call("CONFIG", "GET", "notify-keyspace-events").array?.last?.string ?? ""
        #expect(flags.contains("E") && flags.contains("x"))
        try client.call("CONFIG", "SET", "notify-keyspace-events", "Kg")
        try ExpiryService.ensureNotifications(client)
        let merged = try client.call("CONFIG", "GET", "notify-keyspace-events").array?.last?.string ?? ""
        #expect(merged.contains("g") && merged.contains("E") && merged.contains("x"))
    }
}
