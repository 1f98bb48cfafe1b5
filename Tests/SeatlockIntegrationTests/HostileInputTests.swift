// The booking API under attack, from outside: hostile requests over real
// sockets to a real server on a real redis-server. Every hostile case starts
// from a request that would succeed (a real event, a real buyer token, a real
// held booking) and breaks one thing. The answer must be a 4xx with the API's
// JSON error body. Afterwards the server still answers /healthz, and neither
// the event nor the held booking has changed. Then come forged and broken
// buyer tokens, one buyer reaching for another's booking (BOLA), and the
// per-buyer seat limit pushed from outside. The on-sale queue's and the
// waitlist's routes are in the table too (the fixture's event sells
// directly); the requests that need an event with a queue run against one
// in QueuedEventHostileTests.
import Crypto
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockTestSupport
import Testing

@Suite struct HostileInputTests {
    @Test("A hostile request gets a 4xx JSON error and changes nothing", arguments: HostileCase.all)
    func hostileRequestIsRefused(_ hostile: HostileCase) throws {
        try attack(with: hostile)
    }

    /// These break the request line itself. libevent 2.1 refuses them before
    /// any handler runs, with its own HTML "400 Bad Request". The API says every
    /// error has the JSON body, so they are held to the same rule.
    @Test("A request line libevent cannot parse still gets a JSON 400", arguments: HostileCase.brokenRequestLines)
    func brokenRequestLineIsRefused(_ hostile: HostileCase) throws {
        try attack(with: hostile)
    }

    @Test func theTableHasAtLeastFortyFiveCasesEachNamedOnce() {
        let names = HostileCase.all.map(\.name)
        #expect(names.count >= 45)
        let repeated = Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(repeated.isEmpty, "named twice: \(repeated)")
    }

    /// The control group: the same fixture and the same requests, unbroken,
    /// succeed. Without this a 4xx above could come from a bad fixture.
    @Test func theSameRequestsUnbrokenSucceed() throws {
        let server = try TestServer.shared()
        let f = try HostileFixture.make(on: server)
        let http = server.http
        #expect(try http.request("GET", "/v1/events/\(f.event)").status == 200)
        #expect(try http.request("GET", "/v1/events/\(f.event)/seats").status == 200)
        #expect(try http.request("GET", "/v1/events/\(f.event)/seats?section=A").status == 200)
        #expect(try http.request("GET", bookingPath(f), headers: f.headers).status == 200)

        let unique = shortUnique()
        let plain = try http.request("POST", holdPath(f), headers: server.buyerHeaders("plain-\(unique)"), body: validHold)
        #expect(plain.status == 201, "\(preview(plain))")
        let keyed = try http.request("POST", holdPath(f), headers: server.buyerHeaders("keyed-\(unique)", idempotencyKey: "retry-1"),
                                     json: #"{"seats":["A-1-2"]}"#)
        #expect(keyed.status == 201, "\(preview(keyed))")
        var charset = server.buyerHeaders("charset-\(unique)")
        charset["Content-Type"] = "application/json; charset=utf-8"
        let withCharset = try http.request("POST", holdPath(f), headers: charset, json: #"{"seats":["A-1-3"]}"#)
        #expect(withCharset.status == 201, "\(preview(withCharset))")
        let best = try http.request("POST", holdPath(f), headers: server.buyerHeaders("best-\(unique)"), json: #"{"quantity":2,"section":"A"}"#)
        #expect(best.status == 201, "\(preview(best))")
        // A token made by hand the way the forged ones below are made, but
        // correctly, is accepted. So the 401s there come from what each one breaks.
        let handMade = ForgedToken.make(header: ForgedToken.hs256Header, claims: ForgedToken.claims("handmade-\(unique)"), signature: .hs256)
        let byHandMade = try http.request("POST", holdPath(f), headers: ["Authorization": "Bearer " + handMade, "Content-Type": "application/json"],
                                          json: #"{"seats":["A-2-1"]}"#)
        #expect(byHandMade.status == 201, "\(preview(byHandMade))")

        // The queue's and the waitlist's requests as the cases below send them, unbroken. The
        // fixture's event sells directly, so the unbroken answers are these 409s: the 400s,
        // 401s, 403s and 422s there come from what each case breaks.
        let waitlisted = try http.request("POST", waitlistPath(f), headers: f.headers, json: validWaitlist)
        #expect(waitlisted.status == 409 && waitlisted.string("error") == "waitlist_not_open", "\(preview(waitlisted))")
        let withSection = try http.request("POST", waitlistPath(f), headers: f.headers, json: #"{"quantity":2,"section":"A"}"#)
        #expect(withSection.status == 409 && withSection.string("error") == "waitlist_not_open", "\(preview(withSection))")
        let entry = try http.request("GET", waitlistPath(f) + "/me", headers: f.headers)
        #expect(entry.status == 404 && entry.string("error") == "not_on_waitlist", "\(preview(entry))")
        let joined = try http.request("POST", queuePath(f), headers: f.headers)
        #expect(joined.status == 409 && joined.string("error") == "no_queue", "\(preview(joined))")
        let polled = try http.request("GET", queuePath(f) + "/me", headers: ["Queue-Token": signedQueueToken(event: f.event, user: f.owner)])
        #expect(polled.status == 409 && polled.string("error") == "no_queue", "\(preview(polled))")
        let paused = try http.request("POST", queuePath(f) + "/pause", headers: adminJSONHeaders)
        #expect(paused.status == 409 && paused.string("error") == "no_queue", "\(preview(paused))")
        // Queue tokens and admissions made by hand the way the forged ones are made, but
        // correctly, are the server's own (QueuedEventHostileTests checks one it issued).
        let deadline = nowMilliseconds + 600_000
        #expect(signedQueuePayload("q1.\(f.event).\(f.owner).7") == signedQueueToken(event: f.event, user: f.owner, position: 7))
        #expect(signedQueuePayload("a1.\(f.event).\(f.owner).7.\(deadline)")
            == serverQueueTokens.admissionToken(Admission(eventId: f.event, userId: f.owner, position: 7, expiresAt: deadline)))
        // The queue the creation cases break, unbroken, makes a queued event.
        let queued = try http.request("POST", "/v1/events", headers: adminJSONHeaders, json: queuedEventJSON(id: queuedEventId(f), queue: validQueue))
        #expect(queued.status == 201, "\(preview(queued))")
        #expect(try http.request("GET", "/v1/events/\(queuedEventId(f))").status == 200)

        let paid = try http.request("POST", bookingPath(f) + "/payment", headers: f.headers, body: validPayment)
        #expect(paid.status == 202 && paid.string("status") == "payment_pending", "\(preview(paid))")
        let released = try http.request("DELETE", bookingPath(f), headers: f.headers)
        #expect(released.status == 200 && released.string("status") == "released", "\(preview(released))")

        let registered = try http.request("POST", "/v1/users", headers: jsonHeaders,
                                          json: userJSON(email: jsonString(f.email)))
        #expect(registered.status == 201, "\(preview(registered))")
        #expect(registered.string("id") != nil)
        let token = try #require(registered.string("token"))
        let byRegistered = try http.request("POST", holdPath(f), headers: ["Authorization": "Bearer " + token, "Content-Type": "application/json"],
                                            json: #"{"seats":["A-4-1"]}"#)
        #expect(byRegistered.status == 201, "\(preview(byRegistered))")
    }

    private func attack(with hostile: HostileCase) throws {
        let server = try TestServer.shared()
        let fixture = try HostileFixture.make(on: server)
        if hostile.registersEmailFirst {
            let first = try server.http.request("POST", "/v1/users", headers: jsonHeaders,
                                                json: userJSON(email: jsonString(fixture.email), name: jsonString("First Owner")))
            try #require(first.status == 201, "registering \(fixture.email) first: \(preview(first))")
        }
        let reply = try deliver(hostile.request(fixture), over: server.http)
        expectRefusal(reply, hostile.outcome, hostile.name)
        if let check = hostile.afterwards {
            let again = try deliver(check.request(fixture), over: server.http)
            expectRefusal(again, check.outcome, "\(hostile.name): afterwards, \(check.name)")
        }
        try expectHealthyAndUnchanged(server, fixture, after: hostile.name)
    }
}

@Suite struct TokenAttackTests {
    @Test("A broken or forged buyer token is 401 unauthorized", arguments: HostileTokenCase.all)
    func brokenTokenIsRefused(_ token: HostileTokenCase) throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("tk")
        try #require(try server.createEvent(event).status == 201)
        var headers = ["Content-Type": "application/json"]
        headers["Authorization"] = token.authorization()
        let reply = try server.http.request("POST", "/v1/events/\(event)/bookings", headers: headers, json: #"{"seats":["A-1-1"]}"#)
        expectRefusal(reply, .unauthorized, token.name)
        #expect(try server.http.request("GET", "/healthz").status == 200, "\(token.name): /healthz afterwards")
        let summary = try server.http.request("GET", "/v1/events/\(event)")
        #expect(summary.json?["held"] as? Int == 0, "\(token.name): something was held: \(preview(summary))")
    }

    /// A body that hides a second request (request smuggling): every
    /// ambiguous framing is a 400 and the connection closes, so the hidden
    /// DELETE never runs and the booking stays held.
    @Test(arguments: [
        "Transfer-Encoding : chunked\r\nContent-Length: LEN",   // whitespace before the colon (RFC 9112 5.1)
        "Transfer-Encoding: chunked\r\nContent-Length: LEN",    // both framings
        "Content-Length: LEN\r\nContent-Length: 7",             // two lengths that disagree
        "Transfer-Encoding: gzip, chunked\r\nContent-Length: LEN", // a coding evhttp does not decode
        "Content-Length : LEN",                                 // whitespace before the colon again
    ])
    func aSmuggledRequestNeverRuns(_ framing: String) throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try #require(try server.createEvent(event).status == 201)
        let user = "smuggle-\(UUID().uuidString.prefix(8))"
        let held = try server.hold(event, user: user, seats: ["A-1-1"])
        let booking = try #require(held.string("id"))
        let auth = "Authorization: Bearer \(server.token(user))\r\n"
        let hidden = "DELETE /v1/events/\(event)/bookings/\(booking) HTTP/1.1\r\nHost: x\r\n\(auth)\r\n"
        let body = #"{"seats":["A-2-1"]}"#
        let head = "POST /v1/events/\(event)/bookings HTTP/1.1\r\nHost: x\r\n\(auth)Content-Type: application/json\r\n"
            + framing.replacingOccurrences(of: "LEN", with: String(body.utf8.count)) + "\r\n\r\n"
        let connection = try OpenConnection(port: server.port)
        defer { connection.close() }
        #expect(connection.send(Array((head + body + hidden).utf8)))
        let answer = String(decoding: try connection.readUntilClosed(), as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(framing): \(answer.prefix(200))")
        #expect(answer.contains("ambiguous_framing") || answer.contains("malformed_request"), "\(framing): \(answer.prefix(300))")
        #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "\(framing): more than one answer: \(answer.prefix(400))")
        let after = try server.http.request("GET", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders(user))
        #expect(after.string("status") == "held", "\(framing): \(preview(after))")
        let summary = try server.http.request("GET", "/v1/events/\(event)")
        #expect(summary.json?["held"] as? Int == 1, "\(framing): the smuggling request itself held seats: \(preview(summary))")
    }

    /// Event `users` would share its keys with the registered buyers
    /// (`sl:{users}:…`): refused at creation, and unreachable through the API.
    @Test func anEventNamedLikeTheUsersHashTagIsRefusedAndNothingIsWritten() throws {
        let server = try TestServer.shared()
        let created = try server.createEvent("users")
        #expect(created.status == 400 && created.string("error") == "invalid_request", "\(preview(created))")
        let user = "reg-\(UUID().uuidString.prefix(8))"
        for (method, path, body) in [("GET", "/v1/events/users", nil), ("GET", "/v1/events/users/seats", nil),
                                     ("POST", "/v1/events/users/bookings", #"{"seats":["A-1-1"]}"#)] {
            let reply = try server.http.request(method, path, headers: server.buyerHeaders(user), body: body.map { Array($0.utf8) })
            #expect(reply.status == 404 && reply.string("error") == "event_not_found", "\(method) \(path): \(preview(reply))")
        }
        let client = try TestRedis.shared().client()
        #expect(try client.scanKeys("sl:{users}:*\(user)*").isEmpty)
        for name in ["event", "seats", "log", "sold"] { #expect(try client.call("EXISTS", "sl:{users}:" + name).int == 0, "\(name)") }
    }

    @Test func theAdminTokenIsNotABuyerAndABuyerTokenIsNotTheAdmin() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("adm")
        try #require(try server.createEvent(event).status == 201)
        let adminHolds = try server.http.request("POST", "/v1/events/\(event)/bookings", headers: server.adminHeaders, json: #"{"seats":["A-1-1"]}"#)
        expectRefusal(adminHolds, .forbidden, "admin token holding seats")

        let buyer = "buyer-" + shortUnique()
        let held = try server.hold(event, user: buyer, seats: ["A-2-2"])
        try #require(held.status == 201, "\(preview(held))")
        let booking = try #require(held.string("id"))
        let adminPays = try server.http.request("POST", "/v1/events/\(event)/bookings/\(booking)/payment", headers: server.adminHeaders,
                                                body: validPayment)
        expectRefusal(adminPays, .forbidden, "admin token paying for a buyer's booking")
        let after = try server.http.request("GET", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders(buyer))
        #expect(after.status == 200 && after.string("status") == "held", "\(preview(after))")

        let eventId = TestServer.uniqueEventId("adm")
        let body = #"{"id":"\#(eventId)","name":"n","venue":"v","startsAt":"2027-01-01T00:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":1,"priceCents":1}]}"#
        let buyerCreates = try server.http.request("POST", "/v1/events", headers: server.buyerHeaders(buyer), json: body)
        expectRefusal(buyerCreates, .forbidden, "buyer token creating an event")
        #expect(try server.http.request("GET", "/v1/events/\(eventId)").status == 404)
    }
}

@Suite struct OtherBuyersBookingTests {
    @Test func anotherBuyerGetsNotFoundAndTheBookingStaysAsItWas() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("bola")
        try #require(try server.createEvent(event).status == 201)
        let unique = shortUnique()
        let alice = "alice-" + unique, mallory = "mallory-" + unique
        let held = try server.hold(event, user: alice, seats: ["A-3-4", "A-3-5"])
        try #require(held.status == 201, "\(preview(held))")
        let booking = try #require(held.string("id"))
        let path = "/v1/events/\(event)/bookings/\(booking)"
        let before = try server.http.request("GET", path, headers: server.buyerHeaders(alice))
        try #require(before.status == 200, "\(preview(before))")

        let read = try server.http.request("GET", path, headers: server.buyerHeaders(mallory))
        expectRefusal(read, .bookingNotFound, "another buyer's GET")
        let release = try server.http.request("DELETE", path, headers: server.buyerHeaders(mallory))
        expectRefusal(release, .bookingNotFound, "another buyer's DELETE")
        let pay = try server.pay(event, booking: booking, user: mallory)
        expectRefusal(pay, .bookingNotFound, "another buyer's payment")
        // Someone else's booking and one that does not exist look the same.
        let missing = try server.http.request("GET", "/v1/events/\(event)/bookings/bnosuchbooking000000", headers: server.buyerHeaders(mallory))
        #expect(missing.status == read.status && missing.body == read.body, "\(preview(missing)) vs \(preview(read))")
        // The owner's own booking id under another event is not found either.
        let otherEvent = TestServer.uniqueEventId("bola")
        try #require(try server.createEvent(otherEvent).status == 201)
        let elsewhere = try server.http.request("GET", "/v1/events/\(otherEvent)/bookings/\(booking)", headers: server.buyerHeaders(alice))
        expectRefusal(elsewhere, .bookingNotFound, "the owner's booking id under another event")

        let after = try server.http.request("GET", path, headers: server.buyerHeaders(alice))
        #expect(after.status == 200 && after.string("status") == "held", "\(preview(after))")
        #expect(after.seats == ["A-3-4", "A-3-5"])
        for field in ["userId", "expiresAt", "createdAt"] {
            #expect(after.string(field) != nil && after.string(field) == before.string(field), "\(field) changed: \(preview(after))")
        }
        let totalBefore = before.json?["totalCents"] as? Int, totalAfter = after.json?["totalCents"] as? Int
        #expect(totalBefore != nil && totalAfter == totalBefore)
        let seats = try seatStatuses(server, event)
        #expect(seats["A-3-4"] == "held" && seats["A-3-5"] == "held", "\(seats.filter { $0.key.hasPrefix("A-3-") })")
        #expect(try heldCount(server, event) == 2)
        // Nothing the other buyer tried got in the owner's way.
        let paid = try server.pay(event, booking: booking, user: alice)
        #expect(paid.status == 202 && paid.string("status") == "payment_pending", "\(preview(paid))")
    }
}

@Suite struct SeatLimitFromOutsideTests {
    @Test func aBuyerNeverHoldsMoreThanMaxSeatsPerUser() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("lim")
        try #require(try server.createEvent(event, maxSeatsPerUser: 4).status == 201)
        let buyer = "collector-" + shortUnique()
        let three = try server.hold(event, user: buyer, seats: ["A-1-1", "A-1-2", "A-1-3"])
        #expect(three.status == 201, "\(preview(three))")
        expectRefusal(try server.hold(event, user: buyer, seats: ["A-2-1", "A-2-2"]), .limitExceeded, "3 held, 2 more asked")
        expectRefusal(try server.holdBest(event, user: buyer, quantity: 2), .limitExceeded, "3 held, best available 2 asked")
        #expect(try heldCount(server, event) == 3)
        let one = try server.hold(event, user: buyer, seats: ["A-2-1"])
        #expect(one.status == 201, "\(preview(one))")
        expectRefusal(try server.hold(event, user: buyer, seats: ["A-2-2"]), .limitExceeded, "4 held, 1 more asked")
        expectRefusal(try server.holdBest(event, user: buyer, quantity: 1), .limitExceeded, "4 held, best available 1 asked")
        #expect(try heldCount(server, event) == 4)

        // Giving a seat back makes room for exactly one more.
        let oneBooking = try #require(one.string("id"))
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(oneBooking)", headers: server.buyerHeaders(buyer))
        #expect(released.status == 200, "\(preview(released))")
        #expect(try server.hold(event, user: buyer, seats: ["A-2-2"]).status == 201)
        expectRefusal(try server.hold(event, user: buyer, seats: ["A-2-3"]), .limitExceeded, "4 held again, 1 more asked")
        #expect(try heldCount(server, event) == 4)
        let held = try seatStatuses(server, event).filter { $0.value == "held" }.keys.sorted()
        #expect(held == ["A-1-1", "A-1-2", "A-1-3", "A-2-2"])
        // The limit is per buyer: someone else still gets their four.
        #expect(try server.hold(event, user: "neighbour-" + shortUnique(), seats: ["A-3-1", "A-3-2", "A-3-3", "A-3-4"]).status == 201)
    }

    @Test func concurrentHoldsByOneBuyerStopAtTheLimit() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("lim")
        try #require(try server.createEvent(event, rows: 6, maxSeatsPerUser: 4).status == 201)
        let buyer = "racer-" + shortUnique()
        let log = ReplyLog()
        DispatchQueue.concurrentPerform(iterations: 6) { index in
            do {
                log.append(try server.hold(event, user: buyer, seats: ["A-\(index + 1)-1", "A-\(index + 1)-2"]))
            } catch {
                log.fail("\(error)")
            }
        }
        #expect(log.failures.isEmpty, "\(log.failures)")
        let replies = log.replies
        #expect(replies.map(\.status).sorted() == [201, 201, 422, 422, 422, 422], "\(replies.map(preview))")
        for refused in replies where refused.status != 201 { expectRefusal(refused, .limitExceeded, "a racing hold past the limit") }
        #expect(try heldCount(server, event) == 4)
    }
}

@Suite struct QueuedEventHostileTests {
    /// The table's fixture sells directly. These requests need an event that sells through
    /// its queue: one such event, its owner admitted and holding A-1-1 with the admission.
    /// Each request gets its 4xx and code; afterwards the event, the booking, the queue, the
    /// waitlist and the event's log are as they were.
    @Test func hostileRequestsToAQueuedEventAreRefusedAndChangeNothing() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("hxq")
        try QueueTests.createQueuedEvent(server, event, seats: 20, queue: #"{"admitPerSecond":1000,"admissionSeconds":600}"#)
        let unique = shortUnique()
        let owner = "qowner-" + unique, mallory = "qmallory-" + unique
        let path = "/v1/events/\(event)"
        let joined = try server.http.request("POST", path + "/queue", headers: server.buyerHeaders(owner))
        try #require(joined.status == 201, "joining: \(preview(joined))")
        let queueToken = try #require(joined.string("queueToken"), "\(preview(joined))")
        let position = try #require(joined.json?["position"] as? Int, "\(preview(joined))")
        // The tokens the cases make by hand are made as the server makes them.
        #expect(signedQueueToken(event: event, user: owner, position: position) == queueToken)
        let place = try QueueTests.pollUntil(server, event, queueToken, ["admitted"])
        let admission = try #require(place.string("admissionToken"), "the owner was not admitted: \(preview(place))")
        var admitted = server.buyerHeaders(owner)
        admitted["Admission"] = admission
        let held = try server.http.request("POST", path + "/bookings", headers: admitted, json: #"{"seats":["A-1-1"]}"#)
        try #require(held.status == 201, "holding A-1-1 with the admission: \(preview(held))")
        let booking = try #require(held.string("id"))

        let now = nowMilliseconds
        func hold(_ user: String, admission token: String?) -> HostileWire {
            var headers = server.buyerHeaders(user)
            headers["Admission"] = token
            return .http(method: "POST", path: path + "/bookings", headers: headers, body: Array(#"{"seats":["A-1-2"]}"#.utf8))
        }
        func poll(_ token: String?) -> HostileWire {
            var headers: [String: String] = [:]
            headers["Queue-Token"] = token
            return .http(method: "GET", path: path + "/queue/me", headers: headers, body: nil)
        }
        func send(_ method: String, _ tail: String, _ headers: [String: String], json: String? = nil) -> HostileWire {
            .http(method: method, path: path + tail, headers: headers, body: json.map { Array($0.utf8) })
        }
        let unsignedForMallory = bearer(ForgedToken.make(header: #"{"alg":"none","typ":"JWT"}"#, claims: ForgedToken.claims(mallory),
                                                         signature: .unsigned))
        let zeroedAdmission = "a1.\(event).\(owner).\(position).\(now + 600_000).\(zeroMAC)"
        let laterAdmission = replacingField(4, of: admission, with: String(now + 86_400_000))
        let expiredAdmission = signedAdmission(event: event, user: owner, position: position, expiresIn: -1)
        let unreachedAdmission = signedAdmission(event: event, user: mallory, position: 1000)
        let zeroedPlace = "q1.\(event).\(owner).\(position).\(zeroMAC)"
        let movedPlace = replacingField(3, of: queueToken, with: String(position + 1))
        let elsewherePlace = signedQueueToken(event: "\(event)x", user: owner, position: position)
        let otherSecretPlace = QueueTokens(secret: otherSecret).queueToken(QueueTicket(eventId: event, userId: owner, position: position))
        let cases: [(name: String, wire: HostileWire, outcome: HostileOutcome)] = [
            ("a hold without an Admission header, by a buyer who never joined", hold(mallory, admission: nil), .admissionRequired),
            ("a hold by another buyer with the owner's admission", hold(mallory, admission: admission), .admissionInvalid),
            ("a hold with Admission: garbage", hold(owner, admission: "garbage"), .admissionInvalid),
            ("a hold with the owner's admission remade with an all-zero MAC", hold(owner, admission: zeroedAdmission), .admissionInvalid),
            ("a hold with the owner's admission respelled in its MAC's unused bits", hold(owner, admission: respelled(admission)), .admissionInvalid),
            ("a hold with the owner's admission, its deadline moved a day later", hold(owner, admission: laterAdmission), .admissionInvalid),
            ("a hold with the owner's queue token as the admission", hold(owner, admission: queueToken), .admissionInvalid),
            ("a hold with a genuine admission of the owner's that expired a second ago", hold(owner, admission: expiredAdmission), .admissionInvalid),
            ("a hold with a genuine admission at a position the queue has not reached", hold(mallory, admission: unreachedAdmission), .admissionInvalid),
            ("a poll without a Queue-Token", poll(nil), .queueTokenRequired),
            ("a poll with Queue-Token: garbage", poll("garbage"), .invalidQueueToken),
            ("a poll with a 300-character Queue-Token", poll(String(repeating: "q", count: 300)), .invalidQueueToken),
            ("a poll with the owner's place remade with an all-zero MAC", poll(zeroedPlace), .invalidQueueToken),
            ("a poll with the owner's queue token respelled in its MAC's unused bits", poll(respelled(queueToken)), .invalidQueueToken),
            ("a poll with the owner's queue token moved to the next position", poll(movedPlace), .invalidQueueToken),
            ("a poll with a genuine queue token of the owner's for another event", poll(elsewherePlace), .invalidQueueToken),
            ("a poll with the owner's place signed with another secret", poll(otherSecretPlace), .invalidQueueToken),
            ("a poll with the owner's admission as the queue token", poll(admission), .invalidQueueToken),
            ("a poll with the owner's bearer token as the queue token", poll(server.token(owner)), .invalidQueueToken),
            ("pausing with the owner's buyer token", send("POST", "/queue/pause", server.buyerHeaders(owner)), .forbidden),
            ("resuming with the owner's buyer token", send("POST", "/queue/resume", server.buyerHeaders(owner)), .forbidden),
            ("pausing without a token", send("POST", "/queue/pause", [:]), .unauthorized),
            ("resuming without a token", send("POST", "/queue/resume", [:]), .unauthorized),
            ("pausing with the owner's queue token as the bearer token", send("POST", "/queue/pause", ["Authorization": bearer(queueToken)]), .unauthorized),
            ("pausing with the owner's admission as the bearer token", send("POST", "/queue/pause", ["Authorization": bearer(admission)]), .unauthorized),
            ("joining with the admin token", send("POST", "/queue", server.adminHeaders), .forbidden),
            ("joining without a token", send("POST", "/queue", [:]), .unauthorized),
            ("joining with an unsigned (alg none) token naming another buyer", send("POST", "/queue", ["Authorization": unsignedForMallory]), .unauthorized),
            ("joining the waitlist while seats are on sale", send("POST", "/waitlist", server.buyerHeaders(mallory), json: validWaitlist),
             .waitlistNotOpen),
            ("joining the waitlist with a field choosing the position",
             send("POST", "/waitlist", server.buyerHeaders(mallory), json: #"{"quantity":1,"position":1}"#), .invalidRequest),
            ("joining the waitlist for 51 seats", send("POST", "/waitlist", server.buyerHeaders(mallory), json: #"{"quantity":51}"#), .limitExceeded),
            ("reading the waitlist entry of a buyer who never joined", send("GET", "/waitlist/me", server.buyerHeaders(mallory)), .notOnWaitlist),
            ("leaving the waitlist as a buyer who never joined", send("DELETE", "/waitlist/me", server.buyerHeaders(mallory)), .notOnWaitlist),
        ]

        let client = try server.redis.client()
        let keys = EventKeys(event)
        /// The queue's settings and counts, who is in it, the waitlist, and the log (its
        /// advances aside: the queue reached the owner before this is first read).
        func state() throws -> String {
            let queue = try client.call("HMGET", keys.queue, "status", "paused", "joined", "prequeued").array?.map { $0.string ?? "-" } ?? []
            let positions = try client.call("HLEN", keys.queuePositions).int ?? -1
            let prequeue = try client.call("ZCARD", keys.prequeue).int ?? -1
            let waitlist = try client.call("ZCARD", keys.waitlist).int ?? -1
            let entries = try client.send(["XRANGE", keys.log, "-", "+"]).array ?? []
            let log = entries.compactMap { $0.array?.last?.fields["type"] }.filter { $0 != "queue.advanced" }
            return "queue \(queue), positions \(positions), prequeue \(prequeue), waitlist \(waitlist), log \(log)"
        }
        let before = try state()
        for hostile in cases {
            let reply = try deliver(hostile.wire, over: server.http)
            expectRefusal(reply, hostile.outcome, hostile.name)
            let health = try server.http.request("GET", "/healthz")
            #expect(health.status == 200, "\(hostile.name): /healthz answered \(preview(health))")
            let summary = try server.http.request("GET", path)
            let heldSeats = summary.json?["held"] as? Int, soldSeats = summary.json?["sold"] as? Int
            #expect(summary.status == 200 && heldSeats == 1 && soldSeats == 0, "\(hostile.name): the event changed: \(preview(summary))")
            let after = try server.http.request("GET", path + "/bookings/\(booking)", headers: server.buyerHeaders(owner))
            #expect(after.status == 200 && after.string("status") == "held" && after.seats == ["A-1-1"],
                    "\(hostile.name): the held booking changed: \(preview(after))")
            let current = try state()
            #expect(current == before, "\(hostile.name): the queue, the waitlist or the log changed: \(before) -> \(current)")
        }
        // The owner's own place is still answered, and still admitted.
        let still = try server.http.request("GET", path + "/queue/me", headers: ["Queue-Token": queueToken])
        #expect(still.status == 200 && still.string("status") == "admitted", "\(preview(still))")
    }
}

// MARK: - the hostile cases

/// One hostile request: its name, how to build it from a fixture, and the answer it must get.
struct HostileCase: Sendable, CustomTestStringConvertible {
    let name: String
    let outcome: HostileOutcome
    /// Register the fixture's e-mail address before sending the request (the duplicate-address case).
    let registersEmailFirst: Bool
    /// Sent after the request: what the request tried to make (an event, a waitlist entry) was not made.
    let afterwards: HostileAftercheck?
    let request: @Sendable (HostileFixture) -> HostileWire

    init(_ name: String, _ outcome: HostileOutcome, registersEmailFirst: Bool = false, afterwards: HostileAftercheck? = nil,
         request: @escaping @Sendable (HostileFixture) -> HostileWire) {
        self.name = name
        self.outcome = outcome
        self.registersEmailFirst = registersEmailFirst
        self.afterwards = afterwards
        self.request = request
    }

    var testDescription: String { name }

    static let all: [HostileCase] = holdBodies + paymentBodies + requestHeaders + seatListingQueries + pathIds + registrations
        + queueRoutes + queueTokenHeaders + admissionHeaders + waitlistRequests + queuedEventCreations

    static let holdBodies: [HostileCase] = [
        // Not JSON, or not the JSON asked for.
        hold("truncated after the seat list", #"{"seats":["A-1-1""#),
        hold("truncated inside a string", #"{"seats":["A-1"#),
        hold("trailing garbage after the object", #"{"seats":["A-1-1"]}garbage"#),
        hold("two objects back to back", #"{"seats":["A-1-1"]}{"seats":["A-1-2"]}"#),
        hold("a JSON string, not an object", #""A-1-1""#),
        hold("a bare number", "42"),
        hold("null", "null"),
        hold("an array holding the object", #"[{"seats":["A-1-1"]}]"#),
        hold("an empty array", "[]"),
        hold("an empty body", ""),
        hold("NaN as the quantity", #"{"quantity":NaN,"section":"A"}"#),
        hold("Infinity as the quantity", #"{"quantity":Infinity,"section":"A"}"#),
        hold("a block comment", #"{"seats":["A-1-1"]/* hold */}"#),
        hold("a line comment", "{\"seats\":[\"A-1-1\"] // hold\n}"),
        hold("single quotes", #"{'seats':['A-1-1']}"#),
        hold("an unquoted key", #"{seats:["A-1-1"]}"#),
        hold("a trailing comma in the object", #"{"seats":["A-1-1"],}"#),
        hold("a trailing comma in the list", #"{"seats":["A-1-1",]}"#),
        hold("the same key twice", #"{"seats":["A-1-1"],"seats":["A-1-2"]}"#),
        hold("an invalid escape", #"{"seats":["A-1-\x31"]}"#),
        hold("a lone surrogate escape", #"{"seats":["A-1-1\ud800"]}"#),
        hold("a quantity with a leading plus (+2, not JSON)", #"{"quantity":+2,"section":"A"}"#),
        hold("a quantity with a leading zero (02, not JSON)", #"{"quantity":02,"section":"A"}"#),
        hold("a quantity in hex (0x2)", #"{"quantity":0x2,"section":"A"}"#),
        // Wrong types.
        hold("seats as a string", #"{"seats":"A-1-1"}"#),
        hold("seats as numbers", #"{"seats":[1,2]}"#),
        hold("seats nested in a list", #"{"seats":[["A-1-1"]]}"#),
        hold("seats as an object", #"{"seats":{"A-1-1":true}}"#),
        hold("seats null", #"{"seats":null}"#),
        hold("quantity as a string", #"{"quantity":"2","section":"A"}"#),
        hold("quantity as a float", #"{"quantity":2.5,"section":"A"}"#),
        hold("quantity as a bool", #"{"quantity":true,"section":"A"}"#),
        hold("quantity null", #"{"quantity":null,"section":"A"}"#),
        hold("section as a number", #"{"quantity":2,"section":1}"#),
        hold("section as a list", #"{"quantity":2,"section":["A"]}"#),
        // Huge, negative and zero numbers.
        hold("quantity 1e309 (past the largest double)", #"{"quantity":1e309,"section":"A"}"#),
        hold("quantity -1e309", #"{"quantity":-1e309,"section":"A"}"#),
        hold("quantity 99999999999999999999", #"{"quantity":99999999999999999999,"section":"A"}"#),
        hold("quantity 2^63", #"{"quantity":9223372036854775808,"section":"A"}"#),
        hold("quantity 1e-400 (underflows to zero)", #"{"quantity":1e-400,"section":"A"}"#),
        hold("quantity -1", #"{"quantity":-1,"section":"A"}"#),
        hold("quantity 0", #"{"quantity":0,"section":"A"}"#),
        hold("quantity -0", #"{"quantity":-0,"section":"A"}"#),
        hold("row 0", #"{"seats":["A-0-1"]}"#),
        hold("a negative row", #"{"seats":["A--1-1"]}"#),
        hold("a row the event does not have", #"{"seats":["A-99-1"]}"#),
        hold("a seat number with a leading zero", #"{"seats":["A-1-01"]}"#),
        hold("seat number 10000", #"{"seats":["A-1-10000"]}"#),
        // Unicode, control characters and key-shaping characters in seat ids.
        hold("a NUL escape in a seat id", #"{"seats":["A-1-1\u0000"]}"#),
        hold("an emoji as the seat number", #"{"seats":["A-1-🎟"]}"#),
        hold("an RTL override before a seat id (escaped)", #"{"seats":["\u202eA-1-1"]}"#),
        hold("an RTL override inside a seat id (raw UTF-8)", "{\"seats\":[\"A-1-\u{202E}1\"]}"),
        hold("fullwidth digits in a seat id", #"{"seats":["A-１-１"]}"#),
        hold("a combining accent on the section of a seat id", "{\"seats\":[\"A\u{301}-1-1\"]}"),
        hold("a zero-width space after a seat id", #"{"seats":["A-1-1\u200b"]}"#),
        hold("CR LF in a seat id", #"{"seats":["A-1-1\r\nX"]}"#),
        hold("a tab in a seat id", #"{"seats":["A-1-\t1"]}"#),
        hold("a hash tag in a seat id", #"{"seats":["A-1-1{x}"]}"#),
        hold("colons instead of dashes in a seat id", #"{"seats":["A:1:1"]}"#),
        hold("a glob in a seat id", #"{"seats":["A-1-*"]}"#),
        hold("a space in a seat id", #"{"seats":["A -1-1"]}"#),
        hold("a literal %00 in a seat id", #"{"seats":["A-1-1%00"]}"#),
        hold("a 5000-character seat id", longSeatIdBody),
        holdBytes("a raw NUL byte inside a seat id", bodyBytes(#"{"seats":["A-1-"#, [0x00], #"1"]}"#)),
        holdBytes("a raw NUL byte between tokens", bodyBytes(#"{"seats":["A-1-1"]"#, [0x00], "}")),
        holdBytes("invalid UTF-8 (C3 28) inside a seat id", bodyBytes(#"{"seats":["A-1-"#, [0xC3, 0x28], #""]}"#)),
        holdBytes("a lone continuation byte (80) inside a key", bodyBytes(#"{"seats"#, [0x80], #"":["A-1-1"]}"#)),
        holdBytes("an overlong UTF-8 '/' (C0 AF) inside a seat id", bodyBytes(#"{"seats":["A-1-"#, [0xC0, 0xAF], #""]}"#)),
        holdBytes("a UTF-16LE body with a byte-order mark", utf16LittleEndianWithBOM(#"{"seats":["A-1-1"]}"#)),
        // Unicode, control characters and key-shaping characters in section ids.
        hold("a NUL escape in a section id", #"{"quantity":1,"section":"A\u0000"}"#),
        hold("an emoji section id", #"{"quantity":1,"section":"🎟"}"#),
        hold("an RTL override in a section id", #"{"quantity":1,"section":"\u202eA"}"#),
        hold("a fullwidth section id", #"{"quantity":1,"section":"Ａ"}"#),
        hold("a hash-tag section id", #"{"quantity":1,"section":"{A}"}"#),
        hold("a glob section id", #"{"quantity":1,"section":"*"}"#),
        hold("a colon in a section id", #"{"quantity":1,"section":"A:B"}"#),
        hold("CR LF in a section id", #"{"quantity":1,"section":"A\r\n"}"#),
        hold("a 17-character section id", #"{"quantity":1,"section":"ABCDEFGHIJKLMNOPQ"}"#),
        hold("an empty section id", #"{"quantity":1,"section":""}"#),
        // The shape of the request.
        hold("a seat listed twice", #"{"seats":["A-1-1","A-1-1"]}"#),
        hold("an empty seat list", #"{"seats":[]}"#),
        hold("five seats with maxSeatsPerUser 4", #"{"seats":["A-1-1","A-1-2","A-1-3","A-1-4","A-1-5"]}"#, .limitExceeded),
        hold("quantity 5 with maxSeatsPerUser 4", #"{"quantity":5,"section":"A"}"#, .limitExceeded),
        hold("51 seats in one request", fiftyOneSeatsBody, .limitExceeded),
        hold("an unknown field naming another buyer", #"{"seats":["A-1-1"],"userId":"someone-else"}"#),
        hold("an unknown field setting the price", #"{"seats":["A-1-1"],"priceCents":0}"#),
        hold("no fields", "{}"),
        hold("a quantity without a section", #"{"quantity":1}"#),
        hold("a section without a quantity", #"{"section":"A"}"#),
        hold("both seats and quantity", #"{"seats":["A-1-1"],"quantity":1,"section":"A"}"#),
    ]

    static let paymentBodies: [HostileCase] = [
        payment("a space in the payment token", #"{"paymentToken":"tok visa"}"#),
        payment("the payment token as a number", #"{"paymentToken":4242}"#),
        payment("the payment token null", #"{"paymentToken":null}"#),
        payment("no payment token", "{}"),
        payment("an unknown field setting the amount", #"{"paymentToken":"tok_visa","amountCents":1}"#),
        payment("a NUL escape in the payment token", #"{"paymentToken":"tok_visa\u0000"}"#),
        payment("a truncated body", #"{"paymentToken":"tok_visa""#),
        payment("a 5000-character payment token", longPaymentTokenBody),
    ]

    static let requestHeaders: [HostileCase] = [
        withHeaders("an Idempotency-Key with spaces", .invalidIdempotencyKey) { $0.headers.merging(["Idempotency-Key": "key with spaces"]) { $1 } },
        withHeaders("a 65-character Idempotency-Key", .invalidIdempotencyKey) {
            $0.headers.merging(["Idempotency-Key": String(repeating: "k", count: 65)]) { $1 }
        },
        withHeaders("an Idempotency-Key that is a hash tag {x}", .invalidIdempotencyKey) { $0.headers.merging(["Idempotency-Key": "{x}"]) { $1 } },
        withHeaders("an Idempotency-Key with a key separator ':'", .invalidIdempotencyKey) {
            $0.headers.merging(["Idempotency-Key": "a:b"]) { $1 }
        },
        withHeaders("an Idempotency-Key with a glob '*'", .invalidIdempotencyKey) { $0.headers.merging(["Idempotency-Key": "k*"]) { $1 } },
        withHeaders("an empty Idempotency-Key", .invalidIdempotencyKey) { $0.headers.merging(["Idempotency-Key": ""]) { $1 } },
        withHeaders("Basic credentials instead of a bearer token", .unauthorized) {
            $0.headers.merging(["Authorization": "Basic " + Data("owner:hunter2".utf8).base64EncodedString()]) { $1 }
        },
        withHeaders("the owner's valid token under the scheme 'Token'", .unauthorized) {
            $0.headers.merging(["Authorization": "Token " + $0.token]) { $1 }
        },
        withHeaders("a NUL byte inside the owner's bearer token", .unauthorized) { f in
            f.headers.merging(["Authorization": "Bearer " + String(f.token.prefix(24)) + "\u{0}" + String(f.token.dropFirst(24))]) { $1 }
        },
        HostileCase("request header: invalid UTF-8 bytes as the bearer token", .unauthorized) { f in
            let headers = f.headers.merging(["Authorization": "Bearer " + rawBytesMarker]) { $1 }
            return .raw(insertingRawBytes([0xFF, 0xFE, 0xC3, 0x28], into: rawRequest("POST", path: holdPath(f), headers: headers, body: validHold)))
        },
        withHeaders("a 20 KiB header value", .headersTooLarge) {
            $0.headers.merging(["X-Padding": String(repeating: "a", count: 20 * 1024)]) { $1 }
        },
        withHeaders("400 headers adding up to about 25 KiB", .headersTooLarge) { f in
            var headers = f.headers
            for index in 0..<400 { headers["X-Filler-\(index)"] = String(repeating: "f", count: 48) }
            return headers
        },
        withHeaders("Content-Type text/plain with a JSON body (a form a browser posts cross-site)", .unsupportedMediaType) {
            $0.headers.merging(["Content-Type": "text/plain"]) { $1 }
        },
        withHeaders("Content-Type multipart/form-data", .unsupportedMediaType,
                    body: Array("--x\r\nContent-Disposition: form-data; name=\"seats\"\r\n\r\nA-1-1\r\n--x--\r\n".utf8)) {
            $0.headers.merging(["Content-Type": "multipart/form-data; boundary=x"]) { $1 }
        },
        withHeaders("Content-Type application/x-www-form-urlencoded", .unsupportedMediaType, body: Array("seats=A-1-1".utf8)) {
            $0.headers.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 }
        },
        withHeaders("Content-Type application/json-patch+json (a prefix is not the type)", .unsupportedMediaType) {
            $0.headers.merging(["Content-Type": "application/json-patch+json"]) { $1 }
        },
        withHeaders("a 100 KiB JSON body", .bodyTooLarge, body: hundredKiBBody) { $0.headers },
    ]

    static let seatListingQueries: [HostileCase] = [
        seatListing("?section=%00", "section=%00"),
        seatListing("?section=A%00", "section=A%00"),
        seatListing("?section= (empty)", "section="),
        seatListing("?section=%7BA%7D (a hash tag)", "section=%7BA%7D"),
        seatListing("?section=A-1 (a dash)", "section=A-1"),
        seatListing("?section=* (a glob)", "section=*"),
        seatListing("?section= and 5000 characters", longSectionQuery),
    ]

    static let pathIds: [HostileCase] = IdPosition.all.flatMap { position in IdMangle.all.map { HostileCase.pathId(position, $0) } }

    static let registrations: [HostileCase] = [
        register("an e-mail without '@'") { userJSON(email: jsonString($0.emailLocal + ".example.com")) },
        register("a 255-character e-mail (one past the limit)") { _ in userJSON(email: jsonString(email255Characters)) },
        register("CR LF and a Bcc header in the e-mail") { userJSON(email: jsonString($0.email + "\r\nBcc: victim@example.com")) },
        register("a NUL in the e-mail") { userJSON(email: jsonString($0.emailLocal + "\u{0}@example.com")) },
        register("two '@' in the e-mail") { userJSON(email: jsonString($0.emailLocal + "@evil.example@example.com")) },
        register("an RTL override in the e-mail") { userJSON(email: jsonString("\u{202E}" + $0.email)) },
        register("an empty name") { userJSON(email: jsonString($0.email), name: jsonString("")) },
        register("a name of only spaces") { userJSON(email: jsonString($0.email), name: jsonString("   ")) },
        register("a 101-character name") { userJSON(email: jsonString($0.email), name: jsonString(String(repeating: "N", count: 101))) },
        register("a BEL control character in the name") { userJSON(email: jsonString($0.email), name: jsonString("Hostile\u{7}Tester")) },
        register("CR LF in the name") { userJSON(email: jsonString($0.email), name: jsonString("Hostile\r\nTester")) },
        register("an RTL override in the name") { userJSON(email: jsonString($0.email), name: jsonString("Hostile \u{202E}Tester")) },
        register("a phone without '+'") { userJSON(email: jsonString($0.email), phone: jsonString("15550100123")) },
        register("a phone with 5 digits") { userJSON(email: jsonString($0.email), phone: jsonString("+12345")) },
        register("a phone with 16 digits") { userJSON(email: jsonString($0.email), phone: jsonString("+1234567890123456")) },
        register("a phone with spaces") { userJSON(email: jsonString($0.email), phone: jsonString("+1 555 010 0123")) },
        register("a phone with letters") { userJSON(email: jsonString($0.email), phone: jsonString("+1555CALLNOW")) },
        register("an unknown field choosing the user id") { userJSON(email: jsonString($0.email), extra: #""id":"u-chosen-by-me""#) },
        register("an unknown field asking to be admin") { userJSON(email: jsonString($0.email), extra: #""role":"admin""#) },
        register("the e-mail as a number", .invalidShape) { _ in userJSON(email: "42") },
        register("the name as a list", .invalidShape) { userJSON(email: jsonString($0.email), name: #"["Hostile"]"#) },
        register("the phone as a number", .invalidShape) { userJSON(email: jsonString($0.email), phone: "15550100123") },
        register("no e-mail", .invalidShape) { _ in userJSON(email: nil) },
        register("no name", .invalidShape) { userJSON(email: jsonString($0.email), name: nil) },
        register("a JSON list instead of an object", .invalidShape) { "[" + userJSON(email: jsonString($0.email)) + "]" },
        register("an e-mail already registered, in other letter case", .emailTaken, registersEmailFirst: true) {
            userJSON(email: jsonString($0.email.uppercased()), name: jsonString("Second Owner"))
        },
    ]

    /// The queue's routes on the fixture's event, which sells directly (so an unbroken
    /// request there is 409 no_queue): who may join, read, pause and resume, and how.
    static let queueRoutes: [HostileCase] = [
        queueRequest("the owner joining an event that sells directly", .noQueue, "POST", "") { $0.headers },
        queueRequest("the admin token joining", .forbidden, "POST", "") { _ in adminJSONHeaders },
        queueRequest("no Authorization header", .unauthorized, "POST", "") { _ in jsonHeaders },
        queueRequest("the owner's queue token as the bearer token", .unauthorized, "POST", "") { f in
            f.headers.merging(["Authorization": bearer(signedQueueToken(event: f.event, user: f.owner))]) { $1 }
        },
        queueRequest("an unsigned (alg none) token naming the owner", .unauthorized, "POST", "") { f in
            let forged = ForgedToken.make(header: #"{"alg":"none","typ":"JWT"}"#, claims: ForgedToken.claims(f.owner), signature: .unsigned)
            return f.headers.merging(["Authorization": bearer(forged)]) { $1 }
        },
        queueRequest("joining with Content-Type text/plain", .unsupportedMediaType, "POST", "") {
            $0.headers.merging(["Content-Type": "text/plain"]) { $1 }
        },
        queueRequest("joining with a 100 KiB body", .bodyTooLarge, "POST", "", body: hundredKiBBody) { $0.headers },
        queueRequest("DELETE, which the queue does not have", .methodNotAllowed, "DELETE", "") { $0.headers },
        queueRequest("the public summary of an event that sells directly", .noQueue, "GET", "") { _ in [:] },
        queueRequest("pausing with the owner's buyer token", .forbidden, "POST", "/pause") { $0.headers },
        queueRequest("resuming with the owner's buyer token", .forbidden, "POST", "/resume") { $0.headers },
        queueRequest("pausing without a token", .unauthorized, "POST", "/pause") { _ in jsonHeaders },
        queueRequest("resuming without a token", .unauthorized, "POST", "/resume") { _ in jsonHeaders },
        queueRequest("pausing with 'Bearer garbage'", .unauthorized, "POST", "/pause") { _ in
            ["Authorization": "Bearer garbage", "Content-Type": "application/json"]
        },
        queueRequest("pausing with the admin token under the scheme 'Token'", .unauthorized, "POST", "/pause") { _ in
            ["Authorization": "Token " + TestSecrets.adminToken, "Content-Type": "application/json"]
        },
        queueRequest("resuming with the admin token as a Queue-Token and no Authorization", .unauthorized, "POST", "/resume") { _ in
            ["Queue-Token": TestSecrets.adminToken, "Content-Type": "application/json"]
        },
        queueRequest("the admin pausing an event that sells directly", .noQueue, "POST", "/pause") { _ in adminJSONHeaders },
        queueRequest("the admin resuming an event that sells directly", .noQueue, "POST", "/resume") { _ in adminJSONHeaders },
        queueRequest("GET, which pause does not have", .methodNotAllowed, "GET", "/pause") { _ in adminJSONHeaders },
        queueRequest("PUT, which the buyer's place does not have", .methodNotAllowed, "PUT", "/me") { $0.headers },
    ]

    /// `GET …/queue/me` with a Queue-Token that is not the genuine token of a place in this
    /// event's queue. The tokens "signed" are signed with the server's own secret, so only
    /// what each one breaks is wrong.
    static let queueTokenHeaders: [HostileCase] = [
        queuePoll("no Queue-Token header", .queueTokenRequired) { _ in nil },
        queuePoll("an empty Queue-Token") { _ in "" },
        queuePoll("'garbage'") { _ in "garbage" },
        queuePoll("300 characters") { _ in String(repeating: "q", count: 300) },
        queuePoll("the owner's place with an all-zero MAC") { f in "q1.\(f.event).\(f.owner).1.\(zeroMAC)" },
        queuePoll("the owner's genuine token with its position changed") { f in
            replacingField(3, of: signedQueueToken(event: f.event, user: f.owner), with: "2")
        },
        queuePoll("the owner's genuine token respelled in its MAC's unused bits") { f in respelled(signedQueueToken(event: f.event, user: f.owner)) },
        queuePoll("the owner's genuine token for another event") { f in signedQueueToken(event: "\(f.event)x", user: f.owner) },
        queuePoll("the owner's place signed with another secret") { f in
            QueueTokens(secret: otherSecret).queueToken(QueueTicket(eventId: f.event, userId: f.owner, position: 1))
        },
        queuePoll("the owner's genuine admission token") { f in signedAdmission(event: f.event, user: f.owner) },
        queuePoll("the owner's bearer token") { $0.token },
        queuePoll("the admin token") { _ in TestSecrets.adminToken },
        queuePoll("signed, with a negative position") { f in signedQueuePayload("q1.\(f.event).\(f.owner).-1") },
        queuePoll("signed, with a 16-digit position") { f in signedQueuePayload("q1.\(f.event).\(f.owner).1234567890123456") },
        queuePoll("signed, with a field too many") { f in signedQueuePayload("q1.\(f.event).\(f.owner).1.1") },
        queuePoll("signed, with the tag in capitals (Q1)") { f in signedQueuePayload("Q1.\(f.event).\(f.owner).1") },
        queuePoll("signed, with a hash tag in the user id") { f in signedQueuePayload("q1.\(f.event).\(f.owner){x}.1") },
        queuePoll("signed, its position padded with zeros past 256 characters") { f in
            signedQueuePayload("q1.\(f.event).\(f.owner).1\(String(repeating: "0", count: 250))")
        },
        queuePoll("the owner's genuine token, on an event that sells directly", .noQueue) { f in signedQueueToken(event: f.event, user: f.owner) },
    ]

    /// A hold that would succeed, with an Admission header that is not this buyer's live
    /// admission to this event: refused on the loop, before Redis (the fixture's event
    /// has no queue, so the hold script would not check one).
    static let admissionHeaders: [HostileCase] = [
        withAdmission("'garbage'") { _ in "garbage" },
        withAdmission("empty") { _ in "" },
        withAdmission("300 characters") { _ in String(repeating: "a", count: 300) },
        withAdmission("the owner's admission with an all-zero MAC") { f in "a1.\(f.event).\(f.owner).1.\(liveDeadline).\(zeroMAC)" },
        withAdmission("the owner's genuine admission with its deadline moved a day later") { f in
            replacingField(4, of: signedAdmission(event: f.event, user: f.owner), with: String(liveDeadline + 86_400_000))
        },
        withAdmission("the owner's genuine admission with its position changed") { f in
            replacingField(3, of: signedAdmission(event: f.event, user: f.owner), with: "2")
        },
        withAdmission("the owner's genuine admission respelled in its MAC's unused bits") { f in
            respelled(signedAdmission(event: f.event, user: f.owner))
        },
        withAdmission("another buyer's genuine admission") { f in signedAdmission(event: f.event, user: "mallory") },
        withAdmission("the owner's genuine admission to another event") { f in signedAdmission(event: "\(f.event)x", user: f.owner) },
        withAdmission("the owner's genuine admission, expired a second ago") { f in signedAdmission(event: f.event, user: f.owner, expiresIn: -1) },
        withAdmission("the owner's admission signed with another secret") { f in
            QueueTokens(secret: otherSecret).admissionToken(Admission(eventId: f.event, userId: f.owner, position: 1, expiresAt: liveDeadline))
        },
        withAdmission("the owner's genuine queue token") { f in signedQueueToken(event: f.event, user: f.owner) },
        withAdmission("the owner's bearer token") { $0.token },
        withAdmission("signed, at position 0") { f in signedQueuePayload("a1.\(f.event).\(f.owner).0.\(liveDeadline)") },
        withAdmission("signed, with a negative position") { f in signedQueuePayload("a1.\(f.event).\(f.owner).-1.\(liveDeadline)") },
        withAdmission("signed, with a 16-digit deadline") { f in signedQueuePayload("a1.\(f.event).\(f.owner).1.9999999999999999") },
        withAdmission("signed, with a field too many") { f in signedQueuePayload("a1.\(f.event).\(f.owner).1.\(liveDeadline).1") },
        withAdmission("signed, with the tag in capitals (A1)") { f in signedQueuePayload("A1.\(f.event).\(f.owner).1.\(liveDeadline)") },
    ]

    /// `POST …/waitlist` and `…/waitlist/me`. The fixture's event has seats on sale, so a
    /// body that passes validation is 409 waitlist_not_open; these are refused before.
    /// Afterwards the owner is not on the waitlist.
    static let waitlistRequests: [HostileCase] = [
        waitlist("an unknown field naming another buyer", #"{"quantity":1,"userId":"someone-else"}"#, .invalidRequest),
        waitlist("an unknown field choosing the position", #"{"quantity":1,"position":1}"#, .invalidRequest),
        waitlist("quantity as a string", #"{"quantity":"2"}"#, .invalidJSON),
        waitlist("quantity as a float", #"{"quantity":2.5}"#, .invalidJSON),
        waitlist("quantity as a bool", #"{"quantity":true}"#, .invalidJSON),
        waitlist("quantity null", #"{"quantity":null}"#, .invalidJSON),
        waitlist("quantity as a list", #"{"quantity":["1"]}"#, .invalidJSON),
        waitlist("quantity as an object", #"{"quantity":{"n":1}}"#, .invalidJSON),
        waitlist("NaN as the quantity", #"{"quantity":NaN}"#, .invalidJSON),
        waitlist("quantity 1e309 (past the largest double)", #"{"quantity":1e309}"#, .invalidJSON),
        waitlist("quantity 99999999999999999999", #"{"quantity":99999999999999999999}"#, .invalidJSON),
        waitlist("quantity 1e9", #"{"quantity":1e9}"#, .invalidJSON),
        waitlist("a quantity with a leading plus (+2, not JSON)", #"{"quantity":+2}"#, .invalidJSON),
        waitlist("a quantity in hex (0x2)", #"{"quantity":0x2}"#, .invalidJSON),
        waitlist("quantity 0", #"{"quantity":0}"#, .invalidRequest),
        waitlist("quantity -1", #"{"quantity":-1}"#, .invalidRequest),
        waitlist("quantity -0", #"{"quantity":-0}"#, .invalidRequest),
        waitlist("quantity 1e-400 (underflows to zero)", #"{"quantity":1e-400}"#, .invalidShape),
        waitlist("quantity 51 (one past the per-request limit)", #"{"quantity":51}"#, .limitExceeded),
        waitlist("quantity 999999999", #"{"quantity":999999999}"#, .limitExceeded),
        waitlist("no fields", "{}", .invalidJSON),
        waitlist("a section without a quantity", #"{"section":"A"}"#, .invalidJSON),
        waitlist("section as a number", #"{"quantity":1,"section":1}"#, .invalidJSON),
        waitlist("section null", #"{"quantity":1,"section":null}"#, .invalidJSON),
        waitlist("section as a list", #"{"quantity":1,"section":["A"]}"#, .invalidJSON),
        waitlist("a dash in the section (A-1)", #"{"quantity":1,"section":"A-1"}"#, .invalidRequest),
        waitlist("an empty section", #"{"quantity":1,"section":""}"#, .invalidRequest),
        waitlist("a hash-tag section", #"{"quantity":1,"section":"{A}"}"#, .invalidRequest),
        waitlist("a glob section", #"{"quantity":1,"section":"*"}"#, .invalidRequest),
        waitlist("a colon in the section", #"{"quantity":1,"section":"A:B"}"#, .invalidRequest),
        waitlist("a NUL escape in the section", #"{"quantity":1,"section":"A\u0000"}"#, .invalidRequest),
        waitlist("CR LF in the section", #"{"quantity":1,"section":"A\r\n"}"#, .invalidRequest),
        waitlist("a 17-character section", #"{"quantity":1,"section":"ABCDEFGHIJKLMNOPQ"}"#, .invalidRequest),
        waitlist("an emoji section", #"{"quantity":1,"section":"🎟"}"#, .invalidRequest),
        waitlist("a fullwidth section", #"{"quantity":1,"section":"Ａ"}"#, .invalidRequest),
        waitlist("the same key twice", #"{"quantity":1,"quantity":60}"#, .invalidJSON),
        waitlist("a JSON list", "[]", .invalidJSON),
        waitlist("the object inside a list", #"[{"quantity":1}]"#, .invalidJSON),
        waitlist("an empty body", "", .invalidJSON),
        waitlist("a truncated body", #"{"quantity":1"#, .invalidJSON),
        waitlist("trailing garbage after the object", #"{"quantity":1}garbage"#, .invalidJSON),
        waitlistBytes("invalid UTF-8 (C3 28) inside the section", bodyBytes(#"{"quantity":1,"section":""#, [0xC3, 0x28], #""}"#), .invalidJSON),
        waitlistBytes("a raw NUL byte between tokens", bodyBytes(#"{"quantity":1"#, [0x00], "}"), .invalidJSON),
        waitlistBytes("a UTF-16LE body with a byte-order mark", utf16LittleEndianWithBOM(validWaitlist), .invalidJSON),
        // Valid bodies the event refuses: seats are on sale (checked before the event's own limit and sections).
        waitlist("quantity 5, past maxSeatsPerUser 4, while seats are on sale", #"{"quantity":5}"#, .waitlistNotOpen),
        waitlist("a section the event does not have, while seats are on sale", #"{"quantity":1,"section":"Z"}"#, .waitlistNotOpen),
        waitlistBytes("the admin token", Array(validWaitlist.utf8), .forbidden) { _ in adminJSONHeaders },
        waitlistBytes("no Authorization header", Array(validWaitlist.utf8), .unauthorized) { _ in jsonHeaders },
        waitlistBytes("the owner's genuine admission as the bearer token", Array(validWaitlist.utf8), .unauthorized) { f in
            f.headers.merging(["Authorization": bearer(signedAdmission(event: f.event, user: f.owner))]) { $1 }
        },
        waitlistBytes("Content-Type text/plain", Array(validWaitlist.utf8), .unsupportedMediaType) {
            $0.headers.merging(["Content-Type": "text/plain"]) { $1 }
        },
        waitlistBytes("a 100 KiB body", hundredKiBBody, .bodyTooLarge),
        waitlistEntry("the owner, who never joined, reading an entry", .notOnWaitlist, "GET") { $0.headers },
        waitlistEntry("the owner, who never joined, leaving", .notOnWaitlist, "DELETE") { $0.headers },
        waitlistEntry("the admin token reading", .forbidden, "GET") { _ in adminJSONHeaders },
        waitlistEntry("the admin token leaving", .forbidden, "DELETE") { _ in adminJSONHeaders },
        waitlistEntry("no Authorization header", .unauthorized, "GET") { _ in [:] },
        waitlistEntry("an unsigned (alg none) token naming the owner, leaving", .unauthorized, "DELETE") { f in
            ["Authorization": bearer(ForgedToken.make(header: #"{"alg":"none","typ":"JWT"}"#, claims: ForgedToken.claims(f.owner), signature: .unsigned))]
        },
        waitlistEntry("POST, which the entry does not have", .methodNotAllowed, "POST") { $0.headers },
        HostileCase("waitlist: GET /v1/events/{e}/waitlist, which the waitlist does not have", .methodNotAllowed) { f in
            .http(method: "GET", path: waitlistPath(f), headers: f.headers, body: nil)
        },
    ]

    /// `POST /v1/events` of an event with a broken `queue` (validQueue, one thing broken
    /// each). Afterwards the event does not exist.
    static let queuedEventCreations: [HostileCase] = [
        createQueued("an unknown field inside queue (admitPerSecnd, a typo)", #"{"admitPerSecnd":5}"#),
        createQueued("an unknown field inside queue setting the serving position", #"{"admitPerSecond":5,"serving":1000}"#),
        createQueued("an unknown field inside queue pausing it", #"{"admitPerSecond":5,"paused":true}"#),
        createQueued("admitPerSecond -1", #"{"admitPerSecond":-1}"#),
        createQueued("admitPerSecond 100001", #"{"admitPerSecond":100001}"#),
        createQueued("admitPerSecond 9223372036854775807 (Int.max)", #"{"admitPerSecond":9223372036854775807}"#),
        createQueued("admitPerSecond 1e20 (past Int)", #"{"admitPerSecond":1e20}"#, .invalidJSON),
        createQueued("admitPerSecond as a float", #"{"admitPerSecond":2.5}"#, .invalidJSON),
        createQueued("admitPerSecond as a string", #"{"admitPerSecond":"5"}"#, .invalidJSON),
        createQueued("admissionSeconds 9", #"{"admissionSeconds":9}"#),
        createQueued("admissionSeconds 0", #"{"admissionSeconds":0}"#),
        createQueued("admissionSeconds -60", #"{"admissionSeconds":-60}"#),
        createQueued("admissionSeconds 86401", #"{"admissionSeconds":86401}"#),
        createQueued("admissionSeconds as a bool", #"{"admissionSeconds":true}"#, .invalidJSON),
        createQueued("opensAt 'tomorrow'", #"{"opensAt":"tomorrow"}"#),
        createQueued("opensAt a date without a time", #"{"opensAt":"2027-01-01"}"#),
        createQueued("opensAt without a time zone", #"{"opensAt":"2027-01-01T19:00:00"}"#),
        createQueued("opensAt empty", #"{"opensAt":""}"#),
        createQueued("opensAt past 40 characters (fractional seconds padded)", #"{"opensAt":"2027-01-01T19:00:00.00000000000000000000Z"}"#),
        createQueued("opensAt as a number", #"{"opensAt":1798750800}"#, .invalidJSON),
        createQueued("queue as a list", "[]", .invalidJSON),
        createQueued("queue as a string", #""on""#, .invalidJSON),
        createQueued("queue as a bool", "true", .invalidJSON),
        createQueued("a buyer token creating a queued event", validQueue, .forbidden, byOwner: true),
    ]

    /// The request line breaks: evhttp 2.1 splits it on spaces and ends it
    /// at LF, and C strings end at NUL. Kept out of `all`; see the test.
    static let brokenRequestLines: [HostileCase] = [
        HostileCase("request line: a raw space inside the event id of GET /v1/events/{e}", .badRequest) { f in
            .raw(rawRequest("GET", path: "/v1/events/\(f.event) x", headers: f.headers, body: nil))
        },
        HostileCase("request line: a raw space inside the booking id of DELETE /v1/events/{e}/bookings/{b}", .badRequest) { f in
            .raw(rawRequest("DELETE", path: bookingPath(f) + " x", headers: f.headers, body: nil))
        },
        HostileCase("request line: a raw CR LF inside the event id (the rest would become a header)", .badRequest) { f in
            .raw(rawRequest("GET", path: "/v1/events/\(f.event)\r\nX-Injected: 1", headers: f.headers, body: nil))
        },
        HostileCase("request line: a raw LF inside the booking id of POST …/payment", .badRequest) { f in
            .raw(rawRequest("POST", path: bookingPath(f) + "\nx/payment", headers: f.headers, body: validPayment))
        },
        HostileCase("request line: a raw NUL inside the event id of GET /v1/events/{e}/seats", .badRequest) { f in
            .raw(rawRequest("GET", path: "/v1/events/\(f.event)\u{0}x/seats", headers: f.headers, body: nil))
        },
    ]
}

extension HostileCase {
    fileprivate static func hold(_ name: String, _ json: String, _ outcome: HostileOutcome = .badRequest) -> HostileCase {
        holdBytes(name, Array(json.utf8), outcome)
    }

    fileprivate static func holdBytes(_ name: String, _ body: [UInt8], _ outcome: HostileOutcome = .badRequest) -> HostileCase {
        HostileCase("hold body: " + name, outcome) { f in .http(method: "POST", path: holdPath(f), headers: f.headers, body: body) }
    }

    fileprivate static func payment(_ name: String, _ json: String) -> HostileCase {
        HostileCase("payment body: " + name, .badRequest) { f in
            .http(method: "POST", path: bookingPath(f) + "/payment", headers: f.headers, body: Array(json.utf8))
        }
    }

    /// A hold that would succeed, sent with the headers `headers` makes (and `body` instead of the valid one, if given).
    fileprivate static func withHeaders(_ name: String, _ outcome: HostileOutcome, body: [UInt8]? = nil,
                                        _ headers: @escaping @Sendable (HostileFixture) -> [String: String]) -> HostileCase {
        HostileCase("request header: " + name, outcome) { f in
            .http(method: "POST", path: holdPath(f), headers: headers(f), body: body ?? validHold)
        }
    }

    fileprivate static func seatListing(_ name: String, _ query: String) -> HostileCase {
        HostileCase("seat listing query: " + name, .badRequest) { f in
            .http(method: "GET", path: "/v1/events/\(f.event)/seats?" + query, headers: f.headers, body: nil)
        }
    }

    fileprivate static func pathId(_ position: IdPosition, _ mangle: IdMangle) -> HostileCase {
        HostileCase("\(position.name): \(mangle.name)", mangle.outcome) { f in
            let path = position.path(f, mangle.apply)
            guard let bytes = mangle.rawBytes else {
                return .http(method: position.method, path: path, headers: f.headers, body: position.body)
            }
            return .raw(insertingRawBytes(bytes, into: rawRequest(position.method, path: path, headers: f.headers, body: position.body)))
        }
    }

    fileprivate static func register(_ name: String, _ outcome: HostileOutcome = .invalidRequest, registersEmailFirst: Bool = false,
                                     _ body: @escaping @Sendable (HostileFixture) -> String) -> HostileCase {
        HostileCase("POST /v1/users: " + name, outcome, registersEmailFirst: registersEmailFirst) { f in
            .http(method: "POST", path: "/v1/users", headers: jsonHeaders, body: Array(body(f).utf8))
        }
    }

    /// `method` on `/v1/events/{e}/queue` + `tail`, with the headers `headers` makes.
    fileprivate static func queueRequest(_ name: String, _ outcome: HostileOutcome, _ method: String, _ tail: String, body: [UInt8]? = nil,
                                         _ headers: @escaping @Sendable (HostileFixture) -> [String: String]) -> HostileCase {
        HostileCase("queue: \(method) /v1/events/{e}/queue\(tail): " + name, outcome) { f in
            .http(method: method, path: queuePath(f) + tail, headers: headers(f), body: body)
        }
    }

    /// The owner's `GET …/queue/me` with the Queue-Token `token` makes (nil: none).
    fileprivate static func queuePoll(_ name: String, _ outcome: HostileOutcome = .invalidQueueToken,
                                      _ token: @escaping @Sendable (HostileFixture) -> String?) -> HostileCase {
        HostileCase("queue token on GET /v1/events/{e}/queue/me: " + name, outcome) { f in
            var headers = f.headers
            headers["Queue-Token"] = token(f)
            return .http(method: "GET", path: queuePath(f) + "/me", headers: headers, body: nil)
        }
    }

    /// A hold that would succeed, sent with the Admission header `admission` makes.
    fileprivate static func withAdmission(_ name: String, _ admission: @escaping @Sendable (HostileFixture) -> String) -> HostileCase {
        withHeaders("Admission: " + name, .admissionInvalid) { f in f.headers.merging(["Admission": admission(f)]) { $1 } }
    }

    fileprivate static func waitlist(_ name: String, _ json: String, _ outcome: HostileOutcome) -> HostileCase {
        waitlistBytes(name, Array(json.utf8), outcome)
    }

    /// The owner's `POST …/waitlist` with `body` (and the headers `headers` makes, if given).
    fileprivate static func waitlistBytes(_ name: String, _ body: [UInt8], _ outcome: HostileOutcome,
                                          _ headers: (@Sendable (HostileFixture) -> [String: String])? = nil) -> HostileCase {
        HostileCase("waitlist join: " + name, outcome, afterwards: .ownerNotOnWaitlist) { f in
            .http(method: "POST", path: waitlistPath(f), headers: headers?(f) ?? f.headers, body: body)
        }
    }

    /// `method` on `/v1/events/{e}/waitlist/me`, with the headers `headers` makes.
    fileprivate static func waitlistEntry(_ name: String, _ outcome: HostileOutcome, _ method: String,
                                          _ headers: @escaping @Sendable (HostileFixture) -> [String: String]) -> HostileCase {
        HostileCase("waitlist entry: \(method) /v1/events/{e}/waitlist/me: " + name, outcome, afterwards: .ownerNotOnWaitlist) { f in
            .http(method: method, path: waitlistPath(f) + "/me", headers: headers(f), body: nil)
        }
    }

    /// `POST /v1/events` of a new event whose `queue` is `queue` (JSON), by the admin or, if `byOwner`, the fixture's buyer.
    fileprivate static func createQueued(_ name: String, _ queue: String, _ outcome: HostileOutcome = .invalidRequest,
                                         byOwner: Bool = false) -> HostileCase {
        HostileCase("POST /v1/events with a queue: " + name, outcome, afterwards: .queuedEventAbsent) { f in
            .http(method: "POST", path: "/v1/events", headers: byOwner ? f.headers : adminJSONHeaders,
                  body: Array(queuedEventJSON(id: queuedEventId(f), queue: queue).utf8))
        }
    }
}

/// What a hostile request must get: one of `statuses`, and, unless `codes`
/// is empty, one of `codes` as the JSON "error". The body is always checked
/// for the API's error shape.
struct HostileOutcome: Sendable {
    let statuses: Set<Int>
    let codes: Set<String>

    static let badRequest = HostileOutcome(statuses: [400], codes: [])
    static let invalidRequest = HostileOutcome(statuses: [400], codes: ["invalid_request"])
    /// A wrong type or a missing field. The brief says invalid_request and the decoder says invalid_json; either is fine here.
    static let invalidShape = HostileOutcome(statuses: [400], codes: ["invalid_request", "invalid_json"])
    /// Ids are checked one by one (invalid_id); control bytes and non-ASCII fail the whole path first (invalid_path).
    static let invalidId = HostileOutcome(statuses: [400], codes: ["invalid_id", "invalid_path"])
    /// Past the router's path limit the answer is 404; 400 or 414 would do as well.
    static let overlongPath = HostileOutcome(statuses: [400, 404, 414], codes: [])
    static let invalidIdempotencyKey = HostileOutcome(statuses: [400], codes: ["invalid_idempotency_key"])
    static let unauthorized = HostileOutcome(statuses: [401], codes: ["unauthorized"])
    static let forbidden = HostileOutcome(statuses: [403], codes: ["forbidden"])
    static let bookingNotFound = HostileOutcome(statuses: [404], codes: ["booking_not_found"])
    static let emailTaken = HostileOutcome(statuses: [409], codes: ["email_taken"])
    static let bodyTooLarge = HostileOutcome(statuses: [413], codes: ["body_too_large"])
    static let unsupportedMediaType = HostileOutcome(statuses: [415], codes: ["unsupported_media_type"])
    static let limitExceeded = HostileOutcome(statuses: [422], codes: ["limit_exceeded"])
    static let headersTooLarge = HostileOutcome(statuses: [431], codes: ["headers_too_large"])
    static let invalidJSON = HostileOutcome(statuses: [400], codes: ["invalid_json"])
    static let queueTokenRequired = HostileOutcome(statuses: [401], codes: ["queue_token_required"])
    static let invalidQueueToken = HostileOutcome(statuses: [401], codes: ["invalid_queue_token"])
    static let admissionRequired = HostileOutcome(statuses: [403], codes: ["admission_required"])
    static let admissionInvalid = HostileOutcome(statuses: [403], codes: ["admission_invalid"])
    static let eventNotFound = HostileOutcome(statuses: [404], codes: ["event_not_found"])
    static let notOnWaitlist = HostileOutcome(statuses: [404], codes: ["not_on_waitlist"])
    static let methodNotAllowed = HostileOutcome(statuses: [405], codes: ["method_not_allowed"])
    static let noQueue = HostileOutcome(statuses: [409], codes: ["no_queue"])
    static let waitlistNotOpen = HostileOutcome(statuses: [409], codes: ["waitlist_not_open"])
}

/// How a hostile request goes out: through the client, or as raw bytes
/// (bytes that are not UTF-8, request lines the client would not write).
enum HostileWire: Sendable {
    case http(method: String, path: String, headers: [String: String], body: [UInt8]?)
    case raw([UInt8])
}

/// A request sent after a hostile one, with the answer it must still get: what the
/// hostile request tried to make (an event, a waitlist entry) was not made.
struct HostileAftercheck: Sendable {
    let name: String
    let outcome: HostileOutcome
    let request: @Sendable (HostileFixture) -> HostileWire

    init(_ name: String, _ outcome: HostileOutcome, request: @escaping @Sendable (HostileFixture) -> HostileWire) {
        self.name = name
        self.outcome = outcome
        self.request = request
    }

    /// The event a creation case tried to make does not exist.
    static let queuedEventAbsent = HostileAftercheck("the event was not created", .eventNotFound) { f in
        .http(method: "GET", path: "/v1/events/\(queuedEventId(f))", headers: [:], body: nil)
    }

    /// The fixture's owner has no waitlist entry.
    static let ownerNotOnWaitlist = HostileAftercheck("the owner is not on the waitlist", .notOnWaitlist) { f in
        .http(method: "GET", path: waitlistPath(f) + "/me", headers: f.headers, body: nil)
    }
}

/// What every hostile case starts from: a new event (5 rows of 10 seats in
/// section A, maxSeatsPerUser 4), a buyer, and that buyer's held booking of
/// one seat. A request built on it succeeds unless the case breaks it.
struct HostileFixture: Sendable {
    static let heldSeat = "A-5-10"
    let event: String
    let owner: String
    let booking: String
    /// The owner's Authorization and Content-Type headers.
    let headers: [String: String]
    let token: String
    /// Unique to this fixture, so a registration with it would succeed.
    let emailLocal: String
    var email: String { emailLocal + "@example.com" }

    static func make(on server: TestServer) throws -> HostileFixture {
        let event = TestServer.uniqueEventId("hx")
        let created = try server.createEvent(event)
        try #require(created.status == 201, "creating \(event): \(preview(created))")
        let unique = shortUnique()
        let owner = "owner-" + unique
        let held = try server.hold(event, user: owner, seats: [heldSeat])
        try #require(held.status == 201, "holding \(heldSeat): \(preview(held))")
        let booking = try #require(held.string("id"))
        return HostileFixture(event: event, owner: owner, booking: booking, headers: server.buyerHeaders(owner),
                              token: server.token(owner), emailLocal: "hostile-" + unique)
    }
}

/// Where an id sits in a path, and the request that would succeed there.
private struct IdPosition: Sendable {
    let name: String
    let method: String
    let body: [UInt8]?
    /// The path, with the id at this position passed through the given function.
    let path: @Sendable (HostileFixture, (String) -> String) -> String

    static let all: [IdPosition] = [
        IdPosition(name: "event id in GET /v1/events/{e}", method: "GET", body: nil) { f, id in "/v1/events/\(id(f.event))" },
        IdPosition(name: "event id in GET /v1/events/{e}/seats", method: "GET", body: nil) { f, id in "/v1/events/\(id(f.event))/seats" },
        IdPosition(name: "event id in POST /v1/events/{e}/bookings", method: "POST", body: validHold) { f, id in
            "/v1/events/\(id(f.event))/bookings"
        },
        IdPosition(name: "booking id in GET /v1/events/{e}/bookings/{b}", method: "GET", body: nil) { f, id in
            "/v1/events/\(f.event)/bookings/\(id(f.booking))"
        },
        IdPosition(name: "booking id in DELETE /v1/events/{e}/bookings/{b}", method: "DELETE", body: nil) { f, id in
            "/v1/events/\(f.event)/bookings/\(id(f.booking))"
        },
        IdPosition(name: "booking id in POST /v1/events/{e}/bookings/{b}/payment", method: "POST", body: validPayment) { f, id in
            "/v1/events/\(f.event)/bookings/\(id(f.booking))/payment"
        },
    ]
}

/// One way to spoil a real id, sent exactly as written (the client does not encode paths).
private struct IdMangle: Sendable {
    let name: String
    var outcome: HostileOutcome = .invalidId
    /// Bytes that replace `rawBytesMarker` in the request as sent (they are not UTF-8).
    var rawBytes: [UInt8]? = nil
    let apply: @Sendable (String) -> String

    static let all: [IdMangle] = [
        IdMangle(name: "followed by a raw '{'") { $0 + "{" },
        IdMangle(name: "followed by a raw '}'") { $0 + "}" },
        IdMangle(name: "wrapped in a raw hash tag {…}") { "{" + $0 + "}" },
        IdMangle(name: "followed by a raw ':'") { $0 + ":x" },
        IdMangle(name: "followed by a raw '*'") { $0 + "*" },
        IdMangle(name: "followed by %00") { $0 + "%00" },
        IdMangle(name: "followed by %0D%0A") { $0 + "%0D%0A" },
        IdMangle(name: "followed by %7B") { $0 + "%7B" },
        IdMangle(name: "followed by %7D") { $0 + "%7D" },
        IdMangle(name: "followed by %2A") { $0 + "%2A" },
        IdMangle(name: "followed by %3A") { $0 + "%3A" },
        IdMangle(name: "with a space (%20) inside") { $0 + "%20x" },
        IdMangle(name: "followed by a raw tab") { $0 + "\t" },
        IdMangle(name: "followed by a raw CR") { $0 + "\r" },
        IdMangle(name: "padded to 65 characters") { padded($0, to: 65) },
        IdMangle(name: "padded to 5000 characters", outcome: .overlongPath) { padded($0, to: 5000) },
        IdMangle(name: "followed by invalid UTF-8 C3 28 (raw bytes)", rawBytes: [0xC3, 0x28]) { $0 + rawBytesMarker },
        IdMangle(name: "followed by an overlong UTF-8 '/' C0 AF (raw bytes)", rawBytes: [0xC0, 0xAF]) { $0 + rawBytesMarker },
    ]
}

/// One Authorization header (or none) for a hold that is otherwise valid.
struct HostileTokenCase: Sendable, CustomTestStringConvertible {
    let name: String
    let authorization: @Sendable () -> String?

    init(_ name: String, _ authorization: @escaping @Sendable () -> String?) {
        self.name = name
        self.authorization = authorization
    }

    var testDescription: String { name }

    static let all: [HostileTokenCase] = [
        HostileTokenCase("no Authorization header") { nil },
        HostileTokenCase("'Bearer ' and nothing else") { "Bearer " },
        HostileTokenCase("'Bearer garbage'") { "Bearer garbage" },
        HostileTokenCase("Basic credentials") { "Basic " + Data("mallory:hunter2".utf8).base64EncodedString() },
        HostileTokenCase("a valid token under the scheme 'Token'") { "Token " + TestSecrets.tokens.mint(userId: "mallory") },
        HostileTokenCase("alg none with an empty signature") {
            bearer(ForgedToken.make(header: #"{"alg":"none","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .unsigned))
        },
        HostileTokenCase("alg NONE in capitals with an empty signature") {
            bearer(ForgedToken.make(header: #"{"alg":"NONE","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .unsigned))
        },
        HostileTokenCase("alg none carrying a valid HS256 signature") {
            bearer(ForgedToken.make(header: #"{"alg":"none","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .hs256))
        },
        HostileTokenCase("alg HS512 signed with the server's secret") {
            bearer(ForgedToken.make(header: #"{"alg":"HS512","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .hs512))
        },
        HostileTokenCase("alg RS256 with an HMAC made from the server's secret (algorithm confusion)") {
            bearer(ForgedToken.make(header: #"{"alg":"RS256","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .hs256))
        },
        HostileTokenCase("alg hs256 in lower case") {
            bearer(ForgedToken.make(header: #"{"alg":"hs256","typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .hs256))
        },
        HostileTokenCase("no alg in the header") {
            bearer(ForgedToken.make(header: #"{"typ":"JWT"}"#, claims: ForgedToken.claims(), signature: .hs256))
        },
        HostileTokenCase("alg named twice: none, then HS256") {
            bearer(ForgedToken.make(header: #"{"alg":"none","alg":"HS256"}"#, claims: ForgedToken.claims(), signature: .hs256))
        },
        HostileTokenCase("crit naming an extension the server does not understand (RFC 7515 4.1.11)") {
            bearer(ForgedToken.make(header: #"{"alg":"HS256","typ":"JWT","crit":["x-bank"],"x-bank":1}"#, claims: ForgedToken.claims(),
                                    signature: .hs256))
        },
        HostileTokenCase("a valid token whose signature is respelled in its last symbol's unused bits") {
            bearer(respelled(TestSecrets.tokens.mint(userId: "mallory")))
        },
        HostileTokenCase("expired an hour ago") {
            bearer(TestSecrets.tokens.mint(userId: "mallory", ttlSeconds: 60, now: Date(timeIntervalSinceNow: -3600)))
        },
        HostileTokenCase("exp as a string") {
            let now = ForgedToken.now
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: "{\"sub\":\"mallory\",\"iat\":\(now),\"exp\":\"\(now + 3600)\"}",
                                           signature: .hs256))
        },
        HostileTokenCase("no exp claim") {
            bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: "{\"sub\":\"mallory\",\"iat\":\(ForgedToken.now)}", signature: .hs256))
        },
        HostileTokenCase("nbf an hour in the future") {
            let now = ForgedToken.now
            let claims = "{\"sub\":\"mallory\",\"iat\":\(now),\"nbf\":\(now + 3600),\"exp\":\(now + 7200)}"
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: claims, signature: .hs256))
        },
        HostileTokenCase("iat an hour in the future") {
            bearer(TestSecrets.tokens.mint(userId: "mallory", now: Date(timeIntervalSinceNow: 3600)))
        },
        HostileTokenCase("no sub claim") {
            let now = ForgedToken.now
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: "{\"iat\":\(now),\"exp\":\(now + 3600)}", signature: .hs256))
        },
        HostileTokenCase("an empty sub") { bearer(TestSecrets.tokens.mint(userId: "")) },
        HostileTokenCase("sub as a number") {
            let now = ForgedToken.now
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: "{\"sub\":42,\"iat\":\(now),\"exp\":\(now + 3600)}",
                                           signature: .hs256))
        },
        HostileTokenCase("sub named twice") {
            let now = ForgedToken.now
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header,
                                           claims: "{\"sub\":\"alice\",\"sub\":\"mallory\",\"iat\":\(now),\"exp\":\(now + 3600)}", signature: .hs256))
        },
        HostileTokenCase("a validly signed sub with a hash tag '{'") { bearer(TestSecrets.tokens.mint(userId: "mallory{x}")) },
        HostileTokenCase("a validly signed sub with a key separator ':'") { bearer(TestSecrets.tokens.mint(userId: "mallory:x")) },
        HostileTokenCase("a validly signed 65-character sub") { bearer(TestSecrets.tokens.mint(userId: String(repeating: "m", count: 65))) },
        HostileTokenCase("signed with another secret") {
            bearer(BuyerTokens(secret: "other-secret-0123456789-0123456789-abcdef").mint(userId: "mallory"))
        },
        HostileTokenCase("the signature removed") {
            let parts = validTokenParts()
            return bearer(parts[0] + "." + parts[1] + ".")
        },
        HostileTokenCase("the signature's first character changed") {
            let parts = validTokenParts()
            let replacement = parts[2].hasPrefix("A") ? "B" : "A"
            return bearer(parts[0] + "." + parts[1] + "." + replacement + String(parts[2].dropFirst()))
        },
        HostileTokenCase("two segments") {
            let parts = validTokenParts()
            return bearer(parts[0] + "." + parts[1])
        },
        HostileTokenCase("four segments") {
            let parts = validTokenParts()
            return bearer(parts.joined(separator: ".") + "." + parts[2])
        },
        HostileTokenCase("base64 padding added to the payload") {
            let parts = validTokenParts()
            return bearer(parts[0] + "." + parts[1] + "==." + parts[2])
        },
        HostileTokenCase("a payload that is not JSON") {
            bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: "hello", signature: .hs256))
        },
        HostileTokenCase("a validly signed token over 4096 characters") {
            let now = ForgedToken.now
            let claims = "{\"sub\":\"mallory\",\"iat\":\(now),\"exp\":\(now + 3600),\"pad\":\"" + String(repeating: "p", count: 5000) + "\"}"
            return bearer(ForgedToken.make(header: ForgedToken.hs256Header, claims: claims, signature: .hs256))
        },
        HostileTokenCase("a NUL byte inside a valid token") {
            let token = TestSecrets.tokens.mint(userId: "mallory")
            return "Bearer " + String(token.prefix(24)) + "\u{0}" + String(token.dropFirst(24))
        },
    ]
}

/// JWTs made by hand: any header, any claims, signed (or not) with the test
/// server's own secret, so that only what a case breaks is wrong.
private enum ForgedToken {
    enum Signature { case unsigned, hs256, hs512 }

    static let hs256Header = #"{"alg":"HS256","typ":"JWT"}"#
    static var now: Int { Int(Date().timeIntervalSince1970) }

    /// Claims a valid token would carry.
    static func claims(_ sub: String = "mallory") -> String {
        "{\"sub\":\"\(sub)\",\"iat\":\(now),\"exp\":\(now + 3600)}"
    }

    static func make(header: String, claims: String, signature: Signature) -> String {
        let signingInput = base64URL(Array(header.utf8)) + "." + base64URL(Array(claims.utf8))
        let key = SymmetricKey(data: Data(TestSecrets.tokenSecret.utf8))
        let mac: [UInt8] = switch signature {
        case .unsigned: []
        case .hs256: Array(HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key))
        case .hs512: Array(HMAC<SHA512>.authenticationCode(for: Data(signingInput.utf8), using: key))
        }
        return signingInput + "." + base64URL(mac)
    }
}

// MARK: - helpers

private let jsonHeaders = ["Content-Type": "application/json"]
private let validHold = Array(#"{"seats":["A-1-1"]}"#.utf8)
private let validPayment = Array(#"{"paymentToken":"tok_visa"}"#.utf8)
/// Stands in for bytes that are not UTF-8 until the request is bytes.
private let rawBytesMarker = "~RAW-BYTES~"
private let longSeatIdBody = "{\"seats\":[\"A-1-" + String(repeating: "1", count: 4996) + "\"]}"
private let fiftyOneSeatsBody: String = {
    let seats = (0..<51).map { "\"A-\($0 / 10 + 1)-\($0 % 10 + 1)\"" }
    return "{\"seats\":[" + seats.joined(separator: ",") + "]}"
}()
private let longPaymentTokenBody = "{\"paymentToken\":\"" + String(repeating: "t", count: 5000) + "\"}"
private let hundredKiBBody = Array(("{\"seats\":[\"A-1-1\"],\"pad\":\"" + String(repeating: "x", count: 100 * 1024) + "\"}").utf8)
private let longSectionQuery = "section=" + String(repeating: "A", count: 5000)
/// 64 + 1 + 190 characters: one more than an e-mail address may have.
private let email255Characters = String(repeating: "a", count: 64) + "@"
    + [63, 63, 58].map { String(repeating: "c", count: $0) }.joined(separator: ".") + ".com"

private func holdPath(_ f: HostileFixture) -> String { "/v1/events/\(f.event)/bookings" }
private func bookingPath(_ f: HostileFixture) -> String { "/v1/events/\(f.event)/bookings/\(f.booking)" }
private func queuePath(_ f: HostileFixture) -> String { "/v1/events/\(f.event)/queue" }
private func waitlistPath(_ f: HostileFixture) -> String { "/v1/events/\(f.event)/waitlist" }

private let adminJSONHeaders = ["Authorization": "Bearer " + TestSecrets.adminToken, "Content-Type": "application/json"]
private let validWaitlist = #"{"quantity":1}"#

// MARK: queue tokens and admissions

/// Signs like the server (same secret), so a case's token is wrong only where the case breaks it.
private let serverQueueTokens = QueueTokens(secret: TestSecrets.tokenSecret)
private let otherSecret = "other-secret-0123456789-0123456789-abcdef"
/// 43 base64url symbols of 32 zero bytes: a MAC of the right shape that signs nothing.
private let zeroMAC = String(repeating: "A", count: 43)
private var nowMilliseconds: Int { Int(Date().timeIntervalSince1970 * 1000) }
/// The deadline of an admission issued now: ten minutes on.
private var liveDeadline: Int { nowMilliseconds + 600_000 }

/// `payload` + "." + its HMAC-SHA256 under the server's secret: how QueueTokens signs
/// both kinds (`q1.E.U.P`, `a1.E.U.P.T`), here for payloads it would never sign.
private func signedQueuePayload(_ payload: String) -> String {
    let key = SymmetricKey(data: Data(TestSecrets.tokenSecret.utf8))
    return payload + "." + base64URL(Array(HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key)))
}

private func signedQueueToken(event: String, user: String, position: Int = 1) -> String {
    serverQueueTokens.queueToken(QueueTicket(eventId: event, userId: user, position: position))
}

/// A genuine admission, live for `seconds` from now (negative: expired that long ago).
private func signedAdmission(event: String, user: String, position: Int = 1, expiresIn seconds: Int = 600) -> String {
    serverQueueTokens.admissionToken(Admission(eventId: event, userId: user, position: position, expiresAt: nowMilliseconds + seconds * 1000))
}

/// `token` with its dot-separated field `index` replaced, its MAC kept (so it no longer matches).
private func replacingField(_ index: Int, of token: String, with value: String) -> String {
    var parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    guard parts.indices.contains(index) else { return token + "." + value }
    parts[index] = value
    return parts.joined(separator: ".")
}

// MARK: queued events

/// The event a creation case would make: new with each fixture.
private func queuedEventId(_ f: HostileFixture) -> String { f.event + "-q" }
/// The queue the creation cases break one thing of.
private let validQueue = #"{"opensAt":"2027-01-01T19:00:00Z","admitPerSecond":100,"admissionSeconds":60}"#

private func queuedEventJSON(id: String, queue: String) -> String {
    #"{"id":"\#(id)","name":"Queued \#(id)","venue":"Hall","startsAt":"2027-01-01T20:00:00Z","#
        + #""sections":[{"id":"A","rows":1,"seatsPerRow":10,"priceCents":1000}],"queue":\#(queue)}"#
}

private func shortUnique() -> String {
    String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12)).lowercased()
}

private func padded(_ id: String, to length: Int) -> String {
    id + String(repeating: "x", count: max(1, length - id.utf8.count))
}

private func jsonString(_ text: String) -> String { JSONText.quote(text) }

/// A registration body; each argument is a JSON value as text (nil leaves the field out).
private func userJSON(email: String?, name: String? = jsonString("Hostile Tester"), phone: String? = jsonString("+15550100123"),
                      extra: String = "") -> String {
    var fields: [String] = []
    if let email { fields.append("\"email\":" + email) }
    if let name { fields.append("\"name\":" + name) }
    if let phone { fields.append("\"phone\":" + phone) }
    if !extra.isEmpty { fields.append(extra) }
    return "{" + fields.joined(separator: ",") + "}"
}

/// `prefix`, the raw `middle` bytes (not necessarily UTF-8), then `suffix`.
private func bodyBytes(_ prefix: String, _ middle: [UInt8], _ suffix: String) -> [UInt8] {
    Array(prefix.utf8) + middle + Array(suffix.utf8)
}

private func utf16LittleEndianWithBOM(_ text: String) -> [UInt8] {
    [0xFF, 0xFE] + text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
}

private func base64URL(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

private func bearer(_ token: String) -> String { "Bearer " + token }

private func validTokenParts() -> [String] {
    TestSecrets.tokens.mint(userId: "mallory").split(separator: ".", omittingEmptySubsequences: false).map(String.init)
}

/// A request as the blocking client would write it, for sending with `raw`.
private func rawRequest(_ method: String, path: String, headers: [String: String], body: [UInt8]?) -> [UInt8] {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
    if let body { head += "Content-Length: \(body.count)\r\n" }
    return Array((head + "\r\n").utf8) + (body ?? [])
}

/// `request` with `rawBytesMarker` replaced by `replacement`.
private func insertingRawBytes(_ replacement: [UInt8], into request: [UInt8]) -> [UInt8] {
    guard let range = request.firstRange(of: Array(rawBytesMarker.utf8)) else { return request }
    var out = request
    out.replaceSubrange(range, with: replacement)
    return out
}

private func deliver(_ wire: HostileWire, over http: BlockingHTTPClient) throws -> HTTPReply {
    switch wire {
    case let .http(method, path, headers, body): return try http.request(method, path, headers: headers, body: body)
    case let .raw(bytes): return try http.raw(bytes)
    }
}

private func preview(_ reply: HTTPReply) -> String {
    "\(reply.status) \(reply.text.prefix(240))"
}

private func errorCode(_ reply: HTTPReply) -> String? {
    ((try? JSONSerialization.jsonObject(with: Data(reply.body))) as? [String: Any])?["error"] as? String
}

/// The API: every error is JSON, `{"error": CODE, "message": TEXT, ...}`.
private func expectErrorBody(_ reply: HTTPReply, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    guard let object = (try? JSONSerialization.jsonObject(with: Data(reply.body))) as? [String: Any] else {
        Issue.record("\(label): the body is not a JSON object: \(preview(reply))", sourceLocation: sourceLocation)
        return
    }
    let hasError = object["error"] is String, hasMessage = object["message"] is String
    #expect(hasError, "\(label): no string \"error\": \(preview(reply))", sourceLocation: sourceLocation)
    #expect(hasMessage, "\(label): no string \"message\": \(preview(reply))", sourceLocation: sourceLocation)
    let contentType = reply.headers["content-type"] ?? "none"
    #expect(contentType.lowercased().hasPrefix("application/json"), "\(label): Content-Type \(contentType)", sourceLocation: sourceLocation)
}

/// A 4xx (never a 5xx), one of the outcome's statuses and codes, with the API's error body.
private func expectRefusal(_ reply: HTTPReply, _ outcome: HostileOutcome, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect((400..<500).contains(reply.status), "\(label): not a 4xx: \(preview(reply))", sourceLocation: sourceLocation)
    #expect(outcome.statuses.contains(reply.status), "\(label): expected \(outcome.statuses.sorted()), got \(preview(reply))",
            sourceLocation: sourceLocation)
    expectErrorBody(reply, label, sourceLocation: sourceLocation)
    if !outcome.codes.isEmpty {
        let code = errorCode(reply) ?? "none"
        #expect(outcome.codes.contains(code), "\(label): expected \(outcome.codes.sorted()), got \(code)", sourceLocation: sourceLocation)
    }
}

/// After a hostile request: the server is up, and the fixture's event and booking are as they were.
private func expectHealthyAndUnchanged(_ server: TestServer, _ f: HostileFixture, after label: String) throws {
    let health = try server.http.request("GET", "/healthz")
    #expect(health.status == 200, "\(label): /healthz answered \(preview(health))")
    let summary = try server.http.request("GET", "/v1/events/\(f.event)")
    let held = summary.json?["held"] as? Int, sold = summary.json?["sold"] as? Int
    #expect(summary.status == 200 && held == 1 && sold == 0, "\(label): the event changed: \(preview(summary))")
    let booking = try server.http.request("GET", bookingPath(f), headers: f.headers)
    #expect(booking.status == 200 && booking.string("status") == "held" && booking.seats == [HostileFixture.heldSeat],
            "\(label): the held booking changed: \(preview(booking))")
}

private func heldCount(_ server: TestServer, _ event: String) throws -> Int? {
    try server.http.request("GET", "/v1/events/\(event)").json?["held"] as? Int
}

/// Seat id → status, from the public listing.
private func seatStatuses(_ server: TestServer, _ event: String) throws -> [String: String] {
    let seats = try server.http.request("GET", "/v1/events/\(event)/seats").json?["seats"] as? [[String: Any]] ?? []
    var statuses: [String: String] = [:]
    for seat in seats {
        if let id = seat["id"] as? String, let status = seat["status"] as? String { statuses[id] = status }
    }
    return statuses
}

/// Replies gathered from several threads at once.
private final class ReplyLog: @unchecked Sendable {
    private let lock = NSLock()
    private var gathered: [HTTPReply] = []
    private var errors: [String] = []

    func append(_ reply: HTTPReply) { lock.withLock { gathered.append(reply) } }
    func fail(_ error: String) { lock.withLock { errors.append(error) } }
    var replies: [HTTPReply] { lock.withLock { gathered } }
    var failures: [String] { lock.withLock { errors } }
}

/// The same signature bytes spelled differently: the last of the 43 base64url
/// symbols of a 32-byte HMAC carries 4 bits and 2 unused ones; flip one of those.
func respelled(_ token: String) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    var symbols = Array(token)
    let value = alphabet.firstIndex(of: symbols[symbols.count - 1])!
    symbols[symbols.count - 1] = alphabet[value ^ 1]
    return String(symbols)
}
