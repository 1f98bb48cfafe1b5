// /metrics read by a real Prometheus text-format parser, the availability
// stream (SSE) read by a raw client, the dashboard and stats endpoints.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import SeatlockWorkers
import Testing

/// One Server-Sent Event as a client sees it.
struct SSEMessage: Equatable {
    var id: String?
    var event: String
    var data: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
    static func == (a: SSEMessage, b: SSEMessage) -> Bool { a.id == b.id && a.event == b.event && a.data == b.data }
}

/// Reads an event stream over HTTP/1.0 (no chunking on the wire).
final class SSEClient {
    private let connection: OpenConnection
    private var buffer = ""
    private var headerDone = false
    private(set) var status = 0

    init(port: Int, path: String, lastEventId: String? = nil, from source: String? = nil) throws {
        connection = try OpenConnection(port: port, timeoutSeconds: 5, from: source)
        let resume = lastEventId.map { "Last-Event-ID: \($0)\r\n" } ?? ""
        connection.send(Array("GET \(path) HTTP/1.0\r\nHost: test\r\n\(resume)\r\n".utf8))
    }

    /// The next messages until `until` says stop (or nothing arrives for the timeout).
    func read(until done: ([SSEMessage]) -> Bool) -> [SSEMessage] {
        var messages: [SSEMessage] = []
        while !done(messages) {
            guard let bytes = connection.receive(), !bytes.isEmpty else { break }
            buffer += String(decoding: bytes, as: UTF8.self)
            if !headerDone, let end = buffer.range(of: "\r\n\r\n") {
                status = Int(buffer.split(separator: " ").dropFirst().first ?? "") ?? 0
                buffer = String(buffer[end.upperBound...])
                headerDone = true
            }
            guard headerDone else { continue }
            while let end = buffer.range(of: "\n\n") {
                let block = buffer[..<end.lowerBound]
                buffer = String(buffer[end.upperBound...])
                var message = SSEMessage(id: nil, event: "message", data: "")
                var isComment = true
                for line in block.split(separator: "\n") {
                    if line.hasPrefix(":") { continue }
                    isComment = false
                    if line.hasPrefix("id: ") { message.id = String(line.dropFirst(4)) }
                    if line.hasPrefix("event: ") { message.event = String(line.dropFirst(7)) }
                    if line.hasPrefix("data: ") { message.data = String(line.dropFirst(6)) }
                }
                if !isComment, !message.data.isEmpty { messages.append(message) }
            }
        }
        return messages
    }

    func close() { connection.close() }
}

@Suite struct AvailabilityStreamTests {
    @Test func aSubscriberSeesHoldReleaseAndSaleInOrderAndResumesFromLastEventID() throws {
        let server = try TestServer.shared()
        let redis = try TestRedis.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, rows: 2, seatsPerRow: 5)
        let stream = try SSEClient(port: server.port, path: "/v1/events/\(event)/stream")
        defer { stream.close() }
        let first = stream.read { $0.contains { $0.event == "counts" } }
        #expect(stream.status == 200)
        #expect(first.first?.json["available"] as? Int == 10)

        let held = try server.hold(event, user: "sse", seats: ["A-1-1"])
        let heldId = try #require(held.string("id"))
        #expect(try server.http.request("DELETE", "/v1/events/\(event)/bookings/\(heldId)", headers: server.buyerHeaders("sse")).status == 200)
        let sale = try server.hold(event, user: "sse", seats: ["A-2-5"])
        let saleId = try #require(sale.string("id"))
        #expect(try server.pay(event, booking: saleId, user: "sse").status == 202)
        let confirmed = try redis.client().run(redis.scripts.confirm(event: event, booking: saleId, paymentId: "pay_sse", confirmationCode: "SL-SSE"))
        #expect(confirmed.array?.first?.int == 200)

        let changes = stream.read { $0.filter { $0.event == "availability" }.count >= 4 }.filter { $0.event == "availability" }
        #expect(changes.map { $0.json["status"] as? String ?? "" } == ["held", "available", "held", "sold"])
        #expect(changes.map { ($0.json["seats"] as? [String]) ?? [] } == [["A-1-1"], ["A-1-1"], ["A-2-5"], ["A-2-5"]])
        let ids = changes.compactMap(\.id)
        #expect(ids.count == 4 && ids == ids.sorted { StreamID($0)! < StreamID($1)! })
        // Public stream: no booking or user ids.
        #expect(changes.allSatisfy { !$0.data.contains(heldId) && !$0.data.contains("sse") })

        // A client that saw only the hold reconnects: it gets the rest, once each, in order.
        let resumed = try SSEClient(port: server.port, path: "/v1/events/\(event)/stream", lastEventId: ids[0])
        defer { resumed.close() }
        let rest = resumed.read { $0.filter { $0.event == "availability" }.count >= 3 }.filter { $0.event == "availability" }
        #expect(rest == Array(changes.dropFirst()))
    }

    @Test func anUnknownEventIs404AndABadLastEventIDIs400() throws {
        let server = try TestServer.shared()
        let missing = try server.http.request("GET", "/v1/events/nope-stream/stream")
        #expect(missing.status == 404 && missing.string("error") == "event_not_found")
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let bad = try server.http.request("GET", "/v1/events/\(event)/stream", headers: ["Last-Event-ID": "not-an-id"])
        #expect(bad.status == 400 && bad.string("error") == "invalid_request")
    }

    @Test func manyIdleSubscribersDoNotSlowTheBookingPath() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event, rows: 2, seatsPerRow: 5)
        // From 25 loopback addresses, 8 each: under the per-address stream cap, as separate clients would be.
        let idle = try (0..<200).map { try SSEClient(port: server.port, path: "/v1/events/\(event)/stream", from: "127.0.1.\(10 + $0 / 8)") }
        defer { idle.forEach { $0.close() } }
        for client in idle { #expect(client.read { $0.contains { $0.event == "counts" } }.count == 1 && client.status == 200) }
        // Holds still answer, and every subscriber hears of them.
        #expect(try server.hold(event, user: "busy", seats: ["A-1-1"]).status == 201)
        for client in idle.prefix(20) {
            #expect(client.read { $0.contains { $0.event == "availability" } }.contains { $0.json["status"] as? String == "held" })
        }
    }
}

@Suite struct MetricsTests {
    @Test func metricsParseWithPrometheusOwnParserAndShowWhatHappened() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let server = try TestServer(redis: redis)
        defer { server.stop() }
        let analytics = try AnalyticsService(redis: redis.url, library: redis.library)
        try analytics.start()
        defer { analytics.stop() }
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        #expect(try server.hold(event, user: "m1", seats: ["A-1-1"]).status == 201)
        #expect(try server.hold(event, user: "m2", seats: ["A-1-1"]).status == 409)
        #expect(try server.http.request("GET", "/v1/events/\(event)").status == 200)
        // Wait for analytics to see the hold.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, try redis.client().call("HGET", AnalyticsKeys(event).stats, "holds").string != "1" {
            Thread.sleep(forTimeInterval: 0.05)
        }

        let reply = try server.http.request("GET", "/metrics")
        #expect(reply.status == 200 && (reply.headers["content-type"] ?? "").hasPrefix("text/plain; version=0.0.4"))
        let samples = try PrometheusParser.parse(reply.body)
        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
        #expect(value("seatlock_http_requests_total", ["route": "create_booking", "status": "201"]) == 1)
        #expect(value("seatlock_http_requests_total", ["route": "create_booking", "status": "409"]) == 1)
        #expect(value("seatlock_http_request_duration_seconds_count", ["route": "create_booking"]) == 2)
        #expect(value("seatlock_http_request_duration_seconds_bucket", ["route": "create_booking", "le": "+Inf"]) == 2)
        #expect((value("seatlock_redis_command_duration_seconds_count", ["command": "hold"]) ?? 0) >= 2)
        #expect(value("seatlock_event_holds", ["event": event]) == 1)
        #expect(value("seatlock_event_seats_held", ["event": event]) == 1)
        #expect(value("seatlock_stream_lag", ["event": event, "group": "analytics"]) == 0)
        #expect(value("seatlock_dlq_entries", ["group": "payments"]) == 0)
    }

    @Test func dashboardAndStatsAreServed() throws {
        let server = try TestServer.shared()
        let event = TestServer.uniqueEventId()
        try server.createEvent(event)
        let page = try server.http.request("GET", "/dashboard?event=\(event)")
        #expect(page.status == 200 && (page.headers["content-type"] ?? "").hasPrefix("text/html"))
        #expect(page.text.contains("<canvas") && !page.text.contains("http://") && !page.text.contains("https://"))
        #expect(page.headers["x-content-type-options"] == "nosniff")
        let policy = page.headers["content-security-policy"] ?? ""
        #expect(policy.contains("script-src 'self'") && policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"))
        #expect(page.text.contains(#"<script src="dashboard.js"></script>"#) && !page.text.contains("<script>"))
        let script = try server.http.request("GET", "/dashboard.js")
        #expect(script.status == 200 && (script.headers["content-type"] ?? "").hasPrefix("text/javascript"))
        #expect(script.text.contains("startPolling") && !script.text.contains("http://") && !script.text.contains("https://"))
        let stats = try server.http.request("GET", "/v1/events/\(event)/stats")
        #expect(stats.status == 200 && stats.json?["capacity"] as? Int == 50)
        #expect(try server.http.request("GET", "/v1/events/nope-stats/stats").status == 404)
    }
}

/// Prometheus' own Python parser (Debian's python3-prometheus-client, which
/// scripts/setup installs): a strict reading of the text format.
enum PrometheusParser {
    struct Sample { let name: String; let labels: [String: String]; let value: Double }

    static func parse(_ text: [UInt8]) throws -> [Sample] {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(text).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", """
        import json, math, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = []
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
            for s in family.samples:
                out.append([s.name, s.labels, s.value if math.isfinite(s.value) else str(s.value)])
        print(json.dumps(out))
        """, input.path]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ParseError(message: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
        }
        let rows = try JSONSerialization.jsonObject(with: data) as? [[Any]] ?? []
        return rows.compactMap { row in
            guard row.count == 3, let name = row[0] as? String, let labels = row[1] as? [String: String] else { return nil }
            return Sample(name: name, labels: labels, value: (row[2] as? Double) ?? (row[2] as? Int).map(Double.init) ?? .nan)
        }
    }

    struct ParseError: Error { let message: String }
}
