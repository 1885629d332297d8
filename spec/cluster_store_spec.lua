-- Nodes sharing their messages through Redis (cluster.store = true): a
-- message accepted on one node is forwarded by the node that holds the
-- upstream's bind; a node killed while it holds messages loses none
-- (another node takes them over after claim_after); `check` refuses what
-- the Redis store cannot serve.
local server = require "helpers.server"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local run = require "helpers.run"
local tmp = require "helpers.tmp"

local gwr = require "helpers.gwr"

local ROK, RMSGQFUL = gwr.ROK, gwr.RMSGQFUL
local upstream, gateway_conf, node, bound_upstream = gwr.upstream, gwr.gateway_conf, gwr.node, gwr.bound_upstream
local submit_all, texts, all_arrived = gwr.submit_all, gwr.texts, gwr.all_arrived

describe("cluster store", function()
    it("is what store.redis makes of a gateway, without a cluster section", function()
        local r = redis.start()
        local up = upstream()
        local conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            store = { redis = r.address },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw", window = 20 } },
            gateway = { routes = { { name = "all", prefix = "", to = { "U" } } } },
        }
        local n = server.start { conf = conf }
        wait.wait_until(function()
            local c = n:stats().cluster
            return c and c.redis.state == "up" and c.store and c.store.node_id > 0 and c.store.ids_left > 0
        end, 10, "the node's link to Redis and its node id")
        bound_upstream(n)
        local list = texts("s", 5)
        local ids = submit_all(n, list)
        assert.is_true(all_arrived(up, list))
        assert.are.equal("esme1", r:cmd("HGET", "smppgw:{u:U}m:" .. ids[1], "account"))
    end)

    it("forwards a message accepted on node A from node B, which holds the upstream's bind", function()
        local r = redis.start()
        local up = upstream()
        local a = node(r, redis.free_port())
        local b = node(r, up.port)
        bound_upstream(b)
        local list = texts("m", 60)
        local ids = submit_all(a, list)
        local seen = {}
        for i = 1, #list do
            assert.is_truthy(ids[i])
            assert.is_nil(seen[ids[i]], "id issued twice: " .. ids[i])
            seen[ids[i]] = true
        end
        assert.is_true(all_arrived(up, list))
        -- every record says accepted upstream, with the upstream's id; nothing pending
        assert.is_true(wait.wait_until(function()
            for i = 1, #list do
                if r:cmd("HGET", "smppgw:{u:U}m:" .. ids[i], "state") ~= "1" then return false end
            end
            return r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")[1] == 0
        end, 10, "every record answered and acknowledged"))
        local uid = r:cmd("HGET", "smppgw:{u:U}m:" .. ids[1], "upstream_id")
        assert.matches("^u%d+$", uid)
        assert.are.equal(ids[1], r:cmd("GET", "smppgw:{u:U}k:" .. uid))      -- the mapping for receipts
        assert.are.equal("esme1", r:cmd("HGET", "smppgw:{u:U}m:" .. ids[1], "account"))
        -- node ids differ, so do the ids the two nodes issue
        local ida = a:stats().cluster.store.node_id
        local idb = b:stats().cluster.store.node_id
        assert.are_not.equal(ida, idb)
        local more = submit_all(b, { "from-b" })
        assert.is_nil(seen[more[1]])
        assert.is_true(all_arrived(up, { "from-b" }))
    end)

    it("loses nothing when the forwarding node is killed holding messages: another takes them over", function()
        local r = redis.start()
        local up = upstream(wait.scaled(3))
        local a = node(r, redis.free_port())
        local b = node(r, up.port)
        bound_upstream(b)
        local list = texts("slow", 15)
        submit_all(a, list)
        -- b has taken them and waits for the slow answers: kill it then
        local consumer = b:stats().cluster.store.consumer
        assert.is_true(wait.wait_until(function()
            local p = r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")
            return p[1] == #list and p[4] and p[4][1] and p[4][1][1] == consumer
        end, 10, "every message pending on b"))
        b:kill()
        local c = node(r, up.port)
        bound_upstream(c)
        assert.is_true(c:wait_log("took over %d+ messages of U pending longer than 1 s", 15))
        assert.is_true(wait.wait_until(function()
            return r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")[1] == 0
        end, 20, "every message answered and acknowledged by c"))
        assert.is_true(all_arrived(up, list, 5))
    end)

    it("a receipt reaches the account's receiver on another node, held until one binds", function()
        local r = redis.start()
        local up = upstream()
        local a = node(r, redis.free_port())        -- the ESME's transmitter
        local b = node(r, redis.free_port())        -- the ESME's receiver, bound later
        local c = node(r, up.port)                  -- the upstream's bind: receipts come here
        bound_upstream(c)
        local list = texts("rcpt", 40)
        local ids = submit_all(a, list)
        assert.is_true(all_arrived(up, list))
        -- every receipt matched on c and waiting in the account's stream: no receiver is bound
        assert.is_true(wait.wait_until(function()
            return r:cmd("XLEN", "smppgw:{a:esme1}r") == #list
        end, 10, "every receipt in the account's stream"))
        local rx = wire.connect(b.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local got, want = {}, {}
        for i = 1, #list do want[ids[i]] = list[i] end
        for _ = 1, #list do
            local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
            rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
            local sm = wire.parse_sm(p.body)
            local id = sm.short_message:match("^id:(%S+) ")
            assert.is_truthy(want[id], "a receipt for an id we did not issue: " .. sm.short_message)
            assert.matches("stat:DELIVRD", sm.short_message)
            assert.matches("text:" .. want[id], sm.short_message, 1, true)
            got[id] = (got[id] or 0) + 1
        end
        for i = 1, #list do assert.are.equal(1, got[ids[i]], "receipts for " .. ids[i]) end
        -- acknowledged once the ESME answered; every record final DELIVERED
        assert.is_true(wait.wait_until(function()
            if r:cmd("XLEN", "smppgw:{a:esme1}r") ~= 0 then return false end
            for i = 1, #list do
                if r:cmd("HGET", "smppgw:{u:U}m:" .. ids[i], "state") ~= "2" then return false end
            end
            return true
        end, 10, "the stream emptied and every message DELIVERED"))
        assert.are.equal(#list, c:stats().cluster.store.receipts)
        -- query_sm on the node that accepted it reads the record in Redis
        local q = wire.connect(a.port)
        assert.are.equal(ROK, q:bind("transmitter", "esme1", "pw1").status)
        q:send(wire.pdu(wire.id.query_sm, q:next_seq(), wire.cstr(ids[1]) .. "\0\0" .. wire.cstr("1")))
        local p = assert(q:read(10))
        assert.are.equal(ROK, p.status)
        local qr = wire.parse_query_resp(p.body)
        assert.are.equal(ids[1], qr.message_id)
        assert.are.equal(2, qr.message_state)                      -- DELIVERED
        q:send(wire.pdu(wire.id.query_sm, q:next_seq(), wire.cstr("FFFFFFFF00000001") .. "\0\0" .. wire.cstr("1")))
        assert.are.equal(0x67, assert(q:read(10)).status)          -- ESME_RQUERYFAIL
    end)

    it("a receipt that comes before its message's answer waits in Redis and is matched then", function()
        local r = redis.start()
        local up = upstream(wait.scaled(0.5))
        local a = node(r, up.port)
        bound_upstream(a)
        local rx = wire.connect(a.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local list = texts("rcpt-early-slow", 5)
        local ids = submit_all(a, list)
        local want = {}
        for i = 1, #list do want[ids[i]] = true end
        for _ = 1, #list do
            local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
            rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
            local id = wire.parse_sm(p.body).short_message:match("^id:(%S+) ")
            assert.is_true(want[id], "a receipt for " .. tostring(id))
            want[id] = nil
        end
        local st = a:stats().cluster.store
        assert.are.equal(#list, st.receipts_early)
        assert.are.equal(#list, st.receipts_early_matched)
        assert.are.same({}, r:cmd("KEYS", "smppgw:{u:U}e:*"))
    end)

    it("answers ESME_RMSGQFUL while Redis is stopped, resumes when it is back, and loses nothing accepted", function()
        local r = redis.start { durable = true }
        local up = upstream()
        local a = node(r, up.port)
        bound_upstream(a)
        local c = wire.connect(a.port)
        assert.are.equal(ROK, c:bind("transmitter", "esme1", "pw1").status)
        local accepted, full, n = {}, 0, 0
        -- batches of 10 submits in flight: -> how many of the batch got ESME_ROK
        local function batch()
            local sent = {}
            for _ = 1, 10 do
                n = n + 1
                local seq = c:next_seq()
                sent[seq] = "load" .. n
                c:send(wire.submit_sm(seq, { source_addr = "1", destination_addr = "447700900123",
                                             short_message = sent[seq] }))
            end
            local ok = 0
            for _ = 1, 10 do
                local p = assert(c:read(10))
                if p.status == ROK then
                    accepted[#accepted + 1] = { text = sent[p.seq], id = wire.first_cstr(p.body) }
                    ok = ok + 1
                else
                    assert.are.equal(RMSGQFUL, p.status, "submit " .. sent[p.seq])
                    full = full + 1
                end
            end
            return ok
        end
        for _ = 1, 5 do assert.are.equal(10, batch()) end
        r:stop()
        assert.is_true(wait.wait_until(function() return batch() == 0 end, 10, "ESME_RMSGQFUL while Redis is down"))
        assert(a:wait_log("redis 127%.0%.0%.1:%d+: link lost"), a:log_text():sub(-2500))
        assert.are.equal("down", a:stats().cluster.redis.state)
        for _ = 1, 3 do assert.are.equal(0, batch()) end
        r:start()
        assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: up again", 10), a:log_text():sub(-3000))
        assert.is_true(wait.wait_until(function() return batch() == 10 end, 10, "accepting again"))
        for _ = 1, 5 do assert.are.equal(10, batch()) end
        assert.is_true(full >= 40)
        local list = {}
        for i, m in ipairs(accepted) do list[i] = m.text end
        assert.is_true(all_arrived(up, list))
        assert.is_true(wait.wait_until(function()
            for _, m in ipairs(accepted) do
                if r:cmd("HGET", "smppgw:{u:U}m:" .. m.id, "state") ~= "1" then return false end
            end
            return r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")[1] == 0
        end, 10, "every accepted message's answer recorded"))
    end)

    it("holds a bind at start-up until the node has its message ids: the first submit is accepted", function()
        local r = redis.start()
        local up = upstream()
        r:pause()                     -- the node's link cannot come up: no node id, no id block yet
        local ok, err = pcall(function()
            local n = server.start { conf = gateway_conf(r, up.port) }
            local c = wire.connect(n.port)
            c:send(wire.bind("transmitter", c:next_seq(), "esme1", "pw1"))
            assert(n:wait_log("the bind waits for this node's message ids from Redis"), n:log_text())
            r:resume()
            assert.are.equal(ROK, assert(c:read(10)).status)
            c:send(wire.submit_sm(c:next_seq(), { source_addr = "1", destination_addr = "447700900123",
                                                 short_message = "first" }))
            assert.are.equal(ROK, assert(c:read(10)).status, "the first submit after the bind")
            assert.is_true(all_arrived(up, { "first" }))
        end)
        r:resume()
        assert(ok, err)
    end)

    it("an MO from the upstream reaches the account's receiver on another node", function()
        local r = redis.start()
        local up = upstream()
        local a = node(r, up.port)                  -- the upstream's bind: the MO comes here
        bound_upstream(a)
        local b = node(r, redis.free_port())        -- the ESME's receiver
        local rx = wire.connect(b.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local list = texts("mo", 10)
        submit_all(a, list)
        local want = {}
        for _, t in ipairs(list) do want["reply to " .. t] = true end
        for _ = 1, #list do
            local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
            rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
            local sm = wire.parse_sm(p.body)
            assert.is_true(want[sm.short_message], "an MO: " .. sm.short_message)
            want[sm.short_message] = nil
        end
        assert.is_true(wait.wait_until(function()
            return r:cmd("XLEN", "smppgw:{a:esme1}r") == 0 and b:stats().cluster.store.rx_acked == #list
        end, 10, "every MO acknowledged by b"))
    end)

    it("check refuses what the Redis store cannot serve, naming the key", function()
        local dir = tmp.dir()
        local r = { address = "127.0.0.1:6390" }
        -- the reference SMSC keeps its messages through smpp.store: on Redis too
        tmp.write(dir .. "/smsc.lua", server.smsc_conf { cluster = { redis = r.address, store = true } })
        local out, err, rc = run.smppgw { "check", dir .. "/smsc.lua", "-l", "127.0.0.1:2775" }
        assert.are.equal(0, rc, out .. err)
        tmp.write(dir .. "/up.lua", gateway_conf(r, 2776, { gateway = { message_id = "upstream" } }))
        out, err, rc = run.smppgw { "check", dir .. "/up.lua", "-l", "127.0.0.1:2775" }
        assert.are_not.equal(0, rc)
        assert.matches('cluster.store: gateway.message_id = "upstream" is not served with the store in Redis',
            out .. err, 1, true)
        tmp.write(dir .. "/file.lua", gateway_conf(r, 2776, { store = { path = "x.db" } }))
        out, err, rc = run.smppgw { "check", dir .. "/file.lua", "-l", "127.0.0.1:2775" }
        assert.are_not.equal(0, rc)
        assert.matches("store.path: with cluster.store = true the store is in Redis", out .. err, 1, true)
        tmp.write(dir .. "/ok.lua", gateway_conf(r, 2776, { workers = 2 }))
        out, err, rc = run.smppgw { "check", dir .. "/ok.lua", "-l", "127.0.0.1:2775" }
        assert.are.equal(0, rc, out .. err)
        assert.matches("the store in Redis %(cluster.store%)", out)
    end)
end)
