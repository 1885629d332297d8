-- smpp.store -- where scripts keep per-message state: message records, the
-- outbox of each account, early receipts, the routes of long messages
-- and id counters (docs/store.md).
--
-- One interface over every backend: the embedded SQLite store
-- (smpp.store_sqlite, in C) and the Redis store (smpp.store_redis), with
-- the same methods and the same meaning. Every call may become a wait on
-- the Redis backend,
-- so scripts call the store only from handlers and tasks, never while
-- loading. Writes are grouped: the runtime commits once per loop turn and
-- answers what a turn accepted only after that commit (a Lua program
-- without the runtime calls st:commit() itself).
--
-- Conventions: times are seconds since the epoch (numbers) given by the
-- caller, never read from a clock here; `nil, "full"` when a bound is
-- reached (a third value says which), `nil, "unavailable"` when the
-- backend cannot be reached now (Redis down: try again later; a third
-- value says why), `nil, "io: ..."` when the backend failed; wrong
-- argument types raise.
local config = require "smpp.config"

local M = {}

-- Message states: SMPP 3.4 message_state values, and 0 (SMPP 5.0's
-- SCHEDULED) for a message stored and not yet handed on.
M.state = {
    SCHEDULED = 0, ENROUTE = 1, DELIVERED = 2, EXPIRED = 3, DELETED = 4,
    UNDELIVERABLE = 5, ACCEPTED = 6, UNKNOWN = 7, REJECTED = 8,
}
M.state_name = {}
for name, n in pairs(M.state) do M.state_name[n] = name end

-- The methods of a store object, in every backend:
--   put(rec [, withdraw])               -> key | nil, err (withdraw: removed again if the
--                                          request being answered is answered with an error; SQLite)
--   putter{ column, ... }               -> function(value, ... [, withdraw]) -> key [, id (SQLite)] | nil, err
--   get(id [, part]), get(key)          -> rec | nil
--   parts(id), parts(key)               -> { rec, ... }
--   update(id or key, changes [, where]) -> rows changed | nil, err (a time set to false: cleared)
--   remove(key)                         -> 1 | 0 (none) | nil, err: the row gone for good
--   find{ account, source, dest [, service_type, limit] } -> pending recs
--   recent{ account, source, dest, since [, service_type, limit] } -> recs, newest first
--   due(now, limit [, upstream [, lease]]) -> recs due, earliest first
--   take_due(now, limit [, upstream])   -> recs due, earliest first, their due cleared
--   next_due([upstream])                -> the earliest due time | nil
--   by_upstream(upstream, key)          -> rec | nil
--   list{ account [, state, since, until, limit] } -> recs
--   outbox_push(account, pdu [, { ref, due, expires }]) -> rowid | nil, err
--   outbox_take(account, n, now [, lease]) -> { item, ... }
--   outbox_ack(rowid), outbox_retry(rowid, due) -> true | false
--   outbox_count(account)               -> n
--   early_put(upstream, key, pdu, expires [, at]) -> true | nil, err
--   early_take(upstream, key [, since]) -> { { pdu, at, expires }, ... }
--   sticky_put(key, route, upstream, ttl, now) -> true | false (held already) | nil, err
--   sticky_get(key, now)                -> route, upstream | nil
--   next_id(name), node_id()            -> number
--   expire(now, batch)                  -> { messages, unfinished, outbox, early, sticky, more }
--   stats(), commit(), in_txn(), check(), close()
M.methods = {
    "put", "putter", "remove", "get", "parts", "update", "find", "recent", "due", "take_due", "next_due",
    "by_upstream", "list",
    "outbox_push", "outbox_take", "outbox_ack", "outbox_retry", "outbox_count",
    "early_put", "early_take", "sticky_put", "sticky_get", "next_id", "node_id", "expire", "stats", "commit",
    "in_txn", "check", "close",
}

local fields = config.schema.fields.store.fields

-- open{ path = [, sync, busy_timeout, trace_ttl, lease, limits = {...},
-- quick_check = true, lock = true] } -> st | nil, message naming the path and
-- the reason. quick_check = "small": only a file of up to 64 MiB (`run`). lock: hold PATH-lock while open (a process serving from the
-- store; a second one is refused "locked by another process").
-- Keys as in the config's `store` section; a relative path is relative to
-- the working directory here (see from_config).
--
-- open{ redis = "host:port" [, prefix, trace_ttl, lease, limits, post_key] }
-- -> the Redis store: the process's link to that Redis
-- (core.redis_open, opened by the runtime) carries its calls.
local local_opts = { quick_check = true, lock = true, post_key = true }

function M.open(opts)
    if type(opts) ~= "table" then error("store.open: expects a table of options", 2) end
    local quick, lock = opts.quick_check, opts.lock
    local section = {}
    for k, v in pairs(opts) do if not local_opts[k] then section[k] = v end end
    local ok, why = config.check_section(section, fields, "store")
    if not ok then return nil, why end
    if section.path and section.redis then return nil, "store.path, store.redis: give one of them" end
    if not section.path and not section.redis then return nil, "store.path: missing (or store.redis: a Redis store)" end
    local full = config.with_defaults("store", section)
    if section.redis then
        full.post_key = opts.post_key
        return require("smpp.store_redis").open(full)
    end
    full.quick_check = quick == "small" and "small" or quick and true or false
    full.lock = lock and true or false
    return require("smpp.store_sqlite").open(full)
end

-- from_config(section, config_file [, extra]) -> st | nil, message: open the
-- store a configuration's `store` section names, its path relative to the
-- configuration file; extra adds open options (quick_check).
function M.from_config(section, config_file, extra)
    local opts = {}
    for k, v in pairs(section) do opts[k] = v end
    for k, v in pairs(extra or {}) do opts[k] = v end
    if type(opts.path) == "string" and opts.path ~= ":memory:" then
        opts.path = config.resolve(config_file, opts.path)
    end
    return M.open(opts)
end

-- redis_of(conf) -> the Redis store a configuration names, or nil:
-- { redis, password, db, prefix, from = the key that names it }.
-- store.redis names it; cluster.store = true is the same thing on the
-- cluster's Redis (kept as an alias). The one place that says whether a
-- configuration keeps its store in Redis.
function M.redis_of(conf)
    local s, c = type(conf.store) == "table" and conf.store, type(conf.cluster) == "table" and conf.cluster
    if s and s.redis then
        return { redis = s.redis, password = s.password, db = s.db or 0, prefix = s.prefix or "smppgw:",
                 from = "store.redis" }
    end
    if c and c.store and c.redis then
        return { redis = c.redis, password = c.password, db = c.db or 0, prefix = c.prefix or "smppgw:",
                 from = "cluster.store" }
    end
    return nil
end

-- -- The store in use --------------------------------------------------------
-- The runtime opens conf.store and makes it current; scripts then call
-- require("smpp.store").get(id) and friends without holding the object.

local current

-- use(st) -> st: make st the store the module-level functions act on (nil:
-- none).
function M.use(st)
    current = st
    return st
end

local runtime_store    -- the store the runtime opened (it closes it itself)

-- use_runtime(st): the runtime's store becomes the one in use; the
-- module-level close() then refuses to close it under the runtime.
function M.use_runtime(st)
    runtime_store = st
    return M.use(st)
end

-- current() -> the store in use, or nil.
function M.current()
    return current
end

-- What scripts get for the runtime's store (their store.current(), see
-- smpp.sandbox): its methods (M.methods, and due_done where the backend
-- has it) called on it, close raising, nothing else (the Redis backend's
-- raw commands, its fields). A script closed the runtime's store through
-- the object itself, which released the store's lock file.
local guards = setmetatable({}, { __mode = "k" })     -- store -> its guard

local function guard(st)
    local g = guards[st]
    if g then return g end
    local methods = {}
    for _, name in ipairs(M.methods) do
        methods[name] = function(self, ...)
            if self ~= g then error("smpp.store: call the store's methods as st:" .. name .. "(...)", 2) end
            return st[name](st, ...)
        end
    end
    if st.due_done then
        methods.due_done = function(self, ...)
            if self ~= g then error("smpp.store: call the store's methods as st:due_done(...)", 2) end
            return st:due_done(...)
        end
    end
    methods.close = function()
        error("smpp.store: close: the store is the runtime's; it closes it when it stops", 2)
    end
    g = setmetatable({}, {
        __metatable = false,
        __index = methods,
        __newindex = function(_, k)
            error("smpp.store: the store is read-only in scripts (assigning '" .. tostring(k) .. "')", 2)
        end,
        __tostring = function() return tostring(st) end,
    })
    guards[st] = g
    return g
end

-- script_current() -> current() as scripts see it: the runtime's store
-- through its guard.
function M.script_current()
    if current ~= nil and current == runtime_store then return guard(current) end
    return current
end

for _, name in ipairs(M.methods) do
    M[name] = function(...)
        local st = current
        local srv = package.loaded["smpp.server"]
        if srv and srv.loading then
            error("smpp.store." .. name .. ": called while a script loads; the store is called from "
                .. "handlers, timers and tasks only", 2)
        end
        if not st then error("smpp.store." .. name .. ": no store in use (conf.store, or store.use(st))", 2) end
        if name == "close" then
            if st == runtime_store then error("smpp.store.close: the runtime closes its store when it stops", 2) end
            current = nil
        end
        return st[name](st, ...)
    end
end

return M
