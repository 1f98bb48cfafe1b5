// The organizer's and the shop's routes (docs/api.md "Events" and
// "Bookings"): the event list, PATCH and cancel of an event, and the booking
// lists. Each list page is one bounded read of a sorted set the scripts keep
// (no SCAN on a request path) and one read per item on the page.
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockScripts

extension BookingHandlers {
    // MARK: GET /v1/events

    /// The index entries are read in start order, then each entry's event hash.
    /// An entry without its event is skipped (the event may be being created:
    /// its entry goes first); an entry whose start moved is skipped, removed,
    /// and the event's right entry written (usually PATCH wrote it already), so
    /// a race with a PATCH or a server that died between its two writes can
    /// misplace an event for one read at most, never drop it from the list.
    func listEvents(_ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let query = try ListQuery.parse(request.query, statuses: EventStatus.all)
        let list = "events|" + (query.status ?? "")
        let after = try query.cursor.map { cursor throws(APIError) in try cursors.member(of: cursor, list: list) }
        let range = ["ZRANGE", GlobalKeys.eventIndex, after.map { "(" + $0 } ?? "-", "+", "BYLEX", "LIMIT", "0", String(query.limit + 1)]
        redis.send(range) { [self] result in
            guard case let .success(reply) = result, var entries = reply.array?.compactMap(\.string) else {
                return responder.send(Self.failure(result, notFound: .internalError))
            }
            let more = entries.count > query.limit
            if more { entries.removeLast() }
            let ids = entries.map { entry in entry.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "" }
            let reads = ids.map { ["HMGET", EventKeys($0).event, "name", "venue", "startsAt", "status", "capacity", "held", "sold"] }
            redis.pipeline(reads) { [self] results in
                var items: [String] = [], stale: [String] = [], right: [String] = []
                for (index, result) in results.enumerated() {
                    guard case let .success(value) = result, let fields = value.array?.map(\.string) else {
                        return responder.send(Self.failure(result, notFound: .internalError))
                    }
                    guard let startsAt = fields[2], let name = fields[0], let venue = fields[1], let status = fields[3],
                          let startsAtMs = EventSpec.milliseconds(startsAt) else { continue }
                    let entry = GlobalKeys.eventIndexEntry(eventId: ids[index], startsAtMs: startsAtMs)
                    guard entry == entries[index] else {
                        stale.append(entries[index])
                        right += ["0", entry]
                        continue
                    }
                    if let wanted = query.status, wanted != status { continue }
                    let capacity = Int(fields[4] ?? "") ?? 0, held = Int(fields[5] ?? "") ?? 0, sold = Int(fields[6] ?? "") ?? 0
                    items.append("{\"id\":\(JSONText.quote(ids[index])),\"name\":\(JSONText.quote(name)),\"venue\":\(JSONText.quote(venue)),"
                        + "\"startsAt\":\(JSONText.quote(startsAt)),\"status\":\(JSONText.quote(status)),\"capacity\":\(capacity),"
                        + "\"available\":\(max(0, capacity - held - sold)),\"held\":\(held),\"sold\":\(sold)}")
                }
                if !stale.isEmpty {
                    redis.send(["ZADD", GlobalKeys.eventIndex] + right) { _ in }
                    redis.send(["ZREM", GlobalKeys.eventIndex] + stale) { _ in }
                }
                let next = more ? ",\"next\":" + JSONText.quote(cursors.make(list: list, after: entries[entries.count - 1])) : ""
                responder.send(HTTPResponse(status: 200, json: "{\"events\":[" + items.joined(separator: ",") + "]" + next + "}"))
            }
        }
    }

    /// The index entry of a new event (or of a new start), written before
    /// the event's own script: an entry without its event is skipped by the
    /// list, while an event without its entry would never be listed.
    func indexEvent(_ eventId: String, startsAtMs: Int64) {
        redis.send(["ZADD", GlobalKeys.eventIndex, "0", GlobalKeys.eventIndexEntry(eventId: eventId, startsAtMs: startsAtMs)]) { _ in }
    }

    // MARK: PATCH /v1/events/{e}, POST /v1/events/{e}/cancel

    func updateEvent(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard try authenticate(request) == .admin else { throw .forbidden }
        let patch = try EventPatch.decode(request.body)
        if let startsAtMs = patch.startsAtMilliseconds { indexEvent(eventId, startsAtMs: startsAtMs) }
        runScript(scripts.updateEvent(event: eventId, patch, actor: "admin"), request, responder)
    }

    /// 202: the event is cancelled now; its bookings end in the payments
    /// group's batches (cancel_bookings.lua), which this call does not wait for.
    func cancelEvent(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard try authenticate(request) == .admin else { throw .forbidden }
        let body = String(decoding: request.body, as: UTF8.self).filter { !$0.isWhitespace }
        guard body.isEmpty || body == "{}" else {
            throw .invalid("cancel takes no body (or {})")
        }
        runScript(scripts.cancelEvent(event: eventId, actor: "admin"), request, responder)
    }

    // MARK: GET /v1/events/{e}/bookings

    /// A buyer's own bookings, or with the admin token all of them (or those
    /// in one status, from that status's own list).
    func listBookings(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let caller = try authenticate(request)
        let query = try ListQuery.parse(request.query, statuses: BookingStatus.all)
        let keys = EventKeys(eventId)
        let (index, filter): (String, String) = switch caller {
        case .admin: (query.status.map { keys.bookings(status: $0) } ?? keys.bookings, "")
        case let .buyer(userId): (keys.bookings(user: userId), query.status ?? "")
        }
        let list = "bookings|\(eventId)|\(caller.scope)|\(query.status ?? "")"
        let after = try query.cursor.map { cursor throws(APIError) in try cursors.member(of: cursor, list: list) } ?? ""
        run(scripts.listBookings(event: eventId, list: index, after: after, limit: query.limit, status: filter)) { [self] result in
            guard case let .success(reply) = result, let parts = reply.array, parts.count == 3, parts[0].int == 200,
                  let items = parts[1].string, let last = parts[2].string else {
                respond(responder, result, request: request) // 404 event_not_found, or a fault
                return
            }
            let next = last.isEmpty ? "" : ",\"next\":" + JSONText.quote(cursors.make(list: list, after: last))
            responder.send(HTTPResponse(status: 200, json: "{\"bookings\":" + items + next + "}"))
        }
    }
}
