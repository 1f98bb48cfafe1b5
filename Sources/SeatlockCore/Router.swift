// Maps a method and a raw path to a route. Every id in the path is checked
// against the strict identifier pattern here, before anything else runs.

public enum Route: Equatable, Sendable {
    case health
    case ready
    case createEvent
    case listEvents
    case event(String)
    case updateEvent(String)
    case cancelEvent(String)
    case listBookings(String)
    case openAPI
    case seats(String)
    case createBooking(String)
    case booking(String, String)
    case releaseBooking(String, String)
    case requestPayment(String, String)
    case createUser
    case eventStats(String)
    case eventStream(String)
    case metrics
    case dashboard
    case dashboardScript
    case joinQueue(String)
    case queuePlace(String)
    case queueSummary(String)
    case pauseQueue(String)
    case resumeQueue(String)
    case joinWaitlist(String)
    case waitlistEntry(String)
    case leaveWaitlist(String)

    /// The `route` label of the HTTP metrics: bounded, no ids.
    public var metricName: String {
        switch self {
        case .health: "health"
        case .ready: "ready"
        case .createEvent: "create_event"
        case .listEvents: "list_events"
        case .event: "event"
        case .updateEvent: "update_event"
        case .cancelEvent: "cancel_event"
        case .listBookings: "list_bookings"
        case .openAPI: "openapi"
        case .seats: "seats"
        case .createBooking: "create_booking"
        case .booking: "get_booking"
        case .releaseBooking: "release_booking"
        case .requestPayment: "request_payment"
        case .createUser: "create_user"
        case .eventStats: "event_stats"
        case .eventStream: "event_stream"
        case .metrics: "metrics"
        case .dashboard, .dashboardScript: "dashboard"
        case .joinQueue: "join_queue"
        case .queuePlace: "queue_place"
        case .queueSummary: "queue"
        case .pauseQueue, .resumeQueue: "queue_control"
        case .joinWaitlist: "join_waitlist"
        case .waitlistEntry: "waitlist_entry"
        case .leaveWaitlist: "leave_waitlist"
        }
    }
}

public enum Router {
    /// The path's components after its first '/', empty ones kept
    /// ("/v1/events/" → v1, events, ""): one array, and components short
    /// enough for a String's inline storage make no allocation.
    static func pathComponents(_ path: String) -> [String] {
        var parts: [String] = []
        parts.reserveCapacity(8)
        var start: String.Index?
        for index in path.utf8.indices where path.utf8[index] == UInt8(ascii: "/") {
            if let start { parts.append(String(path[start..<index])) }
            start = path.utf8.index(after: index)
        }
        if let start { parts.append(String(path[start...])) }
        return parts
    }

    public static func route(method: String, path: String) throws(APIError) -> Route {
        guard path.utf8.count <= 512 else { throw .notFound }
        guard isCleanTarget(path) else {
            throw APIError(status: 400, code: "invalid_path", message: "the path holds a control character, a NUL or a byte outside ASCII")
        }
        let parts = pathComponents(path)
        // The method is checked before the ids: a wrong method is 405 whatever the path's ids.
        func allowOnly(_ allowed: [String]) throws(APIError) {
            guard allowed.contains(method) else { throw .methodNotAllowed(allowed) }
        }
        func allow(_ allowed: [String], _ route: @autoclosure () throws(APIError) -> Route) throws(APIError) -> Route {
            try allowOnly(allowed)
            return try route()
        }
        func id(_ text: String, _ what: String) throws(APIError) -> String {
            guard Identifier.isValid(text) else {
                throw APIError(status: 400, code: "invalid_id", message: "\(what) id must be 1-64 letters, digits, '-' or '_'")
            }
            // No event has a reserved id (EventKeys.reservedTags): its keys are another namespace's.
            if what == "event", !EventKeys.isValidEventId(text) { throw APIError(status: 404, code: "event_not_found", message: "no such event") }
            return text
        }
        switch parts.count {
        case 1 where parts[0] == "healthz": return try allow(["GET"], .health)
        case 1 where parts[0] == "readyz": return try allow(["GET"], .ready)
        case 1 where parts[0] == "metrics": return try allow(["GET"], .metrics)
        case 1 where parts[0] == "dashboard": return try allow(["GET"], .dashboard)
        case 1 where parts[0] == "dashboard.js": return try allow(["GET"], .dashboardScript)
        case 1 where parts[0] == "openapi.json": return try allow(["GET"], .openAPI)
        case 2 where parts == ["v1", "events"]:
            try allowOnly(["GET", "POST"])
            return method == "GET" ? .listEvents : .createEvent
        case 2 where parts == ["v1", "users"]: return try allow(["POST"], .createUser)
        case 3 where parts[0] == "v1" && parts[1] == "events":
            try allowOnly(["GET", "PATCH"])
            let event = try id(parts[2], "event")
            return method == "GET" ? .event(event) : .updateEvent(event)
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "cancel":
            return try allow(["POST"], .cancelEvent(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "seats":
            return try allow(["GET"], .seats(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "stats":
            return try allow(["GET"], .eventStats(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "stream":
            return try allow(["GET"], .eventStream(try id(parts[2], "event")))
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings":
            try allowOnly(["GET", "POST"])
            let event = try id(parts[2], "event")
            return method == "GET" ? .listBookings(event) : .createBooking(event)
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "queue":
            try allowOnly(["GET", "POST"])
            let event = try id(parts[2], "event")
            return method == "GET" ? .queueSummary(event) : .joinQueue(event)
        case 4 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "waitlist":
            return try allow(["POST"], .joinWaitlist(try id(parts[2], "event")))
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "queue" && parts[4] == "me":
            return try allow(["GET"], .queuePlace(try id(parts[2], "event")))
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "queue" && parts[4] == "pause":
            return try allow(["POST"], .pauseQueue(try id(parts[2], "event")))
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "queue" && parts[4] == "resume":
            return try allow(["POST"], .resumeQueue(try id(parts[2], "event")))
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "waitlist" && parts[4] == "me":
            try allowOnly(["GET", "DELETE"])
            let event = try id(parts[2], "event")
            return method == "GET" ? .waitlistEntry(event) : .leaveWaitlist(event)
        case 5 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings":
            try allowOnly(["GET", "DELETE"])
            let event = try id(parts[2], "event"), booking = try id(parts[4], "booking")
            return method == "GET" ? .booking(event, booking) : .releaseBooking(event, booking)
        case 6 where parts[0] == "v1" && parts[1] == "events" && parts[3] == "bookings" && parts[5] == "payment":
            return try allow(["POST"], .requestPayment(try id(parts[2], "event"), try id(parts[4], "booking")))
        default:
            throw .notFound
        }
    }

    /// A request target (path or query) without raw or percent-encoded
    /// control bytes and without raw bytes outside printable ASCII. Ids are
    /// checked more strictly later; this also covers the parts that are not ids.
    public static func isCleanTarget(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            guard byte > 0x20, byte < 0x7f else { return false }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count, let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) else { return false }
                let decoded = high << 4 | low
                if decoded < 0x20 || decoded >= 0x7f { return false }
                index += 3
                continue
            }
            index += 1
        }
        return true
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
