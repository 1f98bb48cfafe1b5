// Process-wide settings every command makes before it opens sockets.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Lifts the soft limit on open files to the hard one: every HTTP connection
/// (and every idle stream subscriber) is a descriptor.
public func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// A write to a client that already left must be an error on that
/// connection (evhttp handles it), not SIGPIPE killing the process.
public func ignoreBrokenPipes() {
    signal(SIGPIPE, SIG_IGN)
}

/// Finds a directory of files that ships with Seatlock (lua/, the
/// notification templates, the dashboard) and is read at start, so what
/// runs is what the repository holds.
public enum ResourceDirectory {
    /// `override` (an environment variable's value) when set; else the first
    /// of `relativePaths` that holds `marker`, walking up from the working
    /// directory, the executable's directory and `sourceFile`'s directory.
    /// Throws with the places it looked.
    public static func locate(_ relativePaths: [String], marker: String, override: String?, sourceFile: String) throws -> URL {
        if let override, !override.isEmpty { return URL(fileURLWithPath: override) }
        var candidates: [URL] = []
        let starts = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
            URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: sourceFile).deletingLastPathComponent(),
        ]
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<8 {
                for path in relativePaths { candidates.append(dir.appendingPathComponent(path)) }
                dir = dir.deletingLastPathComponent()
            }
        }
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent(marker).path) {
            return candidate
        }
        throw ResourceNotFound(marker: marker, tried: candidates.prefix(4).map(\.path))
    }
}

public struct ResourceNotFound: Error, CustomStringConvertible {
    public let marker: String
    public let tried: [String]
    public init(marker: String, tried: [String]) {
        self.marker = marker
        self.tried = tried
    }
    public var description: String { "cannot find \(marker); looked in: \(tried.joined(separator: ", ")), …" }
}
