// Races and failures: many buyers at once on the same seats, and Redis
// going away and coming back under a running server.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Synchronization
import Testing

@Suite struct ConcurrencyTests {
    @Test func buyersRacingForTheSameSeatsNeverShareOne() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("race")
        try server.createEvent(event, rows: 1, seatsPerRow: 6, maxSeatsPerUser: 4)
        let wanted = [["A-1-1", "A-1-2"], ["A-1-2", "A-1-3"], ["A-1-3", "A-1-4"], ["A-1-4", "A-1-5"], ["A-1-5", "A-1-6"], ["A-1-1"]]
        let outcomes = Mutex<[(status: Int, seats: [String], id: String?)]>([])
        DispatchQueue.concurrentPerform(iterations: 48) { buyer in
            let seats = wanted[buyer % wanted.count]
            let reply = try? server.hold(event, user: "racer\(buyer)", seats: seats)
            outcomes.withLock { $0.append((reply?.status ?? -1, seats, reply?.string("id"))) }
        }
        let all = outcomes.withLock { $0 }
        #expect(all.allSatisfy { $0.status == 201 || $0.status == 409 }, "\(all.map(\.status))")
        let winners = all.filter { $0.status == 201 }
        let wonSeats = winners.flatMap(\.seats)
        #expect(!winners.isEmpty)
        #expect(Set(wonSeats).count == wonSeats.count, "a seat was held twice: \(wonSeats)")

        // Redis agrees: every hold key names exactly the booking that won it.
        let client = try server.redis.client()
        let keys = EventKeys(event)
        for winner in winners {
            for seat in winner.seats {
                #expect(try client.call("GET", keys.hold(seat)).string == winner.id)
            }
        }
        #expect(try client.call("HGET", keys.event, "held").int == wonSeats.count)
        let free = try client.call("ZCARD", keys.free("A")).int ?? -1
        #expect(free + wonSeats.count == 6)
    }

    @Test func bestAvailableRaceHandsOutDistinctSeats() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId("best")
        try server.createEvent(event, rows: 4, seatsPerRow: 10)
        let seats = Mutex<[String]>([])
        let statuses = Mutex<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 40) { buyer in
            let reply = try? server.holdBest(event, user: "b\(buyer)", quantity: 2)
            statuses.withLock { $0.append(reply?.status ?? -1) }
            if reply?.status == 201 { seats.withLock { $0 += reply?.seats ?? [] } }
        }
        let taken = seats.withLock { $0 }
        #expect(statuses.withLock { $0 }.allSatisfy { $0 == 201 || $0 == 409 })
        #expect(taken.count == 40 && Set(taken).count == 40)
    }
}

@Suite(.serialized) struct RedisOutageTests {
    @Test func redisDownGives503ThenTheServerRecoversByItself() throws {
        let redis = try TestRedis()
        let port = redis.server.port
        let server = try TestServer(redis: redis, threads: 2)
        defer { server.stop() }
        let event = TestServer.uniqueEventId("outage")
        #expect(try server.createEvent(event).status == 201)

        redis.server.kill()
        for _ in 0..<4 {
            let reply = try server.hold(event, user: "u", seats: ["A-1-1"])
            #expect(reply.status == 503 && reply.string("error") == "unavailable", "\(reply.status) \(reply.text)")
            #expect(try server.http.request("GET", "/readyz").status == 503)
        }
        #expect(try server.http.request("GET", "/healthz").status == 200)

        // Same port, empty data: the scripts are gone too (NOSCRIPT fallback).
        let revived = try LocalRedisServer(port: port, directory: redis.server.directory)
        defer { revived.stop() }
        // Each loop reconnects on its own (with backoff), and a request lands
        // on any loop: retry until every call has gone through, answering only
        // 503 meanwhile, never another error.
        func eventually(_ call: () throws -> HTTPReply) throws -> HTTPReply {
            var reply = try call()
            for _ in 0..<50 where reply.status == 503 {
                Thread.sleep(forTimeInterval: 0.1)
                reply = try call()
            }
            return reply
        }
        #expect(try eventually { try server.http.request("GET", "/readyz") }.status == 200)
        let again = try eventually { try server.createEvent(event) }
        #expect(again.status == 201, "\(again.text)")
        #expect(try eventually { try server.hold(event, user: "u", seats: ["A-1-1"]) }.status == 201)
        for _ in 0..<8 { #expect(try eventually { try server.http.request("GET", "/readyz") }.status == 200) } // every loop comes back
    }
}
