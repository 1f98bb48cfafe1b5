// The lifecycle every command shares (serve, expiry, the workers, up):
// services start in order and stop in reverse, when SIGINT or SIGTERM
// arrives or when a later one fails to start. Each service runs on threads
// of its own (event loops); the main thread only waits for the signal.
//
// Our own small protocol rather than swift-service-lifecycle: its services
// are `async` tasks, while ours are libevent loops on their own threads that
// must never await; wrapping each loop in a task would add a concurrency
// runtime hop for nothing but the ordering, which this file gives.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A part of the process that runs beside the main thread.
public protocol Service: AnyObject, Sendable {
    /// For logs.
    var name: String { get }
    /// Returns once the service runs; throws when it cannot start.
    func start() throws
    /// Graceful: returns once the service has stopped. Called at most once,
    /// and only after `start()` returned.
    func stop()
}

public enum ServiceRunner {
    /// Starts `services` in order, calls `started`, waits for SIGINT or
    /// SIGTERM, then stops them in reverse order. When one fails to start,
    /// or `started` throws, those already running are stopped (in reverse)
    /// and the error is rethrown.
    public static func runUntilSignal(_ services: [any Service], started: () throws -> Void = {},
                                      onSignal: @escaping (Int32) -> Void = { _ in }) throws {
        var running: [any Service] = []
        defer { for service in running.reversed() { service.stop() } }
        for service in services {
            try service.start()
            running.append(service)
        }
        try started()
        let main = try EventLoop()
        let signals = SignalWatcher(loop: main) { signal in
            onSignal(signal)
            main.handle.stop()
        }
        main.run()
        signals.cancel()
    }
}

/// What a `LoopService` runs on its loop.
public protocol LoopWorker: AnyObject {
    /// Finishes the work in hand, then calls `done` (on the loop).
    func stop(done: @escaping () -> Void)
}

/// A service that owns one event loop on a thread of its own and runs one
/// worker there (payments, notifications, analytics, expiry).
open class LoopService: Service, @unchecked Sendable {
    public let name: String
    private let stopTimeout: Duration
    private let makeWorker: @Sendable (EventLoop) throws -> any LoopWorker
    private let thread = Mutex<LoopThread?>(nil)

    /// `makeWorker` runs on the new thread; what it throws, `start()` throws.
    /// `stopTimeout` bounds the graceful stop; past it the loop is stopped outright.
    public init(name: String, stopTimeout: Duration, makeWorker: @escaping @Sendable (EventLoop) throws -> any LoopWorker) {
        self.name = name
        self.stopTimeout = stopTimeout
        self.makeWorker = makeWorker
    }

    public func start() throws {
        let makeWorker = self.makeWorker
        let thread = try LoopThread(name: name) { loop in
            let worker = try makeWorker(loop)
            loop.onShutdownRequest = { worker.stop(done: { loop.handle.stop() }) }
        }
        self.thread.withLock { $0 = thread }
    }

    public func stop() { stop(timeout: stopTimeout) }

    /// Graceful, within `timeout`.
    public func stop(timeout: Duration) {
        thread.withLock { $0 }?.stop(timeout: timeout)
    }
}
