// The seat map as a cheap read: versioned (ETag from the log, 304 when
// unchanged), the full listing bounded per answer, a compact encoding for
// any size, and a per-address read limit kept in memory.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockScripts
import SeatlockTestSupport
import Testing

@Suite struct SeatMapTests {
    @Test func anUnchangedMapIs304AndAChangeGivesANewTag() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, rows: 2, seatsPerRow: 3)
        let first = try server.http.request("GET", "/v1/events/\(event)/seats")
        let tag = try #require(first.headers["etag"])
        #expect(first.status == 200 && tag.hasPrefix("\"") && tag.hasSuffix("\""))
        let again = try server.http.request("GET", "/v1/events/\(event)/seats", headers: ["If-None-Match": tag])
        #expect(again.status == 304 && again.body.isEmpty && again.headers["etag"] == tag)
        #expect(try server.http.request("GET", "/v1/events/\(event)/seats", headers: ["If-None-Match": "W/\(tag), \"x\""]).status == 304)
        try #require(try server.hold(event, user: "etag-buyer", seats: ["A-1-2"]).status == 201)
        // A rendering is reused for 100 ms at least (more when it took long): ask until it is past.
        var changed = try server.http.request("GET", "/v1/events/\(event)/seats", headers: ["If-None-Match": tag])
        for _ in 0..<40 where changed.status == 304 {
            Thread.sleep(forTimeInterval: 0.05)
            changed = try server.http.request("GET", "/v1/events/\(event)/seats", headers: ["If-None-Match": tag])
        }
        #expect(changed.status == 200 && changed.headers["etag"] != tag)
        let statuses = (changed.json?["seats"] as? [[String: Any]] ?? []).map { "\($0["id"]!)=\($0["status"]!)" }
        #expect(statuses.contains("A-1-2=held") && statuses.contains("A-1-1=available"))
    }

    @Test func theCompactMapIsAByteASeatRowByRow() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, rows: 2, seatsPerRow: 3, priceCents: 700)
        let booking = try #require(try server.hold(event, user: "compact-buyer", seats: ["A-1-2", "A-2-3"]).string("id"))
        try #require(try server.pay(event, booking: booking, user: "compact-buyer").status == 202)
        // Confirmed here (a payments worker of another test may do it first: the same outcome).
        _ = try server.redis.client().run(server.redis.scripts.confirm(event: event, booking: booking, paymentId: "p1", confirmationCode: "SL-1"))
        try #require(try server.hold(event, user: "compact-other", seats: ["A-2-1"]).status == 201)
        let reply = try server.http.request("GET", "/v1/events/\(event)/seats?format=compact")
        let sections = try #require(reply.json?["sections"] as? [[String: Any]])
        #expect(reply.status == 200 && sections.count == 1)
        #expect(sections[0]["id"] as? String == "A" && sections[0]["rows"] as? Int == 2 && sections[0]["seatsPerRow"] as? Int == 3)
        #expect(sections[0]["priceCents"] as? Int == 700)
        #expect(sections[0]["status"] as? String == "asahas") // A-1-2 and A-2-3 sold, A-2-1 held
        #expect(try server.http.request("GET", "/v1/events/\(event)/seats?format=table").status == 400)
    }

    @Test func aLargeMapNeedsASectionOrTheCompactFormat() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try #require(try server.createEvent(event, rows: 50, seatsPerRow: 500).status == 201) // 25,000 seats
        let full = try server.http.request("GET", "/v1/events/\(event)/seats")
        #expect(full.status == 400 && full.string("error") == "section_required", "\(full.text.prefix(200))")
        let compact = try server.http.request("GET", "/v1/events/\(event)/seats?format=compact")
        let status = (compact.json?["sections"] as? [[String: Any]])?.first?["status"] as? String
        #expect(compact.status == 200 && status?.count == 25_000 && status?.allSatisfy { $0 == "a" } == true)
        #expect(compact.body.count < 25_200)
    }

    @Test func readsPastTheAddressesBurstAre429() throws {
        let server = try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
            config.abuse = .unlimited
            config.abuse.seatMapReadsPerAddress = RateLimit(perSecond: 0.01, burst: 3)
        }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let replies = try (0..<5).map { _ in try server.http.request("GET", "/v1/events/\(event)/seats") }
        #expect(replies.map(\.status) == [200, 200, 200, 429, 429])
        #expect(replies[3].string("error") == "rate_limited" && Int(replies[3].headers["retry-after"] ?? "") ?? 0 >= 1)
        #expect(try server.http.request("GET", "/v1/events/\(event)").status == 200) // other reads are not limited
    }
}
