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
    private let keyed: KeyedHMAC
    /// Longer tokens are refused before any parsing.
    public static let maxLength = 256
    /// Draws are 52-bit: exact in a Redis sorted-set score (a double).
    public static let drawRange: UInt64 = 1 << 52

    public init(secret: String) {
        keyed = KeyedHMAC(HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8))))
    }

    public func queueToken(_ ticket: QueueTicket) -> String {
        sign("q1.\(ticket.eventId).\(ticket.userId).\(ticket.position)")
    }

    public func admissionToken(_ admission: Admission) -> String {
        sign("a1.\(admission.eventId).\(admission.userId).\(admission.position).\(admission.expiresAt)")
    }

    /// The buyer's place in the prequeue's shuffle (0 ..< 2^52): random to
    /// anyone without the secret, and the same at every join, so a poll can
    /// recompute it (the order is fixed by the draws at the open).
    public func draw(eventId: String, userId: String) -> UInt64 {
        let mac = keyed.mac(Array("d1.\(eventId).\(userId)".utf8))
        return mac.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % Self.drawRange
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
        payload + "." + Base64URL.encode(keyed.mac(Array(payload.utf8)))
    }

    /// The payload's fields after the tag, once the signature verified and every id is valid.
    private func verified(_ token: String, tag: String, fields: Int) -> [String]? {
        let bytes = Array(token.utf8)
        guard bytes.count <= Self.maxLength, let dot = bytes.lastIndex(of: UInt8(ascii: ".")),
              let mac = Base64URL.decode(Substring(decoding: bytes[(dot + 1)...], as: UTF8.self)), mac.count == 32,
              constantTimeEquals(keyed.mac(Array(bytes[..<dot])), mac) else { return nil }
        let parts = bytes[..<dot].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == fields + 1, parts[0].elementsEqual(tag.utf8) else { return nil }
        let values = parts.dropFirst().map { String(decoding: $0, as: UTF8.self) }
        guard EventKeys.isValidEventId(values[0]), Identifier.isValid(values[1]) else { return nil }
        return values
    }

    /// Digits only, no sign, at most 15 of them.
    private static func number(_ text: String) -> Int? {
        guard (1...15).contains(text.utf8.count), text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int(text)
    }
}

/// An HMAC already keyed: each MAC copies it (a value) instead of setting
/// the key up again (perf showed the key setup at a third of a token check).
final class KeyedHMAC: @unchecked Sendable {
    private let keyed: HMAC<SHA256>
    init(_ keyed: HMAC<SHA256>) { self.keyed = keyed }

    func mac(_ bytes: some DataProtocol) -> [UInt8] {
        var hmac = keyed
        hmac.update(data: bytes)
        var mac: [UInt8] = [] // (filled byte by byte: Array(code) took three allocations)
        mac.reserveCapacity(SHA256.byteCount)
        for byte in hmac.finalize() { mac.append(byte) }
        return mac
    }
}

/// Compares MACs without leaking where they differ through timing.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
}
