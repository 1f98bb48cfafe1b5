// The HTTP API (docs/api.md) on one event loop: validate, authenticate, then
// one Lua call (or one pipeline of reads) on this loop's Redis connection,
// and the reply goes back on the same thread. Nothing here blocks or hops.
import Foundation
import Logging
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockScripts

final class BookingHandlers {
    private let config: ServerConfig
    let redis: RedisConnection
    private let tokens: BuyerTokens
    private let logger: Logger
    private let seatListings: SeatListings
    /// The admission policy as the scripts read it, rendered once.
    private let policy: String
    private let metrics: ServerMetrics
    private let recorder: ServerMetrics.Recorder
    private let streams: AvailabilityStreams
    private let inventory: EventInventory
    let queues: QueueDesk
    let queueTokens: QueueTokens
    let scripts: BookingScripts
    private let dashboard: Dashboard
    /// `GET /openapi.json`, read once at start (docs/openapi.json).
    private let apiDocument: HTTPResponse
    let cursors: ListCursors

    /// The route a request resolved to, for the metrics label.
    private final class RouteLabel { var name = "unmatched" }

    init(config: ServerConfig, scripts: BookingScripts, dashboard: Dashboard, apiDocument: HTTPResponse, redis: RedisConnection, streams: AvailabilityStreams,
         inventory: EventInventory, queues: QueueDesk, metrics: ServerMetrics, logger: Logger) {
        self.config = config
        self.scripts = scripts
        self.redis = redis
        self.streams = streams
        self.inventory = inventory
        self.queues = queues
        self.queueTokens = QueueTokens(secret: config.tokenSecret)
        self.dashboard = dashboard
        self.apiDocument = apiDocument
        self.cursors = ListCursors(secret: config.tokenSecret)
        self.seatListings = SeatListings(redis: redis, readsPerAddress: config.abuse.seatMapReadsPerAddress)
        self.metrics = metrics
        self.recorder = ServerMetrics.Recorder(metrics)
        self.tokens = BuyerTokens(secret: config.tokenSecret)
        self.logger = logger
        self.policy = config.abuse.scriptArgument
    }

    func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let started = ContinuousClock.now
        var request = request
        if !config.trustedProxies.isEmpty {
            request.remoteAddress = clientAddress(peer: request.remoteAddress, forwardedFor: request.combinedHeader("x-forwarded-for"),
                                                  trusted: config.trustedProxies)
        }
        let label = RouteLabel()
        responder.onAnswer = { [recorder] status in recorder.request(route: label.name, status: status, took: .now - started) }
        do {
            try dispatch(request, responder, label)
        } catch {
            responder.send(Self.response(error))
        }
    }

    /// Runs a script on this loop's connection, timing the round trip.
    func run(_ call: ScriptCall, completion: @escaping RedisConnection.Completion) {
        let started = ContinuousClock.now
        redis.run(call) { [recorder] result in
            recorder.redisCall(call.script.name, took: .now - started)
            completion(result)
        }
    }

    private func dispatch(_ request: HTTPRequest, _ responder: HTTPResponder, _ label: RouteLabel) throws(APIError) {
        guard request.headerBytes <= config.http.maxHeaderBytes else {
            throw APIError(status: 431, code: "headers_too_large", message: "the request line and headers are limited to \(config.http.maxHeaderBytes) bytes")
        }
        let route = try Router.route(method: request.method, path: request.path)
        label.name = route.metricName
        guard Router.isCleanTarget(request.query) || request.query.isEmpty else {
            throw APIError(status: 400, code: "invalid_query", message: "the query holds a control character, a NUL or a byte outside ASCII")
        }
        if request.method == "POST" || request.method == "PATCH" { try checkBody(request) }
        // The route table: one small handler per route (exhaustive: a new
        // route does not compile until it has one).
        switch route {
        case .health: responder.send(HTTPResponse(status: 200, json: #"{"status":"ok"}"#))
        case .ready: ready(responder)
        case .createEvent: try createEvent(request, responder)
        case .listEvents: try listEvents(request, responder)
        case let .updateEvent(eventId): try updateEvent(eventId, request, responder)
        case let .cancelEvent(eventId): try cancelEvent(eventId, request, responder)
        case let .listBookings(eventId): try listBookings(eventId, request, responder)
        case .openAPI: responder.send(apiDocument)
        case .createUser: try createUser(request, responder)
        case let .event(eventId): runScript(scripts.getEvent(eventId), request, responder)
        case let .seats(eventId): try seats(eventId, request, responder)
        case let .eventStats(eventId): eventStats(eventId, responder)
        case let .eventStream(eventId): try eventStream(eventId, request, responder)
        case .metrics: scrapeMetrics(responder)
        case .dashboard: responder.send(dashboard.page)
        case .dashboardScript: responder.send(dashboard.script)
        case let .createBooking(eventId): try createBooking(eventId, request, responder)
        case let .booking(eventId, bookingId): try getBooking(eventId, bookingId, request, responder)
        case let .releaseBooking(eventId, bookingId): try releaseBooking(eventId, bookingId, request, responder)
        case let .requestPayment(eventId, bookingId): try requestPayment(eventId, bookingId, request, responder)
        case let .joinQueue(eventId): try joinQueue(eventId, request, responder)
        case let .queuePlace(eventId): try queuePlace(eventId, request, responder)
        case let .queueSummary(eventId): queueSummary(eventId, responder)
        case let .pauseQueue(eventId): try controlQueue(eventId, pause: true, request, responder)
        case let .resumeQueue(eventId): try controlQueue(eventId, pause: false, request, responder)
        case let .joinWaitlist(eventId): try joinWaitlist(eventId, request, responder)
        case let .waitlistEntry(eventId): try waitlistEntry(eventId, request, responder)
        case let .leaveWaitlist(eventId): try leaveWaitlist(eventId, request, responder)
        }
    }

    // MARK: handlers

    func runScript(_ call: ScriptCall, _ request: HTTPRequest, _ responder: HTTPResponder) {
        run(call) { [self] result in respond(responder, result, request: request) }
    }

    private func ready(_ responder: HTTPResponder) {
        redis.send(["PING"]) { result in
            if case .success(.status("PONG")) = result {
                responder.send(HTTPResponse(status: 200, json: #"{"status":"ready"}"#))
            } else {
                responder.send(Self.response(APIError.unavailable))
            }
        }
    }

    private func createEvent(_ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard try authenticate(request) == .admin else { throw .forbidden }
        let spec = try EventSpec.decode(request.body)
        let idem = try idempotencyKey(request, keys: EventKeys(spec.id), caller: .admin)
        guard let key = request.header("idempotency-key") else { return createEvent(spec, idem, request, responder) }
        // The script's record lives under the new event, so a key reused with
        // another body (another event id) would find nothing there. The key
        // is first claimed for this request's fingerprint in the admin's own
        // namespace (another slot: a step of its own, which only ever refuses).
        let claim = ["SET", GlobalKeys.adminIdempotency(key), idem.fingerprint, "NX", "GET", "EX", "86400"]
        redis.send(claim) { [self] result in
            switch result {
            case .success(.null):
                createEvent(spec, idem, request, responder)
            case let .success(.bulk(first)) where first == idem.fingerprint:
                createEvent(spec, idem, request, responder)
            case .success(.bulk):
                responder.send(Self.response(APIError(status: 422, code: "idempotency_mismatch",
                                                      message: "this Idempotency-Key was used with another request")))
            default:
                respond(responder, result, request: request) // Redis away or refusing: 503 / 500, logged
            }
        }
    }

    private func createEvent(_ spec: EventSpec, _ idem: (key: String, fingerprint: String), _ request: HTTPRequest, _ responder: HTTPResponder) {
        // sl:events and the list's index live in other hash slots, so the
        // script cannot write them. They go first, on the same connection (so in order): an id there
        // without an event is harmless to the sweeper and workers, while an
        // event missing from it would never be swept.
        redis.send(["SADD", GlobalKeys.events, spec.id]) { _ in }
        indexEvent(spec.id, startsAtMs: spec.startsAtMilliseconds)
        guard spec.capacity > EventSpec.seatsPerCall else {
            return runScript(scripts.createEvent(spec, idempotencyKey: idem.key, fingerprint: idem.fingerprint), request, responder)
        }
        // A large map: chunk after chunk (each waits for the last, so other
        // clients are served between them), then the event over them.
        let token = idem.fingerprint.isEmpty ? BookingID.random() : idem.fingerprint
        var chunks = scripts.addSeats(spec, token: token)[...]
        func next() {
            guard let chunk = chunks.popFirst() else {
                return runScript(scripts.createEvent(spec, idempotencyKey: idem.key, fingerprint: idem.fingerprint, chunkedToken: token),
                                 request, responder)
            }
            run(chunk) { [self] result in
                let reply = (try? result.get()).flatMap(StateChange.init)
                switch (reply?.changed, reply?.word) {
                case (true?, _): next()
                case (false?, "exists"?): chunks = []; next() // the script replays or says 409
                case (false?, "busy"?):
                    responder.send(Self.response(APIError(status: 409, code: "event_exists", message: "this event is being created by another request")))
                default: respond(responder, result, request: request)
                }
            }
        }
        next()
    }

    private func createUser(_ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let registration = try UserRegistration.decode(request.body)
        let userId = UserID.random()
        let call = scripts.createUser(registration, id: userId, client: request.remoteAddress, registrations: config.abuse.registrationsPerAddress)
        run(call) { [self] result in
            var response = Self.scriptResponse(result)
            if response.status == 201, response.body.last == UInt8(ascii: "}") {
                // The token is minted here: the script never sees the secret.
                let token = tokens.mint(userId: userId, ttlSeconds: 86_400)
                response.body.removeLast()
                response.body += Array(",\"token\":\(JSONText.quote(token))}".utf8)
            }
            if response.status >= 500 { respond(responder, result, request: request) } else { responder.send(response) }
        }
    }

    private func seats(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let section = Self.queryValue(request.query, "section")
        if let section, !Identifier.isValidSection(section) { throw .invalid("section ids are 1-16 letters, digits or '_'") }
        let formatName = Self.queryValue(request.query, "format") ?? "full"
        guard let format = SeatMapFormat(rawValue: formatName) else { throw .invalid("format is full or compact") }
        seatListings.list(eventId: eventId, section: section, format: format, ifNoneMatch: request.header("if-none-match"),
                          client: clientAddressKey(request.remoteAddress), responder: responder)
    }

    private func eventStats(_ eventId: String, _ responder: HTTPResponder) {
        EventStats.read(eventId: eventId, on: redis) { result in
            switch result {
            case let .success(json?): responder.send(HTTPResponse(status: 200, json: json))
            case .success(nil): responder.send(Self.response(APIError(status: 404, code: "event_not_found", message: "no such event")))
            case .failure: responder.send(Self.response(APIError.unavailable))
            }
        }
    }

    private func eventStream(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let resume = request.header("last-event-id") ?? Self.queryValue(request.query, "lastEventId")
        if let resume, StreamID(resume) == nil { throw .invalid("Last-Event-ID must be a log entry id like 1795625189720-0") }
        streams.subscribe(eventId: eventId, lastEventId: resume, client: clientAddressKey(request.remoteAddress), responder: responder)
    }

    private func scrapeMetrics(_ responder: HTTPResponder) {
        metrics.scrape(on: redis) { result in
            switch result {
            case let .success(text): responder.send(HTTPResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: text))
            case .failure: responder.send(Self.response(APIError.unavailable))
            }
        }
    }

    private func createBooking(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "bookings are made with a buyer token")
        }
        let hold = try HoldRequest.decode(request.body)
        let admitted = try admission(request, eventId: eventId, userId: userId)
        let idem = try idempotencyKey(request, keys: EventKeys(eventId), caller: .buyer(userId))
        // (A request with an Idempotency-Key may be the replay of a hold that succeeded: Redis answers it.)
        if idem.fingerprint.isEmpty, inventory.isSoldOut(eventId) {
            EventInventory.refusedWithoutRedis.add(1, ordering: .relaxed)
            return responder.send(Self.soldOut)
        }
        let call = scripts.hold(hold, keys: holdKeys(eventId), booking: BookingID.random(), user: userId,
                                client: request.remoteAddress, policy: policy,
                                idempotencyKey: idem.key, fingerprint: idem.fingerprint, admittedPosition: admitted?.position)
        run(call) { [self] result in
            let status = respond(responder, result, request: request)
            if status != 404, status < 500 { inventory.follow(eventId) }
        }
    }

    /// Each event's hold keys, made once per loop. Bounded: ids of events that
    /// do not exist reach here too (the script answers their 404).
    private var holdKeysByEvent: [String: EventHoldKeys] = [:]
    private func holdKeys(_ eventId: String) -> EventHoldKeys {
        if let keys = holdKeysByEvent[eventId] { return keys }
        if holdKeysByEvent.count >= 1024 { holdKeysByEvent.removeAll(keepingCapacity: true) }
        let keys = EventHoldKeys(EventKeys(eventId))
        holdKeysByEvent[eventId] = keys
        return keys
    }

    /// The hold answer when this loop's fresh count says nothing is available (EventInventory).
    /// `available: 0` tells it from a section's sold_out (best available): the whole event has nothing now.
    private static let soldOut = HTTPResponse(status: 409, json: #"{"error":"sold_out","message":"no seat of this event is available now; seats that come back go on sale again","available":0}"#)

    private func getBooking(_ eventId: String, _ bookingId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let caller = try authenticate(request)
        runScript(scripts.getBooking(event: eventId, booking: bookingId, owner: caller.ownerFilter), request, responder)
    }

    private func releaseBooking(_ eventId: String, _ bookingId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        let caller = try authenticate(request)
        let call = scripts.release(event: eventId, booking: bookingId, owner: caller.ownerFilter, actor: caller == .admin ? "admin" : "buyer")
        runScript(call, request, responder)
    }

    private func requestPayment(_ eventId: String, _ bookingId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "payments are made with a buyer token")
        }
        let payment = try PaymentRequest.decode(request.body)
        let idem = try idempotencyKey(request, keys: EventKeys(eventId), caller: .buyer(userId))
        let call = scripts.requestPayment(event: eventId, booking: bookingId, owner: userId, paymentToken: payment.paymentToken,
                                          graceMilliseconds: config.paymentGraceSeconds * 1000,
                                          client: request.remoteAddress, policy: policy,
                                          idempotencyKey: idem.key, fingerprint: idem.fingerprint)
        runScript(call, request, responder)
    }

    /// Answers with a script's reply, and says its status. A 5xx is logged with
    /// its cause (the Redis error or the connection failure), which the client never sees.
    @discardableResult
    func respond(_ responder: HTTPResponder, _ result: Result<RedisValue, RedisError>, request: HTTPRequest) -> Int {
        let response = Self.scriptResponse(result)
        if response.status >= 500 {
            let cause: String = switch result {
            case let .success(value): String(value.description.prefix(300))
            case let .failure(error): error.message
            }
            logger.error("request failed", metadata: ["method": "\(request.method)", "path": "\(request.path)",
                                                       "status": "\(response.status)", "cause": "\(cause)"])
        }
        responder.send(response)
        return response.status
    }

    // MARK: request checks

    private func checkBody(_ request: HTTPRequest) throws(APIError) {
        guard request.body.count <= config.http.maxBodyBytes else { throw .tooLarge(config.http.maxBodyBytes) }
        if let type = request.header("content-type"), !isJSONMediaType(type) { throw .unsupportedMediaType }
    }

    func authenticate(_ request: HTTPRequest) throws(APIError) -> Caller {
        guard let header = request.header("authorization") else { throw .unauthorized }
        guard header.hasPrefix("Bearer "), header.utf8.count <= BuyerTokens.maxLength + 7 else {
            throw .unauthorized("use 'Authorization: Bearer TOKEN'")
        }
        let token = String(header.dropFirst("Bearer ".count))
        if constantTimeEquals(token, config.adminToken) { return .admin }
        do {
            return .buyer(try tokens.verify(token))
        } catch {
            throw .unauthorized(error.message)
        }
    }

    func idempotencyKey(_ request: HTTPRequest, keys: EventKeys, caller: Caller) throws(APIError) -> (key: String, fingerprint: String) {
        guard let key = request.header("idempotency-key") else { return (keys.noIdempotency, "") }
        guard Identifier.isValid(key) else {
            throw APIError(status: 400, code: "invalid_idempotency_key", message: "Idempotency-Key must be 1-64 letters, digits, '-' or '_'")
        }
        return (keys.idempotency(caller: caller.scope, key: key), requestFingerprint(method: request.method, path: request.path, body: request.body))
    }

    static func queryValue(_ query: String, _ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if parts.count == 2, parts[0] == name { return String(parts[1]) }
        }
        return nil
    }

    // MARK: replies

    /// Scripts answer `{status, body}`, or `{429, body, seconds}` for a
    /// refusal to retry later; anything else is a server fault.
    static func scriptResponse(_ result: Result<RedisValue, RedisError>) -> HTTPResponse {
        if case let .success(value) = result, let reply = APIReply(value) {
            return HTTPResponse(status: reply.status, json: reply.body, headers: reply.retryAfterSeconds.map { [("Retry-After", String($0))] } ?? [])
        }
        return failure(result, notFound: .internalError)
    }

    static func failure(_ result: Result<RedisValue, RedisError>, notFound: APIError) -> HTTPResponse {
        switch result {
        case let .failure(error) where error.kind != .server:
            return response(APIError.unavailable)
        case let .success(.error(message)) where Self.passingErrors.contains(where: message.hasPrefix):
            return response(APIError.unavailable)
        case .success(.null):
            return response(notFound)
        default:
            return response(APIError.internalError)
        }
    }

    /// Error replies of a Redis that is starting, busy, failing over or
    /// resharding: the request may succeed when retried (503, Retry-After).
    static let passingErrors = ["LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "READONLY"]

    static func response(_ error: APIError) -> HTTPResponse {
        HTTPResponse(status: error.status, json: error.json, headers: error.headers.map { ($0.key, $0.value) })
    }
}
