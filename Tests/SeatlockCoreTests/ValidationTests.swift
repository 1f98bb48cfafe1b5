import Foundation
import SeatlockCore
import Testing

@Suite struct IdentifierTests {
    @Test(arguments: ["a", "demo", "ev-2027_x", String(repeating: "x", count: 64)])
    func accepts(_ id: String) { #expect(Identifier.isValid(id)) }

    @Test(arguments: ["", "a{b}", "a:b", "a*", "a b", "a\u{0}", "a%00", "a\r\nb", "é", "a/b", String(repeating: "x", count: 65)])
    func refuses(_ id: String) { #expect(!Identifier.isValid(id)) }

    @Test func seatIds() {
        #expect(SeatID("A-12-7") == SeatID(section: "A", row: 12, number: 7))
        #expect(SeatID("VIP_1-1-1")?.section == "VIP_1")
        for bad in ["A-0-1", "A-1-0", "A-01-1", "A-1", "A-1-1-1", "-1-1", "A--1", "A-1-+1", "A-1-99999", "A{x}-1-1", "A-1-1 "] {
            #expect(SeatID(bad) == nil, "\(bad) should be refused")
        }
    }

    @Test func bookingIdsAreValidIdentifiers() {
        let ids = (0..<100).map { _ in BookingID.random() }
        #expect(ids.allSatisfy { Identifier.isValid($0) && $0.count == 20 })
        #expect(Set(ids).count == 100)
    }

    @Test func keysShareTheEventHashTag() {
        let keys = EventKeys("E1")
        for key in [keys.event, keys.seats, keys.sold, keys.expiries, keys.log, keys.hold("A-1-1"), keys.free("A"),
                    keys.booking("b1"), keys.expiry("b1"), keys.user("u1"), keys.idempotency(caller: "u_u1", key: "k")] {
            #expect(key.hasPrefix("sl:{E1}:"))
        }
    }

    /// No event id can spell another namespace's key: the only other hash
    /// tag is reserved, and keys outside a tag have no braces.
    @Test func noEventKeyIsAnotherNamespacesKey() throws {
        #expect(!EventKeys.isValidEventId("users") && EventKeys.isValidEventId("Users") && EventKeys.isValidEventId("users2"))
        #expect(EventKeys.reservedTags.allSatisfy { UserKeys.user("u1").hasPrefix("sl:{\($0)}:") })
        for global in [GlobalKeys.events, GlobalKeys.deadLetters(group: "payments"), GlobalKeys.providerCharges] {
            #expect(!global.contains("{"))
        }
        #expect(EventKeys.parse(UserKeys.user("u1")) == nil)
        #expect(EventKeys.eventId(ofLog: "sl:{e1}:log") == "e1")
        #expect(EventKeys.eventId(ofLog: "sl:{users}:log") == nil)
        #expect(EventKeys.booking(ofExpiry: "sl:{e1}:expiry:b1")! == ("e1", "b1"))
        #expect(EventKeys.booking(ofExpiry: "sl:{e1}:expiries") == nil)
        #expect(EventKeys.booking(ofExpiry: "sl:{e:1}:expiry:b1") == nil)
        // What else expires (a buyer's rate limit) and torn names are no booking's timer.
        #expect(EventKeys.booking(ofExpiry: "sl:{e1}:rl:user:u1") == nil)
        for torn in ["sl:{e1}", "sl:{e1", "sl:{e1}x:log", "sl:{}:log", "sl:{e1}:", "sl:e1:expiry:b1", "", "sl:{e1}:expiry:"] {
            #expect(EventKeys.booking(ofExpiry: torn) == nil, "\(torn)")
        }
        #expect(EventKeys.parse("sl:{e1}:")! == ("e1", ""))
        #expect(throws: APIError.self) { try Router.route(method: "POST", path: "/v1/events/users/bookings") }
    }

    @Test func streamIDsParseStrictlyAndOrderAsRedisDoes() {
        #expect(StreamID("1-2")! < StreamID("1-10")!)
        #expect(StreamID("2-0")! > StreamID("1-99")!)
        #expect(StreamID("1-2")?.description == "1-2")
        for bad in ["", "1", "1-", "-1", "1--2", "1-2-3", "a-1", "1-x"] { #expect(StreamID(bad) == nil, "\(bad)") }
    }
}

@Suite struct TokenTests {
    let tokens = BuyerTokens(secret: "unit-test-secret-unit-test-secret-00")

    @Test func roundTrip() throws {
        let token = tokens.mint(userId: "alice")
        #expect(try tokens.verify(token) == "alice")
    }

    @Test func expiredAndNotYetValid() throws {
        let old = tokens.mint(userId: "alice", ttlSeconds: 10, now: Date(timeIntervalSinceNow: -3600))
        #expect(throws: TokenError.expired) { try tokens.verify(old) }
        let future = hs256(#"{"alg":"HS256"}"#, #"{"sub":"alice","exp":9999999999,"nbf":9999999990}"#)
        #expect(throws: TokenError.notYetValid) { try tokens.verify(future) }
    }

    @Test func wrongSecretOrTamperedPayload() throws {
        let other = BuyerTokens(secret: "another-secret-another-secret-0000").mint(userId: "alice")
        #expect(throws: TokenError.badSignature) { try tokens.verify(other) }
        let parts = tokens.mint(userId: "alice").split(separator: ".")
        let forged = parts[0] + "." + b64(#"{"sub":"mallory","exp":9999999999}"#) + "." + parts[2]
        #expect(throws: TokenError.badSignature) { try tokens.verify(String(forged)) }
    }

    @Test func onlyHS256() throws {
        let none = b64(#"{"alg":"none"}"#) + "." + b64(#"{"sub":"alice","exp":9999999999}"#) + "."
        #expect(throws: TokenError.unsupportedAlgorithm) { try tokens.verify(none) }
        let rs = hs256(#"{"alg":"RS256"}"#, #"{"sub":"alice","exp":9999999999}"#)
        #expect(throws: TokenError.unsupportedAlgorithm) { try tokens.verify(rs) }
    }

    @Test func onlyTheCanonicalSpellingAndNoCriticalExtensions() throws {
        let token = tokens.mint(userId: "alice")
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let last = alphabet.firstIndex(of: token.last!)!
        #expect(last & 3 == 0) // a 32-byte MAC leaves the last symbol's two low bits unused
        for flip in 1...3 {
            #expect(throws: TokenError.malformed) { try tokens.verify(String(token.dropLast()) + String(alphabet[last ^ flip])) }
        }
        #expect(try tokens.verify(token) == "alice")
        let crit = hs256(#"{"alg":"HS256","crit":["exp"]}"#, #"{"sub":"alice","exp":9999999999}"#)
        #expect(throws: TokenError.unsupportedExtension) { try tokens.verify(crit) }
    }

    @Test func malformed() {
        for bad in ["", "abc", "a.b", "a.b.c.d", "!!.??.**", String(repeating: "a", count: 5000)] {
            #expect(throws: TokenError.self) { try tokens.verify(bad) }
        }
        let noExp = hs256(#"{"alg":"HS256"}"#, #"{"sub":"alice"}"#)
        #expect(throws: TokenError.malformed) { try tokens.verify(noExp) }
        let badSub = hs256(#"{"alg":"HS256"}"#, #"{"sub":"a:b","exp":9999999999}"#)
        #expect(throws: TokenError.badSubject) { try tokens.verify(badSub) }
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals("secret", "secret"))
        #expect(!constantTimeEquals("secret", "secreT"))
        #expect(!constantTimeEquals("secret", "secret1"))
        #expect(!constantTimeEquals("", "x"))
    }

    private func b64(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// A correctly signed token with arbitrary header and claims.
    private func hs256(_ header: String, _ payload: String) -> String {
        let input = b64(header) + "." + b64(payload)
        let good = tokens.mint(userId: "x")
        _ = good
        return input + "." + signature(input)
    }

    private func signature(_ input: String) -> String {
        // Re-use the minting code path: HMAC-SHA256 over the signing input.
        HMACForTests.sign(input, secret: "unit-test-secret-unit-test-secret-00")
    }
}

import Crypto
enum HMACForTests {
    static func sign(_ input: String, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return Data(mac).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

@Suite struct RequestBodyTests {
    func decode(_ json: String) throws(APIError) -> HoldRequest { try HoldRequest.decode(Array(json.utf8)) }

    @Test func holdRequests() throws {
        #expect(try decode(#"{"seats":["A-1-1","A-1-2"]}"#) == .seats([SeatID("A-1-1")!, SeatID("A-1-2")!]))
        #expect(try decode(#"{"quantity":2,"section":"A"}"#) == .bestAvailable(section: "A", quantity: 2))
    }

    @Test(arguments: [
        ("", "invalid_json"), ("{", "invalid_json"), ("[]", "invalid_json"), ("null", "invalid_json"),
        (#"{"seats":[]}"#, "invalid_request"), (#"{"seats":["A-1-1","A-1-1"]}"#, "invalid_request"),
        (#"{"seats":["A:1:1"]}"#, "invalid_request"), (#"{"seats":"A-1-1"}"#, "invalid_json"),
        (#"{"seats":[1]}"#, "invalid_json"), (#"{"quantity":-1,"section":"A"}"#, "invalid_request"),
        (#"{"quantity":0,"section":"A"}"#, "invalid_request"), (#"{"quantity":1e40,"section":"A"}"#, "invalid_json"),
        (#"{"quantity":"2","section":"A"}"#, "invalid_json"), (#"{"quantity":2,"section":"A{x}"}"#, "invalid_request"),
        (#"{"quantity":2}"#, "invalid_request"), (#"{"seats":["A-1-1"],"quantity":1,"section":"A"}"#, "invalid_request"),
        (#"{}"#, "invalid_request"), (#"{"quantity":99999999999999999999,"section":"A"}"#, "invalid_json"),
    ])
    func refusedHoldBodies(_ body: String, _ code: String) {
        #expect(throws: APIError.self) { try decode(body) }
        do { _ = try decode(body) } catch { #expect(error.code == code, "\(body)") ; #expect(error.status == 400) }
    }

    @Test func tooManySeatsIsALimit() {
        let seats = (1...60).map { "\"A-1-\($0)\"" }.joined(separator: ",")
        do { _ = try decode("{\"seats\":[\(seats)]}"); Issue.record("accepted") } catch { #expect(error.status == 422) }
    }

    @Test func nonUTF8AndNULBodies() {
        #expect(throws: APIError.self) { try HoldRequest.decode([0x7b, 0xff, 0xfe, 0x7d]) }
        #expect(throws: APIError.self) { try HoldRequest.decode(Array(#"{"seats":["A-1-1"]}"#.utf8) + [0]) }
    }

    @Test func eventSpecValidation() throws {
        let good = #"{"id":"e1","name":"N","venue":"V","startsAt":"2027-01-01T20:00:00Z","sections":[{"id":"A","rows":2,"seatsPerRow":3,"priceCents":100}]}"#
        let spec = try EventSpec.decode(Array(good.utf8))
        #expect(spec.capacity == 6 && spec.holdSecondsOrDefault == 900 && spec.maxSeatsOrDefault == 4)
        let bad = [
            good.replacingOccurrences(of: "\"e1\"", with: "\"e:1\""),
            good.replacingOccurrences(of: "\"e1\"", with: "\"users\""), // the users' hash tag
            good.replacingOccurrences(of: "2027-01-01T20:00:00Z", with: "tomorrow"),
            good.replacingOccurrences(of: "\"rows\":2", with: "\"rows\":0"),
            good.replacingOccurrences(of: "\"rows\":2", with: "\"rows\":100000"),
            good.replacingOccurrences(of: "\"priceCents\":100", with: "\"priceCents\":-1"),
            good.replacingOccurrences(of: "\"id\":\"A\"", with: "\"id\":\"A-B\""),
            good.replacingOccurrences(of: "\"name\":\"N\"", with: "\"name\":\"\""),
            good.replacingOccurrences(of: "\"name\":\"N\"", with: "\"name\":\"a\\u0000b\""),
            good.replacingOccurrences(of: "[{\"id\"", with: "[{\"id\":\"A\",\"rows\":1,\"seatsPerRow\":1,\"priceCents\":1},{\"id\""),
            good.replacingOccurrences(of: "\"name\"", with: "\"holdSecond\":60,\"name\""), // a typo is not a default
            good.replacingOccurrences(of: "\"priceCents\":100", with: "\"priceCents\":100,\"currency\":\"EUR\""),
        ]
        for body in bad {
            #expect(throws: APIError.self, "\(body)") { try EventSpec.decode(Array(body.utf8)) }
        }
    }
}

@Suite struct RouterTests {
    @Test func routes() throws {
        #expect(try Router.route(method: "GET", path: "/healthz") == .health)
        #expect(try Router.route(method: "POST", path: "/v1/events") == .createEvent)
        #expect(try Router.route(method: "GET", path: "/v1/events/e1/seats") == .seats("e1"))
        #expect(try Router.route(method: "DELETE", path: "/v1/events/e1/bookings/b1") == .releaseBooking("e1", "b1"))
        #expect(try Router.route(method: "POST", path: "/v1/events/e1/bookings/b1/payment") == .requestPayment("e1", "b1"))
        #expect(try Router.route(method: "GET", path: "/v1/events") == .listEvents)
        #expect(try Router.route(method: "PATCH", path: "/v1/events/e1") == .updateEvent("e1"))
        #expect(try Router.route(method: "POST", path: "/v1/events/e1/cancel") == .cancelEvent("e1"))
        #expect(try Router.route(method: "GET", path: "/v1/events/e1/bookings") == .listBookings("e1"))
        #expect(try Router.route(method: "POST", path: "/v1/events/e1/bookings") == .createBooking("e1"))
        #expect(try Router.route(method: "GET", path: "/openapi.json") == .openAPI)
    }

    @Test func errors() {
        func code(_ method: String, _ path: String) -> Int {
            do { _ = try Router.route(method: method, path: path); return 0 } catch { return error.status }
        }
        #expect(code("GET", "/nope") == 404)
        #expect(code("GET", "/v1/events/e1/bookings/b1/payment/x") == 404)
        #expect(code("PUT", "/v1/events") == 405)
        #expect(code("PATCH", "/v1/events/e1/bookings/b1") == 405)
        #expect(code("GET", "/v1/events/e%7B1%7D") == 400)
        #expect(code("GET", "/v1/events/a:b/seats") == 400)
        #expect(code("GET", "/v1/events/" + String(repeating: "x", count: 65)) == 400)
        #expect(code("GET", "/v1/events/%00") == 400)
        // Empty components count: a trailing '/' is an empty id, a doubled one no route.
        #expect(code("GET", "/v1/events/") == 400)
        #expect(code("GET", "//healthz") == 404)
        #expect(code("GET", "/v1//events") == 404)
        #expect(code("GET", "") == 404)
    }
}

@Suite struct MediaTypeTests {
    @Test func jsonInAnyCaseWithItsParameters() {
        #expect(isJSONMediaType("application/json"))
        #expect(isJSONMediaType("Application/JSON; charset=utf-8"))
        #expect(isJSONMediaType(" application/json\t;charset=utf-8"))
    }

    @Test func anythingElseIsNot() {
        for type in ["application/json-patch+json", "application/jsonx", "text/plain", "", ";application/json",
                     "application/jso", "application\u{2215}json", "application/json\u{0}"] {
            #expect(!isJSONMediaType(type), "\(type)")
        }
    }
}


@Suite struct ClientAddressTests {
    let proxies: Set<String> = ["10.0.0.1", "10.0.0.2"]

    @Test func aTrustedProxyNamesTheBuyer() {
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "203.0.113.7", trusted: proxies) == "203.0.113.7")
        // Two proxies in a row: the right-most entry that is not one of ours.
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "203.0.113.7, 10.0.0.2", trusted: proxies) == "203.0.113.7")
        // What the client wrote itself, left of what our proxy saw, is never believed.
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4, 198.51.100.9", trusted: proxies) == "198.51.100.9")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "2001:db8::1", trusted: proxies) == "2001:db8::1")
    }

    @Test func anyOtherPeerKeepsItsOwnAddress() {
        #expect(clientAddress(peer: "198.51.100.9", forwardedFor: "1.2.3.4", trusted: proxies) == "198.51.100.9")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4", trusted: []) == "10.0.0.1")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: nil, trusted: proxies) == "10.0.0.1")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "", trusted: proxies) == "10.0.0.1")
    }

    @Test func junkCannotShapeAKey() {
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "sl:{x}:event", trusted: proxies) == "unknown")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "1.2.3.4, ", trusted: proxies) == "unknown")
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: Array(repeating: "1.2.3.4", count: 40).joined(separator: ","), trusted: proxies) == "unknown")
        // Every hop one of ours: the left-most is the best there is.
        #expect(clientAddress(peer: "10.0.0.1", forwardedFor: "10.0.0.2", trusted: proxies) == "10.0.0.2")
    }
}

@Suite struct ListTests {
    let cursors = ListCursors(secret: "a-test-secret-of-enough-length-0123456789")

    @Test func aCursorResumesOnlyItsOwnList() throws {
        let cursor = cursors.make(list: "bookings|e1|u_ann|", after: "1796634561822:b1")
        #expect(try cursors.member(of: cursor, list: "bookings|e1|u_ann|") == "1796634561822:b1")
        func refusal(_ text: String, list: String = "bookings|e1|u_ann|", now: Date = Date()) -> String? {
            do { _ = try cursors.member(of: text, list: list, now: now); return nil } catch { return error.code }
        }
        #expect(refusal(cursor, list: "bookings|e1|u_bob|") == "invalid_cursor") // another buyer's
        #expect(refusal(cursor, list: "bookings|e1|admin|") == "invalid_cursor")
        #expect(refusal(cursor, now: Date().addingTimeInterval(Double(ListCursors.maxAgeSeconds) + 60)) == "invalid_cursor")
        #expect(refusal(ListCursors(secret: "another-secret-of-enough-length-0123456789").make(list: "bookings|e1|u_ann|", after: "x")) == "invalid_cursor")
        let parts = cursor.split(separator: ".")
        #expect(refusal(String(parts[0]) + "." + String(parts[1].reversed())) == "invalid_cursor")
        #expect(refusal(String(parts[0])) == "invalid_cursor")
        #expect(refusal("") == "invalid_cursor" && refusal("..") == "invalid_cursor" && refusal(String(repeating: "A", count: 600)) == "invalid_cursor")
    }

    @Test func listQueries() throws {
        #expect(try ListQuery.parse("", statuses: EventStatus.all) == ListQuery(limit: 20))
        #expect(try ListQuery.parse("limit=100&status=open&cursor=abc", statuses: EventStatus.all)
                == ListQuery(limit: 100, cursor: "abc", status: "open"))
        for bad in ["limit=0", "limit=101", "limit=-1", "limit=0010", "status=held", "status=", "x=1", "limit=1&limit=2", "cursor="] {
            #expect(throws: APIError.self, "\(bad)") { try ListQuery.parse(bad, statuses: EventStatus.all) }
        }
        #expect(try ListQuery.parse("status=refund_pending", statuses: BookingStatus.all).status == "refund_pending")
    }

    @Test func listEntriesSortByTime() {
        #expect(GlobalKeys.listEntry(milliseconds: 1_796_634_561_822, id: "e1") == "1796634561822:e1")
        #expect(GlobalKeys.listEntry(milliseconds: 5, id: "e1") == "0000000000005:e1")
        #expect(GlobalKeys.listEntry(milliseconds: 999, id: "b") < GlobalKeys.listEntry(milliseconds: 1000, id: "a"))
    }

    @Test func eventPatches() throws {
        let patch = try EventPatch.decode(Array(#"{"name":"N","startsAt":"2030-01-01T00:00:00Z","sections":[{"id":"A","priceCents":100}]}"#.utf8))
        #expect(patch.scriptArguments == ["name", "N", "startsAt", "2030-01-01T00:00:00Z", "price:A", "100"])
        #expect(patch.startsAtMilliseconds == 1_893_456_000_000)
        for bad in ["{}", #"{"id":"x"}"#, #"{"status":"cancelled"}"#, #"{"sections":[{"id":"A","priceCents":1,"rows":2000}]}"#,
                    #"{"sections":[{"id":"A","priceCents":1},{"id":"A","priceCents":2}]}"#, #"{"venue":"\u0001"}"#, "", "[]"] {
            #expect(throws: APIError.self, "\(bad)") { try EventPatch.decode(Array(bad.utf8)) }
        }
    }
}
