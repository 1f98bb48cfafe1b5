// How lua/analytics_apply.lua is called, and what it answers.
import SeatlockCore
import SeatlockRedis

/// How analytics_apply.lua is called, and what it answers.
public enum AnalyticsScript {
    public static let name = "analytics_apply"

    /// A batch of one event's log entries, in log order: KEYS stats, buyers,
    /// confirm_ms, series, the log, then each entry's booking (read for
    /// booking.confirmed; a key no booking has otherwise); ARGV each entry as
    /// its id, its number of fields, then its fields as name/value pairs.
    public static func call(_ script: LuaScript, eventId: String, entries: [(id: String, fields: [String: String])],
                            into keys: AnalyticsKeys? = nil) -> ScriptCall {
        let event = EventKeys(eventId)
        let target = keys ?? AnalyticsKeys(eventId)
        var callKeys = target.all + [event.log]
        var args: [String] = []
        callKeys.reserveCapacity(callKeys.count + entries.count)
        for entry in entries {
            var booking = event.booking("") // `sl:{E}:booking:`: never a booking (ids are not empty)
            if entry.fields["type"] == "booking.confirmed", let id = entry.fields["bookingId"], Identifier.isValid(id) {
                booking = event.booking(id)
            }
            callKeys.append(booking)
            args += [entry.id, String(entry.fields.count)]
            for (name, value) in entry.fields.sorted(by: { $0.key < $1.key }) { args += [name, value] }
        }
        return ScriptCall(script: script, keys: callKeys, args: args)
    }

    /// One log entry (a batch of one).
    public static func call(_ script: LuaScript, eventId: String, entryId: String, fields: [String: String],
                            into keys: AnalyticsKeys? = nil) -> ScriptCall {
        call(script, eventId: eventId, entries: [(entryId, fields)], into: keys)
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

    /// Each entry's outcome, in the call's order; nil for a reply the
    /// script never gives (an error reply, a lost script).
    public static func outcomes(_ reply: RedisValue) -> [Outcome]? {
        guard let parts = reply.array, let last = parts.first?.string else { return nil }
        var outcomes: [Outcome] = []
        outcomes.reserveCapacity(parts.count - 1)
        for part in parts.dropFirst() {
            switch part.string {
            case "applied": outcomes.append(.applied)
            case "duplicate": outcomes.append(.duplicate(lastEntry: last))
            case "gap": outcomes.append(.gap(lastEntry: last))
            case "invalid": outcomes.append(.invalid)
            default: return nil
            }
        }
        return outcomes
    }

    /// The outcome of a batch of one.
    public static func outcome(_ reply: RedisValue) -> Outcome? {
        guard let all = outcomes(reply), all.count == 1 else { return nil }
        return all[0]
    }
}
