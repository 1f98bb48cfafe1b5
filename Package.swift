// swift-tools-version:6.0
import PackageDescription

// Seatlock: seat reservation on Redis, served by libevent (evhttp) loops.
// C stays at the bottom (SeatlockLoop and SeatlockHTTP for libevent,
// SeatlockRedis for hiredis); every other module is plain Swift.
// docs/architecture.md draws the picture.
let package = Package(
    name: "seatlock",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "seatlock", targets: ["seatlock"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian: libhiredis-dev (with its libevent adapter) and libevent-dev.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibevent", pkgConfig: "libevent_pthreads", providers: [.apt(["libevent-dev"])]),

        // The loop runtime everything with a socket builds on (as Redis builds
        // on ae.c): event loops, timers, loop threads, signals, the service
        // lifecycle, blocking TCP for line protocols.
        .target(name: "SeatlockLoop", dependencies: ["CLibevent"]),
        // Bridges, side by side (neither imports the other): evhttp server and
        // clients; hiredis async connections on a loop, blocking client, scripts.
        .target(name: "SeatlockHTTP", dependencies: ["CLibevent", "SeatlockLoop"]),
        .target(name: "SeatlockRedis", dependencies: [
            "CHiredis", "SeatlockLoop", .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Booking domain: ids, validation, requests, tokens, routes, the whole
        // key schema, stats rendering. Pure Swift: nothing of ours, no C.
        .target(name: "SeatlockCore", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The script contract: every Lua script's KEYS/ARGV and its replies.
        .target(name: "SeatlockScripts", dependencies: ["SeatlockCore", "SeatlockRedis"]),
        // HTTP handlers that join the core to Redis; expiry; SSE; metrics; dashboard.
        .target(name: "SeatlockServer", dependencies: [
            "SeatlockCore", "SeatlockScripts", "SeatlockRedis", "SeatlockHTTP", "SeatlockLoop",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ], exclude: ["Dashboard/files"]),
        // Redis Streams consumer groups: the framework and the payments,
        // notifications and analytics workers. No HTTP: the webhook client is injected.
        .target(name: "SeatlockWorkers", dependencies: [
            "SeatlockCore", "SeatlockScripts", "SeatlockRedis", "SeatlockLoop",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], exclude: ["Notifications/templates"]),
        // Checks the booking invariants on a live or finished event, from Redis alone.
        .target(name: "SeatlockAudit", dependencies: ["SeatlockCore", "SeatlockRedis"]),
        // Simulated buyers over real HTTP, with latency histograms.
        .target(name: "SeatlockStress", dependencies: [
            "SeatlockCore", "SeatlockLoop", "SeatlockHTTP", "SeatlockRedis", "SeatlockAudit",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "seatlock", dependencies: [
            "SeatlockServer", "SeatlockWorkers", "SeatlockAudit", "SeatlockStress", "SeatlockCore", "SeatlockScripts",
            "SeatlockRedis", "SeatlockHTTP", "SeatlockLoop",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Starts a real redis-server for tests (free port, temporary dir).
        .target(name: "SeatlockTestSupport", dependencies: [
            "SeatlockRedis", "SeatlockCore", "SeatlockScripts", "SeatlockLoop", "SeatlockHTTP", "SeatlockServer",
        ]),
        // Pure unit tests: SeatlockCore only (no hiredis, no libevent).
        .testTarget(name: "SeatlockCoreTests", dependencies: ["SeatlockCore", .product(name: "Crypto", package: "swift-crypto")]),
        // The script contract (headers vs builders) and the bridges' pure parts; no Redis server.
        .testTarget(name: "SeatlockScriptsTests", dependencies: ["SeatlockScripts", "SeatlockRedis", "SeatlockCore"]),
        .testTarget(name: "SeatlockIntegrationTests", dependencies: [
            "SeatlockServer", "SeatlockWorkers", "SeatlockAudit", "SeatlockStress", "SeatlockCore", "SeatlockScripts",
            "SeatlockRedis", "SeatlockHTTP", "SeatlockLoop", "SeatlockTestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ]
)
