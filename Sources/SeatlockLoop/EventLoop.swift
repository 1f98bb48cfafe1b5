// One libevent event_base, run by one thread. Everything created on a loop
// (HTTP servers, Redis connections, timers) is confined to that loop's thread;
// the only thread-safe entry points are `handle.execute` and `handle.stop`.
import CLibevent
import Foundation
import Synchronization

/// Turns on libevent's pthread locking once per process, so that another
/// thread may wake a loop (`event_active`) or ask it to exit.
private let threadingEnabled: Bool = {
    evthread_use_pthreads() == 0
}()

public struct EventLoopError: Error, CustomStringConvertible {
    public let description: String
}

public final class EventLoop {
    package let base: OpaquePointer
    public let handle: Handle
    private var wakeEvent: OpaquePointer?

    /// Fails only when the system is out of memory or file descriptors.
    public init() throws {
        guard threadingEnabled else { throw EventLoopError(description: "libevent pthread support is missing") }
        // The changelist folds the add/remove/add of a connection's read and
        // write interest within one loop turn into a single epoll_ctl (perf
        // showed epoll_ctl at ~8% of the server's time without it).
        let settings = event_config_new()
        event_config_set_flag(settings, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        let created = event_base_new_with_config(settings)
        event_config_free(settings)
        guard let base = created else { throw EventLoopError(description: "event_base_new failed (out of memory or file descriptors?)") }
        self.base = base
        self.handle = Handle(base: base)
        handle.owner = self
        let box = Unmanaged.passUnretained(handle).toOpaque()
        // A persistent "user" event: other threads make it active to run queued work here.
        wakeEvent = event_new(base, -1, Int16(EV_PERSIST), { _, _, arg in
            guard let arg else { return }
            Unmanaged<Handle>.fromOpaque(arg).takeUnretainedValue().drain()
        }, box)
        handle.wakeEvent = wakeEvent
        event_add(wakeEvent, nil)
    }

    deinit {
        if let wakeEvent { event_free(wakeEvent) }
        event_base_free(base)
    }

    /// What `handle.requestShutdown()` runs on this loop (default: stop at once).
    public var onShutdownRequest: (() -> Void)?

    /// Runs the loop on the calling thread until `stop()` is called.
    public func run() {
        event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY)
    }

    /// Runs `body` once after `delay`. The returned timer may be cancelled.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping () -> Void) -> LoopTimer {
        LoopTimer(base: base, interval: delay, repeats: false, body: body)
    }

    /// Runs `body` every `interval` until the timer is cancelled.
    public func scheduleRepeating(every interval: Duration, _ body: @escaping () -> Void) -> LoopTimer {
        LoopTimer(base: base, interval: interval, repeats: true, body: body)
    }

    /// The thread-safe face of a loop: queue work onto it, or stop it.
    public final class Handle: @unchecked Sendable {
        private let base: OpaquePointer
        fileprivate var wakeEvent: OpaquePointer?
        /// Only touched on the loop's own thread.
        fileprivate weak var owner: EventLoop?
        private let queue = Mutex<[@Sendable () -> Void]>([])

        fileprivate init(base: OpaquePointer) { self.base = base }

        /// Runs `body` on the loop's thread, soon.
        public func execute(_ body: @escaping @Sendable () -> Void) {
            queue.withLock { $0.append(body) }
            event_active(wakeEvent, 0, 0)
        }

        /// Asks the loop, from any thread, to run its `onShutdownRequest`
        /// (a graceful stop), or to stop when it has none.
        public func requestShutdown() {
            execute { [self] in
                if let action = owner?.onShutdownRequest { action() } else { stop() }
            }
        }

        /// Makes the loop return from `run()` after the current callbacks.
        public func stop() {
            event_base_loopbreak(base)
        }

        fileprivate func drain() {
            let work = queue.withLock { jobs -> [@Sendable () -> Void] in
                defer { jobs.removeAll(keepingCapacity: true) }
                return jobs
            }
            for job in work { job() }
        }
    }
}
