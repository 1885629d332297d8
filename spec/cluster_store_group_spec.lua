-- cluster_store_group_spec -- on the Redis store (cluster.store), the
-- upstream entries of one SMSC account (same host, port and system_id, or
-- one smsc_account named) match each other's receipts, as on SQLite
-- (spec/receipts_account_spec.lua): the SMSC delivers every receipt on the
-- other entry's session, and each reaches the ESME with its message's id
-- and state, also one that comes before its message's answer (kept under
-- the entry it came on, taken by the answer of the other), counted under
-- the entry that sent the message. Entries of different accounts still do
-- not cross, and `smppgw check` no longer warns about such a group. A
-- receipt kept as early under one entry just after another entry's answer
-- took that entry's early receipts is not left there until early_ttl: the
-- group is asked once more after the keep (the interleaving forced by a
-- proxy that holds the keep until "another node's" answer is written). A
-- receipt that finds one member's final message while another member
-- awaits answers is held for them, not dropped as a repeat.
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local scripts = require "helpers.upstream_scripts"
local gw_store = require "helpers.gw_store"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' }, { system_id = 'gw2', password = 'gwpw' } } }]]

-- upstreams A ... B (or C); messages to 1... go through A, to 2... through the last one
local function gateway_conf(r, upstreams)
    return "return " .. server.lua(server.merge({
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = upstreams,
        gateway = { routes = { { name = "a", prefix = "1", to = { "A" } },
                               { name = "b", prefix = "2", to = { upstreams[#upstreams].name } } } },
    }, gw_store.sections(r)))
end

local function submit(c, dest, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, destination_addr = dest, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

local function start(upstreams, script)
    local r = redis.start()
    local up = server.start { conf = UP_CONF, script = script or scripts.other_session }
    for _, u in ipairs(upstreams) do u.port, u.password = up.port, "gwpw" end
    local gw = server.start { conf = gateway_conf(r, upstreams) }
    for _, u in ipairs(upstreams) do
        assert.truthy(gw:wait_log("upstream " .. u.name .. ": bind 1 up", 10), gw:log_text())
    end
    gw_store.ready(gw, r)
    local rx = wire.connect(gw.port)
    assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
    local tx = wire.connect(gw.port)
    assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
    return r, up, gw, rx, tx
end

describe("#integration cluster store: receipts of one SMSC account bound by two upstream entries", function()
    local cases = {
        { "same host, port and system_id", { { name = "A", system_id = "gw" }, { name = "B", system_id = "gw" } } },
        { "one smsc_account named", { { name = "A", system_id = "gw", smsc_account = "acct" },
                                      { name = "B", system_id = "gw2", smsc_account = "acct" } } },
        -- B's receipts come on Arx, whose receipts_for names A: looked up under A, then B
        { "a receiver link's receipts_for naming one of them",
          { { name = "A", system_id = "gw", bind = "tx" },
            { name = "Arx", system_id = "gw", bind = "rx", receipts_for = "A" },
            { name = "B", system_id = "gw" } } },
    }
    for _, case in ipairs(cases) do
        local what, upstreams = case[1], case[2]
        it("reach the ESME when each comes on the other entry's session (" .. what .. ")", function()
            local r, up, gw, rx, tx = start(upstreams)
            finally(function() rx:close() tx:close() gw:stop() up:stop() end)
            local want = {}
            for _, m in ipairs { { "100", "a1" }, { "101", "early a2 undeliv" }, { "200", "b1 undeliv" },
                                 { "201", "early b2" } } do
                want[submit(tx, m[1], m[2])] = m[2]
            end
            for _ = 1, 4 do
                local p = assert(rx:expect(function(q) return q.id == id.deliver_sm end, 10),
                                 "a receipt is missing\n" .. gw:log_text():sub(-3000))
                rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
                local text = want[rid]
                assert.is_not_nil(text, "a receipt for " .. rid)
                assert.matches("^id:" .. rid:gsub("%p", "%%%0") .. " ", d.short_message)
                local undeliv = text:find("undeliv", 1, true) ~= nil
                assert.matches(undeliv and "stat:UNDELIV" or "stat:DELIVRD", d.short_message)
                assert.equal(undeliv and "\5" or "\2", d.tlvs[0x0427])
                want[rid] = nil
            end
            assert.is_nil(next(want))
            assert.truthy(wait.wait_until(function()
                local q = gw:stats().gateway.queues
                return q.A.receipts == 2 and q.B.receipts == 2
            end, 5), gw:log_text():sub(-3000))
            local q = gw:stats().gateway.queues
            assert.equal(1, q.A.receipts_early_matched)      -- under the entry that sent the message
            assert.equal(1, q.B.receipts_early_matched)
            assert.equal(0, q.A.receipts_unmatched + q.B.receipts_unmatched)
            -- found under the other entry's keys: all four here, at least B's two through Arx (A's may come
            -- on Arx, which is A's own)
            local hits = gw:stats().cluster.store.receipts_group_matched
            if #upstreams == 2 then assert.equal(4, hits) else assert.is_true(hits >= 2, tostring(hits)) end
            -- nothing left behind: no early list, the being-matched sets empty, the records final
            assert.truthy(wait.wait_until(function()
                return #r:cmd("KEYS", "smppgw:*}e:*") == 0 and r:cmd("ZCARD", "smppgw:{u:A}p") == 0
                    and r:cmd("ZCARD", "smppgw:{u:B}p") == 0
            end, 5), "early receipts left in Redis")
        end)
    end

    it("do not cross to an entry of another account", function()
        local r, up, gw, rx, tx = start({ { name = "A", system_id = "gw" }, { name = "C", system_id = "gw2" } })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        submit(tx, "100", "a1")
        -- its receipt comes on C's session: C waits for a message of its own with that id
        assert.truthy(wait.wait_until(function()
            return gw:stats().gateway.queues.C.receipts_early == 1
        end, 10), gw:log_text())
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.receipts)
        assert.equal(0, q.C.receipts)
        assert.equal(1, r:cmd("LLEN", "smppgw:{u:C}e:a1"))
        assert.is_nil(rx:expect(function(p) return p.id == id.deliver_sm end, 0.3))
    end)
end)

describe("#integration cluster store: a group's receipt kept as early just after another entry's answer", function()
    it("is taken at once, not left until early_ttl", function()
        local r = redis.start()
        local up = server.start { conf = UP_CONF, script = scripts.receipts_at_dest }
        -- the node's link to Redis: its second call with B's early list of
        -- r1 (after the peek under B, the peek under A: the keep) is held
        local gate = tmp.dir() .. "/open"
        local proxy = run.spawn(string.format("exec luajit spec/helpers/gate_proxy.lua %d %s 2 %s", r.port,
                                              run.quote("{u:B}e:r1"), run.quote(gate)))
        local via = wait.wait_until(function() return proxy:log_text():match("listening on (%d+)") end, 5)
        assert.is_not_nil(via, proxy:log_text())
        local upstreams = { { name = "A", system_id = "gw", smsc_account = "acct" },
                            { name = "B", system_id = "gw2", smsc_account = "acct" } }
        for _, u in ipairs(upstreams) do u.port, u.password = up.port, "gwpw" end
        local gw = server.start { conf = gateway_conf({ address = "127.0.0.1:" .. via }, upstreams) }
        for _, u in ipairs(upstreams) do
            assert.truthy(gw:wait_log("upstream " .. u.name .. ": bind 1 up", 10), gw:log_text())
        end
        gw_store.ready(gw)
        local rx = wire.connect(gw.port)
        assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
        local tx = wire.connect(gw.port)
        assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        -- through B: the SMSC then sends a receipt for r1 on B's session
        submit(tx, "200", "receipts r1@1234=DELIVRD")
        assert.truthy(wait.wait_until(function() return proxy:log_text():find("held", 1, true) end, 10),
                      "the keep was not held\n" .. gw:log_text():sub(-3000))
        -- meanwhile another node's answer of A's message r1: its mapping and
        -- record written (as that node's answer call writes them), then its
        -- TAKE of B's early receipts for r1, which finds none yet
        local t = r:cmd("TIME")
        r:cmd("HSET", "smppgw:{u:A}m:race1", "account", "esme1", "upstream", "A", "route", "a", "state", "0",
              "rd", "1", "upstream_id", "r1", "trace", "accepted\n", "mapped", t[1] .. string.format("%06d", t[2]))
        r:cmd("SET", "smppgw:{u:A}k:r1", "race1")
        assert.same({}, r:cmd("LRANGE", "smppgw:{u:B}e:r1", 0, -1))
        tmp.write(gate, "")
        -- the receipt reaches the ESME with A's message's id now, not after early_ttl (60 s)
        local p = assert(rx:expect(function(q) return q.id == id.deliver_sm end, 5),
                         "the receipt stayed in B's early list\n" .. gw:log_text():sub(-3000))
        rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        local d = wire.parse_sm(p.body)
        assert.equal("race1", (d.tlvs[0x001E] or ""):gsub("%z$", ""))
        assert.matches("stat:DELIVRD", d.short_message)
        assert.truthy(wait.wait_until(function()
            return r:cmd("LLEN", "smppgw:{u:B}e:r1") == 0 and r:cmd("ZCARD", "smppgw:{u:B}p") == 0
                and r:cmd("HGET", "smppgw:{u:A}m:race1", "state") == "2"
        end, 5), "left in Redis")
        local q = gw:stats().gateway.queues
        assert.equal(1, q.B.receipts_early)           -- kept under the entry it came on
        assert.equal(1, q.A.receipts_early_matched)   -- matched under the entry whose message it is
        assert.equal(1, q.A.receipts)
    end)
end)

describe("#integration cluster store: a group's receipt for a final message while another entry awaits answers",
         function()
    it("is held for that entry's answer, which takes it, not dropped as a repeat", function()
        local r, up, gw, rx, tx = start({ { name = "A", system_id = "gw", smsc_account = "acct" },
                                          { name = "B", system_id = "gw2", smsc_account = "acct" } },
                                        scripts.renumbering)
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local function receipt()
            local p = rx:expect(function(q) return q.id == id.deliver_sm end, 5)
            if not p then return nil end
            rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local d = wire.parse_sm(p.body)
            return (d.tlvs[0x001E] or ""):gsub("%z$", "") .. " " .. d.short_message:match("stat:(%u+)")
        end
        -- through A: id 1, its receipt, final
        local id1 = submit(tx, "100", "first")
        assert.equal(id1 .. " DELIVRD", receipt())
        assert.truthy(wait.wait_until(function()
            return r:cmd("HGET", "smppgw:{u:A}m:" .. id1, "final") == "1" end, 5), "the first is final")
        submit(tx, "101", "start again")
        -- through B: id 1 again, its receipt (on B's session) before its
        -- answer: A's message is final, B awaits the answer
        local id2 = submit(tx, "200", "early second")
        assert.equal(id2 .. " UNDELIV", receipt(), gw:log_text():sub(-3000))
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.receipts_repeated + q.B.receipts_repeated)
        assert.equal(1, q.B.receipts_early_matched)
        assert.equal("2", r:cmd("HGET", "smppgw:{u:A}m:" .. id1, "state"))
    end)
end)

describe("#integration smppgw check: receipt groups on the Redis store", function()
    it("does not warn about two entries of one SMSC account", function()
        local conf = tmp.write(tmp.dir() .. "/conf.lua", "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            cluster = { redis = "127.0.0.1:6399", store = true },
            upstreams = { { name = "A", port = 2, system_id = "x" }, { name = "B", port = 2, system_id = "x" },
                          { name = "C", port = 3, system_id = "y", smsc_account = "acct" },
                          { name = "D", port = 4, system_id = "z", smsc_account = "acct" } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } } })
        local out, err, rc = run.smppgw { "check", conf }
        assert.equal(0, rc, out .. err)
        assert.is_nil((out .. err):find("reach one SMSC account", 1, true), out .. err)
    end)
end)
