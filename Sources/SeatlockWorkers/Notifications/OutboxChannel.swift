// The development channel: every message becomes one JSON line appended to
// a file (`tail -f` it), the same object a webhook would receive. The write
// is a small blocking append on the worker's loop, fine for development and
// `seatlock up`, not for production volumes.
import Foundation

public final class OutboxChannel: NotificationChannel {
    public let kind: NotificationKind
    public let name = "outbox"
    public let path: String

    public init(kind: NotificationKind, path: String) {
        self.kind = kind
        self.path = path
    }

    public func deliver(_ message: NotificationMessage, completion: @escaping (DeliveryOutcome) -> Void) {
        do {
            var line = try NotificationPayload(message).json()
            line.append(UInt8(ascii: "\n"))
            try append(line)
            completion(.delivered(detail: "appended to \(path)"))
        } catch {
            completion(.failed(reason: "outbox \(path): \(error)", permanent: false))
        }
    }

    private func append(_ data: Data) throws {
        let url = URL(fileURLWithPath: path)
        let files = FileManager.default
        if !files.fileExists(atPath: path) {
            try files.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            guard files.createFile(atPath: path, contents: nil) else { throw NotificationsError("cannot create the file") }
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
    }
}
