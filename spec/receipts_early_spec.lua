-- receipts_early_spec -- an early receipt (one that comes before its
-- message's answer) is matched by the answer when it came after the
-- upstream was first given the message: a sending whose answer was lost
-- (a timeout) and a resend that the upstream answers with the same id
-- (it knew the message again) get the receipt that came between, also
-- when the gateway was killed before any answer and sent the message
-- again after its restart.
local wire = require "helpers.wire"
local server = require "helpers.server"
local tmp = require "helpers.tmp"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP

-- Gives each new text the next id m1, m2 ... and posts its receipt at
-- once, before the answer; a text it has had already is answered at once
-- with the id it got then. A text starting "slow" is answered after
-- 1.5 s, one starting "never" not at all.
local UPSTREAM = [[
    local smpp = require "smpp"
    local seen, n = {}, 0
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        if seen[text] then
            smpp.log("info", "again %s", text)
            return 0, { message_id = seen[text] }
        end
        n = n + 1
        local mid = "m" .. n
        seen[text] = mid
        smpp.log("info", "took %s", text)
        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
            receipted_message_id = mid, message_state = 2,
            short_message = "id:" .. mid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:DELIVRD err:000 text:" .. text })
        if text:find("^slow") then smpp.sleep(1.5) end
        if text:find("^never") then smpp.sleep(3600) end
        return 0, { message_id = mid }
    end }]]
local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local function gateway_conf(port, path)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        store = { path = path },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", response_timeout = 1,
                        reconnect_min = 0.1, reconnect_max = 0.2 } },
        gateway = { retry_min = 0.2, retry_max = 0.5, early_ttl = 60,
                    routes = { { name = "all", prefix = "", to = { "U" } } } },
    }
end

local function esme(gw, kind)
    local c = wire.connect(gw.port)
    assert.equal(0, c:bind(kind or "transceiver", "esme1", "pw1").status)
    return c
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

-- the receipt c gets -> the id it names (TLV), its text
local function receipt(c, timeout)
    local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, timeout or 10), "no receipt")
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    return (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message
end

describe("#integration an early receipt and a resend the upstream answers with the same id", function()
    it("reaches the message when the first sending's answer was lost", function()
        local up = server.start { conf = UP_CONF, script = UPSTREAM }
        local gw = server.start { conf = gateway_conf(up.port, tmp.dir() .. "/gw.db") }
        assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
        local c = esme(gw)
        local mid = submit(esme(gw, "transmitter"), "slow one")
        assert.truthy(up:wait_log("again slow one", 10), gw:log_text())
        local rid, text = receipt(c)
        assert.equal(mid, rid)
        assert.matches("stat:DELIVRD err:000 text:slow one$", text)
        local q = gw:stats().gateway.queues.U
        assert.equal(1, q.retried)
        assert.equal(1, q.receipts_early)
        assert.equal(1, q.receipts_early_matched)
    end)

    it("reaches the message sent again after the gateway was killed before any answer", function()
        local path = tmp.dir() .. "/gw.db"
        local up = server.start { conf = UP_CONF, script = UPSTREAM }
        local gw = server.start { conf = gateway_conf(up.port, path) }
        assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
        local mid = submit(esme(gw, "transmitter"), "never one")
        assert.truthy(wait_until(function() return gw:stats().store.early.value == 1 end, 10),
            "the receipt kept as early: " .. gw:log_text())
        gw:kill()
        gw = server.start { conf = gateway_conf(up.port, path) }
        local c = esme(gw)
        assert.truthy(up:wait_log("again never one", 10), gw:log_text())
        local rid, text = receipt(c)
        assert.equal(mid, rid)
        assert.matches("text:never one$", text)
        assert.equal(1, gw:stats().gateway.queues.U.receipts_early_matched)
        assert.equal(0, gw:stats().store.early.value)
    end)
end)
