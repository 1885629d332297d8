-- helpers.park -- the pieces the parked-message specs share: the spec
-- plays the upstream (accepts the gateway's bind, reads what it forwards)
-- and the ESME (submits, reads answers), against a gateway whose script
-- parks a "wait ..." message until a "go" arrives (answered
-- ESME_RINVDSTADR, nothing stored) and whose one upstream is named U.
local wire = require "helpers.wire"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK, RINVDSTADR = 0, 0x0B

local M = {}

-- Accept the gateway's bind on listener l: the upstream's side.
function M.accept_bind(l)
    local sock = assert(l:accept())
    sock:settimeout(5)
    sock:setoption("tcp-nodelay", true)
    local c = wire.client(sock)
    local b = assert(c:expect(function(p) return p.id == id.bind_transceiver or p.id == id.bind_transmitter end, 5))
    c:send(wire.pdu(RESP + b.id, b.seq, wire.cstr("fake")))
    return c
end

-- An ESME bound to the gateway as esme1 (transceiver).
function M.esme(gw)
    local c = wire.connect(gw.port)
    local status = c:bind("transceiver", "esme1", "pw1").status
    if status ~= ROK then error(("bind as esme1 answered 0x%X"):format(status), 2) end
    return c
end

-- Submit text (a receipt asked for) -> the request's sequence number.
function M.send(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    return seq
end

-- The answer to request seq: its status and message id.
function M.answer(c, seq)
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 10), "no answer")
    return r.status, r.status == ROK and wire.first_cstr(r.body) or nil
end

-- Let every waiting handler go on.
function M.go(c)
    local status = M.answer(c, M.send(c, "go"))
    if status ~= RINVDSTADR then error(("'go' answered 0x%X, not ESME_RINVDSTADR"):format(status), 2) end
end

function M.queue(gw) return gw:stats().gateway.queues.U end

-- Wait until the queue's gauges say n messages are parked.
function M.parked(gw, n)
    assert(wait_until(function() local q = M.queue(gw); return q and q.parked == n end, 10),
        "not " .. n .. " parked: " .. gw:log_text():sub(-2000))
end

return M
