// docs/openapi.json checked against the running server: openapi-spec-validator
// checks the document, schemathesis (both from PyPI, installed by
// scripts/setup into .build/api-venv) sends every route positive and negative
// examples, as a buyer and as the admin, and checks that every answer has a
// documented status, content type, headers and schema, that invalid requests
// are refused, and that nothing answers 5xx. A missing tool is a failure.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockTestSupport
import Testing

private enum APITools {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let document = root.appendingPathComponent("docs/openapi.json")
    static let venv = URL(fileURLWithPath: ProcessInfo.processInfo.environment["SEATLOCK_API_VENV"]
        ?? root.appendingPathComponent(".build/api-venv").path)

    static func tool(_ name: String) throws -> String {
        let path = venv.appendingPathComponent("bin/" + name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ToolMissing(description: "\(path) is missing: run scripts/setup (it installs schemathesis and openapi-spec-validator)")
        }
        return path
    }

    struct ToolMissing: Error, CustomStringConvertible { let description: String }

    /// Runs `path` with `arguments`; returns its exit status and output (stdout and stderr).
    static func run(_ path: String, _ arguments: [String], timeout: TimeInterval = 600) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["NO_COLOR"] = "1"
        environment["SCHEMATHESIS_TELEMETRY"] = "false"
        process.environment = environment
        process.currentDirectoryURL = FileManager.default.temporaryDirectory // (schemathesis keeps a cache in its working directory)
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("api-check-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        try handle.close()
        defer { try? FileManager.default.removeItem(at: output) }
        return (process.terminationStatus, (try? String(contentsOf: output, encoding: .utf8)) ?? "")
    }
}

/// What one schemathesis run did, from its ndjson report.
private struct RunSummary: CustomStringConvertible {
    var requests = 0
    var checks: [String: Int] = [:]
    var failedChecks: [String: Int] = [:]
    var statuses: [Int: Int] = [:]

    init(ndjson: String) {
        for line in ndjson.split(separator: "\n") {
            guard let event = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                  let finished = event["ScenarioFinished"] as? [String: Any], let recorder = finished["recorder"] as? [String: Any] else { continue }
            for case let interaction as [String: Any] in (recorder["interactions"] as? [String: Any] ?? [:]).values {
                requests += 1
                if let status = (interaction["response"] as? [String: Any])?["status_code"] as? Int { statuses[status, default: 0] += 1 }
            }
            for case let list as [[String: Any]] in (recorder["checks"] as? [String: Any] ?? [:]).values {
                for check in list {
                    guard let name = check["name"] as? String else { continue }
                    checks[name, default: 0] += 1
                    if check["status"] as? String != "success" { failedChecks[name, default: 0] += 1 }
                }
            }
        }
    }

    var serverErrors: Int { statuses.filter { $0.key >= 500 }.values.reduce(0, +) }
    var description: String {
        "\(requests) requests, \(checks.values.reduce(0, +)) checks (" + checks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "), statuses " + statuses.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
    }
}

@Suite(.serialized) struct OpenAPIConformanceTests {
    @Test func theDocumentIsValidOpenAPIAndTheServerServesIt() throws {
        let (status, output) = try APITools.run(try APITools.tool("openapi-spec-validator"), [APITools.document.path])
        #expect(status == 0, "\(output)")
        let served = try TestServer.shared().http.request("GET", "/openapi.json")
        #expect(served.status == 200 && served.headers["content-type"]?.hasPrefix("application/json") == true)
        #expect(served.body == Array(try Data(contentsOf: APITools.document)))
        let document = try #require(served.json)
        #expect((document["openapi"] as? String)?.hasPrefix("3.1") == true)
    }

    /// Every operation but the SSE stream (it never ends by design; the
    /// stream tests cover it), with a bounded number of examples each.
    @Test func everyRouteAnswersAsTheDocumentSays() throws {
        let schemathesis = try APITools.tool("schemathesis")
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let server = try TestServer(redis: redis)
        defer { server.stop() }
        // The document's examples name event `demo` and booking b0000000000000000001 (buyer `buyer1`):
        // they exist, so the positive examples reach the scripts, not only their 404s.
        #expect(try server.http.request("POST", "/v1/events", headers: server.adminHeaders, json: """
            {"id":"demo","name":"Demo","venue":"Hall","startsAt":"2027-01-01T20:00:00Z",
             "sections":[{"id":"A","rows":20,"seatsPerRow":20,"priceCents":5000}]}
            """).status == 201)
        let client = try redis.client()
        let held = try client.run(redis.scripts.hold(.seats([SeatID("A-20-20")!]), event: "demo", booking: "b0000000000000000001", user: "buyer1"))
        #expect(held.array?.first?.int == 201)

        let checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
                      "response_schema_conformance", "negative_data_rejection", "allow_header_conformance", "missing_required_header",
                      "ignored_auth", "use_after_free", "ensure_resource_availability"]
        // (unsupported_method is left out: evhttp reads a request with a method it
        // does not know and a body as malformed, 400, where that check wants 405.)
        var total = (requests: 0, checks: 0)
        // The buyer first: the admin's run cancels `demo` along the way.
        for (who, token) in [("buyer", server.token("buyer1")), ("admin", TestSecrets.adminToken)] {
            let report = FileManager.default.temporaryDirectory.appendingPathComponent("schemathesis-\(UUID().uuidString).ndjson")
            defer { try? FileManager.default.removeItem(at: report) }
            let (status, output) = try APITools.run(schemathesis, [
                "run", APITools.document.path, "--url", "http://127.0.0.1:\(server.port)",
                "--header", "Authorization: Bearer \(token)", "--checks", checks.joined(separator: ","),
                "--exclude-path", "/v1/events/{e}/stream", "--max-examples", "25", "--seed", "20261207", "--request-timeout", "10",
                "--no-shrink",
                // One worker: with two, Hypothesis' lambda-description caches (not thread-safe) once
                // raised inside schemathesis' own case generation on a loaded CI machine.
                "--workers", "1", "--report", "ndjson", "--report-ndjson-path", report.path,
            ])
            let summary = RunSummary(ndjson: (try? String(contentsOf: report, encoding: .utf8)) ?? "")
            print("schemathesis as \(who): exit \(status), \(summary)")
            // The head names the first failure (or the checker's own exception), the tail its summary.
            #expect(status == 0, "schemathesis as \(who) found failures:\n\(output.count > 16_000 ? output.prefix(8_000) + "\n[…]\n" + output.suffix(8_000) : output[...])")
            #expect(summary.requests > 500, "schemathesis as \(who) made only \(summary.requests) requests")
            #expect(summary.serverErrors == 0 && summary.failedChecks.isEmpty, "\(summary.failedChecks)")
            #expect(Set(summary.checks.keys).isSubset(of: Set(checks)) && summary.checks.keys.contains("response_schema_conformance"),
                    "checks run: \(summary.checks.keys.sorted())")
            total.requests += summary.requests
            total.checks += summary.checks.values.reduce(0, +)
        }
        print("schemathesis in all: \(total.requests) requests, \(total.checks) checks, 0 failures")
    }
}
