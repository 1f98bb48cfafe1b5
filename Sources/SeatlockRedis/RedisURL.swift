// `redis://[user:pass@]host:port/db`, as REDIS_URL gives it; a cluster's
// seed nodes are comma-separated (`redis://h1:p1,h2:p2`): any one that
// answers gives the slot map.
public struct RedisURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// The other seed nodes after the first (`host:port`).
    public var moreSeeds: [RedisNodeAddress] = []
    public var username: String?
    public var password: String?
    public var database: Int

    public init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    public init?(_ text: String) {
        guard text.hasPrefix("redis://") else { return nil }
        var rest = Substring(text.dropFirst("redis://".count))
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let dbText = rest[rest.index(after: slash)...]
            if !dbText.isEmpty {
                guard let db = Int(dbText), db >= 0 else { return nil }
                database = db
            }
            rest = rest[..<slash]
        }
        var seeds: [RedisNodeAddress] = []
        for node in rest.split(separator: ",", omittingEmptySubsequences: false) {
            guard !node.isEmpty || !rest.contains(",") else { return nil } // `h1,,h2`: a seed left out
            var host = String(node)
            var port = 6379
            if let colon = node.lastIndex(of: ":") {
                host = String(node[..<colon])
                guard let p = Int(node[node.index(after: colon)...]), (1...65535).contains(p) else { return nil }
                port = p
            }
            if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
            seeds.append(RedisNodeAddress(host: host, port: port))
        }
        self.init(host: seeds[0].host, port: seeds[0].port, username: username, password: password, database: database)
        moreSeeds = Array(seeds.dropFirst())
    }

    /// Every seed node, the first one first.
    public var seeds: [RedisNodeAddress] { [RedisNodeAddress(host: host, port: port)] + moreSeeds }

    /// The same credentials, at one node of the cluster.
    public func at(_ node: RedisNodeAddress) -> RedisURL {
        RedisURL(host: node.host, port: node.port, username: username, password: password, database: database)
    }

    /// The commands to send right after connecting.
    public var handshake: [[String]] {
        var commands: [[String]] = []
        if let password {
            commands.append(username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if database != 0 { commands.append(["SELECT", String(database)]) }
        return commands
    }

    /// Without the password, for logs.
    public var description: String {
        "redis://\(username.map { "\($0):***@" } ?? (password == nil ? "" : "***@"))"
            + seeds.map(\.description).joined(separator: ",") + "/\(database)"
    }
}
