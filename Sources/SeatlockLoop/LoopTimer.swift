// Timers on a loop: one-shot or repeating, cancelled from the loop thread.
import CLibevent

/// A libevent timer owned by Swift. It holds its closure until cancelled
/// (a one-shot timer lets go of it after firing).
public final class LoopTimer {
    private var event: OpaquePointer?
    private var body: (() -> Void)?
    private let repeats: Bool

    init(base: OpaquePointer, interval: Duration, repeats: Bool, body: @escaping () -> Void) {
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
    /// libevent takes its intervals as timeval.
    init(_ duration: Duration) {
        self.init(tv_sec: Int(duration.components.seconds), tv_usec: Int(duration.components.attoseconds / 1_000_000_000_000))
    }
}
