// `seatlock up`: the whole product on one machine. Without REDIS_URL it
// starts a private redis-server (data under ./data), then the booking
// server, creates a demo event, and prints how to try it.
import ArgumentParser
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockScripts
import SeatlockServer
import SeatlockWorkers

struct Up: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start Redis (if REDIS_URL is unset), the server and a demo event.")

    @OptionGroup var redis: RedisOptions
    @OptionGroup var server: ServerOptions
    @Option(help: "Directory for the private Redis and the dev secrets.") var dataDir: String = "./data"
    @Option(help: "Port of the private Redis (default: a free one).") var redisPort: Int?
    @Flag(help: "Run on a private Redis Cluster of 3 primaries and 3 replicas (free ports; made afresh at each start) instead of one redis-server.")
    var cluster = false

    func run() throws {
        server.bootstrapLogging()
        let dataURL = URL(fileURLWithPath: dataDir).standardizedFileURL
        var privateRedis: LocalRedisServer?
        var privateCluster: LocalRedisCluster?
        let secrets = try DevSecrets.loadOrCreate(in: dataURL)
        // `adminURL` sets Redis up (settings, scripts, the demo event); the
        // server and the workers run as `url`, the least-privilege user.
        let adminURL: RedisURL, url: RedisURL
        if redis.environmentURL != nil {
            adminURL = try redis.resolved()
            url = adminURL
        } else if cluster {
            let directory = dataURL.appendingPathComponent("redis-cluster")
            try? FileManager.default.removeItem(at: directory) // a cluster is made, not resumed: its ports are new each time
            let local = try LocalRedisCluster(directory: directory, persistent: true)
            privateCluster = local
            adminURL = local.url
            try ApplicationACL.install(on: RedisClient(url: adminURL), user: "seatlock", password: secrets.redisPassword)
            var app = adminURL
            app.username = "seatlock"
            app.password = secrets.redisPassword
            url = app
            say("started a Redis Cluster: 3 primaries, 3 replicas on 127.0.0.1:\(local.nodes.map { String($0.port) }.joined(separator: ",")) "
                + "(data in \(directory.path), made afresh at each start); the product runs as its ACL user 'seatlock' on every node")
        } else {
            let local = try LocalRedisServer(port: redisPort, directory: dataURL.appendingPathComponent("redis"), persistent: true)
            privateRedis = local
            adminURL = local.url
            try ApplicationACL.install(on: RedisClient(url: adminURL), user: "seatlock", password: secrets.redisPassword,
                                       database: adminURL.database)
            var app = adminURL
            app.username = "seatlock"
            app.password = secrets.redisPassword
            url = app
            say("started redis-server on 127.0.0.1:\(local.port) (data in \(local.directory.path)); the product runs as its ACL user 'seatlock'")
        }
        defer {
            privateRedis?.stop()
            privateCluster?.stop()
        }

        let config = try server.config(redis: url, fallbackAdminToken: secrets.adminToken, fallbackSecret: secrets.tokenSecret)
        let library = try ScriptLibrary.locate()
        let expiry = try server.expiry.options()
        try Preflight.check(adminURL, library: library, listen: expiry.listen)
        try createDemoEvent(url: adminURL, library: library)
        let payments = PaymentsService(redis: url, scripts: try BookingScripts(library), options: PaymentsOptions())
        let analytics = try AnalyticsService(redis: url, library: library)
        // Messages go to a file here; `seatlock worker notifications` has the SMTP and webhook channels.
        let outbox = dataURL.appendingPathComponent("outbox.jsonl").path
        var notificationOptions = NotificationsOptions()
        notificationOptions.outboxPath = outbox
        let notifications = NotificationsService(redis: url, options: notificationOptions)

        try ServerRunner.runUntilSignal(config: config, library: library, expiry: expiry,
                                        workers: [payments, analytics, notifications]) { port in
            let buyer = BuyerTokens(secret: config.tokenSecret).mint(userId: "demo-buyer", ttlSeconds: 86_400)
            say("""

            Seatlock is up: http://127.0.0.1:\(port)   (Ctrl-C stops it; the payments, notifications and analytics workers run too)
            Dashboard: http://127.0.0.1:\(port)/dashboard?event=demo
            Messages to registered buyers: \(outbox)
            Redis: \(url)
            Admin token: SEATLOCK_ADMIN_TOKEN, or the first line of \(dataURL.path)/dev-secrets (secrets are never printed):
              ADMIN=$(head -n 1 \(dataURL.path)/dev-secrets)

            Try it:
              curl -s http://127.0.0.1:\(port)/v1/events/demo
              TOKEN=\(buyer)
              curl -s -X POST http://127.0.0.1:\(port)/v1/events/demo/bookings \\
                -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
                -d '{"quantity":2,"section":"A"}'
              # register to get the e-mail, SMS and push (written to the messages file above):
              curl -s -X POST http://127.0.0.1:\(port)/v1/users -H 'Content-Type: application/json' \
                -d '{"email":"you@example.com","name":"You","phone":"+15550100"}'

            """)
        }
    }

    private func createDemoEvent(url: RedisURL, library: ScriptLibrary) throws {
        let client = try RedisClient(url: url)
        let scripts = try BookingScripts(library)
        let spec = try EventSpec.demo()
        let reply = try client.run(scripts.createEvent(spec))
        try client.call("SADD", GlobalKeys.events, spec.id)
        try client.call("ZADD", GlobalKeys.eventIndex, "0", GlobalKeys.eventIndexEntry(eventId: spec.id, startsAtMs: spec.startsAtMilliseconds))
        if APIReply(reply)?.status == 201 { say("created the demo event 'demo' (\(spec.capacity) seats)") }
    }
}

/// Secrets for a local stack, kept in DATA/dev-secrets (mode 600) so tokens
/// survive a restart: admin token, token secret, the Redis app user's password.
struct DevSecrets {
    let adminToken: String
    let tokenSecret: String
    let redisPassword: String

    static func loadOrCreate(in directory: URL) throws -> DevSecrets {
        let file = directory.appendingPathComponent("dev-secrets")
        var lines: [String] = []
        if let text = try? String(contentsOf: file, encoding: .utf8) {
            lines = text.split(separator: "\n").map(String.init)
            if lines.count >= 3 { return DevSecrets(adminToken: lines[0], tokenSecret: lines[1], redisPassword: lines[2]) }
        }
        // Keep what an older file had, so issued tokens stay valid.
        let secrets = DevSecrets(adminToken: lines.count >= 2 ? lines[0] : "adm_" + random(28),
                                 tokenSecret: lines.count >= 2 ? lines[1] : random(48), redisPassword: random(32))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try "\(secrets.adminToken)\n\(secrets.tokenSecret)\n\(secrets.redisPassword)\n".write(to: file, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return secrets
    }

    private static func random(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<count).map { _ in alphabet.randomElement()! })
    }
}

extension EventSpec {
    /// 2,000 seats in two sections: enough to try everything by hand.
    static func demo() throws -> EventSpec {
        try JSONDecoder().decode(EventSpec.self, from: Data("""
        {"id":"demo","name":"Seatlock Demo Night","venue":"Loopback Arena","startsAt":"2027-06-01T20:00:00Z",
         "holdSeconds":300,"maxSeatsPerUser":4,
         "sections":[{"id":"A","rows":20,"seatsPerRow":50,"priceCents":15000},
                     {"id":"B","rows":20,"seatsPerRow":50,"priceCents":9000}]}
        """.utf8))
    }
}
