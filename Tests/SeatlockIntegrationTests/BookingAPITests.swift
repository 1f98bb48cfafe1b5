// The HTTP API from outside: a real server on a real Redis, spoken to over
// sockets. Every test uses its own event id.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Testing

@Suite struct EventAPITests {
    @Test func adminCreatesAndAnyoneReads() throws {
        let server = try TestServer.shared()
        let id = TestServer.uniqueEventId()
        let created = try server.createEvent(id, rows: 2, seatsPerRow: 5)
        #expect(created.status == 201)
        #expect(created.json?["capacity"] as? Int == 10 && created.json?["available"] as? Int == 10)
        let read = try server.http.request("GET", "/v1/events/\(id)")
        #expect(read.status == 200 && read.json?["name"] as? String == "Test \(id)")
        let seats = try server.http.request("GET", "/v1/events/\(id)/seats?section=A")
        let list = seats.json?["seats"] as? [[String: Any]] ?? []
        #expect(list.count == 10 && list.first?["id"] as? String == "A-1-1" && list.first?["status"] as? String == "available")
        #expect(try TestRedis.shared().client().call("SISMEMBER", GlobalKeys.events, id).int == 1)
    }

    @Test func duplicateEventIs409() throws {
        let server = try TestServer.shared()
        let id = TestServer.uniqueEventId()
        #expect(try server.createEvent(id).status == 201)
        let again = try server.createEvent(id)
        #expect(again.status == 409 && again.string("error") == "event_exists")
    }

    @Test func creatingNeedsTheAdminToken() throws {
        let server = try TestServer.shared()
        let body = #"{"id":"x1","name":"n","venue":"v","startsAt":"2027-01-01T00:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":1,"priceCents":1}]}"#
        let anonymous = try server.http.request("POST", "/v1/events", headers: ["Content-Type": "application/json"], json: body)
        #expect(anonymous.status == 401 && anonymous.string("error") == "unauthorized")
        let buyer = try server.http.request("POST", "/v1/events", headers: server.buyerHeaders("u1"), json: body)
        #expect(buyer.status == 403 && buyer.string("error") == "forbidden")
    }

    @Test func unknownEventAndSection() throws {
        let server = try TestServer.shared()
        #expect(try server.http.request("GET", "/v1/events/nope-nope").status == 404)
        #expect(try server.http.request("GET", "/v1/events/nope-nope/seats").status == 404)
        let id = TestServer.uniqueEventId()
        try server.createEvent(id)
        #expect(try server.http.request("GET", "/v1/events/\(id)/seats?section=Z").status == 404)
    }
}

@Suite struct BookingAPITests {
    @Test func holdPayAndSeeItConfirmed() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let hold = try server.hold(event, user: "alice", seats: ["A-1-1", "A-1-2"])
        #expect(hold.status == 201 && hold.string("status") == "held" && hold.seats == ["A-1-1", "A-1-2"])
        #expect(hold.json?["totalCents"] as? Int == 10_000)
        let booking = try #require(hold.string("id"))
        let paid = try server.pay(event, booking: booking, user: "alice")
        #expect(paid.status == 202 && paid.string("status") == "payment_pending")
        // The payments worker is not part of this server; confirm as it would.
        let client = try server.redis.client()
        let confirmed = try client.run(server.redis.scripts.confirm(event: event, booking: booking, paymentId: "p1", confirmationCode: "SL-ABC123"))
        #expect(confirmed.array?.first?.int == 200)
        let read = try server.http.request("GET", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("alice"))
        #expect(read.status == 200 && read.string("status") == "confirmed" && read.string("confirmationCode") == "SL-ABC123")
        let seats = try server.http.request("GET", "/v1/events/\(event)/seats").json?["seats"] as? [[String: Any]] ?? []
        #expect(seats.first { $0["id"] as? String == "A-1-1" }?["status"] as? String == "sold")
        let summary = try server.http.request("GET", "/v1/events/\(event)")
        #expect(summary.json?["sold"] as? Int == 2 && summary.json?["available"] as? Int == 48)
    }

    @Test func conflictingHoldNamesTheTakenSeatsAndLeavesTheRestFree() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        #expect(try server.hold(event, user: "a", seats: ["A-2-2"]).status == 201)
        let refused = try server.hold(event, user: "b", seats: ["A-2-1", "A-2-2"])
        #expect(refused.status == 409 && refused.string("error") == "seats_unavailable" && refused.seats == ["A-2-2"])
        let seats = try server.http.request("GET", "/v1/events/\(event)/seats").json?["seats"] as? [[String: Any]] ?? []
        #expect(seats.first { $0["id"] as? String == "A-2-1" }?["status"] as? String == "available")
        #expect(seats.first { $0["id"] as? String == "A-2-2" }?["status"] as? String == "held")
        #expect(try server.hold(event, user: "b", seats: ["A-2-1"]).status == 201)
    }

    @Test func oneHoldAcrossSectionsTakesEachSectionsSeats() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        let body = """
        {"id":"\(event)","name":"Two sections","venue":"Hall","startsAt":"2027-01-01T20:00:00Z","maxSeatsPerUser":6,
         "sections":[{"id":"A","rows":2,"seatsPerRow":4,"priceCents":1000},{"id":"B","rows":2,"seatsPerRow":4,"priceCents":3000}]}
        """
        #expect(try server.http.request("POST", "/v1/events", headers: server.adminHeaders, json: body).status == 201)
        let held = try server.hold(event, user: "a", seats: ["B-1-1", "A-1-1", "B-1-2"])
        #expect(held.status == 201 && held.json?["totalCents"] as? Int == 7000)
        let keys = EventKeys(event), client = try TestRedis.shared().client()
        #expect(try client.send(["ZMSCORE", keys.free("A"), "A-1-1", "A-1-2"]).array?.map { $0 == .null } == [true, false])
        #expect(try client.send(["ZMSCORE", keys.free("B"), "B-1-1", "B-1-2", "B-1-3"]).array?.map { $0 == .null } == [true, true, false])
        // Taken seats in either section are named, in the request's section order.
        let refused = try server.hold(event, user: "b", seats: ["A-1-2", "B-1-2", "A-1-1"])
        #expect(refused.status == 409 && refused.seats == ["A-1-1", "B-1-2"])
        #expect(try server.hold(event, user: "b", seats: ["A-1-2", "B-1-3"]).status == 201)
    }

    @Test func bestAvailableIsAdjacent() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, rows: 3, seatsPerRow: 8)
        #expect(try server.hold(event, user: "x", seats: ["A-1-3"]).status == 201)
        let best = try server.holdBest(event, user: "y", quantity: 4)
        #expect(best.status == 201 && best.seats == ["A-1-4", "A-1-5", "A-1-6", "A-1-7"])
        let soldOut = try server.holdBest(event, user: "z", quantity: 4, section: "Q")
        #expect(soldOut.status == 404)
    }

    @Test func perUserLimit() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, maxSeatsPerUser: 2)
        #expect(try server.hold(event, user: "greedy", seats: ["A-1-1", "A-1-2"]).status == 201)
        let more = try server.hold(event, user: "greedy", seats: ["A-1-3"])
        #expect(more.status == 422 && more.string("error") == "limit_exceeded")
        let tooMany = try server.hold(event, user: "other", seats: ["A-3-1", "A-3-2", "A-3-3"])
        #expect(tooMany.status == 422)
    }

    /// A few accounts holding alternate seats of the front rows leave no two
    /// adjacent seats there: best available still finds adjacent seats in a
    /// row further back, keeps track as holds end, and an event whose row
    /// index is missing (made before it existed) gets it built on first use.
    @Test func bestAvailableFindsAdjacentSeatsBehindAFragmentedFront() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try #require(try server.createEvent(event, rows: 20, seatsPerRow: 10).status == 201)
        var bookings: [String] = []
        for row in 1...18 {
            let seats = stride(from: 2, through: 10, by: 2).map { "A-\(row)-\($0)" } // free: 1 3 5 7 9
            for (part, pair) in [Array(seats.prefix(3)), Array(seats.suffix(2))].enumerated() {
                let reply = try server.hold(event, user: "frag-\(row)-\(part)", seats: pair)
                try #require(reply.status == 201, "\(reply.text)")
                bookings.append(reply.string("id")!)
            }
        }
        let best = try server.holdBest(event, user: "pair-1", quantity: 2)
        #expect(best.status == 201 && best.seats == ["A-19-1", "A-19-2"], "\(best.text)")
        let three = try server.holdBest(event, user: "trio", quantity: 3)
        #expect(three.seats == ["A-19-3", "A-19-4", "A-19-5"], "\(three.text)")
        // Row 1's first hold ends: 1-2-3-4-5 are free again, the front-most run.
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(bookings[0])", headers: server.buyerHeaders("frag-1-0"))
        try #require(released.status == 200)
        #expect(try server.holdBest(event, user: "pair-2", quantity: 2).seats == ["A-1-1", "A-1-2"])
        // Without the index (an older event), the first best-available hold builds it from the free set.
        try server.redis.client().call("DEL", EventKeys(event).freeRuns("A"))
        #expect(try server.holdBest(event, user: "pair-3", quantity: 2).seats == ["A-1-3", "A-1-4"])
        #expect(try server.holdBest(event, user: "pair-4", quantity: 4).seats == ["A-19-6", "A-19-7", "A-19-8", "A-19-9"])
        // No run of 4 anywhere else but row 20: then no run at all, and the front-most free seats.
        #expect(try server.holdBest(event, user: "pair-5", quantity: 4).seats == ["A-20-1", "A-20-2", "A-20-3", "A-20-4"])
        #expect(try server.holdBest(event, user: "pair-6", quantity: 4).seats == ["A-20-5", "A-20-6", "A-20-7", "A-20-8"])
        #expect(try server.holdBest(event, user: "pair-7", quantity: 3).seats == ["A-1-5", "A-1-6", "A-1-7"])
        let scattered = try server.holdBest(event, user: "pair-8", quantity: 3) // no run of 3 is left anywhere
        #expect(scattered.status == 201 && scattered.seats == ["A-1-9", "A-2-1", "A-2-3"], "\(scattered.text)")
        let audit = try EventAudit(eventId: event).run(server.redis.client())
        #expect(audit.passed, "\(audit.text)")
    }

    /// Best available strands no single seat where the row has another
    /// choice: with 1-3 and 5-10 free, a pair comes from 5-10 (1-3 would
    /// leave seat 3 alone); a run that n seats fill exactly is taken as it
    /// is; when every run of the front-most row that fits leaves one, the
    /// first of them (front rows come first).
    @Test func bestAvailableLeavesNoSingleSeatWhereItCan() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try #require(try server.createEvent(event, rows: 2, seatsPerRow: 10).status == 201)
        try #require(try server.hold(event, user: "single-0", seats: ["A-1-4"]).status == 201)
        #expect(try server.holdBest(event, user: "single-1", quantity: 2).seats == ["A-1-5", "A-1-6"])
        #expect(try server.holdBest(event, user: "single-2", quantity: 3).seats == ["A-1-1", "A-1-2", "A-1-3"])
        // Row 1 now has 7-10: a trio leaves 10 alone, and the row has no other choice (front rows first).
        #expect(try server.holdBest(event, user: "single-3", quantity: 3).seats == ["A-1-7", "A-1-8", "A-1-9"])
        try #require(try server.hold(event, user: "single-4", seats: ["A-2-2"]).status == 201)
        // Row 1 has only seat 10; row 2 has 1 and 3-10: the pair starts at 3.
        #expect(try server.holdBest(event, user: "single-5", quantity: 2).seats == ["A-2-3", "A-2-4"])
        let audit = try EventAudit(eventId: event).run(server.redis.client())
        #expect(audit.passed, "\(audit.text)")
    }

    /// After a random mix of holds, best-available holds and releases, every
    /// best-available hold got the first run of its size in the front-most
    /// row that had one, passing over runs it would leave one seat of (else
    /// the front-most free seats), and the row index
    /// never understates a row: its values are bounds, so a row may be read
    /// in vain but never skipped.
    /// (With 40 seats a row, longer than hold_best's first read of a row.)
    @Test(arguments: [12, 40]) func bestAvailableAlwaysTakesTheFrontMostRun(perRow: Int) throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        let rows = 6, cap = 4
        try #require(try server.createEvent(event, rows: rows, seatsPerRow: perRow, maxSeatsPerUser: cap).status == 201)
        let client = try server.redis.client()
        func freeRows() throws -> [[Int]] {
            let free = (try client.call("ZRANGE", EventKeys(event).free("A"), "0", "-1").array ?? []).compactMap { $0.string.flatMap(SeatID.init) }
            return (1...rows).map { row in free.filter { $0.row == row }.map(\.number).sorted() }
        }
        func runs(_ numbers: [Int]) -> [[Int]] {
            numbers.reduce(into: [[Int]]()) { runs, number in
                if let last = runs.last?.last, last + 1 == number { runs[runs.count - 1].append(number) } else { runs.append([number]) }
            }
        }
        func expectedSeats(_ quantity: Int) throws -> [String] {
            let free = try freeRows()
            for (index, numbers) in free.enumerated() {
                let fitting = runs(numbers).filter { $0.count >= quantity }
                // (no single seat left beside them when the row allows it)
                if let run = fitting.first(where: { $0.count - quantity != 1 || quantity == 1 }) ?? fitting.first { // (one seat: the front-most)
                    return run.prefix(quantity).map { "A-\(index + 1)-\($0)" }
                }
            }
            return Array(free.enumerated().flatMap { index, numbers in numbers.map { "A-\(index + 1)-\($0)" } }.prefix(quantity))
        }
        var random = SeededRandom(seed: 7)
        var live: [(booking: String, user: String)] = []
        var bestHolds = 0
        for step in 0..<150 {
            let user = "idx-\(step)"
            switch random.next() % 3 {
            case 0:
                let seats = Set((0..<(1 + Int(random.next() % 3))).map { _ in "A-\(1 + Int(random.next() % UInt64(rows)))-\(1 + Int(random.next() % UInt64(perRow)))" })
                let reply = try server.hold(event, user: user, seats: Array(seats))
                if reply.status == 201 { live.append((reply.string("id")!, user)) }
            case 1:
                let quantity = 1 + Int(random.next() % UInt64(cap))
                let expected = try expectedSeats(quantity)
                let reply = try server.holdBest(event, user: user, quantity: quantity)
                if expected.count < quantity { #expect(reply.status == 409, "\(reply.text)"); continue }
                #expect(reply.status == 201 && reply.seats == expected, "step \(step): \(reply.text), expected \(expected)")
                if reply.status == 201 { live.append((reply.string("id")!, user)); bestHolds += 1 }
            default:
                guard !live.isEmpty else { continue }
                let (booking, owner) = live.remove(at: Int(random.next() % UInt64(live.count)))
                try #require(try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders(owner)).status == 200)
            }
        }
        #expect(bestHolds > 20)
        let index = try client.call("HGETALL", EventKeys(event).freeRuns("A")).fields
        let size = try #require(Int(index["size"] ?? ""))
        func node(_ n: Int) -> Int { Int(index[String(n)] ?? "0") ?? 0 }
        for (index, numbers) in try freeRows().enumerated() {
            let longest = min(cap, runs(numbers).map(\.count).max() ?? 0)
            #expect(node(size + index) >= longest, "row \(index + 1): \(node(size + index)) < \(longest)")
        }
        for n in 1..<size { #expect(node(n) == max(node(2 * n), node(2 * n + 1)), "node \(n)") }
    }

    /// The admin's key is scoped to the admin, not to the event it created:
    /// reused with another body (another event) it is 422, and nothing is created.
    @Test func anEventCreationKeyReusedWithAnotherBodyIsAMismatch() throws {
        let server = try TestServer.shared()
        let first = TestServer.uniqueEventId(), second = TestServer.uniqueEventId()
        let key = "create-\(UUID().uuidString.prefix(8))"
        func create(_ id: String, seatsPerRow: Int = 10) throws -> HTTPReply {
            let body = #"{"id":"\#(id)","name":"N","venue":"V","startsAt":"2027-01-01T20:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":\#(seatsPerRow),"priceCents":1}]}"#
            return try server.http.request("POST", "/v1/events", headers: server.adminHeaders.merging(["Idempotency-Key": key]) { $1 }, json: body)
        }
        let created = try create(first)
        let replay = try create(first)
        #expect(created.status == 201 && replay.status == 201 && created.body == replay.body)
        let otherEvent = try create(second)
        #expect(otherEvent.status == 422 && otherEvent.string("error") == "idempotency_mismatch", "\(otherEvent.text)")
        let otherShape = try create(first, seatsPerRow: 11)
        #expect(otherShape.status == 422 && otherShape.string("error") == "idempotency_mismatch", "\(otherShape.text)")
        #expect(try server.http.request("GET", "/v1/events/\(second)").status == 404)
        #expect(try server.http.request("GET", "/v1/events/\(first)").json?["capacity"] as? Int == 10)
    }

    @Test func idempotentReplayReturnsTheFirstAnswerByteForByte() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let first = try server.hold(event, user: "idem", seats: ["A-1-1"], idempotencyKey: "key-1")
        let replay = try server.hold(event, user: "idem", seats: ["A-1-1"], idempotencyKey: "key-1")
        #expect(first.status == 201 && replay.status == 201 && first.body == replay.body)
        let mismatch = try server.hold(event, user: "idem", seats: ["A-1-2"], idempotencyKey: "key-1")
        #expect(mismatch.status == 422 && mismatch.string("error") == "idempotency_mismatch")
        // Keys are scoped per caller: another buyer's same key is a new request.
        let other = try server.hold(event, user: "someone-else", seats: ["A-1-2"], idempotencyKey: "key-1")
        #expect(other.status == 201)
        let badKey = try server.hold(event, user: "idem", seats: ["A-1-3"], idempotencyKey: "bad:key")
        #expect(badKey.status == 400 && badKey.string("error") == "invalid_idempotency_key")
        #expect(try server.redis.client().call("GET", EventKeys(event).user("idem")).string == "1")
    }

    @Test func releaseThenTheSeatsAreFree() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let booking = try #require(try server.hold(event, user: "r", seats: ["A-1-1"]).string("id"))
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("r"))
        #expect(released.status == 200 && released.string("status") == "released")
        let again = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("r"))
        #expect(again.status == 409 && again.string("error") == "invalid_state")
        #expect(try server.hold(event, user: "s", seats: ["A-1-1"]).status == 201)
    }

    @Test func confirmIsRefusedAfterTheHoldsExpired() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, holdSeconds: 1)
        let booking = try #require(try server.hold(event, user: "slow", seats: ["A-1-1"]).string("id"))
        #expect(try server.pay(event, booking: booking, user: "slow").status == 202) // grace: 1 s in tests
        Thread.sleep(forTimeInterval: 1.3)
        let client = try server.redis.client()
        let late = try client.run(server.redis.scripts.confirm(event: event, booking: booking, paymentId: "p", confirmationCode: "SL-LATE01"))
        #expect(late.array?.first?.int == 409)
        #expect(try client.call("HEXISTS", EventKeys(event).sold, "A-1-1").int == 0)
        let pay = try server.pay(event, booking: booking, user: "slow")
        #expect(pay.status == 409)
    }

    @Test func anotherBuyersBookingIsNotFoundAndUnchanged() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let booking = try #require(try server.hold(event, user: "owner", seats: ["A-1-1"]).string("id"))
        let path = "/v1/events/\(event)/bookings/\(booking)"
        #expect(try server.http.request("GET", path, headers: server.buyerHeaders("thief")).status == 404)
        #expect(try server.http.request("DELETE", path, headers: server.buyerHeaders("thief")).status == 404)
        #expect(try server.pay(event, booking: booking, user: "thief").status == 404)
        let mine = try server.http.request("GET", path, headers: server.buyerHeaders("owner"))
        #expect(mine.status == 200 && mine.string("status") == "held")
        let admin = try server.http.request("GET", path, headers: server.adminHeaders)
        #expect(admin.status == 200)
    }
}

@Suite struct ValidationAPITests {
    @Test func everyIdPositionRejectsUnsafeCharacters() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let bad = ["a%7Bb%7D", "a:b", "a*", "a%20b", "a%00", "a%0D%0Ab", String(repeating: "x", count: 65), "%C3%A9"]
        for id in bad {
            for path in ["/v1/events/\(id)", "/v1/events/\(id)/seats", "/v1/events/\(event)/bookings/\(id)"] {
                let reply = try server.http.request("GET", path, headers: server.buyerHeaders("u"))
                // Control bytes and non-ASCII are refused for the whole path (invalid_path), the rest per id.
                #expect(reply.status == 400 && ["invalid_id", "invalid_path"].contains(reply.string("error") ?? ""), "\(path) -> \(reply.status)")
            }
            let payment = try server.http.request("POST", "/v1/events/\(event)/bookings/\(id)/payment", headers: server.buyerHeaders("u"),
                                                  json: #"{"paymentToken":"tok_visa"}"#)
            #expect(payment.status == 400)
        }
    }

    @Test func bodiesAreChecked() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let path = "/v1/events/\(event)/bookings"
        let cases: [(String, Int)] = [
            ("{", 400), ("not json", 400), (#"{"seats":[]}"#, 400), (#"{"seats":["A-1-1","A-1-1"]}"#, 400),
            (#"{"seats":["A:1:1"]}"#, 400), (#"{"seats":["A-1-1{x}"]}"#, 400), (#"{"quantity":-2,"section":"A"}"#, 400),
            (#"{"quantity":1e30,"section":"A"}"#, 400), (#"{"quantity":"two","section":"A"}"#, 400), ("[]", 400),
            (#"{"seats":["A-99-1"]}"#, 400), (#"{"quantity":9,"section":"A"}"#, 422),
        ]
        for (body, status) in cases {
            let reply = try server.http.request("POST", path, headers: server.buyerHeaders("v"), json: body)
            #expect(reply.status == status, "\(body) -> \(reply.status) \(reply.text)")
            #expect(reply.string("error") != nil && reply.string("message") != nil)
        }
        let payment = try server.http.request("POST", "/v1/events/\(event)/bookings/b1/payment", headers: server.buyerHeaders("v"),
                                              json: #"{"paymentToken":"tok visa"}"#)
        #expect(payment.status == 400)
    }

    @Test func oversizedBodyIs413WithJSON() throws {
        let server = try TestServer.shared()
        let big = "{\"seats\":[\"" + String(repeating: "A", count: 70_000) + "\"]}"
        let reply = try server.http.request("POST", "/v1/events/x1/bookings", headers: server.buyerHeaders("u"), json: big)
        #expect(reply.status == 413 && reply.string("error") == "body_too_large")
    }

    @Test func wrongContentTypeMethodAndRoute() throws {
        let server = try TestServer.shared()
        let form = try server.http.request("POST", "/v1/events/x1/bookings",
                                           headers: ["Authorization": "Bearer " + server.token("u"), "Content-Type": "text/plain"], body: Array("{}".utf8))
        #expect(form.status == 415 && form.string("error") == "unsupported_media_type")
        let method = try server.http.request("PUT", "/v1/events/x1")
        #expect(method.status == 405 && method.string("error") == "method_not_allowed" && method.headers["allow"] == "GET, PATCH")
        let unknown = try server.http.request("QUERY", "/v1/events/x1") // a method evhttp does not know: 405 too, never its 501
        #expect(unknown.status == 405 && unknown.string("error") == "method_not_allowed")
        let route = try server.http.request("GET", "/v2/whatever")
        #expect(route.status == 404 && route.string("error") == "not_found")
    }

    @Test func tokenFailuresAre401() throws {
        let server = try TestServer.shared()
        let path = "/v1/events/x1/bookings"
        let body = Array(#"{"seats":["A-1-1"]}"#.utf8)
        let expired = TestSecrets.tokens.mint(userId: "u", ttlSeconds: 1, now: Date(timeIntervalSinceNow: -100))
        let wrongSecret = BuyerTokens(secret: "some-other-secret-some-other-secret").mint(userId: "u")
        for auth in [nil, "Basic abc", "Bearer ", "Bearer garbage", "Bearer " + expired, "Bearer " + wrongSecret] {
            var headers = ["Content-Type": "application/json"]
            headers["Authorization"] = auth
            let reply = try server.http.request("POST", path, headers: headers, body: body)
            #expect(reply.status == 401 && reply.string("error") == "unauthorized", "\(auth ?? "none")")
        }
        let adminBuying = try server.http.request("POST", path, headers: server.adminHeaders, body: body)
        #expect(adminBuying.status == 403)
    }

    @Test func healthAndReadiness() throws {
        let server = try TestServer.shared()
        #expect(try server.http.request("GET", "/healthz").status == 200)
        #expect(try server.http.request("GET", "/readyz").status == 200)
    }
}
