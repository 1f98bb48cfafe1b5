-- ending.lua: ends a held / payment_pending booking (release, expire,
-- cancel). Included with `--@include ending` after common and seats. Needs
-- the KEYS layout those scripts share: [1] booking, [2] sold, [3] expiry,
-- [4] expiries, [5] event, [6] log, [7] user prefix (count `user:U`, live
-- holds `user:U:live`), [8] hold prefix,
-- [9] free prefix.

-- Gives the hold back: seat holds this booking still owns, its timer and
-- expiries entry, the buyer's count, the event's held counter; sets the
-- final status with `fields`, and appends `seat.released` with `reason` and
-- `actor`. Returns the seats that became free.
local function end_hold(b, now, status, fields, reason, actor)
  local seats = split_commas(b.seats)
  local released = release_seats(KEYS[8], KEYS[9], KEYS[2], b.id, seats)
  redis.call('DEL', KEYS[3])
  redis.call('ZREM', KEYS[4], b.id)
  redis.call('DECRBY', KEYS[7] .. b.userId, #seats)
  redis.call('ZREM', KEYS[7] .. b.userId .. ':live', b.id)
  redis.call('HINCRBY', KEYS[5], 'held', -#seats)
  redis.call('HSET', KEYS[1], 'status', status, unpack(fields))
  b.status = status
  log_event(KEYS[6], 'seat.released', event_id_of(KEYS[1]), now, {'bookingId', b.id, 'seats', table.concat(released, ','),
    'reason', reason, 'actor', actor})
  return released
end
