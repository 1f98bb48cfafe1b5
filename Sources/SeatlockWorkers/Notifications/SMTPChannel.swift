// E-mail over plain SMTP (RFC 5321, no TLS, no AUTH: a local relay such as
// Postfix or a provider's relay on a private network does the rest).
// One session per message: greeting 220, EHLO (HELO when EHLO is refused)
// 250, MAIL FROM 250, RCPT TO 250/251, DATA 354, the message, 250, QUIT.
// A 4xx reply or a broken connection is a failure that is retried; a 5xx
// reply is permanent. The whole session has `timeout`.
//
// Sessions block, so they run on a Dispatch thread, at most `maxSessions` at
// once (the rest wait in a queue on the loop), and come back to the worker's
// loop with `loop.handle.execute`.
import Foundation
import SeatlockLoop

public struct SMTPSettings: Sendable {
    public var host: String
    public var port: Int
    /// The envelope sender and From address, e.g. tickets@example.com.
    public var sender: String
    /// Shown in From: "Seatlock <tickets@example.com>".
    public var senderName: String?
    /// What EHLO/HELO announces.
    public var heloName: String
    /// For the whole session, connect to QUIT.
    public var timeout: Duration

    public init(host: String, port: Int = 25, sender: String, senderName: String? = "Seatlock",
                heloName: String = "localhost", timeout: Duration = .seconds(10)) {
        self.host = host
        self.port = port
        self.sender = sender
        self.senderName = senderName
        self.heloName = heloName
        self.timeout = timeout
    }
}

public final class SMTPChannel: NotificationChannel {
    public let kind = NotificationKind.email
    public let name = "smtp"
    public let settings: SMTPSettings
    private let loop: EventLoop
    private let maxSessions: Int
    private var waiting: [(NotificationMessage, (DeliveryOutcome) -> Void)] = []
    private var running = 0
    private var closed = false

    public init(loop: EventLoop, settings: SMTPSettings, maxSessions: Int = 4) {
        self.loop = loop
        self.settings = settings
        self.maxSessions = max(1, maxSessions)
    }

    public func deliver(_ message: NotificationMessage, completion: @escaping (DeliveryOutcome) -> Void) {
        guard !closed else { return completion(.failed(reason: "the SMTP channel is closed", permanent: false)) }
        waiting.append((message, completion))
        startSessions()
    }

    public func close() {
        closed = true
        let dropped = waiting
        waiting.removeAll()
        for (_, completion) in dropped { completion(.failed(reason: "the SMTP channel closed", permanent: false)) }
    }

    private func startSessions() {
        while running < maxSessions, !waiting.isEmpty {
            let (message, completion) = waiting.removeFirst()
            running += 1
            let back = LoopBound<(DeliveryOutcome) -> Void> { [self] outcome in
                running -= 1
                completion(outcome)
                startSessions()
            }
            let handle = loop.handle
            let settings = settings
            DispatchQueue.global(qos: .utility).async {
                let outcome = SMTPSession(settings: settings, message: message, date: Date()).run()
                handle.execute { back.value(outcome) }
            }
        }
    }
}

/// Carries a value that belongs to an event loop (a closure over loop state)
/// through a job on another thread, which only hands it back: `value` is
/// created and used on the loop's thread only.
final class LoopBound<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// One blocking SMTP conversation. Runs off the loop.
struct SMTPSession {
    let settings: SMTPSettings
    let message: NotificationMessage
    let date: Date

    struct Failure: Error {
        let reason: String
        let permanent: Bool
        /// The server gave a reply code (it refused); false for timeouts,
        /// closed connections and garbage, where the outcome is not known.
        var refused = false
    }

    func run() -> DeliveryOutcome {
        guard SMTPMessage.isPlausibleAddress(message.to) else {
            return .failed(reason: "not an e-mail address: \(message.to)", permanent: true)
        }
        guard SMTPMessage.isPlausibleAddress(settings.sender) else {
            return .failed(reason: "the sender is not an e-mail address: \(settings.sender)", permanent: true)
        }
        let deadline = ContinuousClock.now + settings.timeout
        let stream: TCPStream
        do {
            stream = try TCPStream(host: settings.host, port: settings.port, timeout: settings.timeout)
        } catch {
            return .failed(reason: "SMTP connect \(settings.host):\(settings.port): \(error)", permanent: false)
        }
        defer { stream.close() }
        do {
            _ = try reply(stream, deadline, step: "greeting", accept: 220...220)
            do {
                _ = try command(stream, deadline, "EHLO \(settings.heloName)", accept: 250...250)
            } catch let failure as Failure where failure.permanent {
                _ = try command(stream, deadline, "HELO \(settings.heloName)", accept: 250...250)
            }
            _ = try command(stream, deadline, "MAIL FROM:<\(settings.sender)>", accept: 250...250)
            _ = try command(stream, deadline, "RCPT TO:<\(message.to)>", accept: 250...251)
            _ = try command(stream, deadline, "DATA", accept: 354...354)
            try send(stream, deadline, SMTPMessage.compose(message, settings: settings, date: date))
            let accepted: (code: Int, text: String)
            do {
                accepted = try reply(stream, deadline, step: "end of data", accept: 250...250)
            } catch let failure as Failure where failure.refused {
                throw failure // the server said no: a retry cannot mail the buyer twice
            } catch {
                // No answer after the whole message went out: the server may
                // have taken it. Retrying could mail the buyer twice, so the
                // outcome is left unknown (dead-lettered), never resent.
                return .failed(reason: "SMTP: no answer after the message was sent (\(error)); outcome unknown, not resent", permanent: true)
            }
            _ = try? command(stream, deadline, "QUIT", accept: 221...221) // delivered already; a lost QUIT changes nothing
            return .delivered(detail: "SMTP \(accepted.code) \(accepted.text)".trimmingCharacters(in: .whitespaces))
        } catch let failure as Failure {
            return .failed(reason: failure.reason, permanent: failure.permanent)
        } catch {
            return .failed(reason: "SMTP \(settings.host):\(settings.port): \(error)", permanent: false)
        }
    }

    private func command(_ stream: TCPStream, _ deadline: ContinuousClock.Instant, _ line: String,
                         accept: ClosedRange<Int>) throws -> (code: Int, text: String) {
        try send(stream, deadline, line + "\r\n")
        let verb = line.prefix { $0 != " " && $0 != ":" }
        return try reply(stream, deadline, step: String(verb), accept: accept)
    }

    private func send(_ stream: TCPStream, _ deadline: ContinuousClock.Instant, _ text: String) throws {
        stream.timeout = try remaining(deadline)
        try stream.write(text)
    }

    /// Reads one reply (continuation lines "250-…" up to "250 …") and checks its code.
    private func reply(_ stream: TCPStream, _ deadline: ContinuousClock.Instant, step: String,
                       accept: ClosedRange<Int>) throws -> (code: Int, text: String) {
        var texts: [String] = []
        while true {
            stream.timeout = try remaining(deadline)
            guard let line = try stream.readLine(maxLength: 4096) else {
                throw Failure(reason: "SMTP server closed the connection at \(step)", permanent: false)
            }
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let code = Int(String(decoding: bytes[0..<3], as: UTF8.self)) else {
                throw Failure(reason: "SMTP \(step): not a reply: \(line.prefix(80))", permanent: false)
            }
            texts.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
            let last = bytes.count == 3 || bytes[3] != UInt8(ascii: "-")
            guard last else {
                guard texts.count < 100 else { throw Failure(reason: "SMTP \(step): endless reply", permanent: false) }
                continue
            }
            let text = texts.joined(separator: " ")
            guard accept.contains(code) else {
                throw Failure(reason: "SMTP \(step): \(code) \(text.prefix(200))", permanent: (500...599).contains(code), refused: true)
            }
            return (code, text)
        }
    }

    private func remaining(_ deadline: ContinuousClock.Instant) throws -> Duration {
        let left = deadline - ContinuousClock.now
        guard left > .zero else {
            throw Failure(reason: "SMTP session with \(settings.host):\(settings.port) took longer than \(settings.timeout)", permanent: false)
        }
        return left
    }
}

/// The message text an SMTP session sends after DATA (RFC 5322): headers,
/// a blank line, the body with CR LF line ends and dot-stuffing, and the
/// final "." line.
enum SMTPMessage {
    static func compose(_ message: NotificationMessage, settings: SMTPSettings, date: Date) -> String {
        let domain = settings.sender.split(separator: "@").last.map(String.init) ?? "seatlock.invalid"
        var headers: [String] = []
        if let name = settings.senderName, !name.isEmpty {
            headers.append("From: \(encodeHeader(name)) <\(settings.sender)>")
        } else {
            headers.append("From: <\(settings.sender)>")
        }
        headers.append("To: <\(message.to)>")
        headers.append("Subject: \(encodeHeader(message.subject ?? message.topic))")
        headers.append("Date: \(rfc5322Date(date))")
        // Stable across attempts: a mailbox that got a retry's copy too can tell.
        headers.append("Message-ID: <\(message.eventId).\(message.bookingId).\(message.topic).\(message.kind.rawValue)@\(domain)>")
        headers.append("MIME-Version: 1.0")
        headers.append("Content-Type: text/plain; charset=utf-8")
        headers.append("Content-Transfer-Encoding: 8bit")
        headers.append("X-Seatlock-Topic: \(message.topic)")
        headers.append("X-Seatlock-Booking: \(message.bookingId)")
        var lines = headers
        lines.append("")
        let body = message.body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
            lines.append(line.hasPrefix(".") ? "." + String(line) : String(line))
        }
        return lines.joined(separator: "\r\n") + "\r\n.\r\n"
    }

    /// Plain ASCII as it is (CR/LF removed); anything else as RFC 2047
    /// encoded words of at most 45 bytes each, folded.
    static func encodeHeader(_ text: String) -> String {
        let clean = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if clean.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return clean }
        var words: [String] = []
        var chunk = ""
        for character in clean {
            if chunk.utf8.count + String(character).utf8.count > 45 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        if let utc = TimeZone(secondsFromGMT: 0) { formatter.timeZone = utc }
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// Enough to keep header and command injection out: one @, no spaces,
    /// no control characters, no <>, at most 254 bytes.
    static func isPlausibleAddress(_ address: String) -> Bool {
        let bytes = address.utf8
        guard (3...254).contains(bytes.count), bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1,
              bytes.first != UInt8(ascii: "@"), bytes.last != UInt8(ascii: "@") else { return false }
        return !bytes.contains { $0 <= 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
            || $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "\"") }
    }
}
