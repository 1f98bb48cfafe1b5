// The limits against bots and scalpers, from outside over HTTP: users,
// rate limits (counted, never timed), the caps on live holds and idempotency
// keys, slow clients, and the application's Redis user.
import Dispatch
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
import Testing

@Suite struct UserRegistrationTests {
    @Test func registrationStoresTheUserAndItsTokenBuys() throws {
        let server = try TestServer.shared()
        let email = "Ana.\(UUID().uuidString.prefix(8))@Example.com"
        let created = try server.http.request("POST", "/v1/users", headers: ["Content-Type": "application/json"],
                                              json: #"{"email":"\#(email)","name":"Ana Lima","phone":"+351912345678"}"#)
        #expect(created.status == 201)
        let id = try #require(created.string("id"))
        let token = try #require(created.string("token"))
        #expect(Identifier.isValid(id) && id.hasPrefix("u"))

        let redis = try TestRedis.shared().client()
        let record = try redis.call("HGETALL", UserKeys.user(id)).fields
        #expect(record["email"] == email.lowercased() && record["name"] == "Ana Lima" && record["phone"] == "+351912345678")
        #expect(try redis.call("GET", UserKeys.email(email.lowercased())).string == id)

        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let hold = try server.http.request("POST", "/v1/events/\(event)/bookings",
                                           headers: ["Authorization": "Bearer " + token, "Content-Type": "application/json"],
                                           json: #"{"seats":["A-1-1"]}"#)
        #expect(hold.status == 201 && hold.string("userId") == id)

        // The address is unique whatever its case.
        let again = try server.http.request("POST", "/v1/users", headers: ["Content-Type": "application/json"],
                                            json: #"{"email":"\#(email.uppercased())","name":"Someone Else"}"#)
        #expect(again.status == 409 && again.string("error") == "email_taken")
    }

    @Test func registrationsPerAddressAreRateLimited() throws {
        let redis = try TestRedis.shared()
        let server = try TestServer(redis: redis, threads: 1) { $0.abuse.registrationsPerAddress = RateLimit(perSecond: 0.001, burst: 3) }
        defer { server.stop() }
        // Another test may have registered from 127.0.0.1 with its own server: start from a clean count.
        try redis.client().call("DEL", UserKeys.registrationLimit(address: "127.0.0.1"))
        var statuses: [Int] = []
        for index in 0..<5 {
            let reply = try server.http.request("POST", "/v1/users", headers: ["Content-Type": "application/json"],
                                                json: #"{"email":"r\#(index)-\#(UUID().uuidString.prefix(8))@example.org","name":"R \#(index)"}"#)
            statuses.append(reply.status)
            if reply.status == 429 { #expect(reply.string("error") == "rate_limited" && Int(reply.headers["retry-after"] ?? "") ?? 0 >= 1) }
        }
        #expect(statuses == [201, 201, 201, 429, 429])
    }
}

@Suite struct RateLimitTests {
    /// A server on the shared Redis with only the given limits on.
    private func server(_ configure: (inout AbusePolicy) -> Void) throws -> TestServer {
        try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
            var policy = AbusePolicy.unlimited
            configure(&policy)
            config.abuse = policy
        }
    }

    private func holdStatuses(_ server: TestServer, _ event: String, users: [String]) throws -> [HTTPReply] {
        try users.enumerated().map { index, user in try server.hold(event, user: user, seats: ["A-\(index / 10 + 1)-\(index % 10 + 1)"]) }
    }

    @Test func aBuyerGetsTheBurstThen429WithRetryAfter() throws {
        let server = try server { $0.perBuyer = RateLimit(perSecond: 0.001, burst: 5) }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, maxSeatsPerUser: 20)
        let replies = try holdStatuses(server, event, users: Array(repeating: "greedy", count: 8))
        #expect(replies.map(\.status) == [201, 201, 201, 201, 201, 429, 429, 429])
        for refused in replies.filter({ $0.status == 429 }) {
            #expect(refused.string("error") == "rate_limited")
            #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 1)
            #expect(refused.json?["retryAfterSeconds"] as? Int ?? 0 >= 1)
        }
        // Someone else is not held back by the greedy buyer.
        #expect(try server.hold(event, user: "patient", seats: ["A-5-1"]).status == 201)
        // Payment requests draw on the same budget.
        let booking = try #require(replies.first?.string("id"))
        #expect(try server.pay(event, booking: booking, user: "greedy").status == 429)
    }

    @Test func aRefusedHoldSpendsNoBudgetAndWritesNothing() throws {
        let server = try server { $0.perBuyer = RateLimit(perSecond: 0.001, burst: 2); $0.perAddress = RateLimit(perSecond: 0.001, burst: 3) }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, maxSeatsPerUser: 20)
        #expect(try server.hold(event, user: "first", seats: ["A-1-1"]).status == 201)
        // A seat someone holds, again and again: 409, never 429, and no budget is spent.
        for _ in 0..<5 { #expect(try server.hold(event, user: "late", seats: ["A-1-1"]).status == 409) }
        #expect(try TestRedis.shared().client().send(["EXISTS", EventKeys(event).rateLimit(user: "late")]).int == 0)
        // The budgets are whole: the buyer's two holds (the address's second and third), then the limit.
        #expect(try server.hold(event, user: "late", seats: ["A-2-1"]).status == 201)
        #expect(try server.hold(event, user: "late", seats: ["A-2-2"]).status == 201)
        #expect(try server.hold(event, user: "late", seats: ["A-2-3"]).status == 429)
    }

    @Test func behindATrustedProxyEachBuyersAddressHasItsOwnBudget() throws {
        func holds(trusting proxies: Set<String>) throws -> [Int] {
            let server = try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
                var policy = AbusePolicy.unlimited
                policy.perAddress = RateLimit(perSecond: 0.001, burst: 1)
                config.abuse = policy
                config.trustedProxies = proxies
            }
            defer { server.stop() }
            let event = TestServer.uniqueEventId()
            try server.createEvent(event)
            // (The test client connects from 127.0.0.1: the "load balancer".)
            return try [("b1", "203.0.113.1", "A-1-1"), ("b2", "203.0.113.2", "A-1-2"), ("b3", "203.0.113.1", "A-1-3")].map { user, address, seat in
                var headers = server.buyerHeaders(user)
                headers["X-Forwarded-For"] = "198.51.100.7, " + address // (the left-most entry is the client's own claim)
                return try server.http.request("POST", "/v1/events/\(event)/bookings", headers: headers, json: "{\"seats\":[\"\(seat)\"]}").status
            }
        }
        #expect(try holds(trusting: ["127.0.0.1"]) == [201, 201, 429])
        // From a peer that is not a trusted proxy the header is ignored: one address, one budget.
        #expect(try holds(trusting: []) == [201, 429, 429])
        #expect(try holds(trusting: ["10.0.0.1"]) == [201, 429, 429])
    }

    @Test func anAddressGetsItsBurstAcrossBuyers() throws {
        let server = try server { $0.perAddress = RateLimit(perSecond: 0.001, burst: 3) }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let replies = try holdStatuses(server, event, users: ["a1", "a2", "a3", "a4", "a5"])
        #expect(replies.map(\.status) == [201, 201, 201, 429, 429])
    }

    @Test func theEventAdmitsAtItsRateAndOtherEventsAreNotTouched() throws {
        let server = try server { $0.eventAdmission = RateLimit(perSecond: 0.001, burst: 4) }
        defer { server.stop() }
        let busy = TestServer.uniqueEventId(), quiet = TestServer.uniqueEventId()
        try server.createEvent(busy)
        try server.createEvent(quiet)
        let replies = try holdStatuses(server, busy, users: (1...6).map { "fan\($0)" })
        #expect(replies.map(\.status) == [201, 201, 201, 201, 429, 429])
        #expect(try server.hold(quiet, user: "fan1", seats: ["A-1-1"]).status == 201)
    }

    @Test func a429IsNotRecordedAsTheIdempotentAnswer() throws {
        let server = try server { $0.perBuyer = RateLimit(perSecond: 0.001, burst: 1) }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        #expect(try server.hold(event, user: "kim", seats: ["A-1-1"], idempotencyKey: "first").status == 201)
        #expect(try server.hold(event, user: "kim", seats: ["A-1-2"], idempotencyKey: "second").status == 429)
        // Time passing, as far as the limiter knows: its state is gone.
        try TestRedis.shared().client().call("DEL", EventKeys(event).rateLimit(user: "kim"))
        let retried = try server.hold(event, user: "kim", seats: ["A-1-2"], idempotencyKey: "second")
        #expect(retried.status == 201 && retried.seats == ["A-1-2"])
    }

    @Test func liveHoldsPerBuyerAreCapped() throws {
        let server = try server { $0.maxLiveHolds = 2 }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, maxSeatsPerUser: 10)
        let first = try server.hold(event, user: "lee", seats: ["A-1-1"])
        let second = try server.hold(event, user: "lee", seats: ["A-1-2"])
        #expect(first.status == 201 && second.status == 201)
        let third = try server.hold(event, user: "lee", seats: ["A-1-3"])
        #expect(third.status == 422 && third.string("error") == "limit_exceeded")
        // Asking to pay keeps a hold live; giving one up frees a place.
        #expect(try server.pay(event, booking: try #require(first.string("id")), user: "lee").status == 202)
        #expect(try server.hold(event, user: "lee", seats: ["A-1-3"]).status == 422)
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(try #require(second.string("id")))",
                                               headers: server.buyerHeaders("lee"))
        #expect(released.status == 200)
        #expect(try server.hold(event, user: "lee", seats: ["A-1-3"]).status == 201)
        #expect(try TestRedis.shared().client().call("ZCARD", EventKeys(event).liveHolds("lee")).int == 2)
    }

    @Test func newIdempotencyKeysPerBuyerAreCapped() throws {
        let server = try server { $0.maxIdempotencyKeys = 3 }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, maxSeatsPerUser: 10)
        for key in ["k1", "k2", "k3"] {
            #expect(try server.hold(event, user: "max", seats: ["A-2-\(key.dropFirst())"], idempotencyKey: key).status == 201)
        }
        let fourth = try server.hold(event, user: "max", seats: ["A-2-4"], idempotencyKey: "k4")
        #expect(fourth.status == 429 && fourth.string("error") == "too_many_idempotency_keys")
        #expect(Int(fourth.headers["retry-after"] ?? "") ?? 0 > 3600)
        // A replay still answers, and a request without a key is not refused.
        let replay = try server.hold(event, user: "max", seats: ["A-2-1"], idempotencyKey: "k1")
        #expect(replay.status == 201 && replay.seats == ["A-2-1"])
        #expect(try server.hold(event, user: "max", seats: ["A-2-5"]).status == 201)
    }

    @Test func madeUpEventsAndBookingsWriteNothing() throws {
        let server = try server { $0 = AbusePolicy() }
        defer { server.stop() }
        let ghost = TestServer.uniqueEventId("ghost")
        let hold = try server.hold(ghost, user: "mallory", seats: ["A-1-1"], idempotencyKey: "k1")
        #expect(hold.status == 404 && hold.string("error") == "event_not_found")
        let pay = try server.pay(ghost, booking: "bnosuchbooking", user: "mallory")
        #expect(pay.status == 404)
        // No rate-limit budget, counter or idempotency record was minted for the made-up event.
        #expect(try TestRedis.shared().client().scanKeys("sl:{\(ghost)}:*").isEmpty)
    }

    @Test func withoutRedisTheLimiterFailsClosed() throws {
        let redis = try TestRedis()
        let server = try TestServer(redis: redis, threads: 1) { $0.abuse = AbusePolicy() }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        redis.server.stop()
        let hold = try server.hold(event, user: "late", seats: ["A-1-1"])
        #expect(hold.status == 503 && hold.string("error") == "unavailable")
    }
}

@Suite struct SlowClientTests {
    @Test func anErrorPageOnAKeepAliveConnectionIsOneJSONAnswer() throws {
        let server = try TestServer.shared()
        let connection = try OpenConnection(port: server.port, timeoutSeconds: 5)
        defer { connection.close() }
        // A good request, then one evhttp refuses itself (a NUL in the request line), on one connection.
        connection.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + Array("GET /v1/ev".utf8) + [0] + Array("ents HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        let text = String(decoding: try connection.readUntilClosed(), as: UTF8.self)
        let answers = text.components(separatedBy: "HTTP/1.1 ").dropFirst()
        #expect(answers.count == 2, "\(text.prefix(400))")
        #expect(answers.first?.hasPrefix("200") == true)
        let refusal = answers.last ?? ""
        #expect(refusal.hasPrefix("400") && refusal.contains("application/json") && refusal.contains(#"{"error":"malformed_request""#))
        #expect(!text.contains("<HTML>") && text.utf8.count < 2000)
        let samples = try PrometheusParser.parse(try server.http.request("GET", "/metrics").body)
        #expect(samples.first { $0.name == "seatlock_http_refused_by_parser_total" }?.value ?? 0 >= 1)
    }

    @Test func oneAddressCannotTakeEveryConnection() throws {
        let server = try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
            config.http.maxConnectionsPerAddress = 4
            config.http.requestDeadlineSeconds = 30 // only the address cap may cut them
        }
        defer { server.stop() }
        // Six half-sent requests from one address: the two past its cap are closed at once.
        let greedy = try (0..<6).map { _ in try OpenConnection(port: server.port, timeoutSeconds: 1, from: "127.0.2.1") }
        defer { greedy.forEach { $0.close() } }
        for connection in greedy { connection.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\n".utf8)) }
        let closed = greedy.filter { $0.waitForServerClose() }.count // open ones time out after 1 s: false
        #expect(closed == 2)
        // Another address is served meanwhile.
        let other = try OpenConnection(port: server.port, timeoutSeconds: 5, from: "127.0.2.2")
        defer { other.close() }
        other.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        #expect(String(decoding: try other.readUntilClosed(), as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        let samples = try PrometheusParser.parse(try server.http.request("GET", "/metrics").body)
        #expect(samples.first { $0.name == "seatlock_http_address_cap_cuts_total" }?.value ?? 0 >= 2)
    }

    @Test func streamsPerAddressAreCapped() throws {
        let server = try TestServer(redis: try TestRedis.shared(), threads: 1)
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let open = try (0..<16).map { _ in try SSEClient(port: server.port, path: "/v1/events/\(event)/stream") }
        defer { open.forEach { $0.close() } }
        for client in open { #expect(client.read { $0.contains { $0.event == "counts" } }.count == 1) }
        let refused = try server.http.request("GET", "/v1/events/\(event)/stream")
        #expect(refused.status == 429 && refused.string("error") == "too_many_streams" && refused.headers["retry-after"] != nil)
        // A closed stream gives its place back.
        open[0].close()
        var reopened = 0
        for _ in 0..<40 where reopened == 0 {
            Thread.sleep(forTimeInterval: 0.25)
            let again = try SSEClient(port: server.port, path: "/v1/events/\(event)/stream")
            defer { again.close() }
            if again.read(until: { $0.contains { $0.event == "counts" } }).count == 1 { reopened += 1 }
        }
        #expect(reopened == 1)
    }

    @Test func slowClientsAreCutAtTheDeadlineAndCannotPinTheServer() throws {
        let server = try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
            config.http.maxConnections = 4
            config.http.requestDeadlineSeconds = 1
            config.http.idleTimeoutSeconds = 30 // so only the deadline can be what cuts them
        }
        defer { server.stop() }
        // Fill every connection slot with a client that trickles a header a byte at a time.
        let slow = try (0..<4).map { _ in try OpenConnection(port: server.port, timeoutSeconds: 10) }
        for connection in slow { connection.send(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ".utf8)) }
        let trickling = DispatchGroup()
        for connection in slow {
            DispatchQueue.global().async(group: trickling) {
                for _ in 0..<24 where connection.send([UInt8(ascii: "z")]) { Thread.sleep(forTimeInterval: 0.25) }
            }
        }
        // A normal client still gets its answer: the slow ones lose their slots at their deadline.
        let reply = try BlockingHTTPClient(port: server.port, timeoutSeconds: 10).request("GET", "/healthz")
        #expect(reply.status == 200)
        for connection in slow { #expect(connection.waitForServerClose()) }
        trickling.wait()
        // Operators see it: the cuts and the pause at the cap are counted (process-wide).
        let samples = try PrometheusParser.parse(try server.http.request("GET", "/metrics").body)
        #expect(samples.first { $0.name == "seatlock_http_deadline_cuts_total" }?.value ?? 0 >= 4)
        #expect(samples.first { $0.name == "seatlock_http_accept_pauses_total" }?.value ?? 0 >= 1)
    }
}

@Suite struct ApplicationACLTests {
    @Test func theAppUserRunsTheProductAndIsRefusedTheRest() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let admin = try redis.client()
        try ApplicationACL.install(on: admin, user: "seatlock", password: "app-pass-0123456789")
        var appURL = redis.url
        appURL.username = "seatlock"
        appURL.password = "app-pass-0123456789"
        let app = try RedisClient(url: appURL)

        // What the product must never be able to do.
        let forbidden: [[String]] = [
            ["FLUSHALL"], ["FLUSHDB"], ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"], ["KEYS", "*"],
            ["DEBUG", "SLEEP", "0"], ["RESTORE", "sl:{x}:k", "0", "junk"], ["EVAL", "return 1", "0"],
            ["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('x', function() return 1 end)"],
            ["SCRIPT", "FLUSH"], ["SHUTDOWN"], ["ACL", "SETUSER", "x"], ["GET", "other:key"], ["SET", "other:key", "1"],
            ["MIGRATE", "127.0.0.1", "1", "k", "0", "1"], ["REPLICAOF", "127.0.0.1", "1"], ["MODULE", "LIST"],
        ]
        for command in forbidden {
            let reply = try app.send(command)
            let message = reply.errorMessage ?? ""
            #expect(message.hasPrefix("NOPERM") || message.contains("not allowed"), "\(command.first ?? "") -> \(reply)")
        }
        // Every command a script of the product calls is granted (Redis checks each redis.call).
        let called = Set(redis.library.scripts.values.flatMap { script in
            script.source.matches(of: /redis\.call\('([A-Z]+)'/).map { $0.output.1.lowercased() }
        })
        #expect(called.count > 20)
        #expect(called.subtracting(ApplicationACL.commands).isEmpty, "not granted: \(called.subtracting(ApplicationACL.commands))")
        try admin.call("ACL", "LOG", "RESET")

        // The product itself, as that user: the server and the three workers;
        // register, hold, pay (confirmed by the payments worker, told by the
        // notifications worker, counted by analytics), release, best available.
        let server = try TestServer(redis: redis, threads: 1) { $0.redis = appURL }
        defer { server.stop() }
        let payments = PaymentsService(redis: appURL, scripts: redis.scripts, options: PaymentsOptions(consumer: "acl"))
        try payments.start()
        defer { payments.stop() }
        let analytics = try AnalyticsService(redis: appURL, library: redis.library)
        try analytics.start()
        defer { analytics.stop() }
        let outbox = FileManager.default.temporaryDirectory.appendingPathComponent("acl-outbox-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: outbox) }
        var notificationOptions = NotificationsOptions()
        notificationOptions.outboxPath = outbox.path
        let notifications = NotificationsService(redis: appURL, options: notificationOptions)
        try notifications.start()
        defer { notifications.stop() }

        let event = TestServer.uniqueEventId()
        #expect(try server.createEvent(event).status == 201)
        let buyer = try server.http.request("POST", "/v1/users", headers: ["Content-Type": "application/json"],
                                            json: #"{"email":"ana-acl@example.com","name":"Ana","phone":"+351900000001"}"#)
        let ana = try #require(buyer.string("id"))
        let hold = try server.hold(event, user: ana, seats: ["A-1-1"])
        #expect(hold.status == 201)
        let booking = try #require(hold.string("id"))
        #expect(try server.pay(event, booking: booking, user: ana).status == 202)
        let deadline = ContinuousClock.now + .seconds(15)
        var delivered = 0
        while ContinuousClock.now < deadline {
            delivered = (try? String(contentsOf: outbox, encoding: .utf8))?.split(separator: "\n").count ?? 0
            let confirmed = try admin.call("HGET", EventKeys(event).booking(booking), "status").string == "confirmed"
            let counted = try admin.call("HGET", AnalyticsKeys(event).stats, "confirmations").string == "1"
            if confirmed, counted, delivered >= 3 { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try admin.call("HGET", EventKeys(event).booking(booking), "status").string == "confirmed")
        #expect(try admin.call("HGET", AnalyticsKeys(event).stats, "confirmations").string == "1")
        #expect(delivered == 3) // e-mail, SMS and push, all to the outbox here
        let best = try server.holdBest(event, user: "bo", quantity: 2)
        #expect(best.status == 201)
        let released = try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(try #require(best.string("id")))",
                                               headers: server.buyerHeaders("bo"))
        #expect(released.status == 200)
        #expect(try server.http.request("GET", "/v1/events/\(event)/seats").status == 200)
        #expect(try server.http.request("GET", "/metrics").status == 200)
        let stream = try SSEClient(port: server.port, path: "/v1/events/\(event)/stream")
        defer { stream.close() }
        #expect(stream.read { $0.contains { $0.event == "counts" } }.contains { $0.event == "counts" })
        #expect(try server.http.request("GET", "/v1/events/\(event)/stats").status == 200)
        // Nothing the product did was refused.
        #expect(try admin.call("ACL", "LOG").array?.isEmpty == true)
    }
}

@Suite struct LiveHoldTimerTests {
    /// A new, short hold must not shorten the live-hold set's life below a
    /// booking that waits for its payment (extended by the payment grace).
    @Test func aShortNewHoldDoesNotForgetAPaymentPendingOne() throws {
        let server = try TestServer(redis: try TestRedis.shared(), threads: 1) { config in
            config.abuse.maxLiveHolds = 2
            config.paymentGraceSeconds = 30
        }
        defer { server.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, holdSeconds: 1, maxSeatsPerUser: 10)
        let paying = try server.hold(event, user: "pat", seats: ["A-1-1"])
        #expect(try server.pay(event, booking: try #require(paying.string("id")), user: "pat").status == 202)
        #expect(try server.hold(event, user: "pat", seats: ["A-1-2"]).status == 201) // ends in 1 s
        Thread.sleep(forTimeInterval: 1.5)
        // The short hold is over; the one waiting for its payment is still live.
        #expect(try server.hold(event, user: "pat", seats: ["A-1-3"]).status == 201)
        #expect(try server.hold(event, user: "pat", seats: ["A-1-4"]).status == 422)
        #expect(try TestRedis.shared().client().call("PTTL", EventKeys(event).liveHolds("pat")).int ?? 0 > 20_000)
    }
}
