// `seatlock scripts`: load the Lua library into Redis and print each
// script's SHA1 (operators and benchmarks call them with EVALSHA).
import ArgumentParser
import SeatlockRedis

struct Scripts: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Load the Lua scripts into Redis and list their SHA1s.")

    @OptionGroup var redis: RedisOptions
    @Option(help: "Print the resolved source of one script (includes inlined) instead.") var show: String?

    func run() throws {
        let library = try ScriptLibrary.locate()
        if let show {
            say(try library.script(show).source)
            return
        }
        let loaded = try RedisClient(url: try redis.resolved()).load(library)
        for (name, sha) in loaded.sorted(by: { $0.key < $1.key }) { say("\(name) \(sha)") }
    }
}
