// The operator's tools on a real Redis after a small sale: the read-only
// functions (FCALL_RO) and the redis-cli-only scripts in scripts/ops/.
import Foundation
import SeatlockAudit
import SeatlockCore
import SeatlockRedis
import SeatlockServer
import SeatlockTestSupport
import Testing

/// Runs scripts/ops/NAME with REDIS_URL pointing at the test Redis; returns (exit code, stdout).
private func ops(_ name: String, _ arguments: [String], redis: TestRedis) throws -> (Int32, String) {
    let scripts = redis.library.directory.deletingLastPathComponent().appendingPathComponent("scripts/ops")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/bash")
    process.arguments = [scripts.appendingPathComponent(name).path] + arguments
    var environment = ProcessInfo.processInfo.environment
    environment["REDIS_URL"] = redis.url.description // a cluster's: every node a seed
    environment["SEATLOCK_LUA_DIR"] = redis.library.directory.path
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct OperatorTests {
    @Test func readOnlyFunctionsDescribeEventsSeatsAndBookings() throws {
        let h = try ScriptHarness(rows: 2, seatsPerRow: 5)
        let held = BookingID.random(), sold = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], user: "x", booking: held).0 == 201)
        #expect(try h.hold(["A-2-1"], user: "y", booking: sold).0 == 201)
        #expect(try h.pay(sold, user: "y").0 == 202)
        #expect(try h.confirm(sold).0 == 200)

        let stats = try h.client.checked(["FCALL_RO", "seatlock_event_stats", "3", h.keys.event, h.keys.sold, h.keys.freePrefix]).fields
        #expect(stats["capacity"] == "15" && stats["sold"] == "1" && stats["held"] == "2" && stats["free"] == "12" && stats["consistent"] == "1")

        func seat(_ id: String) throws -> [String: String] {
            try h.client.checked(["FCALL_RO", "seatlock_seat_info", "3", h.keys.seats, h.keys.sold, h.keys.hold(id), id]).fields
        }
        #expect(try seat("A-1-1")["status"] == "held" && seat("A-1-1")["booking"] == held)
        #expect(try (Int(seat("A-1-1")["holdTtlMs"] ?? "") ?? 0) > 0)
        #expect(try seat("A-2-1")["status"] == "sold" && seat("A-2-1")["booking"] == sold)
        #expect(try seat("A-2-5")["status"] == "free" && seat("A-2-5")["priceCents"] == "1000")
        #expect(try h.client.send(["FCALL_RO", "seatlock_seat_info", "3", h.keys.seats, h.keys.sold, h.keys.hold("Z-1-1"), "Z-1-1"]).errorMessage != nil)

        let booking = try h.client.checked(["FCALL_RO", "seatlock_booking_info", "2", h.keys.booking(held), h.keys.expiry(held)]).fields
        #expect(booking["status"] == "held" && booking["seats"] == "A-1-1,A-1-2" && (Int(booking["timerTtlMs"] ?? "") ?? 0) > 0)
        // Read-only: FCALL_RO accepts them, so a replica could serve them too.
        #expect(try h.client.send(["FCALL_RO", "seatlock_booking_info", "2", h.keys.booking("nope"), h.keys.expiry("nope")]).errorMessage?.contains("no such booking") == true)
    }

    @Test func functionsSeeAnExpiredBooking() throws {
        let h = try ScriptHarness(rows: 1, seatsPerRow: 5, holdSeconds: 1)
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-3"], user: "late", booking: booking).0 == 201)
        Thread.sleep(forTimeInterval: 1.1)
        #expect(try h.expire(booking).array?.first?.int == 1)
        let info = try h.client.checked(["FCALL_RO", "seatlock_booking_info", "2", h.keys.booking(booking), h.keys.expiry(booking)]).fields
        #expect(info["status"] == "expired" && info["timerTtlMs"] == "-2")
        let seat = try h.client.checked(["FCALL_RO", "seatlock_seat_info", "3", h.keys.seats, h.keys.sold, h.keys.hold("A-1-3"), "A-1-3"]).fields
        #expect(seat["status"] == "free")
        let stats = try h.client.checked(["FCALL_RO", "seatlock_event_stats", "3", h.keys.event, h.keys.sold, h.keys.freePrefix]).fields
        #expect(stats["free"] == "10" && stats["held"] == "0" && stats["consistent"] == "1")
    }

    @Test func forceReleaseFreesTheSeatsAndLeavesTheAuditClean() throws {
        let h = try ScriptHarness()
        let booking = BookingID.random()
        #expect(try h.hold(["A-1-1", "A-1-2"], user: "stuck", booking: booking).0 == 201)
        let (status, output) = try ops("force-release", [h.event, booking], redis: h.redis)
        #expect(status == 0 && output.contains("released"), "\(output)")
        #expect(try h.field(h.keys.booking(booking), "status") == "released")
        #expect(try h.field(h.keys.booking(booking), "releasedBy") == "operator")
        #expect(try h.client.call("EXISTS", h.keys.hold("A-1-1")).int == 0)
        #expect(try h.client.call("ZSCORE", h.keys.free("A"), "A-1-1") != .null)
        let again = try ops("force-release", [h.event, booking], redis: h.redis)
        #expect(again.0 == 1 && again.1.contains("invalid_state"))
        let report = try EventAudit(eventId: h.event).run(h.client)
        #expect(report.passed, "\(report.text)")
        #expect(try ops("force-release", ["bad{id}", booking], redis: h.redis).0 == 2)
    }

    @Test func forceReleaseFollowsTheEventToItsPrimaryOnTheCluster() throws {
        let h = try ScriptHarness(on: try TestRedis.sharedCluster())
        let booking = BookingID.random()
        #expect(try h.hold(["A-2-1"], user: "stuck", booking: booking).0 == 201)
        let (status, output) = try ops("force-release", [h.event, booking], redis: h.redis)
        #expect(status == 0 && output.contains("released"), "\(output)")
        #expect(try h.field(h.keys.booking(booking), "status") == "released")
        #expect(try EventAudit(eventId: h.event).run(h.client).passed)
        // The read-only functions were loaded on every primary: this event's answers.
        let stats = try h.client.checked(["FCALL_RO", "seatlock_event_stats", "3", h.keys.event, h.keys.sold, h.keys.freePrefix]).fields
        #expect(stats["held"] == "0" && stats["consistent"] == "1", "\(stats)")
    }

    @Test func salesCloseAndReopen() throws {
        let h = try ScriptHarness()
        #expect(try ops("sales", [h.event, "close"], redis: h.redis).1.contains("closed"))
        let refused = try h.hold(["A-1-1"])
        #expect(refused.0 == 409 && refused.1["error"] as? String == "sales_closed")
        #expect(try ops("sales", [h.event, "open"], redis: h.redis).1.contains("open"))
        #expect(try h.hold(["A-1-1"]).0 == 201)
        #expect(try h.logTypes().contains("event.sales_closed") && h.logTypes().contains("event.sales_opened"))
        #expect(try ops("sales", [h.event, "sideways"], redis: h.redis).0 == 2)
    }

    @Test func aDeadLetterGoesBackToItsStream() throws {
        let h = try ScriptHarness()
        let group = "ops\(UInt32.random(in: 0...UInt32.max))"
        let dlq = GlobalKeys.deadLetters(group: group)
        let id = try h.client.call("XADD", dlq, "*", "stream", h.keys.log, "entryId", "1-1", "reason", "test", "group", group,
                                   "field.type", "payment.requested", "field.bookingId", "bfixed", "field.eventId", h.event).string ?? ""
        let before = try h.client.call("XLEN", h.keys.log).int ?? 0
        let (status, output) = try ops("dlq-replay", [group, id], redis: h.redis)
        #expect(status == 0 && output.contains("replayed"), "\(output)")
        #expect(try h.client.call("XLEN", dlq).int == 0)
        #expect(try h.client.call("XLEN", h.keys.log).int == before + 1)
        let last = try h.client.call("XREVRANGE", h.keys.log, "+", "-", "COUNT", "1").array?.first?.array?.last?.fields
        #expect(last?["type"] == "payment.requested" && last?["bookingId"] == "bfixed")
        let firstField = try h.client.call("XREVRANGE", h.keys.log, "+", "-", "COUNT", "1").array?.first?.array?.last?.array?.first?.string
        #expect(firstField == "type")
        #expect(try ops("dlq-replay", [group, id], redis: h.redis).0 == 1) // gone now
    }
}
