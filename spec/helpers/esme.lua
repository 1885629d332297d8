-- helpers.esme -- an ESME of the receipt specs, on the wire: bound to a
-- gateway as esme1/pw1, sending submit_sm and a two-destination
-- submit_multi and expecting ESME_ROK; the receipts several ESMEs get.
local wire = require "helpers.wire"
local assert = require "luassert"

local id, RESP = wire.id, wire.RESP
local M = {}

-- bind(gw, kind) -> a connection bound as esme1 (kind: "transceiver" unless given)
function M.bind(gw, kind)
    local c = wire.connect(gw.port)
    assert.equal(0, c:bind(kind or "transceiver", "esme1", "pw1").status)
    return c
end

-- submit(c, text, rd) -> the message id of the answer (ESME_ROK asserted)
function M.submit(c, text, rd)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = rd or 0, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

-- submit_multi(c) -> our id of a submit_multi to 447700901 and 447700902 asking for receipts
function M.submit_multi(c)
    local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(2)
        .. "\1\1\1" .. wire.cstr("447700901") .. "\1\1\1" .. wire.cstr("447700902")
        .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"
    local seq = c:next_seq()
    c:send(wire.pdu(id.submit_multi, seq, body))
    local r = assert(c:expect(function(p) return p.seq == seq end, 5))
    assert.same({ RESP + id.submit_multi, 0 }, { r.id, r.status })
    return wire.first_cstr(r.body)
end

-- receipts(cs, want [, timeout]) -> { { { id (TLV), stat }, ... } per ESME }:
-- the receipts each connection of cs gets (answered at once, whichever comes
-- first: the upstream may wait for one's answer before it sends the next)
-- until each has `want` (a count, or one per ESME) or timeout (10 s); one
-- that wants none is read all the same
function M.receipts(cs, want, timeout)
    local got, deadline = {}, wire.gettime() + (timeout or 10)
    for i = 1, #cs do got[i] = {} end
    local function short()
        for i = 1, #cs do if #got[i] < (type(want) == "table" and want[i] or want) then return true end end
    end
    while short() and wire.gettime() < deadline do
        for i, c in ipairs(cs) do
            local p = c:expect(function(q) return q.id == id.deliver_sm end, 0.05)
            if p then
                c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                got[i][#got[i] + 1] = { (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message:match("stat:(%u+)") }
            end
        end
    end
    return got
end

return M
