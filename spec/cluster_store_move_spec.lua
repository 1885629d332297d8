-- Moving a message to another upstream on the Redis store as on the SQLite
-- one: a refusal listed in the route's failover_on, an after_answer hook's
-- { upstream = }, and the queue of an upstream that cannot send (event
-- "stalled") move the message to the other upstream's queue, with its
-- record under that upstream's tag: its receipt from there reaches the
-- ESME under the gateway's id, and GET /messages/ID shows one record.
local cjson = require "cjson"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local tmp = require "helpers.tmp"
local gwr = require "helpers.gwr"

local ROK = gwr.ROK

-- a node on r with upstreams A (port pa) and B (port pb), one route to both
local function node(r, pa, pb, route, over)
    local up = { system_id = "gw", password = "gwpw", window = 20, reconnect_min = 0.1, reconnect_max = 0.2, wait = 1 }
    local function with(name, port)
        local u = { name = name, port = port }
        for k, v in pairs(up) do u[k] = v end
        return u
    end
    local conf = { upstreams = { with("A", pa), with("B", pb) },
                   gateway = { routes = { route }, mo_routes = { { prefix = "", account = "esme1" } } } }
    for k, v in pairs(over or {}) do conf[k] = v end
    return gwr.node(r, pa, conf)
end

local function bound(n, name)
    assert.is_true(wait.wait_until(function()
        local g = n:stats().gateway
        return g and g.queues and g.queues[name] and g.queues[name].sessions > 0
    end, 10), "a bind to " .. name)
end

local function message(n, id)
    local code, body = n:http("GET", "/messages/" .. id)
    assert.are.equal(200, code, body)
    return cjson.decode(body)
end

local function events(m)
    local out = {}
    for i, t in ipairs(m.trace) do out[i] = t.event end
    return table.concat(out, "\n")
end

describe("cluster store moves", function()
    it("moves a refusal listed in failover_on to the route's other upstream; its receipt comes from there", function()
        local r = redis.start()
        local a_up, b_up = gwr.upstream(), gwr.upstream(0, { takes_all = true })
        local n = node(r, a_up.port, b_up.port,
            { name = "all", prefix = "", to = { "A", "B" }, failover_on = { "ESME_RINVDSTADR" } })
        bound(n, "A")
        bound(n, "B")
        local rx = wire.connect(n.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local id = gwr.submit_all(n, { "refuse then rcpt" })[1]
        local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
        rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
        local sm = wire.parse_sm(p.body)
        assert.matches("^id:" .. id .. " ", sm.short_message)
        assert.matches("stat:DELIVRD", sm.short_message, 1, true)
        assert.matches("up got refuse then rcpt as", a_up:log_text(), 1, true)
        assert.matches("up got refuse then rcpt as", b_up:log_text(), 1, true)
        local m
        assert.is_true(wait.wait_until(function()
            m = message(n, id)
            return m.state == "DELIVRD"
        end, 10), "the receipt in the record")
        assert.are.equal("B", m.upstream)
        assert.are.equal(2, m.attempts)
        local t = events(m)
        assert.matches("sent to A %(session %d+, attempt 1%): ESME_RINVDSTADR; moved to B", t)
        assert.matches("moved from A to B", t, 1, true)
        assert.matches("sent to B %(session %d+, attempt 2%): accepted as u1", t)
        assert.matches("receipt from B", t, 1, true)
        -- one record, under B's tag; A's queue holds nothing
        assert.are.equal(0, r:cmd("EXISTS", "smppgw:{u:A}m:" .. id))
        assert.are.equal(1, r:cmd("EXISTS", "smppgw:{u:B}m:" .. id))
        assert.are.equal(0, r:cmd("XLEN", "smppgw:{u:A}q"))
        local st = n:stats().cluster.store
        assert.are.equal(1, st.moved)
        assert.are.equal(0, st.move_failed)
    end)

    it("moves a refusal its after_answer hook sends to another upstream", function()
        local r = redis.start()
        local a_up, b_up = gwr.upstream(), gwr.upstream(0, { takes_all = true })
        local dir = tmp.dir()
        tmp.write(dir .. "/gw.lua", [[
local gw = require("smpp.gateway_script").new(...)
function gw.after_answer(a)
    if a.kind == "refused" and a.upstream == "A" then return { upstream = "B" } end
end
return gw.handlers
]])
        local n = node(r, a_up.port, b_up.port, { name = "all", prefix = "", to = { "A", "B" } },
                       { script = dir .. "/gw.lua" })
        bound(n, "A")
        bound(n, "B")
        local id = gwr.submit_all(n, { "refuse me" }, 0)[1]
        local m
        assert.is_true(wait.wait_until(function()
            m = message(n, id)
            return m.final == true
        end, 10), "its final state")
        assert.are.equal("B", m.upstream)
        assert.are.equal("u1", m.upstream_id)
        local t = events(m)
        assert.matches("after_answer: sent to A %(session %d+, attempt 1%): ESME_RINVDSTADR; moved to B", t)
        assert.matches("moved from A to B", t, 1, true)
        assert.matches("up got refuse me as", b_up:log_text(), 1, true)
        assert.are.equal(0, r:cmd("EXISTS", "smppgw:{u:A}m:" .. id))
    end)

    it("moves the queue of an upstream that cannot send to another one by the handler's decision (stalled)", function()
        local r = redis.start()
        local pa, pb = redis.free_port(), redis.free_port()     -- nothing listens on A's port
        local n = node(r, pa, pb, { name = "all", prefix = "", to = { "A", "B" } })
        local ids = gwr.submit_all(n, gwr.texts("stuck ", 3), 0)   -- no upstream is up: queued on A
        -- queued on A; on a slow machine A's `wait` (1 s) may have passed
        -- already and the handler moved some to B's queue, where B is not up either
        assert.is_true(wait.wait_until(function()
            return r:cmd("XLEN", "smppgw:{u:A}q") + r:cmd("XLEN", "smppgw:{u:B}q") == 3
        end, 10, "the three messages queued"))
        local b_up = gwr.upstream(0, { takes_all = true, port = pb })
        bound(n, "B")
        gwr.all_arrived(b_up, gwr.texts("stuck ", 3))
        assert.is_true(wait.wait_until(function()
            return r:cmd("XLEN", "smppgw:{u:A}q") == 0
        end, 10), "A's queue empty")
        for _, id in ipairs(ids) do
            local m
            assert.is_true(wait.wait_until(function()
                m = message(n, id)
                return m.final == true
            end, 10), "the final state of " .. id)
            assert.are.equal("B", m.upstream)
            assert.are.equal(1, m.attempts)
            local t = events(m)
            assert.matches("A has not been able to send for %d+ s: moved to B", t)
            assert.matches("moved from A to B", t, 1, true)
            assert.are.equal(0, r:cmd("EXISTS", "smppgw:{u:A}m:" .. id))
        end
        assert.are.equal(3, n:stats().cluster.store.moved)
    end)

    it("moves a stalled queue of thousands a batch at a time as the moves are recorded, not 100 every 2 s", function()
        local N = 2000          -- at the old pace (100 every 2 s) 40 s
        local r = redis.start()
        local pa, pb = redis.free_port(), redis.free_port()     -- nothing listens on A's port
        local n = node(r, pa, pb, { name = "all", prefix = "", to = { "A", "B" }, strategy = "failover" })
        local _, err, rc = require("helpers.run").smppgw({ "bench", "--sessions", "2", "--window", "50",
            "--count", tostring(N), "--system-id", "esme1", "--password", "pw1", "--quiet", "127.0.0.1:" .. n.port })
        assert.equal(0, rc, err)
        assert.are.equal(N, r:cmd("XLEN", "smppgw:{u:A}q") + r:cmd("XLEN", "smppgw:{u:B}q"))
        local b_up = gwr.upstream(0, { takes_all = true, port = pb })
        bound(n, "B")
        wait.wait_until(function() return r:cmd("XLEN", "smppgw:{u:A}q") == 0 end, 15, "A's queue moved to B")
        assert.is_true(n:stats().cluster.store.moved >= N - 100)
        b_up:stop("TERM", 5)
    end)

    it("shows the newest copy of a message a move left in two places (it stopped between its two halves)", function()
        local r = redis.start()
        local a_up, b_up = gwr.upstream(), gwr.upstream(0, { takes_all = true })
        local n = node(r, a_up.port, b_up.port, { name = "all", prefix = "", to = { "A", "B" } })
        for _, k in ipairs { "smppgw:{u:A}m:X1", "smppgw:{u:B}m:X1" } do
            local b = k:find("{u:B}", 1, true) ~= nil
            r:cmd("HSET", k, "account", "esme1", "upstream", b and "B" or "A", "route", "all", "state", "0",
                  "attempts", "1", "trace", "1.000 sent to A\n", b and "moves" or "x", "1")
        end
        local m = message(n, "X1")
        assert.are.equal("B", m.upstream)
        r:cmd("HSET", "smppgw:{u:A}m:X1", "moves", "2")                 -- the other way round
        assert.are.equal("A", message(n, "X1").upstream)
    end)
    it("finishes a move its node did not: the copy is sent to B, the old entry never to A", function()
        local r = redis.start()
        local route = { name = "all", prefix = "", to = { "A", "B" } }
        local pa, pb = redis.free_port(), redis.free_port()
        local x = node(r, pa, pb, route)                 -- nothing listens on A or B yet: it forwards nothing
        local id = gwr.submit_all(x, { "half moved" })[1]
        x:kill()
        -- what a node leaves when it dies between a move's copy and the old
        -- entry's removal: A's entry pending under it, A's record marked
        -- moving to B, the copy (moves 1) and its entry in B's queue
        local qa, qb, ma, mb = "smppgw:{u:A}q", "smppgw:{u:B}q", "smppgw:{u:A}m:" .. id, "smppgw:{u:B}m:" .. id
        pcall(r.cmd, r, "XGROUP", "CREATE", qa, "fwd", "0", "MKSTREAM")
        assert.are.equal(1, #r:cmd("XREADGROUP", "GROUP", "fwd", "n999", "COUNT", "10", "STREAMS", qa, ">")[1][2])
        r:cmd("HSET", ma, "moving", "B")
        local rec, copy = r:cmd("HGETALL", ma), {}
        for i = 1, #rec - 1, 2 do
            if rec[i] ~= "moving" and rec[i] ~= "upstream" then
                copy[#copy + 1], copy[#copy + 2] = rec[i], rec[i + 1]
            end
        end
        r:cmd("HSET", mb, "upstream", "B", "moves", "1", unpack(copy))
        r:cmd("XADD", qb, "*", unpack(r:cmd("XRANGE", qa, "-", "+")[1][2]))
        -- a node that can send to both takes A's entry over (claim_after 1 s)
        local a_up, b_up = gwr.upstream(0, { port = pa }), gwr.upstream(0, { takes_all = true, port = pb })
        local y = node(r, pa, pb, route)
        bound(y, "A")
        assert.is_true(gwr.all_arrived(b_up, { "half moved" }))
        assert.is_true(wait.wait_until(function()
            return r:cmd("XLEN", qa) == 0 and r:cmd("EXISTS", ma) == 0
        end, 10, "A's entry and record taken out"), y:log_text():sub(-2000))
        assert.are.equal(1, y:stats().cluster.store.claimed)
        assert.are.equal(0, y:stats().cluster.store.moved)             -- counted by the node that began it
        assert.is_nil(a_up:log_text():find("up got half moved", 1, true))
        local _, sent_to_b = b_up:log_text():gsub("up got half moved as", "")
        assert.are.equal(1, sent_to_b)
        local m = message(y, id)
        assert.are.equal("B", m.upstream)
        assert.matches("taken over: its move to B finished", events(m), 1, true)
    end)
end)
