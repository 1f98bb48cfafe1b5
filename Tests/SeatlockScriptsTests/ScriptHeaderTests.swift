// Each Lua script's header block names its KEYS and ARGV, one per line; the
// builders in SeatlockScripts are what really calls it. This reads every
// header and checks the builder's call against it: the same number of keys,
// each key of the pattern the header gives, and the arguments the header
// declares. Changing a KEYS line (or a builder) without the other fails here.
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockScripts
import Testing

/// One script's contract as its header states it.
struct ScriptHeader {
    /// KEYS[1...] patterns: `sl:{E}:booking:B`, prefixes end with ':'.
    var keys: [String] = []
    /// The highest ARGV index declared, and whether the last one is variadic (`ARGV[n..]`).
    var argumentCount = 0
    var variadic = false
    /// The last KEYS pattern repeats (`KEYS[n..]`): one key of it per item.
    var variadicKeys = false

    init(source: String) throws {
        guard source.hasPrefix("--[["), let end = source.range(of: "]]") else { throw HeaderError("no --[[ header block ]]") }
        let block = source[..<end.lowerBound]
        for line in block.split(separator: "\n") where line.hasPrefix("KEYS[") || line.hasPrefix("ARGV[") {
            // `KEYS[i]  pattern  description` / `ARGV[i] description`, `ARGV[i..]` for a variadic tail.
            guard let close = line.firstIndex(of: "]") else { continue }
            let label = line[line.index(line.startIndex, offsetBy: 5)..<close]
            let isVariadic = label.hasSuffix("..")
            guard let index = Int(isVariadic ? label.dropLast(2) : label) else { throw HeaderError("bad line: \(line)") }
            if line.hasPrefix("KEYS[") {
                guard index == keys.count + 1 else { throw HeaderError("KEYS[\(index)] out of order") }
                guard let pattern = line[line.index(after: close)...].split(whereSeparator: \.isWhitespace).first else {
                    throw HeaderError("KEYS[\(index)] has no key pattern")
                }
                keys.append(String(pattern))
                variadicKeys = isVariadic
            } else if index > argumentCount {
                argumentCount = index
                variadic = isVariadic
            }
        }
    }

    /// The header's pattern as a regex over a real key: `{E}` is the event
    /// id given, every upper-case word (B, U, K, CALLER, SEAT, …) a non-empty
    /// part without ':', ADDR a client address (IPv6 has colons).
    static func matches(_ pattern: String, _ key: String, eventId: String) -> Bool {
        var regex = "^"
        var rest = Substring(pattern)
        func isPlaceholder(_ c: Character) -> Bool { c.isASCII && c.isUppercase }
        while let first = rest.first {
            if rest.hasPrefix("{E}") {
                regex += NSRegularExpression.escapedPattern(for: "{\(eventId)}")
                rest = rest.dropFirst(3)
            } else if isPlaceholder(first) {
                let word = rest.prefix(while: isPlaceholder)
                rest = rest.dropFirst(word.count)
                regex += word == "ADDR" ? "[^{}]+" : "[^:]+" // an IPv6 address has colons
            } else {
                regex += NSRegularExpression.escapedPattern(for: String(first))
                rest = rest.dropFirst()
            }
        }
        return key.range(of: regex + "$", options: .regularExpression) != nil
    }
}

struct HeaderError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite struct ScriptHeaderTests {
    static let library = Result { try ScriptLibrary.locate() }
    static let event = "ev1", booking = "bk1", user = "us1"

    /// One call per script, built the way the server and the workers build it.
    static func calls(_ scripts: BookingScripts, analytics: LuaScript) throws -> [ScriptCall] {
        let spec = try EventSpec.decode(Array(#"""
        {"id":"ev1","name":"N","venue":"V","startsAt":"2027-01-01T20:00:00Z",
         "sections":[{"id":"A","rows":1,"seatsPerRow":2,"priceCents":100}]}
        """#.utf8))
        let idem = EventKeys(event).idempotency(caller: Caller.buyer(user).scope, key: "k1")
        return [
            scripts.createEvent(spec, idempotencyKey: EventKeys(event).idempotency(caller: Caller.admin.scope, key: "k1")),
            scripts.addSeats(spec, token: "t1", maxSeats: 1)[0],
            scripts.getEvent(event),
            scripts.getBooking(event: event, booking: booking, owner: user),
            scripts.hold(.seats([SeatID("A-1-1")!]), event: event, booking: booking, user: user, client: "127.0.0.1", idempotencyKey: idem),
            scripts.hold(.bestAvailable(section: "A", quantity: 2), event: event, booking: booking, user: user, client: "127.0.0.1",
                         idempotencyKey: idem),
            scripts.requestPayment(event: event, booking: booking, owner: user, paymentToken: "tok_visa", graceMilliseconds: 1000,
                                   client: "127.0.0.1", idempotencyKey: idem),
            scripts.confirm(event: event, booking: booking, paymentId: "pay1", confirmationCode: "SL-1"),
            scripts.release(event: event, booking: booking, owner: user, actor: "buyer"),
            scripts.expire(event: event, booking: booking, actor: "sweeper"),
            scripts.paymentFailed(event: event, booking: booking, attempt: 1, reason: "declined", retryAtMilliseconds: 0),
            scripts.cancel(event: event, booking: booking, attempt: 1, reason: "declined"),
            scripts.refund(event: event, booking: booking, paymentId: "pay1", refundId: "re1", reason: "buyer"),
            scripts.createUser(try UserRegistration.decode(Array(#"{"email":"a@b.example","name":"A"}"#.utf8)), id: user,
                               client: "127.0.0.1"),
            scripts.queueJoin(event: event, buyers: [(user, 7)]),
            scripts.queueTick(event: event, bound: 2000, told: [1]),
            scripts.queueControl(event: event, pause: true, actor: "admin"),
            scripts.waitlistJoin(event: event, user: user, WaitlistRequest(quantity: 2, section: "A")),
            scripts.waitlistGet(event: event, user: user),
            scripts.waitlistLeave(event: event, user: user),
            scripts.updateEvent(event: event, EventPatch(name: "M", status: "closed"), actor: "admin"),
            scripts.cancelEvent(event: event, actor: "admin"),
            scripts.cancelBookings(event: event, batch: 100, actor: "admin"),
            scripts.listBookings(event: event, list: EventKeys(event).bookings, after: "", limit: 20),
            scripts.reindexBookings(event: event, bookingIds: [booking, "bk2"]),
            AnalyticsScript.call(analytics, eventId: event, entries: [("1-1", ["type": "booking.confirmed", "bookingId": booking]),
                                                                     ("1-2", ["type": "booking.confirmed", "bookingId": "bk2"])]),
        ]
    }

    /// Scripts run only from redis-cli (scripts/ops), with no Swift builder.
    static let operatorOnly: Set<String> = []

    @Test func everyBuilderMatchesItsScriptsHeader() throws {
        let library = try Self.library.get()
        let calls = try Self.calls(BookingScripts(library), analytics: library.script(AnalyticsScript.name))
        for call in calls {
            let header = try ScriptHeader(source: call.script.source)
            let name = call.script.name
            #expect(!header.keys.isEmpty, "\(name).lua declares no KEYS")
            var patterns = header.keys
            if header.variadicKeys, let repeated = patterns.last, call.keys.count >= patterns.count - 1 {
                patterns = patterns.dropLast() + Array(repeating: repeated, count: call.keys.count - patterns.count + 1)
            }
            #expect(patterns.count == call.keys.count, "\(name).lua declares \(header.keys.count) KEYS, the builder passes \(call.keys.count)")
            for (index, (pattern, key)) in zip(patterns, call.keys).enumerated() {
                #expect(ScriptHeader.matches(pattern, key, eventId: Self.event),
                        "\(name).lua KEYS[\(index + 1)] is \(pattern), the builder passes \(key)")
            }
            if header.variadic {
                #expect(call.args.count >= header.argumentCount, "\(name).lua needs at least \(header.argumentCount) ARGV, got \(call.args.count)")
            } else {
                #expect(call.args.count == header.argumentCount, "\(name).lua declares \(header.argumentCount) ARGV, the builder passes \(call.args.count)")
            }
        }
        let checked = Set(calls.map(\.script.name))
        for name in library.scripts.keys.sorted() where !checked.contains(name) {
            #expect(Self.operatorOnly.contains(name), "lua/\(name).lua has no builder in SeatlockScripts (or add it to operatorOnly)")
        }
    }

    @Test func patternsMatchOnlyTheirKeys() {
        #expect(ScriptHeader.matches("sl:{E}:booking:B", "sl:{ev1}:booking:bk1", eventId: "ev1"))
        #expect(ScriptHeader.matches("sl:{E}:hold:", "sl:{ev1}:hold:", eventId: "ev1"))
        #expect(ScriptHeader.matches("sl:{E}:idemkeys:u_U", "sl:{ev1}:idemkeys:u_us1", eventId: "ev1"))
        #expect(!ScriptHeader.matches("sl:{E}:booking:B", "sl:{ev1}:expiry:bk1", eventId: "ev1"))
        #expect(!ScriptHeader.matches("sl:{E}:hold:", "sl:{ev1}:hold:A-1-1", eventId: "ev1"))
        #expect(!ScriptHeader.matches("sl:{E}:event", "sl:{ev2}:event", eventId: "ev1"))
        #expect(!ScriptHeader.matches("sl:{E}:user:U", "sl:{ev1}:user:", eventId: "ev1"))
        #expect(ScriptHeader.matches("sl:{E}:rl:ip:ADDR", "sl:{ev1}:rl:ip:2001:db8::1", eventId: "ev1"))
    }

    @Test func aHeaderWithAKeyOutOfOrderIsRefused() {
        #expect(throws: HeaderError.self) { try ScriptHeader(source: "--[[ x\nKEYS[2] sl:{E}:event  e\n]]\n") }
    }
}
