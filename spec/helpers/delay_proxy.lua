-- spec/helpers/delay_proxy.lua TARGET_PORT DELAY -- a TCP proxy on an
-- ephemeral loopback port (printed as "listening on PORT") to 127.0.0.1:
-- TARGET_PORT that holds every chunk a client sends for DELAY seconds.
-- Headless Chromium's virtual time stands still while a fetch is pending,
-- so behind this proxy a page's polls are DELAY apart in real time too
-- (spec/dashboard_spec.lua). Runs until killed (run.spawn stops it).
local socket = require "socket"

local target, delay = tonumber(arg[1]), tonumber(arg[2])
local listener = assert(socket.bind("127.0.0.1", 0))
listener:settimeout(0)
print("listening on " .. select(2, listener:getsockname()))
io.stdout:flush()

local peer = {}       -- socket -> the other end of its pair
local client = {}     -- socket -> true for the accepted (client) ends
local due = {}        -- socket -> { { at =, data = } ... } to write to it

local function forget(s)
    for _, x in ipairs { s, peer[s] } do
        x:close()
        peer[x], client[x], due[x] = nil, nil, nil
    end
end

while true do
    local watch = { listener }
    for s in pairs(peer) do watch[#watch + 1] = s end
    for _, s in ipairs(socket.select(watch, nil, 0.01)) do
        if s == listener then
            local c = listener:accept()
            local up = c and socket.connect("127.0.0.1", target)
            if up then
                c:settimeout(0)
                up:settimeout(0)
                peer[c], peer[up], client[c], due[c], due[up] = up, c, true, {}, {}
            elseif c then
                c:close()
            end
        elseif peer[s] then
            local data, err, partial = s:receive(65536)
            data = data or partial
            if data and #data > 0 then
                local q = due[peer[s]]
                q[#q + 1] = { at = socket.gettime() + (client[s] and delay or 0), data = data }
            elseif err == "closed" then
                forget(s)
            end
        end
    end
    local now = socket.gettime()
    for s, q in pairs(due) do
        while q[1] and q[1].at <= now do
            s:settimeout(1)
            s:send(table.remove(q, 1).data)
            s:settimeout(0)
        end
    end
end
