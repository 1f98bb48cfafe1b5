// The queue's two tokens, both HMAC-SHA256 with the buyer-token secret and
// checked on the event loop (no Redis): the queue token says "buyer U holds
// position P in event E's queue" (0: in the prequeue, drawn at the open);
// the admission token says "buyer U, admitted at position P, may hold seats
// of event E until T". Each signs its own type tag first, so neither can
// stand in for the other or for a JWT. Both are readable: `q1.E.U.P.SIG`,
// `a1.E.U.P.T.SIG` (ids never contain '.').
import Crypto
import Foundation

public struct QueueTicket: Equatable, Sendable {
    public let eventId: String
    public let userId: String
    /// 1-based admission order; 0 while in the prequeue.
    public let position: Int

    public init(eventId: String, userId: String, position: Int) {
        self.eventId = eventId
        self.userId = userId
        self.position = position
    }
}

public struct Admission: Equatable, Sendable {
    public let eventId: String
    public let userId: String
    public let position: Int
    /// ms since the epoch.
    public let expiresAt: Int

    public init(eventId: String, userId: String, position: Int, expiresAt: Int) {
        self.eventId = eventId
        self.userId = userId
        self.position = position
        self.expiresAt = expiresAt
    }
}

public struct QueueTokens: Sendable {
    private let box: KeyBox
    /// Longer tokens are refused before any parsing.
    public static let maxLength = 256

    public init(secret: String) {
        box = KeyBox(SymmetricKey(data: Data(secret.utf8)))
    }

    public func queueToken(_ ticket: QueueTicket) -> String {
        sign("q1.\(ticket.eventId).\(ticket.userId).\(ticket.position)")
    }

    public func admissionToken(_ admission: Admission) -> String {
        sign("a1.\(admission.eventId).\(admission.userId).\(admission.position).\(admission.expiresAt)")
    }

    /// The ticket a genuine queue token carries, or nil.
    public func ticket(_ token: String) -> QueueTicket? {
        guard let parts = verified(token, tag: "q1", fields: 3), let position = Self.number(parts[2]) else { return nil }
        return QueueTicket(eventId: parts[0], userId: parts[1], position: position)
    }

    /// The admission a genuine admission token carries (expired or not: the caller compares the time), or nil.
    public func admission(_ token: String) -> Admission? {
        guard let parts = verified(token, tag: "a1", fields: 4), let position = Self.number(parts[2]), position > 0,
              let expiresAt = Self.number(parts[3]) else { return nil }
        return Admission(eventId: parts[0], userId: parts[1], position: position, expiresAt: expiresAt)
    }

    private func sign(_ payload: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: box.key)
        return payload + "." + Base64URL.encode(Array(mac))
    }

    /// The payload's fields after the tag, once the signature verified and every id is valid.
    private func verified(_ token: String, tag: String, fields: Int) -> [String]? {
        guard token.utf8.count <= Self.maxLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == fields + 2, parts[0] == tag, let mac = Base64URL.decode(Substring(parts[fields + 1])), mac.count == 32 else { return nil }
        let payload = parts[0...fields].joined(separator: ".")
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Data(payload.utf8), using: box.key) else { return nil }
        let values = Array(parts[1...fields])
        guard EventKeys.isValidEventId(values[0]), Identifier.isValid(values[1]) else { return nil }
        return values
    }

    /// Digits only, no sign, at most 15 of them.
    private static func number(_ text: String) -> Int? {
        guard (1...15).contains(text.utf8.count), text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int(text)
    }
}
