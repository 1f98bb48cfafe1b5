// The limits that keep bots and scalpers from taking an on-sale: rate limits
// per buyer, per client address and per event, a cap on a buyer's unpaid
// holds and on their stored idempotency keys. Enforced inside the Lua
// scripts (lua/includes/admission.lua), so they hold across every server
// process and fail closed with Redis: no Redis, no hold.
import Foundation

public struct RateLimit: Sendable, Equatable, CustomStringConvertible {
    /// Sustained requests per second; 0 turns the limit off.
    public var perSecond: Double
    /// Requests allowed at once before the rate applies.
    public var burst: Int

    public init(perSecond: Double, burst: Int) {
        self.perSecond = perSecond
        self.burst = burst
    }

    public static let off = RateLimit(perSecond: 0, burst: 0)
    public var isOff: Bool { perSecond <= 0 || burst <= 0 }

    /// "RATE/BURST", e.g. "2/10"; "0" or "off" turns it off.
    public init?(_ text: String) {
        if text == "0" || text == "off" { self = .off; return }
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let rate = Double(parts[0]), rate.isFinite, rate >= 0, rate <= 1_000_000,
              let burst = Int(parts[1]), (0...1_000_000).contains(burst) else { return nil }
        self.init(perSecond: rate, burst: burst)
    }

    public var description: String { isOff ? "off" : "\(Self.format(perSecond))/\(burst)" }

    /// Lua reads the number back with tonumber: plain decimal notation only.
    public static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.6f", value)
    }
}

public struct AbusePolicy: Sendable, Equatable {
    /// Holds and payment requests per buyer (per event).
    public var perBuyer = RateLimit(perSecond: 2, burst: 10)
    /// Holds and payment requests per client address (per event). Generous:
    /// many buyers share an address behind a NAT.
    public var perAddress = RateLimit(perSecond: 50, burst: 200)
    /// New holds per event, all buyers together: admission to the on-sale.
    public var eventAdmission = RateLimit.off
    /// Registrations (POST /v1/users) per client address.
    public var registrationsPerAddress = RateLimit(perSecond: 0.2, burst: 20)
    /// Seat map reads (GET …/seats) per client address, counted in memory by
    /// each server loop (no Redis write): a loop's share, not a global figure.
    public var seatMapReadsPerAddress = RateLimit(perSecond: 10, burst: 50)
    /// Unpaid (held or payment_pending) bookings per buyer per event; 0 = no cap.
    public var maxLiveHolds = 2
    /// New Idempotency-Keys per buyer per event in 24 h; 0 = no cap.
    public var maxIdempotencyKeys = 1000

    public init() {}

    /// Everything off: load tests from one address, unit tests.
    public static let unlimited: AbusePolicy = {
        var policy = AbusePolicy()
        policy.perBuyer = .off
        policy.perAddress = .off
        policy.eventAdmission = .off
        policy.registrationsPerAddress = .off
        policy.seatMapReadsPerAddress = .off
        policy.maxLiveHolds = 0
        policy.maxIdempotencyKeys = 0
        return policy
    }()

    /// The policy ARGV entry of hold.lua, hold_best.lua and pay.lua.
    public var scriptArgument: String {
        [perBuyer, perAddress, eventAdmission].map { "\(RateLimit.format($0.isOff ? 0 : $0.perSecond)) \($0.isOff ? 0 : $0.burst)" }
            .joined(separator: " ") + " \(maxLiveHolds) \(maxIdempotencyKeys)"
    }
}

/// A client address as a key part: the numeric address evhttp reports
/// (IPv4 or IPv6), anything else collapsed so it cannot shape a key.
public func clientAddressKey(_ address: String) -> String {
    let allowed = address.utf8.count <= 64 && !address.isEmpty
        && address.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) || $0 == 46 || $0 == 58 }
    return allowed ? address : "unknown"
}

/// The buyer's address behind a load balancer. When the peer is one of the
/// `trusted` proxies, the client is the right-most X-Forwarded-For entry
/// that is not itself a trusted proxy (every proxy appends the address it
/// saw, so entries left of that one are whatever the client claimed and are
/// never believed). From any other peer the header is ignored: a client
/// cannot pick its own rate-limit bucket. Entries that are not numeric
/// addresses collapse like any other (`clientAddressKey`).
public func clientAddress(peer: String, forwardedFor: String?, trusted: Set<String>) -> String {
    guard !trusted.isEmpty, trusted.contains(peer), let forwardedFor, !forwardedFor.isEmpty else { return peer }
    let comma = UInt8(ascii: ",")
    let text = forwardedFor.utf8
    guard text.lazy.filter({ $0 == comma }).count < 32 else { return "unknown" } // (no real chain of proxies is that long)
    // From the right, hop by hop (no list made: an address fits a String's inline storage).
    var end = text.endIndex
    while true {
        let start = text[..<end].lastIndex(of: comma).map { text.index(after: $0) } ?? text.startIndex
        let hop = String(trimmingSpaces(forwardedFor[start..<end]))
        // Every hop one of ours: the left-most is the best there is.
        if !trusted.contains(hop) || start == text.startIndex { return clientAddressKey(hop) }
        end = text.index(before: start)
    }
}

/// `text` without the spaces and tabs around it (HTTP's optional whitespace), read byte by byte.
func trimmingSpaces(_ text: Substring) -> Substring {
    let blank: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
    guard let first = text.utf8.firstIndex(where: { !blank($0) }), let last = text.utf8.lastIndex(where: { !blank($0) }) else { return "" }
    return text[first...last]
}
