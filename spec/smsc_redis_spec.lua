-- smsc_redis_spec -- the reference SMSC (scripts/smsc.lua, unchanged) on the
-- Redis store: two nodes on one Redis (the same configuration, their own
-- ports) answer for each other's messages; a node killed and started again
-- still answers; a receipt held while no receiver is bound reaches a
-- receiver bound on the other node; no message id is issued twice; while
-- Redis is away submits get ESME_RMSGQFUL, and when it is back they are
-- accepted again.
local wire = require "helpers.wire"
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local run = require "helpers.run"
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local ROK, RMSGQFUL, RCANCELFAIL = 0, 0x14, 0x11
local LATER = "000000000100000R"       -- schedule_delivery_time: pending for 100 s

local function node(r, over)
    local n = server.start { conf = server.smsc_conf(server.merge({ store = { redis = r.address, prefix = "sm:" },
                                                                  smsc = { receipt_delay = 0.2 } }, over)) }
    assert.is_true(n:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), n:log_text())
    return n
end

local function bound(n, kind)
    local c = wire.connect(n.port)
    assert.are.equal(ROK, c:bind(kind or "transceiver", "smppclient1", "password").status)
    return c
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
    return r.status, wire.first_cstr(r.body)
end

local function query(c, mid)
    local seq = c:next_seq()
    c:send(wire.pdu(id.query_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")))
    local r = assert(c:expect(function(p) return p.seq == seq end))
    return r.status, r.status == 0 and wire.parse_query_resp(r.body) or nil
end

local function cancel(c, mid)
    local seq = c:next_seq()
    c:send(wire.pdu(id.cancel_sm, seq, wire.cstr("") .. wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
        .. "\1\1" .. wire.cstr("447700900123")))
    return assert(c:expect(function(p) return p.seq == seq end)).status
end

local function replace(c, mid, text)
    local seq = c:next_seq()
    c:send(wire.pdu(id.replace_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
        .. "\0\0" .. "\1\0" .. wire.u8(#text) .. text))
    return assert(c:expect(function(p) return p.seq == seq end)).status
end

local function deliver(c, timeout)
    local p = c:expect(function(p) return p.id == id.deliver_sm end, timeout or 5)
    if not p then return nil end
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    return wire.parse_sm(p.body)
end

describe("#integration the reference SMSC on the Redis store", function()
    it("answers on every node, survives a node's SIGKILL, delivers held receipts anywhere", function()
        local r = redis.start { durable = true }
        local a, b = node(r), node(r)
        local issued = {}
        local function keep(mid)
            assert.is_nil(issued[mid], "message id " .. tostring(mid) .. " issued twice")
            issued[mid] = true
        end

        -- submit on A, query and cancel on B, replace on B
        local ca, cb = bound(a), bound(b)
        local st, pending = submit(ca, { registered_delivery = 1, schedule_delivery_time = LATER })
        assert.are.equal(ROK, st)
        keep(pending)
        local qs, q = query(cb, pending)
        assert.are.equal(ROK, qs)
        assert.are.equal(1, q.message_state)                   -- ENROUTE
        assert.are.equal(ROK, cancel(cb, pending))
        assert.are.equal(RCANCELFAIL, cancel(ca, pending))     -- final now, on every node
        qs, q = query(ca, pending)
        assert.are.equal(4, q.message_state)                   -- DELETED
        local _, other = submit(ca, { registered_delivery = 1, short_message = "old text",
                                      schedule_delivery_time = LATER })
        keep(other)
        assert.are.equal(ROK, replace(cb, other, "new text"))

        -- GET /messages/ID and smppgw messages read it through the store too
        local code, body = b:http("GET", "/messages/" .. pending)
        assert.are.equal(200, code, body)
        local v = cjson.decode(body)
        assert.are.same({ pending, "smppclient1", true }, { v.message_id, v.account, v.final })
        code, body = b:http("GET", "/messages?account=smppclient1")
        assert.are.equal(200, code, body)
        assert.are.equal(2, cjson.decode(body).count)
        local out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", other, "--json" }
        assert.are.equal(0, rc, out .. err)
        assert.are.equal(other, cjson.decode(out).message_id)
        out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", "999999" }
        assert.are.equal(1, rc)
        assert.matches("no message 999999", err)

        -- many messages on both nodes: ids never repeat
        for i = 1, 20 do
            local s1, m1 = submit(ca, { short_message = "a" .. i })
            local s2, m2 = submit(cb, { short_message = "b" .. i })
            assert.are.same({ ROK, ROK }, { s1, s2 })
            keep(m1)
            keep(m2)
        end

        -- a receipt is due while no receiver is bound anywhere: it waits,
        -- and reaches the receiver bound later on B
        local tx = wire.connect(a.port)
        assert.are.equal(ROK, tx:bind("transmitter", "smppclient1", "password").status)
        ca:close()
        cb:close()
        local _, held = submit(tx, { registered_delivery = 1, short_message = "held receipt" })
        keep(held)
        local posted = wait.wait_until(function() return #(r:cmd("KEYS", "sm:{a:smppclient1}r")) == 1 end,
            wait.scaled(10), "the receipt in the account's stream")
        assert.is_true(posted)
        local rx = bound(b, "receiver")
        local d = deliver(rx, wait.scaled(10))
        assert.is_truthy(d, b:log_text())
        assert.are.equal(held .. "\0", d.tlvs[0x001E])
        assert.matches("stat:DELIVRD", d.short_message)

        -- SIGKILL A and start it again: what it accepted is still answered,
        -- by it and by B, and new ids stay new
        a:kill()
        a = node(r)
        local c2 = bound(a)
        qs, q = query(c2, pending)
        assert.are.equal(ROK, qs)
        assert.are.equal(4, q.message_state)
        local cb2 = bound(b)
        qs = query(cb2, other)
        assert.are.equal(ROK, qs)
        for i = 1, 20 do
            local s1, m1 = submit(c2, { short_message = "c" .. i })
            assert.are.equal(ROK, s1)
            keep(m1)
        end
        -- a receipt due after the restart goes out from whichever node's scheduler takes it
        local _, soon = submit(c2, { registered_delivery = 1, short_message = "soon" })
        keep(soon)
        local got
        for _ = 1, 4 do
            got = deliver(c2, wait.scaled(5)) or deliver(cb2, wait.scaled(1))
            if got and got.tlvs[0x001E] == soon .. "\0" then break end
        end
        assert.is_truthy(got, a:log_text() .. b:log_text())
        assert.are.equal(soon .. "\0", got.tlvs[0x001E])

        -- a node on the Redis store stops cleanly (its poll timer closed
        -- once, exit status 0)
        rx:close()
        cb2:close()
        assert.is_true(b:stop(), b:log_text())
        assert.are.equal(0, b:exit_code(), b:log_text())
    end)

    it("answers ESME_RMSGQFUL while Redis is away, and accepts again when it is back", function()
        local r = redis.start { durable = true }
        local a = node(r)
        local c = bound(a)
        local st, before = submit(c, { short_message = "before" })
        assert.are.equal(ROK, st)
        r:stop()
        assert.is_true(wait.wait_until(function()
            return (submit(c, { short_message = "while away" })) == RMSGQFUL
        end, wait.scaled(10), "ESME_RMSGQFUL while Redis is away"))
        assert.is_true(a:alive())
        r:start()
        local after
        assert.is_true(wait.wait_until(function()
            local s
            s, after = submit(c, { short_message = "after" })
            return s == ROK
        end, wait.scaled(20), "accepted again once Redis is back"))
        assert.are_not.equal(before, after)
        local qs = query(c, before)
        assert.are.equal(ROK, qs, "what was accepted before is still there")
    end)
end)
