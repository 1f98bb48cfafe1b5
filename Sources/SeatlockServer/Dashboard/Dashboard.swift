// The live dashboard's page and script (Dashboard/files/), read once at
// start like the notification templates and lua/, and answered from memory.
import Foundation
import SeatlockHTTP
import SeatlockLoop

public struct Dashboard: Sendable {
    /// `GET /dashboard`.
    public let page: HTTPResponse
    /// `GET /dashboard.js`.
    public let script: HTTPResponse

    /// Scripts only from this server (dashboard.js), data only from its API,
    /// no frames, forms or plugins. The page's one `<style>` block is inline.
    static let policy = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
        + "style-src 'self' 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    public init(directory: URL) throws {
        func read(_ name: String) throws -> [UInt8] {
            do { return Array(try Data(contentsOf: directory.appendingPathComponent(name))) } catch {
                throw ResourceNotFound(marker: name, tried: [directory.path])
            }
        }
        let noCache = [("Cache-Control", "no-cache")]
        page = HTTPResponse(status: 200, contentType: "text/html; charset=utf-8", headers: noCache + [("Content-Security-Policy", Self.policy)],
                            body: try read("dashboard.html"))
        script = HTTPResponse(status: 200, contentType: "text/javascript; charset=utf-8", headers: noCache, body: try read("dashboard.js"))
    }

    /// $SEATLOCK_DASHBOARD_DIR, else `Sources/SeatlockServer/Dashboard/files`
    /// (or `dashboard/`) next to the working directory or the executable,
    /// walking up, else next to this source file.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment,
                              sourceFile: String = #filePath) throws -> Dashboard {
        try Dashboard(directory: ResourceDirectory.locate(["Sources/SeatlockServer/Dashboard/files", "dashboard", "files"],
                                                          marker: "dashboard.html", override: environment["SEATLOCK_DASHBOARD_DIR"],
                                                          sourceFile: sourceFile))
    }

    /// `GET /openapi.json`: docs/openapi.json, the one source of the API's
    /// OpenAPI document ($SEATLOCK_DOCS_DIR, else `docs/` found as the dashboard is).
    public static func apiDocument(environment: [String: String] = ProcessInfo.processInfo.environment,
                                   sourceFile: String = #filePath) throws -> HTTPResponse {
        let directory = try ResourceDirectory.locate(["docs"], marker: "openapi.json", override: environment["SEATLOCK_DOCS_DIR"],
                                                     sourceFile: sourceFile)
        let file = directory.appendingPathComponent("openapi.json")
        guard let body = try? Data(contentsOf: file) else { throw ResourceNotFound(marker: "openapi.json", tried: [directory.path]) }
        return HTTPResponse(status: 200, contentType: "application/json", headers: [("Cache-Control", "no-cache")], body: Array(body))
    }
}
