-- smpp.cluster -- what the workers and nodes of one cluster share through
-- Redis (the `cluster` section, docs/cluster.md): each account's
-- throughput (a token bucket in Redis, core/rt_cluster.c), its max_binds
-- (the binds of every node, each claim kept alive by the node holding it)
-- and bind lockouts (failures counted and locks kept in Redis).
--
-- Every process that serves opens its own link (core/rt_redis.c); the
-- server's bind check calls locked/failed/claim_bind from the bind's task,
-- which waits for Redis while the loop serves everyone else. While Redis
-- is unreachable the limits that cannot be counted are not skipped: binds
-- of accounts with max_binds are refused and limited accounts' submits
-- throttled until it is back; lockouts fall back to each process's own.
local core = require "smpp.core"
local smpp = require "smpp"

local M = { on = false }

-- Server-side scripts, loaded (SCRIPT LOAD) each time the link comes up
-- and called by SHA1; EVAL with the text when Redis lost them (NOSCRIPT).
local scripts = {
    -- KEYS[1] bucket hash; ARGV rate, burst, want -> tokens granted
    bucket = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local v = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens, ts = tonumber(v[1]), tonumber(v[2])
if not tokens then tokens, ts = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local grant = math.max(0, math.min(want, math.floor(tokens)))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - grant), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return grant
]],
    -- KEYS[1] the account's binds (member -> expiry in ms); ARGV member,
    -- ttl ms, max_binds -> 1 claimed (or refreshed), 0 full
    bind = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local max = tonumber(ARGV[3])
if max > 0 and not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= max then
    return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 1
]],
    -- KEYS[1] the account's binds; ARGV ttl ms, members... -> refreshed
    -- (added again if Redis lost them: it restarted empty)
    refresh = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = 0
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ARGV[i]); n = n + 1 end
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[1]))
return n
]],
    -- KEYS lock of the pair, lock of the address -> ms left of the longer, 0
    locked = [[
return math.max(0, redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2]))
]],
    -- KEYS failures of the pair, of the address, lock of the pair, of the
    -- address; ARGV max pair, max address, lockout ms -> 1 pair locked,
    -- 2 address locked, 3 both, 0 none
    failed = [[
local out = 0
for i = 1, 2 do
    local n = redis.call('INCR', KEYS[i])
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
    if n >= tonumber(ARGV[i]) then
        redis.call('SET', KEYS[i + 2], '1', 'PX', ARGV[3])
        redis.call('DEL', KEYS[i])
        out = out + i
    end
end
return out
]],
}
local sha = {}

local opt = {}
local REFRESH_MAX = 500    -- members renewed by one call (a command has at most 1024 words)
local claims = {}          -- session id -> { key =, member = }: this node's bind claims
local refresh_timer

-- key(kind, name) -> the Redis key; the account or address in a hash tag,
-- so that a Redis Cluster keeps one account's keys on one shard
local function key(kind, name)
    return opt.prefix .. kind .. ":{" .. tostring(name) .. "}"
end
M.key = key

-- pair_key(kind, ip, system_id) -> the key of an address and account pair:
-- under the address's tag, so that a lockout script's keys (the pair's and
-- the address's) are in one slot
local function pair_key(kind, ip, system_id)
    return opt.prefix .. kind .. ":{" .. tostring(ip) .. "}" .. tostring(system_id)
end

-- call(name, keys, args) -> the script's answer | nil, err (waits)
local function call(name, keys, args)
    local words = { sha[name] and "EVALSHA" or "EVAL", sha[name] or scripts[name], #keys }
    for _, k in ipairs(keys) do words[#words + 1] = k end
    for _, a in ipairs(args) do words[#words + 1] = a end
    local r, err = core.redis(unpack(words))
    if r == nil and err and err:match("^NOSCRIPT") then
        sha[name] = nil
        words[1], words[2] = "EVAL", scripts[name]
        r, err = core.redis(unpack(words))
    end
    return r, err
end

-- send(name, keys, args) -> true | nil, err: the same without waiting
local function send(name, keys, args)
    local words = { sha[name] and "EVALSHA" or "EVAL", sha[name] or scripts[name], #keys }
    for _, k in ipairs(keys) do words[#words + 1] = k end
    for _, a in ipairs(args) do words[#words + 1] = a end
    return core.redis_send(unpack(words))
end

-- the link came up: load the scripts (again: Redis may have restarted)
local function on_state(state)
    if state ~= "up" then return end
    for name, text in pairs(scripts) do
        local s = core.redis("SCRIPT", "LOAD", text)
        if s then
            sha[name] = s
            if name == "bucket" then core.cluster_script(s, text) end
        end
    end
end

-- -- Binds ---------------------------------------------------------------------------

-- claim_bind(account, sess) -> true | false, why: count this bind among
-- the account's binds on every node, unless max_binds are there already.
function M.claim_bind(a, sess)
    if not M.on or (a.max_binds or 0) <= 0 then return true end
    local k, member = key("binds", a.system_id), M.node .. ":" .. tostring(sess.id)
    local r, err = call("bind", { k }, { member, math.floor(opt.bind_ttl * 1000), a.max_binds })
    if r == nil then return false, "the cluster's state is unavailable (" .. tostring(err) .. ")" end
    if r == 0 then return false, ("max_binds (%d) reached across the cluster"):format(a.max_binds) end
    claims[sess.id] = { key = k, member = member }
    return true
end

-- release_bind(sess): the bind is over (without waiting; a claim Redis
-- does not hear of expires after bind_ttl)
function M.release_bind(sess)
    local c = sess and claims[sess.id]
    if not c then return end
    claims[sess.id] = nil
    core.redis_send("ZREM", c.key, c.member)
end

-- every bind_ttl / 3 seconds: keep this node's claims alive, and let go of
-- those whose session closed before its `down` (a bind that failed after
-- its claim)
local function refresh()
    local by_key, ttl = {}, math.floor(opt.bind_ttl * 1000)
    for id, c in pairs(claims) do
        if core.session(id) == nil then
            claims[id] = nil
            core.redis_send("ZREM", c.key, c.member)
        else
            local lists = by_key[c.key] or { { ttl } }
            if #lists[#lists] > REFRESH_MAX then lists[#lists + 1] = { ttl } end
            local l = lists[#lists]
            l[#l + 1] = c.member
            by_key[c.key] = lists
        end
    end
    for k, lists in pairs(by_key) do
        for _, args in ipairs(lists) do send("refresh", { k }, args) end
    end
end

-- -- Lockouts ------------------------------------------------------------------------

-- locked(ip, system_id) -> seconds left of a lockout anywhere in the
-- cluster, or nil | nil, err when Redis cannot say
function M.locked(ip, system_id)
    if not M.on then return nil end
    local ms, err = call("locked", { pair_key("lock", ip, system_id), key("lock", ip) }, {})
    if ms == nil then return nil, err end
    return ms > 0 and ms / 1000 or nil
end

-- failed(ip, system_id, max_failures, max_address_failures, lockout): a
-- failed bind, counted across the cluster; logs a lockout it starts
function M.failed(ip, system_id, max_pair, max_address, lockout)
    if not M.on then return end
    local r = call("failed", { pair_key("fail", ip, system_id), key("fail", ip), pair_key("lock", ip, system_id),
                                key("lock", ip) },
        { max_pair, max_address, math.floor(lockout * 1000) })
    if r and r % 2 == 1 then
        smpp.log("warn", "bind lockout for %gs across the cluster: %d failed binds of '%s' from %s", lockout, max_pair,
            tostring(system_id), ip)
    end
    if r and r >= 2 then
        smpp.log("warn", "bind lockout for %gs across the cluster: %d failed binds from %s", lockout, max_address, ip)
    end
end

-- succeeded(ip, system_id): forget the pair's failures (not the address's)
function M.succeeded(ip, system_id)
    if M.on then core.redis_send("DEL", pair_key("fail", ip, system_id)) end
end

-- -- Throughput ----------------------------------------------------------------------

-- throttle(sess, account): the account's throughput across the cluster.
-- When this node holds no token of the account yet, the bind waits for a
-- first batch, so that its first submit does not find the bucket empty.
function M.throttle(sess, a)
    local k, burst = key("tb", a.system_id), a.burst > 0 and a.burst or math.max(1, a.throughput)
    local granted
    if (core.cluster_held(k) or 0) < 1 then
        granted = call("bucket", { k }, { a.throughput, burst, math.max(1, math.ceil(a.throughput * 0.05)) })
    end
    core.cluster_throttle(sess, k, a.throughput, burst, granted)
end

-- -- Setting up ----------------------------------------------------------------------

-- configure(section, rstore, store_section): open the link and start
-- keeping this node's claims alive (section: the `cluster` section, nil:
-- no limits across nodes); rstore (smpp.store.redis_of): the store is in
-- Redis, and the gateway's messages and smpp.post's receipts and MO go
-- there too (core/rt_gwr.h). The process has one link: with both, they
-- name the same Redis (config_check). Called when serving starts (the
-- `start` event, before any bind is handled).
function M.configure(section, rstore, store_section)
    if not section and not rstore then return end
    local address = require "smpp.address"
    local link = section or rstore
    local host, port = address.parse(link.redis)
    opt = { prefix = section and section.prefix or "smppgw:", bind_ttl = section and section.bind_ttl or 15,
            store = rstore ~= nil }
    local f = io.open("/proc/sys/kernel/hostname")
    local hostname = f and f:read("*l") or "node"
    if f then f:close() end
    M.node = hostname .. ":" .. core.random_hex(6)     -- this process, in its bind claims
    core.redis_open { host = host, port = port, password = link.password, db = link.db or 0,
                      timeout = section and section.timeout or 2, on_state = on_state }
    M.linked = true
    M.on = section ~= nil
    if rstore then                 -- the gateway's messages in Redis (core/rt_gwr.h)
        core.gwr_start { prefix = rstore.prefix, claim_after = section and section.claim_after or 30,
                         ttl = section and section.trace_ttl or (store_section and store_section.trace_ttl) or 86400,
                         node_id = not core.worker() and section and section.node_id or nil }
    end
    if section then
        if refresh_timer then smpp.cancel(refresh_timer) end
        refresh_timer = core.after(opt.bind_ttl / 3 * 1000, refresh, true, true)   -- kept at reloads
    end
    return true
end

-- await_ids(limit, sess): a bind on a gateway whose messages are in Redis waits
-- (at most limit seconds) for the node's id and its first block of message
-- ids, asked for when the link comes up: a submit before them would get
-- ESME_RMSGQFUL. It does not wait while the link is down. Returns whether
-- they are at hand.
function M.await_ids(limit, sess)
    -- only the gateway takes these ids (the reference SMSC's come from its store)
    if not M.stores_messages() or not package.loaded["smpp.gateway"] then return true end
    local deadline, said = smpp.time() + limit, false
    while true do
        local st = core.gwr_stats()
        if st and st.node_id > 0 and st.ids_left > 0 then return true end
        if smpp.time() >= deadline or core.redis_state() == "down" then return false end
        if not said and sess then
            sess:log("info", "the bind waits for this node's message ids from Redis")
            said = true
        end
        smpp.sleep(0.005)
    end
end

-- rx_key(prefix, account) -> the stream smpp.post appends an account's
-- receipts and MO to while the store is in Redis: the key core/rt_gwr_rx.c
-- uses (PREFIX{a:ACCOUNT}r), made there
function M.rx_key(prefix, account) return core.gwr_rx_key(account, prefix) end

-- stats() -> { node, redis = { state, ... }, throughput = { [key] = ... },
-- binds_claimed } for /stats
-- stores_messages() -> whether the gateway's messages are in Redis
function M.stores_messages() return M.linked == true and opt.store == true end

-- record(r, id) -> a record as smpp.store.get gives one, from the fields
-- of HGETALL r (core/rt_gwr.h: the message's hash in Redis)
local function record(r, id)
    local rec = { id = id }
    for i = 1, #r - 1, 2 do rec[r[i]] = r[i + 1] end
    for _, k in ipairs { "state", "done", "err", "attempts", "rd", "submitted", "expires" } do
        rec[k] = tonumber(rec[k])
    end
    rec.err = rec.err or 0
    rec.final = rec.final == "1"
    rec.registered_delivery = rec.rd
    if rec.upstream_id == "" then rec.upstream_id = nil end
    return rec
end

-- message(id [, upstreams, prefix]) -> the record of a gateway message kept
-- in Redis (store.redis, cluster.store: core/rt_gwr.h) as smpp.store.get gives one (id,
-- account, upstream, route, state, final, done, err, attempts,
-- upstream_id, source, dest, submitted, expires, notify, trace), or nil
-- (none), or nil, err (Redis unreachable). The record is under its
-- upstream's hash tag: every upstream is looked at (those named, else
-- every link of this process) in one round trip. Waits for Redis. A
-- process that did not start the cluster (`smppgw messages`) names the
-- upstreams and the prefix.
function M.message(id, upstreams, prefix)
    if not upstreams and not M.stores_messages() then return nil, "the store is not in Redis" end
    local r, err = core.gwr_get(tostring(id), upstreams, prefix)
    if type(r) ~= "table" then return nil, err end
    return record(r, tostring(id))
end

function M.stats()
    if not M.linked then return nil end
    local n = 0
    for _ in pairs(claims) do n = n + 1 end
    local r = core.redis_stats() or { state = "down" }
    r.up = r.state == "up" and 1 or 0
    return { node = M.node, redis = r, throughput = core.cluster_stats(), binds_claimed = n, store = core.gwr_stats() }
end

return M
