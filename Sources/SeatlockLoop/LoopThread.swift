// A loop on a thread of its own, for services that run beside the HTTP loops.
import Foundation
import Synchronization

/// A thread that owns one event loop, for services that run beside the
/// HTTP loops (expiry, workers). `setup` runs on the new thread, builds the
/// service on the loop and sets `onShutdownRequest` (a graceful stop that
/// ends with `loop.handle.stop()`); what it throws, `init` throws.
public final class LoopThread: Sendable {
    private let handle = Mutex<EventLoop.Handle?>(nil)
    private let finished = DispatchSemaphore(value: 0)

    public init(name: String, setup: @escaping @Sendable (EventLoop) throws -> Void) throws {
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<(any Error)?>(nil)
        let thread = Thread { [self] in
            let loop: EventLoop
            do {
                loop = try EventLoop()
                try setup(loop)
            } catch {
                failure.withLock { $0 = error }
                ready.signal()
                finished.signal()
                return
            }
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
