-- smpp.store_redis -- the smpp.store interface on Redis (docs/store.md,
-- "The Redis backend"): the same methods with the same meaning as the
-- SQLite backend, for nodes and workers that share one store.
--
-- Every method is one round trip: a server-side script (SCRIPT LOAD, then
-- EVALSHA; loaded again when Redis answers NOSCRIPT) does a method's
-- reads and writes at once, so a method is atomic and nodes never see
-- half of one. A call waits on core.redis: the task yields while the loop
-- serves everyone else, so the store is called from handlers and tasks
-- only. Nothing about a message is kept in this process: records,
-- indexes, queues, bounds and counters are in Redis.
--
-- Keys: every key is `PREFIX {s}:...` (see docs/store.md for the table).
-- The hash tag {s} puts the whole store on one Redis Cluster shard: its
-- scripts keep store-wide bounds and time indexes, which a script can
-- only touch on one shard.
local core = require "smpp.core"
local msgid = require "smpp.msgid"

local M = {}

local fmt = string.format
local concat, unpack = table.concat, unpack

-- -- Records ------------------------------------------------------------------------------
-- The columns and how a value is kept in a hash field: t text, b bytes,
-- r real, i integer, o boolean ("1"/"0"). store_msg.def is the list; the
-- check below keeps the two in step.

local kinds = {
    key = "i", id = "t", part = "i", account = "t", source = "t", dest = "t", service_type = "t",
    state = "i", final = "o", due = "r", expires = "r", submitted = "r", done = "r", err = "i",
    registered_delivery = "i", upstream = "t", upstream_id = "t", upstream_key = "t", attempts = "i",
    route = "t", pdu = "b", trace = "t", keep_until = "r", notify = "t", lasting = "o", id_format = "i",
}
local computed = { key = true, keep_until = true, lasting = true }
local fixed = { key = true, id = true, part = true, id_format = true }   -- update cannot change them
M.columns = require("smpp.store_sqlite").columns
for _, c in ipairs(M.columns) do
    if not kinds[c] then error("smpp.store_redis: no kind for the column '" .. c .. "'") end
end

local VALUE_MAX = 65536         -- octets of one value (the SQLite store's STORE_VALUE_MAX)
local BATCH_MAX = 10000         -- rows one call hands out or removes
local TRACE_MAX = 4096
local ID_BLOCK = 1000           -- next_id values taken at a time
local SCAN = 10000              -- rows list looks at per call
local LIST_CHUNK = 500          -- of them per script call
local FIRST_WAIT = 5            -- seconds a call waits for the link's first connection

local function num(v) return fmt("%.17g", v) end

-- encode(name, value, fn) -> the field's string, or raises as the SQLite
-- binding does on a wrong type
local function encode(name, v, fn)
    local k, t = kinds[name], type(v)
    if k == "t" or k == "b" then
        if t ~= "string" then error(fmt("%s: field '%s' must be a string, got %s", fn, name, t), 4) end
        if #v > VALUE_MAX then error(fmt("%s: %s is longer than %d octets", fn, name, VALUE_MAX), 4) end
        return v
    elseif k == "r" then
        if t ~= "number" then error(fmt("%s: field '%s' must be a number, got %s", fn, name, t), 4) end
        if v ~= v or v == math.huge or v == -math.huge then
            error(fmt("%s: field '%s' must be a finite number, got %s", fn, name, tostring(v)), 4)
        end
        return num(v)
    elseif k == "o" then
        if t ~= "boolean" then error(fmt("%s: field '%s' must be a boolean, got %s", fn, name, t), 4) end
        return v and "1" or "0"
    end
    if t ~= "number" or v ~= math.floor(v) or math.abs(v) > 2 ^ 53 then
        error(fmt("%s: field '%s' must be an integer, got %s", fn, name, t == "number" and "another number" or t), 4)
    end
    return fmt("%d", v)
end

local fmt_name = {}
for name, code in pairs(msgid.code) do fmt_name[code] = name end

-- decode(self, flat) -> the record of an HGETALL answer (nil when empty)
local function decode(self, flat)
    if type(flat) ~= "table" or #flat == 0 then return nil end
    local r, head, node = {}, nil, nil
    for i = 1, #flat - 1, 2 do
        local k, v = flat[i], flat[i + 1]
        local kind = kinds[k]
        if kind == "t" or kind == "b" then r[k] = v
        elseif kind == "o" then r[k] = v == "1"
        elseif kind then r[k] = tonumber(v)
        elseif k == "head" then head = tonumber(v)
        elseif k == "node" then node = tonumber(v) end
    end
    r.part, r.state, r.err, r.attempts = r.part or 0, r.state or 0, r.err or 0, r.attempts or 0
    r.registered_delivery, r.id_format = r.registered_delivery or 0, r.id_format or 0
    r.final, r.lasting = r.final or false, r.lasting or false
    if not r.id and r.id_format > 0 and fmt_name[r.id_format] then
        r.id = msgid.make(fmt_name[r.id_format], node or self._node, head or r.key)
    end
    return r
end

local function decode_list(self, rows)
    local out = {}
    for _, flat in ipairs(rows) do out[#out + 1] = decode(self, flat) end
    return out
end

-- The server-side scripts, one per method (smpp.store_redis_scripts).
local scripts = require "smpp.store_redis_scripts"

-- -- Calls ------------------------------------------------------------------------------

local sha = {}                   -- script name -> SHA1 (the same on every Redis)

local Store = {}
Store.__index = Store

local function io_err(err) return nil, "io: " .. tostring(err) end
local LINK_ERRORS = { unavailable = true, closed = true, busy = true }   -- core.redis: no answer from Redis

-- Is the link still making its first attempt to connect (never up, no
-- attempt failed yet)?
local function first_attempt()
    local st = core.redis_stats()
    return st ~= nil and st.state == "connecting" and st.connects == 0 and (st.last_error or "") == ""
end

-- self:cmd(word, ...) -> answer | nil, "io: ..." (waits)
function Store:cmd(...)
    if self._closed then error("smpp.store: the store is closed", 3) end
    local co = coroutine.running()
    if not co or not core.is_task(co) then
        error("smpp.store: the Redis store waits for its answers, so it is called from handlers, "
            .. "timers and tasks only (not while a script loads, nor from a coroutine of its own)", 3)
    end
    if core.redis_state() ~= "up" then
        -- the link is opened when serving starts: a call from a start
        -- handler waits for its first connection (FIRST_WAIT at most),
        -- only while that first attempt is under way; a link that has
        -- been up, or whose first attempt failed (wrong password, nothing
        -- listening), answers at once
        local waited = 0
        while waited < FIRST_WAIT and first_attempt() do
            core.sleep(50)
            waited = waited + 0.05
        end
    end
    local ok, r, err = pcall(core.redis, ...)
    if not ok then           -- a task that cannot wait here (inside a C function: a script's load)
        local srv = package.loaded["smpp.server"]
        error("smpp.store: the Redis store waits for its answers, so it is called from handlers, "
            .. "timers and tasks only (" .. (srv and srv.loading and "not while a script loads" or tostring(r)) .. ")", 3)
    end
    if r == nil and err ~= nil then
        -- the link is down, refuses or dropped the command: try later
        if LINK_ERRORS[err] then return nil, "unavailable", "redis: " .. err end
        if type(err) == "string" and err:sub(1, 4) == "OOM " then
            -- Redis at its maxmemory refuses writes: the store is full
            -- (ESME_RMSGQFUL), not broken
            self._oom = self._oom + 1
            core.log("warn", fmt("store: Redis refused a write at its maxmemory (answered as full): %s", err))
            return nil, "full", "redis: maxmemory: " .. err
        end
        return io_err(err)
    end
    return r
end

-- self:run(name, args) -> the script's answer | nil, "io: ..."
function Store:run(name, args)
    local n = #args
    if not sha[name] then
        local s, err, detail = self:cmd("SCRIPT", "LOAD", scripts[name])
        if not s then return nil, err, detail end
        sha[name] = s
    end
    local r, err, detail = self:cmd("EVALSHA", sha[name], 1, self._base .. "n", self._base, unpack(args, 1, n))
    if r == nil and err and err:find("NOSCRIPT", 1, true) then      -- Redis restarted empty
        sha[name] = nil
        return self:run(name, args)
    end
    return r, err, detail
end

-- -- Messages ----------------------------------------------------------------------------

local heads = setmetatable({}, { __mode = "k" })     -- task -> its last put key (parts of one message)

function Store:put(rec)
    if type(rec) ~= "table" then error("put: expects a record table", 2) end
    local args = { num(self._max.messages), "", "0", "", self._node and fmt("%d", self._node) or "" }
    local r = {}
    for k, v in pairs(rec) do
        if not kinds[k] then error(fmt("put: unknown field '%s'", tostring(k)), 2) end
        if computed[k] then error(fmt("put: %s is computed by the store", k), 2) end
        if v ~= false or kinds[k] == "o" then r[k] = v end
    end
    if type(r.submitted) ~= "number" then
        if r.submitted == nil then error("put: submitted is required", 2) end
    end
    if r.id == "" then error("put: an id cannot be empty", 2) end
    if r.trace ~= nil and type(r.trace) == "string" then r.trace = fmt("%.3f %s\n", r.submitted, r.trace) end
    local final = r.final == true
    local t = r.submitted
    if final then t = (r.done or r.submitted)
    else
        if type(r.done) == "number" and r.done > t then t = r.done end
        if type(r.expires) == "number" and r.expires > t then t = r.expires end
    end
    if r.id then args[2] = encode("id", r.id, "put") end
    if r.part then args[3] = encode("part", r.part, "put") end
    local co = coroutine.running()
    if r.part and r.part > 0 and not r.id and co and heads[co] then args[4] = heads[co] end
    for k, v in pairs(r) do
        args[#args + 1] = k
        args[#args + 1] = encode(k, v, "put")
    end
    args[#args + 1] = "keep_until"
    args[#args + 1] = num(t + self._ttl)
    if r.part == nil then args[#args + 1], args[#args + 2] = "part", "0" end
    local a, err, detail = self:run("put", args)
    if not a then return nil, err, detail end
    if a[1] == 1 then return nil, "full", a[2] end
    if a[1] == 2 then return nil, "exists", a[2] end
    if co then heads[co] = a[2] end
    if a[3] and a[3] ~= "" then self:_node_is(tonumber(a[3])) end
    return tonumber(a[2])
end

function Store:putter(cols)
    if type(cols) ~= "table" or #cols < 1 or #cols > #M.columns then
        error(fmt("putter: 1..%d column names expected", #M.columns), 2)
    end
    for _, c in ipairs(cols) do
        if not kinds[c] then error(fmt("putter: unknown field '%s'", tostring(c)), 2) end
        if computed[c] or c == "trace" then error(fmt("putter: %s cannot be given to a putter", c), 2) end
    end
    local n = #cols
    return function(...)
        local rec = {}
        for i = 1, n do
            local v = select(i, ...)
            if v ~= nil and (v ~= false or kinds[cols[i]] == "o") then rec[cols[i]] = v end
        end
        return self:put(rec)
    end
end

-- the SQLite binding's words: an integer (|k| <= 2^53) first, then > 0
local function check_key(k, fn)
    if not (k >= -2 ^ 53 and k <= 2 ^ 53) or k ~= math.floor(k) then error(fn .. ": key must be an integer", 3) end
    if k <= 0 then error(fn .. ": key must be > 0", 3) end
    return fmt("%d", k)
end

-- self:keyed(id) -> key, format code | nil: an id the store made from a key
function Store:keyed(id)
    local mine
    for _, f in ipairs(msgid.keyed_formats) do       -- an id may read in two formats: the node says which
        local node, key = msgid.keyed[f].read(id)
        if node then
            if not mine then
                local err
                mine, err = self:node_id()
                if not mine then return nil, err end
            end
            if node == mine and key and key >= 1 then return key, msgid.code[f] end
        end
    end
    return nil
end

function Store:get(id, part)
    if type(id) == "number" then
        local f, err = self:run("get", { check_key(id, "get"), "", "0" })
        if not f then return nil, err end
        return decode(self, f)
    end
    if type(id) ~= "string" then error("bad argument #1 to 'get' (string expected)", 2) end
    part = part or 0
    local key, code = self:keyed(id)
    if key then
        local rows, err = self:run("parts", { fmt("%d", key), "" })
        if not rows then return nil, err end
        local r = decode(self, rows[part + 1])
        if r and r.id_format == code and r.part == part then return r end
    end
    local f, err = self:run("get", { "", id, fmt("%d", part) })
    if not f then return nil, err end
    return decode(self, f)
end

function Store:parts(id)
    local rows, err
    if type(id) == "number" then
        rows, err = self:run("parts", { check_key(id, "parts"), "" })
    else
        if type(id) ~= "string" then error("bad argument #1 to 'parts' (string expected)", 2) end
        local key, code = self:keyed(id)
        if key then
            rows, err = self:run("parts", { fmt("%d", key), "" })
            if rows and #rows > 0 then
                local out = decode_list(self, rows)
                if out[1].id_format == code then return out end
            end
        end
        rows, err = self:run("parts", { "", id })
    end
    if not rows then return nil, err end
    return decode_list(self, rows)
end

function Store:update(id, changes, where)
    if type(changes) ~= "table" then error("update: expects a table of changes", 2) end
    local args = { num(self._ttl), "", "", "" }
    local at, trace, any = nil, nil, false
    for k, v in pairs(changes) do
        if k == "at" then
            if type(v) ~= "number" then error("update: field 'at' must be a number", 2) end
            if v ~= v or v == math.huge or v == -math.huge then
                error(fmt("update: field 'at' must be a finite number, got %s", tostring(v)), 2)
            end
            at = v
        elseif not kinds[k] then error(fmt("update: unknown field '%s'", tostring(k)), 2)
        elseif computed[k] then error(fmt("update: %s is computed by the store", k), 2)
        elseif fixed[k] then error(fmt("update: %s cannot be changed", k), 2)
        elseif k == "trace" then
            if type(v) ~= "string" then error("update: field 'trace' must be a string", 2) end
            trace = v
        elseif v == false and kinds[k] == "r" then      -- a time cleared
            args[#args + 1] = "-" .. k
            args[#args + 1] = ""
            any = true
        else
            args[#args + 1] = k
            args[#args + 1] = encode(k, v, "update")
            any = true
        end
    end
    if not any and not trace then error("update: nothing to change", 2) end
    if trace and not at then error("update: a trace line needs its time (at)", 2) end
    if trace then args[4] = fmt("%.3f %s\n", at, trace) end
    local part = -1
    if where ~= nil then
        if type(where) ~= "table" then error("update: where must be a table", 2) end
        part = where.part or -1
        if where.pending then args[3] = "1" end
    end
    local keys = {}
    if type(id) == "number" then
        keys[1] = check_key(id, "update")
    else
        if type(id) ~= "string" then error("update: an id or a key is required", 2) end
        local rows, err
        if part >= 0 then
            local r
            r, err = self:get(id, part)
            rows = r and { r } or {}
        else
            rows, err = self:parts(id)
        end
        if not rows then return nil, err end
        for _, r in ipairs(rows) do keys[#keys + 1] = fmt("%d", r.key) end
        if #keys == 0 then return 0 end
    end
    args[2] = concat(keys, ",")
    local n, err, detail = self:run("update", args)
    if not n then return nil, err, detail end
    return n
end

function Store:remove(key)
    if type(key) ~= "number" then error("remove: key must be an integer", 2) end
    local n, err, detail = self:run("remove", { check_key(key, "remove") })
    if not n then return nil, err, detail end
    return n
end

local function triple_of(q, fn)
    for _, k in ipairs { "account", "source", "dest" } do
        if type(q[k]) ~= "string" then error(fn .. ": account, source and dest are required", 3) end
    end
    if q.service_type ~= nil and type(q.service_type) ~= "string" then
        error(fmt("%s: field 'service_type' must be a string, got %s", fn, type(q.service_type)), 3)
    end
    return q.account .. "\0" .. q.dest .. "\0" .. q.source
end

local function limit_of(q, fn)
    local l = q.limit or 100
    if type(l) ~= "number" or l < 0 or l > BATCH_MAX or l ~= math.floor(l) then
        error(fmt("%s: limit must be an integer 0..%d", fn, BATCH_MAX), 3)
    end
    return l
end

local function count_arg(n, fn)
    if type(n) ~= "number" or n < 0 or n > BATCH_MAX or n ~= math.floor(n) then
        error(fmt("bad argument to '%s' (a count 0..%d expected)", fn, BATCH_MAX), 3)
    end
    return n
end

function Store:find(q)
    if type(q) ~= "table" then error("find: expects a table", 2) end
    if q.pending == false then error("find: only pending messages can be searched (use list)", 2) end
    local rows, err = self:run("find", { triple_of(q, "find"), q.service_type or "", fmt("%d", limit_of(q, "find")),
                                         q.account, q.dest, q.source })
    if not rows then return nil, err end
    return decode_list(self, rows)
end

function Store:recent(q)
    if type(q) ~= "table" then error("recent: expects a table", 2) end
    local t = triple_of(q, "recent")
    if type(q.since) ~= "number" then error("recent: account, source, dest and since are required", 2) end
    local rows, err = self:run("recent", { t, num(q.since), q.service_type or "", fmt("%d", limit_of(q, "recent")),
                                           q.account, q.dest, q.source })
    if not rows then return nil, err end
    return decode_list(self, rows)
end

local function due_call(self, now, limit, upstream, mode, lease, fn)
    if type(now) ~= "number" then error("bad argument #1 to '" .. fn .. "' (number expected)", 3) end
    count_arg(limit, fn)
    if upstream ~= nil and type(upstream) ~= "string" then
        error("bad argument #3 to '" .. fn .. "' (string expected)", 3)
    end
    if limit == 0 then return {} end
    local rows, err = self:run("due", { num(now), fmt("%d", limit), upstream or "", mode,
                                        lease and num(now + lease) or "" })
    if not rows then return nil, err end
    local out = decode_list(self, rows)
    for _, r in ipairs(out) do
        if mode == "lease" then r.due = now + lease end
    end
    return out
end

function Store:due(now, limit, upstream, lease)
    if lease ~= nil and type(lease) ~= "number" then error("bad argument #4 to 'due' (number expected)", 2) end
    return due_call(self, now, limit, upstream, lease and "lease" or "look", lease, "due")
end

function Store:take_due(now, limit, upstream)
    return due_call(self, now, limit, upstream, "take", nil, "take_due")
end

-- due_done(rows [, final]) -> rows settled | nil, err: the end of the
-- leases that due(now, limit, nil, lease) took (Redis only, for the
-- reference SMSC's scheduler); rows as due handed them out ({ key, due }).
-- A row's due is cleared (and final set) when it is still its lease's
-- `due`; a row that went or whose due moved since (another node's lease,
-- a retry) is left alone. A process that dies between the lease and this
-- call leaves the rows due at the lease's end, for any node to take
-- again: at least once.
function Store:due_done(rows, final)
    if type(rows) ~= "table" or #rows > BATCH_MAX then
        error(fmt("bad argument #1 to 'due_done' (a list of at most %d rows expected)", BATCH_MAX), 2)
    end
    if #rows == 0 then return 0 end
    local args = { num(self._ttl), final and "1" or "" }
    for _, r in ipairs(rows) do
        if type(r.due) ~= "number" then error("due_done: a row without its lease's due", 2) end
        args[#args + 1] = check_key(r.key, "due_done")
        args[#args + 1] = num(r.due)
    end
    return self:run("due_done", args)
end

function Store:next_due(upstream)
    local set = self._base .. (upstream and ("due:" .. upstream) or "due")
    local r, err = self:cmd("ZRANGE", set, 0, 0, "WITHSCORES")
    if not r then return nil, err end
    return tonumber(r[2])
end

function Store:by_upstream(upstream, key)
    if type(upstream) ~= "string" or type(key) ~= "string" then
        error("by_upstream: upstream and key must be strings", 2)
    end
    local f, err = self:run("by_upstream", { upstream, key })
    if not f then return nil, err end
    return decode(self, f)
end

function Store:list(q)
    if type(q) ~= "table" then error("list: expects a table", 2) end
    if type(q.account) ~= "string" then error("list: account is required", 2) end
    local limit = limit_of(q, "list")
    if limit == 0 then return {} end
    for _, k in ipairs { "since", "until", "state", "after", "scan" } do
        if q[k] ~= nil and type(q[k]) ~= "number" then
            error(fmt("list: field '%s' must be a number, got %s", k, type(q[k])), 2)
        end
    end
    local after = q.after or 0
    if not (after >= -2 ^ 53 and after <= 2 ^ 53) or after ~= math.floor(after) then
        error("list: after must be an integer", 2)
    end
    -- LIST_CHUNK rows looked at per script call: one call holds Redis
    -- (every node's store) for a few milliseconds, not for 10,000 rows
    local scan_left = (q.scan and q.scan > 0) and q.scan or SCAN
    local since, till = q.since and num(q.since) or "-1e308", q["until"] and num(q["until"]) or "1e308"
    local out, nxt = {}, nil
    while true do
        local chunk = math.min(scan_left, LIST_CHUNK)
        local r, err = self:run("list", { q.account, fmt("%d", after), since, till, fmt("%d", q.state or -1),
            fmt("%d", limit - #out), fmt("%d", chunk) })
        if not r then return nil, err end
        for i = 2, #r do out[#out + 1] = decode(self, r[i]) end
        nxt = tonumber(r[1])
        scan_left = scan_left - chunk
        if not nxt or #out >= limit or scan_left <= 0 then break end
        after = nxt
    end
    return out, nxt
end

-- -- Outbox, early receipts, held routes ---------------------------------------------------

local function str(v, fn, what)
    if type(v) ~= "string" then error(fmt("%s: %s must be a string", fn, what), 3) end
    if #v > VALUE_MAX then error(fmt("%s: a value is longer than %d octets", fn, VALUE_MAX), 3) end
    return v
end

local function rowid_arg(v, fn)
    if type(v) ~= "number" or v ~= math.floor(v) then error(fn .. ": rowid must be an integer", 3) end
    return fmt("%d", v)
end

function Store:outbox_push(account, pdu, opts)
    str(account, "outbox_push", "account")
    str(pdu, "outbox_push", "pdu")
    opts = opts or {}
    if opts.ref ~= nil then str(opts.ref, "outbox_push", "ref") end
    local a, err = self:run("outbox_push", { account, pdu, opts.ref or "", opts.due and num(opts.due) or "0",
        opts.expires and num(opts.expires) or "", num(self._max.outbox), num(self._max.outbox_per_account) })
    if not a then return nil, err end
    if a[1] == 1 then return nil, "full", a[2] end
    return tonumber(a[2])
end

function Store:outbox_take(account, n, now, lease)
    str(account, "outbox_take", "account")
    count_arg(n, "outbox_take")
    if type(now) ~= "number" then error("bad argument #3 to 'outbox_take' (number expected)", 2) end
    if n == 0 then return {} end
    lease = lease or self._lease
    local rows, err = self:run("outbox_take", { account, fmt("%d", n), num(now), num(now + lease) })
    if not rows then return nil, err end
    local out = {}
    for _, v in ipairs(rows) do
        out[#out + 1] = { rowid = tonumber(v[1]), account = account, ref = v[2] or nil, pdu = v[3],
                          expires = v[4] and tonumber(v[4]) or nil, due = now + lease, attempts = tonumber(v[5]) }
    end
    return out
end

function Store:outbox_ack(rowid)
    local r, err = self:run("outbox_done", { rowid_arg(rowid, "outbox_ack"), "ack", "" })
    if not r then return nil, err end
    return r == 1
end

function Store:outbox_retry(rowid, due)
    if type(due) ~= "number" then error("outbox_retry: due is required", 2) end
    local r, err = self:run("outbox_done", { rowid_arg(rowid, "outbox_retry"), "retry", num(due) })
    if not r then return nil, err end
    return r == 1
end

-- outbox_count(account): the items waiting for the account's receiver:
-- those of outbox_push, and with the runtime's store in Redis those
-- smpp.post appended to the account's stream (self.post_key)
function Store:outbox_count(account)
    str(account, "outbox_count", "account")
    local n, err = self:cmd("ZCARD", self._base .. "o:" .. account)
    if not n then return nil, err end
    if self.post_key then
        local m = self:cmd("XLEN", self.post_key(account))
        n = n + (tonumber(m) or 0)
    end
    return n
end

function Store:early_put(upstream, key, pdu, expires, at)
    str(upstream, "early_put", "upstream")
    str(key, "early_put", "key")
    str(pdu, "early_put", "pdu")
    if type(expires) ~= "number" then error("early_put: upstream, key, pdu and expires are required", 2) end
    local a, err = self:run("early_put", { upstream, key, pdu, num(expires), at and num(at) or "",
                                           num(self._max.early) })
    if not a then return nil, err end
    if a[1] == 1 then return nil, "full", a[2] end
    return true
end

function Store:early_take(upstream, key, since)
    str(upstream, "early_take", "upstream")
    str(key, "early_take", "key")
    local rows, err = self:run("early_take", { upstream, key, since and num(since) or "" })
    if not rows then return nil, err end
    local out = {}
    for _, v in ipairs(rows) do
        out[#out + 1] = { upstream = upstream, key = key, pdu = v[1], at = v[2] and tonumber(v[2]) or nil,
                          expires = v[3] and tonumber(v[3]) or nil }
    end
    return out
end

function Store:sticky_put(key, route, upstream, ttl, now)
    str(key, "sticky_put", "key")
    str(route, "sticky_put", "route")
    if upstream ~= nil then str(upstream, "sticky_put", "upstream") end
    if type(ttl) ~= "number" or not (ttl > 0) then error("bad argument #4 to 'sticky_put' (ttl must be > 0)", 2) end
    if type(now) ~= "number" then error("bad argument #5 to 'sticky_put' (number expected)", 2) end
    local r, err = self:run("sticky_put", { key, route, upstream or "", num(now + ttl), num(now),
                                            num(self._max.sticky) })
    if not r then return nil, err end
    return r == 1
end

function Store:sticky_get(key, now)
    str(key, "sticky_get", "key")
    if type(now) ~= "number" then error("bad argument #2 to 'sticky_get' (number expected)", 2) end
    local r, err = self:cmd("HMGET", self._base .. "st:" .. key, "route", "upstream", "expires")
    if not r then return nil, err end
    if not r[1] or not (tonumber(r[3]) > now) then return nil end
    return r[1], r[2] or nil
end

-- -- Ids -----------------------------------------------------------------------------------

-- next_id(name): blocks of ID_BLOCK values from INCRBY of the name's
-- counter; a block left unused when the process ends is skipped, never
-- handed out again.
function Store:next_id(name)
    if type(name) ~= "string" or name == "" then error("bad argument #1 to 'next_id' (string expected)", 2) end
    local b = self._ids[name]
    while not b or b[1] > b[2] do
        local top, err = self:cmd("INCRBY", self._base .. "ctr:" .. name, ID_BLOCK)
        if not top then return nil, err end
        b = self._ids[name]
        if not b or b[1] > b[2] then         -- another task of this process may have filled it meanwhile
            b = { top - ID_BLOCK + 1, top }
            self._ids[name] = b
        end
    end
    local v = b[1]
    b[1] = v + 1
    return v
end

-- node_id(): the store's number, made once, at random, by the first
-- process on this Redis and read by every other: ids made from it and a
-- key read back on every node of the store (message keys are unique
-- store-wide, so the ids of two nodes never meet).
--
-- It is read again after NODE_FRESH ms (and given back by every put of a
-- row whose id is made from its key): a Redis that restarted empty, or a
-- FLUSHDB, makes a new one, which every process then uses, so no id is
-- made twice and the nodes agree. Outside a task, or while Redis cannot
-- answer, the last one read.
local NODE_FRESH = 1000

function Store:node_id()
    local now = core.now()
    if self._node then
        local co = coroutine.running()
        if now - self._node_at < NODE_FRESH or not co or not core.is_task(co) then return self._node end
    end
    local n, err = self:run("node_id", { fmt("%d", tonumber(core.random_hex(4), 16) % 4294967295 + 1) })
    if not n then
        if self._node then return self._node end
        return nil, err
    end
    self:_node_is(n)
    return n
end

-- _node_is(n): the store's node id as Redis just gave it
function Store:_node_is(n)
    if self._node and n ~= self._node then
        core.log("warn", fmt("store: the store's node id is %d now, no longer %d (Redis lost its data): "
            .. "message ids are made from the new one", n, self._node))
    end
    self._node, self._node_at = n, core.now()
end

-- -- Expiry, statistics, the rest ----------------------------------------------------------

function Store:expire(now, batch)
    if type(now) ~= "number" then error("bad argument #1 to 'expire' (number expected)", 2) end
    count_arg(batch, "expire")
    local r, err = self:run("expire", { num(now), fmt("%d", batch) })
    if not r then return nil, err end
    local out = { messages = r[1], unfinished = {}, outbox = {}, early = {}, sticky = r[5], more = r[6] == 1 }
    for _, v in ipairs(r[2]) do
        local m = { key = tonumber(v[1]), id = v[2] or nil, part = tonumber(v[3]), account = v[4] or nil,
                    state = tonumber(v[5]) }
        local code = tonumber(v[6])
        if not m.id and code > 0 and fmt_name[code] then
            m.id = msgid.make(fmt_name[code], tonumber(v[7]) or self._node or 0, tonumber(v[8]) or m.key)
        end
        out.unfinished[#out.unfinished + 1] = m
    end
    for _, v in ipairs(r[3]) do
        out.outbox[#out.outbox + 1] = { rowid = tonumber(v[1]), account = v[2] or nil, ref = v[3] or nil }
    end
    for _, v in ipairs(r[4]) do out.early[#out.early + 1] = { upstream = v[1] or nil, key = v[2] or nil } end
    return out
end

local empty_levels      -- (m) -> zero levels beside the limits m

-- stats(): the levels; called outside a task (a gauge read for /stats)
-- it gives those of the last call from a task, which the runtime makes
-- every second
function Store:stats()
    local m = self._max
    local co = coroutine.running()
    if not co or not core.is_task(co) then return self._last or empty_levels(self._max) end
    local r, err = self:run("stats", {})
    if not r then return nil, err end
    self._last = {
        messages = { value = r[1], limit = m.messages }, outbox = { value = r[2], limit = m.outbox },
        early = { value = r[3], limit = m.early }, sticky = { value = r[4], limit = m.sticky },
        bytes = { value = 0 }, evicted = r[5], expired = r[6], sticky_evicted = r[7],
        txn_writes = 0, commits = 0, commit_failures = 0, lost = 0, refused_oom = self._oom,
    }
    return self._last
end

-- levels() -> what stats() read last (zeros before the first read), with
-- `link`, the state of the link to Redis now ("up", "connecting",
-- "down"): never waits, for /stats and gauges
function Store:levels()
    local l = self._last or empty_levels(self._max)
    l.link, l.refused_oom = core.redis_state(), self._oom
    return l
end

function empty_levels(m)
    return { messages = { value = 0, limit = m.messages }, outbox = { value = 0, limit = m.outbox },
        early = { value = 0, limit = m.early }, sticky = { value = 0, limit = m.sticky }, bytes = { value = 0 },
        evicted = 0, expired = 0, sticky_evicted = 0, txn_writes = 0, commits = 0, commit_failures = 0, lost = 0 }
end

-- commit(): nothing waits for a commit (every write was answered by Redis
-- when its method returned) -> 0
function Store:commit() return 0 end

function Store:in_txn() return false end

-- check() -> true | nil, "io: ...": Redis answers, and runs the store's
-- scripts (a loaded script and one sent now)
function Store:check()
    local pong, err = self:cmd("PING")
    if not pong then return nil, err end
    local one
    one, err = self:run("check", {})
    if one ~= 1 then return nil, err or "io: the store's scripts do not run" end
    one, err = self:run("stats", {})
    if not one then return nil, err end
    return true
end

function Store:close()
    self._closed = true
    return 0
end

function Store:__tostring() return "smpp.store (redis " .. self._base .. (self._closed and ", closed)" or ")") end

-- open(opts) -> st: opts as the config's store section (defaults applied:
-- prefix, trace_ttl, lease, limits) plus post_key (optional, fn(account)
-- -> the stream smpp.post appends to). The link itself is the runtime's (core.redis_open); nothing is
-- sent until the first call.
function M.open(opts)
    local st = setmetatable({
        _base = (opts.prefix or "smppgw:") .. "{s}:", _ttl = opts.trace_ttl, _lease = opts.lease,
        _max = opts.limits, _ids = {}, post_key = opts.post_key, _oom = 0,
        lease = opts.lease,       -- seconds a row taken with a lease stays hidden (store.lease)
        shared = true,            -- other processes use it too: its node id may change
    }, Store)
    return st
end

return M
