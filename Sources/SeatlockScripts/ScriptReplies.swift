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

/// The queue scripts' reply: `{code, word, state..., [places...]}` (queue_tick:
/// 1 'state'; queue_control: 200 'state'; queue_join: 1 'joined', then a
/// status and a position per buyer), the state as includes/queue.lua's
/// queue_state lists it. A refusal is an `APIReply` instead; queue_tick says
/// `{0, 'no_event'}` or `{0, 'no_queue'}`.
public struct QueueReply: Equatable, Sendable {
    public struct Place: Equatable, Sendable {
        /// 201 new, 200 already in, 409 not let in (sold out, sales closed).
        public let status: Int
        /// 0: in the prequeue (or not let in).
        public let position: Int
    }

    public let state: QueueState
    /// queue_join's answers, one per buyer, in the order asked.
    public let places: [Place]

    public init?(_ reply: RedisValue) {
        guard let parts = reply.array, parts.count >= 16, parts[0].int != nil, let word = parts[1].string,
              word == "state" || word == "joined", let status = parts[2].string,
              let frontierUser = parts[15].string else { return nil }
        let numbers = (parts[3..<15] + parts[16...]).map(\.int)
        guard numbers.allSatisfy({ $0 != nil }) else { return nil }
        let n = numbers.map { $0! }
        guard word == "joined" || n.count == 12, (n.count - 12) % 2 == 0 else { return nil }
        state = QueueState(status: status, joined: n[0], serving: n[1], prequeued: n[2], admitPerSecond: n[3], admissionSeconds: n[4],
                           opensAt: n[5], available: n[6], held: n[7], sold: n[8], lastAdvancedAt: n[9], soldOutAt: n[10],
                           frontierDraw: n[11], frontierUser: frontierUser)
        places = stride(from: 12, to: n.count, by: 2).map { Place(status: n[$0], position: n[$0 + 1]) }
    }
}
