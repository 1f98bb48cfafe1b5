// `seatlock reindex`: lists every existing booking of the events in the
// booking lists (GET /v1/events/{e}/bookings, and what a cancellation ends).
// Bookings made by a version before the lists are in none of them; running
// it again adds nothing.
import ArgumentParser
import SeatlockCore
import SeatlockRedis
import SeatlockScripts
import SeatlockWorkers

struct Reindex: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reindex",
        abstract: "Put existing bookings into the booking lists (after an upgrade from a version without them).")

    @OptionGroup var redis: RedisOptions
    @Argument(help: "Event ids (default: every event in sl:events).") var events: [String] = []

    func run() throws {
        let client = try RedisClient(url: try redis.resolved())
        let library = try ScriptLibrary.locate()
        try client.load(library)
        let scripts = try BookingScripts(library)
        let ids = events.isEmpty ? (try client.checked(["SMEMBERS", GlobalKeys.events]).array ?? []).compactMap(\.string).sorted() : events
        for id in ids {
            guard EventKeys.isValidEventId(id) else { throw ValidationError("not an event id: \(id)") }
            let result = try BookingListRepair.run(eventId: id, client: client, scripts: scripts)
            say("\(id): \(result.bookings) bookings, \(result.added) list entries added")
        }
    }
}
