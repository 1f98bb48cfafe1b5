// A small on-sale through the real stack (server, expiry, payments worker)
// by the stress tool, then the audit. Counts, never timings, are asserted.
import Foundation
import SeatlockCore
import SeatlockRedis
import SeatlockServer
import SeatlockStress
import SeatlockTestSupport
import SeatlockWorkers
import Testing

@Suite(.serialized) struct StressTests {
    @Test func fiveThousandBuyersForFiveHundredSeatsPassTheAudit() throws {
        let redis = try TestRedis()
        defer { redis.server.stop() }
        let server = try TestServer(redis: redis) { $0.paymentGraceSeconds = 30 }
        defer { server.stop() }
        let expiry = ExpiryService(redis: redis.url, scripts: redis.scripts)
        try expiry.start()
        defer { expiry.stop() }
        let payments = PaymentsService(redis: redis.url, scripts: redis.scripts, options: PaymentsOptions(consumer: "stress-test"))
        try payments.start()
        defer { payments.stop() }

        var options = StressOptions()
        options.port = server.port
        options.eventId = TestServer.uniqueEventId("stress")
        options.buyers = 5_000
        options.seats = 500
        options.connections = 64
        options.holdSeconds = 5
        options.tokenSecret = TestSecrets.tokenSecret
        options.adminToken = TestSecrets.adminToken
        let report = try Stress.run(options, redis: redis.url)

        #expect(report.stats.errors == 0, "\(report.text)")
        #expect(report.stats.finished == 5_000)
        #expect(report.auditPassed == true, "\(report.auditText ?? "")")
        let confirmed = report.stats.outcomes[.confirmed] ?? 0
        #expect(confirmed > 0)
        #expect((report.seatsSold ?? 0) <= 500)
        #expect(report.passed)
        #expect(report.json.contains("\"passed\":true"))
    }
}
