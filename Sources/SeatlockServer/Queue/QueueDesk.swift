// What a loop knows of the on-sale queues it serves, so that a buyer's poll
// is answered without a Redis call: every `refresh` one pipeline runs
// queue_tick.lua for each queue polled lately (the script also moves the
// queue on; calls closer than 100 ms to the last advance only read) and
// keeps its state. Per event the desk holds the state and the serving
// position's recent advances (one per advance, for admission deadlines and
// the observed pace): O(1) in the number of buyers.
//
// A state is used for at most `maxAge`; a poll that finds none fresh waits
// for the next read (all such polls share it).
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import Synchronization

final class QueueDesk {
    /// Process-wide counts for /metrics.
    static let pollsFromMemory = Atomic<Int>(0)
    static let joins = Atomic<Int>(0)
    static let redisCalls = Atomic<Int>(0)

    /// A join's answer: a place, or the script's refusal for the whole event (or Redis failing).
    enum JoinOutcome {
        case place(QueueState, QueueReply.Place)
        case refused(Result<RedisValue, RedisError>)
    }

    private struct PendingJoin {
        let userId: String
        let draw: UInt64
        let completion: (JoinOutcome) -> Void
    }

    /// What a read found: a queue, or why there is none.
    enum Reading {
        case queue(QueueState)
        case noQueue
        case noEvent
        case unavailable
    }

    private struct Advance {
        let serving: Int
        let at: Int
    }

    private struct Entry {
        var reading: Reading?
        var readAt: ContinuousClock.Instant?
        var lastAsked: ContinuousClock.Instant
        /// Advances of the serving position, oldest first, as old as admissionSeconds (plus one older).
        var advances: [Advance] = []
        var advancesLoaded = false
        var observedRate = 0.0
        /// The prequeue's size when this loop first saw it, and when: the joins' pace since.
        var prequeueSeen: (size: Int, at: ContinuousClock.Instant)?
        var prequeueRate = 0.0
        /// Positions this loop told "admitted" since its last read (automatic admission counts them).
        var told: Set<Int> = []
        var waiters: [(Reading) -> Void] = []
    }

    private let redis: RedisConnection
    private let scripts: BookingScripts
    private let shoppingBound: Int
    private let maxAge: Duration
    /// Longer than any Retry-After a poll is given: a queue whose buyers all wait
    /// must still be read (that read is what moves it on).
    private let forgetAfter: Duration = .seconds(120)
    private let maxEvents: Int
    private var events: [String: Entry] = [:]
    private var timer: LoopTimer?
    private var reading = false
    private let loop: EventLoop
    /// Joins wait here for at most a millisecond, then go to Redis in one call per event.
    private var pendingJoins: [String: [PendingJoin]] = [:]
    private var joinFlush: LoopTimer?
    private let maxJoinBatch = 200
    /// A read reports at most this many told positions (a few more per read than the bound admits).
    private let maxToldPerRead = 5_000

    init(loop: EventLoop, redis: RedisConnection, scripts: BookingScripts, shoppingBound: Int,
         refresh: Duration = .milliseconds(100), maxEvents: Int = 1_000) {
        self.loop = loop
        self.redis = redis
        self.scripts = scripts
        self.shoppingBound = shoppingBound
        self.maxAge = refresh * 3
        self.maxEvents = maxEvents
        timer = loop.scheduleRepeating(every: refresh) { [weak self] in self?.read() }
    }

    func close() {
        timer?.cancel()
        timer = nil
        joinFlush?.cancel()
        joinFlush = nil
    }

    /// Joins the buyer (or, for a prequeue ticket the queue has reached, learns
    /// the position drawn): gathered with the other joins of this loop.
    func join(_ eventId: String, userId: String, draw: UInt64, _ completion: @escaping (JoinOutcome) -> Void) {
        pendingJoins[eventId, default: []].append(PendingJoin(userId: userId, draw: draw, completion: completion))
        if pendingJoins[eventId]!.count >= maxJoinBatch {
            flushJoins(eventId)
        } else if joinFlush == nil {
            joinFlush = loop.schedule(after: .milliseconds(1)) { [weak self] in
                guard let self else { return }
                joinFlush = nil
                for eventId in Array(pendingJoins.keys) { flushJoins(eventId) }
            }
        }
    }

    private func flushJoins(_ eventId: String) {
        guard let batch = pendingJoins.removeValue(forKey: eventId), !batch.isEmpty else { return }
        Self.joins.add(batch.count, ordering: .relaxed)
        Self.redisCalls.add(1, ordering: .relaxed)
        redis.run(scripts.queueJoin(event: eventId, buyers: batch.map { ($0.userId, $0.draw) })) { [self] result in
            guard case let .success(value) = result, let reply = QueueReply(value), reply.places.count == batch.count else {
                for join in batch { join.completion(.refused(result)) }
                return
            }
            if var entry = events[eventId] { // fresher than the last read
                note(reply.state, in: &entry)
                entry.reading = .queue(reply.state)
                entry.readAt = .now
                events[eventId] = entry
            }
            for (join, place) in zip(batch, reply.places) { join.completion(.place(reply.state, place)) }
        }
    }

    /// Calls `body` with the event's queue: now when this loop's reading is
    /// fresh, else after the next read. Follows the event from now on.
    func withQueue(_ eventId: String, now: ContinuousClock.Instant = .now, _ body: @escaping (Reading) -> Void) {
        if var entry = events[eventId] {
            entry.lastAsked = now
            if let reading = entry.reading, let readAt = entry.readAt, now - readAt <= maxAge {
                events[eventId] = entry
                Self.pollsFromMemory.add(1, ordering: .relaxed)
                return body(reading)
            }
            entry.waiters.append(body)
            events[eventId] = entry
            return
        }
        guard events.count < maxEvents else {
            // Full (many made-up ids): this one request reads for itself.
            Self.redisCalls.add(1, ordering: .relaxed)
            return redis.run(scripts.queueTick(event: eventId, bound: shoppingBound)) { result in body(Self.reading(result)) }
        }
        events[eventId] = Entry(lastAsked: now, waiters: [body])
    }

    /// When the queue reached `position` (ms since the epoch), as far as this loop saw it advance.
    func admittedAt(_ eventId: String, position: Int) -> Int? {
        guard let advances = events[eventId]?.advances, let last = advances.last, last.serving >= position else { return nil }
        var low = 0, high = advances.count - 1
        while low < high {
            let middle = (low + high) / 2
            if advances[middle].serving >= position { high = middle } else { low = middle + 1 }
        }
        return advances[low].at
    }

    /// A buyer at `position` was just told "admitted".
    func told(_ eventId: String, position: Int) {
        guard let count = events[eventId]?.told.count, count < maxToldPerRead else { return }
        events[eventId]?.told.insert(position)
    }

    /// Positions admitted per second over the last ~5 s of advances.
    func observedRate(_ eventId: String) -> Double { events[eventId]?.observedRate ?? 0 }

    /// The prequeue's size at the open if buyers keep joining at the pace this loop saw
    /// since it first read the prequeue (its size now when no pace was seen yet), over the
    /// last minute before the open at most: joins long before it say little about the rush.
    func expectedPrequeue(_ eventId: String, _ state: QueueState, now: Int) -> Int {
        let rate = events[eventId]?.prequeueRate ?? 0
        let horizon = min(max(0, state.opensAt - now), Self.prequeueHorizonMs)
        return state.prequeued + Int(max(0, rate) * Double(horizon) / 1000)
    }

    static let prequeueHorizonMs = 60_000

    private func read() {
        guard !reading, !events.isEmpty else { return }
        let now = ContinuousClock.now
        // An id that is no queue (made up, or an event that sells directly) is forgotten
        // soon: only real queues are read for minutes after the last ask.
        events = events.filter { _, entry in
            let forget: Duration = switch entry.reading {
            case .noEvent?, .noQueue?: .seconds(2)
            default: forgetAfter
            }
            return now - entry.lastAsked < forget || !entry.waiters.isEmpty
        }
        let ids = Array(events.keys)
        guard !ids.isEmpty else { return }
        var commands: [[String]] = []
        var loading: [String] = []
        var reported: [String: Set<Int>] = [:]
        for id in ids {
            let told = events[id]?.told ?? []
            reported[id] = told
            events[id]?.told = []
            let call = scripts.queueTick(event: id, bound: shoppingBound, told: Array(told))
            commands.append(call.script.evalshaArguments(keys: call.keys, args: call.args))
            if events[id]?.advancesLoaded == false {
                loading.append(id)
                commands.append(["LRANGE", EventKeys(id).queueCheckpoints, "0", "-1"])
            }
        }
        reading = true
        Self.redisCalls.add(commands.count, ordering: .relaxed)
        redis.pipeline(commands) { [self] results in
            reading = false
            var index = 0
            for id in ids {
                let result = results[index]
                index += 1
                var checkpoints: RedisValue?
                if loading.contains(id) {
                    if case let .success(value) = results[index] { checkpoints = value }
                    index += 1
                }
                if case let .success(.error(message)) = result, message.hasPrefix("NOSCRIPT") {
                    // Redis lost its scripts (restart): one call reloads it, the next read works again.
                    redis.run(scripts.queueTick(event: id, bound: shoppingBound)) { _ in }
                }
                guard var entry = events[id] else { continue }
                let reading = Self.reading(result)
                if case .unavailable = reading { entry.told.formUnion(reported[id] ?? []) } // reported again next time
                if let checkpoints, case .queue = reading {
                    // (standstill checkpoints repeat a serving position: its first time is when it was reached)
                    var seen = 0
                    entry.advances = (checkpoints.array ?? []).compactMap(Self.advance).filter { advance in
                        defer { seen = max(seen, advance.serving) }
                        return advance.serving > seen
                    }
                    entry.advancesLoaded = true
                }
                if case let .queue(state) = reading { note(state, in: &entry) }
                entry.reading = reading
                entry.readAt = now // as old as the request, not the reply
                let waiters = entry.waiters
                entry.waiters = []
                events[id] = entry
                for waiter in waiters { waiter(reading) }
            }
        }
    }

    /// Keeps the advances and the pace up to date with a new state.
    private func note(_ state: QueueState, in entry: inout Entry) {
        if state.status == "prequeue" {
            let now = ContinuousClock.now
            if let first = entry.prequeueSeen {
                let elapsed = first.at.duration(to: now)
                if elapsed >= .seconds(1) { entry.prequeueRate = Double(state.prequeued - first.size) / elapsed.secondsValue }
            } else {
                entry.prequeueSeen = (state.prequeued, now)
            }
        }
        if state.serving > (entry.advances.last?.serving ?? 0), state.lastAdvancedAt > 0 {
            entry.advances.append(Advance(serving: state.serving, at: state.lastAdvancedAt))
        }
        let cutoff = state.lastAdvancedAt - state.admissionSeconds * 1000
        if let keep = entry.advances.lastIndex(where: { $0.at <= cutoff }), keep > 0 { entry.advances.removeFirst(keep) }
        let recent = entry.advances.last { $0.at <= state.lastAdvancedAt - 5_000 } ?? entry.advances.first
        if let recent, let last = entry.advances.last, last.at > recent.at {
            entry.observedRate = Double(last.serving - recent.serving) * 1000 / Double(last.at - recent.at)
        }
    }

    private static func advance(_ value: RedisValue) -> Advance? {
        guard let text = value.string else { return nil }
        let parts = text.split(separator: ":")
        guard parts.count == 4, let serving = Int(parts[0]), let at = Int(parts[3]) else { return nil }
        return Advance(serving: serving, at: at)
    }

    static func reading(_ result: Result<RedisValue, RedisError>) -> Reading {
        guard case let .success(value) = result else { return .unavailable }
        if let reply = QueueReply(value) { return .queue(reply.state) }
        switch StateChange(value)?.word {
        case "no_queue"?: return .noQueue
        case "no_event"?: return .noEvent
        default: return .unavailable
        }
    }
}
