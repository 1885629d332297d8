-- core/bench/bindflood.lua -- a bind flood for core/bench/binds.sh: N
-- connections, each connecting, binding as a transceiver, reading the
-- answer and closing, again and again for S seconds. Prints one line:
-- "binds N ok N refused N errors N per_s X".
--   luajit core/bench/bindflood.lua PORT SYSTEM_ID PASSWORD CONNECTIONS SECONDS
local socket = require "socket"

local port, user, pw = tonumber(arg[1]), arg[2], arg[3]
local n, secs = tonumber(arg[4] or 16), tonumber(arg[5] or 10)
assert(port and user and pw, "usage: bindflood.lua PORT SYSTEM_ID PASSWORD [CONNECTIONS] [SECONDS]")

local char, byte = string.char, string.byte
local function u32(x) return char(math.floor(x / 16777216) % 256, math.floor(x / 65536) % 256,
                                  math.floor(x / 256) % 256, x % 256) end
local function get32(s, i)
    local a, b, c, d = byte(s, i, i + 3)
    return ((a * 256 + b) * 256 + c) * 256 + d
end
local body = user .. "\0" .. pw .. "\0" .. "\0" .. char(0x34, 0, 0) .. "\0"
local BIND = u32(16 + #body) .. u32(9) .. u32(0) .. u32(1) .. body

local count = { binds = 0, ok = 0, refused = 0, errors = 0 }
local conns = {}

local function open(c)
    c.sock = socket.tcp()
    c.sock:settimeout(0)
    c.sock:connect("127.0.0.1", port)
    c.state, c.buf = "connecting", ""
end

local function again(c)
    c.sock:close()
    open(c)
end

for i = 1, n do
    conns[i] = {}
    open(conns[i])
end

local deadline = socket.gettime() + secs
while socket.gettime() < deadline do
    local readers, writers = {}, {}
    for _, c in ipairs(conns) do
        if c.state == "connecting" then writers[#writers + 1] = c.sock else readers[#readers + 1] = c.sock end
    end
    local r, w = socket.select(readers, writers, 0.1)
    for _, c in ipairs(conns) do
        if c.state == "connecting" and w[c.sock] then
            if c.sock:send(BIND) then c.state = "waiting" else count.errors = count.errors + 1; again(c) end
        elseif c.state == "waiting" and r[c.sock] then
            local data, err, partial = c.sock:receive(4096)
            data = data or partial
            if data and #data > 0 then c.buf = c.buf .. data end
            if #c.buf >= 16 and #c.buf >= get32(c.buf, 1) then
                count.binds = count.binds + 1
                if get32(c.buf, 9) == 0 then count.ok = count.ok + 1 else count.refused = count.refused + 1 end
                again(c)
            elseif err == "closed" then
                count.errors = count.errors + 1
                again(c)
            end
        end
    end
end
for _, c in ipairs(conns) do c.sock:close() end
print(string.format("binds %d ok %d refused %d errors %d per_s %.1f", count.binds, count.ok, count.refused,
    count.errors, count.binds / secs))
