// One hiredis async connection to one Redis node, on one event loop
// (hiredis' libevent adapter). RedisConnection routes over these.
// Many commands may be in flight at once (pipelining); replies come back in
// order and are copied into `RedisValue`s inside the callback.
//
// hiredis 0.14 has no command timeout, so a watchdog timer checks the oldest
// command in flight: when it is late the connection is reset, which hands a
// NULL reply (an error) to every pending caller, and a reconnect with backoff
// follows. Lost connections are handled the same way.
import CHiredis
import Foundation
import SeatlockLoop

public struct RedisConnectionOptions: Sendable {
    public var commandTimeout: Duration = .seconds(2)
    public var connectTimeout: Duration = .seconds(2)
    public var minimumBackoff: Duration = .milliseconds(50)
    public var maximumBackoff: Duration = .seconds(2)
    public init() {}
}

final class RedisNodeConnection {
    typealias Completion = RedisConnection.Completion
    typealias State = RedisConnection.State

    let url: RedisURL
    let options: RedisConnectionOptions
    private(set) var state: State = .disconnected
    /// Called on the loop whenever the connection (re)connects or drops.
    var onStateChange: ((State) -> Void)?

    private let loop: EventLoop
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var inFlight: [PendingCommand] = []
    private var inFlightHead = 0
    private var backoff: Duration
    private var reconnectTimer: LoopTimer?
    private var watchdog: LoopTimer?
    private var connectStarted = ContinuousClock.now
    private var connectedAt: ContinuousClock.Instant?
    private var resetReason: RedisError.Kind = .connectionLost
    /// WAITs asked for while one is in flight (group commit: see `waitForReplicas`).
    private var waitInFlight = false
    private var waitsQueued: [(wanted: Int, timeout: Duration, done: Completion)] = []
    /// Pattern subscriptions, renewed on every reconnect. A connection with
    /// subscriptions is in pub/sub mode: use another one for commands.
    private var subscriptions: [String: SubscriptionBox] = [:]

    init(loop: EventLoop, url: RedisURL, options: RedisConnectionOptions = RedisConnectionOptions()) {
        self.loop = loop
        self.url = url
        self.options = options
        self.backoff = options.minimumBackoff
        connect()
        watchdog = loop.scheduleRepeating(every: .milliseconds(100)) { [weak self] in self?.checkDeadlines() }
    }

    deinit {
        watchdog?.cancel()
        reconnectTimer?.cancel()
    }

    /// Sends a command; `completion` runs on this loop exactly once.
    /// An error reply from Redis arrives as `.success(.error(...))`.
    func send(_ arguments: [String], completion: @escaping Completion) {
        guard let context, state == .connected || state == .connecting else {
            completion(.failure(RedisError(.unavailable, "Redis is unreachable (\(url.host):\(url.port))")))
            return
        }
        let command = PendingCommand(completion: completion, deadline: ContinuousClock.now + options.commandTimeout)
        let privdata = Unmanaged.passRetained(command).toOpaque()
        let status = withRESPCommand(arguments) { resp, length in
            redisAsyncFormattedCommand(context, { context, reply, privdata in
                guard let privdata else { return }
                let command = Unmanaged<PendingCommand>.fromOpaque(privdata).takeRetainedValue()
                let owner = context.flatMap { $0.pointee.data }.map { Unmanaged<RedisNodeConnection>.fromOpaque($0).takeUnretainedValue() }
                command.finish(reply: reply, reason: owner?.resetReason ?? .connectionLost)
                owner?.dropFinishedHead()
            }, privdata, resp, length)
        }
        if status != REDIS_OK {
            Unmanaged<PendingCommand>.fromOpaque(privdata).release()
            completion(.failure(RedisError(.unavailable, "Redis connection is closing")))
            return
        }
        inFlight.append(command)
    }

    /// `WAIT wanted timeout` for the writes this connection made before the
    /// call. A WAIT holds the connection's later commands back until it
    /// returns, and covers every write made before it: so while one is in
    /// flight, the callers that come meanwhile share the next one (one
    /// replication round trip per batch of confirmations, not per confirmation).
    func waitForReplicas(_ wanted: Int, timeout: Duration, done: @escaping Completion) {
        waitsQueued.append((wanted, timeout, done))
        if !waitInFlight { sendQueuedWaits() }
    }

    private func sendQueuedWaits() {
        guard let wanted = waitsQueued.map(\.wanted).max(), let timeout = waitsQueued.map(\.timeout).max() else { return }
        let batch = waitsQueued
        waitsQueued = []
        waitInFlight = true
        send(["WAIT", String(wanted), String(timeout.wholeMilliseconds)]) { [weak self] acked in
            self?.waitInFlight = false
            for waiter in batch { waiter.done(acked) }
            self?.sendQueuedWaits()
        }
    }

    /// PSUBSCRIBE `pattern`; `onMessage(channel, message)` runs on this loop for
    /// every message, across reconnects (the subscription is renewed each time;
    /// messages published while disconnected are lost, as pub/sub goes).
    func psubscribe(_ pattern: String, onMessage: @escaping (String, String) -> Void) {
        let box = SubscriptionBox(onMessage: onMessage)
        subscriptions[pattern] = box
        if context != nil { sendSubscribe(pattern, box) }
    }

    private func sendSubscribe(_ pattern: String, _ box: SubscriptionBox) {
        guard let context else { return }
        // hiredis keeps this callback for the pattern's lifetime and calls it
        // once per message, so the box is passed unretained (we own it).
        _ = withRESPCommand(["PSUBSCRIBE", pattern]) { resp, length in
            redisAsyncFormattedCommand(context, { _, reply, privdata in
                guard let reply, let privdata else { return } // NULL: the connection went away
                let box = Unmanaged<SubscriptionBox>.fromOpaque(privdata).takeUnretainedValue()
                let value = RedisValue(copying: reply.assumingMemoryBound(to: redisReply.self))
                if let items = value.array, items.count == 4, items[0].string == "pmessage",
                   let channel = items[2].string, let message = items[3].string {
                    box.onMessage(channel, message)
                }
            }, Unmanaged.passUnretained(box).toOpaque(), resp, length)
        }
    }

    /// Closes for good: pending commands fail, no reconnect.
    func close() {
        state = .closed
        watchdog?.cancel()
        reconnectTimer?.cancel()
        if let context {
            self.context = nil
            redisAsyncFree(context)
        }
    }

    // MARK: connection life cycle

    private func connect() {
        guard state != .closed else { return }
        guard let context = redisAsyncConnect(url.host, Int32(url.port)) else {
            scheduleReconnect()
            return
        }
        if context.pointee.err != 0 {
            redisAsyncFree(context)
            scheduleReconnect()
            return
        }
        context.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        redisLibeventAttach(context, loop.base)
        redisAsyncSetConnectCallback(context) { context, status in
            guard let data = context?.pointee.data else { return }
            Unmanaged<RedisNodeConnection>.fromOpaque(data).takeUnretainedValue().didConnect(ok: status == REDIS_OK)
        }
        redisAsyncSetDisconnectCallback(context) { context, _ in
            guard let data = context?.pointee.data else { return }
            Unmanaged<RedisNodeConnection>.fromOpaque(data).takeUnretainedValue().didDisconnect()
        }
        self.context = context
        state = .connecting
        connectStarted = .now
        resetReason = .connectionLost
        for command in url.handshake {
            send(command) { _ in }
        }
        for (pattern, box) in subscriptions { sendSubscribe(pattern, box) }
        onStateChange?(.connecting)
    }

    private func didConnect(ok: Bool) {
        if ok {
            state = .connected
            connectedAt = .now
            onStateChange?(.connected)
        } else {
            // hiredis frees the context after a failed connect.
            context = nil
            failAllPending()
            state = .disconnected
            onStateChange?(.disconnected)
            scheduleReconnect()
        }
    }

    private func didDisconnect() {
        // hiredis frees the context right after this callback.
        context = nil
        failAllPending()
        guard state != .closed else { return }
        state = .disconnected
        onStateChange?(.disconnected)
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard state != .closed, reconnectTimer == nil else { return }
        // The backoff starts over only after a connection that lasted: one
        // that Redis drops at once (e.g. an ACL refusing the subscription)
        // must not turn into a reconnect loop.
        if let connectedAt, ContinuousClock.now - connectedAt > .seconds(5) { backoff = options.minimumBackoff }
        connectedAt = nil
        // Full jitter keeps a fleet of loops from reconnecting in lockstep.
        let delay = Duration.nanoseconds(Int64.random(in: 1...max(1, backoff.wholeNanoseconds)))
        backoff = min(backoff * 2, options.maximumBackoff)
        reconnectTimer = loop.schedule(after: delay) { [weak self] in
            self?.reconnectTimer = nil
            self?.connect()
        }
    }

    private func checkDeadlines() {
        let now = ContinuousClock.now
        if state == .connecting, now - connectStarted > options.connectTimeout {
            reset(.timeout)
            return
        }
        guard inFlightHead < inFlight.count, inFlight[inFlightHead].deadline < now else { return }
        reset(.timeout)
    }

    /// Drops the connection on purpose: every pending command fails with `reason`.
    private func reset(_ reason: RedisError.Kind) {
        guard let context else { return }
        resetReason = reason
        self.context = nil
        redisAsyncFree(context) // pending callbacks get NULL; the disconnect callback runs if connected
        failAllPending()
        if state != .disconnected {
            state = .disconnected
            onStateChange?(.disconnected)
        }
        scheduleReconnect()
    }

    private func failAllPending() {
        // Callbacks already ran with NULL replies; this only forgets them.
        inFlight.removeAll(keepingCapacity: true)
        inFlightHead = 0
    }

    private func dropFinishedHead() {
        while inFlightHead < inFlight.count, inFlight[inFlightHead].isFinished { inFlightHead += 1 }
        if inFlightHead > 1024, inFlightHead * 2 > inFlight.count {
            inFlight.removeFirst(inFlightHead)
            inFlightHead = 0
        }
    }
}

private final class SubscriptionBox {
    let onMessage: (String, String) -> Void
    init(onMessage: @escaping (String, String) -> Void) { self.onMessage = onMessage }
}

private final class PendingCommand {
    private var completion: RedisConnection.Completion?
    let deadline: ContinuousClock.Instant
    var isFinished: Bool { completion == nil }

    init(completion: @escaping RedisConnection.Completion, deadline: ContinuousClock.Instant) {
        self.completion = completion
        self.deadline = deadline
    }

    func finish(reply: UnsafeMutableRawPointer?, reason: RedisError.Kind) {
        guard let completion else { return }
        self.completion = nil
        if let reply {
            completion(.success(RedisValue(copying: reply.assumingMemoryBound(to: redisReply.self))))
        } else {
            let message = reason == .timeout ? "Redis did not answer in time" : "Redis connection lost"
            completion(.failure(RedisError(reason, message)))
        }
    }
}

extension RedisNodeConnection {
    /// Sends several commands back to back (one round trip) and calls
    /// `completion` once with every result, in order.
    func pipeline(_ commands: [[String]], completion: @escaping ([Result<RedisValue, RedisError>]) -> Void) {
        gatherResults(commands.count, { index, done in self.send(commands[index], completion: done) }, completion: completion)
    }
}

/// Starts `count` commands at once (`start(index, done)`); `completion` gets
/// every result, in index order, once the last has come back.
func gatherResults(_ count: Int, _ start: (Int, @escaping RedisConnection.Completion) -> Void,
                   completion: @escaping ([Result<RedisValue, RedisError>]) -> Void) {
    guard count > 0 else { return completion([]) }
    var results = [Result<RedisValue, RedisError>?](repeating: nil, count: count)
    var remaining = count
    for index in 0..<count {
        start(index) { result in
            results[index] = result
            remaining -= 1
            if remaining == 0 { completion(results.map { $0! }) }
        }
    }
}
