// The hiredis bridge on its own: AUTH and SELECT from REDIS_URL, and a
// command timeout that fails every pending caller and reconnects.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Synchronization
import Testing

@Suite(.serialized) struct RedisConnectionTests {
    @Test func passwordAndDatabaseComeFromTheURL() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("seatlock-auth-\(UUID().uuidString)")
        let server = try LocalRedisServer(directory: directory, password: "s3cret-pass")
        defer {
            server.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        var url = server.url
        url.database = 3
        var withoutPassword = url
        withoutPassword.password = nil
        #expect(throws: RedisError.self) { _ = try RedisClient(url: withoutPassword).checked(["PING"]) }

        let client = try RedisClient(url: url)
        let library = try ScriptLibrary.locate()
        try client.load(library)
        var config = ServerConfig(redis: url, adminToken: TestSecrets.adminToken, tokenSecret: TestSecrets.tokenSecret)
        config.host = "127.0.0.1"
        config.port = 0
        let booking = try BookingServer(config: config, library: library)
        try booking.start()
        let port = booking.port
        defer { booking.stop() }
        let http = BlockingHTTPClient(port: port)
        #expect(try http.request("GET", "/readyz").status == 200)
        let event = TestServer.uniqueEventId("db3")
        let body = """
        {"id":"\(event)","name":"n","venue":"v","startsAt":"2027-01-01T00:00:00Z","sections":[{"id":"A","rows":1,"seatsPerRow":2,"priceCents":1}]}
        """
        let created = try http.request("POST", "/v1/events", headers: ["Authorization": "Bearer " + TestSecrets.adminToken], json: body)
        #expect(created.status == 201)
        #expect(try client.call("EXISTS", EventKeys(event).event).int == 1) // database 3
        #expect(try client.call("SELECT", "0") == .status("OK"))
        #expect(try client.call("EXISTS", EventKeys(event).event).int == 0)
    }

    @Test func severalSeedsThatAreNotAClusterAreRefusedClearly() throws {
        let redis = try TestRedis.shared()
        var url = redis.url
        url.moreSeeds = [RedisNodeAddress(host: "127.0.0.1", port: redis.server.port)]
        do {
            _ = try RedisClient(url: url)
            Issue.record("a single Redis named twice was taken for a cluster")
        } catch let error as RedisError {
            #expect(error.message.contains("not a Redis Cluster node"), "\(error)")
        }
        #expect(try RedisClient(url: redis.url).isCluster == false) // one seed: the single Redis, as always
    }

    @Test func aStuckCommandTimesOutEveryPendingCallerAndTheConnectionComesBack() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let results = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            guard let loop = try? EventLoop() else { done.signal(); return }
            var options = RedisConnectionOptions()
            options.commandTimeout = .milliseconds(300)
            options.maximumBackoff = .milliseconds(100)
            let connection = RedisConnection(loop: loop, url: redis.url, options: options)
            func record(_ label: String) -> RedisConnection.Completion {
                { result in
                    let text: String = switch result {
                    case let .success(value): "\(label):\(value)"
                    case let .failure(error): "\(label):\(error.kind)"
                    }
                    results.withLock { $0.append(text) }
                }
            }
            // DEBUG SLEEP is not enabled; a long Lua busy loop blocks Redis instead.
            connection.send(["EVAL", "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > 700000 return 1", "0"], completion: record("slow"))
            connection.send(["PING"], completion: record("behind"))
            loop.schedule(after: .milliseconds(1500)) {
                connection.send(["PING"], completion: record("later"))
                loop.schedule(after: .milliseconds(300)) {
                    connection.close()
                    loop.handle.stop()
                }
            }
            loop.run()
            done.signal()
        }
        thread.start()
        #expect(done.wait(timeout: .now() + 10) == .success)
        let seen = results.withLock { $0 }
        #expect(seen.contains("slow:timeout"), "\(seen)")
        #expect(seen.contains("behind:timeout"), "\(seen)")
        #expect(seen.contains("later:PONG"), "\(seen)")
    }
}

@Suite(.serialized) struct RedisRequirementTests {
    @Test func anEvictingRedisIsRefused() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let client = try redis.client()
        #expect(try RedisRequirements.checkEvictionPolicy(client) == "noeviction")
        try client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        do {
            try RedisRequirements.checkEvictionPolicy(client)
            Issue.record("an allkeys-lru Redis was accepted")
        } catch let refused as RedisRequirements.Refused {
            #expect(refused.description.contains("allkeys-lru") && refused.description.contains("noeviction"))
        }
    }
}
