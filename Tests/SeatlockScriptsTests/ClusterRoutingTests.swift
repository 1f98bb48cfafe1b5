// Redis Cluster's routing rules without a server: slots, the slot map read
// from a CLUSTER SLOTS reply, MOVED and ASK, which argument is a command's
// key, and seed lists in REDIS_URL. (ClusterTests checks the slots against
// a real cluster's CLUSTER KEYSLOT.)
import SeatlockRedis
import Testing

@Suite struct ClusterRoutingTests {
    @Test func slotsFollowTheHashTag() {
        // Figures from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        #expect(ClusterSlot.of("foo") == 12182)
        #expect(ClusterSlot.of("bar") == 5061)
        #expect(ClusterSlot.of("123456789") == 0x31C3 & 16383)
        #expect(ClusterSlot.of("{user1000}.following") == ClusterSlot.of("{user1000}.followers"))
        #expect(ClusterSlot.of("sl:{stress}:event") == ClusterSlot.of("stress"))
        #expect(ClusterSlot.of("sl:{stress}:hold:A-1-1") == ClusterSlot.of("sl:{stress}:log"))
        // An empty tag, or no closing brace: the whole key.
        #expect(ClusterSlot.of("{}foo") != ClusterSlot.of("foo"))
        #expect(ClusterSlot.of("foo{") == ClusterSlot.of("foo{"))
        #expect(ClusterSlot.of("{a}{b}") == ClusterSlot.of("a"))
    }

    @Test func theSlotMapComesFromClusterSlots() throws {
        func node(_ port: Int) -> RedisValue { .array([.bulk("127.0.0.1"), .integer(port), .bulk("id\(port)"), .array([])]) }
        let reply = RedisValue.array([
            .array([.integer(0), .integer(5460), node(7000), node(7003)]),
            .array([.integer(5461), .integer(10922), node(7001), node(7004)]),
            .array([.integer(10923), .integer(16383), node(7002)]),
        ])
        var map = try #require(ClusterSlotMap(clusterSlots: reply))
        #expect(map.isComplete)
        #expect(map.primaries.map(\.port) == [7000, 7001, 7002])
        #expect(map.primary(forSlot: 0)?.port == 7000 && map.primary(forSlot: 5461)?.port == 7001 && map.primary(forSlot: 16383)?.port == 7002)
        #expect(map.replicas[RedisNodeAddress(host: "127.0.0.1", port: 7000)] == [RedisNodeAddress(host: "127.0.0.1", port: 7003)])
        #expect(map.replicaCounts[RedisNodeAddress(host: "127.0.0.1", port: 7002)] == 0)
        map.assign(0, to: RedisNodeAddress(host: "127.0.0.1", port: 7002))
        #expect(map.primary(forSlot: 0)?.port == 7002 && map.primary(forSlot: 1)?.port == 7000)

        let partial = try #require(ClusterSlotMap(clusterSlots: .array([.array([.integer(0), .integer(100), node(7000)])])))
        #expect(!partial.isComplete && partial.primary(forSlot: 101) == nil)
        // Not a slot table: a server without cluster support, or garbage.
        #expect(ClusterSlotMap(clusterSlots: .error("ERR This instance has cluster support disabled")) == nil)
        #expect(ClusterSlotMap(clusterSlots: .array([.array([.integer(9), .integer(3), node(7000)])])) == nil)
        #expect(ClusterSlotMap(clusterSlots: .array([.array([.integer(0), .integer(16384), node(7000)])])) == nil)
    }

    @Test func movedAndAskAreRead() {
        #expect(ClusterRedirect(.error("MOVED 3999 127.0.0.1:6381")) == .moved(slot: 3999, to: RedisNodeAddress(host: "127.0.0.1", port: 6381)))
        #expect(ClusterRedirect(.error("ASK 3999 10.0.0.2:7000")) == .ask(slot: 3999, to: RedisNodeAddress(host: "10.0.0.2", port: 7000)))
        #expect(ClusterRedirect(.error("MOVED 3999 ::1:6381"))?.node == RedisNodeAddress(host: "::1", port: 6381))
        #expect(ClusterRedirect(.error("MOVED 99999 127.0.0.1:6381")) == nil)
        #expect(ClusterRedirect(.error("MOVED 1 127.0.0.1")) == nil)
        #expect(ClusterRedirect(.error("ERR unknown command")) == nil)
        #expect(ClusterRedirect(.bulk("MOVED 1 127.0.0.1:1")) == nil)
    }

    @Test func aCommandIsRoutedByItsKey() {
        #expect(ClusterCommand.routingKey(["EVALSHA", "abc", "2", "sl:{e}:event", "sl:{e}:log", "x"]) == "sl:{e}:event")
        #expect(ClusterCommand.routingKey(["EVALSHA", "abc", "0", "x"]) == nil)
        #expect(ClusterCommand.routingKey(["XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", "sl:{e}:log", ">"]) == "sl:{e}:log")
        #expect(ClusterCommand.routingKey(["XGROUP", "CREATE", "sl:{e}:log", "g", "0"]) == "sl:{e}:log")
        #expect(ClusterCommand.routingKey(["XINFO", "GROUPS", "sl:{e}:log"]) == "sl:{e}:log")
        #expect(ClusterCommand.routingKey(["HGETALL", "sl:{e}:event"]) == "sl:{e}:event")
        for keyless in [["PING"], ["INFO", "commandstats"], ["SCRIPT", "LOAD", "return 1"], ["WAIT", "1", "100"], ["MULTI"], ["TIME"]] {
            #expect(ClusterCommand.routingKey(keyless) == nil, "\(keyless)")
        }
    }

    @Test func redisURLsNameSeveralSeeds() throws {
        let url = try #require(RedisURL("redis://app:pw@10.0.0.1:7000,10.0.0.2:7001,localhost/0"))
        #expect(url.seeds == [RedisNodeAddress(host: "10.0.0.1", port: 7000), RedisNodeAddress(host: "10.0.0.2", port: 7001),
                              RedisNodeAddress(host: "127.0.0.1", port: 6379)])
        #expect(url.host == "10.0.0.1" && url.port == 7000 && url.username == "app" && url.password == "pw")
        let node = url.at(RedisNodeAddress(host: "10.0.0.9", port: 7009))
        #expect(node.seeds == [RedisNodeAddress(host: "10.0.0.9", port: 7009)] && node.password == "pw" && node.username == "app")
        #expect(url.description == "redis://app:***@10.0.0.1:7000,10.0.0.2:7001,127.0.0.1:6379/0")
        #expect(RedisURL("redis://10.0.0.1:7000,10.0.0.2:notaport") == nil)
        #expect(RedisURL("redis://h1:1,h2:70000") == nil)
        #expect(RedisURL("redis://h1:1,,h2:2") == nil)
        #expect(RedisURL("redis://127.0.0.1:6379")?.seeds.count == 1)
    }
}
