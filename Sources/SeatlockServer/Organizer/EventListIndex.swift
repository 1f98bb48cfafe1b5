// The index of GET /v1/events (GlobalKeys.eventIndex), filled at start for
// every event that is not in it: events made by a version before the list,
// or by a tool that wrote only the event's own keys and `sl:events`.
import SeatlockCore
import SeatlockRedis

public enum EventListIndex {
    /// O(events): one SMEMBERS, one HGET per event, one ZADD for those missing.
    /// Returns how many entries it added.
    @discardableResult
    public static func backfill(_ client: RedisClient) throws -> Int {
        let ids = (try client.checked(["SMEMBERS", GlobalKeys.events]).array ?? []).compactMap(\.string).filter(EventKeys.isValidEventId)
        var entries: [String] = []
        for id in ids {
            guard let startsAt = try client.checked(["HGET", EventKeys(id).event, "startsAt"]).string,
                  let ms = EventSpec.milliseconds(startsAt) else { continue } // (an id whose creation did not finish)
            entries.append(GlobalKeys.eventIndexEntry(eventId: id, startsAtMs: ms))
        }
        guard !entries.isEmpty else { return 0 }
        let added = try client.checked(["ZADD", GlobalKeys.eventIndex, "NX"] + entries.flatMap { ["0", $0] })
        return added.int ?? 0
    }
}
