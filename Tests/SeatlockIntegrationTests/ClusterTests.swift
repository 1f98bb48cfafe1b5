// Seatlock on a real Redis Cluster (3 primaries, 3 replicas, started by the
// test support): the slot of a key as Redis computes it, routing in the
// blocking and the event-loop clients, MOVED and ASK while a slot moves, and
// the booking server serving events that live on different primaries.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis
import SeatlockServer
import SeatlockScripts
import SeatlockTestSupport
import SeatlockWorkers
import Synchronization
import Testing

/// Runs `body` on a fresh event loop thread with a RedisConnection to `url`;
/// `body` calls `finish` when done. Returns what `finish` got.
func onLoop<T: Sendable>(_ url: RedisURL, timeout: TimeInterval = 10,
                         _ body: @escaping (EventLoop, RedisConnection, @escaping (T) -> Void) -> Void) -> T? {
    let outcome = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) let body = body // runs on the loop thread only
    let thread = Thread {
        guard let loop = try? EventLoop() else { done.signal(); return }
        let connection = RedisConnection(loop: loop, url: url)
        body(loop, connection) { value in
            outcome.withLock { $0 = value }
            connection.close()
            loop.handle.stop()
        }
        loop.run()
        done.signal()
    }
    thread.start()
    guard done.wait(timeout: .now() + timeout) == .success else { return nil }
    return outcome.withLock { $0 }
}

/// Event ids whose slots fall on every primary of the cluster.
func eventsOnEveryPrimary(_ client: RedisClient, prefix: String, each: Int = 1) throws -> [String] {
    let primaries = try client.primaries().map { RedisNodeAddress(host: $0.url.host, port: $0.url.port) }
    var found: [RedisNodeAddress: [String]] = [:]
    while primaries.contains(where: { (found[$0]?.count ?? 0) < each }) {
        let event = TestServer.uniqueEventId(prefix)
        guard let primary = client.primaryAddress(forKey: EventKeys(event).event) else { continue }
        if (found[primary]?.count ?? 0) < each { found[primary, default: []].append(event) }
    }
    return primaries.flatMap { found[$0]! }
}

@Suite(.serialized) struct ClusterTests {
    @Test func theSlotOfAKeyIsTheSlotRedisGives() throws {
        let redis = try TestRedis.sharedCluster()
        let client = try redis.client()
        let event = TestServer.uniqueEventId("slot")
        let keys = [EventKeys(event).event, EventKeys(event).hold("A-1-1"), EventKeys(event).log, GlobalKeys.events,
                    UserKeys.user("u1"), "foo", "{}", "{}x", "a{b}c{d}", "{a", "a}", "", "ñ{é}"]
        for key in keys {
            #expect(ClusterSlot.of(key) == (try client.send(["CLUSTER", "KEYSLOT", key]).int), "\(key)")
        }
        #expect(ClusterSlot.of(EventKeys(event).event) == ClusterSlot.of(EventKeys(event).free("A")))
    }

    @Test func theBlockingClientRoutesEveryKeyToItsPrimary() throws {
        let redis = try TestRedis.sharedCluster()
        let client = try redis.client()
        #expect(client.isCluster)
        #expect(try client.primaries().count == 3)
        let events = try eventsOnEveryPrimary(client, prefix: "route")
        for event in events { try client.call("SET", EventKeys(event).event + ":probe", event) }
        let replies = try client.pipeline(events.map { ["GET", EventKeys($0).event + ":probe"] })
        #expect(replies.map(\.string) == events.map(Optional.some))
        // Each value is on its own primary only (the others would answer MOVED).
        for node in try client.primaries() {
            let here = try node.pipeline(events.map { ["GET", EventKeys($0).event + ":probe"] })
            #expect(here.filter { $0.string != nil }.count == 1, "\(here)")
        }
        #expect(Set(try client.scanKeys("sl:{route-*}:event:probe")).isSuperset(of: events.map { EventKeys($0).event + ":probe" }))
        // A transaction stays on its key's node.
        let key = EventKeys(events[1]).event + ":tx"
        try client.call("WATCH", key)
        try client.call("MULTI")
        try client.call("SET", key, "1")
        try client.call("INCR", key)
        #expect(try client.send(["EXEC"]).array == [.status("OK"), .integer(2)])
    }

    @Test func theLoopClientRoutesCommandsScriptsAndPipelines() throws {
        let redis = try TestRedis.sharedCluster()
        let client = try redis.client()
        let events = try eventsOnEveryPrimary(client, prefix: "loop")
        let script = try redis.library.script("get_event")
        let seen: [String]? = onLoop(redis.url) { _, connection, finish in
            connection.pipeline(events.map { ["SET", EventKeys($0).event + ":loop", $0] }) { _ in
                connection.pipeline(events.map { ["GET", EventKeys($0).event + ":loop"] }) { results in
                    // A script on a node that never loaded it: NOSCRIPT, SCRIPT LOAD there, run.
                    connection.run(script, keys: [EventKeys(events[2]).event], args: []) { scripted in
                        finish(results.map { (try? $0.get())?.string ?? "?" } + [(try? scripted.get())?.errorMessage == nil ? "ran" : "\(scripted)"])
                    }
                }
            }
        }
        #expect(seen == events + ["ran"])
        #expect(onLoop(redis.url) { _, connection, finish in
            connection.sendToEveryPrimary(["PING"]) { finish($0.map { (try? $0.get())?.string ?? "?" }) }
        } == ["PONG", "PONG", "PONG"])
    }

    @Test func aSlotThatMovesIsFollowedThroughAskAndMoved() throws {
        let redis = try TestRedis.sharedCluster()
        let client = try redis.client()
        let event = TestServer.uniqueEventId("move")
        let key = EventKeys(event).event + ":moving"
        let other = EventKeys(event).event + ":staying"
        try client.call("SET", key, "here")
        try client.call("SET", other, "there")
        let slot = ClusterSlot.of(key)
        let source = try client.primaries().first { $0.url.port == client.primaryAddress(forKey: key)?.port }!
        let target = try client.primaries().first { $0.url.port != source.url.port }!
        let sourceId = try source.call("CLUSTER", "MYID").string!
        let targetId = try target.call("CLUSTER", "MYID").string!
        func finishMove() throws {
            for node in try client.everyNode() { _ = try node.send(["CLUSTER", "SETSLOT", String(slot), "NODE", targetId]) }
        }

        let connection = onLoop(redis.url, timeout: 20) { (loop: EventLoop, connection: RedisConnection, finish: @escaping ([String]) -> Void) in
            connection.send(["GET", key]) { before in
                // Migrating: `key` moves to the target, `other` stays: ASK for one, a plain answer for the other.
                try? target.call("CLUSTER", "SETSLOT", String(slot), "IMPORTING", sourceId)
                try? source.call("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId)
                _ = try? source.send(["MIGRATE", target.url.host, String(target.url.port), "", "0", "5000", "KEYS", key])
                connection.pipeline([["GET", key], ["GET", other]]) { during in
                    // Done moving: MOVED, the map follows.
                    _ = try? source.send(["MIGRATE", target.url.host, String(target.url.port), "", "0", "5000", "KEYS", other])
                    try? finishMove()
                    connection.pipeline([["GET", key], ["GET", other]]) { after in
                        let text = ([before] + during + after).map { (try? $0.get())?.string ?? "\($0)" }
                        finish(text)
                    }
                }
            }
        }
        #expect(connection == ["here", "here", "there", "here", "there"])
        #expect(try client.call("GET", key).string == "here") // the blocking client follows MOVED too
        #expect(try target.call("GET", key).string == "here")
        // Give the slot back so other tests find the cluster as they expect.
        _ = try target.send(["CLUSTER", "SETSLOT", String(slot), "MIGRATING", sourceId])
        _ = try source.send(["CLUSTER", "SETSLOT", String(slot), "IMPORTING", targetId])
        _ = try target.send(["MIGRATE", source.url.host, String(source.url.port), "", "0", "5000", "KEYS", key, other])
        for node in try client.everyNode() { _ = try node.send(["CLUSTER", "SETSLOT", String(slot), "NODE", sourceId]) }
    }

    @Test func theBookingServerSellsEventsOnEveryPrimary() throws {
        let redis = try TestRedis.sharedCluster()
        let server = try TestServer(redis: redis)
        defer { server.stop() }
        let client = try redis.client()
        let events = try eventsOnEveryPrimary(client, prefix: "sell")
        for event in events {
            #expect(try server.createEvent(event, rows: 2, seatsPerRow: 5).status == 201)
            let held = try server.hold(event, user: "buyer-\(event)", seats: ["A-1-1", "A-1-2"])
            #expect(held.status == 201, "\(held.body)")
            #expect(try server.hold(event, user: "other-\(event)", seats: ["A-1-2"]).status == 409)
            let best = try server.holdBest(event, user: "best-\(event)", quantity: 2)
            #expect(best.status == 201, "\(best.body)")
            let booking = try #require(held.string("id"))
            let read = try server.http.request("GET", "/v1/events/\(event)/bookings/\(booking)", headers: server.buyerHeaders("buyer-\(event)"))
            #expect(read.status == 200 && read.string("status") == "held")
            #expect(try server.http.request("GET", "/v1/events/\(event)", headers: [:]).status == 200)
        }
        // Every primary ran hold scripts.
        for node in try client.primaries() {
            let stats = try node.call("INFO", "commandstats").string ?? ""
            #expect(stats.contains("cmdstat_evalsha:calls="), "\(node.url)")
        }
        #expect(try server.http.request("GET", "/v1/events?limit=100", headers: [:]).status == 200)
        // /metrics reads every event's log groups and figures on its own primary.
        let metrics = try server.http.request("GET", "/metrics", headers: [:])
        #expect(metrics.status == 200 && metrics.text.contains("seatlock_dlq_entries"), "\(metrics.status)")
    }
}

/// Workers on the cluster: each one must cover every primary.
@Suite(.serialized) struct ClusterWorkerTests {
    private func createEvents(_ redis: TestRedis, prefix: String, holdSeconds: Int) throws -> [String] {
        let client = try redis.client()
        let events = try eventsOnEveryPrimary(client, prefix: prefix)
        for event in events {
            let spec = try JSONDecoder().decode(EventSpec.self, from: Data("""
            {"id":"\(event)","name":"C","venue":"V","startsAt":"2027-01-01T00:00:00Z","holdSeconds":\(holdSeconds),"maxSeatsPerUser":4,
             "sections":[{"id":"A","rows":2,"seatsPerRow":5,"priceCents":100}]}
            """.utf8))
            #expect(try client.run(redis.scripts.createEvent(spec)).array?.first?.int == 201)
            try client.call("SADD", GlobalKeys.events, event)
        }
        return events
    }

    private func hold(_ redis: TestRedis, _ event: String, seat: String, user: String) throws -> String {
        let booking = BookingID.random()
        let reply = try redis.client().run(redis.scripts.hold(.seats([SeatID(seat)!]), event: event, booking: booking, user: user))
        #expect(reply.array?.first?.int == 201, "\(reply)")
        return booking
    }

    private func status(_ redis: TestRedis, _ event: String, _ booking: String, becomes wanted: Set<String>, within seconds: TimeInterval) throws -> [String: String] {
        let client = try redis.client()
        let deadline = Date().addingTimeInterval(seconds)
        var fields: [String: String] = [:]
        repeat {
            fields = try client.call("HGETALL", EventKeys(event).booking(booking)).fields
            if wanted.contains(fields["status"] ?? "") { break }
            Thread.sleep(forTimeInterval: 0.05)
        } while Date() < deadline
        return fields
    }

    @Test func theExpiryListenerHearsEveryPrimary() throws {
        let redis = try TestRedis.sharedCluster()
        var options = ExpiryOptions()
        options.listen = true
        options.sweepInterval = .seconds(60) // the listener alone
        let service = ExpiryService(redis: redis.url, scripts: redis.scripts, options: options)
        try service.start()
        defer { service.stop() }
        Thread.sleep(forTimeInterval: 0.3) // subscribed on each primary
        let events = try createEvents(redis, prefix: "cexp", holdSeconds: 1)
        let bookings = try events.map { try hold(redis, $0, seat: "A-1-1", user: "u-\($0)") }
        for (event, booking) in zip(events, bookings) {
            let fields = try status(redis, event, booking, becomes: ["expired"], within: 4)
            #expect(fields["status"] == "expired" && fields["expiredBy"] == "listener", "\(event): \(fields)")
        }
        #expect(service.expired.byListener >= events.count)
    }

    @Test func paymentsConfirmOnEveryPrimaryOnceAReplicaHasTheWrite() throws {
        let redis = try TestRedis.sharedCluster()
        let client = try redis.client()
        let waitsBefore = try client.primaries().map { try Self.calls("wait", on: $0) }
        var options = PaymentsOptions(consumer: "cluster-\(UUID().uuidString.prefix(6))")
        options.consumer.discoverEvery = .milliseconds(100)
        let service = PaymentsService(redis: redis.url, scripts: redis.scripts, options: options)
        try service.start()
        defer { service.stop() }
        let events = try createEvents(redis, prefix: "cpay", holdSeconds: 900)
        for event in events {
            let booking = try hold(redis, event, seat: "A-2-2", user: "p-\(event)")
            let paid = try client.run(redis.scripts.requestPayment(event: event, booking: booking, owner: "p-\(event)", paymentToken: "tok_visa",
                                                                    graceMilliseconds: 60_000))
            #expect(paid.array?.first?.int == 202)
            let fields = try status(redis, event, booking, becomes: ["confirmed"], within: 10)
            #expect(fields["status"] == "confirmed", "\(event): \(fields)")
        }
        // Each primary has a replica, so each confirmation WAITed on its own primary.
        let waitsAfter = try client.primaries().map { try Self.calls("wait", on: $0) }
        #expect(zip(waitsBefore, waitsAfter).allSatisfy { $1 > $0 }, "\(waitsBefore) → \(waitsAfter)")
        // Every entry acked (after its WAIT): nothing pending for the group on any event's log.
        for event in events {
            let deadline = Date().addingTimeInterval(5)
            var pending = -1
            repeat {
                pending = try client.call("XPENDING", EventKeys(event).log, "payments").array?.first?.int ?? -1
                if pending == 0 { break }
                Thread.sleep(forTimeInterval: 0.05)
            } while Date() < deadline
            #expect(pending == 0, "\(event)")
        }
    }

    @Test func aStreamSubscriberSeesItsEventOnEachPrimary() throws {
        let redis = try TestRedis.sharedCluster()
        let server = try TestServer(redis: redis)
        defer { server.stop() }
        let events = try eventsOnEveryPrimary(try redis.client(), prefix: "csse")
        for event in events {
            #expect(try server.createEvent(event, rows: 1, seatsPerRow: 4).status == 201)
            let stream = try SSEClient(port: server.port, path: "/v1/events/\(event)/stream")
            defer { stream.close() }
            #expect(stream.read { $0.contains { $0.event == "counts" } }.first?.json["available"] as? Int == 4)
            #expect(try server.hold(event, user: "s-\(event)", seats: ["A-1-3"]).status == 201)
            let change = stream.read { $0.contains { $0.event == "availability" } }.first { $0.event == "availability" }
            #expect(change?.json["status"] as? String == "held" && (change?.json["seats"] as? [String]) == ["A-1-3"], "\(event)")
        }
    }

    static func calls(_ command: String, on node: RedisClient) throws -> Int {
        let stats = try node.call("INFO", "commandstats").string ?? ""
        guard let line = stats.split(separator: "\r\n").first(where: { $0.hasPrefix("cmdstat_\(command):") }),
              let calls = line.split(separator: "=").dropFirst().first?.split(separator: ",").first else { return 0 }
        return Int(calls) ?? 0
    }
}

/// A primary dies: its replica takes over, and the server follows by itself.
@Suite(.serialized) struct ClusterFailoverTests {
    /// A cluster of its own (these tests kill nodes), node timeout 1 s, its
    /// nodes' data on disk (AOF), and a server on it.
    private func freshCluster() throws -> (TestRedis, LocalRedisCluster, TestServer) {
        let redis = try TestRedis(cluster: .seconds(1), persistent: true)
        return (redis, try #require(redis.cluster), try TestServer(redis: redis))
    }

    @Test func holdsComeBackOnTheReplicaAfterThePrimaryIsKilled() throws {
        let (_, cluster, server) = try freshCluster()
        defer { server.stop(); cluster.stop() }
        let event = TestServer.uniqueEventId("fail")
        #expect(try server.createEvent(event, rows: 10, seatsPerRow: 10).status == 201)
        #expect(try server.holdBest(event, user: "before", quantity: 1).status == 201)
        let victim = try cluster.primary(forKey: EventKeys(event).event)
        victim.kill()

        // Until the replica is promoted (node timeout 1 s, then an election), buyers get 503 with Retry-After, nothing else.
        var refused = 0, attempt = 0
        let deadline = Date().addingTimeInterval(20)
        var last = try server.holdBest(event, user: "during-0", quantity: 1)
        while last.status != 201, Date() < deadline {
            #expect(last.status == 503, "\(last.status) \(last.body)")
            #expect(last.headers["retry-after"] != nil)
            refused += 1
            attempt += 1
            Thread.sleep(forTimeInterval: 0.1)
            last = try server.holdBest(event, user: "during-\(attempt)", quantity: 1)
        }
        #expect(last.status == 201, "the server did not come back: \(last.status) \(last.body)")
        #expect(refused > 0) // the primary was really gone for a while
        let now = try cluster.primary(forKey: EventKeys(event).event)
        #expect(now.port != victim.port)
        // The new primary has the scripts (NOSCRIPT loads them) and serves the rest of the event. The
        // server's other loop may still be on the old map for a moment (it refreshes within 250 ms
        // of an error): 503s meanwhile, nothing else.
        func soon(_ request: () throws -> HTTPReply) throws -> HTTPReply {
            let until = Date().addingTimeInterval(5)
            var reply = try request()
            while reply.status == 503, Date() < until {
                Thread.sleep(forTimeInterval: 0.1)
                reply = try request()
            }
            return reply
        }
        #expect(try soon { try server.http.request("GET", "/v1/events/\(event)", headers: [:]) }.status == 200)
        #expect(try soon { try server.holdBest(event, user: "after", quantity: 2) }.status == 201)
    }

    @Test func slotsNoNodeServesAre503sWhileTheOtherEventsSellOn() throws {
        let (redis, cluster, server) = try freshCluster()
        defer { server.stop(); cluster.stop() }
        let client = try redis.client()
        let events = try eventsOnEveryPrimary(client, prefix: "down")
        for event in events { #expect(try server.createEvent(event, rows: 10, seatsPerRow: 10).status == 201) }
        // A primary and its replica both die: no node serves their slots (CLUSTERDOWN once the cluster sees it).
        let primary = try cluster.primary(forKey: EventKeys(events[0]).event)
        let replicaAddress = try #require(client.replicas(of: RedisNodeAddress(host: "127.0.0.1", port: primary.port)).first)
        let replica = try #require(cluster.nodes.first { $0.port == replicaAddress.port })
        replica.kill()
        primary.kill()
        for second in 0..<4 { // before and after the node timeout (1 s)
            let down = try server.holdBest(events[0], user: "down-\(second)", quantity: 1)
            #expect(down.status == 503 && down.headers["retry-after"] != nil, "\(down.status) \(down.body)")
            // cluster-require-full-coverage no: the other primaries' events keep selling.
            #expect(try server.holdBest(events[1], user: "other-\(second)", quantity: 1).status == 201)
            Thread.sleep(forTimeInterval: 0.7)
        }

        // Both come back from their files; the cluster, and the server, recover by themselves.
        try cluster.restart(primary)
        try cluster.restart(replica)
        let back = Date().addingTimeInterval(20)
        var last = 0
        repeat {
            last = try server.holdBest(events[0], user: "back-\(Int(Date().timeIntervalSince1970 * 1000))", quantity: 1).status
            if last == 201 { break }
            #expect(last == 503)
            Thread.sleep(forTimeInterval: 0.2)
        } while Date() < back
        #expect(last == 201)
        #expect(try server.holdBest(events[1], user: "back-other", quantity: 1).status == 201)
    }
}
