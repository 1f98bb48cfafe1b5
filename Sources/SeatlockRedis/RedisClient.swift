// A blocking Redis connection (hiredis' synchronous API) for the command
// line, the audit, tests and start-up work. Never used on an event loop.
// On a Redis Cluster seed it routes as RedisConnection does (see
// RedisClient+Cluster.swift): one client per primary, MOVED and ASK followed.
import CHiredis
import Foundation

public final class RedisClient {
    private var context: UnsafeMutablePointer<redisContext>?
    public let url: RedisURL
    let timeout: Duration
    /// Set when the seed is a cluster node.
    var cluster: ClusterRouting?

    /// Connects to the first seed that answers; on a cluster node, learns the slot map.
    public init(url: RedisURL, timeout: Duration = .seconds(5)) throws {
        self.url = url
        self.timeout = timeout
        var lastError: Error?
        for seed in url.seeds {
            do {
                context = try Self.open(url.at(seed), timeout: timeout)
                break
            } catch { lastError = error }
        }
        guard context != nil else { throw lastError! }
        if url.seeds.count > 1 || url.database == 0 { try detectCluster() }
        if url.seeds.count > 1, cluster == nil {
            throw RedisError(.server, "REDIS_URL names \(url.seeds.count) seed nodes, but the one that answered is not a Redis Cluster node "
                + "(cluster support disabled, or the user may not run CLUSTER SLOTS): give one host:port for a single Redis")
        }
    }

    /// One node, no routing.
    init(node url: RedisURL, timeout: Duration) throws {
        self.url = url
        self.timeout = timeout
        context = try Self.open(url, timeout: timeout)
    }

    private static func open(_ url: RedisURL, timeout: Duration) throws -> UnsafeMutablePointer<redisContext> {
        let tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        guard let context = redisConnectWithTimeout(url.host, Int32(url.port), tv) else {
            throw RedisError(.unavailable, "cannot allocate a Redis context")
        }
        if context.pointee.err != 0 {
            let message = Self.errorText(context)
            redisFree(context)
            throw RedisError(.unavailable, "cannot connect to \(url): \(message)")
        }
        redisSetTimeout(context, tv)
        for command in url.handshake {
            let reply: RedisValue
            do { reply = try exchange(context, [command])[0] } catch {
                redisFree(context)
                throw error
            }
            if let error = reply.errorMessage {
                redisFree(context)
                throw RedisError(.server, "\(command[0]) failed: \(error)")
            }
        }
        return context
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Sends one command and waits for its reply. An error reply is returned
    /// as `.error`, not thrown; a broken connection throws.
    @discardableResult
    public func send(_ arguments: [String]) throws -> RedisValue {
        if cluster != nil { return try routedSend(arguments) }
        return try nodePipeline([arguments])[0]
    }

    /// Sends all commands, then reads all replies (one round trip per batch
    /// instead of one per command). Error replies are returned, not thrown.
    public func pipeline(_ commands: [[String]]) throws -> [RedisValue] {
        if cluster != nil { return try routedPipeline(commands) }
        return try nodePipeline(commands)
    }

    /// To this node, whatever the keys.
    func nodePipeline(_ commands: [[String]]) throws -> [RedisValue] {
        guard let context else { throw RedisError(.unavailable, "connection closed") }
        do {
            return try Self.exchange(context, commands)
        } catch let error as RedisError where error.kind == .connectionLost {
            redisFree(context)
            self.context = nil
            throw error
        }
    }

    private static func exchange(_ context: UnsafeMutablePointer<redisContext>, _ commands: [[String]]) throws -> [RedisValue] {
        for command in commands {
            let status = withRESPCommand(command) { resp, length in redisAppendFormattedCommand(context, resp, length) }
            guard status == REDIS_OK else { throw RedisError(.connectionLost, "cannot queue a command") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                throw RedisError(.connectionLost, "Redis connection lost: \(errorText(context))")
            }
            replies.append(RedisValue(copying: raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Every key matching `pattern`, by SCAN (never KEYS: it would block
    /// Redis), on every primary.
    public func scanKeys(_ pattern: String, count: Int = 1000) throws -> [String] {
        if cluster != nil { return try primaries().flatMap { try $0.scanKeys(pattern, count: count) } }
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try checked(["SCAN", cursor, "MATCH", pattern, "COUNT", String(count)])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else { break }
            cursor = next
            keys += parts[1].array?.compactMap(\.string) ?? []
        } while cursor != "0"
        return keys
    }

    /// Like `send`, but an error reply throws.
    @discardableResult
    public func call(_ arguments: String...) throws -> RedisValue {
        try checked(arguments)
    }

    @discardableResult
    public func checked(_ arguments: [String]) throws -> RedisValue {
        let reply = try send(arguments)
        if let error = reply.errorMessage { throw RedisError(.server, error) }
        return reply
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
