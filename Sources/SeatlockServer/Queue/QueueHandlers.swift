// The on-sale queue and the waitlist (docs/api.md): joining goes to Redis
// (one script call per buyer); a poll of one's place, the queue's summary
// and the admission check of a hold are answered on the loop from the
// QueueDesk and the signed tokens.
import Foundation
import SeatlockCore
import SeatlockHTTP
import SeatlockRedis
import SeatlockScripts

extension BookingHandlers {
    func joinQueue(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "the queue is joined with a buyer token")
        }
        joinQueue(eventId, userId: userId, draw: queueTokens.draw(eventId: eventId, userId: userId), request, responder)
    }

    /// Also the way a prequeue ticket the queue has reached learns the position drawn for it at the open (joining again is idempotent).
    private func joinQueue(_ eventId: String, userId: String, draw: UInt64, _ request: HTTPRequest, _ responder: HTTPResponder) {
        queues.join(eventId, userId: userId, draw: draw) { [self] outcome in
            switch outcome {
            case let .refused(result):
                respond(responder, result, request: request)
            case let .place(state, place) where place.status == 409:
                let error = state.status == "cancelled" ? APIError.eventCancelled
                    : state.status == "closed" ? APIError(status: 409, code: "sales_closed", message: "sales are closed for this event")
                    : APIError(status: 409, code: "sold_out", message: "every seat is sold or promised to the waitlist: join the waitlist at POST /v1/events/\(eventId)/waitlist")
                responder.send(Self.response(error))
            case let .place(state, place):
                queues.withQueue(eventId) { _ in } // follow it: this loop's polls will be answered from memory
                let ticket = QueueTicket(eventId: eventId, userId: userId, position: place.position)
                answer(self.place(state, ticket, token: queueTokens.queueToken(ticket), created: place.status == 201, draw: draw), responder)
            }
        }
    }

    func queuePlace(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard let token = request.header("queue-token") else {
            throw APIError(status: 401, code: "queue_token_required", message: "send the Queue-Token header the queue's join gave you")
        }
        guard let ticket = queueTokens.ticket(token), ticket.eventId == eventId else {
            throw APIError(status: 401, code: "invalid_queue_token", message: "this queue token was not issued for this event's queue")
        }
        queues.withQueue(eventId) { [self] reading in
            guard case let .queue(state) = reading else { return answerWithout(reading, responder) }
            let draw = ticket.position == 0 ? queueTokens.draw(eventId: eventId, userId: ticket.userId) : 0
            if ticket.position == 0, state.status == "open" || state.status == "paused", state.hasReached(draw: draw, userId: ticket.userId) {
                // Admitted from the prequeue: one Redis call learns the exact position the
                // admission carries. Until then the place is estimated from the draw, from memory.
                return joinQueue(eventId, userId: ticket.userId, draw: draw, request, responder)
            }
            answer(place(state, ticket, token: token, created: false, draw: draw), responder) // the same ticket: the same token
        }
    }

    func queueSummary(_ eventId: String, _ responder: HTTPResponder) {
        queues.withQueue(eventId) { [self] reading in
            guard case let .queue(state) = reading else { return answerWithout(reading, responder) }
            responder.send(HTTPResponse(status: 200, json: QueueView.summary(state, observedRate: queues.observedRate(eventId))))
        }
    }

    func controlQueue(_ eventId: String, pause: Bool, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard try authenticate(request) == .admin else { throw .forbidden }
        run(scripts.queueControl(event: eventId, pause: pause, actor: "admin")) { [self] result in
            guard case let .success(value) = result, let reply = QueueReply(value) else { respond(responder, result, request: request); return }
            responder.send(HTTPResponse(status: 200, json: QueueView.summary(reply.state, observedRate: queues.observedRate(eventId))))
        }
    }

    /// A hold's `Admission` header, checked on the loop: nil without one (the
    /// script refuses a queued event's hold then); 403 when it is not this
    /// buyer's live admission to this event.
    func admission(_ request: HTTPRequest, eventId: String, userId: String) throws(APIError) -> Admission? {
        guard let token = request.header("admission") else { return nil }
        guard let admission = queueTokens.admission(token), admission.eventId == eventId, admission.userId == userId else {
            throw APIError(status: 403, code: "admission_invalid", message: "this admission was not issued to you for this event")
        }
        // A request with an Idempotency-Key may replay a hold made in time: the script answers it.
        guard admission.expiresAt > Int(Date().timeIntervalSince1970 * 1000) || request.header("idempotency-key") != nil else {
            throw APIError(status: 403, code: "admission_invalid", message: "this admission has expired")
        }
        return admission
    }

    func joinWaitlist(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "the waitlist is joined with a buyer token")
        }
        let wish = try WaitlistRequest.decode(request.body)
        runScript(scripts.waitlistJoin(event: eventId, user: userId, wish), request, responder)
    }

    func waitlistEntry(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "a waitlist entry is read with its buyer's token")
        }
        runScript(scripts.waitlistGet(event: eventId, user: userId), request, responder)
    }

    func leaveWaitlist(_ eventId: String, _ request: HTTPRequest, _ responder: HTTPResponder) throws(APIError) {
        guard case let .buyer(userId) = try authenticate(request) else {
            throw APIError(status: 403, code: "forbidden", message: "a waitlist entry is left with its buyer's token")
        }
        runScript(scripts.waitlistLeave(event: eventId, user: userId), request, responder)
    }

    // MARK: answers

    /// `draw`: the ticket's draw when the caller has it (a prequeue ticket's), else computed here.
    private func place(_ state: QueueState, _ ticket: QueueTicket, token: String, created: Bool, draw known: UInt64? = nil) -> QueueAnswer {
        let now = Int(Date().timeIntervalSince1970 * 1000)
        let prequeued = ticket.position == 0 && state.status == "prequeue"
        let draw = ticket.position == 0 ? known ?? queueTokens.draw(eventId: ticket.eventId, userId: ticket.userId) : 0
        let answer = QueueView.place(state, ticket: ticket, admittedAt: queues.admittedAt(ticket.eventId, position: ticket.position),
                               now: now, observedRate: queues.observedRate(ticket.eventId),
                               created: created, queueToken: token, draw: draw,
                               expectedPrequeue: prequeued ? queues.expectedPrequeue(ticket.eventId, state, now: now) : nil,
                               admissionToken: queueTokens.admissionToken)
        if answer.body.hasPrefix(#"{"status":"admitted""#) { queues.told(ticket.eventId, position: ticket.position) }
        return answer
    }

    private func answer(_ answer: QueueAnswer, _ responder: HTTPResponder) {
        responder.send(HTTPResponse(status: answer.status, json: answer.body, headers: answer.retryAfter.map { [("Retry-After", String($0))] } ?? []))
    }

    private func answerWithout(_ reading: QueueDesk.Reading, _ responder: HTTPResponder) {
        let error: APIError = switch reading {
        case .noEvent: APIError(status: 404, code: "event_not_found", message: "no such event")
        case .noQueue: APIError(status: 409, code: "no_queue", message: "this event sells directly, without a queue")
        case .queue, .unavailable: APIError.unavailable
        }
        responder.send(Self.response(error))
    }
}
