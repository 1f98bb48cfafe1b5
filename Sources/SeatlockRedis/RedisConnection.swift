// Redis as one loop sees it: a single server or a whole Redis Cluster, behind
// one API. At start the seed is asked for CLUSTER SLOTS: a server without
// cluster support is used as it is (one connection, no routing); a cluster
// gets one connection per primary, each command goes to its key's slot,
// MOVED updates the map and is followed, ASK is followed once (ASKING), and
// the map is refreshed after any redirection or lost node, and every few
// seconds. Commands sent in the first round trip wait for that answer.
// Subscriptions (the expiry listener) are made on every primary and follow
// the map through a failover.
import SeatlockLoop

public final class RedisConnection {
    public typealias Completion = (Result<RedisValue, RedisError>) -> Void

    public enum State: Equatable { case disconnected, connecting, connected, closed }

    public let url: RedisURL
    public let options: RedisConnectionOptions
    /// Called on the loop whenever one of the connections (re)connects or drops.
    public var onStateChange: ((State) -> Void)?

    private enum Mode { case detecting, single(RedisNodeConnection), cluster }

    private let loop: EventLoop
    private var mode: Mode = .detecting
    private var seed: RedisNodeConnection
    private var closed = false
    /// Commands sent before the seed said what it is.
    private var parked: [(deadline: ContinuousClock.Instant, send: () -> Void, fail: () -> Void)] = []

    // Cluster mode.
    private var map = ClusterSlotMap()
    private var nodes: [RedisNodeAddress: RedisNodeConnection] = [:]
    private var subscribers: [RedisNodeAddress: RedisNodeConnection] = [:]
    private var patterns: [(pattern: String, onMessage: (String, String) -> Void)] = []
    private var refreshing = false
    private var lastRefresh = ContinuousClock.now - .seconds(60)
    private var refreshTimer: LoopTimer?
    private var parkedTimer: LoopTimer?
    /// A single Redis's replicas (ROLE), when last asked.
    private var singleReplicas: (count: Int, at: ContinuousClock.Instant)?

    /// Redirections followed for one command before it fails.
    static let maximumRedirects = 5
    /// A periodic refresh of the slot map, and the soonest one after another.
    static let refreshEvery: Duration = .seconds(5)
    static let refreshAtMostEvery: Duration = .milliseconds(250)

    public init(loop: EventLoop, url: RedisURL, options: RedisConnectionOptions = RedisConnectionOptions()) {
        self.loop = loop
        self.url = url
        self.options = options
        seed = RedisNodeConnection(loop: loop, url: url, options: options)
        seed.onStateChange = { [weak self] state in self?.onStateChange?(state) }
        detect()
        parkedTimer = loop.scheduleRepeating(every: .milliseconds(100)) { [weak self] in self?.failLateParked() }
    }

    deinit {
        refreshTimer?.cancel()
        parkedTimer?.cancel()
    }

    /// True once the seed turned out to be a cluster node.
    public var isCluster: Bool {
        if case .cluster = mode { return true }
        return false
    }

    /// Sends a command to the node that owns its key (any primary for a
    /// command with no key); `completion` runs on this loop exactly once.
    /// An error reply from Redis arrives as `.success(.error(...))`.
    public func send(_ arguments: [String], completion: @escaping Completion) {
        switch mode {
        case let .single(node): node.send(arguments, completion: completion)
        case .cluster:
            dispatch(slot: ClusterCommand.routingKey(arguments).map(ClusterSlot.of), { $0.send(arguments, completion: $1) }, completion)
        case .detecting: park({ [weak self] in self?.send(arguments, completion: completion) }, completion)
        }
    }

    /// Runs a script by SHA1 on its keys' node. On NOSCRIPT (a restarted or
    /// flushed Redis, a replica just promoted) it loads the script there
    /// (SCRIPT LOAD) and retries once: never EVAL of source text, which the
    /// application's ACL user may not run.
    public func run(_ script: LuaScript, keys: [String], args: [String], completion: @escaping Completion) {
        switch mode {
        case let .single(node): node.run(script, keys: keys, args: args, completion: completion)
        case .cluster:
            dispatch(slot: keys.first.map(ClusterSlot.of), { $0.run(script, keys: keys, args: args, completion: $1) }, completion)
        case .detecting: park({ [weak self] in self?.run(script, keys: keys, args: args, completion: completion) }, completion)
        }
    }

    /// Runs a script, then `WAIT`s on the same node until `replicas` replicas
    /// have its write (nil: one when the node has a replica, none without).
    /// Succeeds only when they have: a write the replicas do not have could be
    /// lost in a failover, so it must not be acknowledged as done.
    public func runReplicated(_ script: LuaScript, keys: [String], args: [String], replicas: Int?, timeout: Duration,
                              completion: @escaping Completion) {
        onKeyNode(keys.first, { [weak self] node, done in
            node.run(script, keys: keys, args: args) { result in
                guard case .success(let reply) = result, reply.errorMessage == nil, ClusterRedirect(reply) == nil, let self else { return done(result) }
                self.waitOn(node, replicas: replicas, timeout: timeout) { waited in
                    if case let .failure(error) = waited { return done(.failure(error)) }
                    done(result)
                }
            }
        }, completion)
    }

    /// After a write to `key` on this connection: `WAIT`s until `replicas`
    /// replicas (nil: one when the key's primary has a replica) have every
    /// write that primary had taken when the wait began, so also writes made
    /// there by others before. Fails when fewer have them within `timeout`.
    public func waitForReplicas(afterWriteTo key: String, replicas: Int?, timeout: Duration, completion: @escaping Completion) {
        onKeyNode(key, { [weak self] node, done in
            guard let self else { return done(.success(.integer(0))) }
            self.waitOn(node, replicas: replicas, timeout: timeout, done)
        }, completion)
    }

    private func waitOn(_ node: RedisNodeConnection, replicas: Int?, timeout: Duration, _ done: @escaping Completion) {
        replicasWanted(at: node, asked: replicas) { wanted in
            guard wanted > 0 else { return done(.success(.integer(0))) }
            node.waitForReplicas(wanted, timeout: timeout) { acked in
                guard case .success(.integer(let count)) = acked, count >= wanted else {
                    return done(.failure(RedisError(.unavailable, "WAIT: \((try? acked.get())?.int ?? 0) of \(wanted) replicas have the write")))
                }
                done(acked)
            }
        }
    }

    /// `op` on the connection to `key`'s node, redirections followed.
    private func onKeyNode(_ key: String?, _ op: @escaping (RedisNodeConnection, @escaping Completion) -> Void, _ completion: @escaping Completion) {
        switch mode {
        case let .single(node): op(node, completion)
        case .cluster: dispatch(slot: key.map(ClusterSlot.of), op, completion)
        case .detecting: park({ [weak self] in self?.onKeyNode(key, op, completion) }, completion)
        }
    }

    /// The same command on every primary (one for a single Redis), replies in
    /// the order of `primaries`.
    public func sendToEveryPrimary(_ arguments: [String], completion: @escaping ([Result<RedisValue, RedisError>]) -> Void) {
        switch mode {
        case let .single(node): node.send(arguments) { completion([$0]) }
        case .cluster:
            let targets = map.primaries.map(node(at:))
            gatherResults(targets.count, { index, done in targets[index].send(arguments, completion: done) }, completion: completion)
        case .detecting:
            park({ [weak self] in self?.sendToEveryPrimary(arguments, completion: completion) }, { completion([$0]) })
        }
    }

    /// PSUBSCRIBE `pattern` on every primary; `onMessage(channel, message)`
    /// runs on this loop for every message, across reconnects and failovers
    /// (messages published while a node was away are lost, as pub/sub goes).
    /// A connection with subscriptions is for them alone.
    public func psubscribe(_ pattern: String, onMessage: @escaping (String, String) -> Void) {
        patterns.append((pattern, onMessage))
        switch mode {
        case let .single(node): node.psubscribe(pattern, onMessage: onMessage)
        case .cluster:
            for subscriber in subscribers.values { subscriber.psubscribe(pattern, onMessage: onMessage) }
            subscribeOnEveryPrimary()
        case .detecting: break // made when the mode is known
        }
    }

    /// Closes for good: pending commands fail, no reconnect.
    public func close() {
        closed = true
        refreshTimer?.cancel()
        parkedTimer?.cancel()
        seed.close()
        for node in nodes.values { node.close() }
        for node in subscribers.values { node.close() }
        let waiting = parked
        parked = []
        for command in waiting { command.fail() }
    }

    // MARK: what the seed is

    private func detect() {
        seed.send(["CLUSTER", "SLOTS"]) { [weak self] result in
            guard let self, !closed else { return }
            switch result {
            case let .success(reply):
                if let map = ClusterSlotMap(clusterSlots: reply), !map.primaries.isEmpty {
                    becomeCluster(map)
                } else {
                    // Cluster support disabled (or a user not allowed to ask): one server.
                    becomeSingle()
                }
            case .failure:
                if url.moreSeeds.isEmpty {
                    becomeSingle() // unreachable for now: the connection reconnects by itself
                } else {
                    reseed() // another seed may answer
                }
            }
        }
    }

    /// Moves the seed connection on to the next seed node (then the known primaries).
    private func reseed() {
        let seeds = url.seeds + map.primaries.filter { !url.seeds.contains($0) }
        let current = seeds.firstIndex(of: RedisNodeAddress(host: seed.url.host, port: seed.url.port)) ?? -1
        seed.close()
        seed = RedisNodeConnection(loop: loop, url: url.at(seeds[(current + 1) % seeds.count]), options: options)
        if case .detecting = mode {
            seed.onStateChange = { [weak self] state in self?.onStateChange?(state) }
            loop.schedule(after: .milliseconds(100)) { [weak self] in self?.detect() }
        }
    }

    private func becomeSingle() {
        mode = .single(seed)
        for (pattern, onMessage) in patterns { seed.psubscribe(pattern, onMessage: onMessage) }
        releaseParked()
    }

    private func becomeCluster(_ map: ClusterSlotMap) {
        mode = .cluster
        adopt(map)
        lastRefresh = .now
        refreshTimer = loop.scheduleRepeating(every: Self.refreshEvery) { [weak self] in self?.refresh() }
        releaseParked()
    }

    private func park(_ send: @escaping () -> Void, _ completion: @escaping Completion) {
        parked.append((.now + options.commandTimeout, send, {
            completion(.failure(RedisError(.unavailable, "Redis did not say in time whether it is a cluster")))
        }))
    }

    private func releaseParked() {
        parkedTimer?.cancel()
        let waiting = parked
        parked = []
        for command in waiting { command.send() }
    }

    private func failLateParked() {
        guard !parked.isEmpty else { return }
        let now = ContinuousClock.now
        let late = parked.filter { $0.deadline < now }
        parked.removeAll { $0.deadline < now }
        for command in late { command.fail() }
    }

    // MARK: cluster routing

    private func node(at address: RedisNodeAddress) -> RedisNodeConnection {
        if let node = nodes[address] { return node }
        let node = RedisNodeConnection(loop: loop, url: url.at(address), options: options)
        node.onStateChange = { [weak self] state in
            if state == .disconnected { self?.refreshSoon() }
        }
        nodes[address] = node
        return node
    }

    /// Sends `op` to the slot's primary and follows the cluster's redirections.
    private func dispatch(slot: Int?, attempt: Int = 0, asking: RedisNodeAddress? = nil,
                          _ op: @escaping (RedisNodeConnection, @escaping Completion) -> Void, _ completion: @escaping Completion) {
        guard !closed else { return completion(.failure(RedisError(.unavailable, "connection closed"))) }
        guard let address = asking ?? (slot.map { map.primary(forSlot: $0) } ?? map.primaries.first) else {
            refreshSoon()
            return completion(.failure(RedisError(.unavailable, "no Redis Cluster node serves slot \(slot ?? -1) yet")))
        }
        let target = node(at: address)
        if asking != nil { target.send(["ASKING"]) { _ in } }
        op(target) { [weak self] result in
            guard let self else { return completion(result) }
            switch result {
            case let .success(reply):
                if let redirect = ClusterRedirect(reply), attempt < Self.maximumRedirects {
                    switch redirect {
                    case let .moved(movedSlot, to):
                        map.assign(movedSlot, to: to)
                        refreshSoon()
                        dispatch(slot: slot, attempt: attempt + 1, op, completion)
                    case let .ask(_, to):
                        dispatch(slot: slot, attempt: attempt + 1, asking: to, op, completion)
                    }
                    return
                }
                if let message = reply.errorMessage, message.hasPrefix("TRYAGAIN") || message.hasPrefix("CLUSTERDOWN") {
                    refreshSoon()
                    // Resharding or failing over: the caller answers 503 and the buyer retries.
                    return completion(.failure(RedisError(.unavailable, "Redis Cluster: \(message)")))
                }
                completion(result)
            case .failure:
                refreshSoon() // a lost primary: its replica's promotion shows in the next map
                completion(result)
            }
        }
    }

    /// `asked`, or 1 when the node has a replica and 0 without: a cluster's
    /// map says; a single Redis is asked (ROLE), at most every 5 s.
    private func replicasWanted(at node: RedisNodeConnection, asked: Int?, _ then: @escaping (Int) -> Void) {
        if let asked { return then(asked) }
        if case .cluster = mode { return then(min(1, map.replicaCounts[RedisNodeAddress(host: node.url.host, port: node.url.port)] ?? 0)) }
        if let known = singleReplicas, ContinuousClock.now - known.at < .seconds(5) { return then(min(1, known.count)) }
        node.send(["ROLE"]) { [weak self] reply in
            // ["master", offset, [[host, port, offset], ...]]; a replica or a refusal: none to wait for.
            let replicas = (try? reply.get())?.array.flatMap { $0.count == 3 && $0[0].string == "master" ? $0[2].array?.count : nil } ?? 0
            self?.singleReplicas = (replicas, .now)
            then(min(1, replicas))
        }
    }

    // MARK: the slot map

    private func refreshSoon() {
        guard case .cluster = mode, !closed, !refreshing else { return }
        let wait = Self.refreshAtMostEvery - (ContinuousClock.now - lastRefresh)
        if wait <= .zero { return refresh() }
        refreshing = true
        loop.schedule(after: wait) { [weak self] in
            self?.refreshing = false
            self?.refresh()
        }
    }

    /// Asks a connected node (a primary first, else a seed) for CLUSTER SLOTS.
    private func refresh() {
        guard case .cluster = mode, !closed, !refreshing else { return }
        let candidates = map.primaries.compactMap { nodes[$0] }.filter { $0.state == .connected }
        if candidates.isEmpty, seed.state != .connected { reseed() }
        let asked = candidates.randomElement() ?? seed
        refreshing = true
        lastRefresh = .now
        asked.send(["CLUSTER", "SLOTS"]) { [weak self] result in
            guard let self else { return }
            refreshing = false
            guard case let .success(reply) = result, let fresh = ClusterSlotMap(clusterSlots: reply), !fresh.primaries.isEmpty else { return }
            if fresh != map { adopt(fresh) }
            if !fresh.isComplete || fresh.primaries.contains(where: { nodes[$0]?.state != .connected }) {
                refreshSoon() // still failing over: look again shortly
            }
        }
    }

    /// Connects to new primaries, subscribes there, and lets go of nodes that
    /// are no longer primaries (their pending commands fail: the caller retries).
    private func adopt(_ fresh: ClusterSlotMap) {
        map = fresh
        let primaries = Set(fresh.primaries)
        for (address, node) in nodes where !primaries.contains(address) {
            node.close()
            nodes[address] = nil
        }
        for (address, subscriber) in subscribers where !primaries.contains(address) {
            subscriber.close()
            subscribers[address] = nil
        }
        for address in fresh.primaries { _ = node(at: address) }
        subscribeOnEveryPrimary()
    }

    /// A subscriber connection, with every pattern, on each primary that has none.
    private func subscribeOnEveryPrimary() {
        guard !patterns.isEmpty else { return }
        for address in map.primaries where subscribers[address] == nil {
            let subscriber = RedisNodeConnection(loop: loop, url: url.at(address), options: options)
            subscriber.onStateChange = { [weak self] state in
                self?.onStateChange?(state)
                if state == .disconnected { self?.refreshSoon() }
            }
            for (pattern, onMessage) in patterns { subscriber.psubscribe(pattern, onMessage: onMessage) }
            subscribers[address] = subscriber
        }
    }
}

extension RedisConnection {
    /// Sends several commands back to back and calls `completion` once with
    /// every result, in order. A transaction (MULTI … EXEC) goes whole to the
    /// node of its first key; other commands each go to their own key's node.
    public func pipeline(_ commands: [[String]], completion: @escaping ([Result<RedisValue, RedisError>]) -> Void) {
        guard !commands.isEmpty else { return completion([]) }
        if case let .single(node) = mode { return node.pipeline(commands, completion: completion) }
        if commands.first?.first?.uppercased() == "MULTI" { return transaction(commands, completion: completion) }
        gatherResults(commands.count, { index, done in self.send(commands[index], completion: done) }, completion: completion)
    }

    private func transaction(_ commands: [[String]], completion: @escaping ([Result<RedisValue, RedisError>]) -> Void) {
        guard case .cluster = mode else {
            return park({ [weak self] in self?.pipeline(commands, completion: completion) }, { completion([$0]) })
        }
        let slot = commands.lazy.compactMap(ClusterCommand.routingKey).first.map(ClusterSlot.of)
        var replies: [Result<RedisValue, RedisError>] = []
        // A redirection inside the transaction aborts it whole (EXECABORT): it is sent again, whole, where the slot is.
        dispatch(slot: slot, { node, done in
            node.pipeline(commands) { results in
                replies = results
                let redirected = results.first { ClusterRedirect((try? $0.get()) ?? .null) != nil }
                done(redirected ?? results.last!)
            }
        }) { last in
            if case .failure = last { return completion(Array(repeating: last, count: commands.count)) }
            completion(replies)
        }
    }
}
