// SIGINT and SIGTERM delivered on a loop, as libevent signal events.
import CLibevent
#if canImport(Glibc)
import Glibc
#endif

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
