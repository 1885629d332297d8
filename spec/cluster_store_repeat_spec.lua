-- cluster_store_repeat_spec -- on the Redis store (cluster.store), a
-- final receipt for a message final already in a state other than
-- ACCEPTD is a repeat of the one the ESME had: answered ESME_ROK, dropped
-- and counted in receipts_repeated (/stats and /metrics), as on SQLite
-- (spec/receipts_repeat_spec.lua). The match call sees the record's
-- `final` field; a first final receipt always passes: after ACCEPTD, and
-- after ENROUTE (not final). A submit_multi has a final receipt per
-- destination under its one id: each destination's first reaches the
-- ESME, a repeat about a destination that had its final one is dropped
-- and counted the same (the record keeps each destination's final state).
-- While the upstream awaits answers (its queue has entries a node sent and
-- has not recorded the answer of) such a receipt is held as early instead,
-- as on SQLite: an upstream that numbers again from the start may have
-- given the id to one of those, whose answer takes it.
local redis = require "helpers.redis"
local server = require "helpers.server"
local wire = require "helpers.wire"
local esme_wire = require "helpers.esme"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local UPSTREAM = require("helpers.upstream_scripts").receipts_at_dest

local esme, submit, submit_multi = esme_wire.bind, esme_wire.submit, esme_wire.submit_multi

-- The receipts c gets (each answered), until it has `want` and then until
-- `quiet` seconds pass without another -> { "ID STAT", ... } ("ID DEST
-- STAT" with dest: the source_addr, the destination it is about)
local function receipts(c, want, quiet, dest)
    local got, deadline = {}, wire.gettime() + wait.scaled(10)
    while wire.gettime() < deadline do
        local p = c:expect(function(q) return q.id == id.deliver_sm end, #got < want and 0.05 or quiet)
        if p then
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local d = wire.parse_sm(p.body)
            local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
            got[#got + 1] = rid .. (dest and " " .. d.source_addr or "") .. " " .. d.short_message:match("stat:(%u+)")
        elseif #got >= want then
            break
        end
    end
    return got
end

local function start(script)
    local r = redis.start()
    local up = server.start { conf = UP_CONF, script = script or UPSTREAM }
    local gw = server.start { conf = gwr.gateway_conf(r, up.port) }
    gwr.bound_upstream(gw)
    return r, up, gw, esme(gw)
end

local function queue(gw) return gw:stats().gateway.queues.U end

describe("#integration cluster store: a final receipt after the final one", function()
    it("is answered, dropped and counted, not relayed again", function()
        local _, _, gw, c = start()
        local m1 = submit(c, "m1", 1)
        submit(esme(gw, "transmitter"), "receipts m1@1234=DELIVRD")
        assert.same({ m1 .. " DELIVRD" }, receipts(c, 1, 0))
        local m2 = submit(c, "m2", 1)
        -- the repeats, then m2's receipt: the first the ESME gets
        submit(esme(gw, "transmitter"), "receipts m1@1234=UNDELIV m1@1234=DELIVRD m2@1234=DELIVRD")
        assert.same({ m2 .. " DELIVRD" }, receipts(c, 1, 0.3))
        assert.truthy(gw:wait_log("a repeat of its final receipt", 5), gw:log_text())
        assert.equal(2, queue(gw).receipts_repeated)
        assert.equal(2, gw:stats().cluster.store.receipts_repeated)
        assert.equal(0, queue(gw).receipts_early)
        assert.equal(2, queue(gw).receipts)
        local code, body = gw:http("GET", "/metrics")
        assert.equal(200, code)
        local line = body:match('smppgw_gateway_receipts_total{[^}]*receipts_repeated[^}]*} %d+')
        assert.truthy(line and line:find('upstream="U"', 1, true), body)
        assert.equal("2", line:match("(%d+)$"))
    end)

    it("never drops a first final one: after ACCEPTD, and after ENROUTE", function()
        local _, _, gw, c = start()
        local m1 = submit(c, "m1", 1)
        local m2 = submit(c, "m2", 1)
        submit(esme(gw, "transmitter"), "receipts m1@1234=ACCEPTD m1@1234=DELIVRD m2@1234=ENROUTE m2@1234=DELIVRD")
        assert.same({ m1 .. " ACCEPTD", m1 .. " DELIVRD", m2 .. " ENROUTE", m2 .. " DELIVRD" }, receipts(c, 4, 0.3))
        assert.equal(0, queue(gw).receipts_repeated)
        assert.equal(4, queue(gw).receipts)
    end)

    it("never drops the final receipt of a submit_multi's second destination", function()
        local _, _, gw, c = start()
        local mid = submit_multi(c)
        submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD mm@447700902=UNDELIV")
        assert.same({ mid .. " DELIVRD", mid .. " UNDELIV" }, receipts(c, 2, 0.3))
        assert.equal(0, queue(gw).receipts_repeated)
    end)

    it("of one destination of a submit_multi: dropped and counted; the other's first reaches it", function()
        local r, _, gw, c = start()
        local mid = submit_multi(c)
        submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD")
        assert.same({ mid .. " 447700901 DELIVRD" }, receipts(c, 1, 0, true))
        -- the record is final for that destination once its receipt is in
        -- the stream (its field "fin:<destination>"; without it, after 5 s
        -- the asserts below say what went wrong)
        local function final_for(dest, state)
            wait.wait_until(function()
                return r:cmd("HGET", "smppgw:{u:U}m:" .. mid, "fin:" .. dest) == state end, 5)
        end
        final_for("447700901", "2")
        submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD mm@447700902=UNDELIV")
        assert.same({ mid .. " 447700902 UNDELIV" }, receipts(c, 1, 0, true))
        final_for("447700902", "5")
        local m2 = submit(c, "m2", 1)
        submit(esme(gw, "transmitter"), "receipts mm@447700901=UNDELIV mm@447700902=DELIVRD m2@1234=DELIVRD")
        assert.same({ m2 .. " 1234 DELIVRD" }, receipts(c, 1, 0.3, true))
        assert.equal(3, queue(gw).receipts_repeated)
        assert.equal(3, gw:stats().cluster.store.receipts_repeated)
        assert.equal(0, queue(gw).receipts_early)
        -- the multi's trace names the destination of each receipt
        local trace = r:cmd("HGET", "smppgw:{u:U}m:" .. mid, "trace")
        assert.truthy(trace:find("stat:DELIVRD err:000; about 447700901", 1, true), trace)
        assert.truthy(trace:find("stat:UNDELIV err:000; about 447700902", 1, true), trace)
    end)
end)

describe("#integration cluster store: a receipt before its answer, for an id an older final message has", function()
    it("waits for the answer and reaches the new message, not dropped as a repeat", function()
        local r, _, gw, c = start(require("helpers.upstream_scripts").renumbering)
        local id1 = submit(c, "first", 1)
        assert.same({ id1 .. " DELIVRD" }, receipts(c, 1, 0))
        assert.truthy(wait.wait_until(function()
            return r:cmd("HGET", "smppgw:{u:U}m:" .. id1, "final") == "1" end, 5), "the first is final")
        submit(esme(gw, "transmitter"), "start again")
        -- id 1 again: its receipt comes while its answer is awaited
        local id2 = submit(esme(gw, "transmitter"), "early second", 1)
        assert.same({ id2 .. " UNDELIV" }, receipts(c, 1, 0.3))
        local q = queue(gw)
        assert.equal(0, q.receipts_repeated)
        assert.equal(1, q.receipts_early)
        assert.equal(1, q.receipts_early_matched)
        assert.equal("2", r:cmd("HGET", "smppgw:{u:U}m:" .. id1, "state"))
    end)
end)
