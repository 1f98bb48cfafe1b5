// Maps a method and a raw path to a route. Every id in the path is checked
// against the strict identifier pattern here, before anything else runs.
import SeatlockCore

public enum Route: Equatable, Sendable {
    case health
    case ready
    case createEvent
    case event(String)
    case seats(String)
    case createBooking(String)
    case booking(String, String)
    case releaseBooking(String, String)
    case requestPayment(String, String)
}

public enum Router {
    public static func route(method: String, path: String) throws(APIError) -> Route {
        guard path.utf8.count <= 512 else { throw .notFound }
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst().map { String(Substring($0)) }
        func allow(_ allowed: [String], _ route: @autoclosure () throws(APIError) -> Route) throws(APIError) -> Route {
            guard allowed.contains(method) else { throw .methodNotAllowed(allowed) }
            return try route()
        }
        func id(_ text: String, _ what: String) throws(APIError) -> String {
            guard Identifier.isValid(text) else {
                throw APIError(status: 400, code: "invalid_id", message: "\(what) id must be 1-64 letters, digits, '-' or '_'")
            }
            return text
        }
        switch parts.count {
        case 1 where parts[0] == "healthz": return try allow(["GET"], .health)
        case 1 where parts[0] == "readyz": return try allow(["GET"], .ready)
        case 2 where parts == ["v1", "events"]: return try allow(["POST"], .createEvent)
        case 3 where parts[0] == "v1" && parts[1] == "events":
            return try allow(["GET"], .event(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "seats":
            return try allow(["GET"], .seats(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings":
            return try allow(["POST"], .createBooking(try id(parts[2], "event")))
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings":
            guard ["GET", "DELETE"].contains(method) else { throw .methodNotAllowed(["GET", "DELETE"]) }
            let event = try id(parts[2], "event"), booking = try id(parts[4], "booking")
            return method == "GET" ? .booking(event, booking) : .releaseBooking(event, booking)
        case 6 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings" && parts[5] == "payment":
            return try allow(["POST"], .requestPayment(try id(parts[2], "event"), try id(parts[4], "booking")))
        default:
            throw .notFound
        }
    }
}
