-- smpp.security -- who may bind: hashed passwords (verified on libuv's
-- thread pool, a bounded number at once, recently verified ones
-- remembered), delays and lockouts after repeated failures per address and
-- per (address, system_id), and address filters (CIDR for peers, sender
-- ids for submits).
local core = require "smpp.core"
local smpp = require "smpp"

local M = {}

-- The defaults, in one place; the config's `security` section overrides
-- them (lua/smpp/config.lua names each key).
local function defaults()
    return {
        max_failures = 5,          -- failed binds of one system_id from one address before that pair is locked
        max_address_failures = nil,  -- from one address, any system_id (nil: 4 x max_failures)
        lockout = 300,             -- seconds a lockout lasts; failures older than this are forgotten
        failure_delay = 1,         -- seconds added to each refusal after the first (at most 5)
        max_tracked = 10000,       -- address and (address, system_id) entries kept; the oldest go first
        bind_rate = 100,           -- binds a second from one address; more wait their turn (0: no limit)
        bind_burst = nil,          -- binds from one address at once before bind_rate applies (nil: bind_rate)
        hash_concurrency = nil,    -- password hashes at once (nil: half the CPUs, at least 1)
        hash_queue = 64,           -- binds waiting for a hash; past it ESME_RBINDFAIL at once
        verify_cache_ttl = 300,    -- seconds a verified (hash, password) pair is remembered (0: never)
        verify_cache_size = 1000,  -- such pairs remembered, at most
    }
end
local opt = defaults()

local now = core.clock

-- -- Addresses: pace, failures and lockouts -------------------------------------------
-- One bounded table of entries keyed by address ("a ADDRESS": failures,
-- "r ADDRESS": bind pace) and by address and system_id ("p ADDRESS
-- SYSTEM_ID": failures), never by system_id alone: a stranger's guesses
-- lock out only the stranger's address. An entry matters until `keep`;
-- after that it is forgotten.

local tracked_map = {}                -- key -> { key, keep, count, locked_until, tat }
local order = { head = 1, tail = 0 }  -- the entries in the order they were made
local tracked, evicted = 0, 0

local function forget(e)
    if tracked_map[e.key] == e then
        tracked_map[e.key] = nil
        tracked = tracked - 1
    end
end

-- Make room: entries at the front that no longer matter go, then the
-- oldest while over the bound; the list is rebuilt when most of it is
-- entries already gone.
local function trim(t)
    while order.head <= order.tail do
        local e = order[order.head]
        if tracked_map[e.key] == e and e.keep >= t and tracked <= opt.max_tracked then break end
        order[order.head] = nil
        order.head = order.head + 1
        if tracked_map[e.key] == e then
            if e.keep >= t then evicted = evicted + 1 end
            forget(e)
        end
    end
    if order.tail - order.head + 1 > 2 * tracked + 64 then
        local fresh = { head = 1, tail = 0 }
        for i = order.head, order.tail do
            local e = order[i]
            if tracked_map[e.key] == e then
                fresh.tail = fresh.tail + 1
                fresh[fresh.tail] = e
            end
        end
        order = fresh
    end
end

local function entry(key, t, create)
    local e = tracked_map[key]
    if e and e.keep < t then                 -- its failures are forgotten
        e.count, e.locked_until = 0, nil
    end
    if e or not create then return e end
    e = { key = key, count = 0, keep = t }
    tracked_map[key] = e
    tracked = tracked + 1
    order.tail = order.tail + 1
    order[order.tail] = e
    trim(t)
    return e
end

local paced = 0

-- pace(ip) -> seconds this bind should wait before it is looked at: at most
-- bind_rate binds a second from one address (after bind_burst at once), so
-- a client that connects and binds in a loop is slowed to that rate rather
-- than taking the event loop from every bound session. The wait is cheap
-- (a sleeping task); the waiting binds of one address are bounded by
-- limits.max_per_address.
function M.pace(ip)
    local rate = opt.bind_rate
    if rate <= 0 then return 0 end
    local t = now()
    local e = entry("r " .. tostring(ip), t, true)
    local tat = math.max(e.tat or t, t)
    local wait = tat - t - ((opt.bind_burst or rate) - 1) / rate
    e.tat = tat + 1 / rate
    e.keep = e.tat
    if wait <= 0 then return 0 end
    paced = paced + 1
    return wait
end

local function keys(ip, system_id)
    ip = tostring(ip)
    return "a " .. ip, "p " .. ip .. " " .. tostring(system_id)
end

-- locked(ip, system_id) -> nil | seconds left of a lockout of the address
-- or of this system_id from it
function M.locked(ip, system_id)
    local t = now()
    local left
    for _, k in ipairs { keys(ip, system_id) } do
        local e = entry(k, t, false)
        if e and e.locked_until and e.locked_until > t then left = math.max(left or 0, e.locked_until - t) end
    end
    return left
end

local function address_limit() return opt.max_address_failures or 4 * opt.max_failures end

-- failed(ip, system_id) -> seconds to delay the refusal. max_failures in a
-- row for the pair lock the pair, max_address_failures for the address lock
-- the address, for `lockout` seconds.
function M.failed(ip, system_id)
    local t = now()
    local akey, pkey = keys(ip, system_id)
    local a, p = entry(akey, t, true), entry(pkey, t, true)
    local delay = math.min(5, opt.failure_delay * p.count)
    for _, x in ipairs { { p, opt.max_failures }, { a, address_limit() } } do
        local e, limit = x[1], x[2]
        e.count, e.keep = e.count + 1, t + opt.lockout
        if e.count >= limit then
            e.locked_until, e.count = t + opt.lockout, 0
            if e == p then
                smpp.log("warn", "bind lockout for %gs: %d failed binds of '%s' from %s", opt.lockout, limit,
                    tostring(system_id), tostring(ip))
            else
                smpp.log("warn", "bind lockout for %gs: %d failed binds from %s", opt.lockout, limit, tostring(ip))
            end
        end
    end
    return delay
end

-- succeeded(ip, system_id): forget this pair's failures (not the address's,
-- and nothing about other addresses).
function M.succeeded(ip, system_id)
    local e = tracked_map[select(2, keys(ip, system_id))]
    if e and not (e.locked_until and e.locked_until > now()) then forget(e) end
end


-- -- Passwords -----------------------------------------------------------------------
-- Stored as "pbkdf2-sha256$ITERATIONS$SALT$HEX" (PBKDF2-HMAC-SHA256, 32
-- octets, SALT in hex); anything else is a plain password.

local HASHED = "^pbkdf2%-sha256%$(%d+)%$(%x+)%$(%x+)$"

-- hash(password [, iterations]) -> the stored form
function M.hash(password, iterations)
    iterations = iterations or 100000
    local salt = core.random_hex(16)
    return string.format("pbkdf2-sha256$%d$%s$%s", iterations, salt, core.pbkdf2(password, salt, iterations))
end

-- verify(stored, given) -> true when the password matches (constant time
-- in the compared octets). Hashes on the calling thread: for tools and
-- tests; binds use check_password.
function M.verify(stored, given)
    local iter, salt, hex = stored:match(HASHED)
    if iter then return core.same_secret(hex, core.pbkdf2(given, salt, tonumber(iter))) end
    return core.same_secret(stored, given)
end

-- Hash slots: at most hash_concurrency hashes run at once; up to
-- hash_queue binds wait in turn for one. A finished hash hands its slot
-- straight to the first waiter, so no newcomer can jump the queue.
local hashing = 0
local waiters = { head = 1, tail = 0 }
local counts = { hashes = 0, cache_hits = 0, busy = 0 }

local function concurrency()
    return opt.hash_concurrency or math.max(1, math.floor(core.cpu_count() / 2))
end

local function slot_acquire()
    if hashing < concurrency() then
        hashing = hashing + 1
        return true
    end
    if waiters.tail - waiters.head + 1 >= opt.hash_queue then return false end
    smpp.wait(function(tok)
        waiters.tail = waiters.tail + 1
        waiters[waiters.tail] = tok
    end)
    return true
end

local function slot_release()
    while waiters.head <= waiters.tail do
        local tok = waiters[waiters.head]
        waiters[waiters.head] = nil
        waiters.head = waiters.head + 1
        if core.wake(tok) then return end       -- the slot is theirs now
    end
    hashing = hashing - 1
end

-- The cache of verified passwords: secret_tag(stored, given) -> expiry. A
-- tag is an HMAC under a key that never leaves the process, so a hit means
-- this very password verified against this very hash lately, and a wrong
-- password can never hit. Bounded; the oldest entry goes first.
local cache, cache_order, cached = {}, { head = 1, tail = 0 }, 0

local function cache_put(tag, expires)
    if cache[tag] then
        cache[tag] = expires
        return
    end
    if opt.verify_cache_size <= 0 then return end
    while cached >= opt.verify_cache_size and cache_order.head <= cache_order.tail do
        local old = cache_order[cache_order.head]
        cache_order[cache_order.head] = nil
        cache_order.head = cache_order.head + 1
        if cache[old] then
            cache[old] = nil
            cached = cached - 1
        end
    end
    cache[tag] = expires
    cached = cached + 1
    cache_order.tail = cache_order.tail + 1
    cache_order[cache_order.tail] = tag
end

-- check_password(stored, given [, still_wanted]) -> true | false | nil, err.
-- Must run in a task: a hashed password is verified on the thread pool
-- while the task waits (the loop goes on serving everyone else). err
-- "busy": hash_queue binds are waiting already; "gone": still_wanted()
-- said no after the wait for a slot (the session closed meanwhile).
function M.check_password(stored, given, still_wanted)
    local iter, salt, hex = stored:match(HASHED)
    if not iter then return core.same_secret(stored, given) end
    local t = now()
    local tag = opt.verify_cache_ttl > 0 and core.secret_tag(stored .. "\0" .. given)
    if tag and cache[tag] and cache[tag] > t then
        counts.cache_hits = counts.cache_hits + 1
        return true
    end
    if not slot_acquire() then
        counts.busy = counts.busy + 1
        return nil, "busy"
    end
    if still_wanted and not still_wanted() then
        slot_release()
        return nil, "gone"
    end
    counts.hashes = counts.hashes + 1
    local got, err = smpp.wait(function(tok)
        local ok, qerr = core.pbkdf2_queue(given, salt, tonumber(iter), function(h, e) core.wake(tok, h, e) end)
        if not ok then core.wake(tok, nil, qerr) end
    end)
    slot_release()
    if not got then return nil, err end
    local ok = core.same_secret(hex, got)
    if ok and tag then cache_put(tag, now() + opt.verify_cache_ttl) end
    return ok
end

-- stats() -> the bind checks' counters and levels, for /stats
function M.stats()
    return {
        tracked = tracked, tracked_max = opt.max_tracked, tracked_evicted = evicted, binds_paced = paced,
        password_hashes = counts.hashes, password_cache_hits = counts.cache_hits,
        password_checks_busy = counts.busy, hashing = hashing, hash_waiting = waiters.tail - waiters.head + 1,
    }
end

-- configure(security_section): the defaults, then the section's values;
-- the levels appear in /stats and /metrics as gauges beside their limits.
function M.configure(o)
    opt = defaults()
    for k, v in pairs(o or {}) do opt[k] = v end
    smpp.gauge("bind_tracked", function() return tracked end, opt.max_tracked)
    smpp.gauge("bind_password_hashing", function() return hashing end, concurrency())
    smpp.gauge("bind_password_queue", function() return waiters.tail - waiters.head + 1 end, opt.hash_queue)
    smpp.gauge("bind_verified_cached", function() return cached end, opt.verify_cache_size)
end

-- -- Addresses -------------------------------------------------------------------------

-- IPv4 "a.b.c.d" or IPv6 text -> list of 16 octets (IPv4 as ::ffff:a.b.c.d), or nil
local function octets(ip)
    local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a then
        local v4 = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
        for _, x in ipairs(v4) do if x > 255 then return nil end end
        return { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, v4[1], v4[2], v4[3], v4[4] }, 96
    end
    if not ip:find(":") then return nil end
    local head, tail = ip:match("^(.-)::(.*)$")
    local function groups(s)
        local g = {}
        for x in s:gmatch("[^:]+") do g[#g + 1] = tonumber(x, 16) end
        return g
    end
    local h, t = groups(head or ip), head and groups(tail) or {}
    local all = {}
    for _, x in ipairs(h) do all[#all + 1] = x end
    for _ = 1, 8 - #h - #t do all[#all + 1] = 0 end
    for _, x in ipairs(t) do all[#all + 1] = x end
    if #all ~= 8 then return nil end
    local o = {}
    for _, x in ipairs(all) do
        if not x or x > 0xFFFF then return nil end
        o[#o + 1] = math.floor(x / 256)
        o[#o + 1] = x % 256
    end
    return o, 0
end

-- in_network(ip, cidr) -> true if the address is in "net/bits" (IPv4 or IPv6).
function M.in_network(ip, cidr)
    local net, bits = cidr:match("^(.-)/(%d+)$")
    net = net or cidr
    local a, offset = octets(ip)
    local n, noffset = octets(net)
    if not a or not n then return false end
    bits = tonumber(bits) or (128 - noffset)
    bits = bits + noffset                     -- IPv4 prefixes count from the mapped part
    for i = 1, 16 do                          -- compare the first `bits` bits
        local take = math.min(8, math.max(0, bits - (i - 1) * 8))
        if take == 0 then break end
        local unit = 2 ^ (8 - take)
        if a[i] - a[i] % unit ~= n[i] - n[i] % unit then return false end
    end
    return offset ~= nil
end

-- source_allowed(list, source_addr) -> true when list is empty or an entry
-- equals it (or, starting with "^", matches it as a Lua pattern).
function M.source_allowed(list, source)
    if not list or #list == 0 then return true end
    for _, s in ipairs(list) do
        if s == source or (s:sub(1, 1) == "^" and source:match(s)) then return true end
    end
    return false
end

return M
