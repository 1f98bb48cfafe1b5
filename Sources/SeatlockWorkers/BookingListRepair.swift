// Puts an event's existing bookings into its booking lists (reindex_bookings.lua):
// `seatlock reindex`, for bookings made before the lists existed. Off the
// request path: it SCANs the event's booking keys.
import SeatlockCore
import SeatlockRedis
import SeatlockScripts

public enum BookingListRepair {
    /// Returns how many bookings it read and how many list entries it added.
    public static func run(eventId: String, client: RedisClient, scripts: BookingScripts, batch: Int = 500) throws -> (bookings: Int, added: Int) {
        let prefix = EventKeys(eventId).bookingPrefix
        let keys: [String] = try client.scanKeys(prefix + "*")
        let ids: [String] = keys.map { String($0.dropFirst(prefix.count)) }.filter { Identifier.isValid($0) }
        var added = 0
        for start in stride(from: 0, to: ids.count, by: batch) {
            let chunk = Array(ids[start..<min(start + batch, ids.count)])
            added += try client.run(scripts.reindexBookings(event: eventId, bookingIds: chunk)).int ?? 0
        }
        return (ids.count, added)
    }
}
