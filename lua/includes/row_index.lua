-- row_index.lua: best available's row index. Included with
-- `--@include row_index` (after common and seats) by the scripts that read
-- it or free seats; hold.lua, the hot path, takes seats without it.

-- Which rows of a section may still have a run of N free seats, so that
-- best available finds adjacent seats wherever they are, at a bounded cost.
-- The hash `sl:{E}:free:SECTION:runs` (derived from the free prefix;
-- section ids have no ':') is a segment tree over the rows: `size` (a
-- power of two >= rows), `cap` (the event's maxSeatsPerUser: no hold asks
-- for more), field size + ROW - 1 a bound on that row's longest run of
-- free seats (capped at cap), each field below size the largest value under
-- it (1: the whole section).
--
-- A row's value is never less than its longest run, but may be more: taking
-- seats (hold.lua, the hot path) leaves the tree alone; freeing a seat raises
-- its row to the run the seat now joins (a few ZCOUNTs, O(log cap), and
-- O(log rows) tree writes when the value grows); best available descends
-- to the front-most row whose value is >= N, reads that row's first free
-- seats (the whole row only when they do not settle the choice) and, when
-- the row has no such run after all, writes the row's true longest run and
-- descends again. So no row with a run is ever skipped, and every row read
-- in vain was made stale by a seat taken since it was last read: the cost
-- is O(log rows + 4N) a hold plus, amortised, one row read per seat taken.
-- The free set stays the truth: an event made before the index existed gets
-- it built from the free set on its first best-available hold.

local function runs_key(free_prefix, section) return free_prefix .. section .. ':runs' end

-- Writes a row's value and carries it up the tree until an ancestor does not change.
local function set_row_run(key, size, row, value)
  local node = size + row - 1
  redis.call('HSET', key, node, value)
  while node > 1 do
    local sibling = node % 2 == 0 and node + 1 or node - 1
    local parent = math.floor(node / 2)
    value = math.max(value, tonumber(redis.call('HGET', key, sibling)) or 0)
    if tonumber(redis.call('HGET', key, parent)) == value then return end
    redis.call('HSET', key, parent, value)
    node = parent
  end
end

-- The length (at most `cap`) of the run of free seats that starts next to
-- `number` in `row` and goes `step` (-1 left, +1 right): found with ZCOUNT
-- (O(log seats), nothing copied), by halving when the run is neither empty
-- nor full; a seat's score is unique (row * 10000 + number).
local function run_beside(free_key, low, number, step, cap)
  local function free_between(k) -- are the k seats beside `number` all free?
    local near, far = number + step, number + step * k
    if far < 1 then return false end
    return redis.call('ZCOUNT', free_key, low + math.min(near, far), low + math.max(near, far)) == k
  end
  if not free_between(1) then return 0 end
  if free_between(cap) then return cap end
  local good, bad = 1, cap -- free_between(good) holds, free_between(bad) does not
  while bad - good > 1 do
    local middle = math.floor((good + bad) / 2)
    if free_between(middle) then good = middle else bad = middle end
  end
  return good
end

-- After `seat` joined its section's free set (call it after the ZADD): its
-- row's value rises to the run the seat is now part of, if that is more.
-- Sections without an index (built lazily) are skipped.
local function seat_freed(free_prefix, seat)
  local section, row, number = seat_parts(seat)
  local key = runs_key(free_prefix, section)
  local meta = redis.call('HMGET', key, 'size', 'cap')
  local size, cap = tonumber(meta[1]), tonumber(meta[2])
  if not size then return end
  local low, free_key = seat_score(row, 0), free_prefix .. section
  local joined = math.min(cap, run_beside(free_key, low, number, -1, cap) + run_beside(free_key, low, number, 1, cap) + 1)
  if joined > (tonumber(redis.call('HGET', key, size + row - 1)) or 0) then set_row_run(key, size, row, joined) end
end

-- The runs of consecutive free seats of `row`, from the first `limit` of
-- its free seats (all without a limit): `seats`, the flat ZRANGEBYSCORE
-- reply (seat, score, seat, score, ...), and `runs`, in row order, each
-- {index in `seats` of its first seat, length}. (No table per seat: a row
-- may have hundreds.)
local function row_runs(free_key, row, limit)
  local low = seat_score(row, 0)
  local seats = limit and redis.call('ZRANGEBYSCORE', free_key, low + 1, low + 9999, 'WITHSCORES', 'LIMIT', 0, limit)
    or redis.call('ZRANGEBYSCORE', free_key, low + 1, low + 9999, 'WITHSCORES')
  local runs, previous = {}, -1
  for i = 1, #seats, 2 do
    local number = tonumber(seats[i + 1])
    if number == previous + 1 then
      local run = runs[#runs]
      run[2] = run[2] + 1
    else
      runs[#runs + 1] = {i, 1}
    end
    previous = number
  end
  return seats, runs
end

local function longest_run(runs, cap)
  local longest = 0
  for _, run in ipairs(runs) do longest = math.max(longest, run[2]) end
  return math.min(cap, longest)
end

-- (Re)builds the index of `section` (capped at `cap`). With `every_row_free`
-- (a new section: each row is one run of `every_row_free` seats) nothing is
-- read; else each row's longest run comes from the free set (O(section
-- seats)). Returns the tree's size.
local function build_runs(free_prefix, section, rows, cap, every_row_free)
  local key, free_key = runs_key(free_prefix, section), free_prefix .. section
  local size = 1
  while size < rows do size = size * 2 end
  local tree = {}
  for node = 1, 2 * size - 1 do tree[node] = 0 end
  for row = 1, rows do
    tree[size + row - 1] = every_row_free and math.min(cap, every_row_free)
      or longest_run(select(2, row_runs(free_key, row)), cap)
  end
  for node = size - 1, 1, -1 do tree[node] = math.max(tree[2 * node], tree[2 * node + 1]) end
  local fields = {'size', size, 'cap', cap}
  for node = 1, 2 * size - 1 do
    fields[#fields + 1] = node
    fields[#fields + 1] = tree[node]
  end
  redis.call('DEL', key)
  for i = 1, #fields, 2000 do -- unpack() takes a few thousand values at most
    redis.call('HSET', key, unpack(fields, i, math.min(#fields, i + 1999)))
  end
  return size
end

-- The first run in `runs` that n seats fill exactly or leave two or more
-- of, so that no single seat is stranded (no one buys it alone); if every
-- run would leave one, the first run that fits; nil when none fits. With
-- `complete` false, `runs` may stop short of the row's end and its last run
-- may go on: only a choice that the rest of the row could not change is
-- made (that last run qualifies only if it leaves two or more seats), and
-- nil means "read the whole row".
local function choose_run(runs, n, complete)
  local fallback
  for i, run in ipairs(runs) do
    local length = run[2]
    local open_ended = not complete and i == #runs
    if length >= n and length - n ~= 1 and (not open_ended or length - n >= 2) then return run end
    if length >= n and not fallback then fallback = run end
  end
  return complete and fallback or nil
end

-- The seat ids of the first n seats of `run` (from row_runs).
local function run_seats(seats, run, n)
  local chosen = {}
  for k = 0, n - 1 do chosen[k + 1] = seats[run[1] + 2 * k] end
  return chosen
end

-- `n` consecutive free seats in the front-most row of `section` that has
-- them (a list of seat ids), or nil when no row has: at the start of the
-- row's first run that leaves no single seat beside them (choose_run).
-- The row's first 4n free seats (12 at least) are read first: a run found
-- there is taken and the row index left alone (a row's value may overstate
-- it, see above); only when they do not settle it is the whole row read,
-- and the row then gets its true longest run without the seats taken. So
-- a hold in a long, still full row reads a few dozen seats, not the row.
local function front_run(free_prefix, section, rows, cap, n)
  local key, free_key = runs_key(free_prefix, section), free_prefix .. section
  local meta = redis.call('HMGET', key, 'size', 'cap')
  local size = tonumber(meta[1])
  -- (built with a smaller cap, e.g. before maxSeatsPerUser was raised, it cannot tell a run of n)
  if not size or tonumber(meta[2]) < n then size = build_runs(free_prefix, section, rows, math.max(cap, n)) end
  local first = math.max(12, 4 * n)
  while (tonumber(redis.call('HGET', key, 1)) or 0) >= n do
    local node = 1
    while node < size do
      node = 2 * node
      if (tonumber(redis.call('HGET', key, node)) or 0) < n then node = node + 1 end
    end
    local row = node - size + 1
    local seats, runs = row_runs(free_key, row, first)
    if #seats == 2 * first then -- (the row may go on)
      local run = choose_run(runs, n, false)
      if run then return run_seats(seats, run, n) end
      seats, runs = row_runs(free_key, row)
    end
    local run = choose_run(runs, n, true)
    local chosen = run and run_seats(seats, run, n)
    if run then run[2] = run[2] - n end -- (taken from its start: the rest of it stays a run)
    set_row_run(key, size, row, longest_run(runs, cap))
    if chosen then return chosen end
  end
  return nil
end
