// GET /v1/events/{e}/stream: Server-Sent Events of seat availability, fed
// from the events' log streams. Per loop, one reader (a Redis connection of
// its own, never the booking connection) reads the logs that have
// subscribers every `pollInterval` (one single-key XREAD per event, so it
// works on Redis Cluster too) and fans each batch out to all of them: a
// thousand idle subscribers cost a few reads per second and their sockets.
// Subscribers are capped per loop and per client address, so streams
// cannot take every connection from the booking API.
//
// Every message carries the log entry id as its SSE `id`, so a client that
// reconnects with `Last-Event-ID` gets exactly the entries after it (read
// with XRANGE page by page, then the live ones, without gaps or repeats).
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis

final class AvailabilityStreams {
    private final class Subscriber {
        let eventId: String
        let responder: HTTPResponder
        var sentUpTo: StreamID
        /// Live entries that arrived while the catch-up read was in flight.
        var held: [(StreamID, [String: String])]? = nil
        /// Gives back the subscriber's place under the per-address cap.
        var onEnd: (() -> Void)?
        init(eventId: String, responder: HTTPResponder, sentUpTo: StreamID) {
            self.eventId = eventId
            self.responder = responder
            self.sentUpTo = sentUpTo
        }
    }

    public struct Limits: Sendable {
        /// Subscribers on one loop (the server's share of its cap).
        public var perLoop = 2_500
        /// Subscribers from one client address on one loop.
        public var perAddress = 16
        /// How often the logs with subscribers are read.
        public var pollInterval: Duration = .milliseconds(100)
        /// A comment line this often; under the idle timeout, which each write re-arms.
        public var heartbeat: Duration = .seconds(5)
        /// A client resuming further back than this many entries is told to reload instead.
        public var maxCatchUp = 100_000
        public init() {}
    }

    private let loop: EventLoop
    private let redis: RedisConnection
    private let reader: RedisConnection
    private let limits: Limits
    private var subscribers: [String: [ObjectIdentifier: Subscriber]] = [:]
    private var perAddress: [String: Int] = [:]
    /// Where the live read of each event's log stands.
    private var cursors: [String: StreamID] = [:]
    private var reading = false
    private var heartbeat: LoopTimer?
    /// A subscriber this far behind (bytes the kernel did not take) is dropped.
    private let maxBacklog = 1 << 20
    static let page = 1_000

    init(loop: EventLoop, url: RedisURL, redis: RedisConnection, limits: Limits = Limits()) {
        self.loop = loop
        self.redis = redis
        self.limits = limits
        reader = RedisConnection(loop: loop, url: url)
        heartbeat = loop.scheduleRepeating(every: limits.heartbeat) { [weak self] in self?.beat() }
    }

    func close() {
        heartbeat?.cancel()
        for subscriber in subscribers.values.flatMap(\.values) {
            remove(subscriber)
            subscriber.responder.endStream()
        }
        reader.close()
    }

    var subscriberCount: Int { subscribers.values.reduce(0) { $0 + $1.count } }

    /// `lastEventId`: the id of the last message the client saw (resume), or nil for "from now".
    func subscribe(eventId: String, lastEventId: String?, client: String, responder: HTTPResponder) {
        guard subscriberCount < limits.perLoop, perAddress[client, default: 0] < limits.perAddress else {
            let error = APIError(status: 429, code: "too_many_streams", message: "too many open streams; retry later", headers: ["Retry-After": "5"])
            return responder.send(HTTPResponse(status: error.status, json: error.json, headers: error.headers.map { ($0.key, $0.value) }))
        }
        perAddress[client, default: 0] += 1 // held from now, so racing subscribers count too
        var counted = true
        let release = { [weak self] in
            guard counted, let self else { return }
            counted = false
            perAddress[client, default: 1] -= 1
            if perAddress[client] == 0 { perAddress[client] = nil }
        }
        let keys = EventKeys(eventId)
        // The event's counts go first: they say whether it exists, and they
        // are the starting point the changes apply to.
        redis.pipeline([["HMGET", keys.event, "capacity", "held", "sold"], ["XREVRANGE", keys.log, "+", "-", "COUNT", "1"]]) { [self] results in
            guard case let .success(counts) = results[0], let values = counts.array, values.first?.string != nil else {
                let failed: Bool = if case .failure = results[0] { true } else { false }
                let error = failed ? APIError.unavailable : APIError(status: 404, code: "event_not_found", message: "no such event")
                release()
                return responder.send(HTTPResponse(status: error.status, json: error.json, headers: error.headers.map { ($0.key, $0.value) }))
            }
            let newest = (try? results[1].get())?.array?.first?.array?.first?.string.flatMap(StreamID.init) ?? StreamID.zero
            responder.startStream(status: 200, contentType: "text/event-stream",
                                  headers: [("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
            responder.sendChunk(Array("retry: 2000\n\n".utf8) + Self.countsMessage(values))
            let resumeFrom = lastEventId.flatMap(StreamID.init)
            let subscriber = Subscriber(eventId: eventId, responder: responder, sentUpTo: resumeFrom ?? newest)
            let id = ObjectIdentifier(responder)
            subscribers[eventId, default: [:]][id] = subscriber
            subscriber.onEnd = release
            responder.onClose = { [weak self] in self?.remove(subscriber) }
            if cursors[eventId] == nil { cursors[eventId] = newest }
            // Behind the live read (a resume, or the reader moved on while we
            // looked up `newest`): read what lies between first.
            if let cursor = cursors[eventId], subscriber.sentUpTo < cursor { catchUp(subscriber, after: subscriber.sentUpTo, read: 0) }
            startReading()
        }
    }

    // MARK: catch-up after Last-Event-ID

    private func catchUp(_ subscriber: Subscriber, after start: StreamID, read: Int) {
        if subscriber.held == nil { subscriber.held = [] }
        redis.send(["XRANGE", EventKeys(subscriber.eventId).log, "(" + start.description, "+", "COUNT", String(Self.page)]) { [self] result in
            guard subscribers[subscriber.eventId]?[ObjectIdentifier(subscriber.responder)] != nil else { return }
            let entries = Self.entries(result)
            deliver(entries, to: subscriber)
            if entries.count == Self.page, let last = entries.last?.0 {
                guard read + entries.count < limits.maxCatchUp else {
                    // Too far behind to replay: the client reloads the seat map, then follows live.
                    send(Array("event: reset\ndata: {\"reason\":\"too far behind; reload the seat map\"}\n\n".utf8), to: subscriber)
                    return finishCatchUp(subscriber)
                }
                return catchUp(subscriber, after: last, read: read + entries.count)
            }
            finishCatchUp(subscriber)
        }
    }

    private func finishCatchUp(_ subscriber: Subscriber) {
        let held = subscriber.held ?? []
        subscriber.held = nil
        deliver(held, to: subscriber)
    }

    private func remove(_ subscriber: Subscriber) {
        subscribers[subscriber.eventId]?[ObjectIdentifier(subscriber.responder)] = nil
        let end = subscriber.onEnd
        subscriber.onEnd = nil
        end?()
    }

    // MARK: the live read

    private func startReading() {
        guard !reading else { return }
        reading = true
        readNext()
    }

    private func readNext() {
        let events = subscribers.filter { !$0.value.isEmpty }.keys.sorted()
        for event in cursors.keys where !events.contains(event) { cursors[event] = nil }
        guard !events.isEmpty else { reading = false; return }
        let reads = events.map { ["XREAD", "COUNT", "500", "STREAMS", EventKeys($0).log, cursors[$0]?.description ?? "$"] }
        reader.pipeline(reads) { [self] results in
            var changed: [String] = []
            var more = false
            for (eventId, result) in zip(events, results) {
                // An error reply (or Redis away) skips this round for that event.
                guard case let .success(reply) = result, let streams = reply.array, let first = streams.first?.array,
                      first.count == 2 else { continue }
                let entries = Self.entries(.success(first[1]))
                guard let last = entries.last?.0 else { continue }
                cursors[eventId] = last
                fanOut(eventId, entries)
                changed.append(eventId)
                more = more || entries.count == 500
            }
            sendCounts(changed) { [self] in
                // A full batch means more is waiting: read again at once.
                _ = loop.schedule(after: more ? .zero : limits.pollInterval) { [self] in readNext() }
            }
        }
    }

    private func fanOut(_ eventId: String, _ entries: [(StreamID, [String: String])]) {
        guard let group = subscribers[eventId] else { return }
        for subscriber in group.values {
            if subscriber.held != nil { subscriber.held?.append(contentsOf: entries) } else { deliver(entries, to: subscriber) }
        }
    }

    private func sendCounts(_ events: [String], then next: @escaping () -> Void) {
        guard !events.isEmpty else { return next() }
        reader.pipeline(events.map { ["HMGET", EventKeys($0).event, "capacity", "held", "sold"] }) { [self] results in
            for (eventId, result) in zip(events, results) {
                guard case let .success(counts) = result, let values = counts.array else { continue }
                let message = Self.countsMessage(values)
                for subscriber in subscribers[eventId].map({ Array($0.values) }) ?? [] where subscriber.held == nil {
                    send(message, to: subscriber)
                }
            }
            next()
        }
    }

    private func deliver(_ entries: [(StreamID, [String: String])], to subscriber: Subscriber) {
        var text = ""
        for (id, fields) in entries where subscriber.sentUpTo < id {
            subscriber.sentUpTo = id
            guard let message = Self.message(id: id, fields: fields) else { continue }
            text += message
        }
        if !text.isEmpty { send(Array(text.utf8), to: subscriber) }
    }

    private func send(_ bytes: [UInt8], to subscriber: Subscriber) {
        guard subscriber.responder.unsentBytes < maxBacklog, subscriber.responder.sendChunk(bytes) else {
            remove(subscriber)
            subscriber.responder.endStream()
            return
        }
    }

    /// A comment line keeps proxies from timing the stream out and finds clients that left.
    private func beat() {
        for subscriber in subscribers.values.flatMap(\.values) where subscriber.held == nil {
            send(Array(": keep-alive\n\n".utf8), to: subscriber)
        }
    }

    // MARK: messages

    /// The availability change a log entry stands for, or nil for entries
    /// that move no seat. Only seat ids, statuses and the time go out: no
    /// booking or user ids on a public stream.
    static func message(id: StreamID, fields: [String: String]) -> String? {
        guard fields["replayFor"] == nil else { return nil } // a replayed dead letter changes no seat again
        if let type = fields["type"], type.hasPrefix("queue.") { return queueMessage(id: id, type: type, fields: fields) }
        let status: String
        switch fields["type"] {
        case "seat.reserved": status = "held"
        case "seat.released": status = "available"
        case "booking.confirmed": status = "sold"
        default: return nil
        }
        let seats = (fields["seats"] ?? "").split(separator: ",").map { JSONText.quote(String($0)) }
        guard !seats.isEmpty else { return nil }
        let at = Int(fields["at"] ?? "") ?? 0
        return "id: \(id.description)\nevent: availability\ndata: {\"type\":\(JSONText.quote(fields["type"] ?? "")),\"status\":\"\(status)\","
            + "\"seats\":[\(seats.joined(separator: ","))],\"at\":\(at)}\n\n"
    }

    /// The queue moved (or opened, paused, resumed, sold out): a waiting
    /// buyer's place is their position minus servingPosition, pushed
    /// here so that a page need not poll as often.
    static func queueMessage(id: StreamID, type: String, fields: [String: String]) -> String {
        func number(_ name: String) -> Int { Int(fields[name] ?? "") ?? 0 }
        return "id: \(id.description)\nevent: queue\ndata: {\"type\":\(JSONText.quote(type)),\"servingPosition\":\(number("servingPosition")),"
            + "\"joined\":\(number("joined")),\"admitted\":\(number("admitted")),\"at\":\(number("at"))}\n\n"
    }

    static func countsMessage(_ values: [RedisValue]) -> [UInt8] {
        let numbers = values.map { Int($0.string ?? "") ?? 0 }
        let capacity = numbers.first ?? 0, held = numbers.count > 1 ? numbers[1] : 0, sold = numbers.count > 2 ? numbers[2] : 0
        return Array("event: counts\ndata: {\"capacity\":\(capacity),\"available\":\(capacity - held - sold),\"held\":\(held),\"sold\":\(sold)}\n\n".utf8)
    }

    static func entries(_ result: Result<RedisValue, RedisError>) -> [(StreamID, [String: String])] {
        guard case let .success(reply) = result else { return [] }
        return (reply.array ?? []).compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string.flatMap(StreamID.init) else { return nil }
            return (id, parts[1].fields)
        }
    }
}
