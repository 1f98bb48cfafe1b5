// `seatlock cluster`: a private Redis Cluster (3 primaries, 3 replicas by
// default) on free loopback ports, for trying Seatlock on a cluster, for the
// benchmarks and for the failover script. Prints REDIS_URL (every node a
// seed) and each node's role, then runs until SIGINT or SIGTERM.
import ArgumentParser
import Foundation
import SeatlockLoop
import SeatlockRedis

struct Cluster: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a private Redis Cluster (3 primaries, 3 replicas) and print its REDIS_URL; Ctrl-C stops it.")

    @Option(help: "Directory for the nodes' files (made afresh).") var dir: String = "./data/redis-cluster"
    @Option(help: "Primaries.") var primaries = 3
    @Option(help: "Replicas of each primary.") var replicas = 1
    @Option(name: .customLong("node-timeout-ms"), help: "How long a silent primary lasts before its replica takes over.") var nodeTimeoutMs = 3000
    @Flag(help: "Append-only files on (as `seatlock up` runs Redis).") var persistent = false

    func validate() throws {
        guard (1...16).contains(primaries), (0...4).contains(replicas), (500...60_000).contains(nodeTimeoutMs) else {
            throw ValidationError("primaries 1-16, replicas 0-4, node timeout 500-60000 ms")
        }
    }

    func run() throws {
        let directory = URL(fileURLWithPath: dir).standardizedFileURL
        try? FileManager.default.removeItem(at: directory)
        let cluster = try LocalRedisCluster(directory: directory, primaries: primaries, replicasEach: replicas,
                                            nodeTimeout: .milliseconds(nodeTimeoutMs), persistent: persistent)
        defer { cluster.stop() }
        say("REDIS_URL=\(cluster.url)")
        let client = try RedisClient(url: cluster.url)
        for primary in try client.primaries() {
            say("primary 127.0.0.1:\(primary.url.port)  replicas: "
                + (client.replicas(of: RedisNodeAddress(host: primary.url.host, port: primary.url.port)).map(\.description).joined(separator: " ")))
        }
        try ServiceRunner.runUntilSignal([])
    }
}
