// What a loop knows of its events' seats without asking Redis: the event
// hash's counters (capacity, held, sold), read for every event this loop
// sold or tried to sell lately, all in one pipeline every `refresh`. After
// a sell-out most hold requests are buyers who cannot get a seat; with a
// fresh count of zero available the hold handler answers 409 sold_out on
// the loop, without a Redis call.
//
// The count is only ever used to refuse. It is at most `maxAge` old (the
// refresh interval plus one round trip, or the answer goes to Redis as
// before), so a seat that comes back is refused for at most that long;
// every hold still goes through hold.lua's atomic checks, so no count,
// however stale, can sell a seat twice.
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import Synchronization

final class EventInventory {
    struct Counts {
        let capacity, held, sold: Int
        var available: Int { capacity - held - sold }
    }

    /// A class, changed in place (a struct changed through the dictionary's
    /// modify accessor cost a heap allocation per hold: heaptrack).
    private final class Entry {
        var counts: Counts?
        var readAt: ContinuousClock.Instant?
        var lastAsked: ContinuousClock.Instant

        init(lastAsked: ContinuousClock.Instant) { self.lastAsked = lastAsked }
    }

    /// Refusals answered on the loop, process-wide (for /metrics).
    static let refusedWithoutRedis = Atomic<Int>(0)

    private let redis: RedisConnection
    private let refresh: Duration
    private let maxAge: Duration
    private let forgetAfter: Duration = .seconds(10)
    private let maxEvents: Int
    private var events: [String: Entry] = [:]
    private var timer: LoopTimer?
    private var reading = false

    init(loop: EventLoop, redis: RedisConnection, refresh: Duration = .milliseconds(100), maxEvents: Int = 1_000) {
        self.redis = redis
        self.refresh = refresh
        self.maxAge = refresh * 3
        self.maxEvents = maxEvents
        timer = loop.scheduleRepeating(every: refresh) { [weak self] in self?.read() }
    }

    func close() {
        timer?.cancel()
        timer = nil
    }

    /// True when a count younger than maxAge says no seat is available.
    /// Every hold asks first, which keeps a followed event followed.
    func isSoldOut(_ eventId: String, now: ContinuousClock.Instant = .now) -> Bool {
        guard let entry = events[eventId] else { return false }
        entry.lastAsked = now
        guard let counts = entry.counts, let readAt = entry.readAt, now - readAt <= maxAge else { return false }
        return counts.available <= 0
    }

    /// An event that exists (a hold script answered for it) is followed from now on.
    func follow(_ eventId: String, now: ContinuousClock.Instant = .now) {
        guard events[eventId] == nil, events.count < maxEvents else { return }
        events[eventId] = Entry(lastAsked: now)
    }

    private func read() {
        guard !reading, !events.isEmpty else { return }
        let now = ContinuousClock.now
        events = events.filter { now - $0.value.lastAsked < forgetAfter }
        let ids = Array(events.keys)
        guard !ids.isEmpty else { return }
        reading = true
        redis.pipeline(ids.map { ["HMGET", EventKeys($0).event, "capacity", "held", "sold"] }) { [self] results in
            reading = false
            for (id, result) in zip(ids, results) {
                guard let entry = events[id] else { continue }
                guard case let .success(reply) = result, let values = reply.array, values.count == 3,
                      let capacity = values[0].int, let held = values[1].int, let sold = values[2].int else {
                    // Gone (or Redis away): stop answering from memory.
                    entry.counts = nil
                    continue
                }
                entry.counts = Counts(capacity: capacity, held: held, sold: sold)
                entry.readAt = now // as old as the request, not the reply
            }
        }
    }
}
