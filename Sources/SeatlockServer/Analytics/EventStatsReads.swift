// Reads an event's analytics from Redis (one pipeline) and renders them
// with SeatlockCore's EventStats.
import SeatlockCore
import SeatlockRedis

extension EventStats {
    /// The stats JSON, in one pipeline on the loop's connection; `.success(nil)`
    /// when there is no such event (404).
    public static func read(eventId: String, on redis: RedisConnection, completion: @escaping (Result<String?, RedisError>) -> Void) {
        redis.pipeline(commands(eventId: eventId)) { results in
            var replies: [RedisValue] = []
            for result in results {
                switch result {
                case let .success(reply):
                    if let message = reply.errorMessage { return completion(.failure(RedisError(.server, message))) }
                    replies.append(reply)
                case let .failure(error):
                    return completion(.failure(error))
                }
            }
            completion(.success(Self.render(eventId: eventId, replies: replies)))
        }
    }

    /// The same, blocking (command line, tests).
    public static func read(eventId: String, client: RedisClient) throws -> String? {
        let replies = try client.pipeline(commands(eventId: eventId))
        if let message = replies.compactMap(\.errorMessage).first { throw RedisError(.server, message) }
        return render(eventId: eventId, replies: replies)
    }

    static func render(eventId: String, replies: [RedisValue]) -> String? {
        guard replies.count == 5 else { return nil }
        let event = replies[0].fields
        guard !event.isEmpty else { return nil }
        return render(eventId: eventId, event: event, stats: replies[1].fields, activeBuyers: replies[2].int ?? 0,
                      confirmMs: replies[3].fields, series: replies[4].fields)
    }

    /// The analytics counters of each event (plus `activeBuyers`), for
    /// /metrics: one pipeline of HGETALL + PFCOUNT per event. An event
    /// without figures yet has every counter at 0.
    public static func readCounters(eventIds: [String], on redis: RedisConnection,
                                    completion: @escaping (Result<[String: [String: Int]], RedisError>) -> Void) {
        let ids = eventIds.filter { Identifier.isValid($0) }
        let reads = ids.flatMap { id -> [[String]] in
            let keys = AnalyticsKeys(id)
            return [["HGETALL", keys.stats], ["PFCOUNT", keys.buyers]]
        }
        redis.pipeline(reads) { results in
            var out: [String: [String: Int]] = [:]
            for (index, id) in ids.enumerated() {
                switch (results[2 * index], results[2 * index + 1]) {
                case let (.success(stats), .success(buyers)):
                    var figures = Self.counters(stats.fields)
                    figures["activeBuyers"] = buyers.int ?? 0
                    out[id] = figures
                case let (.failure(error), _), let (_, .failure(error)):
                    return completion(.failure(error))
                }
            }
            completion(.success(out))
        }
    }
}
