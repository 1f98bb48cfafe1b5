// The message templates: one Mustache file per topic and kind, named
// TOPIC.KIND.mustache (booking.confirmed.email.mustache, …), read from one
// directory at start. Messages are plain text: nothing is HTML-escaped.
//
//   email   first line "Subject: …", then the body
//   push    first line "Title: …", then the body
//   sms     the whole text
//
// A template that renders to nothing (or a missing file) means: that kind is
// not sent for that topic. The values a template can use are listed in
// `NotificationContext`.
import Foundation
import Mustache
import SeatlockLoop

public struct RenderedNotification: Sendable, Equatable {
    public var subject: String?
    public var title: String?
    public var body: String
}

public struct NotificationTemplates: Sendable {
    public let directory: URL
    private let templates: [String: MustacheTemplate]

    /// The file every template directory has; `locate` looks for it.
    static let markerFile = "booking.confirmed.email.mustache"

    /// Reads every `*.mustache` file in `directory`. A template that does not
    /// parse stops the start, with its file name.
    public init(directory: URL) throws {
        self.directory = directory
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".mustache") }
        } catch {
            throw NotificationsError("cannot read the templates directory \(directory.path): \(error)")
        }
        var templates: [String: MustacheTemplate] = [:]
        for file in files.sorted() {
            let name = String(file.dropLast(".mustache".count))
            let text: String
            do {
                text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            } catch {
                throw NotificationsError("cannot read template \(file): \(error)")
            }
            do {
                // The pragma makes {{x}} plain text (the library's default is HTML escaping);
                // as a standalone line it adds nothing to the output.
                templates[name] = try MustacheTemplate(string: "{{%CONTENT_TYPE: TEXT}}\n" + text)
            } catch {
                throw NotificationsError("template \(file) does not parse: \(error)")
            }
        }
        guard !templates.isEmpty else { throw NotificationsError("no *.mustache templates in \(directory.path)") }
        self.templates = templates
    }

    /// The template names found (without `.mustache`).
    public var names: [String] { templates.keys.sorted() }

    public func has(topic: String, kind: NotificationKind) -> Bool {
        templates[topic + "." + kind.rawValue] != nil
    }

    /// Renders `topic`'s template for `kind`; nil when there is none or it
    /// renders to nothing.
    public func render(topic: String, kind: NotificationKind, context: [String: Any]) -> RenderedNotification? {
        guard let template = templates[topic + "." + kind.rawValue] else { return nil }
        let text = template.render(context)
        switch kind {
        case .email:
            let (subject, body) = Self.split(text, header: "Subject")
            guard !body.isEmpty else { return nil }
            return RenderedNotification(subject: subject ?? topic, title: nil, body: body)
        case .push:
            let (title, body) = Self.split(text, header: "Title")
            guard !body.isEmpty else { return nil }
            return RenderedNotification(subject: nil, title: title ?? "", body: body)
        case .sms:
            let body = Self.trimmed(Substring(text))
            guard !body.isEmpty else { return nil }
            return RenderedNotification(subject: nil, title: nil, body: body)
        }
    }

    /// "Subject: x\n\nbody" → ("x", "body"); no header line → (nil, text).
    static func split(_ text: String, header: String) -> (String?, String) {
        let text = text.drop { $0 == "\n" || $0 == "\r" }
        let prefix = header + ":"
        guard text.hasPrefix(prefix) else { return (nil, trimmed(text)) }
        let firstLine = text.prefix { $0 != "\n" }
        let value = firstLine.dropFirst(prefix.count).trimmingCharacters(in: .whitespacesAndNewlines)
        return (value, trimmed(text.dropFirst(firstLine.count)))
    }

    /// Without leading blank lines and trailing white space.
    static func trimmed(_ text: Substring) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        while let first = lines.first, first.allSatisfy(\.isWhitespace) { lines.removeFirst() }
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        return lines.map { line in
            var line = Substring(line)
            while line.last?.isWhitespace == true { line = line.dropLast() }
            return String(line)
        }.joined(separator: "\n")
    }

    /// Finds the templates: $SEATLOCK_TEMPLATES (only there, when set), else
    /// `Sources/SeatlockWorkers/Notifications/templates` or `templates/` next
    /// to the working directory or the executable, walking up, else next to
    /// this source file.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              sourceFile: String = #filePath) throws -> NotificationTemplates {
        let directory: URL
        do {
            directory = try ResourceDirectory.locate(["Sources/SeatlockWorkers/Notifications/templates", "templates"], marker: markerFile,
                                                     override: environment["SEATLOCK_TEMPLATES"], sourceFile: sourceFile)
        } catch let notFound as ResourceNotFound {
            throw NotificationsError("cannot find the notification templates (\(markerFile)); looked in: "
                + notFound.tried.joined(separator: ", ") + ", …. Set SEATLOCK_TEMPLATES or --templates.")
        }
        return try NotificationTemplates(directory: directory)
    }
}

/// The values a template sees. Everything is a string unless said otherwise.
///
///   topic, eventId, bookingId, confirmationCode (empty before confirmation)
///   seats ("A-1-1, A-1-2"), seatList (array), seatCount (number),
///   seatWord ("seat" / "seats")
///   total ("EUR 150.00": the amount of the entry, else the booking's total),
///   totalCents (number), currency
///   reason (the entry's reason, e.g. payment_failed), paymentFailed,
///   refundRequested, eventCancelled (booleans, for booking.cancelled)
///   offerExpiresAt (waitlist.offered: the hold's deadline, ISO 8601 UTC to
///   the second, "2027-01-01T20:05:00Z": the entry's offerExpiresAt, else
///   the booking's expiresAt; empty when neither is a time)
///   buyer.id, buyer.name, buyer.email, buyer.phone
///   event.id, event.name, event.venue, event.startsAt (as stored),
///   event.date ("Fri 1 Jan 2027, 20:00 UTC")
public enum NotificationContext {
    public static func make(topic: String, eventId: String, bookingId: String, userId: String,
                            entry: [String: String], booking: [String: String], event: [String: String],
                            user: [String: String], currency: String) -> [String: Any] {
        let seats = (nonEmpty(entry["seats"]) ?? booking["seats"] ?? "").split(separator: ",").map(String.init)
        let cents = Int(entry["amountCents"] ?? "") ?? Int(booking["totalCents"] ?? "") ?? 0
        let reason = entry["reason"] ?? ""
        let startsAt = event["startsAt"] ?? ""
        let offerExpiresAt = Deadline.display(milliseconds: nonEmpty(entry["offerExpiresAt"]) ?? booking["expiresAt"])
        return [
            "topic": topic,
            "eventId": eventId,
            "bookingId": bookingId,
            "confirmationCode": nonEmpty(entry["confirmationCode"]) ?? booking["confirmationCode"] ?? "",
            "seats": seats.joined(separator: ", "),
            "seatList": seats,
            "seatCount": seats.count,
            "seatWord": seats.count == 1 ? "seat" : "seats",
            "total": Money.format(cents: cents, currency: currency),
            "totalCents": cents,
            "currency": currency,
            "reason": reason,
            "paymentFailed": reason == "payment_failed",
            "refundRequested": reason == "refund_requested",
            "eventCancelled": reason == "event_cancelled",
            "offerExpiresAt": offerExpiresAt,
            "buyer": [
                "id": userId,
                "name": nonEmpty(user["name"]) ?? "there",
                "email": user["email"] ?? "",
                "phone": user["phone"] ?? "",
            ] as [String: Any],
            "event": [
                "id": eventId,
                "name": nonEmpty(event["name"]) ?? eventId,
                "venue": event["venue"] ?? "",
                "startsAt": startsAt,
                "date": EventDate.display(startsAt),
            ] as [String: Any],
        ]
    }

    private static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }
}

/// Amounts in messages: "EUR 1,500.00" — the ISO 4217 code (configurable,
/// `NotificationsOptions.currency`), a space, thousands with commas, two decimals.
public enum Money {
    public static func format(cents: Int, currency: String) -> String {
        let magnitude = cents.magnitude
        var whole = String(magnitude / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "," + String(whole.suffix(3)) + grouped
            whole = String(whole.dropLast(3))
        }
        let fraction = magnitude % 100
        return "\(currency) \(cents < 0 ? "-" : "")\(whole)\(grouped).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// Event start times in messages, in UTC: "Fri 1 Jan 2027, 20:00 UTC".
enum EventDate {
    static func display(_ iso: String) -> String {
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime]
        var date = parser.date(from: iso)
        if date == nil {
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            date = parser.date(from: iso)
        }
        guard let date else { return iso }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        if let utc = TimeZone(secondsFromGMT: 0) { formatter.timeZone = utc }
        formatter.dateFormat = "EEE d MMM yyyy, HH:mm 'UTC'"
        return formatter.string(from: date)
    }
}

/// Hold deadlines in messages (ms since the epoch, as the scripts store
/// them), in ISO 8601 UTC to the second: "2027-01-01T20:05:00Z". Cut down to
/// the second, never rounded up, so "pay before" it is never too late.
enum Deadline {
    static func display(milliseconds text: String?) -> String {
        guard let text, let ms = Int(text) ?? Double(text).flatMap({ Int(exactly: $0.rounded(.down)) }), ms > 0 else { return "" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let utc = TimeZone(secondsFromGMT: 0) { formatter.timeZone = utc }
        return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(ms / 1000)))
    }
}
