-- receipts_rx_spec -- an SMSC that wants a transmitter bind and a receiver
-- bind: two upstreams, the receiver one naming the transmitter one in
-- receipts_for; the receipts that come on the receiver link are matched
-- against the messages sent through the transmitter link (also one that
-- comes before its message's answer), with either id policy. `smppgw
-- check` refuses a receipts_for that names no upstream that sends, and
-- warns about a receiver link without one.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"

local id, RESP = wire.id, wire.RESP

-- Ids m1, m2 ...; each message's receipt goes to the account's receiver
-- (the gateway's receiver link) after the answer, or, for a text starting
-- "early", before it (answered 0.3 s later).
local UPSTREAM = [[
    local smpp = require "smpp"
    local n = 0
    return { submit_sm = function(session, pdu)
        n = n + 1
        local mid = "m" .. n
        local early = pdu.short_message:find("^early") ~= nil
        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
            receipted_message_id = mid, message_state = 2,
            short_message = "id:" .. mid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:DELIVRD err:000 text:" .. pdu.short_message },
            { delay = early and 0 or 0.05 })
        if early then smpp.sleep(0.3) end
        return 0, { message_id = mid }
    end }]]
local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local function gateway_conf(port, policy)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U1", port = port, system_id = "gw", password = "gwpw", bind = "tx" },
                      { name = "U1rx", port = port, system_id = "gw", password = "gwpw", bind = "rx",
                        receipts_for = "U1" } },
        gateway = { message_id = policy, routes = { { name = "all", prefix = "", to = { "U1" } } } },
    }
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

describe("#integration receipts on a receiver link named for a transmitter link", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("reach the messages sent through the transmitter link (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = UPSTREAM }
            local gw = server.start { conf = gateway_conf(up.port, policy) }
            assert.truthy(gw:wait_log("upstream U1: bind 1 up", 10), gw:log_text())
            assert.truthy(gw:wait_log("upstream U1rx: bind 1 up", 10), gw:log_text())
            local rx = wire.connect(gw.port)
            assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
            local tx = wire.connect(gw.port)
            assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
            local want = { [submit(tx, "after")] = "after", [submit(tx, "early one")] = "early one" }
            for _ = 1, 2 do
                local p = assert(rx:expect(function(q) return q.id == id.deliver_sm end, 10), "a receipt is missing")
                rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
                assert.is_not_nil(want[rid], "a receipt for " .. rid)
                assert.matches("text:" .. want[rid] .. "$", d.short_message)
                want[rid] = nil
            end
            local q = gw:stats().gateway.queues
            assert.equal(2, q.U1.receipts)
            assert.equal(1, q.U1.receipts_early_matched)
            assert.equal(0, gw:stats().store.early.value)
        end)
    end
end)

describe("#integration smppgw check and receipts_for", function()
    local function conf(upstreams)
        return tmp.write(tmp.dir() .. "/conf.lua", "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", store = { path = ":memory:" },
            upstreams = upstreams, gateway = { routes = { { name = "all", prefix = "", to = { "U1" } } } } })
    end

    it("refuses a receipts_for that names no upstream that sends", function()
        local out, err, rc = run.smppgw { "check", conf {
            { name = "U1", port = 2, bind = "tx" }, { name = "a", port = 2, bind = "rx", receipts_for = "U2" },
            { name = "b", port = 2, bind = "rx", receipts_for = "b" },
            { name = "c", port = 2, bind = "rx", receipts_for = "a" } } }
        assert.are_not.equal(0, rc, out .. err)
        assert.matches('upstreams%[2%]%.receipts_for: no upstream named "U2"', out .. err)
        assert.matches("upstreams%[3%]%.receipts_for: names this upstream itself", out .. err)
        assert.matches('upstreams%[4%]%.receipts_for: "a" binds as a receiver', out .. err)
    end)

    it("warns about a receiver link without receipts_for, and takes one with it", function()
        local out, err, rc = run.smppgw { "check", conf {
            { name = "U1", port = 2, bind = "tx" }, { name = "U1rx", port = 2, bind = "rx" } } }
        assert.equal(0, rc, out .. err)
        assert.matches('\nwarning: upstreams%[2%]%.bind: "U1rx" binds as a receiver without receipts_for', out)
        out, err, rc = run.smppgw { "check", conf {
            { name = "U1", port = 2, bind = "tx" }, { name = "U1rx", port = 2, bind = "rx", receipts_for = "U1" } } }
        assert.equal(0, rc, out .. err)
        assert.is_nil(out:find("warning", 1, true), out)
    end)
end)
