// `seatlock token USER_ID`: mints a buyer token (for load tests and demos).
import ArgumentParser
import Foundation
import SeatlockCore

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a buyer token (JWT HS256) for USER_ID.")

    @Argument(help: "The buyer's user id (letters, digits, '-', '_').") var userId: String
    @Option(help: "Lifetime in seconds.") var ttl: Int = 3600
    @Option(name: .customLong("token-secret"), help: "HS256 secret (env SEATLOCK_TOKEN_SECRET)") var tokenSecret: String?

    func run() throws {
        guard Identifier.isValid(userId) else { throw ValidationError("user ids are 1-64 letters, digits, '-' or '_'") }
        guard let secret = tokenSecret ?? ProcessInfo.processInfo.environment["SEATLOCK_TOKEN_SECRET"].nonEmpty else {
            throw ValidationError("set SEATLOCK_TOKEN_SECRET (or --token-secret)")
        }
        say(BuyerTokens(secret: secret).mint(userId: userId, ttlSeconds: ttl))
    }
}
