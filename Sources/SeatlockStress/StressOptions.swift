// What a stress run simulates. Defaults are the reference on-sale: 500,000
// buyers arriving together for 50,000 seats.
import SeatlockCore

public struct StressOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var eventId = "stress"
    public var buyers = 500_000
    public var seats = 50_000
    public var connections = 256
    /// Share of buyers who ask for explicit seats (the rest: best available).
    public var explicitShare = 0.5
    /// Share of buyers who look at the seat map of a section first.
    public var lookShare = 0.05
    /// Extra hold attempts after a 409 (other seats).
    public var retries = 2
    /// Share of buyers who hold and never pay (their hold expires).
    public var abandonShare = 0.1
    /// Payment tokens and their weights.
    public var paymentMix: [(token: String, weight: Double)] = [("tok_visa", 0.85), ("tok_chargeDeclined", 0.1), ("tok_flaky", 0.05)]
    /// Seats per buyer: 1...maxSeatsPerBuyer, uniformly.
    public var maxSeatsPerBuyer = 2
    /// 0: everyone arrives at once; else arrivals spread evenly over this many seconds.
    public var rampSeconds = 0.0
    public var holdSeconds = 60
    public var pollIntervalMilliseconds = 1_000
    public var seed: UInt64 = 1
    public var tokenSecret = ""
    public var adminToken = ""
    /// Through the event's on-sale queue (false: everyone rushes the hold endpoint, `--direct`).
    public var queued = true
    /// Seconds from the event's creation to the queue's open: buyers who
    /// arrive before it are in the prequeue, drawn at random at the open.
    /// nil: 12,000 joins per second of prequeue (half what this machine took, client included, in the 500,000-buyer run), at least 3 s.
    public var prequeueSeconds: Double?
    public var admissionSeconds = 300
    /// Share of the buyers told "sold out" (or "nothing available now" while waiting) who join the waitlist.
    public var waitlistShare = 0.05
    /// A 503 (Redis away, a failover) is waited out (Retry-After) and the
    /// request sent again, as a buyer's page would, and counted apart from errors.
    public var retryUnavailable = false
    /// How long after the last buyer's final answer the waitlisted keep watching for offers.
    public var waitlistWatchSeconds: Double?
    public var prequeueOrDefault: Double { prequeueSeconds ?? max(3, Double(buyers) / 12_000) }
    public var watchOrDefault: Double { waitlistWatchSeconds ?? Double(holdSeconds + 15) }

    public init() {}

    /// Sections of 10 rows × 500 seats (fewer for small events).
    public var layout: [SectionSpecLite] {
        let perSection = min(seats, 5_000)
        let seatsPerRow = min(perSection, 500)
        let rows = (perSection + seatsPerRow - 1) / seatsPerRow
        let sections = (seats + perSection - 1) / perSection
        return (0..<sections).map { SectionSpecLite(id: "S\($0 + 1)", rows: rows, seatsPerRow: seatsPerRow, priceCents: 5_000 + 500 * ($0 % 10)) }
    }

    /// The event to create; a queued one opens at `opensAt` (ms since the epoch).
    public func eventJSON(opensAt: Int? = nil) -> String {
        let sections = layout.map { "{\"id\":\"\($0.id)\",\"rows\":\($0.rows),\"seatsPerRow\":\($0.seatsPerRow),\"priceCents\":\($0.priceCents)}" }
        let queue = opensAt.map { ",\"queue\":{\"opensAt\":\"\(ISOTime.string(milliseconds: $0))\",\"admitPerSecond\":0,\"admissionSeconds\":\(admissionSeconds)}" } ?? ""
        return "{\"id\":\"\(eventId)\",\"name\":\"Stress on-sale\",\"venue\":\"Loopback Arena\",\"startsAt\":\"2027-06-01T20:00:00Z\","
            + "\"holdSeconds\":\(holdSeconds),\"maxSeatsPerUser\":\(max(4, maxSeatsPerBuyer)),\"sections\":[" + sections.joined(separator: ",") + "]\(queue)}"
    }

    /// "tok_visa=0.8,tok_chargeDeclined=0.2" → weights.
    public static func parseMix(_ text: String) -> [(token: String, weight: Double)]? {
        var mix: [(String, Double)] = []
        for part in text.split(separator: ",") {
            let pair = part.split(separator: "=")
            guard pair.count == 2, Identifier.isValid(String(pair[0])), let weight = Double(pair[1]), weight >= 0 else { return nil }
            mix.append((String(pair[0]), weight))
        }
        return mix.isEmpty || mix.allSatisfy({ $0.1 == 0 }) ? nil : mix
    }
}

public struct SectionSpecLite: Sendable {
    public let id: String
    public let rows: Int
    public let seatsPerRow: Int
    public let priceCents: Int
}
