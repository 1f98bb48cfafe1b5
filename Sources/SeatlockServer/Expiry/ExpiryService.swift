// Gives expired holds back, on time, even when things go wrong.
//
// The listener is the fast path: Redis publishes an `expired` keyspace event
// when it deletes a booking's timer key (sl:{E}:expiry:B), and the listener
// runs expire.lua for that booking. Pub/sub is fire-and-forget, and Redis
// only fires `expired` when it actually evicts the key (which lags the TTL
// when many keys are live: measured here, with a few thousand other TTL keys
// most timers were never seen to expire before the sweeper got them), so the
// sweeper is the guarantee: it takes the bookings whose deadline has passed
// from sl:{E}:expiries, in bounded batches, and runs the same script. It
// wakes at the earliest upcoming deadline it saw (never sooner than 50 ms
// apart, never later than the sweep interval), so it is on time by itself.
// expire.lua is idempotent: both paths, and several processes, may act on
// one booking.
import Foundation
import Logging
import SeatlockCore
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import Synchronization

public struct ExpiryOptions: Sendable {
    /// Run the keyspace-notification listener (the sweeper always runs).
    public var listen = true
    /// The longest the sweeper sleeps.
    public var sweepInterval: Duration = .seconds(1)
    /// The shortest pause between two sweeps.
    public var minimumSweepPause: Duration = .milliseconds(50)
    /// Bookings taken from one event's expiries set per ZRANGEBYSCORE: each
    /// call is short, so a backlog of a million never holds Redis for long.
    public var batchSize = 500
    public init() {}
}

/// Counts of bookings this process expired, by path.
public struct ExpiryCounts: Sendable, Equatable {
    public var byListener = 0
    public var bySweeper = 0
    public init(byListener: Int = 0, bySweeper: Int = 0) {
        self.byListener = byListener
        self.bySweeper = bySweeper
    }
}

/// Shared between the service (read by any thread) and its worker (the loop).
final class ExpiryCounter: Sendable {
    let value = Mutex(ExpiryCounts())
}

/// The listener and the sweeper on a loop of their own (inside `serve`, or
/// `seatlock expiry` alone).
public final class ExpiryService: LoopService, @unchecked Sendable {
    private let counts: ExpiryCounter

    public init(redis: RedisURL, scripts: BookingScripts, options: ExpiryOptions = ExpiryOptions()) {
        let counts = ExpiryCounter()
        self.counts = counts
        super.init(name: "seatlock-expiry", stopTimeout: .seconds(5)) { loop in
            ExpiryWorker(loop: loop, redis: redis, scripts: scripts, options: options, counts: counts)
        }
    }

    public var expired: ExpiryCounts { counts.value.withLock { $0 } }

    /// Makes sure Redis publishes expired-key events (flags `E` and `x`) on
    /// every primary, setting them if needed. Throws with the setting's name
    /// if it may not.
    public static func ensureNotifications(_ client: RedisClient) throws {
        for node in try client.primaries() { try ensureNotifications(node: node) }
    }

    private static func ensureNotifications(node client: RedisClient) throws {
        let current = try client.send(["CONFIG", "GET", "notify-keyspace-events"])
        if let message = current.errorMessage {
            throw ExpiryError.notifications("cannot read notify-keyspace-events (\(message)); set it to include 'Ex' on the Redis server, or run with --no-expiry and rely on the sweeper")
        }
        let flags = current.array?.last?.string ?? ""
        let hasKeyevent = flags.contains("E")
        let hasExpired = flags.contains("x") || flags.contains("A")
        if hasKeyevent && hasExpired { return }
        let wanted = flags + (hasKeyevent ? "" : "E") + (hasExpired ? "" : "x")
        let set = try client.send(["CONFIG", "SET", "notify-keyspace-events", wanted])
        if let message = set.errorMessage {
            throw ExpiryError.notifications("Redis does not publish expired-key events and refused CONFIG SET notify-keyspace-events \(wanted) (\(message)); set notify-keyspace-events to include 'Ex', or run with --no-expiry")
        }
    }
}

public enum ExpiryError: Error, CustomStringConvertible {
    case notifications(String)
    public var description: String {
        switch self {
        case let .notifications(message): message
        }
    }
}

/// The listener and the sweeper on one loop: a pub/sub connection and a
/// command connection (a subscribed connection cannot run scripts).
private final class ExpiryWorker: LoopWorker {
    private let scripts: BookingScripts
    private let options: ExpiryOptions
    private let counts: ExpiryCounter
    private let commands: RedisConnection
    private let subscriber: RedisConnection?
    private var sweepTimer: LoopTimer?
    private var sweeping = false
    private let logger = Logger(label: "seatlock.expiry")

    init(loop: EventLoop, redis: RedisURL, scripts: BookingScripts, options: ExpiryOptions, counts: ExpiryCounter) {
        self.scripts = scripts
        self.options = options
        self.counts = counts
        self.loop = loop
        commands = RedisConnection(loop: loop, url: redis)
        subscriber = options.listen ? RedisConnection(loop: loop, url: redis) : nil
        subscriber?.psubscribe("__keyevent@\(redis.database)__:expired") { [weak self] _, key in
            self?.keyExpired(key)
        }
        subscriber?.onStateChange = { [weak self] state in
            // Messages published while we were away are lost: sweep at once.
            if state == .connected { self?.sweep() }
            if state == .disconnected { self?.logger.warning("expiry listener lost Redis; reconnecting (the sweeper keeps running)") }
        }
        scheduleSweep(after: options.sweepInterval)
    }

    private let loop: EventLoop
    /// Earliest deadline (ms since epoch) seen in this sweep, to wake up for.
    private var nextDeadline: Int?

    private func scheduleSweep(after delay: Duration) {
        sweepTimer?.cancel()
        sweepTimer = loop.schedule(after: delay) { [weak self] in self?.sweep() }
    }

    func stop(done: @escaping () -> Void) {
        sweepTimer?.cancel()
        subscriber?.close()
        commands.close()
        done()
    }

    /// `sl:{E}:expiry:B` → expire booking B of event E.
    private func keyExpired(_ key: String) {
        guard let (eventId, bookingId) = EventKeys.booking(ofExpiry: key) else { return }
        expire(eventId: eventId, bookingId: bookingId, actor: "listener")
    }

    /// `done(true)` when the booking no longer waits (expired now, or it had ended).
    private func expire(eventId: String, bookingId: String, actor: String, done: ((Bool) -> Void)? = nil) {
        commands.run(scripts.expire(event: eventId, booking: bookingId, actor: actor)) { [counts, logger] result in
            var ended = false
            switch result {
            case let .success(reply):
                guard let change = StateChange(reply) else {
                    logger.error("expire.lua failed", metadata: ["booking": "\(bookingId)", "reply": "\(reply)"])
                    break
                }
                if change.changed { counts.value.withLock { actor == "listener" ? ($0.byListener += 1) : ($0.bySweeper += 1) } }
                ended = change.changed || change.word != "not_due" // expired now, already ended, or gone
            case .failure:
                break // Redis away: the sweeper will come back to it
            }
            done?(ended)
        }
    }

    /// One pass over every event's overdue bookings, batch after batch, then
    /// sleep until the earliest deadline still ahead (bounded both ways).
    private func sweep() {
        guard !sweeping else { return }
        sweeping = true
        nextDeadline = nil
        commands.send(["SMEMBERS", GlobalKeys.events]) { [self] result in
            let events = (try? result.get())?.array?.compactMap(\.string).filter { Identifier.isValid($0) } ?? []
            sweepEvents(events[...])
        }
    }

    private func sweepEvents(_ events: ArraySlice<String>) {
        guard let eventId = events.first else {
            sweeping = false
            var delay = options.sweepInterval
            if let nextDeadline {
                let untilNext = Duration.milliseconds(nextDeadline - Self.nowMilliseconds())
                delay = min(max(untilNext, options.minimumSweepPause), options.sweepInterval)
            }
            scheduleSweep(after: delay)
            return
        }
        sweepBatch(eventId: eventId) { [self] in
            sweepEvents(events.dropFirst())
        }
    }

    private func sweepBatch(eventId: String, done: @escaping () -> Void) {
        let key = EventKeys(eventId).expiries
        commands.send(["ZRANGEBYSCORE", key, "-inf", String(Self.nowMilliseconds()), "LIMIT", "0", String(options.batchSize)]) { [self] result in
            let due = (try? result.get())?.array?.compactMap(\.string) ?? []
            guard !due.isEmpty else { return noteNextDeadline(key, then: done) }
            var remaining = due.count
            var ended = 0
            for bookingId in due {
                expire(eventId: eventId, bookingId: bookingId, actor: "sweeper") { [self] outcome in
                    if outcome { ended += 1 }
                    remaining -= 1
                    guard remaining == 0 else { return }
                    // A full batch in which nothing ended (all not_due: this host's
                    // clock runs ahead of Redis's) must not be asked for again at once.
                    if due.count == options.batchSize, ended > 0 {
                        sweepBatch(eventId: eventId, done: done)
                    } else {
                        noteNextDeadline(key, then: done)
                    }
                }
            }
        }
    }

    private func noteNextDeadline(_ expiriesKey: String, then done: @escaping () -> Void) {
        commands.send(["ZRANGE", expiriesKey, "0", "0", "WITHSCORES"]) { [self] result in
            if let score = (try? result.get())?.array?.last?.string.flatMap(Double.init) {
                nextDeadline = min(nextDeadline ?? Int.max, Int(score))
            }
            done()
        }
    }

    private static func nowMilliseconds() -> Int { Int(Date().timeIntervalSince1970 * 1000) }
}
