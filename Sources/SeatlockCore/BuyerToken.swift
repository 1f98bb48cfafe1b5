// Buyer tokens: JWT, HS256 only. Verification stays on the event loop (no
// actor hop per request, which jwt-kit 5 would add): a strict parser, the
// signature checked in constant time by swift-crypto's HMAC before any claim
// is believed.
import Crypto
import Foundation

public enum TokenError: Error, Equatable, Sendable {
    case malformed, unsupportedAlgorithm, badSignature, expired, notYetValid, badSubject

    public var message: String {
        switch self {
        case .malformed: "the token is not a well-formed JWT"
        case .unsupportedAlgorithm: "only HS256 tokens are accepted"
        case .badSignature: "the token signature does not verify"
        case .expired: "the token has expired"
        case .notYetValid: "the token is not valid yet"
        case .badSubject: "the token subject is not a valid user id"
        }
    }
}

public struct BuyerTokens: Sendable {
    private let secret: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: secret) }
    /// Tokens longer than this are refused before any parsing.
    public static let maxLength = 4096

    public init(secret: String) {
        self.secret = Array(secret.utf8)
    }

    /// Mints `header.payload.signature` for `userId`.
    public func mint(userId: String, ttlSeconds: Int = 3600, now: Date = Date()) -> String {
        let issued = Int(now.timeIntervalSince1970)
        let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let payload = Base64URL.encode(Array("{\"sub\":\(JSONText.quote(userId)),\"iat\":\(issued),\"exp\":\(issued + ttlSeconds)}".utf8))
        let signingInput = header + "." + payload
        let signature = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: key)
        return signingInput + "." + Base64URL.encode(Array(signature))
    }

    /// Returns the user id (`sub`) of a valid token.
    public func verify(_ token: String, now: Date = Date()) throws(TokenError) -> String {
        guard token.utf8.count <= Self.maxLength else { throw .malformed }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
              let headerBytes = Base64URL.decode(parts[0]),
              let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]) else { throw .malformed }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else { throw .malformed }
        guard header.alg == "HS256" else { throw .unsupportedAlgorithm }
        let signingInput = Data(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: key) else { throw .badSignature }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: Data(payloadBytes)) else { throw .malformed }
        let seconds = now.timeIntervalSince1970
        guard let exp = claims.exp else { throw .malformed }
        guard seconds < exp else { throw .expired }
        if let nbf = claims.nbf, seconds < nbf { throw .notYetValid }
        guard Identifier.isValid(claims.sub) else { throw .badSubject }
        return claims.sub
    }

    private struct Header: Decodable { let alg: String }
    private struct Claims: Decodable {
        let sub: String
        let exp: Double?
        let nbf: Double?
    }
}

/// Compares secrets without leaking where they differ through timing.
public func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(truncatingIfNeeded: x.count ^ y.count)
    for i in 0..<max(x.count, y.count) {
        difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
    }
    return difference == 0
}

enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.utf8.allSatisfy({ Identifier.isIdentifierByte($0) }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        switch base64.utf8.count % 4 {
        case 2: base64 += "=="
        case 3: base64 += "="
        case 1: return nil
        default: break
        }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
