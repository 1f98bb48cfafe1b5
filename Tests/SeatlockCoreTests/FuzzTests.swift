// A seeded fuzzer for everything that reads client input before Redis sees
// it: the router, the body decoders, the token verifier, the target check.
// Inputs are mutations of valid requests (bytes flipped, dangerous bytes
// inserted, parts cut or repeated, numbers blown up). Properties: nothing
// crashes or hangs, every refusal is a 4xx APIError, and whatever is accepted
// is clean (ids valid, seats distinct and well formed, numbers in range).
//
// Run longer with:
//   SEATLOCK_FUZZ_ITERATIONS=1000000 SEATLOCK_FUZZ_SEED=7 swift test --filter FuzzTests
import Foundation
import SeatlockCore
import Testing

struct Mutator {
    var random: SeededRandom
    /// Bytes that have broken parsers before: structure, escapes, NUL, CR/LF,
    /// percent signs, UTF-8 lead and continuation bytes, invalid UTF-8.
    static let nasty: [UInt8] = Array("{}[]:,\"\\*%/.-_ 0123456789eE+\u{7f}".utf8) + [0, 9, 10, 13, 0x80, 0xBF, 0xC0, 0xC3, 0xE2, 0xF0, 0xFF]
    static let fragments: [[UInt8]] = ["\\u0000", "\\ud800", "%00", "%0D%0A", "%7B", "%C3%A9", "1e309", "-1", "99999999999999999999",
                                       "null", "true", "[]", "{}", "\"\"", "é", "\u{202E}", "💺", "NaN", "0x10", ",,", "\"seats\":"].map { Array($0.utf8) }

    mutating func int(_ bound: Int) -> Int { Int(random.next() % UInt64(max(1, bound))) }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...int(4) {
            let at = int(bytes.count + 1)
            switch int(7) {
            case 0 where !bytes.isEmpty: bytes[min(at, bytes.count - 1)] = Self.nasty[int(Self.nasty.count)]
            case 1: bytes.insert(Self.nasty[int(Self.nasty.count)], at: at)
            case 2: bytes.insert(contentsOf: Self.fragments[int(Self.fragments.count)], at: at)
            case 3 where !bytes.isEmpty: bytes.removeSubrange(at..<min(bytes.count, at + 1 + int(8)))
            case 4 where at < bytes.count: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + int(16))], at: at)
            case 5: bytes = Array(bytes.prefix(at))
            default: bytes.insert(contentsOf: Array(repeating: bytes.isEmpty ? 65 : bytes[int(bytes.count)], count: int(300)), at: at)
            }
        }
        return bytes
    }
}

@Suite struct FuzzTests {
    static let iterations = ProcessInfo.processInfo.environment["SEATLOCK_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 20_000
    static let seed = ProcessInfo.processInfo.environment["SEATLOCK_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_125

    static func checkRefusal(_ error: APIError, _ input: [UInt8]) {
        #expect((400..<500).contains(error.status), "status \(error.status) for \(input)")
        #expect(!error.code.isEmpty && JSONSerialization.isValidJSONObject(["e": error.code]))
    }

    @Test func bodies() throws {
        var mutator = Mutator(random: SeededRandom(seed: Self.seed))
        let holds = [#"{"seats":["A-1-1","A-1-2"]}"#, #"{"quantity":2,"section":"A"}"#].map { Array($0.utf8) }
        let payment = Array(#"{"paymentToken":"tok_visa"}"#.utf8)
        let user = Array(#"{"email":"ana@example.com","name":"Ana","phone":"+351912345678"}"#.utf8)
        let event = Array(#"{"id":"e1","name":"N","venue":"V","startsAt":"2027-01-01T20:00:00Z","holdSeconds":900,"maxSeatsPerUser":4,"sections":[{"id":"A","rows":2,"seatsPerRow":3,"priceCents":100}]}"#.utf8)
        var accepted = 0
        for round in 0..<Self.iterations {
            let holdInput = mutator.mutate(holds[round % 2])
            do {
                switch try HoldRequest.decode(holdInput, maxSeats: 8) {
                case let .seats(seats):
                    #expect(!seats.isEmpty && seats.count <= 8 && Set(seats).count == seats.count)
                    #expect(seats.allSatisfy { SeatID($0.description) == $0 })
                case let .bestAvailable(section, quantity):
                    #expect(Identifier.isValidSection(section) && (1...8).contains(quantity))
                }
                accepted += 1
            } catch { Self.checkRefusal(error, holdInput) }

            let paymentInput = mutator.mutate(payment)
            do { #expect(Identifier.isValid(try PaymentRequest.decode(paymentInput).paymentToken)); accepted += 1 } catch { Self.checkRefusal(error, paymentInput) }

            let userInput = mutator.mutate(user)
            do {
                let registration = try UserRegistration.decode(userInput)
                #expect(registration.email == registration.email.lowercased() && registration.email.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7f })
                #expect(!registration.name.unicodeScalars.contains { $0.value < 0x20 })
                accepted += 1
            } catch { Self.checkRefusal(error, userInput) }

            if round % 4 == 0 { // JSONDecoder is slower; a quarter of the rounds
                let eventInput = mutator.mutate(event)
                do {
                    let spec = try EventSpec.decode(eventInput)
                    #expect(Identifier.isValid(spec.id) && !spec.sections.isEmpty)
                    accepted += 1
                } catch { Self.checkRefusal(error, eventInput) }
            }
        }
        // The mutations must leave some inputs valid, or the properties above were never exercised.
        #expect(accepted > Self.iterations / 50)
    }

    @Test func pathsAndMethods() {
        var mutator = Mutator(random: SeededRandom(seed: Self.seed &+ 1))
        let paths = ["/v1/events", "/v1/events/e1", "/v1/events/e1/seats", "/v1/events/e1/bookings", "/v1/events/e1/bookings/b1",
                     "/v1/events/e1/bookings/b1/payment", "/v1/users", "/healthz", "/readyz",
                     "/v1/events/e1/stats", "/v1/events/e1/stream", "/metrics", "/dashboard"].map { Array($0.utf8) }
        let methods = ["GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"]
        var routed = 0
        for round in 0..<Self.iterations {
            let input = mutator.mutate(paths[round % paths.count])
            let path = String(decoding: input, as: UTF8.self)
            do {
                let route = try Router.route(method: methods[mutator.int(methods.count)], path: path)
                routed += 1
                #expect(Router.isCleanTarget(path))
                switch route {
                case let .event(e), let .seats(e), let .createBooking(e), let .eventStats(e), let .eventStream(e): #expect(Identifier.isValid(e))
                case let .booking(e, b), let .releaseBooking(e, b), let .requestPayment(e, b): #expect(Identifier.isValid(e) && Identifier.isValid(b))
                default: break
                }
            } catch {
                Self.checkRefusal(error, input)
            }
        }
        // Most mutations break the path or pick a wrong method; some must still route.
        #expect(routed > Self.iterations / 400)
    }

    @Test func tokens() {
        var mutator = Mutator(random: SeededRandom(seed: Self.seed &+ 2))
        let tokens = BuyerTokens(secret: "fuzz-secret-0123456789-0123456789-01")
        let valid = Array(tokens.mint(userId: "fuzz-user").utf8)
        var stillValid = 0
        for _ in 0..<Self.iterations {
            let input = mutator.mutate(valid)
            // A mutated token may verify only if the mutation left it equal to a valid one.
            if let user = try? tokens.verify(String(decoding: input, as: UTF8.self)) {
                #expect(user == "fuzz-user")
                stillValid += 1
            }
        }
        #expect(stillValid < Self.iterations / 10)
    }
}
