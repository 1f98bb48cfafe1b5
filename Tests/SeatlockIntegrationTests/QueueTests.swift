// The on-sale queue on a real Redis through the HTTP API: admission in join
// order, a prequeue drawn at random at the open, no hold without a genuine
// admission, and the queue following the inventory (sold out when nothing
// can come back to it, open again when seats do) with the waitlist taking
// returned seats first.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockTestSupport
import Testing

@Suite struct QueueTests {
    static let queueTokens = QueueTokens(secret: TestSecrets.tokenSecret)

    static func createQueuedEvent(_ server: TestServer, _ id: String, seats: Int, queue: String, maxSeatsPerUser: Int = 4,
                                  holdSeconds: Int = 900) throws {
        let body = """
        {"id":"\(id)","name":"Queued \(id)","venue":"Hall","startsAt":"2027-01-01T20:00:00Z","holdSeconds":\(holdSeconds),
         "maxSeatsPerUser":\(maxSeatsPerUser),"sections":[{"id":"A","rows":1,"seatsPerRow":\(seats),"priceCents":1000}],"queue":\(queue)}
        """
        let reply = try server.http.request("POST", "/v1/events", headers: server.adminHeaders, json: body)
        try #require(reply.status == 201, "\(reply.text)")
    }

    static func join(_ server: TestServer, _ event: String, _ user: String) throws -> HTTPReply {
        try server.http.request("POST", "/v1/events/\(event)/queue", headers: server.buyerHeaders(user))
    }

    static func poll(_ server: TestServer, _ event: String, _ token: String) throws -> HTTPReply {
        try server.http.request("GET", "/v1/events/\(event)/queue/me", headers: ["Queue-Token": token])
    }

    static func control(_ server: TestServer, _ event: String, _ action: String) throws -> HTTPReply {
        try server.http.request("POST", "/v1/events/\(event)/queue/\(action)", headers: server.adminHeaders)
    }

    static func holdAdmitted(_ server: TestServer, _ event: String, _ user: String, admission: String?, seats: [String]) throws -> HTTPReply {
        var headers = server.buyerHeaders(user)
        if let admission { headers["Admission"] = admission }
        let list = seats.map { "\"\($0)\"" }.joined(separator: ",")
        return try server.http.request("POST", "/v1/events/\(event)/bookings", headers: headers, json: "{\"seats\":[\(list)]}")
    }

    /// Polls until the buyer's status is one of `wanted` (at most `seconds`).
    static func pollUntil(_ server: TestServer, _ event: String, _ token: String, _ wanted: Set<String>, seconds: Double = 5,
                          where condition: (HTTPReply) -> Bool = { _ in true }) throws -> HTTPReply {
        let deadline = Date().addingTimeInterval(seconds)
        var reply = try poll(server, event, token)
        while !(wanted.contains(reply.string("status") ?? "") && condition(reply)), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            reply = try poll(server, event, token)
        }
        return reply
    }

    @Test func buyersAreAdmittedInTheOrderTheyJoined() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-fifo")
        try Self.createQueuedEvent(server, event, seats: 1000, queue: #"{"admitPerSecond":1000,"admissionSeconds":60}"#)
        #expect(try Self.control(server, event, "pause").string("status") == "paused")
        var tokens: [String] = []
        for index in 1...1000 {
            let reply = try Self.join(server, event, "fifo-\(index)")
            try #require(reply.status == 201, "\(reply.text)")
            #expect(reply.json?["position"] as? Int == index, "buyer \(index) joined at \(reply.text)")
            tokens.append(try #require(reply.string("queueToken")))
        }
        let again = try Self.join(server, event, "fifo-7")
        #expect(again.status == 200 && again.json?["position"] as? Int == 7, "joining twice: \(again.text)")
        #expect(try Self.poll(server, event, tokens[0]).string("status") == "waiting", "paused: nobody is admitted")
        #expect(try Self.control(server, event, "resume").status == 200)
        // Every answer is made from one serving position: admitted exactly when the
        // buyer's position (their join order) is at most that; serving only grows (the log below).
        var admitted = Set<Int>()
        let deadline = Date().addingTimeInterval(20)
        while admitted.count < 1000, Date() < deadline {
            for index in stride(from: Int.random(in: 0..<23), to: 1000, by: 23) where !admitted.contains(index) {
                let place = try Self.poll(server, event, tokens[index])
                let serving = try #require(place.json?["servingPosition"] as? Int, "\(place.text)")
                #expect(place.string("status") == (index + 1 <= serving ? "admitted" : "waiting"), "\(place.text)")
                if place.string("status") == "admitted" { admitted.insert(index) }
            }
            if admitted.count >= 40 { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(admitted.count >= 40, "the queue admitted too few buyers within 20 s")
        Thread.sleep(forTimeInterval: 1.2)
        #expect(try Self.poll(server, event, tokens[999]).string("status") == "admitted", "the queue did not reach the last buyer")
        let summary = try server.http.request("GET", "/v1/events/\(event)/queue")
        #expect(summary.json?["servingPosition"] as? Int == 1000, "\(summary.text)")
        // The log's advances are in position order and end at the last buyer.
        let log = try server.redis.client().send(["XRANGE", EventKeys(event).log, "-", "+"]).array ?? []
        let serving = log.compactMap { entry -> Int? in
            let fields = entry.array?.last?.fields ?? [:]
            return fields["type"] == "queue.advanced" ? Int(fields["servingPosition"] ?? "") : nil
        }
        #expect(serving == serving.sorted() && serving.last == 1000, "advances: \(serving.prefix(20))")
    }

    @Test func thePrequeueIsDrawnAtRandomAtTheOpen() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-pre")
        let opensAtMilliseconds = Int(Date().addingTimeInterval(8).timeIntervalSince1970 * 1000)
        let opensAt = ISOTime.string(milliseconds: opensAtMilliseconds)
        try Self.createQueuedEvent(server, event, seats: 1000, queue: "{\"opensAt\":\"\(opensAt)\",\"admitPerSecond\":1}")
        var tokens: [String] = []
        for index in 1...1000 {
            let reply = try Self.join(server, event, "pre-\(index)")
            try #require(reply.status == 201 && reply.string("status") == "prequeue", "\(reply.text)")
            #expect(reply.json?["position"] is NSNull)
            tokens.append(try #require(reply.string("queueToken")))
        }
        var summary = try server.http.request("GET", "/v1/events/\(event)/queue")
        for _ in 0..<20 where summary.json?["waiting"] as? Int != 1000 { // (each loop's state is up to ~300 ms old)
            Thread.sleep(forTimeInterval: 0.05)
            summary = try server.http.request("GET", "/v1/events/\(event)/queue")
        }
        #expect(summary.string("status") == "prequeue" && summary.json?["waiting"] as? Int == 1000, "\(summary.text)")
        Thread.sleep(until: Date(timeIntervalSince1970: Double(opensAtMilliseconds) / 1000 + 0.5))
        // Joining again returns the same place: after the open, the exact position drawn.
        var positions: [Int] = []
        for index in 1...1000 {
            let place = try Self.join(server, event, "pre-\(index)")
            #expect(place.status == 200 && place.json?["positionEstimated"] == nil, "\(place.text)")
            positions.append(try #require(place.json?["position"] as? Int, "\(place.text)"))
        }
        #expect(positions.sorted() == Array(1...1000), "the prequeue's positions are 1...1000, each once")
        // A random permutation: few buyers keep their join place, and join order says little about position.
        let fixedPoints = positions.enumerated().filter { $0.offset + 1 == $0.element }.count
        #expect(fixedPoints < 20, "\(fixedPoints) buyers kept their join place")
        let mean = 500.5
        let covariance = positions.enumerated().reduce(0.0) { $0 + (Double($1.offset + 1) - mean) * (Double($1.element) - mean) }
        let variance = (1...1000).reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) }
        #expect(abs(covariance / variance) < 0.15, "join order and position correlate: \(covariance / variance)")
        // Later arrivals queue behind the prequeue, first come first served.
        #expect(try Self.join(server, event, "pre-late").json?["position"] as? Int == 1001)
    }

    /// After the open a prequeue ticket's poll is answered from the loop's state: the queue's
    /// frontier (its last prequeue buyer reached) says whether the draw is admitted; a buyer not
    /// reached gets a place estimated from the draw (behind the serving position, never an
    /// admission), and one reached gets the exact position with the admission and a new token.
    @Test func aPrequeueTicketIsAdmittedByItsDrawAgainstTheFrontier() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-front")
        let opensAtMilliseconds = Int(Date().addingTimeInterval(4).timeIntervalSince1970 * 1000)
        try Self.createQueuedEvent(server, event, seats: 1000,
                                   queue: "{\"opensAt\":\"\(ISOTime.string(milliseconds: opensAtMilliseconds))\",\"admitPerSecond\":100}")
        var tokens: [String] = []
        for index in 1...300 {
            let reply = try Self.join(server, event, "front-\(index)")
            try #require(reply.status == 201 && reply.string("status") == "prequeue", "\(reply.text)")
            tokens.append(try #require(reply.string("queueToken")))
        }
        Thread.sleep(until: Date(timeIntervalSince1970: Double(opensAtMilliseconds) / 1000 + 1.2))
        var admitted: [(user: String, position: Int)] = [], waiting: [(user: String, estimate: Int, serving: Int)] = []
        for (index, token) in tokens.enumerated() {
            let place = try Self.poll(server, event, token)
            let position = try #require(place.json?["position"] as? Int, "\(place.text)")
            let serving = try #require(place.json?["servingPosition"] as? Int, "\(place.text)")
            switch place.string("status") {
            case "admitted"?:
                #expect(place.json?["positionEstimated"] == nil && position <= serving && place.string("admissionToken") != nil, "\(place.text)")
                let newToken = try #require(place.string("queueToken"))
                let ticket = try #require(Self.queueTokens.ticket(newToken))
                #expect(ticket.position == position, "an admitted prequeue buyer's new token carries the exact position")
                admitted.append(("front-\(index + 1)", position))
            case "waiting"?:
                #expect(place.json?["positionEstimated"] as? Bool == true && position > serving && place.string("admissionToken") == nil, "\(place.text)")
                #expect(place.string("queueToken") == token, "a waiting prequeue buyer keeps the token")
                waiting.append(("front-\(index + 1)", position, serving))
            default:
                Issue.record("unexpected place: \(place.text)")
            }
        }
        #expect(!admitted.isEmpty && !waiting.isEmpty, "\(admitted.count) admitted, \(waiting.count) waiting")
        for buyer in admitted {
            #expect(try Self.join(server, event, buyer.user).json?["position"] as? Int == buyer.position)
        }
        var misses = 0
        for buyer in waiting {
            let exact = try #require(try Self.join(server, event, buyer.user).json?["position"] as? Int)
            #expect(exact > buyer.serving, "\(buyer.user) was told waiting at serving \(buyer.serving), but holds position \(exact)")
            misses += abs(exact - buyer.estimate)
        }
        // Draws are uniform: the estimates are near (a few dozen places in 300 at most, on average far less).
        #expect(waiting.isEmpty || misses / waiting.count < 40, "estimates off by \(misses / max(1, waiting.count)) on average")
    }

    @Test func aHoldNeedsThisBuyersLiveAdmissionToThisEvent() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-gate")
        let other = TestServer.uniqueEventId("q-other")
        try Self.createQueuedEvent(server, event, seats: 10, queue: #"{"admitPerSecond":1000}"#)
        try Self.createQueuedEvent(server, other, seats: 10, queue: #"{"admitPerSecond":1000}"#)
        let joined = try Self.join(server, event, "gate-a")
        let place = try Self.pollUntil(server, event, try #require(joined.string("queueToken")), ["admitted"])
        let admission = try #require(place.string("admissionToken"), "\(place.text)")
        let otherPlace = try Self.pollUntil(server, other, try #require(try Self.join(server, other, "gate-a").string("queueToken")), ["admitted"])
        let now = Int(Date().timeIntervalSince1970 * 1000)
        let refusals: [(String?, String, String)] = [
            (nil, "gate-a", "admission_required"),
            ("a1.\(event).gate-a.1.\(now + 60_000).AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "gate-a", "admission_invalid"), // forged
            (Self.queueTokens.admissionToken(Admission(eventId: event, userId: "gate-a", position: 1, expiresAt: now - 1)), "gate-a", "admission_invalid"),
            (admission, "gate-b", "admission_invalid"), // another buyer's
            (otherPlace.string("admissionToken"), "gate-a", "admission_invalid"), // another event's
            // Genuine, but for a position the queue has not reached: the script refuses.
            (Self.queueTokens.admissionToken(Admission(eventId: event, userId: "gate-c", position: 50, expiresAt: now + 60_000)), "gate-c", "admission_invalid"),
            (joined.string("queueToken"), "gate-a", "admission_invalid"), // a queue token is no admission
        ]
        for (token, user, code) in refusals {
            let reply = try Self.holdAdmitted(server, event, user, admission: token, seats: ["A-1-1"])
            #expect(reply.status == 403 && reply.string("error") == code, "\(user) with \(token ?? "none"): \(reply.text)")
        }
        let client = try server.redis.client()
        #expect(try client.send(["HGET", EventKeys(event).event, "held"]).int == 0, "a refused hold changed nothing")
        let log = try client.send(["XRANGE", EventKeys(event).log, "-", "+"]).array ?? []
        #expect(!log.contains { $0.array?.last?.fields["type"] == "booking.initiated" })
        let held = try Self.holdAdmitted(server, event, "gate-a", admission: admission, seats: ["A-1-1"])
        #expect(held.status == 201, "\(held.text)")
        let booking = try client.send(["HGET", EventKeys(event).booking(try #require(held.string("id"))), "position"])
        #expect(booking.string == "1", "the booking records its admission's position")
    }

    @Test func theQueueFollowsTheInventoryAndReturnsGoToTheWaitlistFirst() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-inv")
        try Self.createQueuedEvent(server, event, seats: 4, queue: #"{"admitPerSecond":0,"admissionSeconds":60}"#)
        let first = try Self.join(server, event, "inv-a")
        let admitted = try Self.pollUntil(server, event, try #require(first.string("queueToken")), ["admitted"])
        let admission = try #require(admitted.string("admissionToken"), "\(admitted.text)")
        let hold = try Self.holdAdmitted(server, event, "inv-a", admission: admission, seats: ["A-1-1", "A-1-2", "A-1-3", "A-1-4"])
        try #require(hold.status == 201, "\(hold.text)")
        // Everything is held: a waiting buyer waits (the holds may come back), the waitlist opens.
        let waiter = try #require(try Self.join(server, event, "inv-b").string("queueToken"))
        let waiting = try Self.pollUntil(server, event, waiter, ["waiting"]) { $0.json?["available"] as? Int == 0 }
        #expect(waiting.string("status") == "waiting" && waiting.json?["available"] as? Int == 0, "\(waiting.text)")
        let early = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders("inv-z"), json: #"{"quantity":5}"#)
        #expect(early.status == 422 && early.string("error") == "limit_exceeded", "\(early.text)")
        for user in ["inv-c", "inv-d"] {
            let entry = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders(user), json: #"{"quantity":2}"#)
            #expect(entry.status == 201 && entry.string("status") == "waiting", "\(entry.text)")
        }
        // The waitlist wants every held seat: nothing can reach the queue, which says sold_out within a second.
        let soldOut = try Self.pollUntil(server, event, waiter, ["sold_out"], seconds: 1.5)
        #expect(soldOut.string("status") == "sold_out", "\(soldOut.text)")
        let late = try Self.join(server, event, "inv-e")
        #expect(late.status == 409 && late.string("error") == "sold_out", "\(late.text)")
        // The hold is released: its seats go to the waitlist in order, in the same call.
        let booking = try #require(hold.string("id"))
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("inv-a"))
        try #require(released.status == 200, "\(released.text)")
        let client = try server.redis.client()
        #expect(try client.send(["ZCARD", EventKeys(event).free("A")]).int == 0, "no returned seat was ever free")
        var offers: [String] = []
        for user in ["inv-c", "inv-d"] {
            let entry = try server.http.request("GET", "/v1/events/\(event)/waitlist/me", headers: server.buyerHeaders(user))
            #expect(entry.string("status") == "offered", "\(entry.text)")
            let offer = try #require(entry.string("bookingId"))
            let booking = try server.http.request("GET", "/v1/events/\(event)/bookings/\(offer)", headers: server.buyerHeaders(user))
            #expect(booking.string("status") == "held" && booking.seats.count == 2, "\(booking.text)")
            offers.append(offer)
        }
        // inv-d leaves: the offer's seats have nobody waiting, so they go on sale and the queue opens again.
        let left = try server.http.request("DELETE", "/v1/events/\(event)/waitlist/me", headers: server.buyerHeaders("inv-d"))
        #expect(left.status == 200 && left.string("status") == "left", "\(left.text)")
        #expect(try client.send(["ZCARD", EventKeys(event).free("A")]).int == 2)
        let back = try Self.pollUntil(server, event, waiter, ["admitted"], seconds: 3)
        #expect(back.string("status") == "admitted", "\(back.text)")
        let audit = try EventAudit(eventId: event).run(client)
        #expect(audit.passed, "\(audit.text)")
    }

    /// A seat left alone that no admitted buyer can use (each wants two together) must not keep the
    /// whole queue waiting: after ten such misses the queue says sold out, the waitlist opens, and
    /// the remnant goes to the first entry it fits, offered as it joins.
    @Test func remnantsNobodyTakesSellTheQueueOutAndGoToTheWaitlist() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("q-rem")
        try Self.createQueuedEvent(server, event, seats: 5, queue: #"{"admitPerSecond":0,"admissionSeconds":60}"#)
        let first = try #require(try Self.join(server, event, "rem-a").string("queueToken"))
        let admission = try #require(try Self.pollUntil(server, event, first, ["admitted"]).string("admissionToken"))
        let hold = try Self.holdAdmitted(server, event, "rem-a", admission: admission, seats: ["A-1-1", "A-1-2", "A-1-4", "A-1-5"])
        try #require(hold.status == 201, "\(hold.text)")
        // A-1-3 is left alone; ten buyers in a row want two together and come away without.
        var tokens: [String] = []
        for n in 1...10 { tokens.append(try #require(try Self.join(server, event, "rem-\(n)").string("queueToken"))) }
        for (n, token) in tokens.enumerated() {
            let admitted = try Self.pollUntil(server, event, token, ["admitted"], seconds: 3)
            let pass = try #require(admitted.string("admissionToken"), "buyer \(n + 1): \(admitted.text)")
            var headers = server.buyerHeaders("rem-\(n + 1)")
            headers["Admission"] = pass
            let miss = try server.http.request("POST", "/v1/events/\(event)/bookings", headers: headers, json: #"{"quantity":2,"section":"A"}"#)
            #expect(miss.status == 409 && miss.string("error") == "sold_out", "\(miss.text)")
        }
        let waiter = try #require(try Self.join(server, event, "rem-w").string("queueToken"))
        let soldOut = try Self.pollUntil(server, event, waiter, ["sold_out"], seconds: 1.5)
        #expect(soldOut.string("status") == "sold_out" && soldOut.json?["available"] as? Int == 1, "\(soldOut.text)")
        let client = try server.redis.client()
        let logged = try client.call("XRANGE", EventKeys(event).log, "-", "+").array?.compactMap { $0.array?.last?.fields } ?? []
        let said = logged.first { $0["type"] == "queue.sold_out" }
        #expect(said?["reason"] == "remnants" && said?["available"] == "1", "\(logged)")
        // The waitlist is open: an entry for two waits, the next one, for one seat, is offered A-1-3 at once.
        let pair = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders("rem-p"), json: #"{"quantity":2}"#)
        #expect(pair.status == 201 && pair.string("status") == "waiting", "\(pair.text)")
        let single = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders("rem-s"), json: #"{"quantity":1}"#)
        #expect(single.status == 201 && single.string("status") == "offered", "\(single.text)")
        let offer = try #require(single.string("bookingId"))
        let booking = try server.http.request("GET", "/v1/events/\(event)/bookings/\(offer)", headers: server.buyerHeaders("rem-s"))
        #expect(booking.string("status") == "held" && booking.seats == ["A-1-3"], "\(booking.text)")
        #expect(try client.send(["ZCARD", EventKeys(event).free("A")]).int == 0)
        // Nothing is left now: the queue stays sold out.
        let still = try Self.pollUntil(server, event, waiter, ["sold_out"]) { $0.json?["available"] as? Int == 0 }
        #expect(still.string("status") == "sold_out" && still.json?["available"] as? Int == 0, "\(still.text)")
        // The offer is let go: A-1-3 fits nobody waiting and is free again, but with buyers on the
        // waitlist one seat does not reopen the queue (it would send every waiting buyer polling again).
        let letGo = try server.http.request("DELETE", "/v1/events/\(event)/waitlist/me", headers: server.buyerHeaders("rem-s"))
        #expect(letGo.status == 200 && letGo.string("status") == "left", "\(letGo.text)")
        let freeAgain = try Self.pollUntil(server, event, waiter, ["open", "waiting"], seconds: 1) { $0.json?["available"] as? Int == 1 }
        #expect(freeAgain.string("status") == "sold_out" && freeAgain.json?["available"] as? Int == 1, "\(freeAgain.text)")
        let audit = try EventAudit(eventId: event).run(client)
        #expect(audit.passed, "\(audit.text)")
    }

    /// A seat that came back and fitted nobody waiting is free; the next return offers it again, with
    /// the returned seats: one seat back, then another, make the pair the first entry waits for.
    @Test func aFreeSeatGoesWithTheNextReturnToTheWaitlist() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("wl-free")
        try #require(try server.createEvent(event, rows: 1, seatsPerRow: 3).status == 201)
        var bookings: [String: String] = [:]
        for (user, seat) in [("fr-x", "A-1-1"), ("fr-y", "A-1-2"), ("fr-z", "A-1-3")] {
            let hold = try server.hold(event, user: user, seats: [seat])
            try #require(hold.status == 201, "\(hold.text)")
            bookings[user] = try #require(hold.string("id"))
        }
        let entry = try server.http.request("POST", "/v1/events/\(event)/waitlist", headers: server.buyerHeaders("fr-w"), json: #"{"quantity":2}"#)
        try #require(entry.status == 201 && entry.string("status") == "waiting", "\(entry.text)")
        let client = try server.redis.client()
        for user in ["fr-x", "fr-y"] {
            let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(bookings[user]!)", headers: server.buyerHeaders(user))
            try #require(released.status == 200, "\(released.text)")
            let free = try client.send(["ZCARD", EventKeys(event).free("A")]).int
            let wait = try server.http.request("GET", "/v1/events/\(event)/waitlist/me", headers: server.buyerHeaders("fr-w"))
            if user == "fr-x" {
                #expect(free == 1 && wait.string("status") == "waiting", "one seat does not fit a wish for two: \(wait.text)")
            } else {
                #expect(free == 0 && wait.string("status") == "offered", "the free seat went with the returned one: \(wait.text)")
                let offer = try server.http.request("GET", "/v1/events/\(event)/bookings/\(try #require(wait.string("bookingId")))",
                                                    headers: server.buyerHeaders("fr-w"))
                #expect(offer.string("status") == "held" && Set(offer.seats) == ["A-1-1", "A-1-2"], "\(offer.text)")
            }
        }
        let audit = try EventAudit(eventId: event).run(client)
        #expect(audit.passed, "\(audit.text)")
    }

    @Test func queueRequestsAreValidated() throws {
        let server = try TestServer.shared()
        let direct = TestServer.uniqueEventId("q-direct")
        try #require(try server.createEvent(direct, rows: 1, seatsPerRow: 2).status == 201)
        let noQueue = try Self.join(server, direct, "val-a")
        #expect(noQueue.status == 409 && noQueue.string("error") == "no_queue", "\(noQueue.text)")
        #expect(try Self.join(server, "no-such-event", "val-a").status == 404)
        let noToken = try server.http.request("GET", "/v1/events/\(direct)/queue/me")
        #expect(noToken.status == 401 && noToken.string("error") == "queue_token_required", "\(noToken.text)")
        for token in ["garbage", "q1.\(direct).val-a.1.xx", String(repeating: "q", count: 300)] {
            let reply = try Self.poll(server, direct, token)
            #expect(reply.status == 401 && reply.string("error") == "invalid_queue_token", "\(reply.text)")
        }
        let waitlist = try server.http.request("POST", "/v1/events/\(direct)/waitlist", headers: server.buyerHeaders("val-a"), json: #"{"quantity":1}"#)
        #expect(waitlist.status == 409 && waitlist.string("error") == "waitlist_not_open", "\(waitlist.text)")
        for body in [#"{"quantity":0}"#, #"{"quantity":"2"}"#, #"{"quantity":1,"section":"A-1"}"#, #"{"quantity":1,"extra":1}"#, "[]"] {
            let reply = try server.http.request("POST", "/v1/events/\(direct)/waitlist", headers: server.buyerHeaders("val-a"), json: body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
        }
        let badQueue = """
        {"id":"q-bad","name":"N","venue":"V","startsAt":"2027-01-01T20:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":1,"priceCents":1}],"queue":{"admitPerSecnd":5}}
        """
        let refused = try server.http.request("POST", "/v1/events", headers: server.adminHeaders, json: badQueue)
        #expect(refused.status == 400, "\(refused.text)")
        let pauseDirect = try Self.control(server, direct, "pause")
        #expect(pauseDirect.status == 409 && pauseDirect.string("error") == "no_queue", "\(pauseDirect.text)")
        let byBuyer = try server.http.request("POST", "/v1/events/\(direct)/queue/pause", headers: server.buyerHeaders("val-a"))
        #expect(byBuyer.status == 403)
    }
}
