// An HTTP/1.1 client connection on an event loop (evhttp), keep-alive, one
// request at a time. The stress tool opens hundreds of them on one loop.
import CLibevent
import Foundation
import SeatlockLoop

public struct ClientResponse: Sendable {
    /// 0 when the request failed below HTTP (connection refused, reset, timeout).
    public let status: Int
    public let body: [UInt8]
    /// The Retry-After header in seconds, when the server sent one.
    public var retryAfter: Int?

    public init(status: Int, body: [UInt8], retryAfter: Int? = nil) {
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
    }
}

public final class HTTPClientConnection {
    private let connection: OpaquePointer
    private let host: String

    public init(loop: EventLoop, host: String, port: Int, timeoutSeconds: Int = 30) {
        self.host = host
        connection = evhttp_connection_base_new(loop.base, nil, host, UInt16(port))
        evhttp_connection_set_timeout(connection, Int32(timeoutSeconds))
        evhttp_connection_set_retries(connection, 0)
    }

    deinit { evhttp_connection_free(connection) }

    /// Sends a request; `completion` runs on the loop with the status and body.
    public func send(method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
                     completion: @escaping (ClientResponse) -> Void) {
        let box = Unmanaged.passRetained(CompletionBox(completion)).toOpaque()
        guard let request = evhttp_request_new({ request, arg in
            guard let arg else { return }
            let box = Unmanaged<CompletionBox>.fromOpaque(arg).takeRetainedValue()
            guard let request else { return box.completion(ClientResponse(status: 0, body: [])) }
            let retryAfter = evhttp_find_header(evhttp_request_get_input_headers(request), "Retry-After").flatMap { Int(String(cString: $0)) }
            box.completion(ClientResponse(status: Int(evhttp_request_get_response_code(request)), body: inputBytes(of: request),
                                          retryAfter: retryAfter))
        }, box) else {
            Unmanaged<CompletionBox>.fromOpaque(box).takeRetainedValue().completion(ClientResponse(status: 0, body: []))
            return
        }
        let output = evhttp_request_get_output_headers(request)
        evhttp_add_header(output, "Host", host)
        for (name, value) in headers { evhttp_add_header(output, name, value) }
        if let body {
            body.withUnsafeBytes { raw in
                if let base = raw.baseAddress, raw.count > 0 { _ = evbuffer_add(evhttp_request_get_output_buffer(request), base, raw.count) }
            }
        }
        let command: evhttp_cmd_type = switch method {
        case "POST": EVHTTP_REQ_POST
        case "DELETE": EVHTTP_REQ_DELETE
        case "PUT": EVHTTP_REQ_PUT
        default: EVHTTP_REQ_GET
        }
        // On failure libevent has already freed the request and called the callback.
        _ = evhttp_make_request(connection, request, command, path)
    }
}

extension HTTPClientConnection {
    /// One request on a connection of its own, let go once answered (a slow
    /// peer holds up only this request): the notifications worker's webhooks.
    public static func sendOnce(on loop: EventLoop, host: String, port: Int, timeoutSeconds: Int, method: String, path: String,
                                headers: [(String, String)], body: [UInt8], completion: @escaping (ClientResponse) -> Void) {
        let connection = HTTPClientConnection(loop: loop, host: host, port: port, timeoutSeconds: timeoutSeconds)
        connection.send(method: method, path: path, headers: headers, body: body) { response in
            // Freed on the next loop turn: not from inside its own callback.
            loop.schedule(after: .zero) { withExtendedLifetime(connection) {} }
            completion(response)
        }
    }
}

private final class CompletionBox {
    let completion: (ClientResponse) -> Void
    init(_ completion: @escaping (ClientResponse) -> Void) { self.completion = completion }
}
