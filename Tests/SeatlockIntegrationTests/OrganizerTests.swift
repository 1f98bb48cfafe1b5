// The organizer's and the shop's routes on a real server and Redis: the
// event list, PATCH, cancel, and the booking lists with their cursors.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Testing

private extension TestServer {
    /// Every page of `path` (a list route with `?limit=`), following `next`;
    /// the items of each page under `field`.
    func pages(_ path: String, field: String, headers: [String: String] = [:]) throws -> [[[String: Any]]] {
        var pages: [[[String: Any]]] = []
        var next: String?
        repeat {
            let separator = path.contains("?") ? "&" : "?"
            let url = next.map { path + separator + "cursor=" + $0 } ?? path
            let reply = try http.request("GET", url, headers: headers)
            #expect(reply.status == 200, "\(url): \(reply.text)")
            guard reply.status == 200 else { break }
            pages.append(reply.json?[field] as? [[String: Any]] ?? [])
            next = reply.string("next")
        } while next != nil && pages.count < 10_000
        return pages
    }

    func patch(_ event: String, _ json: String, headers: [String: String]? = nil) throws -> HTTPReply {
        try http.request("PATCH", "/v1/events/\(event)", headers: headers ?? adminHeaders, json: json)
    }
}

@Suite struct EventListTests {
    @Test func everyEventOnceInStartOrderPageByPage() throws {
        let server = try TestServer.shared()
        let ids = (0..<3).map { _ in TestServer.uniqueEventId("ls") }
        for id in ids { try server.createEvent(id) }
        // Starts in reverse order of creation: the list follows the start.
        for (index, id) in ids.enumerated() {
            #expect(try server.patch(id, #"{"startsAt":"2031-0\#(3 - index)-01T20:00:00Z"}"#).status == 200)
        }
        let pages = try server.pages("/v1/events?limit=2", field: "events")
        #expect(pages.allSatisfy { $0.count <= 2 })
        let listed = pages.flatMap { $0 }
        let names = listed.compactMap { $0["id"] as? String }
        #expect(names.count == Set(names).count, "an event is listed twice")
        let ours = names.filter(ids.contains)
        #expect(ours == ids.reversed(), "start order: \(ours)")
        let starts = listed.compactMap { ($0["startsAt"] as? String).flatMap(EventSpec.milliseconds) }
        #expect(starts == starts.sorted())
        let first = try #require(listed.first { $0["id"] as? String == ids[0] })
        #expect(first["status"] as? String == "open" && first["capacity"] as? Int == 50 && first["available"] as? Int == 50)
        #expect(first["startsAt"] as? String == "2031-03-01T20:00:00Z")
    }

    @Test func aMisplacedEntryIsRepairedByTheReadThatFindsIt() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("ls")
        try server.createEvent(event) // starts 2027-01-01T20:00:00Z
        let client = try TestRedis.shared().client()
        let right = GlobalKeys.eventIndexEntry(eventId: event, startsAtMs: EventSpec.milliseconds("2027-01-01T20:00:00Z")!)
        let wrong = GlobalKeys.eventIndexEntry(eventId: event, startsAtMs: 1_000)
        // As a server that died between a PATCH's script and its index write would leave it.
        try client.call("ZREM", GlobalKeys.eventIndex, right)
        try client.call("ZADD", GlobalKeys.eventIndex, "0", wrong)
        _ = try server.pages("/v1/events?limit=100", field: "events") // the read that finds it
        #expect(try client.call("ZSCORE", GlobalKeys.eventIndex, wrong) == .null)
        #expect(try client.call("ZSCORE", GlobalKeys.eventIndex, right) != .null)
        let ids = try server.pages("/v1/events?limit=100", field: "events").flatMap { $0 }.compactMap { $0["id"] as? String }
        #expect(ids.filter { $0 == event }.count == 1)
    }

    @Test func statusFilterAndBadQueries() throws {
        let server = try TestServer.shared()
        let closed = TestServer.uniqueEventId("ls")
        try server.createEvent(closed)
        #expect(try server.patch(closed, #"{"status":"closed"}"#).status == 200)
        let onlyClosed = try server.pages("/v1/events?status=closed&limit=50", field: "events").flatMap { $0 }
        #expect(onlyClosed.contains { $0["id"] as? String == closed })
        #expect(onlyClosed.allSatisfy { $0["status"] as? String == "closed" })
        for query in ["limit=0", "limit=101", "limit=x", "status=sideways", "colour=red", "limit=5&limit=6"] {
            let reply = try server.http.request("GET", "/v1/events?\(query)")
            #expect(reply.status == 400 && reply.string("error") == "invalid_query", "\(query): \(reply.text)")
        }
    }

    @Test func aCursorIsOnlyGoodForTheListItCameFrom() throws {
        let server = try TestServer.shared()
        for _ in 0..<3 { try server.createEvent(TestServer.uniqueEventId("ls")) }
        let first = try server.http.request("GET", "/v1/events?limit=1")
        let cursor = try #require(first.string("next"))
        #expect(try server.http.request("GET", "/v1/events?limit=1&cursor=\(cursor)").status == 200)
        var forged = Array(cursor)
        forged[2] = forged[2] == "A" ? "B" : "A"
        let refusals = [
            "/v1/events?cursor=\(String(forged))", // damaged or forged
            "/v1/events?cursor=abc", "/v1/events?cursor=", "/v1/events?cursor=\(String(repeating: "a", count: 600))",
            "/v1/events?status=closed&cursor=\(cursor)", // another filter's list
        ]
        for path in refusals {
            let reply = try server.http.request("GET", path)
            #expect(reply.status == 400 && reply.string("error") == "invalid_cursor", "\(path): \(reply.text)")
        }
        // Made for another list: a booking list's cursor is refused here too.
        let old = ListCursors(secret: TestSecrets.tokenSecret).make(list: "events|", after: "0:x", now: Date().addingTimeInterval(-90_000))
        #expect(try server.http.request("GET", "/v1/events?cursor=\(old)").string("error") == "invalid_cursor") // too old
    }
}

@Suite struct EventPatchTests {
    @Test func namesStartAndSalesChangeAndAreLogged() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("pt")
        try server.createEvent(event)
        let changed = try server.patch(event, #"{"name":"Renamed","venue":"Arena","startsAt":"2030-05-01T19:30:00Z"}"#)
        #expect(changed.status == 200 && changed.string("name") == "Renamed" && changed.string("venue") == "Arena")
        #expect(changed.string("startsAt") == "2030-05-01T19:30:00Z")
        #expect(try server.http.request("GET", "/v1/events/\(event)").string("name") == "Renamed")
        #expect(try server.patch(event, #"{"status":"closed"}"#).string("status") == "closed")
        let refused = try server.hold(event, user: "pat", seats: ["A-1-1"])
        #expect(refused.status == 409 && refused.string("error") == "sales_closed")
        #expect(try server.patch(event, #"{"status":"open"}"#).string("status") == "open")
        #expect(try server.hold(event, user: "pat", seats: ["A-1-1"]).status == 201)
        // The same values again: 200, nothing logged.
        #expect(try server.patch(event, #"{"name":"Renamed"}"#).status == 200)
        let types = try TestRedis.shared().client().call("XRANGE", EventKeys(event).log, "-", "+").array?.compactMap { $0.array?.last?.fields["type"] } ?? []
        #expect(types.filter { $0 == "event.updated" }.count == 1)
        #expect(types.contains("event.sales_closed") && types.contains("event.sales_opened"))
    }

    @Test func pricesChangeOnlyBeforeAnySale() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("pt")
        try server.createEvent(event, priceCents: 5000)
        let repriced = try server.patch(event, #"{"sections":[{"id":"A","priceCents":7000}]}"#)
        #expect(repriced.status == 200 && (repriced.json?["sections"] as? [[String: Any]])?.first?["priceCents"] as? Int == 7000)
        let hold = try server.hold(event, user: "pp", seats: ["A-1-1"])
        #expect(hold.json?["totalCents"] as? Int == 7000)
        let refused = try server.patch(event, #"{"sections":[{"id":"A","priceCents":9000}]}"#)
        #expect(refused.status == 409 && refused.string("error") == "event_has_sales" && refused.string("reason") != nil)
        let unknown = try server.patch(event, #"{"sections":[{"id":"Z","priceCents":9000}]}"#)
        #expect(unknown.status == 409 && unknown.string("error") == "seat_map_fixed")
        let layout = try server.patch(event, #"{"sections":[{"id":"A","priceCents":7000,"rows":9}]}"#)
        #expect(layout.status == 409 && layout.string("error") == "seat_map_fixed" && layout.string("reason") == "layout_change")
        #expect(try server.patch(event, #"{"sections":[{"id":"A","priceCents":7000,"rows":5,"seatsPerRow":10}]}"#).status == 200) // as it is
        // The same price is no change: allowed while seats are held.
        #expect(try server.patch(event, #"{"sections":[{"id":"A","priceCents":7000}]}"#).status == 200)
    }

    @Test func badPatchesAreRefusedBeforeRedis() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("pt")
        try server.createEvent(event)
        let bodies = [
            "{}", #"{"capacity":10}"#, #"{"holdSeconds":60}"#, #"{"name":""}"#, #"{"startsAt":"tomorrow"}"#,
            #"{"status":"cancelled"}"#, #"{"sections":[{"id":"A","seats":3,"priceCents":1}]}"#, #"{"sections":[]}"#,
            #"{"sections":[{"id":"A","rows":0,"priceCents":1}]}"#,
            #"{"sections":[{"id":"A","priceCents":-1}]}"#, #"{"name":7}"#, "[1]", "not json",
        ]
        for body in bodies {
            let reply = try server.patch(event, body)
            #expect(reply.status == 400, "\(body): \(reply.status) \(reply.text)")
        }
        #expect(try server.http.request("PATCH", "/v1/events/\(event)", headers: server.adminHeaders).status == 400) // no body
        #expect(try server.patch(event, #"{"name":"x"}"#, headers: server.buyerHeaders("u1")).status == 403)
        #expect(try server.patch(event, #"{"name":"x"}"#, headers: ["Content-Type": "application/json"]).status == 401)
        #expect(try server.patch("no-such-event", #"{"name":"x"}"#).string("error") == "event_not_found")
        let media = try server.http.request("PATCH", "/v1/events/\(event)", headers: server.adminHeaders.merging(["Content-Type": "text/plain"]) { $1 },
                                            body: Array(#"{"name":"x"}"#.utf8))
        #expect(media.status == 415)
        #expect(try server.http.request("GET", "/v1/events/\(event)").string("name") == "Test \(event)")
    }
}

@Suite struct BookingListTests {
    @Test func aBuyerSeesTheirOwnAndTheAdminSeesAllByStatus() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("bl")
        try server.createEvent(event)
        // (Lists are in creation order by the millisecond, then by id: the holds are a few ms apart.)
        let a1 = try #require(try server.hold(event, user: "alice", seats: ["A-1-1"]).string("id"))
        Thread.sleep(forTimeInterval: 0.005)
        let a2 = try #require(try server.hold(event, user: "alice", seats: ["A-1-2", "A-1-3"]).string("id"))
        Thread.sleep(forTimeInterval: 0.005)
        let b1 = try #require(try server.hold(event, user: "bob", seats: ["A-2-1"]).string("id"))
        #expect(try server.pay(event, booking: a1, user: "alice").status == 202)
        let client = try server.redis.client()
        _ = try client.run(server.redis.scripts.confirm(event: event, booking: a1, paymentId: "p1", confirmationCode: "SL-1"))

        let alice = try server.pages("/v1/events/\(event)/bookings", field: "bookings", headers: server.buyerHeaders("alice")).flatMap { $0 }
        #expect(alice.compactMap { $0["id"] as? String } == [a1, a2], "creation order, own bookings only")
        #expect(alice.first?["status"] as? String == "confirmed" && alice.first?["confirmationCode"] as? String == "SL-1")
        let bob = try server.pages("/v1/events/\(event)/bookings", field: "bookings", headers: server.buyerHeaders("bob")).flatMap { $0 }
        #expect(bob.compactMap { $0["id"] as? String } == [b1])
        let nobody = try server.http.request("GET", "/v1/events/\(event)/bookings", headers: server.buyerHeaders("carol"))
        #expect(nobody.status == 200 && (nobody.json?["bookings"] as? [Any])?.isEmpty == true && nobody.string("next") == nil)

        let admin = try server.pages("/v1/events/\(event)/bookings?limit=1", field: "bookings", headers: server.adminHeaders)
        #expect(admin.map(\.count) == [1, 1, 1] && admin.flatMap { $0 }.compactMap { $0["id"] as? String } == [a1, a2, b1])
        let held = try server.pages("/v1/events/\(event)/bookings?status=held", field: "bookings", headers: server.adminHeaders).flatMap { $0 }
        #expect(held.compactMap { $0["id"] as? String } == [a2, b1])
        let confirmed = try server.pages("/v1/events/\(event)/bookings?status=confirmed", field: "bookings", headers: server.adminHeaders).flatMap { $0 }
        #expect(confirmed.compactMap { $0["id"] as? String } == [a1])
        let aliceHeld = try server.pages("/v1/events/\(event)/bookings?status=held", field: "bookings", headers: server.buyerHeaders("alice")).flatMap { $0 }
        #expect(aliceHeld.compactMap { $0["id"] as? String } == [a2])

        // A released booking moves lists; the audit checks every list against the bookings.
        #expect(try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(b1)", headers: server.buyerHeaders("bob")).status == 200)
        let released = try server.pages("/v1/events/\(event)/bookings?status=released", field: "bookings", headers: server.adminHeaders).flatMap { $0 }
        #expect(released.compactMap { $0["id"] as? String } == [b1])
        let report = try EventAudit(eventId: event).run(client)
        #expect(report.passed, "\(report)")
    }

    @Test func cursorsAreBoundToTheCallerAndBadRequestsAreRefused() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("bl")
        try server.createEvent(event)
        for seat in ["A-1-1", "A-1-2"] { #expect(try server.hold(event, user: "dora", seats: [seat]).status == 201) }
        let page = try server.http.request("GET", "/v1/events/\(event)/bookings?limit=1", headers: server.buyerHeaders("dora"))
        let cursor = try #require(page.string("next"))
        #expect(try server.http.request("GET", "/v1/events/\(event)/bookings?limit=1&cursor=\(cursor)", headers: server.buyerHeaders("dora")).status == 200)
        let other = try server.http.request("GET", "/v1/events/\(event)/bookings?cursor=\(cursor)", headers: server.buyerHeaders("eve"))
        #expect(other.status == 400 && other.string("error") == "invalid_cursor")
        let adminWithIt = try server.http.request("GET", "/v1/events/\(event)/bookings?cursor=\(cursor)", headers: server.adminHeaders)
        #expect(adminWithIt.status == 400 && adminWithIt.string("error") == "invalid_cursor")
        #expect(try server.http.request("GET", "/v1/events/\(event)/bookings").status == 401)
        #expect(try server.http.request("GET", "/v1/events/\(event)/bookings?status=lost", headers: server.adminHeaders).string("error") == "invalid_query")
        #expect(try server.http.request("GET", "/v1/events/nope-nope/bookings", headers: server.adminHeaders).string("error") == "event_not_found")
        #expect(try server.http.request("PUT", "/v1/events/\(event)/bookings", headers: server.adminHeaders).status == 405)
    }
}

@Suite struct EventCancelRouteTests {
    @Test func cancelIsAdminOnlyFinalAndSafeToRepeat() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("cx")
        try server.createEvent(event)
        let booking = try #require(try server.hold(event, user: "finn", seats: ["A-1-1"]).string("id"))
        #expect(try server.http.request("POST", "/v1/events/\(event)/cancel", headers: server.buyerHeaders("finn")).status == 403)
        let first = try server.http.request("POST", "/v1/events/\(event)/cancel", headers: server.adminHeaders)
        #expect(first.status == 202 && first.string("status") == "cancelled" && first.string("cancelledAt") != nil)
        let again = try server.http.request("POST", "/v1/events/\(event)/cancel", headers: server.adminHeaders, json: "{}")
        #expect(again.status == 202 && again.string("cancelledAt") == first.string("cancelledAt"))
        let client = try TestRedis.shared().client()
        let types = try client.call("XRANGE", EventKeys(event).log, "-", "+").array?.compactMap { $0.array?.last?.fields["type"] } ?? []
        #expect(types.filter { $0 == "event.cancelled" }.count == 1)
        #expect(try server.hold(event, user: "gus", seats: ["A-2-2"]).string("error") == "event_cancelled")
        #expect(try server.pay(event, booking: booking, user: "finn").string("error") == "event_cancelled")
        #expect(try server.patch(event, #"{"status":"open"}"#).string("error") == "event_cancelled")
        let join = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders("gus"), json: #"{"quantity":1}"#)
        #expect(join.status == 409)
        #expect(try server.http.request("POST", "/v1/events/\(event)/cancel", headers: server.adminHeaders, json: #"{"why":1}"#).status == 400)
        #expect(try server.http.request("POST", "/v1/events/nope-nope/cancel", headers: server.adminHeaders).status == 404)
    }
}
