// SMS and push through an HTTP webhook: each message is one POST of a JSON
// object (NotificationPayload: id, kind, to, subject?, title?, body,
// bookingId, eventId, userId, topic, attempt) to a configured http:// URL,
// on the worker's own event loop (the injected `WebhookPost`: evhttp's
// client in the binary, no thread). 2xx is delivered; a
// 4xx other than 408/429 is a permanent failure; anything else, and no
// answer within the timeout, is a failure that is retried. The message id
// goes along as `Idempotency-Key`, the same on every attempt, so a receiver
// can drop a repeat after a timeout that hid a success.
import Foundation
import SeatlockLoop

/// One POST of a webhook message.
public struct WebhookRequest: Sendable {
    public let endpoint: WebhookEndpoint
    public let headers: [(String, String)]
    public let body: [UInt8]
    /// Whole seconds for the client's own timeout (the channel keeps the exact one).
    public let timeoutSeconds: Int
}

/// Sends `request` on `loop` and calls `completion` there with the HTTP
/// status, 0 when there was no HTTP answer (refused, reset, timed out).
public typealias WebhookPost = @Sendable (_ loop: EventLoop, _ request: WebhookRequest, _ completion: @escaping (Int) -> Void) -> Void

/// `http://host[:port]/path[?query]`, checked once at start.
public struct WebhookEndpoint: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int
    /// Path and query, as sent in the request line.
    public let target: String

    public init(_ url: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased() else {
            throw NotificationsError("not a URL: \(url)")
        }
        guard scheme == "http" else {
            throw NotificationsError("webhook URL \(url): only http:// is supported (put a local TLS relay in front for https)")
        }
        guard let host = parts.host, !host.isEmpty else { throw NotificationsError("webhook URL \(url) has no host") }
        let port = parts.port ?? 80
        guard (1...65535).contains(port) else { throw NotificationsError("webhook URL \(url): bad port") }
        var target = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        if let query = parts.percentEncodedQuery { target += "?" + query }
        self.host = host
        self.port = port
        self.target = target
    }

    public var description: String { "http://\(host):\(port)\(target)" }
}

public final class WebhookChannel: NotificationChannel {
    public let kind: NotificationKind
    public let name = "webhook"
    public let endpoint: WebhookEndpoint
    private let loop: EventLoop
    private let timeout: Duration
    private let post: WebhookPost

    public init(kind: NotificationKind, loop: EventLoop, endpoint: WebhookEndpoint, timeout: Duration, post: @escaping WebhookPost) {
        self.kind = kind
        self.loop = loop
        self.endpoint = endpoint
        self.timeout = timeout
        self.post = post
    }

    public func deliver(_ message: NotificationMessage, completion: @escaping (DeliveryOutcome) -> Void) {
        let body: Data
        do { body = try NotificationPayload(message).json() } catch {
            return completion(.failed(reason: "cannot encode the message: \(error)", permanent: true))
        }
        // One connection per message (the client's part): a slow receiver
        // holds up only its own message. The client's timeout is whole
        // seconds; the timer below keeps ours exact.
        var answered = false
        let limit = timeout
        let timer = loop.schedule(after: timeout) {
            guard !answered else { return }
            answered = true
            completion(.failed(reason: "no answer within \(limit)", permanent: false))
        }
        let headers = [("Content-Type", "application/json"), ("Idempotency-Key", message.id), ("User-Agent", "seatlock-notifications")]
        let request = WebhookRequest(endpoint: endpoint, headers: headers, body: Array(body),
                                     timeoutSeconds: max(1, Int(timeout.secondsValue.rounded(.up))))
        post(loop, request) { status in
            guard !answered else { return }
            answered = true
            timer.cancel()
            completion(Self.outcome(status: status))
        }
    }

    static func outcome(status: Int) -> DeliveryOutcome {
        switch status {
        case 200..<300: .delivered(detail: "HTTP \(status)")
        case 0: .failed(reason: "no HTTP answer (connection refused, reset or timed out)", permanent: false)
        case 408, 429: .failed(reason: "HTTP \(status)", permanent: false)
        case 400..<500: .failed(reason: "HTTP \(status)", permanent: true)
        default: .failed(reason: "HTTP \(status)", permanent: false)
        }
    }
}
