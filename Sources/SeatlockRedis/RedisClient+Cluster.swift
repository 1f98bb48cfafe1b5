// The blocking client on a Redis Cluster: a client per primary, commands
// routed by their key's slot, MOVED (the map refreshed) and ASK (ASKING
// first) followed. WATCH … MULTI … EXEC stays on one node: the node of the
// first key it names (MULTI itself is held back until that key is known).
// A command with no key (INFO, CLUSTER INFO, SHUTDOWN) goes to the node this
// client connected to, as redis-cli does; `primaries()` reaches the others.

final class ClusterRouting {
    var map: ClusterSlotMap
    var nodes: [RedisNodeAddress: RedisClient] = [:]
    /// The node a transaction (WATCH or MULTI) runs on, until EXEC, DISCARD or UNWATCH.
    var pinned: RedisNodeAddress?
    /// MULTI was asked for and not yet sent: it goes with the first keyed command.
    var multiHeld = false

    init(map: ClusterSlotMap) { self.map = map }
}

extension RedisClient {
    func detectCluster() throws {
        let reply = try nodePipeline([["CLUSTER", "SLOTS"]])[0]
        guard let map = ClusterSlotMap(clusterSlots: reply), !map.primaries.isEmpty else { return }
        cluster = ClusterRouting(map: map)
    }

    /// Whether the seed turned out to be a cluster node.
    public var isCluster: Bool { cluster != nil }

    /// A client for each primary (this one for a single Redis): for what must
    /// run everywhere (SCRIPT LOAD, INFO, CONFIG, SCAN, ACL).
    public func primaries() throws -> [RedisClient] {
        guard let cluster else { return [self] }
        return try cluster.map.primaries.map(client(at:))
    }

    /// A client for every node, replicas too (ACL rules are each node's own).
    public func everyNode() throws -> [RedisClient] {
        guard let cluster else { return [self] }
        let replicas = cluster.map.primaries.flatMap { cluster.map.replicas[$0] ?? [] }
        return try (cluster.map.primaries + replicas).map(client(at:))
    }

    /// The primary that serves `key`'s slot (the one node of a single Redis).
    public func primaryAddress(forKey key: String) -> RedisNodeAddress? {
        guard let cluster else { return RedisNodeAddress(host: url.host, port: url.port) }
        return cluster.map.primary(forSlot: ClusterSlot.of(key))
    }

    /// The replicas of `primary`, as the slot map lists them.
    public func replicas(of primary: RedisNodeAddress) -> [RedisNodeAddress] {
        cluster?.map.replicas[primary] ?? []
    }

    /// Replicas of the primary that serves `key` (0 for a single Redis).
    public func replicaCount(forKey key: String) -> Int {
        guard let cluster, let primary = cluster.map.primary(forSlot: ClusterSlot.of(key)) else { return 0 }
        return cluster.map.replicaCounts[primary] ?? 0
    }

    /// Asks a node for the slot map again (after a failover or a resharding).
    public func refreshSlotMap() throws {
        guard let cluster else { return }
        var lastError: Error?
        for address in cluster.map.primaries + url.seeds {
            do {
                let reply = try client(at: address).nodePipeline([["CLUSTER", "SLOTS"]])[0]
                if let fresh = ClusterSlotMap(clusterSlots: reply), !fresh.primaries.isEmpty {
                    cluster.map = fresh
                    return
                }
            } catch {
                cluster.nodes[address] = nil
                lastError = error
            }
        }
        if let lastError { throw lastError }
    }

    private func client(at address: RedisNodeAddress) throws -> RedisClient {
        if let client = cluster?.nodes[address] { return client }
        let client = try RedisClient(node: url.at(address), timeout: timeout)
        cluster?.nodes[address] = client
        return client
    }

    /// Nil for a command with no key (this node answers it) or a slot no node serves.
    private func address(for arguments: [String]) -> RedisNodeAddress? {
        guard let cluster, let key = ClusterCommand.routingKey(arguments) else { return nil }
        return cluster.map.primary(forSlot: ClusterSlot.of(key))
    }

    func routedSend(_ arguments: [String]) throws -> RedisValue {
        guard let cluster else { return try nodePipeline([arguments])[0] }
        let name = arguments.first?.uppercased() ?? ""
        if name == "MULTI", cluster.pinned == nil {
            cluster.multiHeld = true
            return .status("OK")
        }
        if let pinned = cluster.pinned ?? (cluster.multiHeld ? nil : transactionStart(name, arguments)) {
            if ["EXEC", "DISCARD", "UNWATCH"].contains(name) { cluster.pinned = nil }
            return try client(at: pinned).nodePipeline([arguments])[0]
        }
        if cluster.multiHeld, let key = ClusterCommand.routingKey(arguments),
           let address = cluster.map.primary(forSlot: ClusterSlot.of(key)) {
            cluster.multiHeld = false
            cluster.pinned = address
            return try client(at: address).nodePipeline([["MULTI"], arguments])[1]
        }
        if ClusterCommand.routingKey(arguments) == nil { return try nodePipeline([arguments])[0] }
        return try follow(arguments, to: address(for: arguments))
    }

    /// A node that fails is let go (the next command connects afresh) and
    /// the map asked for again: its replica may be taking over.
    private func onNode<T>(_ address: RedisNodeAddress, _ body: (RedisClient) throws -> T) throws -> T {
        do {
            return try body(try client(at: address))
        } catch {
            cluster?.nodes[address] = nil
            try? refreshSlotMap()
            throw error
        }
    }

    /// WATCH pins the transaction to its key's node.
    private func transactionStart(_ name: String, _ arguments: [String]) -> RedisNodeAddress? {
        guard name == "WATCH", let address = address(for: arguments) else { return nil }
        cluster?.pinned = address
        return address
    }

    private func follow(_ arguments: [String], to first: RedisNodeAddress?, asking: Bool = false) throws -> RedisValue {
        var target = first
        var asking = asking
        for _ in 0...RedisConnection.maximumRedirects {
            guard let address = target else {
                try refreshSlotMap()
                throw RedisError(.unavailable, "no Redis Cluster node serves \(ClusterCommand.routingKey(arguments) ?? "this command")")
            }
            let reply = try onNode(address) { try $0.nodePipeline(asking ? [["ASKING"], arguments] : [arguments]).last! }
            switch ClusterRedirect(reply) {
            case let .moved(slot, to)?:
                cluster?.map.assign(slot, to: to)
                try? refreshSlotMap()
                target = to
                asking = false
            case let .ask(_, to)?:
                target = to
                asking = true
            case nil:
                return reply
            }
        }
        throw RedisError(.unavailable, "Redis Cluster kept redirecting \(arguments.first ?? "")")
    }

    /// Each node gets its commands in one round trip; a redirected reply is
    /// sent again where it points.
    func routedPipeline(_ commands: [[String]]) throws -> [RedisValue] {
        guard cluster != nil else { return try nodePipeline(commands) }
        if commands.contains(where: { ["MULTI", "WATCH", "EXEC"].contains($0.first?.uppercased() ?? "") }) {
            return try commands.map(routedSend)
        }
        var byNode: [RedisNodeAddress?: [Int]] = [:]
        for (index, command) in commands.enumerated() { byNode[address(for: command), default: []].append(index) }
        var replies = [RedisValue](repeating: .null, count: commands.count)
        for (address, indices) in byNode {
            guard let address else {
                for index in indices { replies[index] = try routedSend(commands[index]) }
                continue
            }
            let answers = try onNode(address) { try $0.nodePipeline(indices.map { commands[$0] }) }
            for (index, answer) in zip(indices, answers) {
                replies[index] = ClusterRedirect(answer) == nil ? answer : try follow(commands[index], to: address)
            }
        }
        return replies
    }
}
