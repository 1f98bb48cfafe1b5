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

    public static func render(_ sections: [Section], format: SeatMapFormat, isFree: (String) -> Bool, isSold: (String) -> Bool) -> String {
        switch format {
        case .full: full(sections, isFree: isFree, isSold: isSold)
        case .compact: compact(sections, isFree: isFree, isSold: isSold)
        }
    }

    static func full(_ sections: [Section], isFree: (String) -> Bool, isSold: (String) -> Bool) -> String {
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

    static func compact(_ sections: [Section], isFree: (String) -> Bool, isSold: (String) -> Bool) -> String {
        var json = "{\"format\":\"compact\",\"sections\":["
        for (index, section) in sections.enumerated() {
            let rows = section.seats.last?.seat.row ?? 0
            let perRow = section.seats.reduce(0) { max($0, $1.seat.number) }
            var status = [UInt8](repeating: UInt8(ascii: "a"), count: rows * perRow)
            for (seat, _) in section.seats {
                let id = seat.description
                if !isFree(id) { status[(seat.row - 1) * perRow + seat.number - 1] = isSold(id) ? UInt8(ascii: "s") : UInt8(ascii: "h") }
            }
            json += (index == 0 ? "" : ",") + "{\"id\":\"\(section.id)\",\"rows\":\(rows),\"seatsPerRow\":\(perRow),"
                + "\"priceCents\":\(section.seats.first?.price ?? "0"),\"status\":\"" + String(decoding: status, as: UTF8.self) + "\"}"
        }
        return json + "]}"
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
