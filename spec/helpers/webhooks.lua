-- helpers.webhooks -- the spec side of helpers/webhook_receiver.lua: start
-- a receiver on a free loopback port (stopped when the test that started
-- it ends, helpers.run) and read back what it was posted.
local run = require "helpers.run"
local wait = require "helpers.wait"
local cjson = require "cjson"

local M = {}

local Receiver = setmetatable({}, { __index = run.Process })
Receiver.__index = Receiver

-- start([plan]) -> receiver with .port and .url(path); plan: the statuses
-- it answers in order, the last repeating ("500,200"; default "200").
function M.start(plan)
    local r = run.spawn(string.format("exec luajit spec/helpers/webhook_receiver.lua %s", run.quote(plan or "200")),
                        { class = Receiver })
    local port = wait.wait_until(function()
        return tonumber(r:log_text():match("listening (%d+)"))
    end, 10)
    assert(port, "the webhook receiver did not start:\n" .. r:log_text())
    r.port = port
    return r
end

function Receiver:url(path) return "http://127.0.0.1:" .. self.port .. (path or "/hook") end

-- posts() -> { { status =, request = "POST /path", body = decoded JSON }, ... }
-- in arrival order.
function Receiver:posts()
    local out = {}
    for status, req, hex in self:log_text():gmatch("got (%d+) (%S+ %S+) (%x*)\n") do
        local raw = hex:gsub("%x%x", function(h) return string.char(tonumber(h, 16)) end)
        out[#out + 1] = { status = tonumber(status), request = req, body = cjson.decode(raw) }
    end
    return out
end

-- wait_posts(n [, timeout]) -> the first n posts once they came (raises
-- with what came otherwise).
function Receiver:wait_posts(n, timeout)
    local got = wait.wait_until(function()
        local p = self:posts()
        return #p >= n and p
    end, timeout or 10)
    if not got then error(("expected %d posts, got %d:\n%s"):format(n, #self:posts(), self:log_text()), 2) end
    return got
end

return M
