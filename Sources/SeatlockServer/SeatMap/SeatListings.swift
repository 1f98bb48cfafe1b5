// `GET /v1/events/{e}/seats` on one loop. A seat map is cheap to ask for
// and was expensive to answer (a 250,000-seat event was 14 MB and ~1 s of
// loop time), so:
//   - each answer carries an ETag, the id of the event log's newest entry
//     (every state change appends one), read first, in the same pipeline:
//     `If-None-Match` with it is a 304 that reads nothing else;
//   - a rendering is reused while that version holds (and for 100 ms at
//     most without asking Redis, as before);
//   - the full encoding stops at SeatMapView.maxFullSeats per answer
//     (`?section=` or `format=compact` beyond), the compact one is a byte a seat;
//   - reads are rate limited per client address in memory (no Redis write).
// Reads are bounded by the sections asked for: the cached seat map, each
// section's free set, and HMGET on the sold hash for the seats not free.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockLoop
import SeatlockRedis

final class SeatListings {
    private let redis: RedisConnection
    /// Seat maps never change after creation: cached per loop, per section, in order.
    private var seatMaps: [String: [String: [(seat: SeatID, price: String)]]] = [:]
    private struct Rendered {
        let version: String
        let json: String
        var expires: ContinuousClock.Instant
    }
    private var rendered: [String: Rendered] = [:]
    private let lifetime: Duration = .milliseconds(100)
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
        if rendered.count > 1000 { rendered = rendered.filter { $0.value.expires > now } }
        let keys = EventKeys(eventId)
        let needMap = seatMaps[eventId] == nil
        let reads = [["XREVRANGE", keys.log, "+", "-", "COUNT", "1"], ["HGET", keys.event, "sections"]] + (needMap ? [["HGETALL", keys.seats]] : [])
        redis.pipeline(reads) { [self] results in
            guard case let .success(.bulk(sectionList)) = results[1] else {
                return responder.send(BookingHandlers.failure(results[1], notFound: APIError(status: 404, code: "event_not_found", message: "no such event")))
            }
            // Read before the seats: a change after it makes the seats newer than the tag, never older.
            let version = (try? results[0].get())?.array?.first?.array?.first?.string ?? "0-0"
            if Self.matches(ifNoneMatch, version) { return responder.send(notModified(version)) }
            if var cached = rendered[cacheKey], cached.version == version {
                cached.expires = ContinuousClock.now + lifetime
                rendered[cacheKey] = cached
                return responder.send(answer(cached.json, version: version, ifNoneMatch: nil))
            }
            if needMap, case let .success(map) = results[2] { seatMaps[eventId] = Self.seatMap(map.fields) }
            let sections = sectionList.split(separator: ",").compactMap { $0.split(separator: ":").first.map(String.init) }
            let wanted = section.map { [$0] } ?? sections
            guard wanted.allSatisfy(sections.contains) else {
                return responder.send(BookingHandlers.response(APIError(status: 404, code: "section_not_found", message: "no such section in this event")))
            }
            let parts: [SeatMapView.Section] = wanted.map { ($0, seatMaps[eventId]?[$0] ?? []) }
            let count = parts.reduce(0) { $0 + $1.seats.count }
            if format == .full, count > SeatMapView.maxFullSeats {
                return responder.send(BookingHandlers.response(APIError(status: 400, code: "section_required",
                    message: "this map has \(count) seats: ask for one section (?section=, one of \(sections.joined(separator: ", "))) or ?format=compact")))
            }
            readStatuses(keys, parts) { [self] statuses in
                guard let (free, sold) = statuses else { return responder.send(BookingHandlers.response(APIError.unavailable)) }
                let json = SeatMapView.render(parts, format: format, isFree: free.contains, isSold: sold.contains)
                rendered[cacheKey] = Rendered(version: version, json: json, expires: ContinuousClock.now + lifetime)
                responder.send(answer(json, version: version, ifNoneMatch: nil))
            }
        }
    }

    /// The free seats (ZRANGE of each section's free set), then which of the
    /// others are sold (HMGET on the sold hash); nil when Redis failed.
    private func readStatuses(_ keys: EventKeys, _ parts: [SeatMapView.Section], done: @escaping ((Set<String>, Set<String>)?) -> Void) {
        redis.pipeline(parts.map { ["ZRANGE", keys.free($0.id), "0", "-1"] }) { [redis] freeResults in
            guard freeResults.allSatisfy({ if case .success(.array) = $0 { true } else { false } }) else { return done(nil) }
            let free = Set(freeResults.flatMap { (try? $0.get())?.array?.compactMap(\.string) ?? [] })
            let taken = parts.flatMap { $0.seats.map(\.seat.description) }.filter { !free.contains($0) }
            guard !taken.isEmpty else { return done((free, [])) }
            redis.send(["HMGET", keys.sold] + taken) { result in
                guard case let .success(.array(owners)) = result else { return done(nil) }
                done((free, Set(zip(taken, owners).compactMap { $0.1 == .null ? nil : $0.0 })))
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
