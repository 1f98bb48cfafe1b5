// A minimal SMTP server for tests: it speaks EHLO/HELO, MAIL FROM, RCPT TO,
// DATA (undoing dot-stuffing), RSET, NOOP and QUIT on 127.0.0.1 (a free
// port), and keeps every message it accepted. One thread accepts; each
// session gets a thread of its own.
import Foundation
import SeatlockLoop
import Synchronization

public struct ReceivedMail: Sendable {
    public let helo: String
    public let from: String
    public let recipients: [String]
    /// What came after DATA, dot-stuffing undone, lines joined with CR LF.
    public let data: String

    /// Header name (lowercased) → value, unfolded.
    public var headers: [String: String] {
        var headers: [String: String] = [:]
        var last: String?
        for line in data.components(separatedBy: "\r\n") {
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t", let name = last {
                headers[name, default: ""] += line
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            last = name
        }
        return headers
    }

    public var subject: String { headers["subject"] ?? "" }

    /// After the blank line that ends the headers, with LF line ends.
    public var body: String {
        guard let end = data.range(of: "\r\n\r\n") else { return "" }
        return data[end.upperBound...].replacingOccurrences(of: "\r\n", with: "\n")
    }
}

public final class SMTPSink: Sendable {
    public let port: Int
    private let listener: TCPListener
    private let state = Mutex(State())
    private let acceptorDone = DispatchSemaphore(value: 0)

    private struct State {
        var messages: [ReceivedMail] = []
        var stopping = false
        var sessions = 0
    }

    public init() throws {
        listener = try TCPListener(host: "127.0.0.1", port: 0)
        port = listener.port
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "smtp-sink"
        thread.start()
    }

    /// Every message accepted so far, in order.
    public var messages: [ReceivedMail] { state.withLock { $0.messages } }

    /// SMTP sessions opened so far (connections, whether or not they sent mail).
    public var sessions: Int { state.withLock { $0.sessions } }

    /// Waits until at least `count` messages arrived (or `timeout` passed); returns all of them.
    public func waitForMessages(_ count: Int, timeout: TimeInterval = 10) -> [ReceivedMail] {
        let deadline = Date().addingTimeInterval(timeout)
        while messages.count < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return messages
    }

    public func stop() {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        guard first else { return }
        acceptorDone.wait()
        listener.close()
    }

    private var stopping: Bool { state.withLock { $0.stopping } }

    private func acceptLoop() {
        defer { acceptorDone.signal() }
        while !stopping {
            do {
                guard let stream = try listener.accept(timeout: .milliseconds(100)) else { continue }
                state.withLock { $0.sessions += 1 }
                let session = Thread { [self] in serve(stream) }
                session.name = "smtp-sink-session"
                session.start()
            } catch {
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
    }

    private func serve(_ stream: TCPStream) {
        defer { stream.close() }
        stream.timeout = .seconds(10)
        var helo = ""
        var from: String?
        var recipients: [String] = []
        do {
            try stream.write("220 seatlock-sink ESMTP ready\r\n")
            while let line = try stream.readLine() {
                let upper = line.uppercased()
                if upper.hasPrefix("EHLO ") {
                    helo = String(line.dropFirst(5))
                    try stream.write("250-seatlock-sink\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
                } else if upper.hasPrefix("HELO ") {
                    helo = String(line.dropFirst(5))
                    try stream.write("250 seatlock-sink\r\n")
                } else if upper.hasPrefix("MAIL FROM:") {
                    from = Self.address(line.dropFirst("MAIL FROM:".count))
                    recipients = []
                    try stream.write("250 OK\r\n")
                } else if upper.hasPrefix("RCPT TO:") {
                    guard from != nil else {
                        try stream.write("503 MAIL first\r\n")
                        continue
                    }
                    recipients.append(Self.address(line.dropFirst("RCPT TO:".count)))
                    try stream.write("250 OK\r\n")
                } else if upper == "DATA" {
                    guard let sender = from, !recipients.isEmpty else {
                        try stream.write("503 RCPT first\r\n")
                        continue
                    }
                    try stream.write("354 End data with <CR><LF>.<CR><LF>\r\n")
                    var lines: [String] = []
                    while true {
                        guard let dataLine = try stream.readLine() else { return } // cut off: no message
                        if dataLine == "." { break }
                        lines.append(dataLine.hasPrefix(".") ? String(dataLine.dropFirst()) : dataLine)
                    }
                    let mail = ReceivedMail(helo: helo, from: sender, recipients: recipients, data: lines.joined(separator: "\r\n"))
                    let number = state.withLock { state -> Int in
                        state.messages.append(mail)
                        return state.messages.count
                    }
                    try stream.write("250 OK queued as \(number)\r\n")
                    from = nil
                    recipients = []
                } else if upper == "RSET" {
                    from = nil
                    recipients = []
                    try stream.write("250 OK\r\n")
                } else if upper == "NOOP" {
                    try stream.write("250 OK\r\n")
                } else if upper == "QUIT" {
                    try stream.write("221 Bye\r\n")
                    return
                } else {
                    try stream.write("502 Command not implemented\r\n")
                }
            }
        } catch {
            return // the client went away or was too slow
        }
    }

    /// "<a@b> SIZE=12" → "a@b".
    private static func address(_ text: Substring) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("<"), let end = trimmed.firstIndex(of: ">") {
            return String(trimmed[trimmed.index(after: trimmed.startIndex)..<end])
        }
        return String(trimmed.prefix { $0 != " " })
    }
}
