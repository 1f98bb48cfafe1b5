// What a booking server needs to start: where Redis is, where to listen,
// the secrets, and the limits. Built by the CLI from flags and environment.
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis

public struct ServerConfig: Sendable {
    public var redis: RedisURL
    public var host: String = "0.0.0.0"
    public var port: Int = 8080
    public var threads: Int = 1
    public var adminToken: String
    public var tokenSecret: String
    /// How long a hold is extended when the buyer asks to pay (never shortened).
    public var paymentGraceSeconds: Int = 120
    public var http = HTTPLimits()
    /// Rate limits and caps against bots (SeatlockCore/AbusePolicy.swift).
    public var abuse = AbusePolicy()
    /// Load balancers whose X-Forwarded-For names the buyer's address (exact
    /// numeric addresses; `clientAddress(peer:forwardedFor:trusted:)`).
    public var trustedProxies: Set<String> = []
    public var redisOptions = RedisConnectionOptions()
    /// Automatic queue admission: at most this many admitted buyers without a
    /// hold yet (and never more than the seats available), lua/queue_tick.lua.
    public var queueShoppingBound = 2_000

    public init(redis: RedisURL, adminToken: String, tokenSecret: String) {
        self.redis = redis
        self.adminToken = adminToken
        self.tokenSecret = tokenSecret
    }
}
