// swift-tools-version:6.0
import PackageDescription

// Seatlock: seat reservation on Redis, served by libevent (evhttp) loops.
// C stays in the two bridge modules (SeatlockHTTP for libevent, SeatlockRedis for hiredis);
// every other module is plain Swift.
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

        // Bridges: the only modules that see pointers and C callbacks.
        .target(name: "SeatlockHTTP", dependencies: ["CLibevent"]),
        .target(name: "SeatlockRedis", dependencies: [
            "CHiredis", "SeatlockHTTP", .product(name: "Crypto", package: "swift-crypto"),
        ]),

        // Booking domain: ids, validation, key schema, tokens. Pure Swift.
        .target(name: "SeatlockCore", dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // HTTP handlers that join the core to Redis.
        .target(name: "SeatlockServer", dependencies: [
            "SeatlockCore", "SeatlockRedis", "SeatlockHTTP",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Redis Streams consumer groups: the framework and the payments,
        // notifications and analytics workers.
        .target(name: "SeatlockWorkers", dependencies: [
            "SeatlockServer", "SeatlockCore", "SeatlockRedis", "SeatlockHTTP",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], exclude: ["Notifications/templates"]),
        // Checks SPEC's invariants on a live or finished event, from Redis alone.
        .target(name: "SeatlockAudit", dependencies: ["SeatlockCore", "SeatlockRedis"]),
        // Simulated buyers over real HTTP, with latency histograms.
        .target(name: "SeatlockStress", dependencies: [
            "SeatlockCore", "SeatlockHTTP", "SeatlockRedis", "SeatlockAudit",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "seatlock", dependencies: [
            "SeatlockServer", "SeatlockWorkers", "SeatlockAudit", "SeatlockStress", "SeatlockCore", "SeatlockRedis", "SeatlockHTTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Starts a real redis-server for tests (free port, temporary dir).
        .target(name: "SeatlockTestSupport", dependencies: ["SeatlockRedis", "SeatlockCore", "SeatlockHTTP", "SeatlockServer"]),
        .testTarget(name: "SeatlockCoreTests", dependencies: ["SeatlockCore", "SeatlockRedis", "SeatlockServer"]),
        .testTarget(name: "SeatlockIntegrationTests", dependencies: [
            "SeatlockServer", "SeatlockWorkers", "SeatlockAudit", "SeatlockStress", "SeatlockCore", "SeatlockRedis", "SeatlockHTTP", "SeatlockTestSupport",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
    ]
)
