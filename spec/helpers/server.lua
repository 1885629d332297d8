-- helpers.server -- start the real smppgw binary on an ephemeral loopback
-- port with a configuration written for the test, and stop it. A server
-- is stopped and its directory removed when the test (or describe, or
-- file) that started it ends (helpers.cleanup); stop() before that is fine.
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local lfs = require "lfs"

local M = {}

-- The checkout (specs run from it): scripts are named by absolute path in
-- the configurations the specs write.
M.root = lfs.currentdir()

local Server = setmetatable({}, { __index = run.Process })
Server.__index = Server

local write = tmp.write

-- -- Configurations ------------------------------------------------------------------

-- lua(value) -> Lua source text of a plain value (tables, strings, numbers,
-- booleans), keys sorted, for configurations written from tables.
function M.lua(v)
    local t = type(v)
    if t == "string" then return string.format("%q", v) end
    if t ~= "table" then return tostring(v) end
    local out, n = {}, #v
    for i = 1, n do out[#out + 1] = M.lua(v[i]) end
    local keys = {}
    for k in pairs(v) do
        if not (type(k) == "number" and k >= 1 and k <= n and k % 1 == 0) then keys[#keys + 1] = k end
    end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
        local key = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or "[" .. M.lua(k) .. "]"
        out[#out + 1] = key .. " = " .. M.lua(v[k])
    end
    return "{ " .. table.concat(out, ", ") .. " }"
end

-- merge(base, over) -> a copy of base with over's keys on top (tables
-- merged key by key; lists are replaced whole).
local function merge(base, over)
    local out = {}
    for k, v in pairs(base) do out[k] = v end
    for k, v in pairs(over or {}) do
        if type(v) == "table" and type(out[k]) == "table" and #v == 0 and next(v) then
            out[k] = merge(out[k], v)
        else
            out[k] = v
        end
    end
    return out
end
M.merge = merge

-- smsc_conf([over]) -> config text for the reference SMSC (scripts/smsc.lua)
-- as the specs use it: the shipped rules (999... ends UNDELIV, 000... is
-- refused, the "friends" list) but receipts after 0.1 s, not 1 s. `over`
-- is merged on top ({ smsc = { receipt_delay = 0.3 } }, { accounts = ... }).
function M.smsc_conf(over)
    return "return " .. M.lua(merge({
        script = M.root .. "/scripts/smsc.lua",
        accounts = { { system_id = "smppclient1", password = "password" } },
        smsc = {
            receipt_delay = 0.1,
            rules = { { prefix = "999", state = "UNDELIV", err = 1 } },
            reject = { { prefix = "000", status = "ESME_RINVDSTADR" } },
            distribution_lists = { friends = { "447700900001", "447700900002" } },
            echo = "keyword",
        },
    }, over))
end

-- -- Starting --------------------------------------------------------------------------

-- start{conf = "lua text of a config table" | nil, script = "lua text" | nil,
--       conf_file = path (use an existing config), args = {...}, port = n,
--       env = { NAME = "value" } (added to the server's environment),
--       stack_kb = n (the C stack's rlimit, `ulimit -s`)}
-- -> server with .port, .http_port, .pid, .log (path), .dir; waits until it
-- listens (raises with the log if it exits or does not listen in 10 s).
function M.start(opts)
    local dir = tmp.dir()
    local conf = opts.conf_file
    if not conf then
        conf = dir .. "/conf.lua"
        if opts.script then write(dir .. "/script.lua", opts.script) end
        write(conf, opts.conf or "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } } }")
    end
    local env = {}
    for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. run.quote(v) end
    -- opts.fsize: the process's largest file in octets (prlimit --fsize:
    -- a write past it fails as on a full disk; smppgw ignores SIGXFSZ)
    local cmd = string.format("%sexec %s%s%s run %s -l 127.0.0.1:%d --http 127.0.0.1:0 %s",
        opts.stack_kb and string.format("ulimit -s %d; ", opts.stack_kb) or "",
        opts.fsize and string.format("prlimit --fsize=%d:%d ", opts.fsize, opts.fsize) or "",
        #env > 0 and "env " .. table.concat(env, " ") .. " " or "", run.quote(run.bin),
        run.quote(conf), opts.port or 0, table.concat(opts.args or {}, " "))
    -- a port given (one a stopped server had) can be taken meanwhile as
    -- the source port of another process's connection (the specs run in
    -- parallel): such a start is tried again until the port is free
    local s, ok
    local deadline = os.time() + (opts.start_timeout or 10)
    repeat
        s = run.spawn(cmd, { dir = dir, log = "smppgw.log", class = Server })
        ok = wait.wait_until(function()
            local text = s:log_text()
            local port = text:match("listening on 127%.0%.0%.1:(%d+)")
            local http = text:match("HTTP API and dashboard on http://127%.0%.0%.1:(%d+)/")
            if port and http then
                s.port, s.http_port = tonumber(port), tonumber(http)
                return true
            end
            if not s:alive() then return "exited" end
        end, opts.start_timeout or 10)
    until ok == true or not (opts.port and ok == "exited" and s:log_text():find("address already in use", 1, true)
                             and os.time() < deadline)
    if ok ~= true then
        s:kill()
        error((ok == "exited" and "smppgw exited:\n" or "smppgw did not start listening:\n") .. s:log_text(), 2)
    end
    return s
end

-- -- A running server --------------------------------------------------------------
-- log_text, alive, exit_code, wait_exit, signal, stop, kill: helpers.run.

-- Rewrite the config (or script) file of a running server (for reloads).
function Server:write(name, text) write(self.dir .. "/" .. name, text) end

-- Count the log lines matching a pattern.
function Server:count_log(pattern)
    local n = 0
    for _ in self:log_text():gmatch(pattern) do n = n + 1 end
    return n
end

-- Wait until the log matches pattern (a Lua pattern) -> true, or false
-- after timeout seconds (default 5).
function Server:wait_log(pattern, timeout)
    return wait.wait_until(function() return self:log_text():match(pattern) ~= nil end, timeout) or false
end

-- http(method, path [, body [, headers]]) -> status code, body, headers
-- from the server's HTTP API.
function Server:http(method, path, body, headers)
    local http, ltn12 = require "socket.http", require "ltn12"
    local out = {}
    headers = headers or {}
    if body then headers["Content-Length"] = #body end
    local _, code, h = http.request {
        url = "http://127.0.0.1:" .. self.http_port .. path, method = method, headers = headers,
        source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out),
    }
    return code, table.concat(out), h
end

-- stats() -> GET /stats decoded (raises if it is not a 200 with JSON).
function Server:stats()
    local code, body = self:http("GET", "/stats")
    assert(code == 200, "GET /stats: " .. tostring(code) .. " " .. tostring(body))
    return assert(require("cjson").decode(body))
end

-- stats_with_sessions() -> GET /stats?sessions=1&limit=1000 decoded: the
-- summary and the newest 1,000 sessions' statistics.
function Server:stats_with_sessions()
    local code, body = self:http("GET", "/stats?sessions=1&limit=1000")
    assert(code == 200, "GET /stats: " .. tostring(code) .. " " .. tostring(body))
    return assert(require("cjson").decode(body))
end

-- gauge(name) -> the value of a script gauge in /stats (nil if absent).
function Server:gauge(name)
    local g = self:stats().gauges
    return g and g[name] and g[name].value
end

-- sessions_open([state]) -> server-side sessions open now in that state
-- ("OPEN", "BOUND_TRX", ...; all states without one), from /metrics (small
-- however many sessions there are, unlike /stats).
function Server:sessions_open(state)
    local code, body = self:http("GET", "/metrics")
    assert(code == 200, "GET /metrics: " .. tostring(code))
    local n = 0
    for st, v in body:gmatch('smppgw_sessions_open{side="server",state="([%w_]+)"} (%d+)') do
        if not state or st == state then n = n + tonumber(v) end
    end
    return n
end

return M
