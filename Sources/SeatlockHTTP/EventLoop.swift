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

/// A libevent timer owned by Swift. It holds its closure until cancelled
/// (a one-shot timer lets go of it after firing).
public final class LoopTimer {
    private var event: OpaquePointer?
    private var body: (() -> Void)?
    private let repeats: Bool

    fileprivate init(base: OpaquePointer, interval: Duration, repeats: Bool, body: @escaping () -> Void) {
        self.body = body
        self.repeats = repeats
        let flags = repeats ? Int16(EV_PERSIST) : 0
        event = event_new(base, -1, flags, { _, _, arg in
            guard let arg else { return }
            let timer = Unmanaged<LoopTimer>.fromOpaque(arg).takeUnretainedValue()
            timer.fire()
        }, Unmanaged.passUnretained(self).toOpaque())
        var tv = timeval(interval)
        event_add(event, &tv)
        // The loop keeps the timer alive while it is pending.
        retainedSelf = Unmanaged.passRetained(self)
    }

    private var retainedSelf: Unmanaged<LoopTimer>?

    private func fire() {
        body?()
        if !repeats { cancel() }
    }

    /// Stops the timer; safe to call more than once.
    public func cancel() {
        if let event {
            event_del(event)
            event_free(event)
            self.event = nil
        }
        body = nil
        let retained = retainedSelf
        retainedSelf = nil
        retained?.release()
    }
}

extension timeval {
    init(_ duration: Duration) {
        self.init(tv_sec: Int(duration.components.seconds), tv_usec: Int(duration.components.attoseconds / 1_000_000_000_000))
    }
}

extension Duration {
    /// Whole units, for Redis arguments, timers and histograms.
    public var wholeMilliseconds: Int64 { components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000 }
    public var wholeMicroseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
    public var wholeNanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
    public var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Catches SIGINT and SIGTERM on a loop (only one loop per process should).
public final class SignalWatcher {
    private var events: [OpaquePointer] = []
    private let onSignal: (Int32) -> Void

    public init(loop: EventLoop, signals: [Int32] = [SIGINT, SIGTERM], onSignal: @escaping (Int32) -> Void) {
        self.onSignal = onSignal
        let box = Unmanaged.passUnretained(self).toOpaque()
        for sig in signals {
            if let ev = event_new(loop.base, sig, Int16(EV_SIGNAL | EV_PERSIST), { fd, _, arg in
                guard let arg else { return }
                Unmanaged<SignalWatcher>.fromOpaque(arg).takeUnretainedValue().onSignal(fd)
            }, box) {
                event_add(ev, nil)
                events.append(ev)
            }
        }
    }

    public func cancel() {
        for ev in events {
            event_del(ev)
            event_free(ev)
        }
        events.removeAll()
    }

    deinit { cancel() }
}

/// A thread that owns one event loop, for services that run beside the
/// HTTP loops (expiry, workers). `setup` runs on the new thread, builds the
/// service on the loop and sets `onShutdownRequest` (a graceful stop that
/// ends with `loop.handle.stop()`).
public final class LoopThread: Sendable {
    private let handle = Mutex<EventLoop.Handle?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    public init(name: String, setup: @escaping @Sendable (EventLoop) -> Void) throws {
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<EventLoopError?>(nil)
        let thread = Thread { [self] in
            let loop: EventLoop
            do { loop = try EventLoop() } catch {
                failure.withLock { $0 = error as? EventLoopError ?? EventLoopError(description: "\(error)") }
                ready.signal()
                finished.signal()
                return
            }
            setup(loop)
            handle.withLock { $0 = loop.handle }
            ready.signal()
            loop.run()
            finished.signal()
        }
        thread.name = name
        thread.start()
        ready.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    /// Asks for the graceful stop and waits for it; stops the loop outright
    /// if it takes longer than `timeout`.
    public func stop(timeout: Duration) {
        guard let loop = handle.withLock({ $0 }) else { return }
        loop.requestShutdown()
        if finished.wait(timeout: .now() + timeout.secondsValue) == .timedOut {
            loop.stop()
            _ = finished.wait(timeout: .now() + 1)
        }
    }
}

/// Lifts the soft limit on open files to the hard one: every HTTP connection
/// (and every idle stream subscriber) is a descriptor.
public func raiseOpenFileLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}

/// A write to a client that already left must be an error on that
/// connection (evhttp handles it), not SIGPIPE killing the process.
public func ignoreBrokenPipes() {
    signal(SIGPIPE, SIG_IGN)
}
