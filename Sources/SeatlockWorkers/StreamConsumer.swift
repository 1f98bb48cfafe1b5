// A Redis Streams consumer group over every event's log (sl:{E}:log for each
// E in sl:events), on one event loop. Delivery is at least once: an entry is
// acked only when its handler says its effect is durable; entries left
// pending by a crashed consumer are claimed back (XAUTOCLAIM) after an idle
// time; an entry delivered more than `maxDeliveries` times is copied to the
// dead-letter stream sl:dlq:<group> with the reason, and acked. Handlers must
// be idempotent (the booking id makes a replay a no-op).
import Foundation
import Logging
import SeatlockCore
import SeatlockLoop
import SeatlockRedis

public struct StreamEntry: Sendable, Equatable {
    public let stream: String
    public let id: String
    public let fields: [String: String]
    public var type: String { fields["type"] ?? "" }
    /// Of a topic the group does not act on: acked without its fields read.
    var unread = false
}

public enum HandlerOutcome: Sendable, Equatable {
    /// The effect is durable: ack the entry.
    case done
    /// Could not be handled now: leave it pending; it is claimed again after
    /// the idle time and dead-lettered after too many deliveries.
    case failed(String)
}

public struct ConsumerOptions: Sendable {
    public var group: String
    public var consumer: String
    public var batchSize = 64
    public var block: Duration = .milliseconds(500)
    /// How long an entry stays pending before another consumer claims it.
    public var claimIdle: Duration = .seconds(30)
    public var claimEvery: Duration = .seconds(1)
    public var maxDeliveries = 5
    /// Entries handled at once (slow handlers do not hold up the others).
    public var maxInFlight = 512
    public var discoverEvery: Duration = .seconds(1)
    /// On a Redis Cluster, where reads do not block: the pause after the first round that found nothing.
    public var clusterIdlePause: Duration = .milliseconds(50)
    /// The topics (`type`) the handler acts on; nil: every entry. The others
    /// are acked as they arrive, their fields never parsed (a log carries
    /// every topic, and most are of no interest to payments or notifications).
    public var topics: Set<String>?

    public init(group: String, consumer: String) {
        self.group = group
        self.consumer = consumer
    }
}

public enum DeadLetter {
    /// The field scripts/ops/dlq-replay adds to a replayed entry: the group it is for.
    public static let replayField = "replayFor"
}

public final class StreamConsumer {
    public typealias Handler = (StreamEntry, @escaping (HandlerOutcome) -> Void) -> Void
    /// Entries of one stream, in log order; the outcomes come back in the same order.
    public typealias BatchHandler = ([StreamEntry], @escaping ([HandlerOutcome]) -> Void) -> Void

    private let loop: EventLoop
    private let options: ConsumerOptions
    private let handler: Handler?
    private let batchHandler: BatchHandler?
    private let reader: RedisConnection
    private let commands: RedisConnection
    private var streams: [String] = []
    private var inFlight = 0
    private var stopping = false
    private var reading = false
    /// The pause after the last empty round of cluster reads.
    private var idlePause: Duration = .milliseconds(25)
    private var timers: [LoopTimer] = []
    private var onDrained: (() -> Void)?
    /// Why each entry last failed here, for its dead letter (bounded).
    private var lastFailure: [String: String] = [:]
    /// Entries handled since the loop last came round, acked together: one
    /// XACK per stream for a batch, not one per entry.
    private var acks: [String: [String]] = [:]
    private var acksScheduled = false
    private let logger: Logger

    /// Each entry handled on its own: a slow one does not hold up the others.
    public convenience init(loop: EventLoop, redis: RedisURL, options: ConsumerOptions, handler: @escaping Handler) {
        self.init(loop: loop, redis: redis, options: options, handler: handler, batchHandler: nil)
    }

    /// The entries each read brought, handed over a stream at a time (a
    /// handler that folds them in one call).
    public convenience init(loop: EventLoop, redis: RedisURL, options: ConsumerOptions, batchHandler: @escaping BatchHandler) {
        self.init(loop: loop, redis: redis, options: options, handler: nil, batchHandler: batchHandler)
    }

    private init(loop: EventLoop, redis: RedisURL, options: ConsumerOptions, handler: Handler?, batchHandler: BatchHandler?) {
        self.loop = loop
        self.options = options
        self.handler = handler
        self.batchHandler = batchHandler
        var readerOptions = RedisConnectionOptions()
        readerOptions.commandTimeout = options.block + .seconds(2) // XREADGROUP BLOCK must not look stuck
        reader = RedisConnection(loop: loop, url: redis, options: readerOptions)
        commands = RedisConnection(loop: loop, url: redis)
        logger = Logger(label: "seatlock.\(options.group)")
        discover()
        timers.append(loop.scheduleRepeating(every: options.discoverEvery) { [weak self] in self?.discover() })
        timers.append(loop.scheduleRepeating(every: options.claimEvery) { [weak self] in self?.reclaim() })
    }

    /// The connection handlers should use for their own commands.
    public var connection: RedisConnection { commands }

    /// Stops reading, lets the entries in hand finish, then calls `done`.
    public func stop(done: @escaping () -> Void) {
        stopping = true
        for timer in timers { timer.cancel() }
        let finish = { [self] in
            reader.close()
            commands.close()
            done()
        }
        if inFlight == 0 { finish() } else { onDrained = finish }
    }

    // MARK: discovery

    private func discover() {
        commands.send(["SMEMBERS", GlobalKeys.events]) { [self] result in
            let events = (try? result.get())?.array?.compactMap(\.string).filter { Identifier.isValid($0) } ?? []
            let fresh = events.map { EventKeys($0).log }.filter { !streams.contains($0) }
            guard !fresh.isEmpty else { return readIfIdle() }
            var remaining = fresh.count
            for stream in fresh {
                // Idempotent: BUSYGROUP means the group is already there.
                commands.send(["XGROUP", "CREATE", stream, options.group, "0", "MKSTREAM"]) { [self] result in
                    if case .success(let reply) = result, reply.errorMessage == nil || reply.errorMessage!.hasPrefix("BUSYGROUP") {
                        if !streams.contains(stream) { streams.append(stream) }
                    }
                    remaining -= 1
                    if remaining == 0 { readIfIdle() }
                }
            }
        }
    }

    // MARK: reading

    private func readIfIdle() {
        guard !reading, !stopping, !streams.isEmpty else { return }
        guard inFlight < options.maxInFlight else { return } // resumed when handlers finish
        reading = true
        let count = min(options.batchSize, options.maxInFlight - inFlight)
        if reader.isCluster { return readEverySlot(count: count) }
        let blockMs = String(options.block.wholeMilliseconds)
        let command = ["XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", String(count), "BLOCK", blockMs, "STREAMS"]
            + streams + Array(repeating: ">", count: streams.count)
        reader.send(command) { [self] result in
            switch result {
            case let .success(reply):
                reading = false
                if let message = reply.errorMessage, message.hasPrefix("NOGROUP") {
                    streams.removeAll() // a stream was deleted; rediscover
                    discover()
                    return
                }
                dispatch(Self.entries(reply, topics: options.topics))
                readIfIdle()
            case .failure:
                pauseReading(.milliseconds(200))
            }
        }
    }

    /// No read until `pause` is over (the other triggers of a read, discovery
    /// and finished handlers, wait too: one read chain, never several).
    private func pauseReading(_ pause: Duration) {
        reading = true
        loop.schedule(after: pause) { [weak self] in
            self?.reading = false
            self?.readIfIdle()
        }
    }

    /// On a cluster one XREADGROUP may only name streams of one slot (each
    /// event's log has its own), and a blocked read would hold its node's
    /// connection: each slot is read without BLOCK, all at once, and a round
    /// that finds nothing waits `clusterIdlePause` before the next, twice as
    /// long after each further empty round, up to `block`.
    private func readEverySlot(count: Int) {
        var bySlot: [Int: [String]] = [:]
        for stream in streams { bySlot[ClusterSlot.of(stream), default: []].append(stream) }
        let reads = bySlot.values.map { group in
            ["XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", String(count), "STREAMS"]
                + group + Array(repeating: ">", count: group.count)
        }
        reader.pipeline(reads) { [self] results in
            var found: [StreamEntry] = []
            var failed = false
            for result in results {
                switch result {
                case let .success(reply):
                    if let message = reply.errorMessage {
                        if message.hasPrefix("NOGROUP") { streams.removeAll() } // rediscovered below
                        failed = true
                    } else {
                        found += Self.entries(reply, topics: options.topics)
                    }
                case .failure:
                    failed = true
                }
            }
            if streams.isEmpty { discover() }
            dispatch(found)
            if found.isEmpty || failed {
                // Quiet logs are read less and less often, down to once per `block`.
                idlePause = min(idlePause * 2, options.block)
                pauseReading(failed ? .milliseconds(200) : idlePause)
            } else {
                idlePause = options.clusterIdlePause / 2
                reading = false
                readIfIdle()
            }
        }
    }

    private func dispatch(_ entries: [StreamEntry]) {
        inFlight += entries.count
        // A dead letter replayed to the log is meant for the group that
        // failed it (scripts/ops/dlq-replay marks it); every other group has
        // already handled the original and must not count or act twice.
        var mine: [StreamEntry] = []
        for entry in entries {
            if entry.unread {
                ack(entry)
            } else if let target = entry.fields[DeadLetter.replayField], target != options.group {
                ack(entry)
            } else {
                mine.append(entry)
            }
        }
        if let handler {
            for entry in mine { handler(entry) { [self] outcome in settle(entry, outcome) } }
            return
        }
        guard let batchHandler else { return }
        var start = mine.startIndex
        while start < mine.endIndex { // (a read brings the entries of each stream together, in order)
            let stream = mine[start].stream
            let end = mine[start...].firstIndex { $0.stream != stream } ?? mine.endIndex
            let batch = Array(mine[start..<end])
            batchHandler(batch) { [self] outcomes in
                for (index, entry) in batch.enumerated() {
                    settle(entry, index < outcomes.count ? outcomes[index] : .failed("the handler gave no outcome"))
                }
            }
            start = end
        }
    }

    private func settle(_ entry: StreamEntry, _ outcome: HandlerOutcome) {
        switch outcome {
        case .done:
            lastFailure[entry.id] = nil
            ack(entry)
        case let .failed(reason):
            if lastFailure.count < 10_000 { lastFailure[entry.id] = reason }
            logger.warning("entry not handled; it stays pending", metadata: ["stream": "\(entry.stream)", "id": "\(entry.id)", "reason": "\(reason)"])
            finished()
        }
    }

    private func ack(_ entry: StreamEntry) {
        acks[entry.stream, default: []].append(entry.id)
        guard !acksScheduled else { return }
        acksScheduled = true
        loop.schedule(after: .zero) { [self] in
            acksScheduled = false
            let batches = acks
            acks = [:]
            for (stream, ids) in batches {
                // (an XACK that fails leaves the entries pending: claimed again, and handlers are idempotent)
                commands.send(["XACK", stream, options.group] + ids) { [self] _ in finished(ids.count) }
            }
        }
    }

    private func finished(_ count: Int = 1) {
        inFlight -= count
        if inFlight == 0, let onDrained {
            self.onDrained = nil
            onDrained()
            return
        }
        readIfIdle()
    }

    // MARK: recovery

    /// Claims entries idle longer than `claimIdle` (their consumer crashed or
    /// their handler failed), dead-lettering those delivered too often.
    private func reclaim() {
        guard !stopping else { return }
        let idleMs = String(options.claimIdle.wholeMilliseconds)
        for stream in streams {
            commands.send(["XAUTOCLAIM", stream, options.group, options.consumer, idleMs, "0-0", "COUNT", String(options.batchSize)]) { [self] result in
                guard case let .success(reply) = result, let parts = reply.array, parts.count >= 2 else { return }
                for entry in Self.entries(stream: stream, list: parts[1], topics: options.topics) {
                    commands.send(["XPENDING", stream, options.group, entry.id, entry.id, "1"]) { [self] pending in
                        let deliveries = (try? pending.get())?.array?.first?.array?[3].int ?? 1
                        if deliveries > options.maxDeliveries {
                            let cause = lastFailure.removeValue(forKey: entry.id) ?? "failed on another consumer"
                            deadLetter(entry, reason: "delivered \(deliveries) times without success; last failure: \(cause)")
                        } else {
                            dispatch([entry])
                        }
                    }
                }
            }
        }
    }

    private func deadLetter(_ entry: StreamEntry, reason: String) {
        var command = ["XADD", GlobalKeys.deadLetters(group: options.group), "*", "stream", entry.stream, "entryId", entry.id,
                       "reason", reason, "group", options.group]
        for (field, value) in entry.fields.sorted(by: { $0.key < $1.key }) { command += ["field." + field, value] }
        commands.send(command) { [self] result in
            guard case .success(let reply) = result, reply.errorMessage == nil else { return } // retried next claim
            logger.error("entry dead-lettered", metadata: ["stream": "\(entry.stream)", "id": "\(entry.id)", "reason": "\(reason)"])
            commands.send(["XACK", entry.stream, options.group, entry.id]) { _ in }
        }
    }

    // MARK: reply parsing

    /// XREADGROUP reply: [[stream, [[id, [f, v, ...]], ...]], ...]
    static func entries(_ reply: RedisValue, topics: Set<String>? = nil) -> [StreamEntry] {
        guard let streams = reply.array else { return [] }
        return streams.flatMap { item -> [StreamEntry] in
            guard let pair = item.array, pair.count == 2, let stream = pair[0].string else { return [] }
            return entries(stream: stream, list: pair[1], topics: topics)
        }
    }

    static func entries(stream: String, list: RedisValue, topics: Set<String>? = nil) -> [StreamEntry] {
        (list.array ?? []).compactMap { raw in
            guard let parts = raw.array, parts.count == 2, let id = parts[0].string else { return nil } // nil: trimmed away
            if let topics, !topics.contains(topic(of: parts[1])) {
                return StreamEntry(stream: stream, id: id, fields: [:], unread: true)
            }
            return StreamEntry(stream: stream, id: id, fields: parts[1].fields)
        }
    }

    /// The `type` field of an entry's flat field list, without building the rest.
    private static func topic(of fields: RedisValue) -> String {
        guard let items = fields.array else { return "" }
        var index = 0
        while index + 1 < items.count {
            if items[index].string == "type" { return items[index + 1].string ?? "" }
            index += 2
        }
        return ""
    }
}
