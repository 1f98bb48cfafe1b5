// What integration tests run against: a real redis-server started for the
// test process (free port, temporary directory, stopped and removed at exit;
// SEATLOCK_KEEP_TEST_DIRS=1 keeps the directories and their redis.log) and a real
// booking server on it. Each test uses its own event id, so tests run in
// parallel without FLUSHALL. A missing redis-server is a failure, not a skip.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockScripts
import SeatlockServer

public enum TestSecrets {
    public static let adminToken = "test-admin-token-0123456789"
    public static let tokenSecret = "test-token-secret-0123456789-0123456789"
    public static let tokens = BuyerTokens(secret: tokenSecret)
}

public final class TestRedis: @unchecked Sendable {
    /// The one server; on a cluster, its first node.
    public let server: LocalRedisServer
    /// Set when this is a 3-primary, 3-replica Redis Cluster.
    public let cluster: LocalRedisCluster?
    public let library: ScriptLibrary
    public let scripts: BookingScripts

    public init(port: Int? = nil) throws {
        ignoreBrokenPipes() // as the seatlock binary does: workers and servers run in the test process
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("seatlock-test-\(UUID().uuidString)")
        server = try LocalRedisServer(port: port, directory: directory)
        cluster = nil
        library = try ScriptLibrary.locate()
        scripts = try BookingScripts(library)
        try client().load(library)
        liveServers.withLock { $0.append(server) }
        testDirectories.withLock { $0.append(directory) }
    }

    /// A local cluster of 3 primaries and 3 replicas (`persistent`: append-only files, for nodes killed and started again).
    public init(cluster nodeTimeout: Duration, persistent: Bool = false) throws {
        ignoreBrokenPipes()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("seatlock-cluster-\(UUID().uuidString)")
        let cluster = try LocalRedisCluster(directory: directory, nodeTimeout: nodeTimeout, persistent: persistent)
        self.cluster = cluster
        server = cluster.nodes[0]
        library = try ScriptLibrary.locate()
        scripts = try BookingScripts(library)
        try client().load(library)
        liveServers.withLock { $0 += cluster.nodes }
        testDirectories.withLock { $0.append(directory) }
    }

    deinit {
        cluster?.stop()
        server.stop()
        removeTestDirectory(cluster?.directory ?? server.directory)
    }

    /// One per test process, shared by every test.
    public static func shared() throws -> TestRedis {
        try sharedInstance.get()
    }

    /// One cluster per test process, shared by the tests that run on both.
    public static func sharedCluster() throws -> TestRedis {
        try sharedClusterInstance.get()
    }

    private static let sharedInstance: Result<TestRedis, any Error> = {
        atexit { stopAllRedisServers() }
        return Result { try TestRedis() }
    }()

    private static let sharedClusterInstance: Result<TestRedis, any Error> = {
        atexit { stopAllRedisServers() }
        return Result { try TestRedis(cluster: .seconds(2)) }
    }()

    public var url: RedisURL { cluster?.url ?? server.url }

    public func client() throws -> RedisClient { try RedisClient(url: url) }
}

import Synchronization
private let liveServers = Mutex<[LocalRedisServer]>([])
private let testDirectories = Mutex<[URL]>([])
private func stopAllRedisServers() {
    for server in liveServers.withLock({ $0 }) { server.killWithoutWaiting() }
    for directory in testDirectories.withLock({ $0 }) { removeTestDirectory(directory) }
}

private func removeTestDirectory(_ directory: URL) {
    guard ProcessInfo.processInfo.environment["SEATLOCK_KEEP_TEST_DIRS"] != "1" else { return }
    try? FileManager.default.removeItem(at: directory)
}

public final class TestServer: @unchecked Sendable {
    public let redis: TestRedis
    public let server: BookingServer
    public let port: Int
    public var http: BlockingHTTPClient { BlockingHTTPClient(port: port) }

    public init(redis: TestRedis, threads: Int = 2, configure: (inout ServerConfig) -> Void = { _ in }) throws {
        self.redis = redis
        var config = ServerConfig(redis: redis.url, adminToken: TestSecrets.adminToken, tokenSecret: TestSecrets.tokenSecret)
        config.host = "127.0.0.1"
        config.port = 0
        config.threads = threads
        config.paymentGraceSeconds = 1
        config.redisOptions.commandTimeout = .seconds(1)
        config.redisOptions.maximumBackoff = .milliseconds(200)
        // Every test request comes from 127.0.0.1: tests of the limits turn them on.
        config.abuse = .unlimited
        configure(&config)
        server = try BookingServer(config: config, library: redis.library)
        try server.start()
        port = server.port
    }

    public static func shared() throws -> TestServer {
        try sharedInstance.get()
    }

    private static let sharedInstance: Result<TestServer, any Error> = Result { try TestServer(redis: try TestRedis.shared()) }

    public func stop() { server.stop() }

    // MARK: conveniences for tests

    public static func uniqueEventId(_ prefix: String = "ev") -> String {
        prefix + "-" + UUID().uuidString.prefix(13).lowercased().replacingOccurrences(of: "-", with: "")
    }

    public func token(_ userId: String) -> String { TestSecrets.tokens.mint(userId: userId) }

    public func buyerHeaders(_ userId: String, idempotencyKey: String? = nil) -> [String: String] {
        var headers = ["Authorization": "Bearer " + token(userId), "Content-Type": "application/json"]
        if let idempotencyKey { headers["Idempotency-Key"] = idempotencyKey }
        return headers
    }

    public var adminHeaders: [String: String] {
        ["Authorization": "Bearer " + TestSecrets.adminToken, "Content-Type": "application/json"]
    }

    /// Creates an event with one section A (rows × seatsPerRow) plus any extra sections JSON.
    @discardableResult
    public func createEvent(_ id: String, rows: Int = 5, seatsPerRow: Int = 10, priceCents: Int = 5000,
                            holdSeconds: Int = 900, maxSeatsPerUser: Int = 4) throws -> HTTPReply {
        let body = """
        {"id":"\(id)","name":"Test \(id)","venue":"Hall","startsAt":"2027-01-01T20:00:00Z","holdSeconds":\(holdSeconds),
         "maxSeatsPerUser":\(maxSeatsPerUser),"sections":[{"id":"A","rows":\(rows),"seatsPerRow":\(seatsPerRow),"priceCents":\(priceCents)}]}
        """
        return try http.request("POST", "/v1/events", headers: adminHeaders, json: body)
    }

    public func hold(_ eventId: String, user: String, seats: [String], idempotencyKey: String? = nil) throws -> HTTPReply {
        let list = seats.map { "\"\($0)\"" }.joined(separator: ",")
        return try http.request("POST", "/v1/events/\(eventId)/bookings", headers: buyerHeaders(user, idempotencyKey: idempotencyKey),
                                json: "{\"seats\":[\(list)]}")
    }

    public func holdBest(_ eventId: String, user: String, quantity: Int, section: String = "A") throws -> HTTPReply {
        try http.request("POST", "/v1/events/\(eventId)/bookings", headers: buyerHeaders(user),
                         json: "{\"quantity\":\(quantity),\"section\":\"\(section)\"}")
    }

    public func pay(_ eventId: String, booking: String, user: String, token: String = "tok_visa") throws -> HTTPReply {
        try http.request("POST", "/v1/events/\(eventId)/bookings/\(booking)/payment", headers: buyerHeaders(user),
                         json: "{\"paymentToken\":\"\(token)\"}")
    }
}

extension HTTPReply {
    public func string(_ field: String) -> String? { json?[field] as? String }
    public var seats: [String] { json?["seats"] as? [String] ?? [] }
}
