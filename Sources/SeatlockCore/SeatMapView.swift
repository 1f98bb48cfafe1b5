// The seat map as `GET /v1/events/{e}/seats` answers it, rendered from the
// seat map (seat, price), the free seats and the sold ones: pure, so it is
// unit-tested without Redis. Two encodings:
//   full     {"seats":[{"id":"A-1-1","status":"available","priceCents":100},…]}
//            (~56 bytes a seat: capped at `SeatMapView.maxFullSeats` per answer)
//   compact  {"sections":[{"id":"A","rows":2,"seatsPerRow":3,"priceCents":100,
//            "status":"aahsaa"}]}: one character a seat, row by row, number by
//            number: a available, h held, s sold (1 byte a seat, any size).

public enum SeatMapFormat: String, Sendable {
    case full, compact
}

public enum SeatMapView {
    /// Past this many seats the full encoding needs `?section=` (or
    /// `format=compact`): 20,000 seats are ~1.1 MB of JSON.
    public static let maxFullSeats = 20_000

    /// One section's seats, sorted by row then number.
    public typealias Section = (id: String, seats: [(seat: SeatID, price: String)])

    public static func render(_ sections: [Section], isFree: (String) -> Bool, isSold: (String) -> Bool) -> String {
        var json = "{\"seats\":["
        json.reserveCapacity(sections.reduce(0) { $0 + $1.seats.count } * 56 + 16)
        var first = true
        for section in sections {
            for (seat, price) in section.seats {
                let id = seat.description
                let status = isFree(id) ? "available" : (isSold(id) ? "sold" : "held")
                json += (first ? "" : ",") + "{\"id\":\"\(id)\",\"status\":\"\(status)\",\"priceCents\":\(price)}"
                first = false
            }
        }
        return json + "]}"
    }

    /// A section of the compact map: its shape (from the event's `sections`
    /// field, so the seat map itself is not read) and a byte a seat.
    public struct CompactSection: Sendable, Equatable {
        public let id: String
        public let rows: Int
        public let seatsPerRow: Int
        public let priceCents: Int
        /// Row by row, number by number: a available, h held, s sold.
        public var status: [UInt8]

        public init(id: String, rows: Int, seatsPerRow: Int, priceCents: Int) {
            self.id = id
            self.rows = rows
            self.seatsPerRow = seatsPerRow
            self.priceCents = priceCents
            self.status = [UInt8](repeating: UInt8(ascii: "h"), count: rows * seatsPerRow)
        }

        /// Every seat starts held (neither free nor sold); these mark the others.
        public mutating func mark(free seats: some Sequence<String>) { mark(seats, as: UInt8(ascii: "a")) }
        public mutating func mark(sold seats: some Sequence<String>) { mark(seats, as: UInt8(ascii: "s")) }

        /// Seats of other sections (the sold hash is the whole event's) and ids out of the shape are skipped.
        private mutating func mark(_ seats: some Sequence<String>, as byte: UInt8) {
            let section = Array(id.utf8)
            for seat in seats {
                guard let (length, row, number) = SeatMapView.position(seat), length == section.count, seat.utf8.starts(with: section),
                      (1...rows).contains(row), (1...seatsPerRow).contains(number) else { continue }
                status[(row - 1) * seatsPerRow + number - 1] = byte
            }
        }
    }

    /// The compact encoding of `sections`.
    public static func compact(_ sections: [CompactSection]) -> String {
        var json = "{\"format\":\"compact\",\"sections\":["
        json.reserveCapacity(sections.reduce(0) { $0 + $1.status.count + 96 } + 40)
        for (index, section) in sections.enumerated() {
            json += (index == 0 ? "" : ",") + "{\"id\":\"\(section.id)\",\"rows\":\(section.rows),\"seatsPerRow\":\(section.seatsPerRow),"
                + "\"priceCents\":\(section.priceCents),\"status\":\"" + String(decoding: section.status, as: UTF8.self) + "\"}"
        }
        return json + "]}"
    }

    /// The sections of an event's `sections` field (`ID:ROWS:PER_ROW:PRICE,...`).
    public static func shapes(_ field: String) -> [CompactSection] {
        field.split(separator: ",").compactMap { part in
            let fields = part.split(separator: ":")
            guard fields.count == 4, let rows = Int(fields[1]), let perRow = Int(fields[2]), let price = Int(fields[3]) else { return nil }
            return CompactSection(id: String(fields[0]), rows: rows, seatsPerRow: perRow, priceCents: price)
        }
    }

    /// Section length (in bytes), row and number of a seat id
    /// (SECTION-ROW-NUMBER), read from the end without building substrings:
    /// the compact map reads one per seat.
    public static func position(_ seat: String) -> (sectionBytes: Int, row: Int, number: Int)? {
        var number = 0, row = 0, scale = 1, part = 0, consumed = 0
        for byte in seat.utf8.reversed() {
            consumed += 1
            if byte == UInt8(ascii: "-") {
                part += 1
                scale = 1
                if part == 2 { return row > 0 && number > 0 && consumed < seat.utf8.count ? (seat.utf8.count - consumed, row, number) : nil }
                continue
            }
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), scale <= 1_000_000 else { return nil }
            if part == 0 { number += Int(byte - UInt8(ascii: "0")) * scale } else { row += Int(byte - UInt8(ascii: "0")) * scale }
            scale *= 10
        }
        return nil
    }
}

/// A GCRA rate limit kept in memory, per key (a client address), for reads
/// that must cost Redis nothing: each loop keeps its own, so with N loops a
/// client may reach N times the rate at most.
public struct MemoryRateLimiter: Sendable {
    public let limit: RateLimit
    /// Theoretical arrival time per key, in seconds on the caller's clock.
    private var arrivals: [String: Double] = [:]
    private let maxKeys: Int

    public init(_ limit: RateLimit, maxKeys: Int = 100_000) {
        self.limit = limit
        self.maxKeys = maxKeys
    }

    /// nil when allowed (and counted); else the seconds to wait.
    public mutating func check(_ key: String, now: Double) -> Double? {
        guard !limit.isOff else { return nil }
        let interval = 1 / limit.perSecond
        let tolerance = interval * Double(limit.burst - 1)
        let arrival = max(arrivals[key] ?? now, now)
        guard arrival - now <= tolerance else { return arrival - now - tolerance }
        if arrivals.count >= maxKeys { arrivals = arrivals.filter { $0.value > now } }
        if arrivals.count >= maxKeys { return interval } // every slot busy: refuse rather than grow
        arrivals[key] = arrival + interval
        return nil
    }
}
