// RedisURL parsing: pure, no server.
import SeatlockRedis
import Testing

@Suite struct RedisURLTests {
    @Test func parses() {
        #expect(RedisURL("redis://127.0.0.1:6380/2") == RedisURL(host: "127.0.0.1", port: 6380, database: 2))
        #expect(RedisURL("redis://app:pw@localhost:6379/0") == RedisURL(host: "127.0.0.1", port: 6379, username: "app", password: "pw"))
        #expect(RedisURL("redis://:pw@h")?.password == "pw")
        #expect(RedisURL("redis://h:pw@h:1")?.username == "h")
        #expect(RedisURL("http://x") == nil)
        #expect(RedisURL("redis://h:0") == nil)
        #expect(RedisURL("redis://h:1/x") == nil)
        #expect(!(RedisURL("redis://u:secret@h:1")!.description.contains("secret")))
    }
}
