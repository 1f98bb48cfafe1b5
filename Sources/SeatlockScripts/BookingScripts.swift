// The Lua scripts of lua/ that the server, the workers and the CLI run,
// looked up once at start (each carries its SHA1 for EVALSHA).
import SeatlockRedis

public struct BookingScripts: Sendable {
    public let createEvent, getEvent, getBooking, hold, holdBest, pay, confirm, release, expire: LuaScript
    public let paymentFailed, cancel, refund, updateEvent, cancelEvent, cancelBookings, listBookings, reindexBookings, createUser, addSeats: LuaScript
    public let queueJoin, queueTick, queueControl, waitlistJoin, waitlistGet, waitlistLeave: LuaScript

    public init(_ library: ScriptLibrary) throws {
        createEvent = try library.script("create_event")
        getEvent = try library.script("get_event")
        getBooking = try library.script("get_booking")
        hold = try library.script("hold")
        holdBest = try library.script("hold_best")
        pay = try library.script("pay")
        confirm = try library.script("confirm")
        release = try library.script("release")
        expire = try library.script("expire")
        paymentFailed = try library.script("payment_failed")
        cancel = try library.script("cancel")
        refund = try library.script("refund")
        updateEvent = try library.script("update_event")
        cancelEvent = try library.script("cancel_event")
        cancelBookings = try library.script("cancel_bookings")
        listBookings = try library.script("list_bookings")
        reindexBookings = try library.script("reindex_bookings")
        createUser = try library.script("create_user")
        addSeats = try library.script("add_seats")
        queueJoin = try library.script("queue_join")
        queueTick = try library.script("queue_tick")
        queueControl = try library.script("queue_control")
        waitlistJoin = try library.script("waitlist_join")
        waitlistGet = try library.script("waitlist_get")
        waitlistLeave = try library.script("waitlist_leave")
    }
}
