-- smpp.security -- who may bind: hashed passwords (verified on libuv's
-- thread pool, a bounded number at once, recently verified ones
-- remembered), delays and lockouts after repeated failures per address and
-- per (address, system_id), and address filters (CIDR for peers, sender
-- ids for submits).
local core = require "smpp.core"
local smpp = require "smpp"
local fifo = require "smpp.fifo"
local config = require "smpp.config"

local M = {}

-- The options in force: the config's `security` section over the schema's
-- defaults (lua/smpp/config.lua names each key and holds its default; the
-- `derived` ones, absent here, are worked out below: address_limit,
-- concurrency, reserved, per_account, and bind_burst in pace).
local opt = config.with_defaults("security", nil)

local now = core.clock

-- -- Addresses: pace, failures and lockouts -------------------------------------------
-- One bounded table of entries keyed by address ("a ADDRESS": failures,
-- "r ADDRESS": bind pace) and by address and system_id ("p ADDRESS
-- SYSTEM_ID": failures), never by system_id alone: a stranger's guesses
-- lock out only the stranger's address. An entry matters until `keep`;
-- after that it is forgotten.

-- The bound of a list that keeps the order of a table of at most `max`
-- entries and is pruned as it goes (fifo's prune: 2 x live + 64, and the
-- one pushed before the next prune).
local function order_limit(max) return 2 * max + 66 end

local tracked_map = {}                -- key -> { key, keep, count, locked_until, tat }
local order = fifo.new(order_limit(opt.max_tracked))   -- the entries in the order they were made
local tracked, evicted = 0, 0

local function forget(e)
    if tracked_map[e.key] == e then
        tracked_map[e.key] = nil
        tracked = tracked - 1
    end
end

local function is_tracked(e) return tracked_map[e.key] == e end

-- Make room: entries at the front that no longer matter go, then the
-- oldest while over the bound; the list is rebuilt when most of it is
-- entries already gone.
local function trim(t)
    while true do
        local e = order:peek()
        if e == nil or (is_tracked(e) and e.keep >= t and tracked <= opt.max_tracked) then break end
        order:pop()
        if is_tracked(e) then
            if e.keep >= t then evicted = evicted + 1 end
            forget(e)
        end
    end
    order:prune(is_tracked, tracked)
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
    assert(order:push(e))                    -- trim keeps the list below its limit
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

-- -- Who binds: known pairs and accounts -------------------------------------------
-- A successful bind makes its (address, system_id) pair and its system_id
-- known for trust_ttl seconds. Only the password makes an entry, so a
-- flood from strangers cannot make or push out one: the table is bounded
-- by max_trusted on its own (oldest first), apart from the failure table.

local trusted = { map = {}, order = fifo.new(order_limit(opt.max_trusted)), n = 0, seq = 0 }

local function trust_live(rec)
    local e = trusted.map[rec.key]
    return e ~= nil and e.seq == rec.seq
end

-- At most max_trusted keys: the one known longest ago goes first.
local function trust_trim()
    local order = trusted.order
    while trusted.n > opt.max_trusted do
        local rec = order:pop()
        if not rec then break end
        if trust_live(rec) then
            trusted.map[rec.key] = nil
            trusted.n = trusted.n - 1
        end
    end
    order:prune(trust_live, trusted.n)
end

-- trust_put(key, t): key is known until t + trust_ttl. The order list has
-- one record per put ({key, seq}); only a key's latest record counts, so
-- the oldest to go is the one known longest ago, and the list is rebuilt
-- when most of it is stale records.
local function trust_put(key, t)
    local map = trusted.map
    if not map[key] then trusted.n = trusted.n + 1 end
    trusted.seq = trusted.seq + 1
    map[key] = { until_ = t + opt.trust_ttl, seq = trusted.seq }
    assert(trusted.order:push { key = key, seq = trusted.seq })   -- trust_trim keeps it below its limit
    trust_trim()
end

local function trust_get(key, t)
    local e = trusted.map[key]
    return e ~= nil and e.until_ > t
end

-- succeeded(ip, system_id): forget this pair's failures (not the address's,
-- and nothing about other addresses), and know the pair and the system_id
-- for trust_ttl seconds (their binds hash in the lanes strangers cannot fill).
function M.succeeded(ip, system_id)
    local t = now()
    local e = tracked_map[select(2, keys(ip, system_id))]
    if e and not (e.locked_until and e.locked_until > t) then forget(e) end
    if opt.trust_ttl > 0 then                 -- known from now on (see check_password's lanes)
        trust_put("p " .. tostring(ip) .. " " .. tostring(system_id), t)
        trust_put("s " .. tostring(system_id), t)
    end
end


-- -- Passwords -----------------------------------------------------------------------
-- Stored as "pbkdf2-sha256$ITERATIONS$SALT$DIGEST" (PBKDF2-HMAC-SHA256,
-- SALT in hex, DIGEST 32 octets in hex), as `smppgw passwd` prints it;
-- anything else of at most 8 characters is a plain password. parse_hash is
-- the one reader of that form: the configuration check (smpp.config_check)
-- refuses what it refuses, so a bind never meets a hash it cannot verify.

local HASH_PREFIX = "pbkdf2-sha256$"
M.max_iterations = core.pbkdf2_max_iterations   -- what core/lcrypto.c hashes with, at most

-- parse_hash(stored) -> { iterations =, salt =, digest = } for a hash,
-- false for a plain password, or nil, why (a malformed hash, or a plain
-- password longer than SMPP's 8 characters, which no bind can match).
function M.parse_hash(stored)
    if type(stored) ~= "string" then return nil, "not a string" end
    if stored:sub(1, #HASH_PREFIX) ~= HASH_PREFIX then
        if #stored > 8 then
            return nil, "longer than the 8 characters of an SMPP password, and not a hash "
                .. "(pbkdf2-sha256$ITERATIONS$SALT$DIGEST, as smppgw passwd prints it)"
        end
        return false
    end
    local iter, salt, digest = stored:match("^pbkdf2%-sha256%$(%d+)%$([^$]*)%$([^$]*)$")
    if not iter then return nil, "a hash is pbkdf2-sha256$ITERATIONS$SALT$DIGEST (as smppgw passwd prints it)" end
    iter = tonumber(iter)
    if iter < 1 or iter > M.max_iterations then
        return nil, string.format("hash iterations %d outside 1..%d", iter, M.max_iterations)
    end
    if #salt < 2 or #salt > 1024 or #salt % 2 == 1 or salt:find("%X") then
        return nil, "the hash's salt is not 2 to 1024 hex digits (an even number of them)"
    end
    if #digest ~= 64 or digest:find("%X") then return nil, "the hash's digest is not 64 hex digits" end
    return { iterations = iter, salt = salt, digest = digest:lower() }
end

-- hash(password [, iterations]) and verify(stored, given): below the hash
-- slots, since in a task they hash on the thread pool through them.

-- -- Hash slots -----------------------------------------------------------------------
-- At most hash_concurrency hashes run at once; the binds waiting for one
-- wait in three lanes: 1 a known (address, system_id) pair, 2 a known
-- system_id from a new address, 3 anyone else. A finished hash hands its
-- slot straight to a waiter: lane 1's first, else lanes 2 and 3 take
-- turns (a flood in one cannot starve the other), so no newcomer jumps a
-- queue and strangers never delay a known pair by more than the hashes
-- already running. Of the hash_queue places, lane 3 may
-- fill all but 2 x hash_reserved and lane 2 all but hash_reserved: a flood
-- of strangers cannot take the places a known client needs. In lanes 2
-- and 3 one address holds at most hash_per_address places and one
-- system_id hash_per_account (hashing or waiting): a flood at one account
-- from rotating addresses leaves room for the others' binds. Each refusal
-- for a full queue paces its address (its next bind waits failure_delay
-- longer, see M.busy).
--
-- A slot is given back exactly once, whatever happens to the bind: by the
-- hash's completion (it runs on libuv's thread pool and always completes),
-- or at once if no hash was queued (an error, the session gone meanwhile).

local hashing = 0
local lanes = { fifo.new(math.max(1, opt.hash_queue)), fifo.new(math.max(1, opt.hash_queue)),
                fifo.new(math.max(1, opt.hash_queue)) }
local waiting = 0                         -- in all lanes
local turn = 2                            -- lanes 2 and 3 take turns after lane 1
local shares = {}                         -- "a ADDRESS" / "s SYSTEM_ID" -> places held in lanes 2 and 3
local counts = { hashes = 0, cache_hits = 0, busy = 0, busy_address = 0, busy_account = 0, coalesced = 0 }

local function concurrency()
    return opt.hash_concurrency or math.max(1, math.floor(core.cpu_count() / 2))
end

local function reserved()
    return opt.hash_reserved or math.floor(opt.hash_queue / 4)
end

local function per_account()
    return opt.hash_per_account or math.max(1, math.floor(opt.hash_queue / 4))
end

-- lane_of(ip, system_id) -> 1, 2 or 3 (above)
local function lane_of(ip, system_id, t)
    if ip and system_id and trust_get("p " .. ip .. " " .. system_id, t) then return 1 end
    if system_id and trust_get("s " .. system_id, t) then return 2 end
    return 3
end

-- The places a bind holds outside lane 1: its address's and its system_id's.
local function share_keys(ip, sid)
    return ip and ("a " .. ip), sid and ("s " .. sid)
end

local function share_add(key, d)
    if not key then return end
    local n = (shares[key] or 0) + d
    shares[key] = n > 0 and n or nil
end

-- slot_release(ip, sid): the places of ip and sid (nil in lane 1) are
-- given back; the slot goes to the first waiter of the first lane, or
-- back to the pool.
local function slot_release(ip, sid)
    local ka, ks = share_keys(ip, sid)
    share_add(ka, -1)
    share_add(ks, -1)
    turn = turn == 2 and 3 or 2
    for _, i in ipairs { 1, turn, 5 - turn } do
        local tok = lanes[i]:pop()
        while tok ~= nil do
            waiting = waiting - 1
            if core.wake(tok) then return end   -- the slot is theirs now
            tok = lanes[i]:pop()
        end
    end
    hashing = hashing - 1
end

-- slot_acquire(ip, sid, lane) -> true (a slot is held) | nil, why
-- ("busy": the lane's places are taken; "address", "account": this
-- address or system_id holds its share). ip and sid are nil in lane 1.
local function slot_acquire(ip, sid, lane)
    local ka, ks = share_keys(ip, sid)
    if ka and (shares[ka] or 0) >= opt.hash_per_address then return nil, "address" end
    if ks and (shares[ks] or 0) >= per_account() then return nil, "account" end
    local q = lanes[lane]
    if hashing >= concurrency() and (waiting >= opt.hash_queue - (lane - 1) * reserved() or q:full()) then
        return nil, "busy"
    end
    share_add(ka, 1)
    share_add(ks, 1)
    if hashing < concurrency() then
        hashing = hashing + 1
        return true
    end
    smpp.wait(function(tok)
        assert(q:push(tok))                   -- not full: checked above
        waiting = waiting + 1
    end)
    return true
end

-- The cache of verified passwords: secret_tag(stored, given) -> expiry. A
-- tag is an HMAC under a key that never leaves the process, so a hit means
-- this very password verified against this very hash lately, and a wrong
-- password can never hit. Bounded; the oldest entry goes first.
local cache, cache_order, cached = {}, fifo.new(math.max(1, opt.verify_cache_size)), 0

-- Checks hashing now, by tag: a list of the tokens of binds with the same
-- password for the same hash that wait for its answer instead of hashing
-- again (one client opening many binds at once costs one hash and one
-- place in the queue). Only with the cache on: verify_cache_ttl = 0 means
-- every check hashes.
local inflight = {}

local function cache_put(tag, expires)
    if cache[tag] then
        cache[tag] = expires
        return
    end
    if opt.verify_cache_size <= 0 then return end
    while cached >= opt.verify_cache_size do
        local old = cache_order:pop()
        if not old then break end
        if cache[old] then
            cache[old] = nil
            cached = cached - 1
        end
    end
    if not cache_order:push(tag) then return end    -- (one entry per tag: never full here)
    cache[tag] = expires
    cached = cached + 1
end

-- hash_on_pool(given, h, release) -> hex | nil, err: the hash of `given`
-- under h, computed on the thread pool while the task waits. release()
-- runs exactly once: when the hash completes, or at once if none was
-- queued (a refusal to queue is raised from the register step, before the
-- task waits, since a wake before the wait is registered finds no one;
-- any other error is raised again after the release).
local function hash_on_pool(given, h, release)
    local queued, refused = false, {}
    local ok, got, err = pcall(smpp.wait, function(tok)
        local q, qerr = core.pbkdf2_queue(given, h.salt, h.iterations, function(hex, e)
            release()
            core.wake(tok, hex, e)
        end)
        if not q then
            refused.why = qerr
            error(refused)
        end
        queued = true
    end)
    if not queued then release() end
    if not ok then
        if got == refused then return nil, refused.why end
        error(got, 0)
    end
    return got, err
end

-- pbkdf2(password, salt, iterations, fn) -> 64 hex digits. In a task of
-- the runtime (a handler, timer or event that can wait) the hash runs on
-- the thread pool in one of the bind checks' slots (lane 1: the operator's
-- own code, never paced) while the task waits, so a script's hash of a
-- million iterations costs the loop nothing and no budget; anywhere else
-- (`smppgw passwd`, a tool, a script's load) on the calling thread. Raises
-- naming fn when the slots' queue is full.
local function pbkdf2(password, salt, iterations, fn)
    local co = coroutine.running()
    if not (co and core.is_task(co) and coroutine.isyieldable()) then
        return core.pbkdf2(password, salt, iterations)
    end
    if type(password) ~= "string" then error(fn .. ": the password must be a string", 3) end
    local held, busy = slot_acquire(nil, nil, 1)
    if not held then error(fn .. ": the hash queue is " .. busy .. " (security.hash_queue)", 3) end
    counts.hashes = counts.hashes + 1
    local released = false
    local got, err = hash_on_pool(password, { salt = salt, iterations = iterations }, function()
        if released then return end
        released = true
        slot_release(nil, nil)
    end)
    if not got then error(fn .. ": " .. tostring(err), 3) end
    return got
end

-- hash(password [, iterations]) -> the stored form
function M.hash(password, iterations)
    iterations = iterations or 100000
    local salt = core.random_hex(16)
    return string.format("pbkdf2-sha256$%d$%s$%s", iterations, salt,
                         pbkdf2(password, salt, iterations, "smpp.security.hash"))
end

-- verify(stored, given) -> true when the password matches (constant time
-- in the compared octets); raises on a malformed hash. Hashes as hash()
-- does: on the thread pool from a task, else on the calling thread. Binds
-- use check_password (cache, coalescing, lanes).
function M.verify(stored, given)
    local h, why = M.parse_hash(stored)
    if h == nil then error("verify: " .. why, 2) end
    if h then
        if type(given) ~= "string" then return false end
        return core.same_secret(h.digest, pbkdf2(given, h.salt, h.iterations, "smpp.security.verify"))
    end
    return core.same_secret(stored, given)
end

-- lead(h, given, who, t) -> true | false | nil, err: one check that
-- hashes (check_password, below, without the cache and the coalescing).
local function lead(h, given, who, t)
    local ip = who.ip and tostring(who.ip)
    local sid = who.system_id and tostring(who.system_id)
    local lane = lane_of(ip, sid, t)
    if lane == 1 then ip, sid = nil, nil end  -- a known pair holds no share
    local held, busy = slot_acquire(ip, sid, lane)
    if not held then
        counts.busy = counts.busy + 1
        if busy == "address" then counts.busy_address = counts.busy_address + 1 end
        if busy == "account" then counts.busy_account = counts.busy_account + 1 end
        return nil, busy == "busy" and "busy" or busy .. " busy"
    end
    local released = false
    local function release()
        if released then return end
        released = true
        slot_release(ip, sid)
    end
    if who.still_wanted then                  -- a script's function may raise: the slot goes back first
        local called, wanted = pcall(who.still_wanted)
        if not called or not wanted then
            release()
            if not called then error(wanted, 0) end
            return nil, "gone"
        end
    end
    counts.hashes = counts.hashes + 1
    local got, err = hash_on_pool(given, h, release)
    if not got then return nil, err end
    return core.same_secret(h.digest, got)
end

-- check_password(stored, given [, who]) -> true | false | nil, err. who =
-- { ip =, system_id =, still_wanted = fn } says who binds (for the lane
-- and the address's share) and still_wanted() whether the bind still
-- matters after its wait for a slot. Must run in a task: a hashed
-- password is verified on the thread pool while the task waits (the loop
-- goes on serving everyone else). err "busy": the lane's places in the
-- queue are taken; "address busy" / "account busy": the address holds
-- hash_per_address places, or the system_id hash_per_account; "gone": still_wanted() said no after the wait for a slot; or
-- why the stored hash is malformed (the configuration check refuses those).
function M.check_password(stored, given, who)
    if type(who) == "function" then who = { still_wanted = who } end   -- the earlier form
    if type(who) ~= "table" then who = {} end
    if type(given) ~= "string" then return false end
    local h, why = M.parse_hash(stored)
    if h == nil then return nil, "the account's password hash is malformed: " .. why end
    if not h then return core.same_secret(stored, given) end
    local t = now()
    local tag = opt.verify_cache_ttl > 0 and core.secret_tag(stored .. "\0" .. given)
    if tag and cache[tag] and cache[tag] > t then
        counts.cache_hits = counts.cache_hits + 1
        return true
    end
    local flight = tag and inflight[tag]
    if flight then                            -- the same check is on its way: its answer is ours
        counts.coalesced = counts.coalesced + 1
        local ok, err = smpp.wait(function(tok) flight[#flight + 1] = tok end)
        if ok == nil and err == "gone" then return M.check_password(stored, given, who) end   -- its bind left
        return ok, err
    end
    flight = {}
    if tag then inflight[tag] = flight end
    local called, ok, err = pcall(lead, h, given, who, t)
    if tag then inflight[tag] = nil end
    if called and ok and tag then cache_put(tag, now() + opt.verify_cache_ttl) end
    for _, tok in ipairs(flight) do           -- the binds that waited for this very check
        if called then core.wake(tok, ok, err) else core.wake(tok, nil, "hash failed") end
    end
    if not called then error(ok, 0) end
    return ok, err
end

-- busy(ip): a bind from ip was refused for a full hash queue; its
-- address's next bind waits failure_delay longer (see pace).
function M.busy(ip)
    if opt.failure_delay <= 0 then return end
    local t = now()
    local e = entry("r " .. tostring(ip), t, true)
    e.tat = math.max(e.tat or t, t) + opt.failure_delay
    e.keep = e.tat
end

-- stats() -> the bind checks' counters and levels, for /stats
function M.stats()
    return {
        tracked = tracked, tracked_max = opt.max_tracked, tracked_evicted = evicted, binds_paced = paced,
        password_hashes = counts.hashes, password_cache_hits = counts.cache_hits,
        password_checks_coalesced = counts.coalesced,
        password_checks_busy = counts.busy, password_checks_busy_address = counts.busy_address,
        password_checks_busy_account = counts.busy_account,
        hashing = hashing, hash_waiting = waiting,
        hash_waiting_known = lanes[1]:len(),
        hash_waiting_known_account = lanes[2]:len(),
        hash_waiting_strangers = lanes[3]:len(),
        trusted = trusted.n, trusted_max = opt.max_trusted,
    }
end

-- lockout() -> max_failures, max_address_failures, lockout in force (for
-- the lockouts a cluster shares, smpp.cluster)
function M.lockout() return opt.max_failures, address_limit(), opt.lockout end

-- configure(security_section): the defaults, then the section's values;
-- the levels appear in /stats and /metrics as gauges beside their limits.
function M.configure(o)
    opt = config.with_defaults("security", o)
    -- the bounds of the lists follow the new limits; what is over them goes now
    order:set_limit(order_limit(opt.max_tracked))
    trim(now())
    trusted.order:set_limit(order_limit(opt.max_trusted))
    trust_trim()
    for _, q in ipairs(lanes) do q:set_limit(math.max(1, opt.hash_queue)) end
    cache_order:set_limit(math.max(1, opt.verify_cache_size))
    local own_gauge = require("smpp.session").own_gauge     -- not counted in scripts.max_gauges
    own_gauge("bind_tracked", function() return tracked end, opt.max_tracked)
    own_gauge("bind_password_hashing", function() return hashing end, concurrency())
    own_gauge("bind_password_queue", function() return waiting end, opt.hash_queue)
    own_gauge("bind_trusted", function() return trusted.n end, opt.max_trusted)
    own_gauge("bind_verified_cached", function() return cached end, opt.verify_cache_size)
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

-- parse_network(cidr) -> true | nil, why: "address/prefix" (or an address
-- alone) with an IPv4 prefix 0..32 or an IPv6 prefix 0..128, as
-- accounts[].networks takes it (a network nothing can be in refuses every bind).
function M.parse_network(cidr)
    if type(cidr) ~= "string" then return nil, "not a string" end
    local net, bits = cidr:match("^(.-)/(%d+)$")
    net = net or cidr
    local o, offset = octets(net)
    if not o then return nil, "not an IPv4 or IPv6 address" .. (cidr:find("/") and "/prefix" or "") end
    local max = offset == 96 and 32 or 128
    if cidr:find("/") and (not bits or tonumber(bits) > max) then
        return nil, string.format("the prefix is not 0..%d", max)
    end
    return true
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
