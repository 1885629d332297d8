-- gateway_as_received_spec -- store and forward keeps a submit_sm the
-- script left alone as the very octets the ESME sent (no round trip
-- through the PDU table), and one the script changed as changed: the
-- stored PDU, read back from the store file, and the gateway's
-- stored_as_received counter say which way each went. The forwarder
-- sends the stored octets as they are, with a sequence_number of the
-- upstream session: the spec plays the upstream and reads them.
local wire = require "helpers.wire"
local park = require "helpers.park"
local server = require "helpers.server"
local store = require "smpp.store"
local codec = require "smpp.codec"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK = 0

local UPSTREAM_CONF = [[return { script = 'script.lua',
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
local UPSTREAM = [[return { submit_sm = function() return 0, { message_id = "u1" } end }]]

-- A gateway in front of the upstream on `port` whose script is `script`
-- (scripts/gateway.lua when nil), storing in gw.db beside its config.
local function gateway(port, script)
    return server.start {
        script = script,
        conf = "return " .. server.lua {
            script = script and "script.lua" or server.root .. "/scripts/gateway.lua",
            store = { path = "gw.db" },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "A", port = port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } },
        },
    }
end

-- Send the octets of one submit_sm; its status once answered.
local function submit(gw, bytes, seq)
    local c = park.esme(gw)
    c:send(bytes)
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    return r.status
end

-- The PDUs stored for esme1 (the answer came after the commit: they are there).
local function stored(gw)
    local st = assert(store.open { path = gw.dir .. "/gw.db" })
    local ok, list = pcall(st.list, st, { account = "esme1", limit = 10 })
    st:close()
    assert(ok, list)
    local out = {}
    for i, r in ipairs(list) do out[i] = r.pdu end
    return out
end

describe("#integration a stored submit_sm", function()
    it("is the octets the ESME sent when the script did not change the PDU", function()
        local up = server.start { conf = UPSTREAM_CONF, script = UPSTREAM }
        local gw = gateway(up.port)
        local bytes = wire.submit_sm(7, { short_message = "as sent", registered_delivery = 1,
                                          source_addr = "4471", validity_period = "000001000000000R" })
        assert.equal(ROK, submit(gw, bytes, 7))
        local pdus = stored(gw)
        assert.equal(1, #pdus)
        assert.equal(bytes, pdus[1])
        assert.equal(1, gw:stats().gateway.stored_as_received)
    end)

    it("is the PDU as the script changed it", function()
        local up = server.start { conf = UPSTREAM_CONF, script = UPSTREAM }
        local gw = gateway(up.port, [[
            local gw = require("smpp.gateway_script").new(...)
            function gw.before_route(m) m.pdu.short_message = "changed by the script" end
            return gw.handlers]])
        local bytes = wire.submit_sm(9, { short_message = "as sent" })
        assert.equal(ROK, submit(gw, bytes, 9))
        local pdus = stored(gw)
        assert.equal(1, #pdus)
        assert.are_not.equal(bytes, pdus[1])
        local p = assert(codec.decode(pdus[1]))
        assert.equal("changed by the script", p.short_message)
        assert.equal(#"changed by the script", p.sm_length)
        assert.equal("447700900123", p.destination_addr)
        assert.equal(0, gw:stats().gateway.stored_as_received)
    end)

    it("is the PDU encoded from its table when it carries TLVs (compared field by field only without)", function()
        local up = server.start { conf = UPSTREAM_CONF, script = UPSTREAM }
        local gw = gateway(up.port)
        local bytes = wire.submit_sm(11, { short_message = "with a tlv", tlvs = wire.tlv(0x0204, "\0\5") })
        assert.equal(ROK, submit(gw, bytes, 11))
        local p = assert(codec.decode(stored(gw)[1]))
        assert.equal("with a tlv", p.short_message)
        assert.equal(5, p.user_message_reference)
        assert.equal(0, gw:stats().gateway.stored_as_received)
    end)

    it("is refused, as smpp.codec.encode refuses it, when the script gives a command_length it does not encode to",
        function()
        local up = server.start { conf = UPSTREAM_CONF, script = UPSTREAM }
        local gw = gateway(up.port, [[
            local gw = require("smpp.gateway_script").new(...)
            function gw.before_route(m) m.pdu.command_length = 1 end
            return gw.handlers]])
        assert.equal(0x08, submit(gw, wire.submit_sm(13, { short_message = "a length of 1" }), 13))
        assert(gw:wait_log("command_length is 1 but the PDU encodes to %d+ octets", 5))
        assert.equal(0, #stored(gw))
        assert.equal(0, gw:stats().gateway.stored)
    end)

    -- The upstream is the spec (listener l): what reaches it, by the ESME's
    -- submits bytes_list (their sequence numbers seqs), all answered.
    local function forwarded(script, bytes_list, seqs)
        local l, port = wire.listen()
        l:settimeout(10)
        local gw = gateway(port, script)
        local up = park.accept_bind(l)
        local c = park.esme(gw)
        for _, b in ipairs(bytes_list) do c:send(b) end
        for _, seq in ipairs(seqs) do
            local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
            assert.equal(ROK, r.status)
        end
        local got = {}
        for i = 1, #bytes_list do
            got[i] = assert(up:expect(function(p) return p.id == id.submit_sm end, 10), "not forwarded")
            up:send(wire.pdu(RESP + id.submit_sm, got[i].seq, wire.cstr("u" .. i)))
        end
        return got
    end

    it("is forwarded as the octets stored, under a sequence_number of the upstream session", function()
        local a = wire.submit_sm(0x123456, { short_message = "first as sent", registered_delivery = 1 })
        local b = wire.submit_sm(0x123457, { short_message = "second as sent", source_addr = "4472" })
        local got = forwarded(nil, { a, b }, { 0x123456, 0x123457 })
        local sent = { wire.parse(a), wire.parse(b) }
        -- in the order accepted, each body octet for octet, the header's
        -- sequence_number the gateway's own (one per request, none reused)
        for i = 1, 2 do
            assert.equal(sent[i].body, got[i].body)
            assert.equal(sent[i].len, got[i].len)
            assert.equal(0, got[i].status)
            assert.are_not.equal(sent[i].seq, got[i].seq)
        end
        assert.are_not.equal(got[1].seq, got[2].seq)
    end)

    it("is ended, logged, not sent, when its stored octets are not a message that decodes; the queue moves on",
        function()
        -- three messages sent and left unanswered; the gateway stopped; the
        -- stored octets of the second made a deliver_sm's, of the third a
        -- body cut short (a store file changed from outside); restarted:
        -- the first is sent again, the other two are ended, a new one sent
        local run = require "helpers.run"
        local l, port = wire.listen()
        l:settimeout(10)
        local gw = gateway(port)
        local gw_port, gw_dir = gw.port, gw.dir
        local up = park.accept_bind(l)
        local c = park.esme(gw)
        for i, text in ipairs { "first", "second", "third" } do
            c:send(wire.submit_sm(i, { short_message = text }))
            assert.equal(ROK, assert(c:expect(function(p) return p.seq == i end, 5)).status)
            assert(up:expect(function(p) return p.id == id.submit_sm end, 10), "not forwarded")
        end
        c:close()
        up:close()                        -- unanswered: queued again when the link is lost
        assert(wait_until(function() return gw:stats().gateway.queues.A.queued == 3 end, 10), "not queued again")
        assert.is_true(gw:stop("TERM", 10))
        local _, err, rc = run.sh("sqlite3 " .. run.quote(gw_dir .. "/gw.db"), [[
            UPDATE messages SET pdu = substr(pdu, 1, 4) || X'00000005' || substr(pdu, 9)
              WHERE key = (SELECT key FROM messages ORDER BY key LIMIT 1 OFFSET 1);
            UPDATE messages SET pdu = X'00000011' || substr(pdu, 5, 12) || X'00'
              WHERE key = (SELECT key FROM messages ORDER BY key LIMIT 1 OFFSET 2);]])
        assert.equal(0, rc, err)
        gw = server.start { conf_file = gw_dir .. "/conf.lua", port = gw_port }
        up = park.accept_bind(l)
        local p = assert(up:expect(function(q) return q.id == id.submit_sm end, 10), "the first not sent again")
        assert.equal("first", wire.parse_sm(p.body).short_message)
        up:send(wire.pdu(RESP + id.submit_sm, p.seq, wire.cstr("u1")))
        assert(gw:wait_log("the stored PDU is not a message but deliver_sm; not sent, ended", 10), gw:log_text())
        assert(gw:wait_log("the stored PDU does not decode: [^\n]*; not sent, ended", 10), gw:log_text())
        c = park.esme(gw)
        c:send(wire.submit_sm(4, { short_message = "fourth" }))
        assert.equal(ROK, assert(c:expect(function(q) return q.seq == 4 end, 5)).status)
        p = assert(up:expect(function(q) return q.id == id.submit_sm end, 10), "the fourth not sent")
        assert.equal("fourth", wire.parse_sm(p.body).short_message)
        local _, body = gw:http("GET", "/messages?account=esme1&state=REJECTD")
        assert.equal(2, require("cjson").decode(body).count)
    end)

    it("is forwarded as the script changed it", function()
        local a = wire.submit_sm(21, { short_message = "as sent" })
        local got = forwarded([[
            local gw = require("smpp.gateway_script").new(...)
            function gw.before_route(m) m.pdu.short_message = "changed by the script" end
            return gw.handlers]], { a }, { 21 })
        local p = assert(codec.decode(wire.pdu(id.submit_sm, got[1].seq, got[1].body)))
        assert.equal("changed by the script", p.short_message)
        assert.equal(#"changed by the script", p.sm_length)
        assert.equal("447700900123", p.destination_addr)
        assert.are_not.equal(wire.parse(a).body, got[1].body)
    end)
end)
