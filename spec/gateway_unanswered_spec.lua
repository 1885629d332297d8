-- gateway_unanswered_spec -- an upstream that binds and answers
-- enquire_link but never answers a submit (a "black hole"), first in a
-- failover route: after max_timeouts requests in a row go unanswered it
-- counts as unable to send, as a link that is down does -- new messages
-- take the next upstream, its queue moves there after its `wait`, it is
-- sent one message at a time (resends bounded), and it takes messages
-- again once it answers. The same with message_id = "upstream": the ESME
-- stops waiting for it. /stats and /metrics say so, and the timeouts do
-- not flood the log.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local ROK, RSYSERR = 0, 0x08

-- The black hole: every submit_sm waits an hour (its receive window
-- large enough that it never answers ESME_RTHROTTLED instead).
local HOLE = [[
local smpp = require "smpp"
return { submit_sm = function() smpp.sleep(3600) return 0, { message_id = "late" } end }
]]
-- The same upstream after a reload: it answers.
local ANSWERS = [[
local n = 0
return { submit_sm = function() n = n + 1 return 0, { message_id = "bh" .. n } end }
]]
-- An upstream whose insides fail: it answers every submit_sm ESME_RSYSERR.
local SYSERR = [[
return { submit_sm = function() return 0x08 end }
]]
-- A slow upstream: it answers every submit_sm, one at a time, 50 ms each
-- (20 a second), so a burst's last requests are answered after their
-- response_timeout.
local SLOW = [[
local smpp = require "smpp"
local busy, n = false, 0
return { submit_sm = function()
    while busy do smpp.sleep(0.005) end
    busy = true
    smpp.sleep(0.05)
    busy = false
    n = n + 1
    return 0, { message_id = "slow" .. n }
end }
]]
local HOLE_CONF = [[return { script = 'script.lua', session = { receive_window = 100000 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local function gateway_conf(bh_port, u2_port, message_id, max_queue, max_errors)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        log = { level = "info" },
        store = { path = "gw.db" },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = {
            { name = "BH", port = bh_port, system_id = "gw", password = "gwpw", response_timeout = 0.5,
              wait = 1, max_timeouts = 3, reconnect_min = 0.2, reconnect_max = 0.5, max_queue = max_queue,
              max_errors = max_errors },
            { name = "U2", port = u2_port, system_id = "gw", password = "gwpw", reconnect_min = 0.2,
              reconnect_max = 0.5 },
        },
        gateway = {
            -- the trials' backoff short: a message timed out there moves
            -- anyway (it was once taken as a trial again and again)
            message_id = message_id, retry_min = 0.1, retry_max = 0.2,
            routes = { { name = "all", prefix = "", to = { "BH", "U2" }, strategy = "failover" } },
        },
    }
end

local function start(message_id, max_queue, script, max_errors)
    local bh = server.start { conf = HOLE_CONF, script = script or HOLE }
    local u2 = server.start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } },
                                                        smsc = { reject = {}, rules = {} } } }
    local gw = server.start { conf = gateway_conf(bh.port, u2.port, message_id, max_queue, max_errors) }
    assert(gw:wait_log("upstream BH: bind 1 up", 5), gw:log_text())
    assert(gw:wait_log("upstream U2: bind 1 up", 5), gw:log_text())
    local c = wire.connect(gw.port)
    assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
    return bh, u2, gw, c
end

local function upstream_stats(gw, name)
    for _, u in ipairs(gw:stats().upstreams) do if u.name == name then return u end end
end

-- Send n submit_sm (receipts asked for) at once -> their answers by
-- sequence_number: { status, id }.
local function submit_all(c, n, f)
    local seqs, out = {}, {}
    for _ = 1, n do
        local seq = c:next_seq()
        seqs[seq] = true
        local fields = { registered_delivery = 1 }
        for k, v in pairs(f or {}) do fields[k] = v end
        c:send(wire.submit_sm(seq, fields))
    end
    for _ = 1, n do
        local r = assert(c:expect(function(p) return p.id == RESP + id.submit_sm and seqs[p.seq] end, 10))
        out[#out + 1] = { status = r.status, id = wire.first_cstr(r.body), seq = r.seq }
    end
    return out
end

-- Receipts for the ids in `want` (a set), answered as they come, until
-- all came -> the stat of each.
local function receipts(c, want, timeout)
    local got, left = {}, 0
    for _ in pairs(want) do left = left + 1 end
    while left > 0 do
        local p = c:expect(function(p) return p.id == id.deliver_sm end, timeout or 10)
        if not p then break end
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        local d = wire.parse_sm(p.body)
        local mid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
        if want[mid] and not got[mid] then
            got[mid] = d.short_message:match("stat:(%u+)")
            left = left - 1
        end
    end
    return got, left
end

describe("#integration an upstream that never answers (message_id own)", function()
    it("counts as unable to send: its queue moves to the next upstream, it gets one message at a time, and "
        .. "it takes messages again once it answers", function()
        local bh, _, gw, c = start("own")
        -- 20 messages: BH is usable, so its queue takes them; 10 go out
        -- (its window) and are never answered
        local first = submit_all(c, 20)
        local want = {}
        for _, r in ipairs(first) do
            assert.equal(ROK, r.status)
            want[r.id] = true
        end
        assert.is_truthy(gw:wait_log("upstream BH: 3 requests in a row unanswered: it counts as unable to send", 5),
            gw:log_text())
        local silent = wire.gettime()
        -- meanwhile new messages go to U2 at once
        local later = submit_all(c, 5)
        for _, r in ipairs(later) do
            want[r.id] = true
            local code, body = gw:http("GET", "/messages/" .. r.id)
            assert.equal(200, code)
            assert.equal("U2", cjson.decode(body).upstream)
        end
        -- the 20 move to U2 after BH's wait (1 s): every receipt comes
        local got, left = receipts(c, want, 10)
        assert.equal(0, left, gw:log_text())
        for mid in pairs(want) do assert.equal("DELIVRD", got[mid], mid) end
        local q = gw:stats().gateway.queues.BH
        assert.equal(20, q.moved)
        assert.equal(0, q.queued)
        -- resends bounded: its window once, then one trial at a time, each
        -- taking its response_timeout (0.5 s) and retry_min (0.1 s) at least
        local trials = math.floor((wire.gettime() - silent) / 0.6) + 2
        assert.is_true(q.sent <= 10 + trials, "sent " .. q.sent .. ", at most " .. (10 + trials))
        local u = upstream_stats(gw, "BH")
        assert.is_true(u.unanswered)
        assert.is_true(u.timeouts_in_row >= 3)
        local _, metrics = gw:http("GET", "/metrics")
        assert.matches('smppgw_upstream_unanswered{upstream="BH"} 1', metrics, 1, true)
        assert.matches('smppgw_upstream_unanswered{upstream="U2"} 0', metrics, 1, true)
        -- the timeouts are counted, not printed one by one
        local _, lines = gw:log_text():gsub("no response within", "")
        assert.is_true(lines <= 3, lines .. " timeout lines")
        -- it answers again: the next trial (a new message, its queue being
        -- empty) is answered, and it takes messages again
        bh:write("script.lua", ANSWERS)
        bh:signal("HUP")
        assert.is_truthy(bh:wait_log("reloaded", 5))
        local back = false
        for _ = 1, 30 do
            local r = submit_all(c, 1)[1]
            assert.equal(ROK, r.status)
            local _, body = gw:http("GET", "/messages/" .. r.id)
            if cjson.decode(body).upstream == "BH" and gw:log_text():find("upstream BH answers again", 1, true) then
                back = true
                break
            end
            wire.sleep(0.2)
        end
        assert.is_true(back, gw:log_text())
        assert.is_true(wait_until(function() return not upstream_stats(gw, "BH").unanswered end, 5))
        for _, r in ipairs(submit_all(c, 3)) do
            local _, body = gw:http("GET", "/messages/" .. r.id)
            assert.equal("BH", cjson.decode(body).upstream)
        end
        -- silent again within the log's repeat window: the state change
        -- is printed again, not folded as a copy of the first one
        bh:write("script.lua", HOLE)
        bh:signal("HUP")
        assert.is_truthy(bh:wait_log("reloaded", 5))
        submit_all(c, 5)
        assert.is_true(wait_until(function()
            local _, n = gw:log_text():gsub("upstream BH: %d+ requests in a row unanswered", "")
            return n == 2
        end, 5), gw:log_text())
        c:close()
    end)
end)

describe("#integration an upstream that answers every submit ESME_RSYSERR", function()
    it("by default still counts as answering: one account's messages can draw such answers on purpose", function()
        -- an upstream that fails on one destination must not be taken from the
        -- other accounts by one account sending there (max_errors = 0)
        local _, _, gw, c = start("own", nil, SYSERR)
        for _, r in ipairs(submit_all(c, 5)) do assert.equal(ROK, r.status) end
        assert.is_true(wait_until(function() return upstream_stats(gw, "BH").link_errors >= 10 end, 10),
            "link_errors " .. tostring(upstream_stats(gw, "BH").link_errors))
        local u = upstream_stats(gw, "BH")
        assert.is_false(u.unanswered)
        assert.is_nil(gw:log_text():find("counts as unable to send", 1, true))
        c:close()
    end)

    it("with max_errors = 3 counts as unable to send after 3 such answers in a row: its queue moves, resends are "
        .. "bounded, one line says so", function()
        local _, _, gw, c = start("own", nil, SYSERR, 3)
        local want = {}
        for _, r in ipairs(submit_all(c, 20)) do
            assert.equal(ROK, r.status)
            want[r.id] = true
        end
        assert.is_truthy(gw:wait_log("upstream BH: 3 requests in a row answered ESME_RSYSERR: it counts as unable "
            .. "to send", 5), gw:log_text())
        local silent = wire.gettime()
        -- new messages go to U2 at once, the queue moves there after BH's wait
        for _, r in ipairs(submit_all(c, 5)) do
            want[r.id] = true
            local _, body = gw:http("GET", "/messages/" .. r.id)
            assert.equal("U2", cjson.decode(body).upstream)
        end
        local got, left = receipts(c, want, 10)
        assert.equal(0, left, gw:log_text())
        for mid in pairs(want) do assert.equal("DELIVRD", got[mid], mid) end
        local q = gw:stats().gateway.queues.BH
        assert.equal(0, q.queued)
        assert.is_true(q.moved > 0)
        -- its window's worth, then one trial at a time (retry_min 0.1 s apart at least)
        local trials = math.floor((wire.gettime() - silent) / 0.1) + 2
        assert.is_true(q.sent <= 20 + trials, "sent " .. q.sent)
        local u = upstream_stats(gw, "BH")
        assert.is_true(u.unanswered)
        assert.is_true(u.link_errors >= 3)
        -- the state change is one line, not one per message
        local _, lines = gw:log_text():gsub("answered ESME_RSYSERR: it counts", "")
        assert.equal(1, lines)
        c:close()
    end)

    it("with message_id = \"upstream\" and max_errors = 3: new messages go to the next upstream once it counts as "
        .. "unable to send",
        function()
        local _, _, gw, c = start("upstream", nil, SYSERR, 3)
        for _, r in ipairs(submit_all(c, 3)) do assert.equal(RSYSERR, r.status) end
        assert.is_truthy(gw:wait_log("upstream BH: 3 requests in a row answered ESME_RSYSERR", 5), gw:log_text())
        for _, r in ipairs(submit_all(c, 5)) do
            assert.equal(ROK, r.status)
            assert.matches("^%d+$", r.id)
        end
        c:close()
    end)
end)

describe("#integration a slow upstream that answers late", function()
    it("is not marked unanswered: its late answers count as answers, and it gets all its messages", function()
        local _, _, gw, c = start("own", nil, SLOW)
        -- 30 at once: 10 are answered within BH's response_timeout (0.5 s),
        -- the rest after it, together
        local want = {}
        for _, r in ipairs(submit_all(c, 30)) do
            assert.equal(ROK, r.status)
            want[r.id] = true
        end
        -- BH takes every one (it answers, slowly), none moves to U2
        assert.is_true(wait_until(function() return gw:stats().gateway.queues.BH.accepted == 30 end, 20),
            gw:log_text())
        local qs = gw:stats().gateway.queues
        assert.equal(0, qs.BH.queued)
        assert.equal(0, qs.BH.moved)
        assert.equal(0, qs.U2 and qs.U2.sent or 0)
        local u = upstream_stats(gw, "BH")
        assert.is_false(u.unanswered)
        assert.is_nil(gw:log_text():find("requests in a row unanswered", 1, true), gw:log_text())
        assert.is_true(gw:stats().gateway.queues.BH.late_answers > 0)
        c:close()
    end)
end)

describe("#integration a failover route whose first upstream's queue is full", function()
    it("gives the message to the next upstream with room instead of refusing it", function()
        local _, _, gw, c = start("own", 5)
        -- 20 at once, before BH could time out: its queue takes 5
        local want = {}
        for _, r in ipairs(submit_all(c, 20)) do
            assert.equal(ROK, r.status)
            want[r.id] = true
        end
        local q = gw:stats().gateway.queues
        assert.equal(5, q.BH.queued_total)
        assert.equal(15, q.U2.queued_total)
        local _, left = receipts(c, want, 10)
        assert.equal(0, left)
        c:close()
    end)
end)

describe("#integration an upstream that never answers (message_id upstream)", function()
    it("is passed over once max_timeouts requests went unanswered: the ESME stops waiting for it", function()
        local _, _, gw, c = start("upstream")
        -- three messages wait for BH and time out (the ESME is told
        -- ESME_RSYSERR: BH may have them)
        for _, r in ipairs(submit_all(c, 3)) do assert.equal(RSYSERR, r.status) end
        assert.is_truthy(gw:wait_log("upstream BH: 3 requests in a row unanswered", 5), gw:log_text())
        -- then U2 answers at once
        local t0 = wire.gettime()
        for _, r in ipairs(submit_all(c, 5)) do
            assert.equal(ROK, r.status)
            assert.matches("^%d+$", r.id)                  -- the reference SMSC's id, not "late"
        end
        assert.is_true(wire.gettime() - t0 < 0.5, "waited " .. (wire.gettime() - t0) .. " s")
        assert.is_true(upstream_stats(gw, "BH").unanswered)
        c:close()
    end)
end)

describe("#integration an upstream that never answers (cluster.store = true)", function()
    it("counts as unable to send on the Redis store too: its queue moves, it gets one message at a time",
        function()
        local redis, gwr = require "helpers.redis", require "helpers.gwr"
        local r = redis.start()
        local bh = server.start { conf = HOLE_CONF, script = HOLE }
        local b = gwr.upstream(0, { takes_all = true })
        local link = { system_id = "gw", password = "gwpw", window = 10, response_timeout = 0.5, wait = 1,
                       max_timeouts = 3, reconnect_min = 0.1, reconnect_max = 0.2 }
        local function with(name, port)
            local u = { name = name, port = port }
            for k, v in pairs(link) do u[k] = v end
            return u
        end
        local n = gwr.node(r, bh.port, {
            upstreams = { with("BH", bh.port), with("B", b.port) },
            gateway = { retry_min = 0.3, retry_max = 1,
                        routes = { { name = "all", prefix = "", to = { "BH", "B" }, strategy = "failover" } } } })
        assert.is_true(wait_until(function()
            local q = n:stats().gateway.queues
            return q.BH and q.BH.sessions > 0 and q.B and q.B.sessions > 0
        end, 10), "both binds")
        local texts = gwr.texts("to bh ", 20)
        gwr.submit_all(n, texts, 0)
        assert.is_truthy(n:wait_log("upstream BH: 3 requests in a row unanswered", 5), n:log_text())
        assert.is_true(gwr.all_arrived(b, texts, 15), n:log_text())
        local q = n:stats().gateway.queues.BH
        assert.is_true(q.unanswered)
        assert.is_true(q.sent < 20, "sent " .. q.sent)
    end)
end)
