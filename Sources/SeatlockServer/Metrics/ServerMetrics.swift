// /metrics: what the server measures itself (requests by route and status,
// their latency, the latency of its Redis calls) and, read from Redis at
// scrape time, what the workers keep (per-event figures from analytics,
// consumer-group lag and pending entries, dead-letter stream sizes).
// Rendered in the Prometheus text format by swift-prometheus.
import Foundation
import Prometheus
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import Synchronization

/// One registry per server, shared by its loops (its metrics are thread-safe).
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    static let latencyBuckets: [Duration] = [.microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
                                             .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                                             .milliseconds(500), .seconds(1), .seconds(2), .seconds(5)]
    /// Consumer groups whose lag and dead letters are reported.
    static let groups = ["payments", "notifications", "analytics"]
    /// A scrape reads at most this many events (labels stay bounded).
    static let maxEvents = 200

    public init() {}

    /// The bridge's process-wide counts, as of the last scrape: Prometheus
    /// counters only go up, so each scrape adds what happened since.
    private let reportedBridgeCounts = Mutex<[String: Int]>([:])

    private func addBridgeCounters() {
        let now: [(String, String, Int)] = [
            ("seatlock_http_refused_by_parser_total", "Requests refused before any handler (bad request line, headers or body past the hard limits)",
             HTTPServerCounters.refusedByParser.load(ordering: .relaxed)),
            ("seatlock_http_deadline_cuts_total", "Connections shut down because their request did not arrive within the deadline (slow clients)",
             HTTPServerCounters.deadlineCuts.load(ordering: .relaxed)),
            ("seatlock_http_accept_pauses_total", "Times a loop stopped accepting at its connection cap",
             HTTPServerCounters.acceptPauses.load(ordering: .relaxed)),
            ("seatlock_http_address_cap_cuts_total", "Connections closed at once: their client address had too many open",
             HTTPServerCounters.addressCapCuts.load(ordering: .relaxed)),
            ("seatlock_holds_refused_without_redis_total", "Holds answered 409 sold_out on the loop: a fresh count said no seat was available",
             EventInventory.refusedWithoutRedis.load(ordering: .relaxed)),
            ("seatlock_queue_polls_total", "Queue polls (GET queue/me) answered from the loop's queue state, without Redis",
             QueueDesk.pollsFromMemory.load(ordering: .relaxed)),
            ("seatlock_queue_joins_total", "Queue joins and prequeue position lookups, batched into queue_join.lua calls",
             QueueDesk.joins.load(ordering: .relaxed)),
            ("seatlock_queue_redis_calls_total", "Redis calls the queue desks made (state reads, batched joins)",
             QueueDesk.redisCalls.load(ordering: .relaxed)),
        ]
        reportedBridgeCounts.withLock { reported in
            for (name, help, value) in now {
                let counter = registry.makeCounter(descriptor: Self.name(name, help))
                let delta = value - reported[name, default: 0]
                if delta > 0 { counter.increment(by: Int64(delta)) }
                reported[name] = value
            }
        }
    }

    /// The full metric name as Prometheus shows it, and its HELP line.
    static func name(_ fullName: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: fullName, unitName: "", helpText: help)
    }

    /// Per-loop front: caches the metric objects so a request costs a
    /// dictionary lookup and two atomic updates, no registry lock.
    final class Recorder {
        private let metrics: ServerMetrics
        /// Route names are string literals, so the key costs no allocation.
        private struct RequestKey: Hashable { let route: String; let status: Int }
        private var counters: [RequestKey: Counter] = [:]
        private var histograms: [String: DurationHistogram] = [:]
        private var redisHistograms: [String: DurationHistogram] = [:]

        init(_ metrics: ServerMetrics) { self.metrics = metrics }

        func request(route: String, status: Int, took: Duration) {
            let key = RequestKey(route: route, status: status)
            let counter = counters[key] ?? {
                let made = metrics.registry.makeCounter(descriptor: ServerMetrics.name("seatlock_http_requests_total", "HTTP requests answered, by route and status"),
                                                        labels: [("route", route), ("status", String(status))])
                counters[key] = made
                return made
            }()
            counter.increment()
            let histogram = histograms[route] ?? {
                let made = metrics.registry.makeDurationHistogram(descriptor: ServerMetrics.name("seatlock_http_request_duration_seconds", "Time from a complete request to its answer, by route"),
                                                                  labels: [("route", route)], buckets: ServerMetrics.latencyBuckets)
                histograms[route] = made
                return made
            }()
            histogram.record(took)
        }

        func redisCall(_ name: String, took: Duration) {
            let histogram = redisHistograms[name] ?? {
                let made = metrics.registry.makeDurationHistogram(descriptor: ServerMetrics.name("seatlock_redis_command_duration_seconds", "Round trip of the server's Redis calls (scripts by name), by command"),
                                                                  labels: [("command", name)], buckets: ServerMetrics.latencyBuckets)
                redisHistograms[name] = made
                return made
            }()
            histogram.record(took)
        }
    }

    /// Reads the Redis-side figures, sets them as gauges and renders
    /// everything. `completion` gets the exposition text, or the Redis error.
    func scrape(on redis: RedisConnection, completion: @escaping (Result<[UInt8], RedisError>) -> Void) {
        redis.send(["SMEMBERS", GlobalKeys.events]) { [self] result in
            guard case let .success(members) = result else {
                if case let .failure(error) = result { completion(.failure(error)) }
                return
            }
            let events = Array((members.array?.compactMap(\.string) ?? []).filter { Identifier.isValid($0) }.sorted().prefix(Self.maxEvents))
            let groupReads = events.map { ["XINFO", "GROUPS", EventKeys($0).log] }
            let dlqReads = Self.groups.map { ["XLEN", GlobalKeys.deadLetters(group: $0)] }
            redis.pipeline(groupReads + dlqReads) { [self] results in
                for (index, event) in events.enumerated() {
                    guard case let .success(groups) = results[index] else { continue } // an event without a log yet
                    for group in groups.array ?? [] {
                        let fields = group.fields
                        guard let name = fields["name"] else { continue }
                        let labels = [("event", event), ("group", name)]
                        if let lag = Int(fields["lag"] ?? "") {
                            registry.makeGauge(descriptor: Self.name("seatlock_stream_lag", "Log entries not yet delivered to the consumer group"), labels: labels).set(to: Double(lag))
                        }
                        registry.makeGauge(descriptor: Self.name("seatlock_stream_pending", "Log entries delivered to the group but not acknowledged"), labels: labels).set(to: Double(Int(fields["pending"] ?? "") ?? 0))
                    }
                }
                for (index, group) in Self.groups.enumerated() {
                    let size = (try? results[events.count + index].get())?.int ?? 0
                    registry.makeGauge(descriptor: Self.name("seatlock_dlq_entries", "Entries in the group's dead-letter stream sl:dlq:GROUP"), labels: [("group", group)]).set(to: Double(size))
                }
                EventStats.readCounters(eventIds: events, on: redis) { [self] counters in
                    if case let .success(byEvent) = counters {
                        for (event, figures) in byEvent { setEventGauges(event, figures) }
                    }
                    addBridgeCounters()
                    completion(.success(registry.emitToBuffer()))
                }
            }
        }
    }

    /// What analytics keeps per event, as gauges (they are set from Redis, so
    /// a counter that Redis reset after a rebuild would not suit).
    private func setEventGauges(_ event: String, _ figures: [String: Int]) {
        let names: [(String, String, String)] = [
            ("holds", "seatlock_event_holds", "Holds made (bookings initiated)"),
            ("confirmations", "seatlock_event_confirmations", "Bookings confirmed"),
            ("expiries", "seatlock_event_expiries", "Holds that expired"),
            ("releases", "seatlock_event_releases", "Holds given up by their buyer"),
            ("cancellations", "seatlock_event_cancellations", "Bookings cancelled after a failed payment"),
            ("paymentsCompleted", "seatlock_event_payments_completed", "Payments that succeeded"),
            ("paymentsFailed", "seatlock_event_payments_failed", "Payment attempts that failed"),
            ("paymentsRefunded", "seatlock_event_payments_refunded", "Payments refunded"),
            ("held", "seatlock_event_seats_held", "Seats held now"),
            ("sold", "seatlock_event_seats_sold", "Seats sold"),
            ("revenueCents", "seatlock_event_revenue_cents", "Revenue of confirmed bookings, in cents"),
            ("activeBuyers", "seatlock_event_active_buyers", "Distinct buyers seen (HyperLogLog estimate)"),
        ]
        for (field, name, help) in names {
            registry.makeGauge(descriptor: Self.name(name, help), labels: [("event", event)]).set(to: Double(figures[field] ?? 0))
        }
    }
}
