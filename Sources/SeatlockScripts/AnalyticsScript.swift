// How lua/analytics_apply.lua is called, and what it answers.
import SeatlockCore
import SeatlockRedis

/// How analytics_apply.lua is called, and what it answers.
public enum AnalyticsScript {
    public static let name = "analytics_apply"

    /// One log entry: KEYS stats, buyers, confirm_ms, series, the booking (read
    /// for booking.confirmed; a key no booking has otherwise), the log; ARGV the
    /// entry id then its fields as name/value pairs.
    public static func call(_ script: LuaScript, eventId: String, entryId: String, fields: [String: String],
                            into keys: AnalyticsKeys? = nil) -> ScriptCall {
        let event = EventKeys(eventId)
        let target = keys ?? AnalyticsKeys(eventId)
        var booking = event.booking("") // `sl:{E}:booking:`: never a booking (ids are not empty)
        if fields["type"] == "booking.confirmed", let id = fields["bookingId"], Identifier.isValid(id) {
            booking = event.booking(id)
        }
        var args = [entryId]
        args.reserveCapacity(1 + fields.count * 2)
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { args += [name, value] }
        return ScriptCall(script: script, keys: target.all + [booking, event.log], args: args)
    }

    public enum Outcome: Equatable, Sendable {
        case applied
        /// Applied before (a redelivery); nothing changed.
        case duplicate(lastEntry: String)
        /// An earlier log entry is not applied yet; nothing changed. Apply the
        /// log after `lastEntry` ('' = from the start) first.
        case gap(lastEntry: String)
        /// The id is not a stream id.
        case invalid
    }

    /// nil for a reply the script never gives (an error reply, a lost script).
    public static func outcome(_ reply: RedisValue) -> Outcome? {
        guard let parts = reply.array, parts.count == 3, let status = parts[1].string else { return nil }
        let last = parts[2].string ?? ""
        switch (parts[0].int, status) {
        case (1, "applied"): return .applied
        case (0, "duplicate"): return .duplicate(lastEntry: last)
        case (0, "gap"): return .gap(lastEntry: last)
        case (0, "invalid"): return .invalid
        default: return nil
        }
    }
}
