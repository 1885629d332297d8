-- spec/helpers/gate_proxy.lua TARGET_PORT MARKER NTH GATE -- a TCP proxy on
-- an ephemeral loopback port (printed as "listening on PORT") to
-- 127.0.0.1:TARGET_PORT that passes everything on at once until a client
-- sends its NTH chunk holding MARKER (counted over all clients): from that
-- chunk on what that client sends is held (printed "held") until the file
-- GATE exists, then passed on in order ("released"). A spec puts a step of
-- its own between a node's calls to Redis so (spec/cluster_store_group_spec
-- .lua). Runs until killed (run.spawn stops it).
local socket = require "socket"

local target, marker, nth, gate = tonumber(arg[1]), arg[2], tonumber(arg[3]), arg[4]
local listener = assert(socket.bind("127.0.0.1", 0))
listener:settimeout(0)
print("listening on " .. select(2, listener:getsockname()))
io.stdout:flush()

local peer = {}       -- socket -> the other end of its pair
local client = {}     -- socket -> true for the accepted (client) ends
local due = {}        -- socket -> chunks to write to it
local seen = 0        -- chunks with the marker so far
local holding         -- the client whose chunks are held, while the gate is shut
local held = {}       -- ... its chunks

local function forget(s)
    for _, x in ipairs { s, peer[s] } do
        x:close()
        peer[x], client[x], due[x] = nil, nil, nil
    end
end

local function exists(path)
    local f = io.open(path)
    if f then f:close() end
    return f ~= nil
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
                if client[s] and not holding and seen < nth and data:find(marker, 1, true) then
                    seen = seen + 1
                    if seen == nth then
                        holding = s
                        print("held")
                        io.stdout:flush()
                    end
                end
                if s == holding then
                    held[#held + 1] = data
                else
                    local q = due[peer[s]]
                    q[#q + 1] = data
                end
            elseif err == "closed" then
                forget(s)
            end
        end
    end
    if holding and exists(gate) then
        local q = due[peer[holding]]
        for _, d in ipairs(held) do if q then q[#q + 1] = d end end
        holding, held = false, {}
        print("released")
        io.stdout:flush()
    end
    for s, q in pairs(due) do
        while q[1] do
            s:settimeout(1)
            s:send(table.remove(q, 1))
            s:settimeout(0)
        end
    end
end
