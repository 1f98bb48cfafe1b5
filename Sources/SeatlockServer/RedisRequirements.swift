// Settings Redis must have before Seatlock writes to it. An eviction policy
// other than `noeviction` can drop a hold key when memory runs short, and a
// dropped hold makes a held seat look free: an oversell. So the server
// refuses to start on such a Redis, with the setting to change.
import SeatlockRedis

public enum RedisRequirements {
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Throws `Refused` when the eviction policy is unsafe. A Redis that will
    /// not say (CONFIG denied by an ACL) is let through: its operator owns it.
    /// Returns what was found, for the start-up log. A cluster's every primary is asked.
    @discardableResult
    public static func checkEvictionPolicy(_ client: RedisClient) throws -> String {
        try Set(client.primaries().map(checkEvictionPolicy(node:))).sorted().joined(separator: ", ")
    }

    private static func checkEvictionPolicy(node client: RedisClient) throws -> String {
        let reply = try client.send(["CONFIG", "GET", "maxmemory-policy"])
        if let message = reply.errorMessage { return "unknown (\(message))" }
        let policy = reply.array?.last?.string ?? ""
        guard policy == "noeviction" else {
            throw Refused(description: "Redis runs with maxmemory-policy \(policy); Seatlock needs noeviction (an evicted hold key is an oversell). "
                + "Run: redis-cli CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)")
        }
        return policy
    }
}
