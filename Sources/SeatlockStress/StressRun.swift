// Simulated buyers against the HTTP API, all on one event loop: a pool of
// keep-alive connections takes requests from one queue, so a buyer waiting
// between polls costs a timer, not a connection or a thread.
import Foundation
import Histogram
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop

public enum Endpoint: String, CaseIterable, Sendable {
    case join, queue, look, hold, pay, poll, waitlist, offer, watch
}

/// How a buyer's visit ended: their final answer.
public enum BuyerOutcome: String, CaseIterable, Sendable {
    case confirmed, declined, abandoned, noSeats = "no_seats", soldOut = "sold_out", waitlisted
    case admissionExpired = "admission_expired", expired, failed
}

public final class StressRun {
    private let options: StressOptions
    private let loop: EventLoop
    private var connections: [HTTPClientConnection] = []
    private var idle: [Int] = []
    /// New arrivals wait here; a buyer already in the flow (paying, polling,
    /// retrying) goes to `followUps`, which is served first, as a real buyer
    /// in the middle of a purchase is not behind everyone who came later.
    private var queue: [PendingRequest] = []
    private var queueHead = 0
    private var followUps: [PendingRequest] = []
    private var followUpsHead = 0
    /// Steps of a purchase (look, hold, pay, confirmation polls, the waitlist)
    /// go before everyone's queue polls: each buyer has a connection of their
    /// own in life, so one buyer's checkout never waits for others' polls;
    /// this pool of connections must not make it.
    private var purchases: [PendingRequest] = []
    private var purchasesHead = 0
    private var random: SeededRandom
    private let tokens: BuyerTokens
    private var arrived = 0
    private var arrivalTimer: LoopTimer?
    private var progressTimer: LoopTimer?
    private let onProgress: (String) -> Void
    private let onFinish: (StressReport) -> Void
    private var startedAt = ContinuousClock.now
    private let sections: [SectionSpecLite]
    var stats = StressStats()
    /// A queued event's open, ms since the epoch (nil: the event sells directly).
    private let opensAt: Int?
    /// Seconds from the start of the run to the open.
    private var openOffset = 0.0
    /// Waitlisted buyers still watching for an offer, and until when (run seconds).
    private var watchers = 0
    private var watchUntil: Double?
    private var sellThroughTimer: LoopTimer?
    /// The sell-through probe is in flight.
    private var probing = false
    private var done = false

    public init(loop: EventLoop, options: StressOptions, opensAt: Int? = nil, onProgress: @escaping (String) -> Void,
                onFinish: @escaping (StressReport) -> Void) {
        self.loop = loop
        self.opensAt = opensAt
        self.options = options
        self.random = SeededRandom(seed: options.seed)
        self.tokens = BuyerTokens(secret: options.tokenSecret)
        self.onProgress = onProgress
        self.onFinish = onFinish
        self.sections = options.layout
    }

    public func start() {
        startedAt = .now
        if let opensAt { openOffset = Double(opensAt) / 1000 - Date().timeIntervalSince1970 }
        sellThroughTimer = loop.scheduleRepeating(every: .milliseconds(200)) { [self] in watchSellThrough() }
        for index in 0..<options.connections {
            connections.append(HTTPClientConnection(loop: loop, host: options.host, port: options.port))
            idle.append(index)
        }
        if options.rampSeconds <= 0 {
            while arrived < options.buyers { arrive() }
        } else {
            arrivalTimer = loop.scheduleRepeating(every: .milliseconds(10)) { [self] in
                let due = min(options.buyers, Int(Double(options.buyers) * elapsedSeconds / options.rampSeconds) + 1)
                while arrived < due { arrive() }
                if arrived >= options.buyers { arrivalTimer?.cancel() }
            }
        }
        progressTimer = loop.scheduleRepeating(every: .seconds(1)) { [self] in onProgress(progressLine()) }
    }

    var elapsedSeconds: Double {
        (ContinuousClock.now - startedAt).secondsValue
    }

    /// Seconds since the queue opened (since the start for a direct sale).
    var sinceOpen: Double { elapsedSeconds - openOffset }

    /// Sell-through: the first moment the event had no seat available (every seat held or sold once).
    /// The probe goes before the buyers' requests, one at a time: behind them, under load, it
    /// measured the tool's own queue (polls waited 30 s there in the 500,000-buyer run).
    private func watchSellThrough() {
        guard stats.sellThrough == nil else { sellThroughTimer?.cancel(); return }
        guard !probing else { return }
        probing = true
        enqueue(PendingRequest(endpoint: .watch, method: "GET", path: "/v1/events/\(options.eventId)", headers: [], body: nil) { [self] response in
            probing = false
            if response.status == 200, stats.sellThrough == nil, Self.contains(#""available":0,"#, in: response.body) {
                stats.sellThrough = sinceOpen
            }
        })
    }

    // MARK: buyers

    private func arrive() {
        arrived += 1
        let buyer = Buyer(number: arrived, options: options, random: &random, sections: sections.count)
        if opensAt != nil { return joinQueue(buyer) }
        shop(buyer, arriving: true)
    }

    private func shop(_ buyer: Buyer, arriving: Bool = false) {
        if buyer.looks {
            look(buyer, arriving: arriving)
        } else {
            hold(buyer, arriving: arriving)
        }
    }

    // MARK: the queue

    private func joinQueue(_ buyer: Buyer) {
        enqueue(PendingRequest(endpoint: .join, method: "POST", path: "/v1/events/\(options.eventId)/queue", headers: headers(buyer), body: nil) { [self] response in
            queueAnswer(buyer, response)
        }, followUp: false)
    }

    private func pollQueue(_ buyer: Buyer) {
        guard let token = buyer.queueToken else { return finish(buyer, .failed) }
        enqueue(PendingRequest(endpoint: .queue, method: "GET", path: "/v1/events/\(options.eventId)/queue/me", headers: [("Queue-Token", token)], body: nil) { [self] response in
            queueAnswer(buyer, response)
        })
    }

    /// What a buyer does with a place in the queue (a join's or a poll's answer).
    private func queueAnswer(_ buyer: Buyer, _ response: ClientResponse) {
        guard response.status == 200 || response.status == 201 else {
            if response.status == 409, Self.contains("sold_out", in: response.body) { return soldOut(buyer) }
            return finish(buyer, .failed)
        }
        if let token = Self.field("queueToken", in: response.body) { buyer.queueToken = token }
        switch Self.field("status", in: response.body) {
        case "admitted"?:
            buyer.admission = Self.field("admissionToken", in: response.body)
            if stats.firstAdmission == nil { stats.firstAdmission = sinceOpen }
            shop(buyer)
        case "sold_out"?:
            soldOut(buyer)
        case "expired"?:
            finish(buyer, .admissionExpired)
        case "waiting"?, "prequeue"?:
            // Nothing available now, though holds may still come back: a buyer of the waitlist share settles for the waitlist.
            if buyer.waitlists, Self.contains(#""available":0"#, in: response.body), Self.contains(#""status":"waiting""#, in: response.body) {
                return joinWaitlist(buyer)
            }
            let wait = Double(response.retryAfter ?? 1)
            loop.schedule(after: .milliseconds(Int(wait * 1000))) { [self] in pollQueue(buyer) }
        default:
            finish(buyer, .failed)
        }
    }

    private func soldOut(_ buyer: Buyer) {
        if stats.firstSoldOut == nil { stats.firstSoldOut = sinceOpen }
        if buyer.waitlists { return joinWaitlist(buyer) }
        finish(buyer, .soldOut)
    }

    // MARK: the waitlist

    private func joinWaitlist(_ buyer: Buyer) {
        let body = Array("{\"quantity\":\(buyer.quantity)}".utf8)
        enqueue(PendingRequest(endpoint: .waitlist, method: "POST", path: "/v1/events/\(options.eventId)/waitlist", headers: headers(buyer), body: body) { [self] response in
            switch response.status {
            case 200, 201:
                stats.waitlistJoined += 1
                finish(buyer, .waitlisted) // the final answer; offers may follow
                watchers += 1
                // Offers come from holds that end: none before a hold's time has passed.
                loop.schedule(after: .seconds(max(0, options.holdSeconds - 10))) { [self] in watchOffer(buyer) }
            case 409 where Self.contains("waitlist_not_open", in: response.body):
                // Seats came back meanwhile: back to the queue (or the hold endpoint).
                if buyer.queueToken != nil { pollQueue(buyer) } else { shop(buyer) }
            default:
                finish(buyer, .failed)
            }
        })
    }

    /// A waitlisted buyer looks for an offer every 10 s (an offer is held for the event's hold time, 30 s in the bench).
    private func watchOffer(_ buyer: Buyer) {
        loop.schedule(after: .seconds(10)) { [self] in
            if let until = watchUntil, elapsedSeconds > until { return stopWatching() }
            enqueue(PendingRequest(endpoint: .offer, method: "GET", path: "/v1/events/\(options.eventId)/waitlist/me", headers: headers(buyer), body: nil) { [self] response in
                guard response.status == 200 else { return stopWatching() }
                switch Self.field("status", in: response.body) {
                case "offered"?:
                    stats.offersSeen += 1
                    buyer.bookingId = Self.field("bookingId", in: response.body)
                    buyer.heldAt = .now
                    buyer.offered = true
                    if buyer.abandons { stats.offersLeft += 1; return stopWatching() }
                    pay(buyer)
                case "waiting"?: watchOffer(buyer)
                default: stopWatching()
                }
            })
        }
    }

    private func stopWatching() {
        watchers -= 1
        finishIfDone()
    }


    private func token(_ buyer: Buyer) -> String {
        if let token = buyer.token { return token }
        let token = tokens.mint(userId: "stress-\(options.seed)-\(buyer.number)", ttlSeconds: 3600)
        buyer.token = token
        return token
    }

    private func headers(_ buyer: Buyer) -> [(String, String)] {
        [("Authorization", "Bearer " + token(buyer)), ("Content-Type", "application/json")]
    }

    private func look(_ buyer: Buyer, arriving: Bool = false) {
        let section = sections[buyer.section]
        enqueue(PendingRequest(endpoint: .look, method: "GET", path: "/v1/events/\(options.eventId)/seats?section=\(section.id)", headers: [], body: nil) { [self] response in
            if response.status == 200 { buyer.seen = Self.availableSeats(response.body) }
            hold(buyer)
        }, followUp: !arriving)
    }

    private func hold(_ buyer: Buyer, arriving: Bool = false) {
        let body: String
        if buyer.explicit {
            let seats = pickSeats(buyer)
            body = "{\"seats\":[" + seats.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
        } else {
            body = "{\"quantity\":\(buyer.quantity),\"section\":\"\(sections[buyer.section].id)\"}"
        }
        var headers = headers(buyer)
        if let admission = buyer.admission { headers.append(("Admission", admission)) }
        enqueue(PendingRequest(endpoint: .hold, method: "POST", path: "/v1/events/\(options.eventId)/bookings", headers: headers, body: Array(body.utf8)) { [self] response in
            switch response.status {
            case 201:
                guard let id = Self.field("id", in: response.body) else { return finish(buyer, .failed) }
                buyer.bookingId = id
                buyer.heldAt = .now
                if buyer.abandons { return finish(buyer, .abandoned) }
                pay(buyer)
            case 409:
                if Self.contains("sold_out", in: response.body), stats.firstSoldOut == nil { stats.firstSoldOut = sinceOpen }
                // Told that the whole event has nothing now (not one section or these seats): a buyer stops trying.
                let nothingLeft = Self.contains(#""available":0"#, in: response.body)
                if nothingLeft, buyer.waitlists { return joinWaitlist(buyer) }
                guard buyer.attemptsLeft > 0, !nothingLeft else { return finish(buyer, .noSeats) }
                buyer.attemptsLeft -= 1
                buyer.section = Int(random.next() % UInt64(sections.count)) // somewhere else
                buyer.seen.removeAll()
                hold(buyer)
            case 422:
                finish(buyer, .noSeats)
            case 403 where options.retryUnavailable && Self.lostAdmission(response):
                // The queue forgot this admission (a failover lost its last writes): back to the queue, as the buyer's page would go.
                buyer.admission = nil
                pollQueue(buyer)
            case 403 where Self.contains("admission", in: response.body):
                finish(buyer, .admissionExpired)
            default:
                finish(buyer, .failed)
            }
        }, followUp: !arriving)
    }

    private func pickSeats(_ buyer: Buyer) -> [String] {
        if !buyer.seen.isEmpty {
            let start = Int(random.next() % UInt64(buyer.seen.count))
            return Array(buyer.seen[start..<min(buyer.seen.count, start + buyer.quantity)])
        }
        let section = sections[buyer.section]
        let row = Int(random.next() % UInt64(section.rows)) + 1
        let first = Int(random.next() % UInt64(max(1, section.seatsPerRow - buyer.quantity + 1))) + 1
        return (0..<min(buyer.quantity, section.seatsPerRow)).map { "\(section.id)-\(row)-\(first + $0)" }
    }

    private func pay(_ buyer: Buyer) {
        guard let id = buyer.bookingId else { return finish(buyer, .failed) }
        let body = Array("{\"paymentToken\":\"\(buyer.paymentToken)\"}".utf8)
        enqueue(PendingRequest(endpoint: .pay, method: "POST", path: "/v1/events/\(options.eventId)/bookings/\(id)/payment", headers: headers(buyer), body: body) { [self] response in
            switch response.status {
            case 202: schedulePoll(buyer)
            case 409 where buyer.offered: stats.offersLeft += 1; stopWatching()
            case 409: finish(buyer, .expired)
            default: finish(buyer, .failed)
            }
        })
    }

    private func schedulePoll(_ buyer: Buyer) {
        loop.schedule(after: .milliseconds(options.pollIntervalMilliseconds)) { [self] in poll(buyer) }
    }

    private func poll(_ buyer: Buyer) {
        guard let id = buyer.bookingId else { return finish(buyer, .failed) }
        enqueue(PendingRequest(endpoint: .poll, method: "GET", path: "/v1/events/\(options.eventId)/bookings/\(id)", headers: headers(buyer), body: nil) { [self] response in
            guard response.status == 200, let status = Self.field("status", in: response.body) else { return finish(buyer, .failed) }
            switch status {
            case "confirmed":
                stats.confirmedSeen.append(id)
                if let heldAt = buyer.heldAt { stats.record(bookingTime: ContinuousClock.now - heldAt) }
                stats.lastConfirmation = sinceOpen
                if buyer.offered { stats.offersTaken += 1; return stopWatching() }
                finish(buyer, .confirmed)
            case "cancelled":
                if buyer.offered { return stopWatching() }
                finish(buyer, .declined)
            case "expired", "refunded", "released":
                if buyer.offered { stats.offersLeft += 1; return stopWatching() }
                finish(buyer, .expired)
            default:
                let waited = buyer.heldAt.map { ContinuousClock.now - $0 } ?? .zero
                if waited > .seconds(options.holdSeconds + 60) { return finish(buyer, .failed) } // nobody is confirming
                schedulePoll(buyer)
            }
        })
    }

    private func finish(_ buyer: Buyer, _ outcome: BuyerOutcome) {
        stats.outcomes[outcome, default: 0] += 1
        stats.finished += 1
        if stats.finished == options.buyers {
            stats.allAnswered = sinceOpen
            watchUntil = elapsedSeconds + options.watchOrDefault
        }
        finishIfDone()
    }

    /// Done when every buyer has a final answer and no waitlisted buyer watches any more (or the watch is over).
    private func finishIfDone() {
        guard !done, stats.finished == options.buyers else { return }
        guard watchers <= 0 || elapsedSeconds > (watchUntil ?? 0) else {
            if watchers > 0 { loop.schedule(after: .seconds(1)) { [self] in finishIfDone() } }
            return
        }
        done = true
        progressTimer?.cancel()
        sellThroughTimer?.cancel()
        stats.wallSeconds = elapsedSeconds
        onFinish(StressReport(options: options, stats: stats))
    }

    // MARK: the request queue

    private func enqueue(_ request: PendingRequest, followUp: Bool = true) {
        switch (followUp, request.endpoint) {
        case (false, _): queue.append(request) // an arrival: behind everyone already here
        case (true, .look), (true, .hold), (true, .pay), (true, .poll), (true, .waitlist), (true, .watch): purchases.append(request)
        case (true, _): followUps.append(request)
        }
        pump()
    }

    private func pump() {
        while !idle.isEmpty {
            let request: PendingRequest
            if purchasesHead < purchases.count {
                request = purchases[purchasesHead]
                purchasesHead += 1
            } else if followUpsHead < followUps.count {
                request = followUps[followUpsHead]
                followUpsHead += 1
            } else if queueHead < queue.count {
                request = queue[queueHead]
                queueHead += 1
            } else {
                break
            }
            fire(request, on: idle.removeLast())
        }
        if purchasesHead > 1024, purchasesHead * 2 > purchases.count {
            purchases.removeFirst(purchasesHead)
            purchasesHead = 0
        }
        if followUpsHead > 1024, followUpsHead * 2 > followUps.count {
            followUps.removeFirst(followUpsHead)
            followUpsHead = 0
        }
        if queueHead > 4096, queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private func fire(_ request: PendingRequest, on index: Int) {
        let sent = ContinuousClock.now
        stats.record(request.endpoint, clientWait: sent - request.wanted)
        connections[index].send(method: request.method, path: request.path, headers: request.headers, body: request.body) { [self] response in
            if response.status == 503, options.retryUnavailable {
                stats.recordUnavailable(at: elapsedSeconds)
                idle.append(index)
                let wait = min(max(Double(response.retryAfter ?? 1), 0.2), 5)
                loop.schedule(after: .milliseconds(Int(wait * 1000))) { [self] in enqueue(request) }
                return pump()
            }
            if options.retryUnavailable, request.endpoint == .hold, Self.lostAdmission(response) {
                stats.requeued += 1 // not an error: the buyer goes back to the queue (below)
            } else {
                stats.record(request.endpoint, status: response.status, latency: ContinuousClock.now - sent)
            }
            idle.append(index)
            request.completion(response)
            pump()
        }
    }

    // MARK: reading replies without a JSON decoder (hot loop: perf showed
    // Foundation's string search at 80% of the client when it parsed seat maps)

    /// A hold refused because the queue's serving position is behind a genuine admission.
    static func lostAdmission(_ response: ClientResponse) -> Bool {
        response.status == 403 && contains("admission_invalid", in: response.body) && contains("has not admitted", in: response.body)
    }

    /// The value of the first `"name":"..."` in a JSON body.
    static func field(_ name: String, in body: [UInt8]) -> String? {
        let pattern = Array("\"\(name)\":\"".utf8)
        guard let start = firstIndex(of: pattern, in: body, from: 0) else { return nil }
        let valueStart = start + pattern.count
        guard let end = body[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return String(decoding: body[valueStart..<end], as: UTF8.self)
    }

    static func contains(_ word: String, in body: [UInt8]) -> Bool {
        firstIndex(of: Array(word.utf8), in: body, from: 0) != nil
    }

    /// Seat ids whose entry in a seat listing says "available".
    static func availableSeats(_ body: [UInt8]) -> [String] {
        let idPattern = Array("{\"id\":\"".utf8)
        let available = Array("\"status\":\"available\"".utf8)
        var seats: [String] = []
        var index = 0
        while let start = firstIndex(of: idPattern, in: body, from: index) {
            let idStart = start + idPattern.count
            guard let idEnd = body[idStart...].firstIndex(of: UInt8(ascii: "\"")) else { break }
            let entryEnd = body[idEnd...].firstIndex(of: UInt8(ascii: "}")) ?? body.count
            if firstIndex(of: available, in: body, from: idEnd, to: entryEnd) != nil {
                seats.append(String(decoding: body[idStart..<idEnd], as: UTF8.self))
            }
            index = entryEnd
        }
        return seats
    }

    private static func firstIndex(of pattern: [UInt8], in body: [UInt8], from start: Int, to end: Int? = nil) -> Int? {
        let limit = (end ?? body.count) - pattern.count
        guard !pattern.isEmpty, start <= limit else { return nil }
        var index = start
        while index <= limit {
            if body[index] == pattern[0] {
                var matched = 1
                while matched < pattern.count, body[index + matched] == pattern[matched] { matched += 1 }
                if matched == pattern.count { return index }
            }
            index += 1
        }
        return nil
    }

    private func progressLine() -> String {
        let rate = Double(stats.requests) / max(elapsedSeconds, 0.001)
        return String(format: "%6.1fs  buyers %d/%d  requests %d (%.0f/s)  confirmed %d  waitlisted %d  offers %d  errors %d",
                      elapsedSeconds, stats.finished, options.buyers, stats.requests, rate,
                      stats.outcomes[.confirmed] ?? 0, stats.outcomes[.waitlisted] ?? 0, stats.offersSeen, stats.errors)
    }
}

private struct PendingRequest {
    let endpoint: Endpoint
    let method: String
    let path: String
    let headers: [(String, String)]
    let body: [UInt8]?
    let completion: (ClientResponse) -> Void
    /// When the buyer wanted to send it: the time until a connection was free is the tool's own queueing.
    let wanted = ContinuousClock.now
}

private final class Buyer {
    let number: Int
    let explicit: Bool
    let looks: Bool
    let abandons: Bool
    let waitlists: Bool
    let quantity: Int
    let paymentToken: String
    var section: Int
    var attemptsLeft: Int
    var token: String?
    var seen: [String] = []
    var bookingId: String?
    var heldAt: ContinuousClock.Instant?
    var queueToken: String?
    var admission: String?
    /// The booking is a waitlist offer.
    var offered = false

    init(number: Int, options: StressOptions, random: inout SeededRandom, sections: Int) {
        func chance(_ share: Double) -> Bool { Double(random.next() % 1_000_000) / 1_000_000 < share }
        self.number = number
        explicit = chance(options.explicitShare)
        looks = explicit && chance(options.lookShare)
        abandons = chance(options.abandonShare)
        waitlists = chance(options.waitlistShare)
        quantity = Int(random.next() % UInt64(max(1, options.maxSeatsPerBuyer))) + 1
        section = Int(random.next() % UInt64(sections))
        attemptsLeft = options.retries
        let total = options.paymentMix.reduce(0) { $0 + $1.weight }
        var pick = Double(random.next() % 1_000_000) / 1_000_000 * total
        var chosen = options.paymentMix[0].token
        for (token, weight) in options.paymentMix {
            if pick < weight { chosen = token; break }
            pick -= weight
        }
        paymentToken = chosen
    }
}
