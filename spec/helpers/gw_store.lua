-- helpers.gw_store -- the store of a gateway under test, built in one
-- place for the specs that run on SQLite, on Redis (the cluster's store,
-- cluster.store = true), or on both: its configuration sections and the
-- wait until a node on Redis can issue ids.
--
-- A store here is { path = FILE } (SQLite; a path relative to the
-- gateway's configuration is fine) or a helpers.redis server (its
-- `address`).
local redis = require "helpers.redis"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"

local M = {}

-- new(kind) -> a fresh store: "sqlite" a file in a directory of its own,
-- "redis" a Redis server of the test's own.
function M.new(kind)
    if kind == "redis" then return redis.start() end
    assert(kind == "sqlite", "helpers.gw_store.new: sqlite or redis, got " .. tostring(kind))
    return { path = tmp.dir() .. "/gw.db" }
end

-- sections(st [, over]) -> the configuration's { store = ... } or
-- { cluster = ... } for st, with `over`'s keys (sync, limits, timeout ...)
-- merged into that one section. On Redis a node takes over another's
-- messages after claim_after = 1 s (the specs' nodes stop and start).
function M.sections(st, over)
    local s
    if st.address then
        s = { redis = st.address, store = true, claim_after = 1 }
    else
        s = { path = st.path }
    end
    for k, v in pairs(over or {}) do s[k] = v end
    return st.address and { cluster = s } or { store = s }
end

-- ready(gw [, st]): on Redis (st nil: whichever the node has), wait until
-- the node's link is up and it holds ids to issue; nothing for SQLite.
function M.ready(gw, st)
    if st and not st.address then return end
    assert(wait.wait_until(function()
        local c = gw:stats().cluster
        return c and c.redis.state == "up" and c.store and c.store.node_id > 0 and c.store.ids_left > 0
    end, 10), "the node's link to Redis and its node id\n" .. gw:log_text())
end

return M
