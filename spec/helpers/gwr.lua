-- helpers.gwr -- what the specs of the gateway's Redis store
-- (cluster.store = true) share: an upstream SMSC that logs what it gets and
-- sends receipts and MO on request, gateway nodes on one Redis, and ways
-- to submit and wait.
local server = require "helpers.server"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gw_store = require "helpers.gw_store"

local M = {}

local ROK = 0
M.ROK, M.RMSGQFUL = 0, 0x14

-- The upstream: logs every text it gets ("up got TEXT") and answers with
-- ids u1, u2, ...; a text with "slow" in it is answered after SLOW seconds.
-- A text starting "rcpt" gets a receipt (DELIVRD) on the session's account;
-- with "early" in it at once, else 0.05 s later. A text starting "mo" gets
-- an MO back ("reply to TEXT"). A text starting "refuse" is refused
-- (ESME_RINVDSTADR), unless the upstream takes everything (TAKES_ALL: it
-- refuses nothing and sends a receipt for any text with "rcpt" in it).
local UPSTREAM = [[
local smpp = require "smpp"
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    local mid = "u" .. n
    smpp.log("info", "up got %s as %s at %.3f", pdu.short_message, mid, smpp.time())
    if pdu.short_message:sub(1, 4) == "rcpt" or (TAKES_ALL and pdu.short_message:find("rcpt")) then
        assert(smpp.post(session.system_id, { esm_class = 4, source_addr = pdu.destination_addr,
            destination_addr = pdu.source_addr, receipted_message_id = mid, message_state = 2,
            short_message = "id:" .. mid .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 "
                .. "stat:DELIVRD err:000 text:" .. pdu.short_message },
            { delay = pdu.short_message:find("early") and 0 or 0.05 }))
    end
    if pdu.short_message:sub(1, 2) == "mo" then
        assert(smpp.post(session.system_id, { source_addr = pdu.destination_addr, destination_addr = "1115",
                                              short_message = "reply to " .. pdu.short_message }))
    end
    if pdu.short_message:find("slow") then smpp.sleep(SLOW) end
    if not TAKES_ALL and pdu.short_message:sub(1, 6) == "refuse" then return 0x0B end
    return 0, { message_id = mid }
end }]]

-- upstream([slow [, opts]]): opts.takes_all (see above), opts.port (a
-- port chosen before: an upstream that comes up later)
function M.upstream(slow, opts)
    opts = opts or {}
    return server.start { port = opts.port,
        script = UPSTREAM:gsub("SLOW", tostring(slow or 0)):gsub("TAKES_ALL", tostring(opts.takes_all == true)),
        conf = "return { script = 'script.lua', store = { path = ':memory:' }, session = { window = 500 }, "
            .. "accounts = { { system_id = 'gw', password = 'gwpw' } } }" }
end

-- A gateway node on Redis r whose upstream U is at port (nothing listens
-- there for a node that must not forward).
function M.gateway_conf(r, port, over)
    return "return " .. server.lua(server.merge(server.merge({
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", window = 20,
                        reconnect_min = 0.1, reconnect_max = 0.2 } },
        gateway = { routes = { { name = "all", prefix = "", to = { "U" } } },
                    mo_routes = { { prefix = "", account = "esme1" } } },
    }, gw_store.sections(r)), over or {}))
end

function M.node(r, port, over)
    local n = server.start { conf = M.gateway_conf(r, port, over) }
    gw_store.ready(n, r)
    return n
end

function M.bound_upstream(n)
    wait.wait_until(function()
        local g = n:stats().gateway
        return g and g.queues and g.queues.U and g.queues.U.sessions > 0
    end, 10, "the upstream's bind")
end

-- submit texts on a transmitter of n (registered_delivery rd, default 1)
-- -> the message ids, in order
function M.submit_all(n, texts, rd)
    local c = wire.connect(n.port)
    local bound = c:bind("transmitter", "esme1", "pw1").status
    if bound ~= ROK then error("bind refused: " .. tostring(bound), 2) end
    for _, t in ipairs(texts) do
        c:send(wire.submit_sm(c:next_seq(), { source_addr = "1", destination_addr = "447700900123",
                                             short_message = t, registered_delivery = rd or 1 }))
    end
    local ids = {}
    for i = 1, #texts do
        local p = assert(c:read(10))
        if p.status ~= ROK then error(("submit %d refused: status %d"):format(i, p.status), 2) end
        ids[p.seq - 1] = wire.first_cstr(p.body)      -- the bind was 1
    end
    c:close()
    return ids
end

function M.texts(prefix, n)
    local out = {}
    for i = 1, n do out[i] = prefix .. i end
    return out
end

-- every text reached the upstream (at least once)
function M.all_arrived(up, list, timeout)
    return wait.wait_until(function()
        local log = up:log_text()
        for _, t in ipairs(list) do
            if not log:find("up got " .. t .. " as", 1, true) then return false end
        end
        return true
    end, timeout or 15, "every message at the upstream")
end

return M
