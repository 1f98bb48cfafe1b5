// A private redis-server run as a child process: `seatlock up`, the tests
// and the benchmarks use it. It is configured the way Seatlock needs Redis:
// expired-key notifications on, `noeviction` (an evicted hold would be an
// oversell), loopback only.
import Foundation
import SeatlockLoop

public enum LocalRedisError: Error, CustomStringConvertible {
    case notInstalled
    case didNotStart(String)
    public var description: String {
        switch self {
        case .notInstalled: "redis-server is not installed (Debian: apt-get install redis-server)"
        case let .didNotStart(why): "redis-server did not start: \(why)"
        }
    }
}

public final class LocalRedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let process: Process

    public let password: String?
    public var url: RedisURL { RedisURL(host: "127.0.0.1", port: port, password: password) }

    /// Starts redis-server on `port` (a free one when nil) with its files in
    /// `directory`. `persistent` turns on the append-only file.
    /// `password` turns on `requirepass` (the URL then carries it).
    public init(port: Int? = nil, directory: URL, persistent: Bool = false, password: String? = nil, extraArguments: [String] = []) throws {
        guard let binary = Self.findBinary() else { throw LocalRedisError.notInstalled }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var lastError = "no free port"
        for _ in 0..<5 {
            guard let chosen = port ?? freeLoopbackPort() else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "--port", String(chosen), "--bind", "127.0.0.1", "--dir", directory.path,
                "--notify-keyspace-events", "Ex", "--maxmemory-policy", "noeviction",
                "--save", "", "--appendonly", persistent ? "yes" : "no", "--appendfsync", "everysec",
                "--logfile", directory.appendingPathComponent("redis.log").path,
                "--daemonize", "no",
            ] + (password.map { ["--requirepass", $0] } ?? []) + extraArguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if Self.waitUntilReady(url: RedisURL(host: "127.0.0.1", port: chosen, password: password), process: process) {
                self.port = chosen
                self.directory = directory
                self.process = process
                self.password = password
                return
            }
            Foundation.kill(process.processIdentifier, SIGKILL) // SIGTERM may be blocked in the child (see stop())
            process.waitUntilExit()
            lastError = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8))?
                .split(separator: "\n").suffix(3).joined(separator: " | ") ?? "see redis.log"
            if port != nil { break }
        }
        throw LocalRedisError.didNotStart(lastError)
    }

    deinit { stop() }

    public var isRunning: Bool { process.isRunning }

    /// Asks Redis to shut down cleanly (SHUTDOWN flushes the append-only file)
    /// and waits; kills it if it has not gone after a few seconds. Signals are
    /// not used for the polite path: a child started from a thread that blocks
    /// SIGTERM inherits that mask, and would never see it.
    public func stop() {
        guard process.isRunning else { return }
        if let client = try? RedisClient(url: url, timeout: .seconds(2)) {
            // NOW: a cluster primary would otherwise wait for its replicas (up to 10 s); the append-only file is still flushed.
            _ = try? client.send(["SHUTDOWN", "NOW"])
        }
        for _ in 0..<60 where process.isRunning { usleep(50_000) }
        kill()
    }

    /// SIGKILL without waiting: for exit handlers, where waiting on a child
    /// through Foundation can deadlock.
    public func killWithoutWaiting() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    private static func waitUntilReady(url: RedisURL, process: Process) -> Bool {
        for _ in 0..<100 {
            guard process.isRunning else { return false }
            if let client = try? RedisClient(url: url, timeout: .seconds(1)),
               (try? client.send(["PING"])) == .status("PONG") {
                return true
            }
            usleep(50_000)
        }
        return false
    }

    public static func findBinary() -> String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        return paths.map { $0 + "/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
