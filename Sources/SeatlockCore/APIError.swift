// The one error type of the HTTP layer: each case has one status and one
// stable code, rendered as the API's `{"error","message",...}` body.
public struct APIError: Error, Sendable, Equatable {
    public let status: Int
    public let code: String
    public let message: String
    public var headers: [String: String] = [:]

    public init(status: Int, code: String, message: String, headers: [String: String] = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var json: String {
        "{\"error\":\(JSONText.quote(code)),\"message\":\(JSONText.quote(message))}"
    }

    public static func invalid(_ message: String) -> APIError { APIError(status: 400, code: "invalid_request", message: message) }
    public static func invalidJSON(_ message: String) -> APIError { APIError(status: 400, code: "invalid_json", message: message) }
    public static let unauthorized = APIError(status: 401, code: "unauthorized", message: "a valid bearer token is required")
    public static func unauthorized(_ message: String) -> APIError { APIError(status: 401, code: "unauthorized", message: message) }
    public static let forbidden = APIError(status: 403, code: "forbidden", message: "this call needs the admin token")
    public static let notFound = APIError(status: 404, code: "not_found", message: "no such resource")
    public static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed", message: "allowed: \(allowed.joined(separator: ", "))", headers: ["Allow": allowed.joined(separator: ", ")])
    }
    public static func tooLarge(_ limit: Int) -> APIError { APIError(status: 413, code: "body_too_large", message: "request bodies are limited to \(limit) bytes") }
    public static let unsupportedMediaType = APIError(status: 415, code: "unsupported_media_type", message: "send the body as application/json")
    public static func limitExceeded(_ message: String) -> APIError { APIError(status: 422, code: "limit_exceeded", message: message) }
    public static let eventCancelled = APIError(status: 409, code: "event_cancelled", message: "this event was cancelled")
    public static let unavailable = APIError(status: 503, code: "unavailable", message: "the booking store is unreachable; retry shortly", headers: ["Retry-After": "1"])
    public static let internalError = APIError(status: 500, code: "internal", message: "unexpected server error")
}

public enum JSONText {
    /// A JSON string literal for `text`, quotes included.
    public static func quote(_ text: String) -> String {
        // Most text (ids, tokens, times) needs no escape: one pass over the bytes, one copy.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count) + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
