// The `cursor` of a paged list (GET /v1/events, GET /v1/events/{e}/bookings):
// the position to resume after, bound to the list it came from and signed,
// so a client can only hand back what this server gave it. Redis keeps no
// cursor state: the position is the last member of the page (the lists are
// sorted sets read by lex range), so a page costs O(log N + page) wherever it
// starts, and a member removed meanwhile does not break the next page.
import Crypto
import Foundation

public struct ListCursors: Sendable {
    private let keyed: KeyedHMAC
    /// A cursor older than this is refused (its page order may have moved on).
    public static let maxAgeSeconds = 86_400
    /// Longer text is refused before it is decoded.
    public static let maxLength = 512

    /// `secret` is the token secret; the cursor key is derived from it, so
    /// a cursor's MAC is never a valid token signature or the reverse.
    public init(secret: String) {
        let key = SymmetricKey(data: SHA256.hash(data: Data(("seatlock list cursor\n" + secret).utf8)))
        keyed = KeyedHMAC(HMAC<SHA256>(key: key))
    }

    /// A cursor that resumes `list` (which list, filter and caller: any text
    /// without a newline) after `member`.
    public func make(list: String, after member: String, now: Date = Date()) -> String {
        let payload = Array("\(list)\n\(member)\n\(Int(now.timeIntervalSince1970))".utf8)
        return Base64URL.encode(payload) + "." + Base64URL.encode(Array(keyed.mac(payload).prefix(16)))
    }

    /// The member to resume after; 400 invalid_cursor for a cursor that is
    /// forged, damaged, made for another list, or too old.
    public func member(of cursor: String, list: String, now: Date = Date()) throws(APIError) -> String {
        let parts = cursor.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { Substring($0) }
        guard cursor.utf8.count <= Self.maxLength, parts.count == 2,
              let payload = Base64URL.decode(parts[0]), let mac = Base64URL.decode(parts[1]),
              constantTimeEquals(Array(keyed.mac(payload).prefix(16)), mac) else {
            throw Self.invalid("this cursor was not made by this server: start again without one")
        }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard fields.count == 3, let issued = Int(fields[2]) else { throw Self.invalid("this cursor is damaged: start again without one") }
        guard fields[0] == list else {
            throw Self.invalid("this cursor belongs to another list (other filter or caller): start again without one")
        }
        let age = Int(now.timeIntervalSince1970) - issued
        guard age <= Self.maxAgeSeconds, age >= -300 else { throw Self.invalid("this cursor has expired: start again without one") }
        return String(fields[1])
    }

    static func invalid(_ message: String) -> APIError { APIError(status: 400, code: "invalid_cursor", message: message) }
}

/// `limit`, `cursor` and `status` of a list request, checked.
public struct ListQuery: Sendable, Equatable {
    public var limit: Int
    public var cursor: String?
    public var status: String?

    public init(limit: Int, cursor: String? = nil, status: String? = nil) {
        self.limit = limit
        self.cursor = cursor
        self.status = status
    }

    public static let defaultLimit = 20
    public static let maxLimit = 100

    /// `statuses`: the values `status` may take. Other parameters are refused
    /// too, so a typo (`?stauts=`) is not a silently unfiltered list.
    public static func parse(_ query: String, statuses: Set<String>) throws(APIError) -> ListQuery {
        var result = ListQuery(limit: defaultLimit)
        var seen = Set<Substring>()
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0], value = parts.count == 2 ? String(parts[1]) : ""
            guard seen.insert(name).inserted else { throw invalid("\(name) is given twice") }
            switch name {
            case "limit":
                guard let limit = Int(value), (1...maxLimit).contains(limit), value.utf8.count <= 3 else {
                    throw invalid("limit must be 1-\(maxLimit)")
                }
                result.limit = limit
            case "cursor":
                guard !value.isEmpty else { throw ListCursors.invalid("the cursor is empty: leave it out for the first page") }
                result.cursor = value
            case "status":
                guard statuses.contains(value) else { throw invalid("status must be one of \(statuses.sorted().joined(separator: ", "))") }
                result.status = value
            default:
                throw invalid("unknown query parameter \(name); expected cursor, limit, status")
            }
        }
        return result
    }

    static func invalid(_ message: String) -> APIError { APIError(status: 400, code: "invalid_query", message: message) }
}

public enum BookingStatus {
    /// Every status a booking may have (docs/operations/booking-statuses.md).
    public static let all: Set<String> = ["held", "payment_pending", "confirmed", "released", "expired", "cancelled",
                                          "refund_pending", "refunded"]
}

public enum EventStatus {
    public static let all: Set<String> = ["open", "closed", "cancelled"]
}
