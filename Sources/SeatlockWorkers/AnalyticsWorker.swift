// The analytics service: the `analytics` consumer group on every event's
// log. The entries go through analytics_apply.lua, which folds them into the
// event's real-time figures (sl:{E}:stats, :buyers, :confirm_ms, :series):
// one atomic call per batch a read brought (up to 256 entries of one event),
// nothing computed here.
//
// The figures are a fold of the log in order, each entry exactly once. The
// script skips an entry it already applied (redelivery) and refuses one that
// comes before the entry ahead of it was applied ('gap': that one failed, or
// a crashed consumer left it pending); the worker then applies the log from
// the last applied entry onwards itself (XRANGE), at once, instead of
// waiting for the group to claim the missing entries back. The claimed ones
// are later skipped as duplicates and acked.
//
// `rebuild` folds the whole log again from scratch into staging keys and
// swaps them in, atomically, once it has reached the log's end: the worker
// may keep running meanwhile.
import Foundation
import Logging
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import Synchronization

public struct AnalyticsOptions: Sendable {
    public var consumer: ConsumerOptions
    /// Log entries read per XRANGE when the worker applies missing entries itself.
    public var catchUpBatch = 256
    /// Times an entry is retried after applying the entries before it.
    public var catchUpRounds = 3

    public init(consumer: String = "analytics-\(ProcessInfo.processInfo.processIdentifier)") {
        self.consumer = ConsumerOptions(group: "analytics", consumer: consumer)
        self.consumer.batchSize = 256 // (one script call folds a whole read)
    }
}

public struct AnalyticsError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidEvent = "invalid_event"
        case logTrimmed = "log_trimmed"
        case unexpectedReply = "unexpected_reply"
    }
    public let code: Code
    public let message: String
    public var description: String { "\(code.rawValue): \(message)" }

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}

public final class AnalyticsWorker: LoopWorker {
    private let script: LuaScript
    private let options: AnalyticsOptions
    private var consumer: StreamConsumer!
    /// Streams whose missing entries are being applied, with the entries that
    /// found the same gap meanwhile (retried, in order, when it is filled).
    private var catchingUp: [String: [() -> Void]] = [:]
    private let logger = Logger(label: "seatlock.analytics")

    public init(loop: EventLoop, redis: RedisURL, script: LuaScript, options: AnalyticsOptions) {
        self.script = script
        self.options = options
        consumer = StreamConsumer(loop: loop, redis: redis, options: options.consumer) { [unowned self] entries, done in
            handle(entries, done)
        }
    }

    public func stop(done: @escaping () -> Void) { consumer.stop(done: done) }

    private var redis: RedisConnection { consumer.connection }

    /// `entries`: one stream's, in log order.
    private func handle(_ entries: [StreamEntry], _ done: @escaping ([HandlerOutcome]) -> Void) {
        guard let first = entries.first, let eventId = EventKeys.eventId(ofLog: first.stream) else {
            return done(entries.map { _ in .done }) // not an event's log
        }
        apply(entries, eventId: eventId, rounds: options.catchUpRounds, done)
    }

    private func apply(_ entries: [StreamEntry], eventId: String, rounds: Int, _ done: @escaping ([HandlerOutcome]) -> Void) {
        redis.run(AnalyticsScript.call(script, eventId: eventId, entries: entries.map { ($0.id, $0.fields) })) { [self] result in
            let reply: RedisValue
            switch result {
            case let .success(value): reply = value
            case let .failure(error): return done(entries.map { _ in .failed("analytics_apply.lua: \(error)") })
            }
            guard let outcomes = AnalyticsScript.outcomes(reply), outcomes.count == entries.count else {
                return done(entries.map { _ in .failed("analytics_apply.lua answered \(reply)") })
            }
            // Entries before the first gap are done; from it on, none was applied.
            guard let gap = outcomes.firstIndex(where: { if case .gap = $0 { true } else { false } }),
                  case let .gap(lastEntry) = outcomes[gap] else {
                return done(outcomes.map { _ in .done })
            }
            let settled: [HandlerOutcome] = Array(repeating: .done, count: gap)
            let rest = Array(entries[gap...])
            guard rounds > 0 else {
                return done(settled + rest.map { _ in .failed("entries before it are still not applied") })
            }
            catchUp(stream: rest[0].stream, eventId: eventId, after: lastEntry, before: rest[0].id) { [self] in
                apply(rest, eventId: eventId, rounds: rounds - 1) { done(settled + $0) }
            }
        }
    }

    /// Applies the log entries after `lastEntry` and before `entryId`, in
    /// order, then calls `then` (also when that failed: the entry is tried
    /// again and fails for good after its rounds). One catch-up per stream at
    /// a time; entries that hit the gap meanwhile wait for it.
    private func catchUp(stream: String, eventId: String, after lastEntry: String, before entryId: String, then: @escaping () -> Void) {
        if catchingUp[stream] != nil {
            catchingUp[stream]?.append(then)
            return
        }
        catchingUp[stream] = [then]
        logger.info("applying log entries missed before this one", metadata: ["stream": "\(stream)", "after": "\(lastEntry)", "entry": "\(entryId)"])
        catchUpBatch(stream: stream, eventId: eventId, start: lastEntry.isEmpty ? "-" : "(" + lastEntry, end: "(" + entryId) { [self] failure in
            if let failure {
                logger.warning("catching up failed", metadata: ["stream": "\(stream)", "reason": "\(failure)"])
            }
            let waiting = catchingUp.removeValue(forKey: stream) ?? []
            for next in waiting { next() }
        }
    }

    private func catchUpBatch(stream: String, eventId: String, start: String, end: String, completion: @escaping (String?) -> Void) {
        redis.send(["XRANGE", stream, start, end, "COUNT", String(options.catchUpBatch)]) { [self] result in
            guard case let .success(list) = result, list.errorMessage == nil else { return completion("XRANGE: \(result)") }
            let entries = StreamConsumer.entries(stream: stream, list: list)
            guard let last = entries.last else { return completion(nil) }
            redis.run(AnalyticsScript.call(script, eventId: eventId, entries: entries.map { ($0.id, $0.fields) })) { [self] result in
                let outcomes = (try? result.get()).flatMap(AnalyticsScript.outcomes) ?? []
                let failed = outcomes.count != entries.count || outcomes.contains { if case .gap = $0 { true } else { false } }
                if failed { return completion("entries after \(start): \(result)") }
                if entries.count < options.catchUpBatch { return completion(nil) }
                catchUpBatch(stream: stream, eventId: eventId, start: "(" + last.id, end: end, completion: completion)
            }
        }
    }
}

/// Runs an AnalyticsWorker on its own thread (for `seatlock worker
/// analytics`, `seatlock up` and the tests), and rebuilds an event's figures.
public final class AnalyticsService: LoopService, @unchecked Sendable {
    public init(redis: RedisURL, script: LuaScript, options: AnalyticsOptions = AnalyticsOptions()) {
        super.init(name: "seatlock-analytics", stopTimeout: .seconds(10)) { loop in
            AnalyticsWorker(loop: loop, redis: redis, script: script, options: options)
        }
    }

    /// Takes lua/analytics_apply.lua from the library.
    public convenience init(redis: RedisURL, library: ScriptLibrary, options: AnalyticsOptions = AnalyticsOptions()) throws {
        let script = try library.script(AnalyticsScript.name)
        self.init(redis: redis, script: script, options: options)
    }

    /// Recomputes the event's figures from its whole log: folds every entry
    /// (XRANGE in batches, pipelined) through analytics_apply.lua into the
    /// staging keys, then, once they have reached the log's last entry,
    /// replaces the live keys with them in one MULTI/EXEC (WATCH on the log:
    /// an entry appended meanwhile is folded first). A running worker loses
    /// nothing: what it applied is in the log, hence in the rebuild, and it
    /// carries on from the rebuilt lastEntry. Returns the entries applied.
    ///
    /// A trimmed log (LogTrimmer) no longer holds the first entries: the
    /// rebuild would undercount, so it is refused unless `allowTrimmedLog`.
    /// Run one rebuild per event at a time (they share the staging keys).
    public static func rebuild(eventId: String, client: RedisClient, script: LuaScript, batchSize: Int = 1000,
                               allowTrimmedLog: Bool = false) throws -> Int {
        guard Identifier.isValid(eventId) else { throw AnalyticsError(.invalidEvent, "not an event id: \(eventId)") }
        let log = EventKeys(eventId).log
        let staging = AnalyticsKeys.staging(eventId), live = AnalyticsKeys(eventId)
        let batch = max(1, batchSize)
        try client.checked(["DEL"] + staging.all)
        try client.checked(["SCRIPT", "LOAD", script.source])
        if !allowTrimmedLog, let first = try client.checked(["XRANGE", log, "-", "+", "COUNT", "1"]).array?.first,
           first.array?.last?.fields["type"] != "event.created" {
            throw AnalyticsError(.logTrimmed, "the log of \(eventId) no longer starts with event.created (trimmed): a rebuild would undercount")
        }
        var applied = 0
        var start = "-"
        while true {
            let list = try client.checked(["XRANGE", log, start, "+", "COUNT", String(batch)])
            let entries = StreamConsumer.entries(stream: log, list: list)
            if let last = entries.last {
                let chunks = stride(from: 0, to: entries.count, by: 256).map { entries[$0..<min($0 + 256, entries.count)] }
                let calls = chunks.map { AnalyticsScript.call(script, eventId: eventId, entries: $0.map { ($0.id, $0.fields) }, into: staging) }
                let replies = try client.pipeline(calls.map { $0.script.evalshaArguments(keys: $0.keys, args: $0.args) })
                for (chunk, reply) in zip(chunks, replies) {
                    guard let outcomes = AnalyticsScript.outcomes(reply), outcomes.count == chunk.count else {
                        throw AnalyticsError(.unexpectedReply, "entries from \(chunk.first?.id ?? "?") of \(log): \(reply)")
                    }
                    for (entry, outcome) in zip(chunk, outcomes) {
                        switch outcome {
                        case .applied: applied += 1
                        case .duplicate, .invalid: break
                        case .gap: throw AnalyticsError(.unexpectedReply, "entry \(entry.id) of \(log): gap")
                        }
                    }
                }
                start = "(" + last.id
                if entries.count == batch { continue }
            }
            if try swapIn(staging: staging, live: live, log: log, client: client) { return applied }
        }
    }

    /// Replaces the live keys with the staging ones if the staging fold has
    /// reached the log's last entry and the log does not change before EXEC.
    private static func swapIn(staging: AnalyticsKeys, live: AnalyticsKeys, log: String, client: RedisClient) throws -> Bool {
        try client.checked(["WATCH", log])
        let newest = try client.checked(["XREVRANGE", log, "+", "-", "COUNT", "1"]).array?.first?.array?.first?.string
        let reached = try client.checked(["HGET", staging.stats, "lastEntry"]).string
        if let newest, let newestId = StreamID(newest), reached.flatMap(StreamID.init).map({ $0 < newestId }) ?? true {
            try client.checked(["UNWATCH"])
            return false // entries were appended since the last batch
        }
        var present: [String] = []
        for key in staging.all {
            if try client.checked(["EXISTS", key]).int == 1 { present.append(key) }
        }
        try client.checked(["MULTI"])
        try client.checked(["DEL"] + live.all)
        for (from, to) in zip(staging.all, live.all) where present.contains(from) {
            try client.checked(["RENAME", from, to])
        }
        let result = try client.send(["EXEC"])
        if let message = result.errorMessage { throw AnalyticsError(.unexpectedReply, "EXEC: \(message)") }
        return result != .null // null: the log changed after WATCH; fold the new entries first
    }
}
