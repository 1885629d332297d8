-- smpp.store_redis_scripts -- the server-side scripts of the Redis store
-- (smpp.store_redis): one per method, each run atomically by Redis
-- (EVALSHA), so a method's reads and writes are one round trip and no
-- other node sees half of one. Their keys and fields are listed in
-- docs/store.md ("The Redis backend").
--
-- B (ARGV[1]) is the key base `PREFIX {s}:`; KEYS[1] is B .. "n", the
-- store's counters, so that a cluster routes the call to the store's shard.

local LIB = [==[
local B = ARGV[1]
local function row(k)
    local f = redis.call('HGETALL', B .. 'm:' .. k)
    if #f == 0 then return nil end
    local r = {}
    for i = 1, #f, 2 do r[f[i]] = f[i + 1] end
    return r, f
end
local function triple(r) return r.account .. '\0' .. r.dest .. '\0' .. r.source end
local function dueset(r) return r.upstream and (B .. 'due:' .. r.upstream) or (B .. 'due') end
local function idx(k, r, on)
    if on then
        redis.call('ZADD', B .. 'keep', r.keep_until, k)
        if r.due then redis.call('ZADD', dueset(r), r.due, k) end
        if r.upstream and r.upstream_key then
            redis.call('SET', B .. 'u:' .. r.upstream .. '\0' .. r.upstream_key, k)
        end
        if r.account and r.dest and r.source then
            -- pending, not in an upstream's queue: what find looks at (as SQLite's index)
            if r.final ~= '1' and not r.upstream then redis.call('ZADD', B .. 'p:' .. triple(r), k, k) end
            redis.call('ZADD', B .. 'a:' .. triple(r), r.submitted, k)
        end
        if r.account then redis.call('ZADD', B .. 'l:' .. r.account, k, k) end
        if r.id then redis.call('SET', B .. 'i:' .. (r.part or '0') .. ':' .. r.id, k) end
    else
        redis.call('ZREM', B .. 'keep', k)
        if r.due then redis.call('ZREM', dueset(r), k) end
        if r.upstream and r.upstream_key then
            local ukey = B .. 'u:' .. r.upstream .. '\0' .. r.upstream_key
            if redis.call('GET', ukey) == k then redis.call('DEL', ukey) end
        end
        if r.account and r.dest and r.source then
            redis.call('ZREM', B .. 'p:' .. triple(r), k)
            redis.call('ZREM', B .. 'a:' .. triple(r), k)
        end
        if r.account then redis.call('ZREM', B .. 'l:' .. r.account, k) end
        if r.id then redis.call('DEL', B .. 'i:' .. (r.part or '0') .. ':' .. r.id) end
    end
end
local function remove(k)
    local r = row(k)
    if not r then return nil end
    idx(k, r, false)
    redis.call('DEL', B .. 'm:' .. k)
    return r
end
local function keep_until(r, ttl)
    local sub = tonumber(r.submitted)
    if r.final == '1' then return string.format('%.17g', (tonumber(r.done) or sub) + ttl) end
    local t = sub
    if r.done and tonumber(r.done) > t then t = tonumber(r.done) end
    if r.expires and tonumber(r.expires) > t then t = tonumber(r.expires) end
    return string.format('%.17g', t + ttl)
end
-- the rows of keys (in their order) of account, dest and source (and
-- service_type, unless ''), at most limit: find's and recent's filter
local function matching(keys, limit, account, dest, source, service_type)
    local out = {}
    if limit == 0 then return out end
    for _, k in ipairs(keys) do
        local r, f = row(k)
        if r and r.account == account and r.dest == dest and r.source == source
            and (service_type == '' or r.service_type == service_type) then
            out[#out + 1] = f
            if #out >= limit then break end
        end
    end
    return out
end
]==]

local scripts = {
    -- ARGV B, max messages, id, part, head hint, (unused), then field, value...
    -- -> {0, key, node | ''} | {1, why} full | {2, why} exists. A row whose
    -- id is made from its key records the store's node id, made here when
    -- the store has none (a Redis that restarted empty: the key counter
    -- starts again, a new node id keeps the ids new)
    put = LIB .. [==[
local max, id, part, hint = tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local r = {}
for i = 7, #ARGV, 2 do r[ARGV[i]] = ARGV[i + 1] end
if id ~= '' and redis.call('EXISTS', B .. 'i:' .. part .. ':' .. id) == 1 then
    return {2, 'put: message ' .. id .. ' part ' .. part .. ' exists'}
end
if redis.call('ZCARD', B .. 'keep') >= max then
    local victim
    for _, k in ipairs(redis.call('ZRANGE', B .. 'keep', 0, 63)) do
        local v = redis.call('HMGET', B .. 'm:' .. k, 'final', 'due')
        if v[1] == '1' and not v[2] then victim = k break end
    end
    if not victim then
        return {1, 'messages: ' .. max .. ' stored, none final with nothing due (limits.messages)'}
    end
    remove(victim)
    redis.call('HINCRBY', KEYS[1], 'evicted', 1)
end
local key = tostring(redis.call('INCR', B .. 'ctr:messages.key'))
local f = {'key', key}
for k, v in pairs(r) do f[#f + 1] = k; f[#f + 1] = v end
if id == '' and tonumber(part) > 0 and hint ~= '' then
    -- a later part of a message whose ids are made from its first part's key
    local h = redis.call('HMGET', B .. 'm:' .. hint, 'part', 'head')
    if tonumber(h[1] or '-1') == tonumber(part) - 1 then
        local head = h[2] or hint
        f[#f + 1] = 'head'; f[#f + 1] = head
        redis.call('HSET', B .. 'm:' .. head, 'p' .. part, key)
    end
end
local node = ''
if r.id_format then
    node = redis.call('GET', B .. 'node')
    if not node then
        local t = redis.call('TIME')
        node = string.format('%d', (tonumber(t[1]) * 1000000 + tonumber(t[2])) % 4294967295 + 1)
        redis.call('SET', B .. 'node', node)
    end
    f[#f + 1] = 'node'; f[#f + 1] = node
end
redis.call('HSET', B .. 'm:' .. key, unpack(f))
r.key = key
idx(key, r, true)
return {0, key, node}
]==],
    -- ARGV B, key | '', id, part -> the row's fields | {}
    get = LIB .. [==[
local k = ARGV[2]
if k == '' then k = redis.call('GET', B .. 'i:' .. ARGV[4] .. ':' .. ARGV[3]) end
if not k then return {} end
local _, f = row(k)
return f or {}
]==],
    -- ARGV B, head key | '', id -> { fields, ... } in part order
    parts = LIB .. [==[
local k = ARGV[2]
local out = {}
if k == '' then
    -- text ids: parts 0, 1, ... by their own index entries
    for p = 0, 254 do
        local pk = redis.call('GET', B .. 'i:' .. p .. ':' .. ARGV[3])
        if not pk then break end
        local _, f = row(pk)
        out[#out + 1] = f
    end
    return out
end
local r, f = row(k)
if not r or (r.part or '0') ~= '0' then return out end
out[1] = f
for p = 1, 254 do
    local pk = r['p' .. p]
    if not pk then break end
    local _, pf = row(pk)
    if not pf then break end
    out[#out + 1] = pf
end
return out
]==],
    -- ARGV B, trace_ttl, keys (',' separated), pending '1'|'', trace line | '',
    -- then field, value... -> rows changed
    -- ARGV B, key -> 1 (removed) | 0 (none)
    remove = LIB .. [==[
if remove(ARGV[2]) then return 1 end
return 0
]==],
    update = LIB .. [==[
local ttl, pending, line = tonumber(ARGV[2]), ARGV[4] == '1', ARGV[5]
local n = 0
for k in string.gmatch(ARGV[3], '[^,]+') do
    local r = row(k)
    if r and not (pending and r.final == '1') then
        idx(k, r, false)
        local set = {}
        for i = 6, #ARGV, 2 do
            if string.sub(ARGV[i], 1, 1) == '-' then       -- a time cleared (update's false)
                r[string.sub(ARGV[i], 2)] = nil
                redis.call('HDEL', B .. 'm:' .. k, string.sub(ARGV[i], 2))
            else
                r[ARGV[i]] = ARGV[i + 1]
                set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1]
            end
        end
        if line ~= '' then
            local t = (r.trace or '') .. line
            if #t > 4096 then t = string.sub(t, -4096) end
            r.trace = t
            set[#set + 1] = 'trace'; set[#set + 1] = t
        end
        r.keep_until = keep_until(r, ttl)
        set[#set + 1] = 'keep_until'; set[#set + 1] = r.keep_until
        redis.call('HSET', B .. 'm:' .. k, unpack(set))
        idx(k, r, true)
        n = n + 1
    end
end
return n
]==],
    -- ARGV B, triple, service_type | '', limit, account, dest, source
    -- -> pending rows, oldest first (the three compared too: a NUL in one
    -- of them makes the triple of another)
    find = LIB .. [==[
return matching(redis.call('ZRANGE', B .. 'p:' .. ARGV[2], 0, -1), tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[3])
]==],
    -- ARGV B, triple, since, service_type | '', limit, account, dest, source
    -- -> rows, newest first
    recent = LIB .. [==[
return matching(redis.call('ZREVRANGEBYSCORE', B .. 'a:' .. ARGV[2], '+inf', ARGV[3]), tonumber(ARGV[5]), ARGV[6],
                ARGV[7], ARGV[8], ARGV[4])
]==],
    -- ARGV B, now, limit, upstream | '', mode ('look', 'lease', 'take'),
    -- new due (lease) -> rows due, earliest first
    due = LIB .. [==[
local set = ARGV[4] ~= '' and (B .. 'due:' .. ARGV[4]) or (B .. 'due')
local out = {}
for _, k in ipairs(redis.call('ZRANGEBYSCORE', set, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))) do
    local r, f = row(k)
    if r then
        if ARGV[5] == 'lease' then
            redis.call('ZADD', set, ARGV[6], k)
            redis.call('HSET', B .. 'm:' .. k, 'due', ARGV[6])
        elseif ARGV[5] == 'take' then
            redis.call('ZREM', set, k)
            redis.call('HDEL', B .. 'm:' .. k, 'due')
        end
        out[#out + 1] = f
    else
        redis.call('ZREM', set, k)
    end
end
return out
]==],
    -- ARGV B, trace_ttl, final '1' | '', then key, the due time its lease
    -- set, ... -> rows settled -- the end of leases taken by `due`: their
    -- receipts are out. A row that went, or whose due moved since (another
    -- node's lease, a retry), is left as it is.
    due_done = LIB .. [==[
local ttl, n = tonumber(ARGV[2]), 0
for i = 4, #ARGV - 1, 2 do
    local k = ARGV[i]
    local r = row(k)
    if r and r.due == ARGV[i + 1] then
        idx(k, r, false)
        r.due = nil
        redis.call('HDEL', B .. 'm:' .. k, 'due')
        if ARGV[3] == '1' then r.final = '1' end
        r.keep_until = keep_until(r, ttl)
        redis.call('HSET', B .. 'm:' .. k, 'final', r.final or '0', 'keep_until', r.keep_until)
        idx(k, r, true)
        n = n + 1
    end
end
return n
]==],
    -- ARGV B, upstream, key -> fields | {}
    by_upstream = LIB .. [==[
local k = redis.call('GET', B .. 'u:' .. ARGV[2] .. '\0' .. ARGV[3])
if not k then return {} end
local _, f = row(k)
return f or {}
]==],
    -- ARGV B, account, after, since, until, state, limit, scan
    -- -> { next key | '', rows... }
    list = LIB .. [==[
local since, till = tonumber(ARGV[4]), tonumber(ARGV[5])
local state, limit, scan = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local keys = redis.call('ZRANGEBYSCORE', B .. 'l:' .. ARGV[2], '(' .. ARGV[3], '+inf', 'LIMIT', 0, scan)
local out, n, nxt = {''}, 0, ''
for i, k in ipairs(keys) do
    local r, f = row(k)
    local at = r and tonumber(r.submitted)
    if r and at >= since and at < till and (state < 0 or tonumber(r.state or '0') == state) then
        out[#out + 1] = f
        n = n + 1
        if n >= limit then nxt = k break end
    end
    if i == scan then nxt = k end
end
out[1] = nxt
return out
]==],
    -- ARGV B, account, pdu, ref | '', due, expires | '', max, max per account
    -- -> {0, rowid} | {1, why}
    outbox_push = [==[
local B = ARGV[1]
if redis.call('ZCARD', B .. 'ox') >= tonumber(ARGV[7]) then
    return {1, 'outbox: ' .. ARGV[7] .. ' items (limits.outbox)'}
end
local q = B .. 'o:' .. ARGV[2]
if redis.call('ZCARD', q) >= tonumber(ARGV[8]) then
    return {1, 'outbox: ' .. ARGV[8] .. ' items for ' .. ARGV[2] .. ' (limits.outbox_per_account)'}
end
local id = tostring(redis.call('INCR', B .. 'ctr:outbox'))
local f = {'account', ARGV[2], 'pdu', ARGV[3], 'attempts', '0'}
if ARGV[4] ~= '' then f[#f + 1] = 'ref'; f[#f + 1] = ARGV[4] end
if ARGV[6] ~= '' then f[#f + 1] = 'expires'; f[#f + 1] = ARGV[6] end
redis.call('HSET', B .. 'oi:' .. id, unpack(f))
redis.call('ZADD', q, ARGV[5], id)
redis.call('ZADD', B .. 'ox', ARGV[6] ~= '' and ARGV[6] or '+inf', id)
return {0, id}
]==],
    -- ARGV B, account, n, now, lease end -> { {rowid, account, ref, pdu, expires, attempts}, ... }
    outbox_take = [==[
local B = ARGV[1]
local q = B .. 'o:' .. ARGV[2]
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', q, '-inf', ARGV[4], 'LIMIT', 0, tonumber(ARGV[3]))) do
    local v = redis.call('HMGET', B .. 'oi:' .. id, 'ref', 'pdu', 'expires')
    if v[2] then
        local n = redis.call('HINCRBY', B .. 'oi:' .. id, 'attempts', 1)
        redis.call('ZADD', q, ARGV[5], id)
        out[#out + 1] = {id, v[1] or false, v[2], v[3] or false, n}
    else
        redis.call('ZREM', q, id)
    end
end
return out
]==],
    -- ARGV B, rowid, 'ack' | 'retry', due -> 1 | 0
    outbox_done = [==[
local B = ARGV[1]
local a = redis.call('HGET', B .. 'oi:' .. ARGV[2], 'account')
if not a then return 0 end
if ARGV[3] == 'retry' then
    redis.call('ZADD', B .. 'o:' .. a, ARGV[4], ARGV[2])
    return 1
end
redis.call('ZREM', B .. 'o:' .. a, ARGV[2])
redis.call('ZREM', B .. 'ox', ARGV[2])
redis.call('DEL', B .. 'oi:' .. ARGV[2])
return 1
]==],
    -- ARGV B, upstream, key, pdu, expires, at | '', max -> {0} | {1, why}
    early_put = [==[
local B = ARGV[1]
if redis.call('ZCARD', B .. 'ex') >= tonumber(ARGV[7]) then
    return {1, 'early: ' .. ARGV[7] .. ' receipts (limits.early)'}
end
local id = tostring(redis.call('INCR', B .. 'ctr:early'))
local f = {'upstream', ARGV[2], 'key', ARGV[3], 'pdu', ARGV[4], 'expires', ARGV[5]}
if ARGV[6] ~= '' then f[#f + 1] = 'at'; f[#f + 1] = ARGV[6] end
redis.call('HSET', B .. 'ei:' .. id, unpack(f))
redis.call('ZADD', B .. 'e:' .. ARGV[2] .. '\0' .. ARGV[3], ARGV[6] ~= '' and ARGV[6] or '-inf', id)
redis.call('ZADD', B .. 'ex', ARGV[5], id)
return {0}
]==],
    -- ARGV B, upstream, key, since | '' -> { {pdu, at, expires}, ... } (removed)
    early_take = [==[
local B = ARGV[1]
local e = B .. 'e:' .. ARGV[2] .. '\0' .. ARGV[3]
local ids = ARGV[4] == '' and redis.call('ZRANGE', e, 0, -1) or redis.call('ZRANGEBYSCORE', e, ARGV[4], '+inf')
local out = {}
for _, id in ipairs(ids) do
    local v = redis.call('HMGET', B .. 'ei:' .. id, 'pdu', 'at', 'expires')
    if v[1] then out[#out + 1] = {v[1], v[2] or false, v[3] or false} end
    redis.call('DEL', B .. 'ei:' .. id)
    redis.call('ZREM', e, id)
    redis.call('ZREM', B .. 'ex', id)
end
return out
]==],
    -- ARGV B, key, route, upstream | '', expires, now, max -> 1 held | 0 held already
    sticky_put = [==[
local B = ARGV[1]
local k = B .. 'st:' .. ARGV[2]
local old = redis.call('HGET', k, 'expires')
if old and tonumber(old) > tonumber(ARGV[6]) then return 0 end
if not old and redis.call('ZCARD', B .. 'sx') >= tonumber(ARGV[7]) then
    local first = redis.call('ZRANGE', B .. 'sx', 0, 0)[1]
    if first then
        redis.call('DEL', B .. 'st:' .. first)
        redis.call('ZREM', B .. 'sx', first)
        redis.call('HINCRBY', KEYS[1], 'sticky_evicted', 1)
    end
end
redis.call('DEL', k)
if ARGV[4] ~= '' then redis.call('HSET', k, 'route', ARGV[3], 'upstream', ARGV[4], 'expires', ARGV[5])
else redis.call('HSET', k, 'route', ARGV[3], 'expires', ARGV[5]) end
redis.call('ZADD', B .. 'sx', ARGV[5], ARGV[2])
return 1
]==],
    -- ARGV B, random -> the store's node id (made by the first caller)
    node_id = [==[
redis.call('SET', ARGV[1] .. 'node', ARGV[2], 'NX')
return tonumber(redis.call('GET', ARGV[1] .. 'node'))
]==],
    -- ARGV B, now, batch -> { messages, { {key, id, part, account, state,
    -- id_format, node, head}... }, { {rowid, account, ref}... },
    -- { {upstream, key}... }, sticky, more }
    expire = LIB .. [==[
local now, batch = ARGV[2], tonumber(ARGV[3])
local more = 0
local msgs, lost = 0, {}
local keys = redis.call('ZRANGEBYSCORE', B .. 'keep', '-inf', now, 'LIMIT', 0, batch)
for _, k in ipairs(keys) do
    local r = remove(k)
    if r then
        msgs = msgs + 1
        if r.final ~= '1' then
            lost[#lost + 1] = {k, r.id or false, r.part or '0', r.account or false, r.state or '0',
                               r.id_format or '0', r.node or false, r.head or false}
        end
    end
end
if #keys == batch then more = 1 end
local ob = {}
local ids = redis.call('ZRANGEBYSCORE', B .. 'ox', '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do
    local v = redis.call('HMGET', B .. 'oi:' .. id, 'account', 'ref')
    if v[1] then redis.call('ZREM', B .. 'o:' .. v[1], id) end
    redis.call('DEL', B .. 'oi:' .. id)
    redis.call('ZREM', B .. 'ox', id)
    ob[#ob + 1] = {id, v[1] or false, v[2] or false}
end
if #ids == batch then more = 1 end
local ea = {}
ids = redis.call('ZRANGEBYSCORE', B .. 'ex', '-inf', now, 'LIMIT', 0, batch)
for _, id in ipairs(ids) do
    local v = redis.call('HMGET', B .. 'ei:' .. id, 'upstream', 'key')
    if v[1] then redis.call('ZREM', B .. 'e:' .. v[1] .. '\0' .. v[2], id) end
    redis.call('DEL', B .. 'ei:' .. id)
    redis.call('ZREM', B .. 'ex', id)
    ea[#ea + 1] = {v[1] or false, v[2] or false}
end
if #ids == batch then more = 1 end
ids = redis.call('ZRANGEBYSCORE', B .. 'sx', '-inf', now, 'LIMIT', 0, batch)
for _, k in ipairs(ids) do
    redis.call('DEL', B .. 'st:' .. k)
    redis.call('ZREM', B .. 'sx', k)
end
if #ids == batch then more = 1 end
if msgs > 0 then redis.call('HINCRBY', KEYS[1], 'expired', msgs) end
return {msgs, lost, ob, ea, #ids, more}
]==],
    -- ARGV B -> { messages, outbox, early, sticky, evicted, expired, sticky_evicted }
    stats = [==[
local B = ARGV[1]
local c = redis.call('HMGET', KEYS[1], 'evicted', 'expired', 'sticky_evicted')
return { redis.call('ZCARD', B .. 'keep'), redis.call('ZCARD', B .. 'ox'), redis.call('ZCARD', B .. 'ex'),
         redis.call('ZCARD', B .. 'sx'), tonumber(c[1] or '0'), tonumber(c[2] or '0'), tonumber(c[3] or '0') }
]==],
    check = [==[return 1]==],
}

return scripts
