// The two reply shapes of the scripts in lua/ (each header says which it
// returns), decoded here once for the server, the workers and the CLI.
import SeatlockRedis

/// `{status, body}` or `{status, body, retryAfterSeconds}`: an HTTP answer
/// made by the script (hold, pay, release, create_event, get_*, create_user).
public struct APIReply: Equatable, Sendable {
    public let status: Int
    public let body: String
    public let retryAfterSeconds: Int?

    public init?(_ reply: RedisValue) {
        guard let parts = reply.array, parts.count == 2 || parts.count == 3,
              let status = parts[0].int, (100...599).contains(status), let body = parts[1].string else { return nil }
        self.status = status
        self.body = body
        self.retryAfterSeconds = parts.count == 3 ? parts[2].int : nil
    }
}

/// `{1, what}` when the script changed the booking, `{0, why}` when it left
/// it alone (expire, payment_failed, cancel, refund,
/// add_seats): `why` is a reason or the booking's current status.
public struct StateChange: Equatable, Sendable {
    public let changed: Bool
    public let word: String

    public init?(_ reply: RedisValue) {
        guard let parts = reply.array, parts.count == 2, let flag = parts[0].int, flag == 0 || flag == 1,
              let word = parts[1].string else { return nil }
        self.changed = flag == 1
        self.word = word
    }
}
