// The notifications worker on a real Redis, through its real consumer group,
// with the booking server and the payments worker producing the log, an SMTP
// sink for e-mail and a webhook receiver for SMS and push. Each test has its
// own redis-server: the worker consumes every event's log.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
import Synchronization
import Testing

private final class NotificationsHarness {
    let redis: TestRedis
    let client: RedisClient
    let server: TestServer
    let smtp: SMTPSink
    let webhook: WebhookReceiver
    let payments: PaymentsService
    let notifications: NotificationsService
    let event: String

    init(webhook answer: WebhookReceiver.Answer = .success, maxAttempts: Int = 3) throws {
        redis = try TestRedis()
        client = try redis.client()
        server = try TestServer(redis: redis)
        smtp = try SMTPSink()
        webhook = try WebhookReceiver(answer: answer)
        event = TestServer.uniqueEventId("ntf")
        let created = try server.createEvent(event)
        #expect(created.status == 201, "\(created.text)")

        var paymentsOptions = PaymentsOptions(consumer: "test-\(UUID().uuidString.prefix(8))")
        paymentsOptions.firstBackoff = .milliseconds(50)
        paymentsOptions.consumer.claimEvery = .milliseconds(100)
        paymentsOptions.consumer.discoverEvery = .milliseconds(100)
        payments = PaymentsService(redis: redis.url, scripts: redis.scripts, options: paymentsOptions)
        try payments.start()

        var options = NotificationsOptions(consumer: "test-\(UUID().uuidString.prefix(8))")
        options.smtpHost = "127.0.0.1"
        options.smtpPort = smtp.port
        options.sender = "tickets@seatlock.test"
        options.webhookURL = webhook.url
        options.webhookPost = { loop, post, done in // evhttp's client, as the binary injects it
            HTTPClientConnection.sendOnce(on: loop, host: post.endpoint.host, port: post.endpoint.port, timeoutSeconds: post.timeoutSeconds,
                                          method: "POST", path: post.endpoint.target, headers: post.headers, body: post.body) { done($0.status) }
        }
        options.maxAttempts = maxAttempts
        options.firstBackoff = .milliseconds(20)
        options.maxBackoff = .milliseconds(100)
        options.timeout = .seconds(3)
        options.consumer.claimEvery = .milliseconds(100)
        options.consumer.discoverEvery = .milliseconds(100)
        notifications = NotificationsService(redis: redis.url, options: options)
        try notifications.start()
    }

    func stop() {
        notifications.stop()
        payments.stop()
        server.stop()
        webhook.stop()
        smtp.stop()
        redis.server.stop()
    }

    var keys: EventKeys { EventKeys(event) }

    /// Writes the buyer's record as registration does (sl:{users}:user:U).
    func register(_ userId: String, email: String, name: String, phone: String?) throws {
        var command = ["HSET", UserKeys.user(userId), "email", email, "name", name,
                       "createdAt", String(Int(Date().timeIntervalSince1970 * 1000))]
        if let phone { command += ["phone", phone] }
        try client.checked(command)
    }

    /// Holds `seats` over HTTP and pays with `token`; returns the booking id.
    func book(_ seats: [String], user: String, token: String, event: String? = nil) throws -> String {
        let eventId = event ?? self.event
        let held = try server.hold(eventId, user: user, seats: seats)
        #expect(held.status == 201, "\(held.text)")
        let booking = held.string("id") ?? "missing"
        let paid = try server.pay(eventId, booking: booking, user: user, token: token)
        #expect(paid.status == 202, "\(paid.text)")
        return booking
    }

    func waitForStatus(_ booking: String, _ status: String, event: String? = nil, timeout: TimeInterval = 10) throws -> String? {
        let key = EventKeys(event ?? self.event).booking(booking)
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            if let current = try client.call("HGET", key, "status").string, current == status { return current }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return try client.call("HGET", key, "status").string
    }

    /// The booking's entries in sl:{E}:notifications, oldest first.
    func attempts(_ booking: String, event: String? = nil) throws -> [[String: String]] {
        let stream = EventKeys(event ?? self.event).notifications
        return (try client.call("XRANGE", stream, "-", "+").array ?? [])
            .compactMap { $0.array?.last?.fields }
            .filter { $0["bookingId"] == booking }
    }

    func waitForAttempts(_ booking: String, count: Int, event: String? = nil, timeout: TimeInterval = 10) throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(timeout)
        while try attempts(booking, event: event).count < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return try attempts(booking, event: event)
    }

    func deadLetters() throws -> [[String: String]] {
        (try client.call("XRANGE", GlobalKeys.deadLetters(group: "notifications"), "-", "+").array ?? []).compactMap { $0.array?.last?.fields }
    }

    /// Entries of the log delivered to the notifications group and not acked.
    func pending(event: String? = nil) throws -> Int? {
        try client.call("XPENDING", EventKeys(event ?? self.event).log, "notifications").array?.first?.int
    }

    func waitUntilNothingPending(event: String? = nil, timeout: TimeInterval = 10) throws -> Int? {
        let deadline = Date().addingTimeInterval(timeout)
        while try pending(event: event) != 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        return try pending(event: event)
    }

    func mark(_ booking: String, _ field: String, event: String? = nil) throws -> String? {
        try client.call("HGET", EventKeys(event ?? self.event).notified(booking), field).string
    }
}

private func mails(_ list: [ReceivedMail], topic: String) -> [ReceivedMail] {
    list.filter { $0.headers["x-seatlock-topic"] == topic }
}

@Suite(.serialized) struct NotificationsTests {
    @Test func aConfirmedBookingSendsOneEmailOneSMSAndOnePushOnce() throws {
        let h = try NotificationsHarness()
        defer { h.stop() }
        try h.register("ada", email: "ada@example.test", name: "Ada Lovelace", phone: "+441234567890")
        let booking = try h.book(["A-1-1", "A-1-2"], user: "ada", token: "tok_visa")
        #expect(try h.waitForStatus(booking, "confirmed") == "confirmed")
        let code = try h.client.call("HGET", h.keys.booking(booking), "confirmationCode").string ?? "no code"

        let received = h.smtp.waitForMessages(1)
        #expect(received.count == 1)
        if let mail = received.first {
            #expect(mail.recipients == ["ada@example.test"])
            #expect(mail.from == "tickets@seatlock.test")
            #expect(mail.subject.contains(code) && mail.subject.contains("A-1-1, A-1-2"), "\(mail.subject)")
            #expect(mail.body.contains(code) && mail.body.contains("A-1-1") && mail.body.contains("A-1-2"), "\(mail.body)")
            #expect(mail.body.contains("Ada Lovelace") && mail.body.contains("EUR 100.00") && mail.body.contains("Hall"), "\(mail.body)")
            #expect(mail.headers["x-seatlock-topic"] == "booking.confirmed")
            #expect(mail.headers["message-id"] == "<\(h.event).\(booking).booking.confirmed.email@seatlock.test>")
        }

        let hooks = h.webhook.waitForRequests(2)
        #expect(hooks.count == 2)
        let sms = hooks.filter { $0.kind == "sms" }
        let push = hooks.filter { $0.kind == "push" }
        #expect(sms.count == 1 && push.count == 1)
        if let sms = sms.first?.fields {
            #expect(sms["to"] == "+441234567890" && sms["topic"] == "booking.confirmed" && sms["bookingId"] == booking)
            #expect(sms["body"]?.contains(code) == true, "\(sms)")
        }
        if let push = push.first?.fields {
            #expect(push["to"] == "ada" && push["eventId"] == h.event)
            #expect(push["title"]?.isEmpty == false && push["body"]?.contains(code) == true, "\(push)")
        }

        let attempts = try h.waitForAttempts(booking, count: 3)
        #expect(attempts.count == 3)
        #expect(attempts.allSatisfy { $0["type"] == "notification.delivered" && $0["attempt"] == "1" && $0["topic"] == "booking.confirmed" })
        #expect(Set(attempts.compactMap { $0["kind"] }) == ["email", "sms", "push"])
        for kind in ["email", "sms", "push"] { #expect(try h.mark(booking, "booking.confirmed:\(kind)") == "delivered") }

        // Nothing more comes: no retries, no duplicates.
        #expect(try h.waitUntilNothingPending() == 0)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(h.smtp.messages.count == 1)
        #expect(h.webhook.requests.count == 2)
        #expect(try h.attempts(booking).count == 3)
        #expect(try h.deadLetters().isEmpty)
    }

    @Test func failingSMSAndPushAreRetriedThenDeadLetteredWhileTheEmailGoesOnce() throws {
        let maxAttempts = 3
        let h = try NotificationsHarness(webhook: .failAlways(status: 500), maxAttempts: maxAttempts)
        defer { h.stop() }
        try h.register("bob", email: "bob@example.test", name: "Bob", phone: "+15550100")
        let booking = try h.book(["A-3-1"], user: "bob", token: "tok_visa")
        #expect(try h.waitForStatus(booking, "confirmed") == "confirmed")

        let deadline = Date().addingTimeInterval(15)
        while try h.deadLetters().count < 2, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let letters = try h.deadLetters()
        #expect(letters.count == 2)
        #expect(Set(letters.compactMap { $0["kind"] }) == ["sms", "push"])
        for letter in letters {
            #expect(letter["field.bookingId"] == booking && letter["field.type"] == "booking.confirmed")
            #expect(letter["attempts"] == String(maxAttempts) && letter["lastError"]?.contains("500") == true, "\(letter)")
            #expect(letter["field.notifyKinds"] == letter["kind"]) // a replay resends that kind only
            #expect(letter["stream"] == h.keys.log && letter["group"] == "notifications")
        }

        // Each failing kind was tried maxAttempts times, with the same idempotency key.
        let sms = h.webhook.requests.filter { $0.kind == "sms" }
        let push = h.webhook.requests.filter { $0.kind == "push" }
        #expect(sms.count == maxAttempts && push.count == maxAttempts)
        #expect(sms.map { $0.fields["attempt"] ?? "" } == (1...maxAttempts).map(String.init))
        #expect(Set(sms.compactMap { $0.headers["idempotency-key"] }).count == 1)
        #expect(h.webhook.requests.allSatisfy { $0.status == 500 })

        // The e-mail went through once.
        #expect(h.smtp.waitForMessages(1).count == 1)
        let attempts = try h.waitForAttempts(booking, count: 1 + 2 * maxAttempts)
        #expect(attempts.filter { $0["type"] == "notification.delivered" }.compactMap { $0["kind"] } == ["email"])
        let failed = attempts.filter { $0["type"] == "notification.failed" }
        #expect(failed.count == 2 * maxAttempts)
        #expect(failed.allSatisfy { $0["reason"] == "HTTP 500" && $0["channel"] == "webhook" })
        #expect(try h.mark(booking, "booking.confirmed:email") == "delivered")
        #expect(try h.mark(booking, "booking.confirmed:sms") == "failed")
        #expect(try h.mark(booking, "booking.confirmed:push") == "failed")

        // The log entry is acked; nothing is retried any more.
        #expect(try h.waitUntilNothingPending() == 0)
        Thread.sleep(forTimeInterval: 0.5)
        #expect(h.webhook.requests.count == 2 * maxAttempts)
        #expect(h.smtp.messages.count == 1)
        #expect(try h.deadLetters().count == 2)
    }

    @Test func cancelledAndExpiredBookingsSendTheirOwnMessagesAndUnregisteredBuyersNone() throws {
        let h = try NotificationsHarness()
        defer { h.stop() }
        try h.register("carol", email: "carol@example.test", name: "Carol", phone: "+15550101")

        // A buyer who never registered: confirmed, told nothing.
        let stranger = try h.book(["A-4-2"], user: "nobody", token: "tok_visa")
        #expect(try h.waitForStatus(stranger, "confirmed") == "confirmed")

        // Payment declined: booking.cancelled.
        let declined = try h.book(["A-4-1"], user: "carol", token: "tok_chargeDeclined")
        #expect(try h.waitForStatus(declined, "cancelled") == "cancelled")
        let cancelMail = mails(h.smtp.waitForMessages(1), topic: "booking.cancelled")
        #expect(cancelMail.count == 1)
        if let mail = cancelMail.first {
            #expect(mail.recipients == ["carol@example.test"])
            #expect(mail.subject.lowercased().contains("cancelled") && mail.subject.contains("A-4-1"), "\(mail.subject)")
            #expect(mail.body.contains("declined") && mail.body.contains("Nothing was charged"), "\(mail.body)")
        }
        let cancelHooks = h.webhook.waitForRequests(2) { $0.fields["topic"] == "booking.cancelled" }
        #expect(Set(cancelHooks.compactMap(\.kind)) == ["sms", "push"] && cancelHooks.count == 2)
        #expect(cancelHooks.allSatisfy { $0.fields["bookingId"] == declined })

        // A hold that ran out: booking.expired (ended here by the expire
        // script, as the expiry listener or the sweeper would).
        let short = TestServer.uniqueEventId("ntfx")
        #expect(try h.server.createEvent(short, holdSeconds: 1).status == 201)
        let held = try h.server.hold(short, user: "carol", seats: ["A-1-1"])
        #expect(held.status == 201)
        let lapsed = held.string("id") ?? "missing"
        Thread.sleep(forTimeInterval: 1.2)
        _ = try h.client.run(h.redis.scripts.expire(event: short, booking: lapsed, actor: "operator"))
        #expect(try h.waitForStatus(lapsed, "expired", event: short) == "expired")
        let expiredMail = mails(h.smtp.waitForMessages(2), topic: "booking.expired")
        #expect(expiredMail.count == 1)
        if let mail = expiredMail.first {
            #expect(mail.subject.lowercased().contains("expired") && mail.body.contains("A-1-1"), "\(mail.subject) \(mail.body)")
        }
        let expiredHooks = h.webhook.waitForRequests(2) { $0.fields["topic"] == "booking.expired" }
        #expect(expiredHooks.count == 2 && expiredHooks.allSatisfy { $0.fields["eventId"] == short })
        #expect(try h.waitForAttempts(lapsed, count: 3, event: short).filter { $0["type"] == "notification.delivered" }.count == 3)

        // The stranger's confirmation came before both in the log and was
        // acked without a message.
        #expect(try h.waitUntilNothingPending() == 0)
        #expect(try h.waitUntilNothingPending(event: short) == 0)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try h.attempts(stranger).isEmpty)
        #expect(h.smtp.messages.count == 2)
        #expect(h.smtp.messages.allSatisfy { $0.recipients == ["carol@example.test"] })
        #expect(h.webhook.requests.count == 4)
        #expect(h.webhook.requests.allSatisfy { $0.fields["bookingId"] != stranger })
    }
}

/// Parts that need no Redis: templates, amounts, the SMTP conversation.
@Suite struct NotificationPartsTests {
    @Test func templatesRenderPlainTextAndSplitTheSubjectLine() throws {
        let templates = try NotificationTemplates.locate()
        for topic in NotificationTopic.allCases {
            for kind in NotificationKind.allCases { #expect(templates.has(topic: topic.rawValue, kind: kind), "\(topic.rawValue).\(kind.rawValue)") }
        }
        let context = NotificationContext.make(
            topic: "booking.confirmed", eventId: "ev1", bookingId: "b1", userId: "u1",
            entry: ["seats": "A-1-1,A-1-2", "amountCents": "150000", "confirmationCode": "SL-ABCDEFGH"],
            booking: [:], event: ["name": "Rock & Roll <Live>", "venue": "Hall \"B\"", "startsAt": "2027-01-01T20:00:00Z"],
            user: ["name": "Ada", "email": "ada@example.test"], currency: "EUR")
        let email = templates.render(topic: "booking.confirmed", kind: .email, context: context)
        #expect(email?.subject == "Booking SL-ABCDEFGH confirmed: Rock & Roll <Live>, seats A-1-1, A-1-2")
        #expect(email?.body.hasPrefix("Hello Ada,") == true, "\(email?.body ?? "")")
        #expect(email?.body.contains("Hall \"B\"") == true && email?.body.contains("EUR 1,500.00") == true)
        #expect(email?.body.contains("Fri 1 Jan 2027, 20:00 UTC") == true, "\(email?.body ?? "")")
        let push = templates.render(topic: "booking.confirmed", kind: .push, context: context)
        #expect(push?.title == "Booking confirmed: Rock & Roll <Live>")
        let sms = templates.render(topic: "booking.confirmed", kind: .sms, context: context)
        #expect(sms?.body.contains("Rock & Roll <Live>") == true && sms?.body.contains("\n") == false)
    }

    @Test func aCancelledEventsBuyersAreToldTheOrganizerCancelledIt() throws {
        let templates = try NotificationTemplates.locate()
        // The fields of the booking.cancelled that cancel_bookings.lua logs for a sale.
        let context = NotificationContext.make(
            topic: "booking.cancelled", eventId: "ev1", bookingId: "b1", userId: "u1",
            entry: ["seats": "A-1-1", "reason": "event_cancelled", "actor": "admin"],
            booking: ["totalCents": "4200"], event: ["name": "Harbour Gig", "startsAt": "2027-03-05T21:00:00Z"],
            user: ["name": "Ada", "email": "ada@example.test"], currency: "EUR")
        let email = templates.render(topic: "booking.cancelled", kind: .email, context: context)
        #expect(email?.body.contains("The organizer cancelled Harbour Gig. The refund of EUR 42.00 follows") == true, "\(email?.body ?? "")")
        #expect(email?.body.contains("declined") == false && email?.body.contains("As you asked") == false)
        let sms = templates.render(topic: "booking.cancelled", kind: .sms, context: context)
        #expect(sms?.body.contains("The event was cancelled; a refund of EUR 42.00 follows.") == true, "\(sms?.body ?? "")")
        let push = templates.render(topic: "booking.cancelled", kind: .push, context: context)
        #expect(push?.body.contains("The event was cancelled") == true, "\(push?.body ?? "")")
    }

    @Test func waitlistOfferTellsTheDeadlineAndWhereToPay() throws {
        let templates = try NotificationTemplates.locate()
        // The fields waitlist.offered carries (includes/waitlist.lua); the
        // deadline is cut to the second, never rounded up.
        let context = NotificationContext.make(
            topic: "waitlist.offered", eventId: "ev1", bookingId: "w12", userId: "u1",
            entry: ["seats": "A-1-1,A-1-2", "amountCents": "9000", "offerExpiresAt": "1798833900750", "position": "3", "quantity": "2"],
            booking: ["expiresAt": "1", "seats": "Z-9-9", "totalCents": "1"], event: ["name": "Harbour Gig", "startsAt": "2027-03-05T21:00:00Z"],
            user: ["name": "Ada", "email": "ada@example.test"], currency: "EUR")
        #expect(context["offerExpiresAt"] as? String == "2027-01-01T20:05:00Z")
        let path = "POST /v1/events/ev1/bookings/w12/payment"
        let email = templates.render(topic: "waitlist.offered", kind: .email, context: context)
        #expect(email?.subject == "Seats came back for you: Harbour Gig, seats A-1-1, A-1-2")
        for part in ["Hello Ada,", "A-1-1, A-1-2", "until 2027-01-01T20:05:00Z", "EUR 90.00", path, "next person on the waitlist"] {
            #expect(email?.body.contains(part) == true, "\(part) in \(email?.body ?? "")")
        }
        let sms = templates.render(topic: "waitlist.offered", kind: .sms, context: context)
        #expect(sms?.body.contains("2027-01-01T20:05:00Z") == true && sms?.body.contains(path) == true && sms?.body.contains("\n") == false,
                "\(sms?.body ?? "")")
        let push = templates.render(topic: "waitlist.offered", kind: .push, context: context)
        #expect(push?.title == "Seats came back for you: Harbour Gig")
        #expect(push?.body.contains("2027-01-01T20:05:00Z") == true && push?.body.contains(path) == true, "\(push?.body ?? "")")
        // Without the entry's field, the offer booking's own deadline.
        let fromBooking = NotificationContext.make(
            topic: "waitlist.offered", eventId: "ev1", bookingId: "w12", userId: "u1", entry: [:],
            booking: ["expiresAt": "1798833900750"], event: [:], user: [:], currency: "EUR")
        #expect(fromBooking["offerExpiresAt"] as? String == "2027-01-01T20:05:00Z")
    }

    @Test func amountsAreFormattedWithTheirCurrency() {
        #expect(Money.format(cents: 15000, currency: "EUR") == "EUR 150.00")
        #expect(Money.format(cents: 5, currency: "EUR") == "EUR 0.05")
        #expect(Money.format(cents: 123_456_789, currency: "USD") == "USD 1,234,567.89")
        #expect(Money.format(cents: -250, currency: "EUR") == "EUR -2.50")
    }

    @Test func markingPlansNeverResendWhatWasDeliveredOrMayHaveBeen() {
        let topic = "booking.confirmed"
        func plan(_ fields: [String: String], replaying: Set<NotificationKind>? = nil) -> DeliveryPlan {
            DeliveryMarks(fields: fields, topic: topic, kind: .sms).plan(maxAttempts: 3, replaying: replaying)
        }
        #expect(plan([:]) == .send(first: 1, last: 3, clearsOutcome: false))
        #expect(plan(["booking.confirmed:sms:1": "failed 1 HTTP 500"]) == .send(first: 2, last: 3, clearsOutcome: false))
        #expect(plan(["booking.confirmed:sms:1": "sending c 1"]) == .interrupted(attempt: 1))
        #expect(plan(["booking.confirmed:sms:1": "delivered 1 HTTP 200", "booking.confirmed:sms": "delivered"]) == .skip("already delivered"))
        #expect(plan(["booking.confirmed:sms:3": "failed 1 HTTP 503"]) == .exhausted(attempt: 3, lastError: "HTTP 503"))
        let gaveUp = ["booking.confirmed:sms:3": "failed 1 HTTP 503", "booking.confirmed:sms": "failed"]
        if case .skip = plan(gaveUp) {} else { Issue.record("a kind that gave up is only retried by a replay") }
        #expect(plan(gaveUp, replaying: [.sms]) == .send(first: 4, last: 6, clearsOutcome: true))
        if case .skip = plan([:], replaying: [.email]) {} else { Issue.record("a replay for email leaves sms alone") }
        // Another kind's marks do not count.
        #expect(plan(["booking.confirmed:email": "delivered", "booking.confirmed:email:1": "delivered 1 x"]) == .send(first: 1, last: 3, clearsOutcome: false))
    }

    @Test func smtpChannelDeliversADotStuffedMessageThatTheSinkReadsBack() throws {
        let sink = try SMTPSink()
        defer { sink.stop() }
        let settings = SMTPSettings(host: "127.0.0.1", port: sink.port, sender: "tickets@seatlock.test", senderName: "Seatlock Tickets",
                                    heloName: "test.local", timeout: .seconds(5))
        let body = "line one\n.a line that starts with a dot\n..and two\n.\nlast"
        let message = NotificationMessage(kind: .email, topic: "booking.confirmed", eventId: "ev1", bookingId: "b1", userId: "u1",
                                          to: "ada@example.test", subject: "Grüße — SL-ABCDEFGH", body: body)
        let outcome = Outcome()
        let thread = try LoopThread(name: "smtp-channel-test") { loop in
            let channel = SMTPChannel(loop: loop, settings: settings)
            channel.deliver(message) { outcome.set($0) }
            loop.onShutdownRequest = {
                channel.close()
                loop.handle.stop()
            }
        }
        defer { thread.stop(timeout: .seconds(2)) }
        let deadline = Date().addingTimeInterval(10)
        while outcome.value == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard case let .delivered(detail)? = outcome.value else {
            Issue.record("not delivered: \(String(describing: outcome.value))")
            return
        }
        #expect(detail.hasPrefix("SMTP 250"))
        let received = sink.waitForMessages(1)
        #expect(received.count == 1)
        if let mail = received.first {
            #expect(mail.helo == "test.local" && mail.from == "tickets@seatlock.test" && mail.recipients == ["ada@example.test"])
            #expect(mail.body == body)
            #expect(mail.subject.hasPrefix("=?UTF-8?B?"))
            #expect(mail.headers["from"] == "Seatlock Tickets <tickets@seatlock.test>")
            #expect(mail.headers["message-id"] == "<ev1.b1.booking.confirmed.email@seatlock.test>")
            #expect(mail.headers["date"]?.hasSuffix("+0000") == true)
        }
    }

    @Test func smtpChannelReportsARefusedConnectionAsARetryableFailure() throws {
        guard let port = freeLoopbackPort() else { return }
        let settings = SMTPSettings(host: "127.0.0.1", port: port, sender: "tickets@seatlock.test", timeout: .seconds(2))
        let message = NotificationMessage(kind: .email, topic: "booking.confirmed", eventId: "ev1", bookingId: "b1", userId: "u1",
                                          to: "ada@example.test", subject: "s", body: "b")
        let outcome = Outcome()
        let thread = try LoopThread(name: "smtp-refused-test") { loop in
            let channel = SMTPChannel(loop: loop, settings: settings)
            channel.deliver(message) { outcome.set($0) }
            loop.onShutdownRequest = { loop.handle.stop() }
        }
        defer { thread.stop(timeout: .seconds(2)) }
        let deadline = Date().addingTimeInterval(10)
        while outcome.value == nil, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        guard case let .failed(_, permanent)? = outcome.value else {
            Issue.record("expected a failure, got \(String(describing: outcome.value))")
            return
        }
        #expect(!permanent)
    }
}

/// A delivery outcome handed from a loop to the test's thread.
private final class Outcome: Sendable {
    private let state = Mutex<DeliveryOutcome?>(nil)
    var value: DeliveryOutcome? { state.withLock { $0 } }
    func set(_ outcome: DeliveryOutcome) { state.withLock { $0 = outcome } }
}
