// Trims an event's log without losing work. Redis 7.0 has no `XTRIM … ACKED`
// (8.2), and a blind MAXLEN can delete entries still pending in a group; so
// the trim point is computed from every group: the oldest entry still pending
// in any group, or, for a group with nothing pending, the last entry it was
// given. Entries before that point were delivered to and acked by every
// group. A group that does not exist yet blocks trimming: it has read nothing.
import SeatlockCore
import SeatlockRedis

public struct LogTrimmer {
    /// The groups that must have consumed an entry before it may go.
    public var groups: [String]

    public init(groups: [String] = ["payments", "notifications", "analytics"]) {
        self.groups = groups
    }

    public enum Outcome: Equatable, Sendable {
        case trimmed(minimumId: String, removed: Int)
        case blocked(String)
    }

    /// The oldest id every group still needs, or why there is none.
    public func safeMinimumId(stream: String, client: RedisClient) throws -> Result<String, TrimBlocked> {
        let info = try client.send(["XINFO", "GROUPS", stream])
        if let message = info.errorMessage { return .failure(TrimBlocked(reason: message)) }
        var byName: [String: [String: RedisValue]] = [:]
        for group in info.array ?? [] {
            var fields: [String: RedisValue] = [:]
            let items = group.array ?? []
            var index = 0
            while index + 1 < items.count {
                if let key = items[index].string { fields[key] = items[index + 1] }
                index += 2
            }
            if let name = fields["name"]?.string { byName[name] = fields }
        }
        var minimum: StreamID?
        for name in groups {
            guard let group = byName[name] else { return .failure(TrimBlocked(reason: "group \(name) does not exist yet")) }
            let keep: StreamID?
            if (group["pending"]?.int ?? 0) > 0 {
                let summary = try client.checked(["XPENDING", stream, name])
                keep = summary.array.flatMap { $0.count > 1 ? $0[1].string : nil }.flatMap(StreamID.init)
            } else {
                keep = group["last-delivered-id"]?.string.flatMap(StreamID.init)
            }
            guard let keep else { return .failure(TrimBlocked(reason: "group \(name) has no position")) }
            minimum = minimum.map { min($0, keep) } ?? keep
        }
        guard let minimum else { return .failure(TrimBlocked(reason: "no groups to wait for")) }
        return .success(minimum.description)
    }

    /// Deletes the entries every group is done with.
    public func trim(stream: String, client: RedisClient) throws -> Outcome {
        switch try safeMinimumId(stream: stream, client: client) {
        case let .failure(blocked):
            return .blocked(blocked.reason)
        case let .success(minimumId):
            let removed = try client.checked(["XTRIM", stream, "MINID", minimumId]).int ?? 0
            return .trimmed(minimumId: minimumId, removed: removed)
        }
    }
}

public struct TrimBlocked: Error, Equatable, Sendable {
    public let reason: String
}

