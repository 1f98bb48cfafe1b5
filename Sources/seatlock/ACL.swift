// `seatlock acl`: the Redis user the product should run as, as a line for
// redis-cli (or, with --apply, set on the Redis of REDIS_URL, an admin URL).
import ArgumentParser
import Foundation
import SeatlockRedis

struct ACL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acl",
        abstract: "Print (or --apply) the ACL of the application's Redis user: sl:* keys, scripts by SHA, no admin commands."
    )

    @OptionGroup var redis: RedisOptions
    @Option(help: "The user's name.") var user: String = "seatlock"
    @Option(help: "Database number (its expired-key channel is granted).") var db: Int = 0
    @Option(help: "File holding the user's password (with --apply; the printed line shows PASSWORD).") var passwordFile: String?
    @Flag(help: "Run ACL SETUSER on the Redis of REDIS_URL instead of printing it.") var apply = false

    func run() throws {
        guard (0...15).contains(db) else { throw ValidationError("--db must be 0-15") }
        guard !apply else {
            guard let passwordFile, let password = try? String(contentsOfFile: passwordFile, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines), password.count >= 16 else {
                throw ValidationError("--apply needs --password-file with a password of 16+ characters")
            }
            let nodes = try ApplicationACL.install(on: RedisClient(url: redis.resolved()), user: user, password: password, database: db)
            return say("ACL user '\(user)' set" + (nodes > 1 ? " on each of the cluster's \(nodes) nodes" : ""))
        }
        let rules = ApplicationACL.rules(password: "PASSWORD", database: db).map { rule in
            rule.allSatisfy { $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "@" } ? rule : "'\(rule)'"
        }
        say((["redis-cli", "ACL", "SETUSER", user] + rules).joined(separator: " "))
    }
}
