// `seatlock trim-logs`: deletes log entries that every consumer group is
// done with (never one still pending). Off the hot path, run by operators
// or cron; `seatlock audit` replays whatever is left of a log.
import ArgumentParser
import SeatlockCore
import SeatlockRedis
import SeatlockWorkers

struct TrimLogs: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "trim-logs",
        abstract: "Trim event logs up to the oldest entry any consumer group still needs.")

    @OptionGroup var redis: RedisOptions
    @Option(help: "Comma-separated groups that must have consumed an entry first.") var groups = "payments,notifications,analytics"
    @Argument(help: "Event ids (default: every event in sl:events).") var events: [String] = []

    func run() throws {
        let client = try RedisClient(url: try redis.resolved())
        let trimmer = LogTrimmer(groups: groups.split(separator: ",").map(String.init))
        let ids = events.isEmpty ? (try client.checked(["SMEMBERS", GlobalKeys.events]).array ?? []).compactMap(\.string).sorted() : events
        for id in ids {
            guard Identifier.isValid(id) else { throw ValidationError("not an event id: \(id)") }
            switch try trimmer.trim(stream: EventKeys(id).log, client: client) {
            case let .trimmed(minimumId, removed): say("\(id): removed \(removed) entries before \(minimumId)")
            case let .blocked(reason): say("\(id): not trimmed (\(reason))")
            }
        }
    }
}
