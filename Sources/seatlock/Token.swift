// `seatlock token USER_ID`: mints a buyer token (for load tests and demos).
import ArgumentParser
import Foundation
import SeatlockCore

struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a buyer token (JWT HS256) for USER_ID.")

    @Argument(help: "The buyer's user id (letters, digits, '-', '_'); with --count, the prefix of the ids.") var userId: String
    @Option(help: "Print this many tokens, one per line, for users USER_ID1 ... USER_IDN (load tests).") var count: Int?
    @Option(help: "Lifetime in seconds.") var ttl: Int = 3600
    @OptionGroup var secrets: SecretOptions

    func run() throws {
        guard Identifier.isValid(userId) else { throw ValidationError("user ids are 1-64 letters, digits, '-' or '_'") }
        guard let secret = try secrets.tokenSecret() else {
            throw ValidationError("set SEATLOCK_TOKEN_SECRET (or SEATLOCK_TOKEN_SECRET_FILE / --token-secret-file)")
        }
        let tokens = BuyerTokens(secret: secret)
        guard let count else { return say(tokens.mint(userId: userId, ttlSeconds: ttl)) }
        guard (1...10_000_000).contains(count), Identifier.isValid(userId + String(count)) else {
            throw ValidationError("--count must be 1-10000000 and the ids must stay valid")
        }
        var lines = ""
        for index in 1...count {
            lines += tokens.mint(userId: userId + String(index), ttlSeconds: ttl) + "\n"
            if lines.utf8.count > 1 << 20 {
                FileHandle.standardOutput.write(Data(lines.utf8))
                lines = ""
            }
        }
        FileHandle.standardOutput.write(Data(lines.utf8))
    }
}
