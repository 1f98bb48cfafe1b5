// The `seatlock` command: one binary, one subcommand per component.
import ArgumentParser
import Foundation
import SeatlockLoop

@main
struct Seatlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seatlock",
        abstract: "Seat reservation for high-demand on-sales, on Redis.",
        subcommands: [Up.self, Serve.self, Expiry.self, Worker.self, StressCommand.self, Audit.self, TrimLogs.self, Reindex.self, Token.self, Scripts.self, ACL.self, Cluster.self]
    )

    static func main() {
        // Every component writes to sockets a peer may close (clients, SMTP, webhooks, Redis).
        ignoreBrokenPipes()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Writes a line to stdout at once (no buffering), so banners and progress
/// show up when the output goes to a file or a pipe.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
