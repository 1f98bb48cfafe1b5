// What the notifications worker sends and through what: the kinds (email,
// SMS, push), the topics that cause a message, the message itself, and the
// channel protocol every delivery goes through (SMTP, webhook, outbox, or
// one of your own).
import Foundation

public enum NotificationKind: String, Sendable, CaseIterable, Codable {
    case email, sms, push
}

/// The log topics that send messages to the buyer.
public enum NotificationTopic: String, Sendable, CaseIterable {
    case bookingConfirmed = "booking.confirmed"
    case bookingCancelled = "booking.cancelled"
    case bookingExpired = "booking.expired"
    case paymentRefunded = "payment.refunded"
    /// Seats that came back were offered to a waitlisted buyer: a new held
    /// booking (`bookingId`, e.g. "w12") they must pay before `offerExpiresAt`.
    case waitlistOffered = "waitlist.offered"
}

/// One rendered message for one buyer, ready for a channel.
public struct NotificationMessage: Sendable, Equatable {
    /// `EVENT/BOOKING/TOPIC/KIND`: the same on every attempt, so a receiver
    /// can drop a repeat (webhook `Idempotency-Key`, e-mail `Message-ID`).
    public var id: String
    public var kind: NotificationKind
    public var topic: String
    public var eventId: String
    public var bookingId: String
    public var userId: String
    /// E-mail address, phone number, or the user id for push.
    public var to: String
    /// E-mail only.
    public var subject: String?
    /// Push only.
    public var title: String?
    public var body: String
    /// 1 for the first try.
    public var attempt: Int

    public init(kind: NotificationKind, topic: String, eventId: String, bookingId: String, userId: String, to: String,
                subject: String? = nil, title: String? = nil, body: String, attempt: Int = 1) {
        self.id = "\(eventId)/\(bookingId)/\(topic)/\(kind.rawValue)"
        self.kind = kind
        self.topic = topic
        self.eventId = eventId
        self.bookingId = bookingId
        self.userId = userId
        self.to = to
        self.subject = subject
        self.title = title
        self.body = body
        self.attempt = attempt
    }
}

public enum DeliveryOutcome: Sendable, Equatable {
    /// Accepted by the receiver; `detail` is what it said ("HTTP 204", "SMTP 250 …").
    case delivered(detail: String)
    /// Not accepted. A permanent failure (SMTP 5xx, HTTP 4xx) is not retried;
    /// any other is, with backoff, up to `maxAttempts`.
    case failed(reason: String, permanent: Bool)
}

/// Delivers messages of one kind. Confined to the worker's event loop:
/// `deliver` is called there and must call `completion` there, exactly once,
/// within the channel's timeout (blocking work goes to another thread and
/// comes back with `loop.handle.execute`).
public protocol NotificationChannel: AnyObject {
    /// The kind of message this channel carries.
    var kind: NotificationKind { get }
    /// What it is, for logs and the notifications stream: "smtp", "webhook", "outbox".
    var name: String { get }
    func deliver(_ message: NotificationMessage, completion: @escaping (DeliveryOutcome) -> Void)
    /// Called once when the worker stops; nothing is delivered after it.
    func close()
}

extension NotificationChannel {
    public func close() {}
}

/// The JSON a webhook receives and the outbox stores, one object per message.
struct NotificationPayload: Encodable {
    let id: String
    let kind: String
    let to: String
    let subject: String?
    let title: String?
    let body: String
    let bookingId: String
    let eventId: String
    let userId: String
    let topic: String
    let attempt: Int

    init(_ message: NotificationMessage) {
        id = message.id
        kind = message.kind.rawValue
        to = message.to
        subject = message.subject
        title = message.title
        body = message.body
        bookingId = message.bookingId
        eventId = message.eventId
        userId = message.userId
        topic = message.topic
        attempt = message.attempt
    }

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

public struct NotificationsError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
