// A blocking Redis connection (hiredis' synchronous API) for the command
// line, the audit, tests and start-up work. Never used on an event loop.
import CHiredis
import Foundation

public final class RedisClient {
    private var context: UnsafeMutablePointer<redisContext>?
    public let url: RedisURL

    public init(url: RedisURL, timeout: Duration = .seconds(5)) throws {
        self.url = url
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
        self.context = context
        for command in url.handshake {
            let reply = try send(command)
            if let error = reply.errorMessage { throw RedisError(.server, "\(command[0]) failed: \(error)") }
        }
    }

    deinit {
        if let context { redisFree(context) }
    }

    /// Sends one command and waits for its reply. An error reply is returned
    /// as `.error`, not thrown; a broken connection throws.
    @discardableResult
    public func send(_ arguments: [String]) throws -> RedisValue {
        try pipeline([arguments])[0]
    }

    /// Sends all commands, then reads all replies (one round trip per batch
    /// instead of one per command). Error replies are returned, not thrown.
    public func pipeline(_ commands: [[String]]) throws -> [RedisValue] {
        guard let context else { throw RedisError(.unavailable, "connection closed") }
        for command in commands {
            let status = withRESPCommand(command) { resp, length in redisAppendFormattedCommand(context, resp, length) }
            guard status == REDIS_OK else { throw RedisError(.connectionLost, "cannot queue a command") }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else {
                let message = Self.errorText(context)
                redisFree(context)
                self.context = nil
                throw RedisError(.connectionLost, "Redis connection lost: \(message)")
            }
            replies.append(RedisValue(copying: raw.assumingMemoryBound(to: redisReply.self)))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Every key matching `pattern`, by SCAN (never KEYS: it would block Redis).
    public func scanKeys(_ pattern: String, count: Int = 1000) throws -> [String] {
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
