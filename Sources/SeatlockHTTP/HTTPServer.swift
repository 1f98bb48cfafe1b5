// An evhttp server on one event loop. Several loops bind the same port with
// SO_REUSEPORT, so the kernel spreads connections across them and a request
// is served start to finish on the thread that accepted it.
import CLibevent
import Foundation
import SeatlockLoop
import Synchronization

public struct HTTPLimits: Sendable {
    /// Bodies above this get a JSON 413 from the server (docs/api.md: 64 KiB).
    public var maxBodyBytes: Int = 64 * 1024
    /// evhttp stops reading past this and closes with its own 413: a body that
    /// large is not worth reading just to refuse it politely.
    public var hardBodyBytes: Int = 1024 * 1024
    /// Request line plus headers: above this the handler answers a JSON 431.
    public var maxHeaderBytes: Int = 16 * 1024
    /// evhttp closes with its own error past this (not worth reading further).
    public var hardHeaderBytes: Int = 64 * 1024
    /// Read/write inactivity timeout, which is also how long an idle
    /// keep-alive connection is kept.
    public var idleTimeoutSeconds: Int = 15
    /// A request must arrive completely within this time of its connection
    /// being ready for it (accepted, or the previous answer sent), however
    /// steadily it trickles in: a slow client (slowloris) cannot keep a
    /// connection by sending a byte now and then.
    public var requestDeadlineSeconds: Int = 20
    /// Open connections per server, across its loops (each loop takes its
    /// share). At the cap a loop stops accepting until some close; waiting
    /// clients stay in the kernel's backlog.
    public var maxConnections: Int = 10_000
    /// Open connections from one client address (each loop takes its share):
    /// one source cannot take every slot. Generous, since a NAT puts many
    /// buyers behind one address; connections past it are closed at once.
    public var maxConnectionsPerAddress: Int = 512
    public init() {}
}

public struct HTTPRequest: Sendable {
    public var method: String
    /// The raw (still percent-encoded) path, without the query.
    public var path: String
    /// The raw query string, without `?`, empty if none.
    public var query: String
    /// Header names are lowercased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var remoteAddress: String
    /// Size of the request line and headers as received (about).
    public var headerBytes: Int

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                remoteAddress: String = "") {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.headerBytes = method.utf8.count + path.utf8.count + query.utf8.count + 12
            + headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// Every line of a list-valued header, in order, joined with commas as
    /// RFC 9110 §5.3 combines them (a proxy may append its own line rather
    /// than extend the client's); nil when there is none.
    public func combinedHeader(_ name: String) -> String? {
        let lower = name.lowercased()
        let values = headers.filter { $0.name == lower }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ",")
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var contentType: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String = "application/json", headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    public init(status: Int, json: String, headers: [(String, String)] = []) {
        self.init(status: status, headers: headers, body: Array(json.utf8))
    }
}

/// Answers one request, exactly once. Confined to the loop that received it.
/// If the client goes away first, `send` does nothing.
public final class HTTPResponder {
    private var request: OpaquePointer?
    private var connection: OpaquePointer?
    private var retainedForClose: Unmanaged<HTTPResponder>?
    private weak var server: HTTPServer?
    private let bufferEvent: OpaquePointer?

    fileprivate init(request: OpaquePointer, server: HTTPServer) {
        self.request = request
        self.server = server
        self.connection = evhttp_request_get_connection(request)
        self.bufferEvent = connection.flatMap { evhttp_connection_get_bufferevent($0) }
        // Hear about the connection closing while the answer is still being prepared.
        let retained = Unmanaged.passRetained(self)
        retainedForClose = retained
        evhttp_connection_set_closecb(connection, { _, arg in
            guard let arg else { return }
            Unmanaged<HTTPResponder>.fromOpaque(arg).takeUnretainedValue().connectionClosed()
        }, retained.toOpaque())
    }

    public var isOpen: Bool { request != nil }
    /// Called once with the status when the answer (or a stream's head) goes out.
    public var onAnswer: ((Int) -> Void)?
    /// Called when the client goes away during a stream.
    public var onClose: (() -> Void)?
    private var streaming = false

    public func send(_ response: HTTPResponse) {
        guard let request, !streaming else { return }
        onAnswer?(response.status)
        onAnswer = nil
        detachCloseCallback()
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Content-Type", response.contentType)
        evhttp_add_header(headers, "X-Content-Type-Options", "nosniff")
        for (name, value) in response.headers where Self.isSafeHeader(name, value) {
            evhttp_add_header(headers, name, value)
        }
        // Straight into the request's own output buffer: no buffer of ours to make, fill, copy and free.
        let output = evhttp_request_get_output_buffer(request)
        response.body.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 { _ = evbuffer_add(output, base, raw.count) }
        }
        Self.withReason(response.status) { evhttp_send_reply(request, Int32(response.status), $0, nil) }
        self.request = nil
        server?.requestFinished(bufferEvent)
    }

    private func connectionClosed() {
        guard let request else { return }
        // A client that left before its answer (or during a stream) leaves
        // the request detached from its connection, and then it is ours to
        // free; one still attached is freed by evhttp with its connection.
        if evhttp_request_get_connection(request) == nil { evhttp_request_free(request) }
        self.request = nil
        detachCloseCallback()
        if streaming { server?.streamEnded(self) }
        server?.requestFinished(bufferEvent)
        let closed = onClose
        onClose = nil
        closed?()
    }

    // MARK: streamed answers (Server-Sent Events)

    /// Sends the status and headers now and keeps the request open: the body
    /// follows in `sendChunk`s until `endStream` (or the client leaves).
    public func startStream(status: Int, contentType: String, headers: [(String, String)] = []) {
        guard let request, !streaming else { return }
        streaming = true
        onAnswer?(status)
        onAnswer = nil
        let output = evhttp_request_get_output_headers(request)
        evhttp_add_header(output, "Content-Type", contentType)
        evhttp_add_header(output, "X-Content-Type-Options", "nosniff")
        for (name, value) in headers where Self.isSafeHeader(name, value) { evhttp_add_header(output, name, value) }
        Self.withReason(status) { evhttp_send_reply_start(request, Int32(status), $0) }
        server?.streamStarted(self)
    }

    /// Appends to a started stream; false once the client is gone.
    @discardableResult
    public func sendChunk(_ bytes: [UInt8]) -> Bool {
        guard let request, streaming else { return false }
        let buffer = evbuffer_new()
        bytes.withUnsafeBytes { raw in
            if let base = raw.baseAddress, raw.count > 0 { _ = evbuffer_add(buffer, base, raw.count) }
        }
        evhttp_send_reply_chunk(request, buffer)
        evbuffer_free(buffer)
        return true
    }

    /// Bytes written to the stream that the client has not taken yet: a
    /// subscriber that stops reading is cut off rather than buffered forever.
    public var unsentBytes: Int {
        guard request != nil, let bufferEvent, let output = bufferevent_get_output(bufferEvent) else { return 0 }
        return evbuffer_get_length(output)
    }

    public func endStream() {
        guard let request, streaming else { return }
        detachCloseCallback()
        evhttp_send_reply_end(request)
        self.request = nil
        onClose = nil
        server?.streamEnded(self)
        server?.requestFinished(bufferEvent)
    }

    private func detachCloseCallback() {
        if let connection { evhttp_connection_set_closecb(connection, nil, nil) }
        connection = nil
        let retained = retainedForClose
        retainedForClose = nil
        retained?.release()
    }

    private static func isSafeHeader(_ name: String, _ value: String) -> Bool {
        !name.utf8.contains { $0 < 0x21 || $0 == UInt8(ascii: ":") } && !value.utf8.contains { $0 == 13 || $0 == 10 || $0 == 0 }
    }

    /// The reason phrase as C text without a copy: a short Swift string
    /// ("OK", "Created") is stored inline and would be copied to be passed to C.
    private static func withReason(_ status: Int, _ body: (UnsafePointer<CChar>) -> Void) {
        reasonPhrase(status).withUTF8Buffer { phrase in
            phrase.baseAddress!.withMemoryRebound(to: CChar.self, capacity: phrase.count + 1) { body($0) } // (literals end with a NUL)
        }
    }

    static func reason(_ status: Int) -> String { reasonPhrase(status).description }

    private static func reasonPhrase(_ status: Int) -> StaticString {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Entity"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

public enum HTTPServerError: Error, CustomStringConvertible {
    case bindFailed(host: String, port: Int, reason: String)
    public var description: String {
        switch self {
        case let .bindFailed(host, port, reason): "cannot listen on \(host):\(port): \(reason)"
        }
    }
}

public final class HTTPServer {
    public typealias Handler = (HTTPRequest, HTTPResponder) -> Void

    private let http: OpaquePointer
    private var listener: OpaquePointer?
    private var boundSocket: OpaquePointer?
    private let handler: Handler
    public let limits: HTTPLimits
    /// The port actually bound (useful when asked for port 0).
    public private(set) var port: Int = 0
    public private(set) var inFlight = 0
    private var drained: (() -> Void)?
    /// Open streamed answers: a graceful shutdown ends them instead of waiting.
    private var streams: [ObjectIdentifier: HTTPResponder] = [:]
    private let connections: ConnectionGuard

    /// Binds `host:port` on `loop`. Port 0 picks a free port; pass the result to
    /// the other loops so they share it.
    public init(loop: EventLoop, host: String, port: Int, limits: HTTPLimits = HTTPLimits(), handler: @escaping Handler) throws {
        guard let http = evhttp_new(loop.base) else { throw HTTPServerError.bindFailed(host: host, port: port, reason: "evhttp_new failed") }
        self.http = http
        self.handler = handler
        self.limits = limits
        self.connections = ConnectionGuard(loop: loop, limits: limits)
        evhttp_set_max_body_size(http, limits.hardBodyBytes)
        evhttp_set_max_headers_size(http, limits.hardHeaderBytes)
        evhttp_set_timeout(http, Int32(limits.idleTimeoutSeconds))
        // Accept every method evhttp knows, so a wrong one gets our JSON 405 instead of its 501.
        let everyMethod = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue
            | EVHTTP_REQ_PUT.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue
            | EVHTTP_REQ_TRACE.rawValue | EVHTTP_REQ_CONNECT.rawValue | EVHTTP_REQ_PATCH.rawValue
        evhttp_set_allowed_methods(http, UInt16(everyMethod))

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            evhttp_free(http)
            throw HTTPServerError.bindFailed(host: host, port: port, reason: "not an IPv4 address")
        }
        let flags = UInt32(LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        let listener = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                evconnlistener_new_bind(loop.base, nil, nil, flags, 1024, $0, Int32(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard let listener else {
            evhttp_free(http)
            throw HTTPServerError.bindFailed(host: host, port: port, reason: String(cString: strerror(errno)))
        }
        self.listener = listener
        connections.listener = listener
        boundSocket = evhttp_bind_listener(http, listener)

        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(evconnlistener_get_fd(listener), $0, &length)
            }
        }
        self.port = Int(UInt16(bigEndian: bound.sin_port))

        evhttp_set_gencb(http, { request, arg in
            guard let request, let arg else { return }
            Unmanaged<HTTPServer>.fromOpaque(arg).takeUnretainedValue().receive(request)
        }, Unmanaged.passUnretained(self).toOpaque())
        evhttp_set_bevcb(http, { base, arg in
            guard let base, let arg else { return nil }
            return Unmanaged<ConnectionGuard>.fromOpaque(arg).takeUnretainedValue().accept(base)
        }, Unmanaged.passUnretained(connections).toOpaque())
    }

    deinit {
        evhttp_free(http)
        connections.releaseAll()
    }

    /// Connections open on this loop (closed ones are counted until the next sweep).
    public var openConnections: Int { connections.count }

    private func receive(_ raw: OpaquePointer) {
        inFlight += 1
        let request = Self.copyRequest(raw)
        let responder = HTTPResponder(request: raw, server: self)
        connections.requestStarted(evhttp_request_get_connection(raw).flatMap { evhttp_connection_get_bufferevent($0) })
        if let problem = RequestFraming.problem(request.headers) {
            // Closed after the answer: what follows on the connection may be a hidden request.
            HTTPServerCounters.refusedByParser.add(1, ordering: .relaxed)
            let body = "{\"error\":\"ambiguous_framing\",\"message\":\"the request's length is ambiguous: \(problem)\"}"
            return responder.send(HTTPResponse(status: 400, json: body, headers: [("Connection", "close")]))
        }
        handler(request, responder)
    }

    fileprivate func streamStarted(_ responder: HTTPResponder) { streams[ObjectIdentifier(responder)] = responder }
    fileprivate func streamEnded(_ responder: HTTPResponder) { streams[ObjectIdentifier(responder)] = nil }

    fileprivate func requestFinished(_ bufferEvent: OpaquePointer?) {
        connections.requestFinished(bufferEvent)
        inFlight -= 1
        if inFlight == 0, let drained {
            self.drained = nil
            drained()
        }
    }

    /// Stops accepting connections, then calls `done` once every request in
    /// hand has been answered.
    public func shutdown(done: @escaping () -> Void) {
        if let boundSocket {
            evhttp_del_accept_socket(http, boundSocket)
            self.boundSocket = nil
            listener = nil
            connections.listener = nil
        }
        for stream in streams.values { stream.endStream() }
        if inFlight == 0 { done() } else { drained = done }
    }

    /// A header name in ASCII lower case, made in one pass from evhttp's
    /// bytes (not a String, then its lowercased copy: one of each per header).
    private static func lowercasedName(_ name: UnsafePointer<CChar>) -> String {
        let count = strlen(name)
        return String(unsafeUninitializedCapacity: count) { buffer in
            name.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
                for index in 0..<count {
                    let byte = bytes[index]
                    buffer[index] = byte >= 65 && byte <= 90 ? byte | 0x20 : byte
                }
            }
            return count
        }
    }

    private static func copyRequest(_ raw: OpaquePointer) -> HTTPRequest {
        let method = methodName(evhttp_request_get_command(raw))
        var path = "/"
        var query = ""
        if let uri = evhttp_request_get_evhttp_uri(raw) {
            if let p = evhttp_uri_get_path(uri) { path = String(cString: p) }
            if let q = evhttp_uri_get_query(uri) { query = String(cString: q) }
        }
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(16) // (one allocation, not one per doubling)
        if let input = evhttp_request_get_input_headers(raw) {
            var entry = input.pointee.tqh_first
            while let header = entry {
                if let key = header.pointee.key, let value = header.pointee.value {
                    headers.append((lowercasedName(key), String(cString: value)))
                }
                entry = header.pointee.next.tqe_next
            }
        }
        let body = inputBytes(of: raw)
        var remote = ""
        if let connection = evhttp_request_get_connection(raw) {
            var address: UnsafeMutablePointer<CChar>?
            var port: UInt16 = 0
            evhttp_connection_get_peer(connection, &address, &port)
            if let address { remote = String(cString: address) }
        }
        return HTTPRequest(method: method, path: path, query: query, headers: headers, body: body, remoteAddress: remote)
    }

    private static func methodName(_ command: evhttp_cmd_type) -> String {
        switch command {
        case EVHTTP_REQ_GET: "GET"
        case EVHTTP_REQ_POST: "POST"
        case EVHTTP_REQ_HEAD: "HEAD"
        case EVHTTP_REQ_PUT: "PUT"
        case EVHTTP_REQ_DELETE: "DELETE"
        case EVHTTP_REQ_OPTIONS: "OPTIONS"
        case EVHTTP_REQ_TRACE: "TRACE"
        case EVHTTP_REQ_CONNECT: "CONNECT"
        case EVHTTP_REQ_PATCH: "PATCH"
        default: "UNKNOWN"
        }
    }
}

/// The body an evhttp request (incoming) or response (outgoing) carries, copied out.
func inputBytes(of request: OpaquePointer) -> [UInt8] {
    guard let buffer = evhttp_request_get_input_buffer(request) else { return [] }
    let length = evbuffer_get_length(buffer)
    guard length > 0 else { return [] }
    var bytes = [UInt8](repeating: 0, count: length)
    _ = bytes.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, length) }
    return bytes
}

/// What evhttp and the connection guard do without a handler seeing it,
/// process-wide, for /metrics.
public enum HTTPServerCounters {
    /// Requests evhttp refused itself (bad request line, headers or body past the hard limits).
    public static let refusedByParser = Atomic<Int>(0)
    /// Connections shut down because their request did not arrive in time (slow clients).
    public static let deadlineCuts = Atomic<Int>(0)
    /// Times a loop stopped accepting because it reached its connection cap.
    public static let acceptPauses = Atomic<Int>(0)
    /// Connections closed at once because their address had too many open.
    public static let addressCapCuts = Atomic<Int>(0)
}

/// Counts a loop's connections and enforces the connection cap and the
/// request deadline, which evhttp 2.1 lacks. evhttp lets us create each
/// incoming connection's bufferevent (bevcb); we keep a reference on it, so
/// it stays valid after evhttp frees the connection, and a sweep finds the
/// freed ones (evhttp clears their callbacks) and lets them go. A connection
/// past its deadline is shut down; evhttp sees the EOF and cleans up itself.
final class ConnectionGuard {
    /// A class, changed in place: `tracked[key]?.field = value` on a struct
    /// value goes through the dictionary's modify accessor, whose coroutine
    /// frame heaptrack showed as a heap allocation per request.
    private final class Tracked {
        var readySince: ContinuousClock.Instant
        var busy: Bool
        /// The peer, once looked up (the socket is attached after `accept`).
        var address: String?

        init(readySince: ContinuousClock.Instant, busy: Bool) {
            self.readySince = readySince
            self.busy = busy
        }
    }

    fileprivate var listener: OpaquePointer?
    private var tracked: [OpaquePointer: Tracked] = [:]
    private var perAddress: [String: Int] = [:]
    /// Accepted since the last look at their peers.
    private var unidentified: [OpaquePointer] = []
    private var identifying: LoopTimer?
    private var accepting = true
    private let loop: EventLoop
    private let maxOnThisLoop: Int
    private let maxPerAddress: Int
    private let deadline: Duration
    private var sweeper: LoopTimer?

    init(loop: EventLoop, limits: HTTPLimits) {
        self.loop = loop
        maxOnThisLoop = max(1, limits.maxConnections)
        maxPerAddress = max(1, limits.maxConnectionsPerAddress)
        deadline = .seconds(limits.requestDeadlineSeconds)
        sweeper = loop.scheduleRepeating(every: .milliseconds(250)) { [weak self] in self?.sweep() }
    }

    var count: Int { tracked.count }

    /// Called by evhttp for each accepted connection, before it reads a byte.
    fileprivate func accept(_ base: OpaquePointer) -> OpaquePointer? {
        guard let bufferEvent = bufferevent_socket_new(base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else { return nil }
        bufferevent_incref(bufferEvent)
        evbuffer_add_cb(bufferevent_get_output(bufferEvent), jsonErrorPages, nil)
        // Near the cap, let go of the closed connections first. Before the
        // new one joins: evhttp sets its callbacks only after we return, so
        // it would look closed.
        if tracked.count + 1 >= maxOnThisLoop { reapClosed() }
        tracked[bufferEvent] = Tracked(readySince: .now, busy: false)
        unidentified.append(bufferEvent)
        // evhttp attaches the socket right after this returns: look at the peer on the next turn of the loop.
        if identifying == nil {
            identifying = loop.schedule(after: .zero) { [weak self] in self?.identifyPeers() }
        }
        if tracked.count >= maxOnThisLoop {
            if accepting { HTTPServerCounters.acceptPauses.add(1, ordering: .relaxed) }
            setAccepting(false)
        }
        return bufferEvent
    }

    fileprivate func requestStarted(_ bufferEvent: OpaquePointer?) {
        guard let bufferEvent, let state = tracked[bufferEvent] else { return }
        state.busy = true
    }

    fileprivate func requestFinished(_ bufferEvent: OpaquePointer?) {
        guard let bufferEvent, let state = tracked[bufferEvent] else { return }
        state.busy = false
        state.readySince = .now
    }

    /// Sets the cap's consequence: a listener that accepts nothing leaves
    /// new clients waiting in the kernel's backlog.
    private func setAccepting(_ on: Bool) {
        guard on != accepting, let listener else { return }
        accepting = on
        _ = on ? evconnlistener_enable(listener) : evconnlistener_disable(listener)
    }

    /// Counts new connections by peer address and shuts down those past the
    /// per-address cap (evhttp sees the EOF and cleans up).
    private func identifyPeers() {
        identifying = nil
        let fresh = unidentified
        unidentified.removeAll()
        for bufferEvent in fresh {
            guard let state = tracked[bufferEvent] else { continue }
            let fd = bufferevent_getfd(bufferEvent)
            guard fd >= 0, let address = Self.peerAddress(fd) else { continue }
            state.address = address
            perAddress[address, default: 0] += 1
            // Connections that closed since the last sweep still count until
            // reaped: reap before judging, so only open ones are held against the address.
            if perAddress[address, default: 0] > maxPerAddress, reapClosed() == 0 || perAddress[address, default: 0] > maxPerAddress {
                _ = Foundation.shutdown(fd, Int32(SHUT_RDWR))
                HTTPServerCounters.addressCapCuts.add(1, ordering: .relaxed)
            }
        }
    }

    private static func peerAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let found = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard found == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = Int32(storage.ss_family)
        let converted: UnsafePointer<CChar>? = withUnsafePointer(to: &storage) { pointer in
            switch family {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                    var address = inet.pointee.sin_addr
                    return inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet in
                    var address = inet.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
                }
            default:
                return nil
            }
        }
        guard converted != nil else { return nil }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Lets go of the connections evhttp has freed (it clears their
    /// callbacks; our reference is the last). Returns how many.
    @discardableResult
    private func reapClosed() -> Int {
        var reaped = 0
        for (bufferEvent, state) in tracked {
            var eventCallback: bufferevent_event_cb?
            bufferevent_getcb(bufferEvent, nil, nil, &eventCallback, nil)
            guard eventCallback == nil else { continue }
            tracked[bufferEvent] = nil
            if let address = state.address {
                perAddress[address, default: 1] -= 1
                if perAddress[address] == 0 { perAddress[address] = nil }
            }
            bufferevent_decref(bufferEvent)
            reaped += 1
        }
        return reaped
    }

    private func sweep() {
        reapClosed()
        let now = ContinuousClock.now
        for (bufferEvent, state) in tracked {
            if !state.busy, now - state.readySince > deadline {
                let fd = bufferevent_getfd(bufferEvent)
                if fd >= 0 {
                    _ = Foundation.shutdown(fd, Int32(SHUT_RDWR))
                    HTTPServerCounters.deadlineCuts.add(1, ordering: .relaxed)
                }
                state.readySince = now // once per deadline, whatever evhttp does next
            }
        }
        if tracked.count < maxOnThisLoop { setAccepting(true) }
    }

    func releaseAll() {
        sweeper?.cancel()
        sweeper = nil
        identifying?.cancel()
        identifying = nil
        for bufferEvent in tracked.keys { bufferevent_decref(bufferEvent) }
        tracked.removeAll()
    }
}

/// evhttp 2.1 answers the requests it refuses before our handler sees them
/// (a request line it cannot parse, headers or a body past the hard limits)
/// with an HTML page, and has no hook for it. Such a page is recognised in
/// the connection's output buffer as it is added, before anything is
/// written, and replaced by the same status with the API's JSON error body.
private let jsonErrorPages: evbuffer_cb_func = { buffer, info, _ in
    guard let buffer, let info, info.pointee.n_added > 0 else { return }
    let length = evbuffer_get_length(buffer)
    let marker = "\r\n\r\n<HTML><HEAD>\n<TITLE>"
    guard length < 16384, evbuffer_search(buffer, marker, marker.utf8.count, nil).pos >= 0 else { return }
    // Once a connection has written, libevent freezes the front of its
    // output buffer, and reads and drains from the front fail. Thaw it for
    // the rewrite only; a page that cannot be read or drained is left as it
    // is (never appended to).
    var bytes = [UInt8](repeating: 0, count: length)
    var copied = bytes.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, length) }
    var thawed = false
    if copied != length {
        evbuffer_unfreeze(buffer, 1)
        thawed = true
        copied = bytes.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, length) }
    }
    defer { if thawed { evbuffer_freeze(buffer, 1) } }
    guard copied == length else { return }
    // The page is the last response in the buffer (an earlier answer on a
    // keep-alive connection may still be waiting to be written).
    let statusLine = Array("HTTP/1.".utf8)
    guard let start = (0...(bytes.count - statusLine.count)).last(where: { bytes[$0..<($0 + statusLine.count)].elementsEqual(statusLine) }),
          start + 12 <= bytes.count, let parsed = Int(String(decoding: bytes[(start + 9)..<(start + 12)], as: UTF8.self)) else { return }
    // evhttp answers a method it does not know (QUERY, PROPFIND, …) with 501;
    // no request may get a 5xx for what it sent, so that is the API's 405.
    let status = parsed == 501 ? 405 : parsed
    let (code, message) = switch status {
    case 413: ("request_too_large", "the request's headers or body are larger than this server reads")
    case 400: ("malformed_request", "the request line or headers could not be parsed")
    case 405: ("method_not_allowed", "this server knows no such method; the API uses GET, POST, PATCH and DELETE")
    default: ("malformed_request", "the request could not be read")
    }
    let allow = status == 405 ? "Allow: GET, POST, PATCH, DELETE\r\n" : ""
    let body = "{\"error\":\"\(code)\",\"message\":\"\(message)\"}"
    let response = "HTTP/1.1 \(status) \(HTTPResponder.reason(status))\r\nContent-Type: application/json\r\nX-Content-Type-Options: nosniff\r\n"
        + allow + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
    let replacement = Array(bytes[..<start]) + Array(response.utf8)
    guard evbuffer_drain(buffer, length) == 0 else { return }
    HTTPServerCounters.refusedByParser.add(1, ordering: .relaxed)
    replacement.withUnsafeBytes { _ = evbuffer_add(buffer, $0.baseAddress, $0.count) }
}
