-- helpers.redis -- a redis-server of the test's own: on a free loopback
-- port, in a temporary directory, saving nothing; stopped (and its
-- directory removed) when the scope that started it ends, whatever the
-- asserts did. stop() and start() again on the same port stand for Redis
-- going away and coming back.
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local socket = require "socket"

local M = {}

local Redis = {}
Redis.__index = Redis

-- a loopback port free now
function M.free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

-- start() -> redis with .port, .address ("127.0.0.1:PORT"), .dir; waits
-- until it answers PING (raises with its log when it does not in 10 s)
function M.start()
    local r = setmetatable({ port = M.free_port(), dir = tmp.dir() }, Redis)
    r.address = "127.0.0.1:" .. r.port
    r:start()
    return r
end

function Redis:start()
    self.proc = run.spawn(("exec redis-server --port %d --bind 127.0.0.1 --dir %s --save '' --appendonly no")
        :format(self.port, run.quote(self.dir)), { dir = self.dir, log = "redis.log", pidfile = "redis.pid" })
    local ok = wait.wait_until(function()
        local ok, pong = pcall(function() return self:cmd("PING") end)
        return ok and pong == "PONG"
    end, 10)
    if not ok then error("redis-server did not start:\n" .. self.proc:log_text(), 2) end
end

-- stop(): SIGTERM and wait until it has exited
function Redis:stop()
    assert(self.proc:stop("TERM", 10), "redis-server did not stop")
end

-- pause() / resume(): SIGSTOP / SIGCONT: a Redis that holds its
-- connections open and answers nothing
function Redis:pause() self.proc:signal("STOP") end
function Redis:resume() self.proc:signal("CONT") end

-- cmd(word, ...) -> the answer (strings, numbers, tables; nil for a nil
-- bulk), raises on an error answer: a plain client for the test's asserts
function Redis:cmd(...)
    local c = assert(socket.tcp())
    c:settimeout(5)
    assert(c:connect("127.0.0.1", self.port))
    local words = { ... }
    local out = { "*" .. #words .. "\r\n" }
    for _, w in ipairs(words) do
        w = tostring(w)
        out[#out + 1] = "$" .. #w .. "\r\n" .. w .. "\r\n"
    end
    assert(c:send(table.concat(out)))
    local function read()
        local line = assert(c:receive("*l"))
        local kind, rest = line:sub(1, 1), line:sub(2)
        if kind == "+" then return rest end
        if kind == "-" then error("redis: " .. rest, 0) end
        if kind == ":" then return tonumber(rest) end
        if kind == "$" then
            local n = tonumber(rest)
            if n < 0 then return nil end
            local s = assert(c:receive(n + 2))
            return s:sub(1, n)
        end
        if kind == "*" then
            local t = {}
            for i = 1, tonumber(rest) do t[i] = read() end
            return t
        end
        error("redis: unexpected answer " .. line)
    end
    local ok, v = pcall(read)
    c:close()
    if not ok then error(v, 2) end
    return v
end

return M
