// Every id that reaches a Redis key is checked here first: a strict
// character set keeps hash tags (`{}`), key separators (`:`), glob
// characters, spaces and control bytes out of the key space.
public enum Identifier {
    public static let maxLength = 64

    /// Letters, digits, `-` and `_`, 1 to 64 characters.
    public static func isValid(_ text: String, maxLength: Int = Identifier.maxLength) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy(isIdentifierByte)
    }

    /// Section ids also appear inside seat ids, so they may not contain `-`.
    public static func isValidSection(_ text: String) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= 16 else { return false }
        return bytes.allSatisfy { isIdentifierByte($0) && $0 != UInt8(ascii: "-") }
    }

    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }
}

/// `SECTION-ROW-NUMBER`, rows and numbers 1-based.
public struct SeatID: Hashable, Sendable, CustomStringConvertible {
    public let section: String
    public let row: Int
    public let number: Int

    public init(section: String, row: Int, number: Int) {
        self.section = section
        self.row = row
        self.number = number
    }

    public init?(_ text: String) {
        // (Scanned in place: this runs for every seat of every hold request.)
        let dash = UInt8(ascii: "-"), bytes = text.utf8
        guard let first = bytes.firstIndex(of: dash),
              let second = bytes[bytes.index(after: first)...].firstIndex(of: dash) else { return nil }
        let section = String(text[..<first])
        guard Identifier.isValidSection(section), let row = Self.positive(text[text.index(after: first)..<second]),
              let number = Self.positive(text[text.index(after: second)...]) else { return nil }
        self.init(section: section, row: row, number: number)
    }

    public var description: String { "\(section)-\(row)-\(number)" }

    /// Digits only (no sign, no leading zero), 1...9999.
    private static func positive(_ text: Substring) -> Int? {
        guard (1...4).contains(text.utf8.count), text.utf8.first != UInt8(ascii: "0"),
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return Int(text)
    }
}

public enum BookingID {
    /// `b` + 19 random characters.
    public static func random() -> String { RandomID.make(prefix: "b") }
}

public enum UserID {
    /// `u` + 19 random characters.
    public static func random() -> String { RandomID.make(prefix: "u") }
}

enum RandomID {
    static let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789".utf8)

    /// `prefix` + 19 random characters (95 bits from the system generator):
    /// unguessable, readable in redis-cli. Two draws, not one per character:
    /// each draw is a getrandom(2) call.
    static func make(prefix: Unicode.Scalar) -> String {
        var generator = SystemRandomNumberGenerator()
        var bits = (generator.next() as UInt64, generator.next() as UInt64)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20)
        bytes.append(UInt8(prefix.value))
        for index in 0..<19 {
            if index == 12 { bits.0 = bits.1 }
            bytes.append(alphabet[Int(bits.0 & 31)])
            bits.0 >>= 5
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
