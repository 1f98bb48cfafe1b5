// Where a request's body ends must be beyond doubt: a proxy in front that
// frames it one way while evhttp frames it another lets a body carry a
// second, hidden request (request smuggling). evhttp 2.1 keeps a header
// name with whitespace before the colon ("Transfer-Encoding : chunked") as
// an unknown header and frames by Content-Length; RFC 9112 §5.1 says such a
// request MUST be refused with 400, and §6.1-6.3 that lengths which disagree,
// or Transfer-Encoding beside Content-Length, make the framing unreliable.
// obs-fold lines are joined with a space by evhttp, which §5.2 allows.

enum RequestFraming {
    /// Why the request's framing is ambiguous, or nil when it is not.
    /// `headers` are as evhttp parsed them (names lowercased).
    static func problem(_ headers: [(name: String, value: String)]) -> String? {
        var length: String?
        var transferEncodings = 0
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy({ tokenBytes[Int($0)] }) else {
                return "a header name holds whitespace or a character HTTP does not allow there"
            }
            switch name {
            case "content-length":
                if let length, length != value { return "Content-Length given twice with different values" }
                length = value
            case "transfer-encoding":
                transferEncodings += 1
                // The only coding evhttp decodes; anything else it would not frame as chunked.
                guard value.lowercased() == "chunked" else { return "Transfer-Encoding other than chunked" }
            default: break
            }
        }
        if transferEncodings > 1 { return "Transfer-Encoding given twice" }
        if transferEncodings > 0, length != nil { return "both Transfer-Encoding and Content-Length" }
        return nil
    }

    /// RFC 9110 §5.6.2 `tchar`, by byte (every request passes each header name through it).
    private static let tokenBytes: [Bool] = (0..<256).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(UInt8(byte))
        }
    }
}
