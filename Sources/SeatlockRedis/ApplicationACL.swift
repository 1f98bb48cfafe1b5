// The Redis user the server and the workers run as: the `sl:*` keys, the
// expired-key channel, scripts by SHA only, and exactly the commands the
// product sends or its scripts call (Redis checks each `redis.call` against
// the caller's ACL). No FLUSHALL, CONFIG SET, KEYS, DEBUG, RESTORE, no EVAL
// of arbitrary text, no FUNCTION LOAD. One list, used by `seatlock up`,
// printed by `seatlock acl` for operators, and checked by the tests.
public enum ApplicationACL {
    /// Sent directly by the server and the workers.
    public static let clientCommands = [
        "ping", "time", "evalsha", "script|load", "config|get", "psubscribe", "select", "cluster|slots", "asking", "wait", "role",
        "get", "hget", "hgetall", "hmget", "hsetnx", "hincrby", "smembers", "sadd", "zrange", "zrangebyscore",
        "xadd", "xrange", "xrevrange", "xread", "xreadgroup", "xack", "xautoclaim", "xpending", "xlen",
        "xgroup|create", "xinfo|groups", "xtrim", "pfcount", "scan", "hset", "hdel", "multi", "exec", "set", "lrange", "zadd", "zrem",
    ]
    /// Called from inside the Lua scripts (lua/).
    public static let scriptCommands = [
        "decrby", "del", "exists", "expire", "get", "hdel", "hexists", "hget", "hgetall", "hincrby", "hlen", "hmget",
        "hset", "incr", "incrby", "lindex", "lpop", "pexpireat", "pfadd", "pttl", "rpush", "set", "setbit", "time", "xadd", "xrange",
        "zadd", "zcard", "zcount", "zmscore", "zrange", "zrangebyscore", "zrank", "zrem", "zremrangebyscore", "zscore",
    ]

    public static var commands: [String] {
        var seen = Set<String>()
        return (clientCommands + scriptCommands).filter { seen.insert($0).inserted }
    }

    /// The arguments of `ACL SETUSER <user>` after the name.
    public static func rules(password: String, database: Int = 0) -> [String] {
        ["reset", "on", ">" + password, "~sl:*", "resetchannels", "&__keyevent@\(database)__:expired", "-@all"]
            + commands.map { "+" + $0 }
    }

    /// On every node of a cluster, replicas too: an ACL is each node's own,
    /// and a replica may be the primary tomorrow.
    /// Returns how many nodes have it.
    @discardableResult
    public static func install(on client: RedisClient, user: String, password: String, database: Int = 0) throws -> Int {
        let nodes = try client.everyNode()
        for node in nodes {
            try node.checked(["ACL", "SETUSER", user] + rules(password: password, database: database))
        }
        return nodes.count
    }
}
