// How `seatlock worker notifications` is set up: its consumer group, its
// templates, which channel carries each kind, and its retry policy.
//
// Channels per kind, first that applies:
//   email      SMTP when `smtpHost` is set, else the outbox when `outboxPath` is set
//   sms, push  the webhook when `webhookURL` is set, else the outbox
//   any kind   `customChannels` replaces the above for the kinds it returns
// A kind with no channel is not sent. At least one kind needs a channel.
import Foundation
import SeatlockLoop

public struct NotificationsOptions: Sendable {
    public var consumer: ConsumerOptions
    /// nil: `NotificationTemplates.locate()` ($SEATLOCK_TEMPLATES, then the source tree).
    public var templatesDirectory: String?

    // Email over SMTP.
    public var smtpHost: String?
    public var smtpPort = 25
    public var sender = "tickets@seatlock.invalid"
    public var senderName: String? = "Seatlock"
    public var heloName = "localhost"
    /// SMTP sessions at once (each is a blocking session on a Dispatch thread).
    public var smtpSessions = 4

    /// SMS and push: POSTed as JSON to this http:// URL, through `webhookPost`.
    public var webhookURL: String?
    /// How the webhook channel sends a POST. The workers speak no HTTP of
    /// their own: the binary hands them evhttp's client (SeatlockHTTP).
    public var webhookPost: WebhookPost?
    /// Development: kinds without another channel are appended here as JSON lines.
    public var outboxPath: String?
    /// Channels of your own, built on the worker's loop; they replace the
    /// configured channel of the kinds they serve.
    public var customChannels: (@Sendable (EventLoop) -> [any NotificationChannel])?

    /// Tries per kind before the message is dead-lettered (sl:dlq:notifications).
    public var maxAttempts = 5
    public var firstBackoff: Duration = .seconds(1)
    public var maxBackoff: Duration = .seconds(60)
    /// Per delivery: an SMTP session, a webhook request.
    public var timeout: Duration = .seconds(10)
    /// ISO 4217 code shown in amounts ("EUR 150.00").
    public var currency = "EUR"
    /// Approximate cap of each event's sl:{E}:notifications stream (XADD MAXLEN ~).
    public var streamMaxLength = 1_000_000
    /// Replicas that must have a confirmation or a refund before the buyer is
    /// told of it (WAIT on the booking's primary); nil: one when that primary
    /// has a replica, none without. `SEATLOCK_REPLICA_ACKS` sets it.
    public var replicaAcks: Int? = ProcessInfo.processInfo.environment["SEATLOCK_REPLICA_ACKS"].flatMap(Int.init)

    public init(consumer: String = "notifications-\(ProcessInfo.processInfo.processIdentifier)") {
        self.consumer = ConsumerOptions(group: "notifications", consumer: consumer)
        self.consumer.topics = Set(NotificationTopic.allCases.map(\.rawValue))
        // Entries in hand at once: each may wait for an SMTP session or a backoff.
        self.consumer.maxInFlight = 128
    }

    /// The longest one log entry can stay in hand here: every attempt timing
    /// out, with the backoffs between. The consumer's `claimIdle` is raised
    /// above it, so that another consumer does not claim an entry that this
    /// one is still retrying.
    public var retryBudget: Duration {
        var total: Duration = .zero
        let attempts = max(1, maxAttempts)
        for attempt in 1...attempts {
            total += timeout + .seconds(2)
            if attempt < attempts { total += min(firstBackoff * (1 << min(attempt - 1, 16)), maxBackoff) }
        }
        return total
    }

    /// Checks the settings and decides the channel of each kind (before any
    /// thread starts, so that a mistake stops `start()` with a message).
    func channelPlan() throws -> [NotificationKind: ChannelSetting] {
        guard (1...100).contains(maxAttempts) else { throw NotificationsError("maxAttempts must be 1-100") }
        guard timeout > .zero, firstBackoff >= .zero, maxBackoff >= firstBackoff else {
            throw NotificationsError("timeout must be > 0 and maxBackoff >= firstBackoff >= 0")
        }
        guard currency.count == 3, currency.allSatisfy({ $0.isUppercase && $0.isASCII }) else {
            throw NotificationsError("currency must be an ISO 4217 code such as EUR")
        }
        var plan: [NotificationKind: ChannelSetting] = [:]
        if let host = smtpHost, !host.isEmpty {
            guard (1...65535).contains(smtpPort) else { throw NotificationsError("smtpPort must be 1-65535") }
            guard SMTPMessage.isPlausibleAddress(sender) else { throw NotificationsError("sender is not an e-mail address: \(sender)") }
            plan[.email] = .smtp(SMTPSettings(host: host, port: smtpPort, sender: sender, senderName: senderName,
                                              heloName: heloName, timeout: timeout), sessions: smtpSessions)
        }
        if let url = webhookURL, !url.isEmpty {
            let endpoint = try WebhookEndpoint(url)
            guard webhookPost != nil else { throw NotificationsError("a webhook URL needs an HTTP client (webhookPost)") }
            plan[.sms] = .webhook(endpoint)
            plan[.push] = .webhook(endpoint)
        }
        if let path = outboxPath, !path.isEmpty {
            for kind in NotificationKind.allCases where plan[kind] == nil { plan[kind] = .outbox(path) }
        }
        guard !plan.isEmpty || customChannels != nil else {
            throw NotificationsError("no channel configured: set an SMTP host, a webhook URL or an outbox file")
        }
        return plan
    }
}

/// A configured channel, decided before the loop starts, built on it.
enum ChannelSetting: Sendable {
    case smtp(SMTPSettings, sessions: Int)
    case webhook(WebhookEndpoint)
    case outbox(String)

    func makeChannel(kind: NotificationKind, loop: EventLoop, timeout: Duration, webhookPost: WebhookPost?) -> any NotificationChannel {
        switch self {
        case let .smtp(settings, sessions): SMTPChannel(loop: loop, settings: settings, maxSessions: sessions)
        case let .webhook(endpoint):
            // channelPlan() refuses a webhook URL without a client.
            WebhookChannel(kind: kind, loop: loop, endpoint: endpoint, timeout: timeout, post: webhookPost ?? { _, _, done in done(0) })
        case let .outbox(path): OutboxChannel(kind: kind, path: path)
        }
    }
}
