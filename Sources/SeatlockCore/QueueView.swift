// What a buyer is told about their place in an on-sale queue, and what
// anyone is told about the queue: computed from the queue's state (one
// read every ~100 ms per loop, lua/queue_tick.lua) and the buyer's signed
// ticket, so that a poll costs no Redis call. Pure: the server and the
// tests use it the same way.

/// The queue as queue_tick.lua / queue_join.lua report it.
public struct QueueState: Equatable, Sendable {
    /// prequeue | open | paused | sold_out | closed | cancelled
    public var status: String
    public var joined, serving, prequeued, admitPerSecond, admissionSeconds: Int
    /// ms since the epoch.
    public var opensAt: Int
    public var available, held, sold: Int
    /// ms since the epoch of the last advance (0: none yet).
    public var lastAdvancedAt: Int
    /// ms since the epoch when the queue last said sold out (0: never).
    public var soldOutAt: Int
    /// The draw and user id of the last prequeue buyer the queue has reached (includes/queue.lua
    /// frontier): -1 when none yet, `QueueTokens.drawRange` once the whole prequeue is reached.
    public var frontierDraw: Int
    public var frontierUser: String

    public init(status: String, joined: Int, serving: Int, prequeued: Int, admitPerSecond: Int, admissionSeconds: Int,
                opensAt: Int, available: Int, held: Int, sold: Int, lastAdvancedAt: Int, soldOutAt: Int = 0,
                frontierDraw: Int = -1, frontierUser: String = "") {
        self.status = status
        self.joined = joined
        self.serving = serving
        self.prequeued = prequeued
        self.admitPerSecond = admitPerSecond
        self.admissionSeconds = admissionSeconds
        self.opensAt = opensAt
        self.available = available
        self.held = held
        self.sold = sold
        self.lastAdvancedAt = lastAdvancedAt
        self.soldOutAt = soldOutAt
        self.frontierDraw = frontierDraw
        self.frontierUser = frontierUser
    }

    /// Buyers with a position the queue has not reached (the prequeue before the open).
    public var waiting: Int { status == "prequeue" ? prequeued : max(0, joined - serving) }

    /// Whether the queue has reached the prequeue buyer with this draw: the prequeue is ranked
    /// as its sorted set ranks it (by draw, equal draws by user id byte by byte), and the
    /// frontier is the last member reached. Known on the loop, so a prequeue ticket's poll after
    /// the open needs Redis only once it is admitted (for the exact position).
    public func hasReached(draw: UInt64, userId: String) -> Bool {
        guard status != "prequeue", frontierDraw >= 0 else { return false }
        let own = Int(draw)
        return own < frontierDraw || (own == frontierDraw && !frontierUser.utf8.lexicographicallyPrecedes(userId.utf8))
    }

    /// Where a prequeue buyer the queue has not reached stands, from the draw: the draws are
    /// uniform, so the positions after the frontier are spread evenly over the draws above it
    /// (off by about the square root of the prequeue's size at most, least near the front).
    /// Always behind the serving position: an estimate never admits.
    public func estimatedPosition(draw: UInt64) -> Int {
        let range = Double(QueueTokens.drawRange)
        let front = Double(min(max(0, frontierDraw), Int(QueueTokens.drawRange) - 1))
        let share = max(0, Double(draw) - front) / (range - front)
        return serving + 1 + min(max(0, prequeued - serving - 1), Int(share * Double(max(0, prequeued - serving))))
    }
}

/// One answer to a buyer: status code, JSON body, Retry-After seconds.
public struct QueueAnswer: Equatable, Sendable {
    public var status: Int
    public var body: String
    public var retryAfter: Int?
}

public enum QueueView {
    /// Polls are spread out: a buyer far back asks rarely, one near the front
    /// often, each about when their turn should come (a poll that comes late
    /// leaves an admission unused, one that comes early is wasted work).
    public static let maxRetryAfter = 30
    /// The longest wait between a waiting buyer's polls (and a third of the admission window at most).
    public static let farBack = 45
    /// The pace polls are planned with in automatic admission before any was
    /// observed, positions per second: twice the default bound on shoppers (a buyer
    /// told "admitted" tries to hold within about half a second).
    public static let assumedPace = 4_000.0
    /// Buyers this close to the serving position poll every second: their
    /// turn may come any moment (twice the default bound: queue_tick.lua admits at
    /// most that many buyers ahead of those told).
    public static let nearFront = 4_000
    /// How many prequeue positions per seat on sale come back early after the open, in drawn order: in
    /// the 500,000-buyer run the queue reached 1.2 positions per seat (holds refused, seats that came back).
    public static let prequeueReach = 2.0

    /// `GET /v1/events/{e}/queue`.
    public static func summary(_ state: QueueState, observedRate: Double) -> String {
        "{\"status\":\"\(state.status)\",\"waiting\":\(state.waiting),\"admitted\":\(state.serving),"
            + "\"servingPosition\":\(state.serving),\"admitPerSecond\":\(rate(state, observedRate: observedRate)),"
            + "\"automatic\":\(state.admitPerSecond == 0),\"available\":\(max(0, state.available)),"
            + "\"opensAt\":\(JSONText.quote(ISOTime.string(milliseconds: state.opensAt)))"
            + ",\"soldOutAt\":\(state.soldOutAt > 0 ? JSONText.quote(ISOTime.string(milliseconds: state.soldOutAt)) : "null")}"
    }

    /// Positions per second to plan polls with: the configured rate, the observed pace, or an assumed one.
    static func pace(_ state: QueueState, observedRate: Double) -> Double {
        if state.admitPerSecond > 0 { return Double(state.admitPerSecond) }
        return observedRate >= 1 ? observedRate : assumedPace
    }

    /// The configured rate, or (automatic) the pace observed lately, whole positions per second.
    static func rate(_ state: QueueState, observedRate: Double) -> Int {
        state.admitPerSecond > 0 ? state.admitPerSecond : Int(observedRate.rounded())
    }

    /// The buyer's place. `admittedAt` is when the queue reached their position (ms), if it has.
    /// `draw` is a prequeue buyer's place in the shuffle (QueueTokens.draw), which spreads their
    /// first polls after the open in roughly the drawn order. `queueToken` is the token to hand
    /// back, `admissionToken` mints the admission. `expectedPrequeue`: how large the prequeue should be at
    /// the open, at the pace buyers join (the draw places a prequeue buyer within that, not within today's size).
    public static func place(_ state: QueueState, ticket: QueueTicket, admittedAt: Int?, now: Int, observedRate: Double,
                             created: Bool, queueToken: String, draw: UInt64 = 0, expectedPrequeue: Int? = nil,
                             admissionToken: (Admission) -> String) -> QueueAnswer {
        let ok = created ? 201 : 200
        let token = ",\"queueToken\":\(JSONText.quote(queueToken))"
        if state.status == "cancelled" {
            return QueueAnswer(status: 409, body: APIError.eventCancelled.json)
        }
        if state.status == "closed" {
            return QueueAnswer(status: 409, body: #"{"error":"sales_closed","message":"sales are closed for this event"}"#)
        }
        if state.status == "prequeue" {
            let untilOpen = max(0, (state.opensAt - now + 999) / 1000)
            // When to come back after the open, from how far back the draw puts the buyer (draws are
            // uniform), never later than `longest` (a third of the admission window, at most 45 s):
            // early, in drawn order, while the seats may last (`prequeueReach` buyers per seat: a buyer
            // takes at least one, and many come away without); beyond that spread over the second half
            // of that time (they will most likely learn the outcome). Whether the draw is within reach
            // is judged in the prequeue expected at the open (a late turn is the one to avoid: it leaves
            // the front's admissions unused), when to come back within it in today's prequeue (a buyer
            // who comes early only polls once more, and learns their position then).
            let longest = min(farBack, max(2, state.admissionSeconds / 3))
            let share = Double(draw) / Double(QueueTokens.drawRange)
            let size = Double(max(state.prequeued, expectedPrequeue ?? 0))
            let rank = share * size, seats = prequeueReach * Double(max(1, state.available + state.held + state.sold))
            let afterOpen = rank <= seats
                ? Int(share * Double(state.prequeued) / seats * min(Double(maxRetryAfter), seats / pace(state, observedRate: observedRate), Double(longest / 2)))
                : longest / 2 + Int((rank - seats) / max(1, size - seats) * Double(longest - longest / 2))
            let retry = untilOpen + afterOpen // (nothing changes for this buyer before then)
            return QueueAnswer(status: ok, body: "{\"status\":\"prequeue\",\"position\":null,\"ahead\":null,\"estimatedWaitSeconds\":\(untilOpen + afterOpen)"
                + ",\"opensAt\":\(JSONText.quote(ISOTime.string(milliseconds: state.opensAt)))\(token)}", retryAfter: max(1, retry))
        }
        // A prequeue ticket after the open, not reached yet (the caller learns the exact position of
        // one reached, QueueState.hasReached): its place is estimated from the draw, and it is never admitted.
        let estimated = ticket.position == 0
        let position = estimated ? state.estimatedPosition(draw: draw) : ticket.position
        let spread = position % 3 // the same buyers do not all come back in the same second
        // servingPosition: the state this answer was made from (admitted exactly when position <= servingPosition).
        func head(_ status: String) -> String {
            "{\"status\":\"\(status)\",\"position\":\(position)\(estimated ? ",\"positionEstimated\":true" : ""),\"servingPosition\":\(state.serving)"
        }
        if state.status == "sold_out" {
            // (seats may be left that the queue calls remnants: includes/queue.lua; the waitlist is open to them)
            return QueueAnswer(status: ok, body: head("sold_out") + ",\"ahead\":0,\"estimatedWaitSeconds\":0,\"available\":\(max(0, state.available))\(token)"
                + ",\"waitlist\":\"POST /v1/events/\(ticket.eventId)/waitlist\"}")
        }
        if !estimated, ticket.position <= state.serving {
            let since = admittedAt ?? (state.lastAdvancedAt > 0 ? state.lastAdvancedAt : now)
            let deadline = since + state.admissionSeconds * 1000
            guard now < deadline else {
                return QueueAnswer(status: ok, body: head("expired") + ",\"ahead\":0,\"estimatedWaitSeconds\":0\(token)}")
            }
            let admission = Admission(eventId: ticket.eventId, userId: ticket.userId, position: ticket.position, expiresAt: deadline)
            return QueueAnswer(status: ok, body: head("admitted") + ",\"ahead\":0,\"estimatedWaitSeconds\":0\(token)"
                + ",\"admissionToken\":\(JSONText.quote(admissionToken(admission)))"
                + ",\"admissionExpiresAt\":\(JSONText.quote(ISOTime.string(milliseconds: deadline))),\"available\":\(max(0, state.available))}")
        }
        let ahead = position - state.serving - 1
        let moving = state.status == "open" && state.available > 0
        let wait = moving ? Int((Double(ahead + 1) / pace(state, observedRate: observedRate)).rounded(.up)) : nil
        // Near the front, every second; while nothing moves, soon (seats may come back, or the
        // sale sell out) unless the held seats could not reach the buyer; further back, about when
        // the buyer should be near the front, and never later: a buyer admitted while away holds the
        // queue back (queue_tick.lua counts admitted buyers not yet told). Far back, where that is more than `maxRetryAfter / 2` away, spread between that and
        // `maxRetryAfter` so that such buyers do not come together. Planned with at least the assumed
        // pace: a slow observed pace would make buyers come late.
        let planning = max(pace(state, observedRate: observedRate), state.admitPerSecond > 0 ? 0 : assumedPace)
        let untilNear = Int((Double(ahead - nearFront) / planning).rounded(.up))
        let half = maxRetryAfter / 2
        let retry: Int
        if ahead < nearFront {
            retry = 1 // (the pace of admission is these buyers' pace of polls: queue_tick.lua admits few ahead of them)
        } else if !moving, state.status != "open" || ahead < nearFront + Int(prequeueReach) * max(0, state.held) {
            retry = 5 + spread
        } else if !moving {
            // Nothing available, and even if every held seat came back the queue would not reach this far
            // (`prequeueReach` buyers per seat): rarely, spread out, as far back. (Paused, above: a
            // resumed queue may move fast.)
            retry = half + position % (maxRetryAfter - half + 1)
        } else if untilNear < half {
            retry = max(1, untilNear - spread)
        } else {
            retry = min(untilNear, half + position % (maxRetryAfter - half + 1))
        }
        // Never longer than a third of the admission window: a buyer admitted meanwhile must come back in time.
        let capped = min(retry, max(1, state.admissionSeconds / 3))
        return QueueAnswer(status: ok, body: head("waiting") + ",\"ahead\":\(ahead),\"estimatedWaitSeconds\":\(wait.map(String.init) ?? "null")"
            + ",\"queue\":\"\(state.status)\",\"available\":\(max(0, state.available))\(token)}", retryAfter: capped)
    }
}

/// ms since the epoch as ISO 8601 UTC with milliseconds (the scripts' iso8601 in lua/includes/common.lua).
public enum ISOTime {
    public static func string(milliseconds ms: Int) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = ms - seconds * 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = seconds - days * 86_400
        // days-to-civil (H. Hinnant), proleptic Gregorian
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2)).\(pad(millis, 3))Z"
    }
}
