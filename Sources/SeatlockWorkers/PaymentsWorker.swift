// The payments service: the `payments` consumer group on every event's log.
//   payment.requested        -> charge; success -> confirm.lua (sold);
//                               retryable failure -> payment_failed.lua, retry
//                               with exponential backoff + jitter (a timer: other
//                               payments keep flowing); final failure or too many
//                               attempts -> cancel.lua (seats back on sale);
//                               success after the hold ended -> refund.
//   payment.refund_requested -> refund through the provider, refund.lua.
//   event.cancelled,         -> one batch of cancel_bookings.lua (each confirmed
//   event.cancel_continued      booking asks for its refund: the entry above);
//                               while bookings are left, the batch logs the
//                               event.cancel_continued that brings the next.
// Every outcome is one Lua call that appends its own events.
import Foundation
import Logging
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import Synchronization

public struct PaymentsOptions: Sendable {
    public var consumer: ConsumerOptions
    /// Charge attempts before a retryable failure becomes final.
    public var maxAttempts = 4
    public var firstBackoff: Duration = .milliseconds(200)
    public var maxBackoff: Duration = .seconds(5)
    /// Test hook: stop right after a successful charge, before confirming or
    /// acking, as a crash would.
    public var crashAfterCharge = false
    /// Bookings one cancel_bookings.lua call ends: each call keeps Redis a few ms at most.
    public var cancelBatch = 200
    /// Replicas that must have a confirmation or a refund before its entry is
    /// acked (WAIT on the booking's primary); nil: one when that primary has
    /// a replica, none without. `SEATLOCK_REPLICA_ACKS` sets it.
    public var replicaAcks: Int? = ProcessInfo.processInfo.environment["SEATLOCK_REPLICA_ACKS"].flatMap(Int.init)
    /// How long a WAIT may take; short of the acks, the entry stays pending and is tried again.
    public var replicaTimeout: Duration = .seconds(1)

    public init(consumer: String = "payments-\(ProcessInfo.processInfo.processIdentifier)") {
        self.consumer = ConsumerOptions(group: "payments", consumer: consumer)
        self.consumer.topics = ["payment.requested", "payment.refund_requested", "event.cancelled", "event.cancel_continued"]
    }
}

public final class PaymentsWorker: LoopWorker {
    private let scripts: BookingScripts
    private let options: PaymentsOptions
    private let loop: EventLoop
    private var consumer: StreamConsumer!
    private var provider: PaymentProvider!
    private var crashed = false
    private let logger = Logger(label: "seatlock.payments")

    public init(loop: EventLoop, redis: RedisURL, scripts: BookingScripts, options: PaymentsOptions,
                provider: ((EventLoop, RedisConnection) -> PaymentProvider)? = nil) {
        self.loop = loop
        self.scripts = scripts
        self.options = options
        consumer = StreamConsumer(loop: loop, redis: redis, options: options.consumer) { [unowned self] entry, done in
            handle(entry, done)
        }
        self.provider = provider?(loop, consumer.connection) ?? SimulatedPaymentProvider(loop: loop, redis: consumer.connection)
    }

    public func stop(done: @escaping () -> Void) { consumer.stop(done: done) }

    private var redis: RedisConnection { consumer.connection }

    private func handle(_ entry: StreamEntry, _ done: @escaping (HandlerOutcome) -> Void) {
        guard !crashed else { return } // a "crashed" worker never answers
        switch entry.type {
        case "payment.requested":
            guard let request = PaymentRequestEntry(entry) else { return done(.failed("unparseable payment.requested entry")) }
            // Charge only a booking still waiting for its money: one released or
            // expired meanwhile (or an old entry read again) is not charged; if a
            // charge was already made for it, it is refunded.
            redis.send(["HGET", EventKeys(request.eventId).booking(request.bookingId), "status"]) { [self] result in
                switch result {
                case .success(.bulk("payment_pending")): attempt(request, number: 1, done)
                case .success(.bulk("confirmed")), .success(.bulk("refunded")), .success(.bulk("refund_pending")), .success(.bulk("cancelled")):
                    done(.done)
                case .success:
                    refund(eventId: request.eventId, bookingId: request.bookingId, reason: "booking_ended_before_charge", done)
                case let .failure(error):
                    done(.failed("reading the booking: \(error)"))
                }
            }
        case "payment.refund_requested":
            guard let eventId = entry.fields["eventId"], let bookingId = entry.fields["bookingId"],
                  Identifier.isValid(eventId), Identifier.isValid(bookingId) else { return done(.failed("unparseable refund request")) }
            refund(eventId: eventId, bookingId: bookingId, reason: entry.fields["reason"] == "event_cancelled" ? "event_cancelled" : "buyer_request", done)
        case "event.cancelled", "event.cancel_continued":
            guard let eventId = entry.fields["eventId"], EventKeys.isValidEventId(eventId) else { return done(.failed("unparseable \(entry.type)")) }
            endBookings(ofCancelled: eventId, actor: entry.fields["actor"] ?? "admin", done)
        default:
            done(.done) // other topics are not ours
        }
    }

    /// One batch per entry: the script logs the entry of the next batch in
    /// the same call, so this entry is acked at once, however long the
    /// cancellation, and a worker that dies leaves the rest in the log.
    private func endBookings(ofCancelled eventId: String, actor: String, _ done: @escaping (HandlerOutcome) -> Void) {
        redis.run(scripts.cancelBookings(event: eventId, batch: options.cancelBatch, actor: actor)) { result in
            guard case let .success(value) = result, let parts = value.array, parts.count == 2, parts[1].int != nil else {
                return done(.failed("cancel_bookings.lua: \(result)"))
            }
            done(.done)
        }
    }

    private func attempt(_ request: PaymentRequestEntry, number: Int, _ done: @escaping (HandlerOutcome) -> Void) {
        provider.charge(idempotencyKey: request.bookingId, amountCents: request.amountCents, token: request.paymentToken) { [self] result in
            switch result {
            case let .succeeded(paymentId):
                if options.crashAfterCharge {
                    crashed = true
                    return
                }
                confirm(request, paymentId: paymentId, done)
            case let .failed(reason, retryable) where retryable && number < options.maxAttempts:
                let delay = backoff(after: number)
                let retryAt = Int(Date().timeIntervalSince1970 * 1000) + Int(delay.wholeMilliseconds)
                let call = scripts.paymentFailed(event: request.eventId, booking: request.bookingId, attempt: number, reason: reason, retryAtMilliseconds: retryAt)
                redis.run(call) { [self] result in
                    guard case let .success(value) = result, let reply = StateChange(value) else { return done(.failed("payment_failed.lua: \(result)")) }
                    if !reply.changed, reply.word != "duplicate" {
                        return done(.done) // the booking ended meanwhile (expired, released): nothing to charge for
                    }
                    loop.schedule(after: delay) { [self] in attempt(request, number: number + 1, done) }
                }
            case let .failed(reason, _):
                redis.run(scripts.cancel(event: request.eventId, booking: request.bookingId, attempt: number, reason: reason)) { result in
                    guard case let .success(value) = result, StateChange(value) != nil else { return done(.failed("cancel.lua: \(result)")) }
                    done(.done)
                }
            }
        }
    }

    private func confirm(_ request: PaymentRequestEntry, paymentId: String, _ done: @escaping (HandlerOutcome) -> Void) {
        let code = Self.confirmationCode()
        let call = scripts.confirm(event: request.eventId, booking: request.bookingId, paymentId: paymentId, confirmationCode: code)
        redis.runReplicated(call, replicas: options.replicaAcks, timeout: options.replicaTimeout) { [self] result in
            guard case let .success(value) = result, let reply = APIReply(value) else { return done(.failed("confirm.lua: \(result)")) }
            if reply.status == 200 { return done(.done) }
            // The hold ended before the money arrived: end the booking if it is
            // still pending (its seats go back), then give the money back.
            redis.run(scripts.expire(event: request.eventId, booking: request.bookingId, actor: "payments")) { [self] _ in
                refund(eventId: request.eventId, bookingId: request.bookingId, reason: "hold_ended_before_payment", done)
            }
        }
    }

    private func refund(eventId: String, bookingId: String, reason: String, _ done: @escaping (HandlerOutcome) -> Void) {
        provider.refund(idempotencyKey: bookingId) { [self] result in
            switch result {
            case let .success(refund?):
                let call = scripts.refund(event: eventId, booking: bookingId, paymentId: refund.paymentId, refundId: refund.refundId, reason: reason)
                redis.runReplicated(call, replicas: options.replicaAcks, timeout: options.replicaTimeout) { result in
                    guard case let .success(value) = result, let reply = StateChange(value) else { return done(.failed("refund.lua: \(result)")) }
                    if !reply.changed, ["held", "payment_pending"].contains(reply.word) {
                        return done(.failed("booking still \(reply.word); refund retried later")) // its expiry comes first
                    }
                    done(.done)
                }
            case .success(nil):
                done(.done) // never charged: nothing to give back
            case let .failure(error):
                done(.failed("refund: \(error)"))
            }
        }
    }

    /// Exponential with full jitter, capped.
    private func backoff(after attempt: Int) -> Duration {
        let ceiling = min(options.firstBackoff * (1 << min(attempt - 1, 16)), options.maxBackoff)
        let nanoseconds = ceiling.wholeNanoseconds
        return .nanoseconds(Int64.random(in: nanoseconds / 2...max(nanoseconds / 2, nanoseconds)))
    }

    /// `SL-` and 8 characters a person can read out (no 0/O, 1/I).
    static func confirmationCode() -> String {
        let alphabet = Array("ABCDEFGHJKMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        var bits = generator.next() as UInt64
        var code = "SL-"
        for _ in 0..<8 {
            code.append(alphabet[Int(bits % UInt64(alphabet.count))])
            bits /= UInt64(alphabet.count)
        }
        return code
    }
}

/// The fields of a payment.requested log entry, checked.
struct PaymentRequestEntry {
    let eventId: String
    let bookingId: String
    let amountCents: Int
    let paymentToken: String

    init?(_ entry: StreamEntry) {
        guard let eventId = entry.fields["eventId"], let bookingId = entry.fields["bookingId"],
              let amount = entry.fields["amountCents"].flatMap(Int.init), let token = entry.fields["paymentToken"],
              Identifier.isValid(eventId), Identifier.isValid(bookingId), Identifier.isValid(token), amount >= 0 else { return nil }
        self.eventId = eventId
        self.bookingId = bookingId
        self.amountCents = amount
        self.paymentToken = token
    }
}

/// Runs a PaymentsWorker on its own thread (for `seatlock worker payments`,
/// `seatlock up` and the tests). Its graceful stop lets the entries in hand
/// finish first (at most 10 s).
public final class PaymentsService: LoopService, @unchecked Sendable {
    public init(redis: RedisURL, scripts: BookingScripts, options: PaymentsOptions) {
        super.init(name: "seatlock-payments", stopTimeout: .seconds(10)) { loop in
            PaymentsWorker(loop: loop, redis: redis, scripts: scripts, options: options)
        }
    }
}
