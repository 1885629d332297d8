-- "Where is my message?" on the gateway's Redis store: a message accepted
-- on one node, forwarded and its receipt delivered by another, is read with
-- its trace from Redis on any node (GET /messages/ID, `smppgw messages
-- CONFIG ID`) in the shape the SQLite store gives; lists by account answer
-- a 400 saying they need the SQLite store. A gateway also finds the Lua
-- store's messages (the reference SMSC's, on the same Redis), which a
-- process without upstreams lists.
local cjson = require "cjson"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local run = require "helpers.run"
local gwr = require "helpers.gwr"
local server = require "helpers.server"

local ROK = gwr.ROK

local function events(m)
    local out = {}
    for i, t in ipairs(m.trace) do
        assert.is_number(t.at)
        out[i] = t.event
    end
    return out
end

describe("cluster store messages", function()
    it("reads a message and its trace from Redis on any node, as the SQLite store shows it", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, redis.free_port())       -- accepts; holds no bind to the upstream
        local b = gwr.node(r, up.port)                 -- forwards, gets the receipts, delivers them
        gwr.bound_upstream(b)
        local rx = wire.connect(b.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local list = gwr.texts("rcpt", 3)
        local ids = gwr.submit_all(a, list)
        for _ = 1, #list do
            local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
            rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
        end
        wait.wait_until(function()
            for _, id in ipairs(ids) do
                local t = r:cmd("HGET", "smppgw:{u:U}m:" .. id, "trace") or ""
                if not t:find("delivered to esme1", 1, true) then return false end
            end
            return true
        end, 10, "every trace up to the delivery")
        local code, body = b:http("GET", "/messages/" .. ids[1])
        assert.are.equal(200, code, body)
        local m = cjson.decode(body)
        assert.are.equal(ids[1], m.message_id)
        assert.are.equal("esme1", m.account)
        assert.are.equal("U", m.upstream)
        assert.are.equal("all", m.route)
        assert.are.equal("447700900123", m.to)
        assert.are.equal("DELIVRD", m.state)
        assert.is_true(m.final)
        assert.are.equal(1, m.attempts)
        assert.matches("^u%d+$", m.upstream_id)
        assert.is_number(m.submitted)
        assert.is_string(m.done_time)
        assert.are.equal("stat:DELIVRD err:000", m.receipt)
        local ev = events(m)
        assert.are.equal(4, #ev, table.concat(ev, "\n"))
        assert.matches("^accepted from esme1 %(session %d+%), route 'all', queued for U$", ev[1])
        assert.matches("^sent to U %(session %d+, attempt 1%): accepted as " .. m.upstream_id .. "$", ev[2])
        assert.are.equal("receipt from U: stat:DELIVRD err:000", ev[3])
        assert.matches("^delivered to esme1 %(session %d+%)$", ev[4])
        -- the node that accepted it reads the same
        local code_a, body_a = a:http("GET", "/messages/" .. ids[1])
        assert.are.equal(200, code_a, body_a)
        assert.are.same(m, cjson.decode(body_a))
        -- none such
        assert.are.equal(404, (a:http("GET", "/messages/0000000100000999")))
        -- lists need the SQLite store
        local code_l, body_l = a:http("GET", "/messages?account=esme1")
        assert.are.equal(400, code_l)
        assert.matches("need the SQLite store", cjson.decode(body_l).error, 1, true)
        -- the command line reads it too, from the node's configuration
        local out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", ids[2], "--json" }
        assert.are.equal(0, rc, out .. err)
        local v = cjson.decode(out)
        assert.are.equal(ids[2], v.message_id)
        assert.are.equal("DELIVRD", v.state)
        assert.are.equal(4, #v.trace)
        out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", ids[3] }
        assert.are.equal(0, rc, out .. err)
        assert.matches("message " .. ids[3] .. ": DELIVRD (final)", out, 1, true)
        assert.matches("delivered to esme1", out, 1, true)
        out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", "0000000100000999" }
        assert.are.equal(1, rc, out .. err)
        out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", "--account", "esme1" }
        assert.are.equal(2, rc)
        assert.matches("need the SQLite store", out .. err, 1, true)
    end)

    it("a gateway finds the store's messages and its own; lists are the store's where it has no upstreams", function()
        local r = redis.start()
        local up = gwr.upstream()
        local g = gwr.node(r, up.port)
        gwr.bound_upstream(g)
        local gid = gwr.submit_all(g, { "gw1" })[1]
        -- the reference SMSC on the same Redis and prefix keeps its message in the store (P{s}:...)
        local sm = server.start { conf = server.smsc_conf(server.merge({ store = { redis = r.address } },
                                                                        { smsc = { receipt_delay = 100 } })) }
        assert.is_true(sm:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), sm:log_text())
        local c = wire.connect(sm.port)
        assert.are.equal(ROK, c:bind("transceiver", "smppclient1", "password").status)
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { source_addr = "1", destination_addr = "447700900123", short_message = "sm1" }))
        local resp = assert(c:expect(function(p) return p.seq == seq and p.id == wire.id.submit_sm + wire.RESP end))
        assert.are.equal(ROK, resp.status)
        local sid = wire.first_cstr(resp.body)
        c:close()
        assert.are_not.equal(gid, sid)
        -- the gateway: the store's message (asked first), then its own record
        local code, body = g:http("GET", "/messages/" .. sid)
        assert.are.equal(200, code, body)
        local v = cjson.decode(body)
        assert.are.same({ sid, "smppclient1" }, { v.message_id, v.account })
        assert.is_nil(v.upstream)
        code, body = g:http("GET", "/messages/" .. gid)
        assert.are.equal(200, code, body)
        v = cjson.decode(body)
        assert.are.same({ gid, "esme1", "U" }, { v.message_id, v.account, v.upstream })
        local out, err, rc = run.smppgw { "messages", g.dir .. "/conf.lua", sid, "--json" }
        assert.are.equal(0, rc, out .. err)
        assert.are.equal("smppclient1", cjson.decode(out).account)
        out, err, rc = run.smppgw { "messages", g.dir .. "/conf.lua", gid, "--json" }
        assert.are.equal(0, rc, out .. err)
        assert.are.equal("U", cjson.decode(out).upstream)
        -- lists: the gateway's records have no index, so a gateway refuses them (even for
        -- the store's account); the SMSC, with no upstreams, lists the store's
        code, body = g:http("GET", "/messages?account=smppclient1")
        assert.are.equal(400, code, body)
        assert.matches("need the SQLite store", cjson.decode(body).error, 1, true)
        code, body = sm:http("GET", "/messages?account=smppclient1")
        assert.are.equal(200, code, body)
        assert.are.equal(sid, cjson.decode(body).messages[1].message_id)
        out, err, rc = run.smppgw { "messages", sm.dir .. "/conf.lua", "--account", "smppclient1" }
        assert.are.equal(0, rc, out .. err)
        assert.matches("^" .. sid .. " [^\n]*\n1 message\n$", out)
        -- the store's outbox_count and the C path name the account's stream alike
        local cluster = require "smpp.cluster"
        assert.are.equal("sm:{a:smppclient1}r", cluster.rx_key("sm:", "smppclient1"))
    end)

    it("the command line names Redis when it cannot reach it", function()
        local r = redis.start()
        local a = gwr.node(r, redis.free_port())
        r:stop()
        local out, err, rc = run.smppgw { "messages", a.dir .. "/conf.lua", "0000000100000001" }
        assert.are.equal(1, rc)
        assert.matches("Redis at 127.0.0.1:" .. r.port .. " is unreachable", out .. err, 1, true)
    end)
end)
