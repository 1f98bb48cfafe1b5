// A webhook receiver for tests: our own HTTPServer on a LoopThread, on
// 127.0.0.1 (a free port). It records every request and answers 200, or a
// configured failure status for the first N requests or for all of them.
import Foundation
import SeatlockHTTP
import SeatlockLoop
import Synchronization

public struct ReceivedWebhook: Sendable {
    public let method: String
    public let path: String
    public let headers: [String: String]
    public let body: [UInt8]
    /// The status it was answered with.
    public let status: Int

    /// The JSON body's top-level fields, strings and numbers as text.
    public var fields: [String: String] {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return [:] }
        var fields: [String: String] = [:]
        for (key, value) in object {
            if let text = value as? String {
                fields[key] = text
            } else if let number = value as? Int {
                fields[key] = String(number)
            } else if let number = value as? NSNumber {
                fields[key] = number.stringValue
            }
        }
        return fields
    }

    public var kind: String? { fields["kind"] }
}

public final class WebhookReceiver: Sendable {
    public enum Answer: Sendable, Equatable {
        /// 200 to everything.
        case success
        /// `status` to the first `count` requests, then 200.
        case failFirst(Int, status: Int)
        /// `status` to everything.
        case failAlways(status: Int)
    }

    public let port: Int
    public let path: String
    private let recorder: Recorder
    private let thread: LoopThread

    public init(answer: Answer = .success, path: String = "/notify") throws {
        let recorder = Recorder(answer: answer)
        let outcome = Mutex<Result<Int, any Error>?>(nil)
        thread = try LoopThread(name: "webhook-receiver") { loop in
            do {
                let server = try HTTPServer(loop: loop, host: "127.0.0.1", port: 0) { request, responder in
                    let status = recorder.record(request)
                    let body = status < 300 ? "{\"ok\":true}" : "{\"error\":\"configured_failure\",\"message\":\"the test asked for \(status)\"}"
                    responder.send(HTTPResponse(status: status, json: body))
                }
                outcome.withLock { $0 = .success(server.port) }
                loop.onShutdownRequest = { server.shutdown { loop.handle.stop() } }
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
        }
        guard let bound = outcome.withLock({ $0 }) else { throw BlockingHTTPError.connectFailed("the webhook receiver did not start") }
        switch bound {
        case let .success(port): self.port = port
        case let .failure(error):
            thread.stop(timeout: .seconds(1))
            throw error
        }
        self.path = path
        self.recorder = recorder
    }

    /// `http://127.0.0.1:PORT/notify`
    public var url: String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request so far, in order of arrival.
    public var requests: [ReceivedWebhook] { recorder.requests }

    /// Changes how the next requests are answered.
    public func answer(_ answer: Answer) { recorder.set(answer) }

    /// Waits until at least `count` requests match `filter` (or `timeout` passed); returns those that match.
    public func waitForRequests(_ count: Int, timeout: TimeInterval = 10,
                                where filter: @escaping (ReceivedWebhook) -> Bool = { _ in true }) -> [ReceivedWebhook] {
        let deadline = Date().addingTimeInterval(timeout)
        while requests.filter(filter).count < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        return requests.filter(filter)
    }

    public func stop() {
        thread.stop(timeout: .seconds(2))
    }

    private final class Recorder: Sendable {
        private let state: Mutex<(answer: Answer, requests: [ReceivedWebhook])>

        init(answer: Answer) {
            state = Mutex((answer, []))
        }

        var requests: [ReceivedWebhook] { state.withLock { $0.requests } }

        func set(_ answer: Answer) { state.withLock { $0.answer = answer } }

        /// Keeps the request; returns the status to answer with.
        func record(_ request: HTTPRequest) -> Int {
            state.withLock { state in
                let status: Int = switch state.answer {
                case .success: 200
                case let .failFirst(count, failure): state.requests.count < count ? failure : 200
                case let .failAlways(failure): failure
                }
                var headers: [String: String] = [:]
                for header in request.headers { headers[header.name] = header.value }
                state.requests.append(ReceivedWebhook(method: request.method, path: request.path, headers: headers,
                                                      body: request.body, status: status))
                return status
            }
        }
    }
}
