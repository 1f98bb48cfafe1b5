// lua/ scripts' `--@include`s are inlined, and included top-level functions a
// script never names are left out (each would cost a closure per call): a
// small library in a temporary directory, read the way lua/ is.
import Foundation
import SeatlockRedis
import Testing

@Suite struct IncludeTests {
    /// Writes `files` (path → text) under a new directory and reads it as a script library.
    private func library(_ files: [String: String]) throws -> ScriptLibrary {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lua-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("includes"), withIntermediateDirectories: true)
        for (path, text) in files { try text.write(to: directory.appendingPathComponent(path), atomically: true, encoding: .utf8) }
        defer { try? FileManager.default.removeItem(at: directory) }
        return try ScriptLibrary(directory: directory)
    }

    private static let helpers = """
        -- helpers.lua: a test include.
        local LIMIT = 3

        -- Used by the script.
        local function used(x)
          return helper_of_used(x) + LIMIT
        end

        local function helper_of_used(x)
          return x
        end

        -- Named by nothing but another function no one calls.
        local function only_by_unused(x)
          return x
        end

        local function unused(x)
          if x > 0 then return unused(x - 1) end
          return only_by_unused(x)
        end

        local function used_prefix(x)
          return x
        end

        local function one_line_unused(x) return x end
        local function after_one_line(x)
          return x
        end
        local function one_line_used(x) return x end

        local function guarded_unused(x) if x then return 1 end
          return 2
        end
        """

    @Test func unusedFunctionsAreLeftOutUsedOnesAndEverythingElseStay() throws {
        let source = try library(["includes/helpers.lua": Self.helpers,
                                  "main.lua": "--@include helpers\nreturn used_prefix_not(1) + used(2) + after_one_line(3) + one_line_used(4)\n"]).script("main").source
        #expect(source.contains("local function used(x)") && source.contains("local function helper_of_used(x)"))
        #expect(source.contains("local LIMIT = 3") && source.contains("-- begin include helpers") && source.contains("-- end include helpers"))
        #expect(source.contains("-- Used by the script."))
        // A one-line function is one piece: leaving it out leaves the next function alone.
        #expect(source.contains("local function after_one_line(x)") && source.contains("local function one_line_used(x) return x end"))
        // Recursive, named only by an unused function, or only inside a longer name: gone, with their comments.
        for gone in ["local function unused(", "local function only_by_unused(", "local function used_prefix(", "-- Named by nothing",
                     "local function one_line_unused(", "local function guarded_unused(", "  return 2"] {
            #expect(!source.contains(gone), "\(gone)")
        }
        // A first line that ends in `end` but opens more than it closes is not a one-line function: the whole function went.
        #expect(!source.contains("\nend\n\nend"))
        #expect(source.hasSuffix("return used_prefix_not(1) + used(2) + after_one_line(3) + one_line_used(4)\n"))
    }

    /// A function whose own `end` line cannot be found (it closes with `end -- …`)
    /// is kept as plain lines, unused or not; the unused function after it is read as usual, and left out.
    @Test func aFunctionWithoutItsOwnEndLineIsKept() throws {
        let helpers = "local function odd(x)\n  return x\nend -- odd\nlocal function unused_too(x)\n  return x\nend\n"
        let source = try library(["includes/more.lua": helpers, "main.lua": "--@include more\nreturn 1\n"]).script("main").source
        #expect(source.contains("local function odd(x)\n  return x\nend -- odd"))
        #expect(!source.contains("local function unused_too(x)"))
    }

    @Test func aMissingIncludeIsACleanError() {
        #expect(throws: ScriptLibraryError.self) { try library(["main.lua": "--@include nowhere\nreturn 1\n"]) }
    }
}
