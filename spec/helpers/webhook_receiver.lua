-- helpers.webhook_receiver -- a small HTTP server for the webhook specs,
-- run as its own luajit process (helpers.receiver starts it): listens on
-- 127.0.0.1 on a free port, prints "listening PORT", then for every
-- request prints one line "got STATUS BODY_HEX" (the status it answered,
-- the body as hex so any bytes survive the log) and answers. The answers'
-- statuses come from argv[1], a comma-separated list used in order (the
-- last one repeats): "500,500,200" fails twice, then accepts.
local socket = require "socket"

local plan = {}
for s in (arg[1] or "200"):gmatch("%d+") do plan[#plan + 1] = tonumber(s) end
local served = 0

local srv = assert(socket.bind("127.0.0.1", 0))
local _, port = srv:getsockname()
io.stdout:write("listening ", port, "\n")
io.stdout:flush()

local function hex(s) return (s:gsub(".", function(c) return string.format("%02X", c:byte()) end)) end

-- One request on c: its body, or nil when the client went away.
local function read_request(c)
    local line = c:receive("*l")
    if not line then return nil end
    local len = 0
    while true do
        local h = c:receive("*l")
        if not h then return nil end
        if h == "" then break end
        local n = h:match("^[Cc]ontent%-[Ll]ength:%s*(%d+)")
        if n then len = tonumber(n) end
    end
    local body = len > 0 and c:receive(len) or ""
    return body, line
end

while true do
    local c = srv:accept()
    if c then
        c:settimeout(10)
        local body, line = read_request(c)
        if body then
            served = served + 1
            local status = plan[math.min(served, #plan)]
            io.stdout:write("got ", status, " ", line:match("^(%S+ %S+)") or "?", " ", hex(body), "\n")
            io.stdout:flush()
            c:send("HTTP/1.1 " .. status .. " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        end
        c:close()
    end
end
