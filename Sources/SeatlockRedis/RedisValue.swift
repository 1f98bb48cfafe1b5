// A Redis reply copied out of hiredis into plain Swift, so it outlives the
// callback that delivered it.
import CHiredis

public enum RedisValue: Sendable, Equatable, CustomStringConvertible {
    case status(String)
    case error(String)
    case integer(Int)
    case bulk(String)
    case null
    case array([RedisValue])

    public var string: String? {
        switch self {
        case let .bulk(s), let .status(s): s
        case let .integer(i): String(i)
        default: nil
        }
    }

    public var int: Int? {
        switch self {
        case let .integer(i): i
        case let .bulk(s): Int(s)
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var errorMessage: String? {
        if case let .error(e) = self { return e }
        return nil
    }

    /// A flat `[field, value, …]` array (HGETALL) as a dictionary.
    public var fields: [String: String] {
        guard let items = array else { return [:] }
        var out: [String: String] = [:]
        var index = 0
        while index + 1 < items.count {
            if let key = items[index].string { out[key] = items[index + 1].string ?? "" }
            index += 2
        }
        return out
    }

    public var description: String {
        switch self {
        case let .status(s): s
        case let .error(e): "(error) \(e)"
        case let .integer(i): "(integer) \(i)"
        case let .bulk(s): "\"\(s)\""
        case .null: "(nil)"
        case let .array(a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        }
    }

    /// Copies a hiredis reply. Only valid to call while the reply is alive.
    init(copying reply: UnsafePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulk(Self.text(r.str, r.len))
        case REDIS_REPLY_STATUS:
            self = .status(Self.text(r.str, r.len))
        case REDIS_REPLY_ERROR:
            self = .error(Self.text(r.str, r.len))
        case REDIS_REPLY_INTEGER:
            self = .integer(Int(r.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { items.append(RedisValue(copying: element)) } else { items.append(.null) }
            }
            self = .array(items)
        default:
            self = .null
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<CChar>?, _ length: Int) -> String {
        guard let pointer, length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not connected (never was, or lost and not back yet).
        case unavailable
        /// The connection dropped with this command in flight.
        case connectionLost
        /// No reply within the command timeout; the connection is reset.
        case timeout
        /// Redis answered with an error reply.
        case server
    }
    public var kind: Kind
    public var message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}

/// The command in RESP (`*N\r\n$len\r\narg\r\n...`), built in one buffer and
/// handed to hiredis as formatted: hiredis' own formatting (sdscatfmt per
/// argument, its buffer grown as it goes) was a tenth of a worker's CPU for
/// the analytics script's long argument lists. Every command goes this way.
func withRESPCommand<R>(_ arguments: [String], _ body: (UnsafePointer<CChar>, Int) -> R) -> R {
    var size = 17 // ("*N\r\n" and the closing NUL)
    for argument in arguments { size += argument.utf8.count + 16 }
    // Written straight into one buffer (digits in place, arguments copied
    // whole): a String per length and Array appends byte by byte were a
    // tenth of a hold request's instructions.
    return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: size) { buffer in
        var count = 0
        func put(_ byte: UInt8) {
            buffer[count] = byte
            count += 1
        }
        func putLine(_ marker: UInt8, _ number: Int) {
            put(marker)
            var divisor = 1
            while divisor <= number / 10 { divisor *= 10 }
            var rest = number
            while divisor > 0 {
                put(UInt8(ascii: "0") + UInt8(rest / divisor))
                rest %= divisor
                divisor /= 10
            }
            put(13)
            put(10)
        }
        putLine(UInt8(ascii: "*"), arguments.count)
        for argument in arguments {
            putLine(UInt8(ascii: "$"), argument.utf8.count)
            var argument = argument
            argument.withUTF8 { bytes in
                UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[count...]).copyMemory(from: UnsafeRawBufferPointer(bytes))
                count += bytes.count
            }
            put(13)
            put(10)
        }
        // hiredis reads a (P)SUBSCRIBE's arguments with strchr (async.c, nextArgument): the
        // command must end with a NUL, as its own formatter's do (the NUL is not sent).
        buffer[count] = 0
        return buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: count + 1) { body($0, count) }
    }
}

