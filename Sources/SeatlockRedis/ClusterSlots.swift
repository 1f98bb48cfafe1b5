// Redis Cluster's routing rules, as plain values: the slot of a key (CRC16
// of its hash tag, mod 16384), the slot map from CLUSTER SLOTS, which
// argument of a command is its key, and the MOVED / ASK redirections.
// No sockets here: RedisConnection (async) and RedisClient (blocking) route
// with it, and the tests check it against the numbers Redis itself gives.

/// A node's address as the cluster announces it.
public struct RedisNodeAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host == "localhost" ? "127.0.0.1" : host
        self.port = port
    }

    /// `host:port` (IPv6 hosts contain colons: the port is after the last one).
    public init?(_ text: Substring) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        let host = text[..<colon]
        guard !host.isEmpty else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String { "\(host):\(port)" }
}

public enum ClusterSlot {
    public static let count = 16384

    /// The slot of `key`: CRC16 of the hash tag (the text between the first
    /// `{` and the first `}` after it, when not empty), else of the whole key.
    public static func of(_ key: String) -> Int {
        var utf8 = key.utf8[...]
        if let open = utf8.firstIndex(of: UInt8(ascii: "{")) {
            let afterOpen = utf8.index(after: open)
            if let close = utf8[afterOpen...].firstIndex(of: UInt8(ascii: "}")), close > afterOpen {
                utf8 = utf8[afterOpen..<close]
            }
        }
        var crc: UInt16 = 0
        for byte in utf8 {
            crc = (crc << 8) ^ crcTable[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ byte)]
        }
        return Int(crc) & (count - 1)
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis' crc16.c.
    private static let crcTable: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }
}

/// Which primary serves each slot, and the replicas each primary has.
public struct ClusterSlotMap: Sendable, Equatable {
    /// Index into `primaries` for each slot; nil: no node serves it.
    private var owner: [Int?]
    public private(set) var primaries: [RedisNodeAddress]
    /// Each primary's replicas, as CLUSTER SLOTS lists them.
    public private(set) var replicas: [RedisNodeAddress: [RedisNodeAddress]]
    public var replicaCounts: [RedisNodeAddress: Int] { replicas.mapValues(\.count) }

    public init() {
        owner = Array(repeating: nil, count: ClusterSlot.count)
        primaries = []
        replicas = [:]
    }

    /// From a CLUSTER SLOTS reply: [[start, end, [host, port, id, …], replica…], …].
    /// Nil when the reply is not a slot table.
    public init?(clusterSlots reply: RedisValue) {
        guard let ranges = reply.array else { return nil }
        self.init()
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].int, let end = parts[1].int,
                  0 <= start, start <= end, end < ClusterSlot.count,
                  let node = parts[2].array, node.count >= 2, let host = node[0].string, let port = node[1].int else { return nil }
            let primary = RedisNodeAddress(host: host, port: port)
            let index = self.index(of: primary)
            replicas[primary] = parts.dropFirst(3).compactMap { replica in
                guard let node = replica.array, node.count >= 2, let host = node[0].string, let port = node[1].int else { return nil }
                return RedisNodeAddress(host: host, port: port)
            }
            for slot in start...end { owner[slot] = index }
        }
    }

    public func primary(forSlot slot: Int) -> RedisNodeAddress? {
        owner[slot].map { primaries[$0] }
    }

    public var isComplete: Bool { !owner.contains(nil) }

    /// After a MOVED: `slot` is now served by `node`.
    public mutating func assign(_ slot: Int, to node: RedisNodeAddress) {
        owner[slot] = index(of: node)
    }

    private mutating func index(of node: RedisNodeAddress) -> Int {
        if let index = primaries.firstIndex(of: node) { return index }
        primaries.append(node)
        return primaries.count - 1
    }
}

/// A cluster's answer that sends the command elsewhere.
public enum ClusterRedirect: Equatable, Sendable {
    /// The slot has moved for good: update the map, send it there.
    case moved(slot: Int, to: RedisNodeAddress)
    /// The slot is migrating: send ASKING then the command there, once.
    case ask(slot: Int, to: RedisNodeAddress)

    /// `MOVED 3999 127.0.0.1:6381` / `ASK 3999 127.0.0.1:6381`.
    public init?(_ reply: RedisValue) {
        guard case let .error(message) = reply, message.hasPrefix("MOVED ") || message.hasPrefix("ASK ") else { return nil }
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<ClusterSlot.count).contains(slot),
              let node = RedisNodeAddress(words[2]) else { return nil }
        self = words[0] == "MOVED" ? .moved(slot: slot, to: node) : .ask(slot: slot, to: node)
    }

    public var node: RedisNodeAddress {
        switch self {
        case let .moved(_, node), let .ask(_, node): node
        }
    }
}

public enum ClusterCommand {
    /// The key a command is routed by; nil for a command with no key (PING,
    /// INFO, SCRIPT LOAD, a script called with no KEYS), which any node may
    /// answer. Seatlock's commands keep all their keys in one slot: routing
    /// by the first is routing by all of them (Redis refuses CROSSSLOT otherwise).
    public static func routingKey(_ arguments: [String]) -> String? {
        guard let name = arguments.first else { return nil }
        switch name.uppercased() {
        case "EVALSHA", "EVAL", "EVALSHA_RO", "EVAL_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, let keys = Int(arguments[2]), keys > 0 else { return nil }
            return arguments[3]
        case "XREAD", "XREADGROUP":
            guard let streams = arguments.firstIndex(where: { $0.uppercased() == "STREAMS" }), streams + 1 < arguments.count else { return nil }
            return arguments[streams + 1]
        case "XGROUP", "XINFO", "OBJECT", "MEMORY":
            return arguments.count > 2 ? arguments[2] : nil
        case "PING", "INFO", "SCRIPT", "FUNCTION", "CLUSTER", "DBSIZE", "CONFIG", "SCAN", "TIME", "ACL", "AUTH",
             "SELECT", "WAIT", "ASKING", "READONLY", "SHUTDOWN", "FLUSHALL", "FLUSHDB", "SLOWLOG", "COMMAND", "CLIENT",
             "PSUBSCRIBE", "SUBSCRIBE", "PUBLISH", "MULTI", "EXEC", "LATENCY":
            return nil
        default:
            return arguments.count > 1 ? arguments[1] : nil
        }
    }
}
