// The two reply shapes of lua/, decoded from what hiredis hands over.
import SeatlockRedis
import SeatlockScripts
import Testing

@Suite struct ScriptRepliesTests {
    @Test func anAPIReplyIsAStatusABodyAndMaybeAWait() {
        #expect(APIReply(.array([.integer(201), .bulk("{}")])) == APIReply(.array([.bulk("201"), .bulk("{}")])))
        let limited = APIReply(.array([.integer(429), .bulk(#"{"error":"rate_limited"}"#), .integer(3)]))
        #expect(limited?.status == 429 && limited?.body == #"{"error":"rate_limited"}"# && limited?.retryAfterSeconds == 3)
        #expect(APIReply(.array([.integer(200), .bulk("{}")]))?.retryAfterSeconds == nil)
        for bad: RedisValue in [.null, .error("ERR x"), .array([.integer(201)]), .array([.integer(7), .bulk("{}")]),
                                .array([.bulk("x"), .bulk("{}")]), .array([.integer(200), .bulk("{}"), .null, .null])] {
            #expect(APIReply(bad) == nil, "\(bad)")
        }
    }

    @Test func aStateChangeIsAFlagAndAWord() {
        #expect(StateChange(.array([.integer(1), .bulk("expired")])) .map { [$0.changed ? "1" : "0", $0.word] } == ["1", "expired"])
        #expect(StateChange(.array([.integer(0), .bulk("not_due")]))?.changed == false)
        for bad: RedisValue in [.null, .array([.integer(2), .bulk("x")]), .array([.integer(1)]), .array([.integer(201), .bulk("{}"), .integer(1)])] {
            #expect(StateChange(bad) == nil, "\(bad)")
        }
    }
}
