// Stats rendering from the raw hashes: pure, no Redis.
import Foundation
import SeatlockCore
import Testing

@Suite struct EventStatsRenderTests {
    @Test func renderIsTheDocumentedJSON() throws {
        let json = EventStats.render(
            eventId: "e1",
            event: ["capacity": "100", "held": "7", "sold": "20", "revenueCents": "99"],
            stats: ["bookingsInitiated": "12", "holds": "12", "seatsHeld": "30", "confirmations": "5", "seatsSold": "20", "revenueCents": "50000",
                    "expiries": "2", "releases": "1", "cancellations": "1", "refunds": "0", "paymentsRequested": "7", "paymentsCompleted": "5",
                    "paymentsFailed": "3", "held": "7", "sold": "20", "lastEntry": "1-0"],
            activeBuyers: 9,
            confirmMs: ["100": "1", "500": "2", "2500": "1", "+Inf": "1", "count": "5", "sum": "1237000", "max": "1234567"],
            series: [
                "10": #"{"t":7210,"holds":2,"confirmations":1,"expiries":0,"releases":0,"seatsHeld":4,"seatsSold":2}"#,
                "11": #"{"t":7211,"holds":1,"confirmations":0,"expiries":1,"releases":1,"seatsHeld":1,"seatsSold":0}"#,
                "9": #"{"t":3609,"holds":5,"confirmations":0,"expiries":0,"releases":0,"seatsHeld":5,"seatsSold":0}"#, // an hour ago
            ])
        #expect(json == #"{"eventId":"e1","capacity":100,"available":73,"held":7,"sold":20,"revenueCents":50000,"#
            + #""totals":{"bookingsInitiated":12,"holds":12,"seatsHeld":30,"confirmations":5,"expiries":2,"releases":1,"cancellations":1,"#
            + #""paymentsRequested":7,"paymentsCompleted":5,"paymentsFailed":3,"paymentsRefunded":0},"#
            + #""conversion":0.4167,"activeBuyers":9,"holdToConfirmMs":{"count":5,"p50":500,"p90":1234567,"p99":1234567},"#
            + #""series":[{"t":7210,"holds":2,"confirmations":1,"expiries":0,"releases":0,"seatsHeld":4,"seatsSold":2},"#
            + #"{"t":7211,"holds":1,"confirmations":0,"expiries":1,"releases":1,"seatsHeld":1,"seatsSold":0}]}"#)
        #expect(try JSONSerialization.jsonObject(with: Data(json.utf8)) is [String: Any])
    }

    @Test func aNewEventHasZeros() {
        let json = EventStats.render(eventId: "e2", event: ["capacity": "10"], stats: [:], activeBuyers: 0, confirmMs: [:], series: [:])
        #expect(json == #"{"eventId":"e2","capacity":10,"available":10,"held":0,"sold":0,"revenueCents":0,"totals":{"bookingsInitiated":0,"#
            + #""holds":0,"seatsHeld":0,"confirmations":0,"expiries":0,"releases":0,"cancellations":0,"paymentsRequested":0,"#
            + #""paymentsCompleted":0,"paymentsFailed":0,"paymentsRefunded":0},"conversion":0,"activeBuyers":0,"#
            + #""holdToConfirmMs":{"count":0,"p50":0,"p90":0,"p99":0},"series":[]}"#)
    }

    @Test func percentilesAreBucketUpperBounds() {
        let latency = EventStats.confirmLatency(["100": "90", "1000": "9", "5000": "1", "count": "100"])
        #expect(latency == ConfirmLatency(count: 100, p50: 100, p90: 100, p99: 1000))
        #expect(EventStats.counters(["held": "3", "lastEntry": "1-1"])["held"] == 3)
        #expect(SeriesPoint(json: "not json") == nil)
    }
}

@Suite struct SeatMapViewTests {
    let section: SeatMapView.Section = ("A", [(SeatID("A-1-1")!, "100"), (SeatID("A-1-2")!, "100"), (SeatID("A-2-1")!, "100"), (SeatID("A-2-2")!, "100")])

    @Test func bothEncodingsSayTheSame() throws {
        let free: Set = ["A-1-1", "A-2-2"], sold: Set = ["A-2-1"]
        var shape = try #require(SeatMapView.shapes("A:2:2:100").first)
        shape.mark(free: free)
        shape.mark(sold: sold.union(["B-1-1", "AB-1-1", "X-A-1-1", "A-9-9", "A-1-x", "junk"])) // other sections and junk leave it alone
        #expect(SeatMapView.compact([shape]) == #"{"format":"compact","sections":[{"id":"A","rows":2,"seatsPerRow":2,"priceCents":100,"status":"ahsa"}]}"#)
        let full = SeatMapView.render([section], isFree: free.contains, isSold: sold.contains)
        let seats = try #require((try JSONSerialization.jsonObject(with: Data(full.utf8)) as? [String: Any])?["seats"] as? [[String: Any]])
        #expect(seats.map { "\($0["id"]!):\($0["status"]!)" } == ["A-1-1:available", "A-1-2:held", "A-2-1:sold", "A-2-2:available"])
    }

    @Test func seatPositionsAreReadFromTheEnd() {
        #expect(SeatMapView.position("VIP-12-345")! == (3, 12, 345))
        #expect(SeatMapView.position("A-B-1-2")! == (3, 1, 2))
        for bad in ["A-1", "A--2", "A-1-", "12", "-1-2", "A-1-99999999999"] { #expect(SeatMapView.position(bad) == nil, "\(bad)") }
        #expect(SeatMapView.shapes("A:2:3:100,B:1:1:0").map(\.status.count) == [6, 1])
    }

    @Test func theMemoryLimiterGivesTheBurstThenTheRate() {
        var limiter = MemoryRateLimiter(RateLimit(perSecond: 2, burst: 3))
        #expect((0..<3).map { _ in limiter.check("a", now: 0) == nil } == [true, true, true])
        #expect(limiter.check("a", now: 0) != nil)
        #expect(limiter.check("b", now: 0) == nil)       // another address has its own budget
        #expect(limiter.check("a", now: 0.5) == nil)     // one more after 1/rate
        #expect(limiter.check("a", now: 0.5) != nil)
        var off = MemoryRateLimiter(.off)
        #expect((0..<100).allSatisfy { _ in off.check("a", now: 0) == nil })
        var small = MemoryRateLimiter(RateLimit(perSecond: 1, burst: 1), maxKeys: 2)
        #expect(small.check("a", now: 0) == nil && small.check("b", now: 0) == nil)
        #expect(small.check("c", now: 0) != nil)          // full table: refused, not grown
        #expect(small.check("c", now: 5) == nil)          // old entries pruned
    }
}
