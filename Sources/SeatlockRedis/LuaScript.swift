// Lua scripts as values that carry their own SHA1, and the library that
// reads them from `lua/` (resolving `--@include NAME` lines from
// `lua/includes/NAME.lua`), so what runs is exactly what the repo holds.
import Crypto
import Foundation
import SeatlockLoop

public struct LuaScript: Sendable, Equatable {
    public let name: String
    public let source: String
    public let sha1: String

    public init(name: String, source: String) {
        self.name = name
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Data(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `EVALSHA sha numkeys keys... args...`
    public func evalshaArguments(keys: [String], args: [String]) -> [String] {
        var command: [String] = []
        command.reserveCapacity(3 + keys.count + args.count)
        command += ["EVALSHA", sha1, String(keys.count)]
        command += keys
        command += args
        return command
    }

}

public enum ScriptLibraryError: Error, CustomStringConvertible {
    case directoryNotFound([String])
    case missingScript(String)
    case missingInclude(script: String, include: String)

    public var description: String {
        switch self {
        case let .directoryNotFound(tried): "cannot find the Lua scripts (lua/hold.lua); looked in: \(tried.joined(separator: ", ")). Set SEATLOCK_LUA_DIR."
        case let .missingScript(name): "lua/\(name).lua is missing"
        case let .missingInclude(script, include): "lua/\(script).lua includes lua/includes/\(include).lua, which is missing"
        }
    }
}

public struct ScriptLibrary: Sendable {
    public let directory: URL
    public let scripts: [String: LuaScript]
    /// Redis 7 function libraries from `lua/functions/` (operator functions), by file name.
    public let functions: [String: String]

    public init(directory: URL) throws {
        self.directory = directory
        var scripts: [String: LuaScript] = [:]
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".lua") }
        for file in files.sorted() {
            let name = String(file.dropLast(4))
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            scripts[name] = LuaScript(name: name, source: try Self.resolveIncludes(text, script: name, directory: directory))
        }
        self.scripts = scripts
        var functions: [String: String] = [:]
        let functionDirectory = directory.appendingPathComponent("functions")
        for file in (try? FileManager.default.contentsOfDirectory(atPath: functionDirectory.path))?.filter({ $0.hasSuffix(".lua") }).sorted() ?? [] {
            functions[String(file.dropLast(4))] = try String(contentsOf: functionDirectory.appendingPathComponent(file), encoding: .utf8)
        }
        self.functions = functions
    }

    public func script(_ name: String) throws -> LuaScript {
        guard let script = scripts[name] else { throw ScriptLibraryError.missingScript(name) }
        return script
    }

    /// Finds `lua/`: $SEATLOCK_LUA_DIR, then next to the working directory or
    /// the executable or this source file, walking up.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment, sourceFile: String = #filePath) throws -> ScriptLibrary {
        do {
            return try ScriptLibrary(directory: ResourceDirectory.locate(["lua"], marker: "hold.lua", override: environment["SEATLOCK_LUA_DIR"],
                                                                      sourceFile: sourceFile))
        } catch let notFound as ResourceNotFound {
            throw ScriptLibraryError.directoryNotFound(notFound.tried)
        }
    }

    /// The script with its `--@include`s inlined, less the included top-level
    /// functions it never names: Redis runs the whole body at every call, so
    /// every `local function` costs a closure each time: hold.lua left 9 of
    /// its 36 helpers unused, and without them a call's median time fell from
    /// 57-60 to 53-54 us (both versions called at once on one Redis, SLOWLOG).
    static func resolveIncludes(_ text: String, script: String, directory: URL) throws -> String {
        var pieces: [LuaPiece] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("--@include ") {
                let include = line.dropFirst("--@include ".count).trimmingCharacters(in: .whitespaces)
                let url = directory.appendingPathComponent("includes").appendingPathComponent(include + ".lua")
                guard let body = try? String(contentsOf: url, encoding: .utf8) else {
                    throw ScriptLibraryError.missingInclude(script: script, include: include)
                }
                pieces.append(LuaPiece(text: "-- begin include \(include)"))
                pieces += LuaPiece.split(body)
                pieces.append(LuaPiece(text: "-- end include \(include)"))
            } else {
                pieces.append(LuaPiece(text: String(line)))
            }
        }
        return LuaPiece.withoutUnusedFunctions(pieces).map(\.text).joined(separator: "\n")
    }
}

/// A piece of a resolved script: a line, or an included top-level function
/// (`local function NAME(` at the start of a line up to the first line that
/// is `end`, or that one line when it ends with ` end` and closes every block
/// it opens; with the comment
/// lines just above it). A function whose end cannot be told that way (another
/// `local function` at the start of a line comes first) stays as plain lines:
/// kept, whatever names it.
struct LuaPiece {
    var text: String
    var function: String?

    static func split(_ body: String) -> [LuaPiece] {
        var pieces: [LuaPiece] = []
        var lines = body.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while let line = lines.first {
            var end: Int?
            if line.hasPrefix("local function "), line.contains("(") {
                if line.hasSuffix(" end"), closesEveryBlock(line) {
                    end = lines.startIndex
                } else if let close = lines.firstIndex(where: { $0 == "end" }),
                          !lines[(lines.startIndex + 1)..<close].contains(where: { $0.hasPrefix("local function ") }) {
                    end = close
                }
            }
            guard let end, let open = line.firstIndex(of: "(") else {
                pieces.append(LuaPiece(text: String(line)))
                lines = lines.dropFirst()
                continue
            }
            var block = lines[lines.startIndex...end].joined(separator: "\n")
            while let last = pieces.last, last.function == nil, last.text.hasPrefix("--"), !last.text.hasPrefix("-- begin include") { // (its comment goes with it)
                block = last.text + "\n" + block
                pieces.removeLast()
            }
            pieces.append(LuaPiece(text: block, function: String(line[line.index(line.startIndex, offsetBy: 15)..<open])))
            lines = lines[(end + 1)...]
        }
        return pieces
    }

    /// Drops, until none is left, every function no other piece names (a
    /// name defined twice is kept). Each piece's words are read once, so a
    /// library of every script resolves in milliseconds.
    static func withoutUnusedFunctions(_ pieces: [LuaPiece]) -> [LuaPiece] {
        let words = pieces.map { identifiers(in: $0.text) }
        var definitions: [String: [Int]] = [:]
        for (index, piece) in pieces.enumerated() { if let name = piece.function { definitions[name, default: []].append(index) } }
        let removable = definitions.compactMapValues { $0.count == 1 ? $0[0] : nil }
        var uses: [String: Int] = [:] // a function's name -> the other pieces that name it
        for (index, pieceWords) in words.enumerated() {
            for word in pieceWords where removable[word].map({ $0 != index }) ?? false { uses[word, default: 0] += 1 }
        }
        var unused = removable.filter { uses[$0.key, default: 0] == 0 }.map(\.value)
        var removed = Set<Int>()
        while let index = unused.popLast() {
            guard removed.insert(index).inserted else { continue }
            for word in words[index] {
                guard let other = removable[word], other != index, !removed.contains(other) else { continue }
                uses[word, default: 0] -= 1
                if uses[word] == 0 { unused.append(other) }
            }
        }
        return pieces.indices.filter { !removed.contains($0) }.map { pieces[$0] }
    }

    /// Whether `line` ends every block it opens (`function`, `if`, `do` against `end`): a
    /// one-line function, not the first line of a longer one (`... if x then return end`).
    static func closesEveryBlock(_ line: Substring) -> Bool {
        var depth = 0
        for word in line.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
            switch word {
            case "function", "if", "do": depth += 1
            case "end": depth -= 1
            default: break
            }
        }
        return depth == 0
    }

    /// The identifiers (ASCII letters, digits and '_', not starting with a digit) in `text`.
    static func identifiers(in text: String) -> Set<String> {
        var words = Set<String>()
        var word: [UInt8] = []
        func isWordByte(_ byte: UInt8) -> Bool {
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95
        }
        for byte in text.utf8 {
            if isWordByte(byte) {
                word.append(byte)
            } else if !word.isEmpty {
                if !(word[0] >= 48 && word[0] <= 57) { words.insert(String(decoding: word, as: UTF8.self)) }
                word.removeAll(keepingCapacity: true)
            }
        }
        if let first = word.first, !(first >= 48 && first <= 57) { words.insert(String(decoding: word, as: UTF8.self)) }
        return words
    }
}

extension RedisNodeConnection {
    /// Runs a script by SHA1. On NOSCRIPT (a restarted or flushed Redis) it
    /// loads the script again (SCRIPT LOAD) and retries once: never EVAL of
    /// source text, which the application's ACL user may not run.
    func run(_ script: LuaScript, keys: [String], args: [String], completion: @escaping Completion) {
        send(script.evalshaArguments(keys: keys, args: args)) { [weak self] result in
            guard case let .success(.error(message)) = result, message.hasPrefix("NOSCRIPT"), let self else {
                return completion(result)
            }
            self.send(["SCRIPT", "LOAD", script.source]) { [weak self] loaded in
                guard case .success(.bulk) = loaded, let self else { return completion(loaded) }
                self.send(script.evalshaArguments(keys: keys, args: args), completion: completion)
            }
        }
    }
}

extension RedisClient {
    /// Loads every script of the library (SCRIPT LOAD) on every primary; returns name → sha1.
    @discardableResult
    public func load(_ library: ScriptLibrary) throws -> [String: String] {
        var loaded: [String: String] = [:]
        for node in try primaries() {
            for (name, script) in library.scripts {
                let sha = try node.checked(["SCRIPT", "LOAD", script.source]).string ?? ""
                guard sha == script.sha1 else { throw RedisError(.server, "Redis and Swift disagree on the SHA1 of \(name)") }
                loaded[name] = sha
            }
            for (name, source) in library.functions {
                // Operator functions are a convenience: a user that may not load
                // functions (the application's ACL user) still runs the product.
                let reply = try node.send(["FUNCTION", "LOAD", "REPLACE", source])
                loaded["functions/" + name] = reply.errorMessage.map { "not loaded: \($0)" } ?? "loaded"
            }
        }
        return loaded
    }

    /// Runs a script by SHA1, loading it again on NOSCRIPT (on every primary:
    /// the blocking client does not keep track of which one answered).
    /// Error replies are returned, not thrown.
    public func run(_ script: LuaScript, keys: [String], args: [String]) throws -> RedisValue {
        let reply = try send(script.evalshaArguments(keys: keys, args: args))
        if let message = reply.errorMessage, message.hasPrefix("NOSCRIPT") {
            for node in try primaries() { try node.checked(["SCRIPT", "LOAD", script.source]) }
            return try send(script.evalshaArguments(keys: keys, args: args))
        }
        return reply
    }
}
