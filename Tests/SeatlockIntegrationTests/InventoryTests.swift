// The loop's own count of an event's seats (EventInventory): once it says
// nothing is available, holds are refused on the loop, without Redis; a
// request with an Idempotency-Key still goes to Redis (it may be a replay);
// seats that come back are sold again within the count's age.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockTestSupport
import Testing

@Suite struct InventoryTests {
    static let loopAnswer = "no seat of this event is available now; seats that come back go on sale again"

    @Test func aSoldOutEventIsRefusedOnTheLoopAndSellsAgainWhenSeatsComeBack() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try #require(try server.createEvent(event, rows: 1, seatsPerRow: 2).status == 201)
        let first = try server.hold(event, user: "inv-a", seats: ["A-1-1", "A-1-2"])
        let booking = try #require(first.string("id"))
        // Each loop follows the event once a script has answered it there: try until a loop answers by itself.
        var fromLoop: HTTPReply?
        for attempt in 0..<60 where fromLoop == nil {
            let reply = try server.hold(event, user: "inv-b-\(attempt)", seats: ["A-1-1"])
            #expect(reply.status == 409, "\(reply.text)")
            if reply.string("message") == Self.loopAnswer { fromLoop = reply } else { Thread.sleep(forTimeInterval: 0.05) }
        }
        let refused = try #require(fromLoop, "no loop answered sold_out by itself within 3 s")
        #expect(refused.string("error") == "sold_out" && refused.json?["available"] as? Int == 0, "\(refused.text)")
        let samples = try PrometheusParser.parse(try server.http.request("GET", "/metrics").body)
        #expect(samples.first { $0.name == "seatlock_holds_refused_without_redis_total" }?.value ?? 0 >= 1)
        // With an Idempotency-Key, Redis answers (the script's own refusal).
        for attempt in 0..<10 {
            let keyed = try server.hold(event, user: "inv-c", seats: ["A-1-1"], idempotencyKey: "inv-key-\(attempt)")
            #expect(keyed.status == 409 && keyed.string("error") == "seats_unavailable", "\(keyed.text)")
        }
        // The seats come back: within the count's age (a few hundred ms) they sell again, on every loop.
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("inv-a"))
        try #require(released.status == 200)
        var sold = false
        let deadline = Date().addingTimeInterval(3)
        while !sold, Date() < deadline {
            let reply = try server.hold(event, user: "inv-d", seats: ["A-1-2"])
            sold = reply.status == 201
            if !sold { Thread.sleep(forTimeInterval: 0.05) }
        }
        #expect(sold, "the seat that came back was not sold within 3 s")
        let audit = try EventAudit(eventId: event).run(server.redis.client())
        #expect(audit.passed, "\(audit.text)")
    }

    @Test func anEventThatDoesNotExistIsNotFollowed() throws {
        let server = try TestServer.shared()
        for attempt in 0..<5 {
            let reply = try server.hold("no-such-\(attempt % 2)", user: "inv-ghost", seats: ["A-1-1"])
            #expect(reply.status == 404 && reply.string("error") == "event_not_found", "\(reply.text)")
        }
    }
}
