// The notifications service: the `notifications` consumer group on every
// event's log. For booking.confirmed, booking.cancelled, booking.expired,
// payment.refunded and waitlist.offered (seats held for a waitlisted buyer,
// the offer's booking) it tells the buyer, if registered (sl:{users}:user:U):
// one message per kind (email, SMS, push) rendered from the topic's
// templates and handed to that kind's channel.
//
// Each kind is on its own: it is claimed, sent, marked and retried apart from
// the others (DeliveryMarks: at most once per booking, topic and kind; a
// retry resends only kinds not delivered). Every attempt appends
// notification.delivered or notification.failed to sl:{E}:notifications, in
// the same MULTI as its mark. A kind still failing after `maxAttempts` (or at
// once, for a permanent failure) goes to sl:dlq:notifications with its kind
// and last error; a replay of that dead letter (scripts/ops/dlq-replay)
// carries `notifyKinds` and resends only that kind. The log entry is acked
// once every kind is delivered, skipped or dead-lettered.
import Foundation
import Logging
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import Synchronization

final class NotificationsWorker: LoopWorker {
    private let loop: EventLoop
    private let redisURL: RedisURL
    private let options: NotificationsOptions
    private let consumerOptions: ConsumerOptions
    private let templates: NotificationTemplates
    private let channels: [NotificationKind: any NotificationChannel]
    private let logger = Logger(label: "seatlock.notifications")
    private var stopping = false
    /// Jobs waiting out a backoff; stop() ends them early.
    private var sleeping: [ObjectIdentifier: DeliveryJob] = [:]
    /// EVENT/BOOKING/TOPIC of the entries in hand, so that a redelivery of
    /// one still being retried here is not handled twice at once.
    private var active: Set<String> = []
    private lazy var consumer = StreamConsumer(loop: loop, redis: redisURL, options: consumerOptions) { [unowned self] entry, done in
        handle(entry, done)
    }

    init(loop: EventLoop, redis: RedisURL, options: NotificationsOptions, templates: NotificationTemplates,
         channels: [NotificationKind: any NotificationChannel]) {
        self.loop = loop
        self.redisURL = redis
        self.options = options
        self.templates = templates
        self.channels = channels
        var consumerOptions = options.consumer
        let floor = options.retryBudget + .seconds(5)
        if consumerOptions.claimIdle < floor { consumerOptions.claimIdle = floor }
        self.consumerOptions = consumerOptions
        _ = consumer
        logger.info("notifications worker running", metadata: [
            "channels": "\(channels.map { "\($0.key.rawValue)=\($0.value.name)" }.sorted().joined(separator: " "))",
            "templates": "\(templates.directory.path)",
            "claimIdle": "\(consumerOptions.claimIdle)",
        ])
    }

    private var redis: RedisConnection { consumer.connection }

    /// Stops reading, ends the backoffs in hand (those entries stay pending
    /// and resume later from their marks), waits for the deliveries under
    /// way, then calls `done`.
    func stop(done: @escaping () -> Void) {
        stopping = true
        let waiting = Array(sleeping.values)
        sleeping.removeAll()
        for job in waiting {
            job.timer?.cancel()
            job.timer = nil
            job.finish(.incomplete("stopped during a backoff"))
        }
        // Messages still queued in a channel fail now (they never left);
        // sessions under way finish within the timeout.
        for channel in channels.values { channel.close() }
        consumer.stop(done: done)
    }

    // MARK: one log entry

    private func handle(_ entry: StreamEntry, _ done: @escaping (HandlerOutcome) -> Void) {
        guard let topic = NotificationTopic(rawValue: entry.type) else { return done(.done) }
        guard let eventId = entry.fields["eventId"], let bookingId = entry.fields["bookingId"],
              Identifier.isValid(eventId), Identifier.isValid(bookingId) else {
            return done(.failed("unparseable \(entry.type) entry"))
        }
        let activeKey = "\(eventId)/\(bookingId)/\(topic.rawValue)"
        guard !active.contains(activeKey) else { return done(.failed("still being handled by this consumer")) }
        active.insert(activeKey)
        let finish: (HandlerOutcome) -> Void = { [self] outcome in
            active.remove(activeKey)
            done(outcome)
        }
        let keys = EventKeys(eventId)
        let entryUser = entry.fields["userId"].flatMap { Identifier.isValid($0) ? $0 : nil }
        var reads = [["HGETALL", keys.booking(bookingId)], ["HGETALL", keys.event],
                     ["HGETALL", EventKeys(eventId).notified(bookingId)]]
        if let entryUser { reads.append(["HGETALL", UserKeys.user(entryUser)]) }
        redis.pipeline(reads) { [self] results in
            var replies: [RedisValue] = []
            for result in results {
                guard case let .success(reply) = result, reply.errorMessage == nil else {
                    return finish(.failed("reading the booking, the event and the marks: \(result)"))
                }
                replies.append(reply)
            }
            let source = Source(topic: topic, eventId: eventId, bookingId: bookingId, entry: entry,
                                booking: replies[0].fields, event: replies[1].fields, marks: replies[2].fields)
            if let entryUser, replies.count > 3 {
                return notifyBuyer(source, userId: entryUser, user: replies[3].fields, finish)
            }
            guard let userId = source.booking["userId"], Identifier.isValid(userId) else { return finish(.done) } // nobody to tell
            redis.send(["HGETALL", UserKeys.user(userId)]) { [self] result in
                guard case let .success(reply) = result, reply.errorMessage == nil else {
                    return finish(.failed("reading the buyer: \(result)"))
                }
                notifyBuyer(source, userId: userId, user: reply.fields, finish)
            }
        }
    }

    /// What one entry is about, read from Redis.
    private struct Source {
        let topic: NotificationTopic
        let eventId: String
        let bookingId: String
        let entry: StreamEntry
        let booking: [String: String]
        let event: [String: String]
        let marks: [String: String]
    }

    private func notifyBuyer(_ source: Source, userId: String, user: [String: String], _ finish: @escaping (HandlerOutcome) -> Void) {
        guard !user.isEmpty else { return finish(.done) } // not registered: nothing to send
        let topic = source.topic.rawValue
        let context = NotificationContext.make(topic: topic, eventId: source.eventId, bookingId: source.bookingId, userId: userId,
                                               entry: source.entry.fields, booking: source.booking, event: source.event,
                                               user: user, currency: options.currency)
        // Set by a replayed dead letter: only these kinds.
        let replaying = source.entry.fields["notifyKinds"].map { list in
            Set(list.split(separator: ",").compactMap { NotificationKind(rawValue: String($0)) })
        }
        var jobs: [DeliveryJob] = []
        for kind in NotificationKind.allCases {
            guard let channel = channels[kind], let recipient = Self.recipient(kind, userId: userId, user: user),
                  let rendered = templates.render(topic: topic, kind: kind, context: context) else { continue }
            let marks = DeliveryMarks(fields: source.marks, topic: topic, kind: kind)
            let plan = marks.plan(maxAttempts: options.maxAttempts, replaying: replaying)
            if case let .skip(why) = plan {
                logger.debug("not sent", metadata: ["booking": "\(source.bookingId)", "topic": "\(topic)", "kind": "\(kind.rawValue)", "why": "\(why)"])
                continue
            }
            let message = NotificationMessage(kind: kind, topic: topic, eventId: source.eventId, bookingId: source.bookingId, userId: userId,
                                              to: recipient, subject: rendered.subject, title: rendered.title, body: rendered.body)
            jobs.append(DeliveryJob(message: message, channel: channel, entry: source.entry, plan: plan))
        }
        guard !jobs.isEmpty else { return finish(.done) }

        var remaining = jobs.count
        var unfinished: [String] = []
        for job in jobs {
            job.onFinish = { result in
                if case let .incomplete(reason) = result { unfinished.append("\(job.message.kind.rawValue): \(reason)") }
                remaining -= 1
                guard remaining == 0 else { return }
                // Unfinished kinds leave the entry pending: it is claimed again
                // later and each kind resumes from its marks.
                finish(unfinished.isEmpty ? .done : .failed(unfinished.joined(separator: "; ")))
            }
        }
        for job in jobs { start(job) }
    }

    /// Where a kind goes: the address, the phone number, or (push) the user
    /// id, which the push gateway behind the webhook maps to devices.
    static func recipient(_ kind: NotificationKind, userId: String, user: [String: String]) -> String? {
        let value: String? = switch kind {
        case .email: user["email"]
        case .sms: user["phone"]
        case .push: userId
        }
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    // MARK: one kind

    private func start(_ job: DeliveryJob) {
        switch job.plan {
        case let .send(first, last, _):
            job.lastAttempt = last
            attempt(job, number: first)
        case let .interrupted(number):
            job.lastError = "attempt \(number) was cut off after it was claimed; whether it arrived is unknown, so it is not resent"
            giveUp(job, attempt: number, outcome: "unknown", logEntry: true)
        case let .exhausted(number, lastError):
            job.lastError = lastError
            giveUp(job, attempt: number, outcome: "failed", logEntry: false)
        case .skip:
            job.finish(.completed)
        }
    }

    private func attempt(_ job: DeliveryJob, number: Int) {
        let claim = "sending \(consumerOptions.consumer) \(Self.nowMilliseconds())"
        redis.send(["HSETNX", job.marksKey, job.attemptField(number), claim]) { [self] result in
            switch result {
            case .success(.integer(1)):
                guard Self.replicatedFirst.contains(job.message.topic) else { return claimed(job, number: number) }
                // A confirmation or a refund is told to the buyer only once a replica has it (the claim just
                // written to the booking's primary makes the WAIT cover the payments worker's write before it).
                redis.waitForReplicas(afterWriteTo: job.marksKey, replicas: options.replicaAcks, timeout: .seconds(1)) { [self] waited in
                    if case .success = waited { return claimed(job, number: number) }
                    redis.send(["HDEL", job.marksKey, job.attemptField(number)]) { _ in
                        job.finish(.incomplete("no replica has the booking yet: \(waited)"))
                    }
                }
            case .success(.integer(0)):
                // Another consumer holds this attempt: it carries on with this kind.
                job.finish(.completed)
            default:
                job.finish(.incomplete("claiming attempt \(number): \(result)"))
            }
        }
    }

    /// Topics whose message waits for a replica to have the booking (SPEC v2: no sale lost in a failover is told of).
    static let replicatedFirst: Set<String> = [NotificationTopic.bookingConfirmed.rawValue, NotificationTopic.paymentRefunded.rawValue]

    private func claimed(_ job: DeliveryJob, number: Int) {
        guard case .send(number, _, true) = job.plan else { return transmit(job, number: number) }
        // A replay: its old outcome goes before anything is sent.
        redis.send(["HDEL", job.marksKey, job.outcomeField]) { [self] result in
            guard case .success(.integer) = result else { return job.finish(.incomplete("clearing the old outcome: \(result)")) }
            transmit(job, number: number)
        }
    }

    private func transmit(_ job: DeliveryJob, number: Int) {
        var message = job.message
        message.attempt = number
        // No timer here: each channel answers within its own timeout, and a
        // message waiting in a channel's queue (SMTP sessions are limited)
        // has not been sent, so it must not be counted as failed.
        var answered = false
        job.channel.deliver(message) { [self] outcome in
            guard !answered else { return }
            answered = true
            attempted(job, number: number, outcome)
        }
    }

    private func attempted(_ job: DeliveryJob, number: Int, _ outcome: DeliveryOutcome) {
        switch outcome {
        case let .delivered(detail):
            record(job, attempt: number, mark: "delivered", detail: detail, outcome: "delivered", type: "notification.delivered") { [self] written in
                // Not written: the attempt stays "sending", so a later pass
                // dead-letters it as unknown rather than sending it again.
                guard written else { return job.finish(.incomplete("recording the delivery")) }
                logger.debug("delivered", metadata: job.metadata(number, detail))
                job.finish(.completed)
            }
        case let .failed(reason, permanent):
            job.lastError = reason
            record(job, attempt: number, mark: "failed", detail: reason, outcome: nil, type: "notification.failed") { [self] written in
                guard written else { return job.finish(.incomplete("recording a failed attempt")) }
                logger.warning("delivery failed", metadata: job.metadata(number, reason))
                if permanent || number >= job.lastAttempt {
                    return giveUp(job, attempt: number, outcome: "failed", logEntry: false)
                }
                if stopping { return job.finish(.incomplete("stopping before attempt \(number + 1)")) }
                retryLater(job, after: backoff(after: number)) { [self] in attempt(job, number: number + 1) }
            }
        }
    }

    /// Dead-letters the kind, then sets its outcome. In that order: a crash
    /// between the two leaves a second dead letter, never none.
    private func giveUp(_ job: DeliveryJob, attempt number: Int, outcome: String, logEntry: Bool) {
        var command = ["XADD", GlobalKeys.deadLetters(group: consumerOptions.group), "*", "stream", job.entry.stream, "entryId", job.entry.id,
                       "reason", "\(job.message.kind.rawValue) not delivered after \(number) attempt(s): \(job.lastError)",
                       "group", consumerOptions.group, "kind", job.message.kind.rawValue, "topic", job.message.topic,
                       "attempts", String(number), "lastError", job.lastError]
        var fields = job.entry.fields
        fields["notifyKinds"] = job.message.kind.rawValue // a replay resends this kind only
        for (field, value) in fields.sorted(by: { $0.key < $1.key }) { command += ["field." + field, value] }
        redis.send(command) { [self] result in
            guard case let .success(reply) = result, reply.errorMessage == nil else {
                return job.finish(.incomplete("writing the dead letter: \(result)"))
            }
            logger.error("notification dead-lettered", metadata: job.metadata(number, job.lastError))
            record(job, attempt: nil, mark: nil, detail: job.lastError, outcome: outcome, type: logEntry ? "notification.failed" : nil) { written in
                job.finish(written ? .completed : .incomplete("recording the outcome"))
            }
        }
    }

    /// One MULTI: the attempt's mark, the kind's outcome, the stream entry
    /// (each when given). `completion(false)` when it was not written.
    private func record(_ job: DeliveryJob, attempt number: Int?, mark: String?, detail: String, outcome: String?, type: String?,
                        completion: @escaping (Bool) -> Void) {
        let now = Self.nowMilliseconds()
        var hset = ["HSET", job.marksKey]
        if let number, let mark { hset += [job.attemptField(number), "\(mark) \(now) \(detail)"] }
        if let outcome { hset += [job.outcomeField, outcome] }
        var commands: [[String]] = [["MULTI"]]
        if hset.count > 2 { commands.append(hset) }
        if let type {
            let message = job.message
            commands.append(["XADD", EventKeys(message.eventId).notifications, "MAXLEN", "~", String(options.streamMaxLength), "*",
                             "type", type, "eventId", message.eventId, "bookingId", message.bookingId, "userId", message.userId,
                             "topic", message.topic, "kind", message.kind.rawValue, "to", message.to,
                             "attempt", String(number ?? job.lastAttemptTried), "reason", detail, "channel", job.channel.name, "at", String(now)])
        }
        commands.append(["EXEC"])
        redis.pipeline(commands) { [self] results in
            guard case let .success(exec)? = results.last, let replies = exec.array, replies.allSatisfy({ $0.errorMessage == nil }) else {
                logger.error("cannot record a notification", metadata: ["booking": "\(job.message.bookingId)", "kind": "\(job.message.kind.rawValue)",
                                                                       "reply": "\(results.last.map { "\($0)" } ?? "none")"])
                return completion(false)
            }
            completion(true)
        }
    }

    private func retryLater(_ job: DeliveryJob, after delay: Duration, then next: @escaping () -> Void) {
        let id = ObjectIdentifier(job)
        sleeping[id] = job
        job.timer = loop.schedule(after: delay) { [weak self] in
            self?.sleeping[id] = nil
            job.timer = nil
            next()
        }
    }

    /// Exponential with jitter (between half and all of the step), capped.
    private func backoff(after attempt: Int) -> Duration {
        let ceiling = min(options.firstBackoff * (1 << min(attempt - 1, 16)), options.maxBackoff)
        let nanoseconds = ceiling.wholeNanoseconds
        return .nanoseconds(Int64.random(in: nanoseconds / 2...max(nanoseconds / 2, nanoseconds)))
    }

    static func nowMilliseconds() -> Int {
        Int(Date().timeIntervalSince1970 * 1000)
    }
}

/// One kind of one entry, from its first attempt here to its outcome.
final class DeliveryJob {
    enum Result {
        /// Delivered, dead-lettered, or left to the consumer that holds it.
        case completed
        /// Not finished here (stopping, Redis trouble): the entry stays pending.
        case incomplete(String)
    }

    let message: NotificationMessage
    let channel: any NotificationChannel
    let entry: StreamEntry
    let plan: DeliveryPlan
    let marksKey: String
    var lastAttempt = 1
    var lastError = ""
    var timer: LoopTimer?
    var onFinish: ((Result) -> Void)?
    private var finished = false

    init(message: NotificationMessage, channel: any NotificationChannel, entry: StreamEntry, plan: DeliveryPlan) {
        self.message = message
        self.channel = channel
        self.entry = entry
        self.plan = plan
        self.marksKey = EventKeys(message.eventId).notified(message.bookingId)
    }

    var outcomeField: String { DeliveryMarks.outcomeField(topic: message.topic, kind: message.kind) }

    func attemptField(_ number: Int) -> String {
        DeliveryMarks.attemptField(topic: message.topic, kind: message.kind, attempt: number)
    }

    /// For a stream entry written without a new attempt (an interrupted one).
    var lastAttemptTried: Int {
        switch plan {
        case let .interrupted(number), let .exhausted(number, _): number
        default: lastAttempt
        }
    }

    /// Once; later calls are ignored.
    func finish(_ result: Result) {
        guard !finished else { return }
        finished = true
        let callback = onFinish
        onFinish = nil
        callback?(result)
    }

    func metadata(_ attempt: Int, _ detail: String) -> Logger.Metadata {
        ["event": "\(message.eventId)", "booking": "\(message.bookingId)", "topic": "\(message.topic)", "kind": "\(message.kind.rawValue)",
         "to": "\(message.to)", "attempt": "\(attempt)", "detail": "\(detail)", "channel": "\(channel.name)"]
    }
}

/// Runs a NotificationsWorker on its own thread (for `seatlock worker
/// notifications`, `seatlock up` and the tests). `start()` loads the
/// templates and checks the channels, throwing on a mistake. Its graceful
/// stop lets deliveries in flight finish (a delivery takes at most
/// `options.timeout`).
public final class NotificationsService: LoopService, @unchecked Sendable {
    public init(redis: RedisURL, options: NotificationsOptions) {
        super.init(name: "seatlock-notifications", stopTimeout: options.timeout + .seconds(5)) { loop in
            let templates = try options.templatesDirectory.map { try NotificationTemplates(directory: URL(fileURLWithPath: $0)) }
                ?? NotificationTemplates.locate()
            var channels: [NotificationKind: any NotificationChannel] = [:]
            for (kind, setting) in try options.channelPlan() {
                channels[kind] = setting.makeChannel(kind: kind, loop: loop, timeout: options.timeout, webhookPost: options.webhookPost)
            }
            for channel in options.customChannels?(loop) ?? [] { channels[channel.kind] = channel }
            return NotificationsWorker(loop: loop, redis: redis, options: options, templates: templates, channels: channels)
        }
    }
}
