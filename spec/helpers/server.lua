-- helpers.server -- start the real smppgw binary on an ephemeral loopback
-- port with a configuration written for the test, and stop it.
local run = require "helpers.run"
local socket = require "socket"

local M = {}

local Server = {}
Server.__index = Server

local function write(path, text)
    local f = assert(io.open(path, "w"))
    f:write(text)
    f:close()
end

-- start{conf = "lua text of a config table" | nil, script = "lua text" | nil,
--       conf_file = path (use an existing config), args = {...}, port = n}
-- -> server with .port, .pid, .log (path); waits until it listens.
function M.start(opts)
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local conf = opts.conf_file
    if not conf then
        conf = dir .. "/conf.lua"
        if opts.script then write(dir .. "/script.lua", opts.script) end
        write(conf, opts.conf or "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } } }")
    end
    local log = dir .. "/smppgw.log"
    local extra = table.concat(opts.args or {}, " ")
    local pidfile = dir .. "/pid"
    -- a waiting shell records the exit code in the log when smppgw ends
    os.execute(string.format("sh -c '%s run %s -l 127.0.0.1:%d --http 127.0.0.1:0 %s > %s 2>&1 & echo $! > %s; "
        .. "wait $!; echo \"exit=$?\" >> %s' > /dev/null 2>&1 &", run.bin, conf, opts.port or 0, extra, log,
        pidfile, log))
    local deadline = socket.gettime() + 10
    local pid
    while not pid and socket.gettime() < deadline do
        local f = io.open(pidfile)
        if f then pid = tonumber(f:read("*l")); f:close() end
        if not pid then socket.sleep(0.01) end
    end
    local s = setmetatable({ pid = pid, log = log, dir = dir }, Server)
    while socket.gettime() < deadline do
        local text = s:log_text()
        local port = text:match("listening on 127%.0%.0%.1:(%d+)")
        local http = text:match("HTTP API and dashboard on http://127%.0%.0%.1:(%d+)/")
        if port and http then
            s.port, s.http_port = tonumber(port), tonumber(http)
            return s
        end
        if not s:alive() then error("smppgw exited:\n" .. text) end
        socket.sleep(0.02)
    end
    s:kill()
    error("smppgw did not start listening:\n" .. s:log_text())
end

function Server:log_text()
    local f = io.open(self.log)
    if not f then return "" end
    local t = f:read("*a")
    f:close()
    return t
end

function Server:alive()
    return os.execute("kill -0 " .. self.pid .. " 2>/dev/null") == 0
end

-- stop(signal) -> true if it exited within the timeout
function Server:stop(signal, timeout)
    os.execute(string.format("kill -%s %d 2>/dev/null", signal or "TERM", self.pid))
    local deadline = socket.gettime() + (timeout or 10)
    while socket.gettime() < deadline do
        if not self:alive() then return true end
        socket.sleep(0.02)
    end
    return false
end

function Server:kill()
    os.execute("kill -9 " .. self.pid .. " 2>/dev/null")
end

-- Rewrite the config (or script) file of a running server (for reloads).
function Server:write(name, text) write(self.dir .. "/" .. name, text) end

-- Count the log lines matching a pattern.
function Server:count_log(pattern)
    local n = 0
    for _ in self:log_text():gmatch(pattern) do n = n + 1 end
    return n
end

-- The exit code once it has ended (nil while running).
function Server:exit_code()
    local code = self:log_text():match("exit=(%d+)")
    return code and tonumber(code)
end

-- Wait until the log matches pattern (a Lua pattern).
function Server:wait_log(pattern, timeout)
    local deadline = socket.gettime() + (timeout or 5)
    while socket.gettime() < deadline do
        if self:log_text():match(pattern) then return true end
        socket.sleep(0.02)
    end
    return false
end

return M
