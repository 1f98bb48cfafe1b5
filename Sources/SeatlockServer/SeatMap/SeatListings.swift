// `GET /v1/events/{e}/seats` on one loop. A seat map is cheap to ask for
// and was expensive to answer (a 250,000-seat event was 14 MB and ~1 s of
// loop time), so:
//   - each answer carries an ETag, the id of the event log's newest entry
//     (every state change appends one), read first, in the same pipeline:
//     `If-None-Match` with it is a 304 that reads nothing else;
//   - a rendering is reused while that version holds, and without asking
//     Redis for 100 ms or ten times what it took to render, whichever is
//     longer; readers who come while a map is being read wait for that read;
//   - the full encoding stops at SeatMapView.maxFullSeats per answer
//     (`?section=` or `format=compact` beyond), the compact one is a byte a seat;
//   - reads are rate limited per client address in memory (no Redis write).
// Reads are bounded by the sections asked for: compact reads each section's
// free set and the sold hash's ids (its shape is in the event hash); full
// reads the seat map once per loop, the free sets, and HMGET on the sold
// hash for the seats not free.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis

final class SeatListings {
    private let redis: RedisConnection
    /// Seat maps never change after creation: cached per loop, per section, in order (the full encoding's prices).
    private var seatMaps: [String: [String: [(seat: SeatID, price: String)]]] = [:]
    private struct Rendered {
        let version: String
        let json: String
        var expires: ContinuousClock.Instant
    }
    private var rendered: [String: Rendered] = [:]
    /// Requests waiting for a rendering that is being read: one read per map at a time.
    private var waiting: [String: [(ifNoneMatch: String?, responder: HTTPResponder)]] = [:]
    private let shortestLifetime: Duration = .milliseconds(100)
    /// A rendering that took T is reused for this many T at least, so however
    /// many readers come and however fast the map changes, rendering one map
    /// takes at most about 1/(1 + this) of a loop.
    private let lifetimePerRenderTime = 10
    private var limiter: MemoryRateLimiter
    private let started = ContinuousClock.now

    init(redis: RedisConnection, readsPerAddress: RateLimit) {
        self.redis = redis
        self.limiter = MemoryRateLimiter(readsPerAddress)
    }

    func list(eventId: String, section: String?, format: SeatMapFormat, ifNoneMatch: String?, client: String,
              responder: HTTPResponder) {
        let now = ContinuousClock.now
        if let wait = limiter.check(client, now: (now - started).secondsValue) {
            return responder.send(BookingHandlers.response(APIError(status: 429, code: "rate_limited",
                message: "too many seat map reads from this address; retry later",
                headers: ["Retry-After": String(max(1, Int(wait.rounded(.up))))])))
        }
        let cacheKey = eventId + "/" + (section ?? "") + "/" + format.rawValue
        if let cached = rendered[cacheKey], cached.expires > now {
            return responder.send(answer(cached.json, version: cached.version, ifNoneMatch: ifNoneMatch))
        }
        guard waiting[cacheKey] == nil else { return waiting[cacheKey]!.append((ifNoneMatch, responder)) }
        waiting[cacheKey] = [(ifNoneMatch, responder)]
        if rendered.count > 1000 { rendered = rendered.filter { $0.value.expires > now } }
        let keys = EventKeys(eventId)
        let needMap = format == .full && seatMaps[eventId] == nil
        let reads = [["XREVRANGE", keys.log, "+", "-", "COUNT", "1"], ["HGET", keys.event, "sections"]] + (needMap ? [["HGETALL", keys.seats]] : [])
        redis.pipeline(reads) { [self] results in
            guard case let .success(.bulk(sectionList)) = results[1] else {
                return finish(cacheKey, BookingHandlers.failure(results[1], notFound: APIError(status: 404, code: "event_not_found", message: "no such event")))
            }
            // Read before the seats: a change after it makes the seats newer than the tag, never older.
            let version = (try? results[0].get())?.array?.first?.array?.first?.string ?? "0-0"
            if waiting[cacheKey]!.allSatisfy({ Self.matches($0.ifNoneMatch, version) }) { return finish(cacheKey, notModified(version)) }
            if var cached = rendered[cacheKey], cached.version == version {
                cached.expires = ContinuousClock.now + shortestLifetime
                rendered[cacheKey] = cached
                return finish(cacheKey, json: cached.json, version: version)
            }
            if needMap, case let .success(map) = results[2] { seatMaps[eventId] = Self.seatMap(map.fields) }
            let shapes = SeatMapView.shapes(sectionList)
            let wanted = section.map { id in shapes.filter { $0.id == id } } ?? shapes
            guard !wanted.isEmpty else {
                return finish(cacheKey, BookingHandlers.response(APIError(status: 404, code: "section_not_found", message: "no such section in this event")))
            }
            let count = wanted.reduce(0) { $0 + $1.rows * $1.seatsPerRow }
            if format == .full, count > SeatMapView.maxFullSeats {
                return finish(cacheKey, BookingHandlers.response(APIError(status: 400, code: "section_required",
                    message: "this map has \(count) seats: ask for one section (?section=, one of \(shapes.map(\.id).joined(separator: ", "))) or ?format=compact")))
            }
            let render = format == .compact ? compact(keys, wanted) : full(keys, wanted.map { ($0.id, seatMaps[eventId]?[$0.id] ?? []) })
            render { [self] json, busy in
                guard let json else { return finish(cacheKey, BookingHandlers.response(APIError.unavailable)) }
                // (the loop's own time: Redis' round trip costs the loop nothing)
                let lifetime = max(shortestLifetime, busy * lifetimePerRenderTime)
                rendered[cacheKey] = Rendered(version: version, json: json, expires: ContinuousClock.now + lifetime)
                finish(cacheKey, json: json, version: version)
            }
        }
    }

    private func finish(_ cacheKey: String, _ response: HTTPResponse) {
        for waiter in waiting.removeValue(forKey: cacheKey) ?? [] { waiter.responder.send(response) }
    }

    private func finish(_ cacheKey: String, json: String, version: String) {
        for waiter in waiting.removeValue(forKey: cacheKey) ?? [] {
            waiter.responder.send(answer(json, version: version, ifNoneMatch: waiter.ifNoneMatch))
        }
    }

    /// The compact map: each section's free set and the sold hash's seat
    /// ids, in one pipeline; every other seat is held. Nil when Redis failed.
    private func compact(_ keys: EventKeys, _ sections: [SeatMapView.CompactSection]) -> (@escaping (String?, Duration) -> Void) -> Void {
        { [redis] done in
            redis.pipeline(sections.map { ["ZRANGE", keys.free($0.id), "0", "-1"] } + [["HKEYS", keys.sold]]) { results in
                let started = ContinuousClock.now
                let lists = results.map { (try? $0.get())?.array?.compactMap(\.string) }
                guard lists.allSatisfy({ $0 != nil }) else { return done(nil, .zero) }
                var marked = sections
                for index in marked.indices {
                    marked[index].mark(free: lists[index]!)
                    marked[index].mark(sold: lists.last!!)
                }
                done(SeatMapView.compact(marked), .now - started)
            }
        }
    }

    /// The full map (at most SeatMapView.maxFullSeats seats): the free seats
    /// (ZRANGE of each section's free set), then which of the others are
    /// sold (HMGET on the sold hash). Nil when Redis failed.
    private func full(_ keys: EventKeys, _ parts: [SeatMapView.Section]) -> (@escaping (String?, Duration) -> Void) -> Void {
        { [redis] done in
            redis.pipeline(parts.map { ["ZRANGE", keys.free($0.id), "0", "-1"] }) { freeResults in
                let started = ContinuousClock.now
                guard freeResults.allSatisfy({ if case .success(.array) = $0 { true } else { false } }) else { return done(nil, .zero) }
                let free = Set(freeResults.flatMap { (try? $0.get())?.array?.compactMap(\.string) ?? [] })
                let taken = parts.flatMap { $0.seats.map(\.seat.description) }.filter { !free.contains($0) }
                guard !taken.isEmpty else { return done(SeatMapView.render(parts, isFree: free.contains, isSold: { _ in false }), .now - started) }
                let firstPart = ContinuousClock.now - started
                redis.send(["HMGET", keys.sold] + taken) { result in
                    let resumed = ContinuousClock.now
                    guard case let .success(.array(owners)) = result else { return done(nil, .zero) }
                    let sold = Set(zip(taken, owners).compactMap { $0.1 == .null ? nil : $0.0 })
                    done(SeatMapView.render(parts, isFree: free.contains, isSold: sold.contains), firstPart + (.now - resumed))
                }
            }
        }
    }

    private func answer(_ json: String, version: String, ifNoneMatch: String?) -> HTTPResponse {
        if Self.matches(ifNoneMatch, version) { return notModified(version) }
        return HTTPResponse(status: 200, json: json, headers: [("ETag", Self.tag(version)), ("Cache-Control", "no-cache")])
    }

    private func notModified(_ version: String) -> HTTPResponse {
        HTTPResponse(status: 304, contentType: "application/json", headers: [("ETag", Self.tag(version)), ("Cache-Control", "no-cache")], body: [])
    }

    static func tag(_ version: String) -> String { "\"" + version + "\"" }

    /// `If-None-Match`: `*`, or a list of (weak or strong) tags.
    static func matches(_ header: String?, _ version: String) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingCharacters(in: .whitespaces)
            if tag.hasPrefix("W/") { tag.removeFirst(2) }
            return tag == "*" || tag == Self.tag(version)
        }
    }

    private static func seatMap(_ fields: [String: String]) -> [String: [(seat: SeatID, price: String)]] {
        var bySection: [String: [(seat: SeatID, price: String)]] = [:]
        for (id, price) in fields {
            guard let seat = SeatID(id) else { continue }
            bySection[seat.section, default: []].append((seat, price))
        }
        for key in bySection.keys {
            bySection[key]?.sort { ($0.seat.row, $0.seat.number) < ($1.seat.row, $1.seat.number) }
        }
        return bySection
    }
}
