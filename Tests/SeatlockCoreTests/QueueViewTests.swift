// When a waiting buyer is asked back (QueueView.place's Retry-After): never
// after their turn may come, since an admitted buyer who is away holds the
// automatic queue back (queue_tick.lua), and spread out far back.
import SeatlockCore
import Testing

@Suite struct QueueViewTests {
    static func state(serving: Int, available: Int) -> QueueState {
        QueueState(status: "open", joined: 500_000, serving: serving, prequeued: 400_000, admitPerSecond: 0, admissionSeconds: 300,
                   opensAt: 0, available: available, held: 0, sold: 50_000 - available, lastAdvancedAt: 1)
    }

    static func retryAfter(_ state: QueueState, position: Int, observedRate: Double = 0) -> Int? {
        let answer = QueueView.place(state, ticket: QueueTicket(eventId: "e", userId: "u\(position)", position: position), admittedAt: nil,
                                     now: 1_000, observedRate: observedRate, created: false, queueToken: "t") { _ in "a" }
        #expect(answer.status == 200 && answer.body.contains(#""status":"waiting""#), "\(answer.body)")
        return answer.retryAfter
    }

    @Test func aWaitingBuyerIsNeverAskedBackAfterTheirTurnMayCome() throws {
        let state = Self.state(serving: 10_000, available: 5_000)
        for rate in [0.0, 4_000, 9_000] {
            let pace = max(rate, QueueView.assumedPace)
            for position in stride(from: 10_001, through: 500_000, by: 997) {
                let retry = try #require(Self.retryAfter(state, position: position, observedRate: rate))
                let ahead = position - state.serving - 1
                // Seconds until the buyer is within `nearFront` of the front at the planned pace.
                let untilNear = (Double(ahead - QueueView.nearFront) / pace).rounded(.up)
                #expect(retry >= 1 && retry <= QueueView.maxRetryAfter, "position \(position): \(retry) s")
                if ahead >= QueueView.nearFront { #expect(Double(retry) <= max(1, untilNear), "position \(position) at \(rate)/s: \(retry) s") }
            }
        }
    }

    @Test func farBackPollsAreSpreadOverTheSecondHalfOfTheLongestWait() throws {
        let state = Self.state(serving: 0, available: 50_000)
        var seen: Set<Int> = []
        for position in 300_000..<300_100 { seen.insert(try #require(Self.retryAfter(state, position: position))) }
        #expect(seen.min() == QueueView.maxRetryAfter / 2 && seen.max() == QueueView.maxRetryAfter, "\(seen.sorted())")
        #expect(seen.count == QueueView.maxRetryAfter - QueueView.maxRetryAfter / 2 + 1)
    }

    /// Before the open a buyer's draw is placed within the prequeue expected at the open, so that a
    /// buyer who joined early but drew a place far back does not come back with the front.
    @Test func aPrequeueReturnIsPlannedWithinThePrequeueExpectedAtTheOpen() {
        let state = QueueState(status: "prequeue", joined: 0, serving: 0, prequeued: 1_000, admitPerSecond: 0, admissionSeconds: 300,
                               opensAt: 60_000, available: 50_000, held: 0, sold: 0, lastAdvancedAt: 0)
        func retryAfter(expected: Int?) -> Int? {
            QueueView.place(state, ticket: QueueTicket(eventId: "e", userId: "u", position: 0), admittedAt: nil, now: 0, observedRate: 0,
                            created: true, queueToken: "t", draw: QueueTokens.drawRange / 2, expectedPrequeue: expected) { _ in "a" }.retryAfter
        }
        // Half way through 1,000 buyers: within reach, back soon after the open (60 s away).
        #expect(retryAfter(expected: nil).map { $0 < 62 } == true, "\(String(describing: retryAfter(expected: nil)))")
        // Half way through 500,000 expected: beyond reach (2 x 50,000 seats), back in the second half of the longest wait.
        let farBack = retryAfter(expected: 500_000)
        #expect(farBack.map { $0 >= 60 + QueueView.farBack / 2 && $0 <= 60 + QueueView.farBack } == true, "\(String(describing: farBack))")
    }

    /// While nothing moves (nothing available, seats held), a buyer the held seats could reach polls
    /// soon; one beyond them (two buyers a seat, past the front band) rarely.
    @Test func whileNothingMovesOnlyBuyersTheHeldSeatsCouldReachPollSoon() throws {
        var state = Self.state(serving: 10_000, available: 0)
        state.held = 1_000
        let near = try #require(Self.retryAfter(state, position: 10_000 + QueueView.nearFront + 1_000))
        #expect(near >= 5 && near <= 7, "\(near)")
        var seen: Set<Int> = []
        for position in 100_000..<100_100 { seen.insert(try #require(Self.retryAfter(state, position: position))) }
        #expect(seen.min() == QueueView.maxRetryAfter / 2 && seen.max() == QueueView.maxRetryAfter, "\(seen.sorted())")
        // Paused, a buyer that far back still polls soon: a resumed queue may move fast.
        state.status = "paused"
        let paused = try #require(Self.retryAfter(state, position: 100_000))
        #expect(paused >= 5 && paused <= 7, "\(paused)")
    }

    /// After the open a prequeue ticket is admitted when its draw ranks at or before the frontier
    /// (the sorted set's order: draw, then user id byte by byte); otherwise its place is an
    /// estimate behind the serving position, and the answer never carries an admission.
    @Test func aPrequeueTicketAfterTheOpenIsJudgedByTheFrontier() {
        var state = QueueState(status: "open", joined: 100_000, serving: 25_000, prequeued: 100_000, admitPerSecond: 0, admissionSeconds: 300,
                               opensAt: 0, available: 1_000, held: 0, sold: 0, lastAdvancedAt: 1,
                               frontierDraw: Int(QueueTokens.drawRange / 4), frontierUser: "m")
        let front = QueueTokens.drawRange / 4
        #expect(state.hasReached(draw: front - 1, userId: "z"))
        #expect(state.hasReached(draw: front, userId: "m") && state.hasReached(draw: front, userId: "a"))
        #expect(!state.hasReached(draw: front, userId: "ma") && !state.hasReached(draw: front + 1, userId: "a"))
        // Uniform draws: half way between the frontier and the top is half way through the rest.
        let middle = state.estimatedPosition(draw: front + (QueueTokens.drawRange - front) / 2)
        #expect(abs(middle - 62_500) <= 1, "\(middle)")
        #expect(state.estimatedPosition(draw: front) == 25_001 && state.estimatedPosition(draw: QueueTokens.drawRange - 1) == 100_000)
        let answer = QueueView.place(state, ticket: QueueTicket(eventId: "e", userId: "u", position: 0), admittedAt: nil, now: 1_000,
                                     observedRate: 0, created: false, queueToken: "t", draw: front) { _ in "minted" }
        #expect(answer.body.hasPrefix(#"{"status":"waiting","position":25001,"positionEstimated":true,"servingPosition":25000"#), "\(answer.body)")
        #expect(!answer.body.contains("minted") && answer.retryAfter == 1)
        // Before the first admission nobody is reached; once the whole prequeue is, everyone is.
        state.serving = 0
        state.frontierDraw = -1
        #expect(!state.hasReached(draw: 0, userId: "a") && state.estimatedPosition(draw: QueueTokens.drawRange / 2) == 50_001)
        state.serving = 100_000
        state.frontierDraw = Int(QueueTokens.drawRange)
        #expect(state.hasReached(draw: QueueTokens.drawRange - 1, userId: "zzz"))
        // Sold out: told from memory, reached or not.
        state.status = "sold_out"
        let soldOut = QueueView.place(state, ticket: QueueTicket(eventId: "e", userId: "u", position: 0), admittedAt: nil, now: 1_000,
                                      observedRate: 0, created: false, queueToken: "t", draw: 5) { _ in "minted" }
        #expect(soldOut.body.hasPrefix(#"{"status":"sold_out","#) && !soldOut.body.contains("minted"), "\(soldOut.body)")
    }
}
