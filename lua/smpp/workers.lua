-- smpp.workers -- workers on one machine (`workers = N`, `-w N`): the
-- parent's side (start N workers, supervise them in core/rt_workers.c,
-- serve /stats and /metrics summed over them) and the worker's (publish
-- its statistics once a second in its slot of the shared region).
--
-- Each worker is this program run again with the same configuration: its
-- own loop and Lua state, listening on the same ports with SO_REUSEPORT.
-- The parent listens for no SMPP connection; it holds the HTTP API.
local core = require "smpp.core"
local smpp = require "smpp"
local http = require "smpp.http"
local json_encode = require("smpp.json").encode
local cjson = require "cjson.safe"

local M = {}

-- how often a worker publishes its statistics (seconds): /stats of the
-- parent is at most this old
M.PUBLISH_EVERY = 1

-- count(conf, overrides) -> the number of workers asked for
function M.count(conf, overrides)
    return overrides and overrides.workers or conf.workers or 1
end

-- refusal(n, store_section, listen) -> nil | message (smpp.config_check,
-- where `smppgw check` finds it too)
M.refusal = require("smpp.config_check").workers_refusal

-- -- The parent's statistics: the workers' summed --------------------------------

-- Keys whose numbers are not summed: the largest one, or the first
-- worker's (the same configuration everywhere), or an average.
local function kind_of(key)
    if type(key) ~= "string" then return "sum" end
    if key == "now_ms" or key == "uptime_s" or key == "max" or key:match("_max$") or key:match("^max_")
        or key:match("peak") or key:match("limit_bytes$") then return "max" end
    if key == "down_s" then return "max" end
    if key == "node_id" then return "first" end         -- each worker's own number: a sum means nothing
    if key:match("bounds") or key == "limits" or key == "last_error" or key == "rate" or key == "burst" then
        return "first"                  -- the same configuration in every worker
    end
    if key == "avg" or key:match("^avg_") or key:match("_rate$") then return "mean" end
    return "sum"
end

local function is_list(t)
    return type(t) == "table" and (next(t) == nil or t[1] ~= nil)
end

-- the name a list element is known by, to add up one upstream's, one
-- account's... numbers
local function ident(v)
    return type(v) == "table" and (v.name or v.system_id or v.id) or nil
end

local merge

local function merge_list(a, b, key)
    local out, at = {}, {}
    for i, v in ipairs(a) do
        out[i] = v
        if ident(v) ~= nil then at[ident(v)] = i end
    end
    for i, v in ipairs(b) do
        if type(v) == "number" then
            out[i] = (out[i] or 0) + v                         -- histogram buckets
        elseif ident(v) ~= nil and at[ident(v)] then
            out[at[ident(v)]] = merge(out[at[ident(v)]], v, key)
        else
            out[#out + 1] = v
            if ident(v) ~= nil then at[ident(v)] = #out end
        end
    end
    return out
end

-- merge(a, b, key, n) -> a and b (one worker's statistics each) as one
merge = function(a, b, key)
    if a == nil then return b end
    if b == nil then return a end
    local kind = kind_of(key)
    if kind == "first" then return a end
    if type(a) == "number" and type(b) == "number" then
        if kind == "max" then return math.max(a, b) end
        if kind == "mean" then return a + b end                -- divided by the count at the end
        return a + b
    end
    if type(a) == "boolean" and type(b) == "boolean" then return a or b end
    if type(a) ~= "table" or type(b) ~= "table" then
        if key == "state" and (a == "up" or b == "up") then return "up" end
        return a
    end
    if is_list(a) and is_list(b) then return merge_list(a, b, key) end
    local out = {}
    for k, v in pairs(a) do out[k] = v end
    for k, v in pairs(b) do out[k] = merge(out[k], v, k) end
    return out
end

local function divide_means(t, n)
    for k, v in pairs(t) do
        if type(v) == "number" and kind_of(k) == "mean" then t[k] = v / n
        elseif type(v) == "table" and kind_of(k) ~= "first" then divide_means(v, n) end
    end
end

-- Readings of the one store every worker shares (workers > 1 needs the
-- store in Redis): its levels and limits are the same store's whichever
-- worker reads them, so the parent shows one worker's reading, not a sum;
-- the counters of each worker's own inside them (OWN) are added up.
local SHARED = { { "store_redis" }, { "gauges", "smsc_stored_messages" } }
local OWN = { refused_oom = true }

local function at(t, path)
    for _, k in ipairs(path) do
        if type(t) ~= "table" then return nil end
        t = t[k]
    end
    return t
end

local function shared(out, list)
    for _, path in ipairs(SHARED) do
        local parent = at(out, { unpack(path, 1, #path - 1) })
        local one
        for _, s in ipairs(list) do
            local v = at(s, path)
            if type(v) == "table" then
                if not one then
                    one = {}
                    for k, x in pairs(v) do one[k] = x end
                else
                    for k in pairs(OWN) do
                        if type(v[k]) == "number" then one[k] = (one[k] or 0) + v[k] end
                    end
                end
            end
        end
        if one and type(parent) == "table" then parent[path[#path]] = one end
    end
end

-- sum(list of statistics tables) -> one table: counters and gauges added
-- up, the largest of maxima and clocks, the mean of averages (not weighted
-- by traffic), lists of named things (upstreams, accounts) added up by
-- name, limits as the first worker reports them; the shared store's
-- readings (SHARED) and node ids as one worker reports them.
function M.sum(list)
    local out
    for _, s in ipairs(list) do out = merge(out, s, nil) end
    out = out or {}
    if #list > 1 then
        divide_means(out, #list)
        shared(out, list)
    end
    return out
end

-- gather() -> the parent's /stats: the running workers' statistics summed,
-- plus workers = { {index, pid, running, restarts, reporting, opened}... }
-- (opened: the sessions that worker accepted since it started)
function M.gather()
    local list, info = {}, {}
    for _, w in ipairs(core.workers()) do
        local s = w.stats and cjson.decode(w.stats)
        if type(s) == "table" then
            s.reload_result = nil                       -- M.reload's, not a statistic
            list[#list + 1] = s
        end
        info[#info + 1] = { index = w.index, pid = w.pid, running = w.running, restarts = w.restarts,
                            reporting = type(s) == "table",
                            opened = type(s) == "table" and type(s.totals) == "table" and s.totals.opened or 0 }
    end
    local out = M.sum(list)
    out.workers = info
    out.now_ms = core.now()
    return out
end

-- -- The parent ----------------------------------------------------------------------

-- args(conf_path, overrides) -> the workers' command line (the same run
-- without -w: a worker knows it is one from its environment)
local function worker_args(conf_path, overrides)
    local args = { "run", conf_path }
    for _, l in ipairs(overrides and overrides.listen or {}) do
        args[#args + 1] = "-l"
        args[#args + 1] = l
    end
    if overrides and overrides.store then
        args[#args + 1] = "--store"
        args[#args + 1] = overrides.store
    end
    return args
end

-- how long POST /reload at the parent waits for the workers' answers (s)
M.RELOAD_WAIT = 10

-- reload_result(w) -> the last reload worker w published ({at, error}) or nil
local function reload_result(w)
    local s = w.stats and cjson.decode(w.stats)
    return type(s) == "table" and type(s.reload_result) == "table" and s.reload_result or nil
end

-- wait_reloads(t0, pids) -> true | nil, message [, status]: after SIGHUP to
-- every worker at t0 (the loop clock, ms), wait for the reload each worker
-- running then publishes (M.reloaded): its refusal is the reload's (422,
-- what each worker said); one that has not answered in M.RELOAD_WAIT
-- seconds makes a 504. A worker that exited or was restarted meanwhile
-- reads the configuration as it starts: not waited for.
local function wait_reloads(t0, pids)
    local deadline = core.now() + M.RELOAD_WAIT * 1000
    while true do
        local refused, order, waiting = {}, {}, {}
        for _, w in ipairs(core.workers()) do
            if w.running and pids[w.index] == w.pid then
                local r = reload_result(w)
                if not r or (tonumber(r.at) or -1) < t0 then
                    waiting[#waiting + 1] = w.index
                elseif r.error then
                    local e = tostring(r.error)
                    if not refused[e] then
                        refused[e] = {}
                        order[#order + 1] = e
                    end
                    table.insert(refused[e], w.index)
                end
            end
        end
        if #waiting == 0 or core.now() >= deadline then
            if #order > 0 then
                local parts = {}
                for i, e in ipairs(order) do
                    parts[i] = ("worker%s %s: %s"):format(#refused[e] == 1 and "" or "s",
                        table.concat(refused[e], ", "), e)
                end
                return nil, table.concat(parts, "; ")
            end
            if #waiting > 0 then
                return nil, ("worker%s %s did not say within %g s whether it reloaded (see the log)"):format(
                    #waiting == 1 and "" or "s", table.concat(waiting, ", "), M.RELOAD_WAIT), 504
            end
            return true
        end
        smpp.sleep(0.02)
    end
end

local NOT_HERE = "with workers > 1 each worker holds its own sessions and messages; the parent's API "
    .. "serves /stats, /metrics, /reload and the dashboard"

-- supervise(conf, conf_path, overrides, n) -> exit code: start n workers
-- and serve the HTTP API until SIGTERM/SIGINT, which every worker gets
-- too; the parent exits once all have.
function M.supervise(conf, conf_path, overrides, n)
    local ok, err = core.workers_start { args = worker_args(conf_path, overrides), workers = n }
    if not ok then
        io.stderr:write("smppgw: ", err, "\n")
        return 1
    end
    smpp.log("info", "%d workers sharing the listening ports", n)
    local code = 0
    http.stats = function() return M.gather() end
    for _, r in ipairs { { "GET", "/sessions" }, { "POST", "/send" }, { "GET", "/messages/([^/]+)" },
                         { "GET", "/messages" } } do
        http.replace(r[1], r[2], function() return 501, { error = NOT_HERE } end)
    end
    -- the number of workers is the parent's, read at its start: a reload
    -- (POST /reload, or SIGHUP, which rt_workers.c passes on to every
    -- worker itself) says when the configuration now asks for another
    local function workers_changed()
        local now = require("smpp.config").load(conf_path)
        now = now and M.count(now, overrides)
        if now and now ~= n then
            local line = ("workers changed (%d -> %d); it applies at a restart (the %d workers stay)"):format(n,
                now, n)
            smpp.log("warn", "reload: %s", line)
            return true, { line }
        end
        return true
    end
    local srv = {
        -- POST /reload: every worker reloads; their refusal is the answer
        reload = function()
            local t0, pids = core.now(), {}
            for _, w in ipairs(core.workers()) do pids[w.index] = w.running and w.pid or nil end
            core.workers_reload()
            local ok, why, status = wait_reloads(t0, pids)
            if not ok then
                smpp.log("error", "reload failed in the workers: %s", why)
                return nil, why, status
            end
            return workers_changed()
        end,
        limits = function() return {} end,
    }
    local function start()
        if conf.http and conf.http.listen and not http.start(conf.http, {}, srv) then
            code = 1
            core.workers_stop()
            core.shutdown()
        end
    end
    local served, serr = core.serve { handlers = {}, listen = {}, start = start, reload = workers_changed }
    if not served then
        core.workers_stop()
        io.stderr:write("smppgw: ", tostring(serr), "\n")
        return 1
    end
    return code
end

-- -- A worker ------------------------------------------------------------------------

-- publish(stats_fn): publish stats_fn() now and every PUBLISH_EVERY
-- seconds (the runtime's own work: a failure is logged, never raised)
local last_reload, publish_now

-- reloaded(ok, err): a worker's reload (SIGHUP) ended; published at once
-- with its statistics (reload_result: when, and the refusal), which the
-- parent's POST /reload waits for
function M.reloaded(ok, err)
    last_reload = { at = core.now(), error = not ok and tostring(err):sub(1, 4000) or nil }
    if publish_now then publish_now() end
end

function M.publish(stats_fn)
    local function once()
        local ok, text = pcall(function()
            local s = stats_fn()
            if type(s) == "table" and last_reload then
                local out = {}
                for k, v in pairs(s) do out[k] = v end
                out.reload_result = last_reload
                s = out
            end
            return json_encode(s)
        end)
        if not ok then
            smpp.log("warn", "worker %d: statistics not published: %s", core.worker(), tostring(text))
            return
        end
        local done, why = core.worker_publish(text)
        if not done then smpp.log("warn", "worker %d: statistics not published: %s", core.worker(), why) end
    end
    publish_now = once
    once()
    core.after(M.PUBLISH_EVERY * 1000, once, true, true)   -- the runtime's: kept at reloads
end

return M
