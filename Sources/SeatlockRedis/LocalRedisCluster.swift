// A private Redis Cluster of child processes: `primaries` primaries with
// `replicasEach` replicas each (3 + 3 by default), on free loopback ports,
// made with `redis-cli --cluster create`. The tests, `seatlock up --cluster`
// and the failover script use it. Each node is a LocalRedisServer configured
// as Seatlock needs (expired-key events, noeviction) plus cluster mode.
import Foundation
import SeatlockLoop

public final class LocalRedisCluster: @unchecked Sendable {
    public private(set) var nodes: [LocalRedisServer]
    public let directory: URL
    private let persistent: Bool
    private let nodeArguments: [String]

    /// Every node as a seed (any one would do; several survive one's death).
    public var url: RedisURL {
        var url = RedisURL(host: "127.0.0.1", port: nodes[0].port, password: nodes[0].password)
        url.moreSeeds = nodes.dropFirst().map { RedisNodeAddress(host: "127.0.0.1", port: $0.port) }
        return url
    }

    /// `nodeTimeout`: how long a primary may be silent before its replica takes over.
    public init(directory: URL, primaries: Int = 3, replicasEach: Int = 1, nodeTimeout: Duration = .seconds(3),
                persistent: Bool = false, password: String? = nil) throws {
        self.directory = directory
        self.persistent = persistent
        nodeArguments = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", String(nodeTimeout.wholeMilliseconds),
                         // A replica promoted after its primary's death takes over at once.
                         "--cluster-replica-validity-factor", "0",
                         // Replicas sync at once (the default waits 5 s for more replicas to share a transfer).
                         "--repl-diskless-sync-delay", "0",
                         // CLUSTER SLOTS lists a replica once its offset moves: a ping each second
                         // moves it within a second (the default, 10 s, leaves clients unaware of replicas that long).
                         "--repl-ping-replica-period", "1",
                         // A primary's death stops its own slots only, not every event's (docs/operations/cluster.md).
                         "--cluster-require-full-coverage", "no"]
            + (password.map { ["--masterauth", $0] } ?? [])
        nodes = []
        var started: [LocalRedisServer] = []
        do {
            for index in 0..<(primaries * (1 + replicasEach)) {
                guard let port = Self.freeClusterPort() else { throw LocalRedisError.didNotStart("no free port pair for a cluster node") }
                started.append(try LocalRedisServer(port: port, directory: directory.appendingPathComponent("node-\(index)"),
                                                    persistent: persistent, password: password, extraArguments: nodeArguments))
            }
            nodes = started
            if primaries >= 3 {
                try create(replicasEach: replicasEach)
            } else {
                try assemble(primaries: primaries, replicasEach: replicasEach) // redis-cli wants 3 primaries at least
            }
            try waitUntilServing(primaries: primaries, replicasEach: replicasEach)
        } catch {
            for node in started { node.kill() }
            throw error
        }
    }

    deinit { stop() }

    public func stop() {
        for node in nodes { node.stop() }
    }

    /// Starts a stopped or killed node again, on its port, from its files
    /// (its nodes.conf makes it rejoin the cluster, as the replica of whoever
    /// took over its slots meanwhile).
    @discardableResult
    public func restart(_ node: LocalRedisServer) throws -> LocalRedisServer {
        guard let index = nodes.firstIndex(where: { $0 === node }) else { throw LocalRedisError.didNotStart("not a node of this cluster") }
        node.kill()
        let again = try LocalRedisServer(port: node.port, directory: node.directory, persistent: persistent, password: node.password,
                                         extraArguments: nodeArguments)
        nodes[index] = again
        return again
    }

    public func killWithoutWaiting() {
        for node in nodes { node.killWithoutWaiting() }
    }

    /// The node now serving `key`'s slot as primary.
    public func primary(forKey key: String) throws -> LocalRedisServer {
        let address = try RedisClient(url: url).primaryAddress(forKey: key)
        guard let node = nodes.first(where: { $0.port == address?.port }) else {
            throw LocalRedisError.didNotStart("no node of this cluster serves \(key)")
        }
        return node
    }

    private func create(replicasEach: Int) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.cliBinary())
        process.arguments = (nodes[0].password.map { ["-a", $0, "--no-auth-warning"] } ?? []) + ["--cluster", "create"]
            + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", String(replicasEach), "--cluster-yes"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LocalRedisError.didNotStart("redis-cli --cluster create: " + text.split(separator: "\n").suffix(3).joined(separator: " | "))
        }
    }

    /// By hand: slots split between the first `primaries` nodes, every node
    /// meets the first, then each replica follows its primary.
    private func assemble(primaries: Int, replicasEach: Int) throws {
        let clients = try nodes.map { try RedisClient(node: $0.url, timeout: .seconds(5)) }
        let ids = try clients.map { try $0.checked(["CLUSTER", "MYID"]).string ?? "" }
        for index in 0..<primaries {
            let first = ClusterSlot.count * index / primaries, last = ClusterSlot.count * (index + 1) / primaries - 1
            try clients[index].checked(["CLUSTER", "ADDSLOTSRANGE", String(first), String(last)])
        }
        for client in clients.dropFirst() { try client.checked(["CLUSTER", "MEET", "127.0.0.1", String(nodes[0].port)]) }
        for _ in 0..<200 {
            let known = clients.allSatisfy { client in
                (try? client.send(["CLUSTER", "NODES"]).string).map { text in ids.allSatisfy { text.contains($0) } } ?? false
            }
            if known { break }
            usleep(50_000)
        }
        for index in primaries..<nodes.count {
            try clients[index].checked(["CLUSTER", "REPLICATE", ids[(index - primaries) / replicasEach]])
        }
    }

    /// Until every node says `cluster_state:ok` and maps every slot to a
    /// primary with its replicas (a client that started earlier would not WAIT for them).
    private func waitUntilServing(primaries: Int, replicasEach: Int) throws {
        for _ in 0..<300 {
            let ok = nodes.allSatisfy { node in
                guard let client = try? RedisClient(url: node.url),
                      (try? client.send(["CLUSTER", "INFO"]).string)?.contains("cluster_state:ok") == true,
                      let reply = try? client.send(["CLUSTER", "SLOTS"]), let map = ClusterSlotMap(clusterSlots: reply) else { return false }
                return map.isComplete && map.primaries.count == primaries && map.primaries.allSatisfy { map.replicaCounts[$0] == replicasEach }
            }
            if ok { return }
            usleep(50_000)
        }
        throw LocalRedisError.didNotStart("the cluster did not reach cluster_state:ok")
    }

    /// A free port whose cluster bus port (+10000) is free too.
    private static func freeClusterPort() -> Int? {
        for _ in 0..<200 {
            guard let port = freeLoopbackPort() else { continue }
            if port + 10000 <= 65535, loopbackPortIsFree(port + 10000) { return port }
        }
        return nil
    }

    static func cliBinary() -> String {
        LocalRedisServer.findBinary().map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("redis-cli").path }
            ?? "/usr/bin/redis-cli"
    }
}
