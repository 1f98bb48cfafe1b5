// Buyer tokens: JWT, HS256 only. Verification stays on the event loop (no
// actor hop per request, which jwt-kit 5 would add): a strict parser, the
// signature checked in constant time by swift-crypto's HMAC before any claim
// is believed.
import Crypto
import Foundation

public enum TokenError: Error, Equatable, Sendable {
    case malformed, unsupportedAlgorithm, unsupportedExtension, badSignature, expired, notYetValid, badSubject

    public var message: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .unsupportedAlgorithm: "only HS256 tokens are accepted"
        case .unsupportedExtension: "the token names a critical extension (crit) this server does not understand"
        case .badSignature: "the token signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .badSubject: "the token subject is not a valid user id"
        }
    }
}

public struct BuyerTokens: Sendable {
    private let keyed: KeyedHMAC
    /// Tokens longer than this are refused before any parsing.
    public static let maxLength = 4096
    /// The header every token this server mints has: a token with exactly
    /// these bytes needs no header decoding (HS256, no `crit`).
    private static let mintedHeader = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    public init(secret: String) {
        self.keyed = KeyedHMAC(HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8))))
    }

    /// Mints `header.payload.signature` for `userId`.
    public func mint(userId: String, ttlSeconds: Int = 3600, now: Date = Date()) -> String {
        let issued = Int(now.timeIntervalSince1970)
        let header = Self.mintedHeader
        let payload = Base64URL.encode(Array("{\"sub\":\(JSONText.quote(userId)),\"iat\":\(issued),\"exp\":\(issued + ttlSeconds)}".utf8))
        let signingInput = header + "." + payload
        return signingInput + "." + Base64URL.encode(keyed.mac(Array(signingInput.utf8)))
    }

    /// Returns the user id (`sub`) of a valid token.
    public func verify(_ token: String, now: Date = Date()) throws(TokenError) -> String {
        guard token.utf8.count <= Self.maxLength else { throw .malformed }
        // Exactly three parts: two dots. The token is read as one copy of its bytes.
        let bytes = Array(token.utf8), dot = UInt8(ascii: ".")
        guard let firstDot = bytes.firstIndex(of: dot), let lastDot = bytes.lastIndex(of: dot), firstDot != lastDot,
              !bytes[(firstDot + 1)..<lastDot].contains(dot) else { throw .malformed }
        let headerPart = bytes[..<firstDot]
        guard let payloadBytes = Base64URL.decode(bytes[(firstDot + 1)..<lastDot]),
              let signature = Base64URL.decode(bytes[(lastDot + 1)...]) else { throw .malformed }
        if !headerPart.elementsEqual(Self.mintedHeader.utf8) {
            guard let headerBytes = Base64URL.decode(headerPart),
                  let header = FlatJSON.parseObject(headerBytes), case let .string(alg)? = header["alg"] else { throw .malformed }
            guard alg == "HS256" else { throw .unsupportedAlgorithm }
            // RFC 7515 §4.1.11: every extension `crit` names must be understood;
            // this server understands none (an empty list is invalid too).
            guard header["crit"] == nil else { throw .unsupportedExtension }
        }
        guard signature.count == 32, constantTimeEquals(keyed.mac(bytes[..<lastDot]), signature) else { throw .badSignature }
        guard let claims = FlatJSON.parseObject(payloadBytes),
              case let .string(sub)? = claims["sub"], case let .number(exp)? = claims["exp"] else { throw .malformed }
        let seconds = now.timeIntervalSince1970
        guard seconds < exp else { throw .expired }
        if let nbf = claims["nbf"] {
            guard case let .number(notBefore) = nbf else { throw .malformed }
            if seconds < notBefore { throw .notYetValid }
        }
        // A token issued in the future was not issued by us (a minute of clock skew allowed).
        if let iat = claims["iat"] {
            guard case let .number(issuedAt) = iat else { throw .malformed }
            if issuedAt > seconds + 60 { throw .notYetValid }
        }
        guard Identifier.isValid(sub) else { throw .badSubject }
        return sub
    }
}

/// Compares secrets without leaking where they differ through timing.
/// Only the lengths may differ in time (as Go's subtle.ConstantTimeCompare):
/// a buyer's token is never as long as the admin token, and is told at once.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = a.utf8, y = b.utf8
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for (p, q) in zip(x, y) { difference |= p ^ q }
    return difference == 0
}

enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, symbol) in alphabet.enumerated() { table[Int(symbol)] = UInt8(value) }
        return table
    }()

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = (UInt32(bytes[index]) << 16)
                | (index + 1 < bytes.count ? UInt32(bytes[index + 1]) << 8 : 0)
                | (index + 2 < bytes.count ? UInt32(bytes[index + 2]) : 0)
            let symbols = min(4, (bytes.count - index) + 1)
            for position in 0..<symbols { out.append(alphabet[Int((chunk >> (18 - 6 * UInt32(position))) & 63)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Unpadded base64url in its one canonical spelling (RFC 4648 §3.5,
    /// RFC 7515 §2): nil for any other character, an impossible length, or
    /// unused low bits of the last symbol that are not zero (otherwise four
    /// spellings of one signature would verify).
    static func decode(_ text: Substring) -> [UInt8]? { decode(Array(text.utf8)[...]) }

    static func decode(_ symbols: ArraySlice<UInt8>) -> [UInt8]? {
        guard symbols.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(symbols.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for symbol in symbols {
            let value = values[Int(symbol)]
            guard value != 0xFF else { return nil }
            buffer = (buffer << 6) | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}

/// Who is calling: the admin token, or a buyer's verified user id.
public enum Caller: Equatable, Sendable {
    case admin
    case buyer(String)

    /// Idempotency records are scoped per caller.
    public var scope: String {
        switch self {
        case .admin: "admin"
        case let .buyer(id): "u_" + id
        }
    }
    /// The user id scripts check ownership against; '' lets an admin see any booking.
    public var ownerFilter: String {
        switch self {
        case .admin: ""
        case let .buyer(id): id
        }
    }
}
