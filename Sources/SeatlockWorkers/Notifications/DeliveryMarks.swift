// At most once per buyer: the delivery marks of one booking, in the hash
// sl:{E}:notified:B, and what they allow next.
//
//   TOPIC:KIND:N   one field per attempt N, claimed with HSETNX before the
//                  message leaves:  "sending CONSUMER MS", then
//                  "delivered MS DETAIL" or "failed MS REASON"
//   TOPIC:KIND     the outcome, once there is one: "delivered", "failed"
//                  (gave up, dead-lettered) or "unknown" (an attempt was cut
//                  off mid-way; dead-lettered, not resent)
//
// HSETNX on the attempt's own field is the compare-and-set: of two consumers
// that both think attempt N is next, one wins and the other stops. A crash
// between "sending" and the mark that follows leaves "sending": nobody knows
// whether the buyer got it, so it is never sent again on its own (an
// operator may replay the dead letter). A kind that was delivered is never
// sent again, not even by a replay.
public enum DeliveryPlan: Sendable, Equatable {
    /// Send, starting at attempt `first`, giving up after attempt `last`.
    /// `clearsOutcome`: a replay of a dead letter, whose old outcome field
    /// goes once the first attempt is claimed.
    case send(first: Int, last: Int, clearsOutcome: Bool)
    /// Nothing to do for this kind.
    case skip(String)
    /// Attempt N was cut off (crash, kill) after it was claimed: outcome unknown.
    case interrupted(attempt: Int)
    /// Every attempt failed already (the worker stopped before dead-lettering).
    case exhausted(attempt: Int, lastError: String)
}

public struct DeliveryMarks: Sendable, Equatable {
    public let topic: String
    public let kind: NotificationKind
    /// "delivered", "failed", "unknown", or nil.
    public let outcome: String?
    /// Attempt number → its mark.
    public let attempts: [Int: String]

    public static func outcomeField(topic: String, kind: NotificationKind) -> String {
        topic + ":" + kind.rawValue
    }

    public static func attemptField(topic: String, kind: NotificationKind, attempt: Int) -> String {
        outcomeField(topic: topic, kind: kind) + ":" + String(attempt)
    }

    /// Picks this topic's and kind's fields out of the booking's whole hash (HGETALL).
    public init(fields: [String: String], topic: String, kind: NotificationKind) {
        self.topic = topic
        self.kind = kind
        let outcomeField = Self.outcomeField(topic: topic, kind: kind)
        outcome = fields[outcomeField]
        var attempts: [Int: String] = [:]
        let prefix = outcomeField + ":"
        for (field, value) in fields where field.hasPrefix(prefix) {
            if let number = Int(field.dropFirst(prefix.count)), number > 0 { attempts[number] = value }
        }
        self.attempts = attempts
    }

    public var lastAttempt: Int? { attempts.keys.max() }

    /// What to do now. `replaying` is the set of kinds a replayed dead letter
    /// asks for (nil for an ordinary log entry).
    public func plan(maxAttempts: Int, replaying: Set<NotificationKind>?) -> DeliveryPlan {
        if outcome == "delivered" || attempts.values.contains(where: { Self.state($0) == "delivered" }) {
            return .skip("already delivered")
        }
        if let replaying, !replaying.contains(kind) { return .skip("not asked for by this replay") }
        let last = lastAttempt ?? 0
        if let outcome {
            // Gave up before; only a replay of its dead letter tries again.
            guard replaying != nil else { return .skip("gave up before (\(outcome)); replay its dead letter to try again") }
            return .send(first: last + 1, last: last + max(1, maxAttempts), clearsOutcome: true)
        }
        guard last > 0, let mark = attempts[last] else { return .send(first: 1, last: max(1, maxAttempts), clearsOutcome: false) }
        switch Self.state(mark) {
        case "failed":
            if last < maxAttempts { return .send(first: last + 1, last: maxAttempts, clearsOutcome: false) }
            return .exhausted(attempt: last, lastError: Self.detail(mark))
        default: // "sending": claimed, never marked
            return .interrupted(attempt: last)
        }
    }

    /// "failed 1767… HTTP 500" → "failed".
    static func state(_ mark: String) -> String {
        String(mark.prefix { $0 != " " })
    }

    /// "failed 1767… HTTP 500" → "HTTP 500".
    static func detail(_ mark: String) -> String {
        let parts = mark.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count == 3 ? String(parts[2]) : ""
    }
}
