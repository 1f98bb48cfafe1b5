// Request bodies, decoded strictly and validated before Redis sees them.
import Crypto
import Foundation

public struct SectionSpec: Decodable, Sendable, Equatable {
    public let id: String
    public let rows: Int
    public let seatsPerRow: Int
    public let priceCents: Int
}

public struct EventSpec: Decodable, Sendable, Equatable {
    public let id: String
    public let name: String
    public let venue: String
    public let startsAt: String
    public var holdSeconds: Int?
    public var maxSeatsPerUser: Int?
    public let sections: [SectionSpec]
    /// Sells through the on-sale queue when present.
    public var queue: QueueSpec?

    public static let maxCapacity = 250_000
    /// A larger seat map is written in calls of at most this many seats (add_seats.lua).
    public static let seatsPerCall = 10_000
    public var holdSecondsOrDefault: Int { holdSeconds ?? 900 }
    public var maxSeatsOrDefault: Int { maxSeatsPerUser ?? 4 }
    public var capacity: Int { sections.reduce(0) { $0 + $1.rows * $1.seatsPerRow } }

    public static func decode(_ body: [UInt8]) throws(APIError) -> EventSpec {
        let spec: EventSpec = try decodeJSON(body)
        try refuseUnknownFields(body)
        try spec.validate()
        return spec
    }

    static let fields: Set<String> = ["id", "name", "venue", "startsAt", "holdSeconds", "maxSeatsPerUser", "sections", "queue"]
    static let sectionFields: Set<String> = ["id", "rows", "seatsPerRow", "priceCents"]

    /// A typo (`holdSecond`) or a field this version does not know must be a
    /// 400, not an event made with a default in its place.
    static func refuseUnknownFields(_ body: [UInt8]) throws(APIError) {
        try SeatlockCore.refuseUnknownFields(body, fields, nested: ["queue": QueueSpec.fields, "sections": sectionFields])
    }

    public func validate() throws(APIError) {
        guard Identifier.isValid(id) else { throw .invalid("event id must be 1-64 letters, digits, '-' or '_'") }
        guard EventKeys.isValidEventId(id) else { throw .invalid("event id '\(id)' is reserved (the hash tag of global keys)") }
        try Self.checkText(name, field: "name")
        try Self.checkText(venue, field: "venue")
        guard Self.isISO8601(startsAt) else { throw .invalid("startsAt must be an ISO 8601 time with its zone, e.g. 2026-12-31T20:00:00Z") }
        guard (1...86_400).contains(holdSecondsOrDefault) else { throw .invalid("holdSeconds must be 1-86400") }
        guard (1...50).contains(maxSeatsOrDefault) else { throw .invalid("maxSeatsPerUser must be 1-50") }
        guard (1...100).contains(sections.count) else { throw .invalid("an event has 1-100 sections") }
        var seen = Set<String>()
        for section in sections {
            guard Identifier.isValidSection(section.id) else { throw .invalid("section ids are 1-16 letters, digits or '_'") }
            guard seen.insert(section.id).inserted else { throw .invalid("section \(section.id) is listed twice") }
            guard (1...1000).contains(section.rows), (1...1000).contains(section.seatsPerRow) else {
                throw .invalid("section \(section.id): rows and seatsPerRow must be 1-1000")
            }
            guard (0...100_000_000).contains(section.priceCents) else { throw .invalid("section \(section.id): priceCents must be 0-100000000") }
        }
        guard capacity <= Self.maxCapacity else { throw .invalid("an event has at most \(Self.maxCapacity) seats") }
        try queue?.validate()
    }

    static func checkText(_ text: String, field: String) throws(APIError) {
        guard (1...200).contains(text.count) else { throw .invalid("\(field) must be 1-200 characters") }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw .invalid("\(field) may not contain control characters")
        }
    }

    static func isISO8601(_ text: String) -> Bool { date(text) != nil }

    static func date(_ text: String) -> Date? {
        guard text.utf8.count <= 40 else { return nil }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

/// `"queue": {"opensAt", "admitPerSecond", "admissionSeconds"}` of an event.
public struct QueueSpec: Decodable, Sendable, Equatable {
    /// ISO 8601; absent: the queue opens when the event is created.
    public var opensAt: String?
    /// 0 or absent: automatic admission (queue_tick.lua says how it decides).
    public var admitPerSecond: Int?
    public var admissionSeconds: Int?

    static let fields: Set<String> = ["opensAt", "admitPerSecond", "admissionSeconds"]
    public var admitPerSecondOrDefault: Int { admitPerSecond ?? 0 }
    public var admissionSecondsOrDefault: Int { admissionSeconds ?? 300 }

    public func validate() throws(APIError) {
        if let opensAt { guard EventSpec.isISO8601(opensAt) else { throw .invalid("queue.opensAt must be an ISO 8601 time with its zone") } }
        guard (0...100_000).contains(admitPerSecondOrDefault) else { throw .invalid("queue.admitPerSecond must be 0-100000 (0: automatic)") }
        guard (10...86_400).contains(admissionSecondsOrDefault) else { throw .invalid("queue.admissionSeconds must be 10-86400") }
    }

    /// The script's form: `opensAtMs admitPerSecond admissionSeconds` (opensAt absent: `now`).
    public func scriptArgument(now: Date = Date()) -> String {
        let opens = opensAt.flatMap(EventSpec.date) ?? now
        return "\(max(0, Int(opens.timeIntervalSince1970 * 1000))) \(admitPerSecondOrDefault) \(admissionSecondsOrDefault)"
    }
}

/// `{"quantity":N,"section":"A"?}`: a place on a sold-out event's waitlist.
public struct WaitlistRequest: Sendable, Equatable {
    public let quantity: Int
    public let section: String?

    public init(quantity: Int, section: String? = nil) {
        self.quantity = quantity
        self.section = section
    }

    public static func decode(_ body: [UInt8], maxSeats: Int = 50) throws(APIError) -> WaitlistRequest {
        let fields = try flatObject(body, allowed: ["quantity", "section"])
        guard case let .number(number)? = fields["quantity"], number.rounded() == number, abs(number) < 1e9 else {
            throw .invalidJSON("quantity must be a whole number")
        }
        let quantity = Int(number)
        guard quantity >= 1 else { throw .invalid("quantity must be at least 1") }
        guard quantity <= maxSeats else { throw .limitExceeded("at most \(maxSeats) seats per request") }
        var section: String?
        if let value = fields["section"] {
            guard case let .string(text) = value else { throw .invalidJSON("wrong type at section: expected a string") }
            guard Identifier.isValidSection(text) else { throw .invalid("section ids are 1-16 letters, digits or '_'") }
            section = text
        }
        return WaitlistRequest(quantity: quantity, section: section)
    }
}

/// A Content-Type whose media type, parameters (charset) aside, is
/// application/json in any case: application/json-patch+json is not JSON here.
/// (Compared in place: it is on every request with a body.)
public func isJSONMediaType(_ contentType: String) -> Bool {
    let end = contentType.utf8.firstIndex(of: UInt8(ascii: ";")) ?? contentType.endIndex
    let mediaType = trimmingSpaces(contentType[..<end]).utf8
    let expected = "application/json".utf8
    guard mediaType.count == expected.count else { return false }
    var index = mediaType.startIndex // (an index walk: zip over two UTF-8 views cost more than the whole check)
    for byte in expected {
        let given = mediaType[index]
        guard (given >= 65 && given <= 90 ? given + 32 : given) == byte else { return false }
        index = mediaType.index(after: index)
    }
    return true
}

/// What a buyer asks to hold.
public enum HoldRequest: Sendable, Equatable {
    case seats([SeatID])
    case bestAvailable(section: String, quantity: Int)

    private static let fields: Set<String> = ["seats", "quantity", "section"]

    /// Checks shape and ids; the per-event limit is checked again in Lua.
    public static func decode(_ body: [UInt8], maxSeats: Int = 50) throws(APIError) -> HoldRequest {
        let fields = try flatObject(body, allowed: Self.fields)
        switch (fields["seats"], fields["quantity"], fields["section"]) {
        case let (seatsValue?, nil, nil):
            guard case let .strings(seats) = seatsValue else { throw .invalidJSON("wrong type at seats: expected a list of seat ids") }
            guard !seats.isEmpty else { throw .invalid("seats must list at least one seat") }
            guard seats.count <= maxSeats else { throw .limitExceeded("at most \(maxSeats) seats per request") }
            var ids: [SeatID] = []
            ids.reserveCapacity(seats.count)
            for text in seats {
                guard let seat = SeatID(text) else { throw .invalid("seat ids look like A-12-7 (SECTION-ROW-NUMBER)") }
                // (A list of at most maxSeats: looked through, no set to build and hash.)
                guard !ids.contains(seat) else { throw .invalid("seat \(seat) is listed twice") }
                ids.append(seat)
            }
            return .seats(ids)
        case let (nil, quantityValue?, sectionValue?):
            guard case let .number(number) = quantityValue, number.rounded() == number, abs(number) < 1e9 else {
                throw .invalidJSON("wrong type at quantity: expected a whole number")
            }
            guard case let .string(section) = sectionValue else { throw .invalidJSON("wrong type at section: expected a string") }
            let quantity = Int(number)
            guard Identifier.isValidSection(section) else { throw .invalid("section ids are 1-16 letters, digits or '_'") }
            guard quantity >= 1 else { throw .invalid("quantity must be at least 1") }
            guard quantity <= maxSeats else { throw .limitExceeded("at most \(maxSeats) seats per request") }
            return .bestAvailable(section: section, quantity: quantity)
        default:
            throw .invalid("send either {\"seats\":[...]} or {\"quantity\":N,\"section\":\"A\"}")
        }
    }
}

public struct PaymentRequest: Sendable, Equatable {
    public let paymentToken: String
    private static let fields: Set<String> = ["paymentToken"]

    public static func decode(_ body: [UInt8]) throws(APIError) -> PaymentRequest {
        let fields = try flatObject(body, allowed: Self.fields)
        guard let value = fields["paymentToken"] else { throw .invalidJSON("missing field paymentToken") }
        guard case let .string(token) = value else { throw .invalidJSON("wrong type at paymentToken: expected a string") }
        guard Identifier.isValid(token) else { throw .invalid("paymentToken must be 1-64 letters, digits, '-' or '_'") }
        return PaymentRequest(paymentToken: token)
    }
}

/// A small request body as a flat JSON object; unknown fields are refused,
/// so a typo is a 400 instead of being ignored.
func flatObject(_ body: [UInt8], allowed: Set<String>) throws(APIError) -> [String: FlatJSONValue] {
    guard !body.isEmpty else { throw .invalidJSON("the request needs a JSON body") }
    guard let fields = FlatJSON.parseObject(body) else { throw .invalidJSON("the body must be a flat UTF-8 JSON object") }
    if let unknown = fields.keys.first(where: { !allowed.contains($0) }) {
        throw .invalid("unknown field \(unknown); expected \(allowed.sorted().joined(separator: ", "))")
    }
    return fields
}

/// A typo (`holdSecond`) or a field this version does not know is a 400, not
/// a default in its place: `fields` at the top, and `nested[F]` inside F (an
/// object, or an array of objects). A body that is no JSON object is left
/// to the decoder's own error.
func refuseUnknownFields(_ body: [UInt8], _ fields: Set<String>, nested: [String: Set<String>] = [:], note: String = "") throws(APIError) {
    guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return }
    func check(_ object: [String: Any], _ allowed: Set<String>, _ path: String) throws(APIError) {
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw .invalid("unknown field \(path)\(unknown); expected \(allowed.sorted().joined(separator: ", "))\(note)")
        }
    }
    try check(object, fields, "")
    for (name, allowed) in nested.sorted(by: { $0.key < $1.key }) {
        let inner = object[name].map { ($0 as? [Any]) ?? [$0] } ?? []
        for case let item as [String: Any] in inner { try check(item, allowed, name + ".") }
    }
}

/// Decodes a JSON object body, mapping every failure to a 400 with a reason.
func decodeJSON<T: Decodable>(_ body: [UInt8]) throws(APIError) -> T {
    guard !body.isEmpty else { throw .invalidJSON("the request needs a JSON body") }
    guard body.contains(UInt8(ascii: "{")), String(validating: body, as: UTF8.self) != nil, !body.contains(0) else {
        throw .invalidJSON("the body must be a UTF-8 JSON object")
    }
    do {
        return try JSONDecoder().decode(T.self, from: Data(body))
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        throw .invalidJSON("wrong type at \(path(context.codingPath))")
    } catch let DecodingError.keyNotFound(key, _) {
        throw .invalidJSON("missing field \(key.stringValue)")
    } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
        throw .invalidJSON("invalid value at \(path(context.codingPath))")
    } catch {
        throw .invalidJSON("the body is not valid JSON")
    }
}

private func path(_ codingPath: [any CodingKey]) -> String {
    codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
}

/// What an idempotency record remembers of a request: a replay must match it.
public func requestFingerprint(method: String, path: String, body: [UInt8]) -> String {
    var hasher = SHA256()
    hasher.update(data: Data(method.utf8))
    hasher.update(data: Data([0]))
    hasher.update(data: Data(path.utf8))
    hasher.update(data: Data([0]))
    hasher.update(data: Data(body))
    return hasher.finalize().map { String(format: "%02x", $0) }.joined()
}

/// `POST /v1/users`: a buyer registers with an e-mail address (unique,
/// compared lowercased), a display name and an optional phone number.
public struct UserRegistration: Sendable, Equatable {
    public let email: String
    public let name: String
    public let phone: String?

    public static func decode(_ body: [UInt8]) throws(APIError) -> UserRegistration {
        let fields = try flatObject(body, allowed: ["email", "name", "phone"])
        func string(_ name: String) throws(APIError) -> String? {
            switch fields[name] {
            case nil: return nil
            case let .string(value)?: return value
            default: throw .invalidJSON("wrong type at \(name): expected a string")
            }
        }
        guard let email = try string("email") else { throw .invalidJSON("missing field email") }
        guard let name = try string("name") else { throw .invalidJSON("missing field name") }
        let phone = try string("phone")
        guard isValidEmail(email) else { throw .invalid("email must be an address like name@example.com (at most 254 characters)") }
        guard isValidName(name) else { throw .invalid("name must be 1-100 characters, without control characters") }
        if let phone, !isValidPhone(phone) { throw .invalid("phone must be in E.164 form: '+' and 6-15 digits") }
        return UserRegistration(email: email.lowercased(), name: name, phone: phone)
    }

    /// Deliberately narrower than RFC 5322: ASCII local part of common
    /// characters, a dotted domain. Nothing in it can shape a Redis key or a
    /// mail header.
    static func isValidEmail(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count <= 254, let at = bytes.firstIndex(of: UInt8(ascii: "@")), bytes.lastIndex(of: UInt8(ascii: "@")) == at else { return false }
        let local = bytes[..<at], domain = bytes[(at + 1)...]
        guard (1...64).contains(local.count), local.first != UInt8(ascii: "."), local.last != UInt8(ascii: "."),
              local.allSatisfy({ isAlphanumeric($0) || "._%+-".utf8.contains($0) }) else { return false }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2, labels.allSatisfy({ label in
            (1...63).contains(label.count) && label.first != UInt8(ascii: "-") && label.last != UInt8(ascii: "-")
                && label.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
        }) else { return false }
        return true
    }

    static func isValidName(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return !trimmed.isEmpty && text.count <= 100 && text.utf8.count <= 400
            && !text.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format
                || $0.properties.generalCategory == .lineSeparator || $0.properties.generalCategory == .paragraphSeparator }
    }

    static func isValidPhone(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        return bytes.first == UInt8(ascii: "+") && (7...16).contains(bytes.count)
            && bytes.dropFirst().allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}

/// `PATCH /v1/events/{e}`: what an organizer may change after creation.
public struct EventPatch: Decodable, Sendable, Equatable {
    public var name: String?
    public var venue: String?
    public var startsAt: String?
    /// `open` or `closed` (cancelling is its own call).
    public var status: String?
    /// New prices of existing sections; the seat map itself never changes
    /// (rows and seatsPerRow may be sent as they are: any other value is 409).
    public var sections: [SectionPrice]?

    public struct SectionPrice: Decodable, Sendable, Equatable {
        public let id: String
        public let priceCents: Int
        public var rows: Int?
        public var seatsPerRow: Int?

        public init(id: String, priceCents: Int, rows: Int? = nil, seatsPerRow: Int? = nil) {
            self.id = id
            self.priceCents = priceCents
            self.rows = rows
            self.seatsPerRow = seatsPerRow
        }
    }

    public init(name: String? = nil, venue: String? = nil, startsAt: String? = nil, status: String? = nil, sections: [SectionPrice]? = nil) {
        self.name = name
        self.venue = venue
        self.startsAt = startsAt
        self.status = status
        self.sections = sections
    }

    static let fields: Set<String> = ["name", "venue", "startsAt", "status", "sections"]
    static let sectionFields: Set<String> = ["id", "priceCents", "rows", "seatsPerRow"]

    public static func decode(_ body: [UInt8]) throws(APIError) -> EventPatch {
        let patch: EventPatch = try decodeJSON(body)
        try refuseUnknownFields(body, fields, nested: ["sections": sectionFields],
                                note: " (the seat map, the hold rules and the queue are fixed at creation)")
        try patch.validate()
        return patch
    }

    public func validate() throws(APIError) {
        guard name != nil || venue != nil || startsAt != nil || status != nil || sections != nil else {
            throw .invalid("nothing to change: send one or more of \(Self.fields.sorted().joined(separator: ", "))")
        }
        if let name { try EventSpec.checkText(name, field: "name") }
        if let venue { try EventSpec.checkText(venue, field: "venue") }
        if let startsAt, !EventSpec.isISO8601(startsAt) {
            throw .invalid("startsAt must be an ISO 8601 time with its zone, e.g. 2026-12-31T20:00:00Z")
        }
        if let status, status != "open", status != "closed" {
            throw .invalid("status must be open or closed (POST /v1/events/{id}/cancel cancels an event)")
        }
        if let sections {
            guard (1...100).contains(sections.count) else { throw .invalid("sections lists 1-100 sections") }
            var seen = Set<String>()
            for section in sections {
                guard Identifier.isValidSection(section.id) else { throw .invalid("section ids are 1-16 letters, digits or '_'") }
                guard seen.insert(section.id).inserted else { throw .invalid("section \(section.id) is listed twice") }
                guard (0...100_000_000).contains(section.priceCents) else { throw .invalid("section \(section.id): priceCents must be 0-100000000") }
                for value in [section.rows, section.seatsPerRow].compactMap({ $0 }) where !(1...1000).contains(value) {
                    throw .invalid("section \(section.id): rows and seatsPerRow must be 1-1000")
                }
            }
        }
    }

    /// update_event.lua's ARGV after the actor: field, value pairs.
    public var scriptArguments: [String] {
        var args: [String] = []
        if let name { args += ["name", name] }
        if let venue { args += ["venue", venue] }
        if let startsAt { args += ["startsAt", startsAt] }
        if let status { args += ["status", status] }
        for section in sections ?? [] {
            args += ["price:" + section.id, String(section.priceCents)]
            if let rows = section.rows { args += ["rows:" + section.id, String(rows)] }
            if let seatsPerRow = section.seatsPerRow { args += ["seatsPerRow:" + section.id, String(seatsPerRow)] }
        }
        return args
    }

    /// The start as ms since the epoch, when the patch moves it.
    public var startsAtMilliseconds: Int64? {
        startsAt.flatMap(EventSpec.milliseconds)
    }
}

extension EventSpec {
    /// The start as ms since the epoch (`startsAt` is validated).
    public var startsAtMilliseconds: Int64 { Self.milliseconds(startsAt) ?? 0 }

    /// ms since the epoch of a stored startsAt, or nil for text that is not ISO 8601.
    public static func milliseconds(_ text: String) -> Int64? {
        date(text).map { Int64($0.timeIntervalSince1970 * 1000) }
    }
}
