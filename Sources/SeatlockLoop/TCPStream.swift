// Small blocking TCP for line protocols spoken from a thread of their own:
// SMTP delivery (the notifications worker runs it off its event loop) and the
// test sinks. Every call waits at most `timeout` (poll before each read,
// write and connect), so a silent peer cannot hold a thread forever.
// Not for event loops: there, evhttp and hiredis do the I/O.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct TCPStreamError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The host name did not resolve.
        case resolve
        /// No address of the host accepted the connection.
        case connect
        /// Nothing happened within the timeout.
        case timeout
        /// A system call failed on an open connection.
        case io
        /// A line longer than the limit.
        case lineTooLong
    }
    public let kind: Kind
    public let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// One TCP connection. Use it from one thread at a time; it may be handed
/// from one thread to another (that is why it is Sendable).
public final class TCPStream: @unchecked Sendable {
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// How long each read, write or connect may wait.
    public var timeout: Duration
    /// `host:port` as given, for messages.
    public let peer: String

    /// Connects to `host:port` (a name or an IPv4/IPv6 literal), trying each
    /// address the name resolves to, each within `timeout`.
    public init(host: String, port: Int, timeout: Duration) throws {
        self.timeout = timeout
        self.peer = "\(host):\(port)"
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(host, String(port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw TCPStreamError(.resolve, "cannot resolve \(host): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = TCPStreamError(.connect, "no address for \(host)")
        var connected: Int32?
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while connected == nil, let info = cursor {
            cursor = info.pointee.ai_next
            do {
                connected = try Self.connectSocket(info.pointee, timeout: timeout, peer: "\(host):\(port)")
            } catch let error as TCPStreamError {
                lastError = error
            }
        }
        guard let connected else { throw lastError }
        descriptor = connected
    }

    /// Wraps a connected socket (from `TCPListener.accept`).
    fileprivate init(connected descriptor: Int32, peer: String, timeout: Duration) {
        self.descriptor = descriptor
        self.peer = peer
        self.timeout = timeout
    }

    deinit { close() }

    private static func connectSocket(_ info: addrinfo, timeout: Duration, peer: String) throws -> Int32 {
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { throw TCPStreamError(.connect, "socket: \(errorText())") }
        setNonBlocking(fd)
        if connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else {
                let error = TCPStreamError(.connect, "connect \(peer): \(errorText())")
                closeDescriptor(fd)
                throw error
            }
            do {
                try waitFor(fd, events: Int16(POLLOUT), until: .now + timeout, what: "connect \(peer)")
            } catch {
                closeDescriptor(fd)
                throw error
            }
            var failure: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length)
            guard failure == 0 else {
                closeDescriptor(fd)
                throw TCPStreamError(.connect, "connect \(peer): \(String(cString: strerror(failure)))")
            }
        }
        return fd
    }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        guard descriptor >= 0 else { throw TCPStreamError(.io, "connection to \(peer) is closed") }
        let deadline = ContinuousClock.now + timeout
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else if n < 0, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR {
                try Self.waitFor(descriptor, events: Int16(POLLOUT), until: deadline, what: "write to \(peer)")
            } else {
                throw TCPStreamError(.io, "write to \(peer): \(errorText())")
            }
        }
    }

    public func write(_ text: String) throws {
        try write(Array(text.utf8))
    }

    /// The next line without its CR LF (or LF); nil once the peer has closed
    /// and nothing is left. A last line without a line end is returned too.
    public func readLine(maxLength: Int = 64 * 1024) throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = buffer[bufferStart...].firstIndex(of: 10) {
                var end = newline
                if end > bufferStart, buffer[end - 1] == 13 { end -= 1 }
                let line = String(decoding: buffer[bufferStart..<end], as: UTF8.self)
                bufferStart = newline + 1
                compact()
                return line
            }
            guard buffer.count - bufferStart <= maxLength else {
                throw TCPStreamError(.lineTooLong, "a line from \(peer) is longer than \(maxLength) bytes")
            }
            if try fill(until: deadline) == 0 {
                guard bufferStart < buffer.count else { return nil }
                let line = String(decoding: buffer[bufferStart...], as: UTF8.self)
                bufferStart = buffer.count
                compact()
                return line
            }
        }
    }

    /// Closes the connection; safe to call more than once.
    public func close() {
        if descriptor >= 0 {
            closeDescriptor(descriptor)
            descriptor = -1
        }
    }

    /// Reads what is there (waiting for something); 0 at end of stream.
    private func fill(until deadline: ContinuousClock.Instant) throws -> Int {
        guard descriptor >= 0 else { return 0 }
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return n
            }
            if n == 0 { return 0 }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw TCPStreamError(.io, "read from \(peer): \(errorText())")
            }
            try Self.waitFor(descriptor, events: Int16(POLLIN), until: deadline, what: "read from \(peer)")
        }
    }

    private func compact() {
        if bufferStart == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            bufferStart = 0
        } else if bufferStart > 16 * 1024 {
            buffer.removeFirst(bufferStart)
            bufferStart = 0
        }
    }

    /// Waits until `fd` is ready for `events` (or has an error to report).
    fileprivate static func waitFor(_ fd: Int32, events: Int16, until deadline: ContinuousClock.Instant, what: String) throws {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { throw TCPStreamError(.timeout, "\(what): timed out") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(clamping: max(1, remaining.wholeMilliseconds))
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready == 0 { continue } // the loop's deadline check reports the timeout
            guard errno == EINTR else { throw TCPStreamError(.io, "\(what): poll: \(errorText())") }
        }
    }
}

/// A listening TCP socket on an IPv4 address, for test sinks (SMTP, …)
/// that accept on a thread of their own. Port 0 picks a free port.
public final class TCPListener: Sendable {
    private let descriptor: Mutex<Int32>
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int = 0, backlog: Int32 = 64) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TCPStreamError(.io, "socket: \(errorText())") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(clamping: port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            closeDescriptor(fd)
            throw TCPStreamError(.io, "not an IPv4 address: \(host)")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let error = TCPStreamError(.io, "cannot listen on \(host):\(port): \(errorText())")
            closeDescriptor(fd)
            throw error
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        setNonBlocking(fd)
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.descriptor = Mutex(fd)
    }

    deinit { close() }

    /// The next connection, or nil when none came within `timeout` (or the
    /// listener is closed). Accepted streams get `streamTimeout`.
    public func accept(timeout: Duration, streamTimeout: Duration = .seconds(10)) throws -> TCPStream? {
        let fd = descriptor.withLock { $0 }
        guard fd >= 0 else { return nil }
        do {
            try TCPStream.waitFor(fd, events: Int16(POLLIN), until: .now + timeout, what: "accept")
        } catch let error as TCPStreamError where error.kind == .timeout {
            return nil
        }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let client = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { acceptConnection(fd, $0, &length) }
        }
        guard client >= 0 else {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED { return nil }
            throw TCPStreamError(.io, "accept: \(errorText())")
        }
        setNonBlocking(client)
        let peer = "127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
        return TCPStream(connected: client, peer: peer, timeout: streamTimeout)
    }

    /// Stops listening. Call it once no thread is inside `accept` any more.
    public func close() {
        descriptor.withLock { fd in
            if fd >= 0 {
                closeDescriptor(fd)
                fd = -1
            }
        }
    }
}

// File-level helpers: inside the classes, `close` and `accept` would name
// the methods, not the system calls.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func acceptConnection(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: UnsafeMutablePointer<socklen_t>) -> Int32 {
    accept(fd, address, length)
}

private func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
}

private func errorText() -> String {
    String(cString: strerror(errno))
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's
/// pick for port 0). Another process could take it before you do; callers
/// that start servers on it retry on a clash.
public func freeLoopbackPort() -> Int? {
    boundLoopbackPort(0)
}

/// Whether `port` on 127.0.0.1 can be bound right now.
public func loopbackPortIsFree(_ port: Int) -> Bool {
    boundLoopbackPort(port) == port
}

private func boundLoopbackPort(_ port: Int) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    inet_pton(AF_INET, "127.0.0.1", &address.sin_addr)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return nil }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
