// A small blocking HTTP/1.1 client over a plain socket, for tests and
// command-line checks (not for load). It can also send raw bytes, so tests
// can speak malformed HTTP to the server on purpose.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed as a JSON object, if it is one.
    public var json: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}

public enum BlockingHTTPError: Error {
    case connectFailed(String)
    case ioFailed(String)
    case malformedReply(String)
}

public struct BlockingHTTPClient: Sendable {
    public var host: String
    public var port: Int
    public var timeoutSeconds: Int

    public init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Int = 10) {
        self.host = host
        self.port = port
        self.timeoutSeconds = timeoutSeconds
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8]? = nil) throws -> HTTPReply {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        return try raw(Array(head.utf8) + (body ?? []))
    }

    public func request(_ method: String, _ path: String, headers: [String: String] = [:], json: String) throws -> HTTPReply {
        var all = headers
        all["Content-Type"] = all["Content-Type"] ?? "application/json"
        return try request(method, path, headers: all, body: Array(json.utf8))
    }

    /// Sends `bytes` as they are and reads the reply until the server closes.
    public func raw(_ bytes: [UInt8]) throws -> HTTPReply {
        let response = try exchange(bytes)
        return try Self.parse(response)
    }

    private func exchange(_ bytes: [UInt8]) throws -> [UInt8] {
        let connection = try OpenConnection(host: host, port: port, timeoutSeconds: timeoutSeconds)
        defer { connection.close() }
        connection.send(bytes)
        return try connection.readUntilClosed()
    }

    static func parse(_ bytes: [UInt8]) throws -> HTTPReply {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = bytes.firstRange(of: separator) else { throw BlockingHTTPError.malformedReply("no header end in \(bytes.count) bytes") }
        let head = String(decoding: bytes[..<end.lowerBound], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw BlockingHTTPError.malformedReply(head) }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(bytes[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = dechunk(body) }
        else if let length = headers["content-length"].flatMap(Int.init), length < body.count { body = Array(body[..<length]) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self)
            guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size > 0 else { break }
            let start = lineEnd.upperBound
            let stop = min(start + size, bytes.count)
            out.append(contentsOf: bytes[start..<stop])
            index = stop + 2
        }
        return out
    }
}

/// One client TCP connection kept open, for tests that misbehave on
/// purpose: send part of a request, wait, and see whether the server hangs up.
public final class OpenConnection: @unchecked Sendable {
    private var fd: Int32

    /// `from`: a local address to connect from (e.g. 127.0.0.7), to act as many clients.
    public init(host: String = "127.0.0.1", port: Int, timeoutSeconds: Int = 10, from source: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BlockingHTTPError.connectFailed("socket: \(errno)") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            inet_pton(AF_INET, source, &local.sin_addr)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw BlockingHTTPError.connectFailed("bind \(source): errno \(errno)")
            }
        }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw BlockingHTTPError.connectFailed("connect \(host):\(port): errno \(errno)")
        }
    }

    deinit { close() }

    /// Sends what the kernel takes; a server that already closed is not an error here.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false } // the server may answer (413) and close before reading everything
            sent += n
        }
        return true
    }

    /// Everything the server sends until it closes (or the receive timeout).
    public func readUntilClosed() throws -> [UInt8] {
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { response.append(contentsOf: chunk[0..<n]); continue }
            if n == 0 || response.count > 0 { break }
            throw BlockingHTTPError.ioFailed("recv: errno \(errno)")
        }
        return response
    }

    /// What has arrived (waiting up to the receive timeout); empty when the
    /// server closed, nil on timeout.
    public func receive() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n > 0 { return Array(chunk[0..<n]) }
        return n == 0 ? [] : nil
    }

    /// True when the server closed (or reset) the connection within the
    /// receive timeout, false when it was still open.
    public func waitForServerClose() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { continue }
            if n == 0 { return true }
            return errno == ECONNRESET
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
