// An event's analytics as the dashboard, `GET /v1/events/{e}/stats` and
// `/metrics` show them: the live counters of the event hash joined to the
// figures the analytics worker folds from the log (lua/analytics_apply.lua)
// into `sl:{E}:stats*`. Rendering is a pure function of the hashes, so it is
// unit-tested without Redis; SeatlockServer reads them (one pipeline).

/// One second of the series.
public struct SeriesPoint: Sendable, Equatable {
    public var t: Int
    public var holds = 0
    public var confirmations = 0
    public var expiries = 0
    public var releases = 0
    public var seatsHeld = 0
    public var seatsSold = 0

    public init(t: Int, holds: Int = 0, confirmations: Int = 0, expiries: Int = 0, releases: Int = 0, seatsHeld: Int = 0, seatsSold: Int = 0) {
        self.t = t
        self.holds = holds
        self.confirmations = confirmations
        self.expiries = expiries
        self.releases = releases
        self.seatsHeld = seatsHeld
        self.seatsSold = seatsSold
    }

    /// A slot as analytics_apply.lua writes it: `{"t":N,"holds":N,...}`, integers
    /// only. Unknown names are ignored; nil without `t` or for anything else.
    public init?(json text: String) {
        let body = Substring(text)
        guard body.hasPrefix("{"), body.hasSuffix("}"), body.count >= 2 else { return nil }
        var values: [Substring: Int] = [:]
        for pair in body.dropFirst().dropLast().split(separator: ",") {
            let parts = pair.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].count >= 2, parts[0].hasPrefix("\""), parts[0].hasSuffix("\""),
                  let value = Int(parts[1]) else { return nil }
            values[parts[0].dropFirst().dropLast()] = value
        }
        guard let t = values["t"] else { return nil }
        self.init(t: t, holds: values["holds"] ?? 0, confirmations: values["confirmations"] ?? 0, expiries: values["expiries"] ?? 0,
                  releases: values["releases"] ?? 0, seatsHeld: values["seatsHeld"] ?? 0, seatsSold: values["seatsSold"] ?? 0)
    }

    public var json: String {
        "{\"t\":\(t),\"holds\":\(holds),\"confirmations\":\(confirmations),\"expiries\":\(expiries),\"releases\":\(releases)"
            + ",\"seatsHeld\":\(seatsHeld),\"seatsSold\":\(seatsSold)}"
    }
}

/// Hold -> confirmation time, from the histogram's buckets.
public struct ConfirmLatency: Sendable, Equatable {
    public var count: Int
    public var p50: Int
    public var p90: Int
    public var p99: Int

    public init(count: Int, p50: Int, p90: Int, p99: Int) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
    }
}

public enum EventStats {
    /// The ring buffer's length: the series covers the last hour.
    public static let seriesSeconds = 3600
    /// The histogram's finite bucket bounds (ms), as analytics_apply.lua has them; then `+Inf`.
    public static let confirmBounds = [100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 900000]
    /// The counters of `sl:{E}:stats` (all but lastEntry), in the order /metrics lists them.
    public static let counterNames = ["bookingsInitiated", "holds", "seatsHeld", "confirmations", "seatsSold", "revenueCents",
                                      "expiries", "releases", "cancellations", "refunds", "paymentsRequested", "paymentsCompleted",
                                      "paymentsFailed", "paymentsRefunded", "held", "sold"]
    /// What `render` lists under "totals", in order.
    public static let totalNames = ["bookingsInitiated", "holds", "seatsHeld", "confirmations", "expiries", "releases", "cancellations",
                             "paymentsRequested", "paymentsCompleted", "paymentsFailed", "paymentsRefunded"]

    // MARK: reading

    /// The five reads, in the order `render` takes their replies.
    public static func commands(eventId: String) -> [[String]] {
        let keys = AnalyticsKeys(eventId)
        return [["HGETALL", EventKeys(eventId).event], ["HGETALL", keys.stats], ["PFCOUNT", keys.buyers],
                ["HGETALL", keys.confirmMs], ["HGETALL", keys.series]]
    }

    /// Every counter of `counterNames`, 0 when absent.
    public static func counters(_ stats: [String: String]) -> [String: Int] {
        var out: [String: Int] = [:]
        for name in counterNames { out[name] = int(stats[name]) }
        return out
    }

    // MARK: rendering

    /// The stats JSON from the raw hashes (field -> value as Redis holds them).
    public static func render(eventId: String, event: [String: String], stats: [String: String], activeBuyers: Int,
                              confirmMs: [String: String], series: [String: String]) -> String {
        let capacity = int(event["capacity"]), held = int(event["held"]), sold = int(event["sold"])
        let initiated = int(stats["bookingsInitiated"]), confirmations = int(stats["confirmations"])
        let latency = confirmLatency(confirmMs)
        var out = "{\"eventId\":" + JSONText.quote(eventId)
        out += ",\"capacity\":\(capacity),\"available\":\(capacity - held - sold),\"held\":\(held),\"sold\":\(sold)"
        out += ",\"revenueCents\":\(int(stats["revenueCents"]))"
        out += ",\"totals\":{" + totalNames.map { "\"\($0)\":\(int(stats[$0]))" }.joined(separator: ",") + "}"
        out += ",\"conversion\":" + conversionText(confirmations: confirmations, initiated: initiated)
        out += ",\"activeBuyers\":\(activeBuyers)"
        out += ",\"holdToConfirmMs\":{\"count\":\(latency.count),\"p50\":\(latency.p50),\"p90\":\(latency.p90),\"p99\":\(latency.p99)}"
        out += ",\"series\":[" + seriesPoints(series).map(\.json).joined(separator: ",") + "]}"
        return out
    }

    /// confirmations / bookingsInitiated, 4 decimals; 0 when nothing was initiated.
    public static func conversionText(confirmations: Int, initiated: Int) -> String {
        guard initiated > 0 else { return "0" }
        let value = (Double(confirmations) / Double(initiated) * 10_000).rounded() / 10_000
        return "\(value)"
    }

    /// The slots of the last `seriesSeconds` before the newest one, ascending
    /// by second (older slots are left over from an earlier hour).
    public static func seriesPoints(_ series: [String: String]) -> [SeriesPoint] {
        let points = series.values.compactMap { SeriesPoint(json: $0) }
        guard let newest = points.map(\.t).max() else { return [] }
        return points.filter { $0.t > newest - seriesSeconds }.sorted { $0.t < $1.t }
    }

    /// Percentiles are the upper bound of the bucket where the cumulative
    /// count reaches the rank; in the `+Inf` bucket, the largest time seen.
    public static func confirmLatency(_ histogram: [String: String]) -> ConfirmLatency {
        var finite: [(bound: Int, count: Int)] = []
        for (name, value) in histogram {
            if let bound = Int(name) { finite.append((bound, int(value))) }
        }
        finite.sort { $0.bound < $1.bound }
        let overflow = int(histogram["+Inf"])
        let bucketTotal = finite.reduce(overflow) { $0 + $1.count }
        let count = histogram["count"].flatMap { Int($0) } ?? bucketTotal
        guard bucketTotal > 0 else { return ConfirmLatency(count: count, p50: 0, p90: 0, p99: 0) }
        let largest = histogram["max"].flatMap { Int($0) } ?? finite.last?.bound ?? 0
        func quantile(_ perMille: Int) -> Int {
            let rank = max(1, (perMille * bucketTotal + 999) / 1000) // ceil, in integers
            var cumulative = 0
            for bucket in finite {
                cumulative += bucket.count
                if cumulative >= rank { return bucket.bound }
            }
            return largest
        }
        return ConfirmLatency(count: count, p50: quantile(500), p90: quantile(900), p99: quantile(990))
    }

    private static func int(_ text: String?) -> Int {
        text.flatMap { Int($0) } ?? 0
    }
}
