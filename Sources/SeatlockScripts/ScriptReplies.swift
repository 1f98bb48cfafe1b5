// The two reply shapes of the scripts in lua/ (each header says which it
// returns), decoded here once for the server, the workers and the CLI.
import SeatlockCore
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

/// The queue scripts' reply: `{status, word, [position,] state...}` (queue_join:
/// status 201/200, word 'joined', then the position; queue_tick: 1 'state';
/// queue_control: 200 'state'), the state as includes/queue.lua's queue_state
/// lists it. A refusal is an `APIReply` instead; queue_tick says `{0, 'none'}`
/// for an event without a queue.
public struct QueueReply: Equatable, Sendable {
    public let status: Int
    public let position: Int?
    public let state: QueueState

    public init?(_ reply: RedisValue) {
        guard let parts = reply.array, parts.count >= 2, let status = parts[0].int, let word = parts[1].string else { return nil }
        let offset = word == "joined" ? 3 : 2
        guard parts.count == offset + 11, let state = parts[offset].string else { return nil }
        let numbers = parts[(offset + 1)...].compactMap(\.int)
        guard numbers.count == 10 else { return nil }
        self.status = status
        self.position = word == "joined" ? parts[2].int : nil
        self.state = QueueState(status: state, joined: numbers[0], serving: numbers[1], prequeued: numbers[2], admitPerSecond: numbers[3],
                                admissionSeconds: numbers[4], opensAt: numbers[5], available: numbers[6], held: numbers[7], sold: numbers[8],
                                lastAdvancedAt: numbers[9])
    }
}
