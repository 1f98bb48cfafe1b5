// `seatlock audit EVENT`: checks the booking invariants (docs/operations/audit.md) from Redis; exit 1 on a violation.
import ArgumentParser
import SeatlockAudit
import SeatlockCore
import SeatlockRedis

struct Audit: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check an event's invariants (live or finished); exit 1 on any violation.")

    @OptionGroup var redis: RedisOptions
    @Argument(help: "The event id.") var event: String
    @Option(help: "Seconds a hold may outlive its deadline before it counts as stuck.") var grace: Double = 5
    @Flag(help: "Print the report as JSON.") var json = false

    func run() throws {
        guard Identifier.isValid(event) else { throw ValidationError("not an event id: \(event)") }
        var audit = EventAudit(eventId: event)
        audit.graceMilliseconds = Int(grace * 1000)
        let report = try audit.run(try RedisClient(url: try redis.resolved()))
        say(json ? report.json : report.text)
        if !report.passed { throw ExitCode(1) }
    }
}
