-- gateway_store_spec -- store and forward: the ESME's answer comes once the
-- message is stored; the forwarder then retries a throttling upstream
-- from the queue, ends a message whose validity runs out (EXPIRED receipt,
-- whether its link throttles or is down), refuses one an upstream refuses
-- (REJECTD receipt) or moves it to the next upstream of its route
-- (failover_on); every step is in the message's trace, read by HTTP and by
-- `smppgw messages`; query_sm answers from the store.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"
local prometheus = require "helpers.prometheus"
local tmp = require "helpers.tmp"
local store = require "smpp.store"

local id, RESP = wire.id, wire.RESP
local ROK = 0
local esme = require("helpers.park").esme

-- An upstream that answers ESME_RTHROTTLED to the first `throttle`
-- attempts of each text (all of them when throttle < 0), then accepts it
-- with a decimal id and sends its receipt.
local function throttling(throttle)
    return string.format([[
        local n, seen = 0, {}
        local limit = %d
        return { submit_sm = function(session, pdu)
            seen[pdu.short_message] = (seen[pdu.short_message] or 0) + 1
            if limit < 0 or seen[pdu.short_message] <= limit then return "ESME_RTHROTTLED" end
            n = n + 1
            local mid = tostring(1000 + n)
            require("smpp").post(session.system_id, { esm_class = 4, source_addr = pdu.destination_addr,
                destination_addr = pdu.source_addr, receipted_message_id = mid, message_state = 2,
                short_message = "id:" .. mid .. " sub:001 dlvrd:001 submit date:2501311200 "
                    .. "done date:2501311201 stat:DELIVRD err:000 text:" .. pdu.short_message })
            return 0, { message_id = mid }
        end }]], throttle)
end

local UPSTREAM_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

-- A gateway in front of upstreams { name = port, ... }; route: the routes;
-- over: { A = {...}, B = {...}, gateway = {...} } merged into those sections.
local function gateway(ports, routes, over)
    local ups = {}
    for _, name in ipairs { "A", "B" } do
        if ports[name] then
            ups[#ups + 1] = server.merge({ name = name, port = ports[name], system_id = "gw", password = "gwpw",
                reconnect_min = 0.2, reconnect_max = 0.5, throttle_backoff = 0.1, throttle_retries = 5,
                wait = 0.5 }, over and over[name])
        end
    end
    return server.start { conf = "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        store = over and over.store,
        upstreams = ups,
        gateway = server.merge({ routes = routes or { { name = "all", prefix = "", to = { "A" } } } },
                               over and over.gateway),
    } }
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    return r.status, wire.first_cstr(r.body)
end

-- The next receipt the ESME gets (answered): its fields, stat and err.
local function receipt(c, timeout)
    local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, timeout or 5), "no receipt")
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    d.rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
    d.stat, d.err = d.short_message:match("stat:(%u+) err:(%d+)")
    return d
end

-- GET path -> status, the JSON body decoded.
local function get(gw, path)
    local code, body = gw:http("GET", path)
    return code, cjson.decode(body)
end

local function message(gw, mid)
    local code, m = get(gw, "/messages/" .. mid)
    assert.equal(200, code)
    return m
end

local function events(m)
    local out = {}
    for i, t in ipairs(m.trace) do out[i] = t.event end
    return out
end

-- A port nothing listens on now (an upstream started on it later).
local function closed_port()
    local closed = wire.listen()
    local port = tonumber((select(2, closed:getsockname())))
    closed:close()
    return port
end

-- An upstream on port that logs each submit it takes ("took TEXT (N)",
-- distinct lines: none folded) and answers it with message_id base + N.
local function counting_upstream(port, base)
    return server.start { port = port, conf = UPSTREAM_CONF, script = string.format([[
        local smpp, n = require "smpp", 0
        return { submit_sm = function(session, pdu)
            n = n + 1
            smpp.log("info", "took %%s (%%d)", pdu.short_message, n)
            return 0, { message_id = tostring(%d + n) }
        end }]], base) }
end

describe("#integration store and forward", function()
    it("reads a message's usual life back whole, in order, after a restart too", function()
        local up = server.start { conf = UPSTREAM_CONF, script = throttling(0) }
        local path = tmp.dir() .. "/gw.db"
        local gw = gateway({ A = up.port }, nil, { store = { path = path } })
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { registered_delivery = 1, short_message = "usual" })
        assert.equal(ROK, st)
        assert.equal(mid, receipt(c).rid)
        assert(wait_until(function() return #message(gw, mid).trace == 3 end), "no third line")
        local function check(m)
            local ev = events(m)
            assert.equal(3, #ev)
            assert.matches("^accepted from esme1 %(session %d+%), route 'all', queued for A$", ev[1])
            assert.matches("^sent to A %(session %d+, attempt 1%): accepted as 1001$", ev[2])
            assert.equal("receipt from A: stat:DELIVRD err:000; delivered to esme1", ev[3])
            assert.equal("DELIVRD", m.state)
            assert.equal(1, m.attempts)
        end
        local before = message(gw, mid)
        check(before)
        c:close()
        gw:stop()
        -- the store alone: the same lines, each once, with their times
        local s = assert(store.open { path = path })
        local m = s:get(mid)
        s:close()
        local n = 0
        for _ in m.trace:gmatch("\n") do n = n + 1 end
        assert.equal(3, n)
        assert.matches("^[%d.]+ accepted from esme1 .-\n[%d.]+ sent to A %(session %d+, attempt 1%): accepted as 1001\n"
                       .. "[%d.]+ receipt from A: stat:DELIVRD err:000; delivered to esme1\n$", m.trace)
        gw = gateway({ A = up.port }, nil, { store = { path = path } })
        local after = message(gw, mid)
        check(after)
        for i = 1, 3 do assert.equal(before.trace[i].at, after.trace[i].at) end
    end)

    it("retries a throttling upstream from the queue and says so in the trace", function()
        local up = server.start { conf = UPSTREAM_CONF, script = throttling(2) }
        local gw = gateway { A = up.port }
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { registered_delivery = 1, short_message = "slowly" })
        assert.equal(ROK, st)
        local d = receipt(c)
        assert.equal(mid, d.rid)
        assert.equal("DELIVRD", d.stat)
        local m = message(gw, mid)
        local ev = events(m)
        assert.equal(3, m.attempts)
        assert.equal("DELIVRD", m.state)
        assert.matches("^accepted from esme1 %(session %d+%), route 'all', queued for A$", ev[1])
        assert.matches("^sent to A %(session %d+, attempt 1%): ESME_RTHROTTLED, again in 0%.1 s$", ev[2])
        assert.matches("attempt 2%): ESME_RTHROTTLED", ev[3])
        assert.matches("^sent to A %(session %d+, attempt 3%): accepted as 1001$", ev[4])
        -- handed straight to the ESME's receiver, which took it
        assert.equal("receipt from A: stat:DELIVRD err:000; delivered to esme1", ev[5])
        local q = gw:stats().gateway.queues.A
        assert.equal(2, q.throttled)
        assert.equal(1, q.accepted)
        assert.equal(0, q.queued)
        -- the upstream's own counters see the forwarder's sends too
        local fam = prometheus.parse(select(2, gw:http("GET", "/metrics")))
        local by = {}
        for _, smp in ipairs(fam.smppgw_upstream_messages_total.samples) do
            if smp.labels.upstream == "A" then by[smp.labels.result] = smp.value end
        end
        assert.same({ ok = 1, error = 0, failed = 0, throttled = 2, not_sent = 0 }, by)
    end)

    it("pauses forwarding while the store takes no writes: a message is not sent again at once", function()
        -- the upstream's answer cannot be recorded while another process
        -- holds the store's write lock; the message is then sent again
        -- only after retry_min (doubling), and recorded once the lock goes
        local port = closed_port()
        local gw = gateway({ A = port }, nil, { store = { path = "gw.db", busy_timeout = 0 },
                                                gateway = { retry_min = 0.5, retry_max = 1 } })
        local c = esme(gw)
        local st, mid = submit(c, { short_message = "once" })
        assert.equal(ROK, st)
        local release = run.lock_store(gw.dir .. "/gw.db")
        finally(release)
        local up = counting_upstream(port, 7000)
        assert.truthy(up:wait_log("took once %(3%)", 20), up:log_text())
        release()
        assert.truthy(wait_until(function()
            local _, m = get(gw, "/messages/" .. mid)
            return m and m.state == "ENROUTE" or (m and m.final)
        end, 10), gw:log_text())
        local at = {}
        for h, mi, sec in up:log_text():gmatch("T(%d+):(%d+):([%d.]+)Z info  took once %(") do
            at[#at + 1] = h * 3600 + mi * 60 + sec
        end
        for i = 2, 3 do
            assert.is_true(at[i] - at[i - 1] >= 0.45, "sent again after " .. (at[i] - at[i - 1]) .. " s\n"
                           .. up:log_text() .. gw:log_text())
        end
        assert.matches("forwarding paused", gw:log_text())
        assert.matches("accepted as 70%d%d", table.concat(events(message(gw, mid)), "\n"))
    end)

    it("sends a message whose answers the store cannot record 3 times at most, then once more when it takes writes", function()
        -- with the lock held for long, the pauses (0.1 s doubling to 0.2)
        -- would send it again some 15 times; the bound holds it back
        -- after 3 lost answers (logged), and a write of its own row tries,
        -- once a second, whether the store takes writes again
        local port = closed_port()
        local gw = gateway({ A = port }, nil, { store = { path = "gw.db", busy_timeout = 0 },
                                                gateway = { retry_min = 0.1, retry_max = 0.2 } })
        local c = esme(gw)
        local st, mid = submit(c, { short_message = "bounded" })
        assert.equal(ROK, st)
        local release = run.lock_store(gw.dir .. "/gw.db")
        finally(release)
        local up = counting_upstream(port, 8000)
        -- (the held message named by its id, read from the store)
        assert.truthy(gw:wait_log("message " .. mid .. " reached its upstream 3 times and the store could record "
                                  .. "none", 20), gw:log_text())
        -- the lock stays: the forwarder holds the message back (it passes
        -- it over when it reads its queue again after each pause: twice
        -- after the line) and nothing more goes
        local holds = gw:stats().gateway.unrecorded_holds
        assert.truthy(wait_until(function()
            local g = gw:stats().gateway
            return g.unrecorded_held == 1 and g.unrecorded_holds >= holds + 2
        end, 10), gw:log_text())
        assert.equal(3, up:count_log("took bounded %("), up:log_text())
        release()
        assert.truthy(wait_until(function()
            local _, m = get(gw, "/messages/" .. mid)
            return m and (m.state == "ENROUTE" or m.final)
        end, 10), gw:log_text())
        assert.equal(4, up:count_log("took bounded %("), up:log_text())
        assert.matches("accepted as 8004", table.concat(events(message(gw, mid)), "\n"))
    end)

    it("answers ESME_RMSGQFUL while another process locks the store; its queue counts stay true for max_queue", function()
        local port = closed_port()
        local gw = gateway({ A = port }, nil, { A = { max_queue = 4 }, store = { path = "gw.db", busy_timeout = 0 } })
        local c = esme(gw)
        assert.equal(ROK, (submit(c, {})))
        assert.equal(ROK, (submit(c, {})))
        local release = run.lock_store(gw.dir .. "/gw.db")
        finally(release)
        -- each write fails (another writer holds the lock): not stored, ESME_RMSGQFUL (it passes)
        for _ = 1, 6 do assert.equal(0x14, (submit(c, {})), gw:log_text()) end
        release()
        assert.truthy(wait_until(function() return gw:stats().gateway.queues.A.queued == 2 end, 10),
            "queued " .. tostring(gw:stats().gateway.queues.A.queued) .. " where the store holds 2")
        assert.equal(ROK, (submit(c, {})))
        assert.equal(ROK, (submit(c, {})))
        assert.equal(0x14, (submit(c, {})))                     -- 4 queued: full
    end)

    it("moves the queue of an upstream a reload removed to an upstream of the messages' route", function()
        local port = closed_port()
        local gw = gateway({ A = port })                       -- nothing listens for A: its queue holds them
        local c = esme(gw)
        local ids = {}
        for i = 1, 3 do
            local st, mid = submit(c, { short_message = "kept " .. i, registered_delivery = 1 })
            assert.equal(ROK, st)
            ids[i] = mid
        end
        local up = server.start { conf = UPSTREAM_CONF, script = throttling(0) }
        -- the configuration now names only B (where an SMSC listens), and the route goes there
        local f = assert(io.open(gw.dir .. "/conf.lua", "w"))
        f:write("return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "B", port = up.port, system_id = "gw", password = "gwpw", reconnect_min = 0.2,
                            reconnect_max = 0.5 } },
            gateway = { routes = { { name = "all", prefix = "", to = { "B" } } } },
        })
        f:close()
        gw:signal("HUP")
        assert.truthy(gw:wait_log("upstream A removed with 3 messages queued", 10), gw:log_text())
        local got = {}
        for _ = 1, 3 do
            local r = receipt(c, 10)
            assert.equal("DELIVRD", r.stat)
            got[r.rid] = true
        end
        for _, mid in ipairs(ids) do assert.is_true(got[mid], "the receipt of " .. mid) end
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.queued)
        assert.equal(3, q.A.moved)
        assert.is_false(q.A.configured)
        for _, mid in ipairs(ids) do
            assert.matches("moved to B", table.concat(events(message(gw, mid)), "\n"), 1, true)
        end
    end)

    it("sends again a message the upstream answered ESME_RINVBNDSTS or ESME_RSYSERR, never REJECTED", function()
        -- an unbinding session or an upstream's own failure says nothing
        -- about the message: it goes back to the queue
        local up = server.start { conf = UPSTREAM_CONF, script = [[
            local seen = {}
            return { submit_sm = function(session, pdu)
                local n = (seen[pdu.short_message] or 0) + 1
                seen[pdu.short_message] = n
                if n == 1 then return "ESME_RINVBNDSTS" end
                if n == 2 then return "ESME_RSYSERR" end
                return 0, { message_id = "4242" }
            end }]] }
        local gw = gateway({ A = up.port }, nil, { gateway = { retry_min = 0.1, retry_max = 0.2 } })
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { short_message = "twice refused" })
        assert.equal(ROK, st)
        local m
        assert.truthy(wait_until(function()
            m = message(gw, mid)
            return m.attempts == 3 and m.final
        end, 10), gw:log_text())
        local ev = events(m)
        assert.matches("^sent to A %(session %d+, attempt 1%): ESME_RINVBNDSTS; sent again in 0%.1 s$", ev[2])
        assert.matches("^sent to A %(session %d+, attempt 2%): ESME_RSYSERR; sent again in 0%.2 s$", ev[3])
        assert.matches("^sent to A %(session %d+, attempt 3%): accepted as 4242$", ev[4])
        assert.equal("ENROUTE", m.state)
        assert.equal(0, gw:stats().gateway.queues.A.refused)
    end)

    it("keeps a receipt the ESME refused with ESME_RINVBNDSTS (unbinding) and delivers it again", function()
        local up = server.start { conf = UPSTREAM_CONF, script = throttling(0) }
        local gw = gateway { A = up.port }
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { registered_delivery = 1, short_message = "while unbinding" })
        assert.equal(ROK, st)
        local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 5), "no receipt")
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0", 0x04))     -- ESME_RINVBNDSTS: not a refusal
        local d = receipt(c, 10)                                          -- again, from the outbox
        assert.equal(mid, d.rid)
        assert.equal("DELIVRD", d.stat)
        assert.truthy(wait_until(function()
            return table.concat(events(message(gw, mid)), "\n"):match("delivered to esme1") ~= nil
        end, 5))
        assert.matches("esme1 did not take it %(ESME_RINVBNDSTS%): queued", table.concat(events(message(gw, mid)), "\n"))
    end)

    it("ends a message whose validity runs out while its upstream throttles: EXPIRED receipt", function()
        local up = server.start { conf = UPSTREAM_CONF, script = throttling(-1) }
        local gw = gateway { A = up.port }
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { registered_delivery = 1, validity_period = "000000000001000R",
                                    short_message = "too late" })
        assert.equal(ROK, st)
        local d = receipt(c, 5)
        assert.equal(mid, d.rid)
        assert.equal("EXPIRED", d.stat)
        assert.matches("^id:" .. mid .. " sub:001 dlvrd:000 .* text:too late$", d.short_message)
        assert.equal("1234", d.destination_addr)               -- back to the sender
        local m = message(gw, mid)
        assert.equal("EXPIRED", m.state)
        assert.is_true(m.final)
        assert.matches("^expired: its validity ended before A took it$", events(m)[#events(m) - 1] or "")
    end)

    it("ends a message whose validity runs out while its upstream is down", function()
        local port = closed_port()
        local gw = gateway { A = port }
        local c = esme(gw)
        local st, mid = submit(c, { registered_delivery = 1, validity_period = "000000000001000R" })
        assert.equal(ROK, st)
        local d = receipt(c, 8)
        assert.equal(mid, d.rid)
        assert.equal("EXPIRED", d.stat)
        assert.matches("could not send", events(message(gw, mid))[2])
        assert.equal(1, gw:stats().gateway.queues.A.expired)
    end)

    it("bounds an upstream's queue (max_queue): ESME_RMSGQFUL past it, the level in /stats and /metrics", function()
        local port = closed_port()
        local gw = gateway({ A = port }, nil, { A = { max_queue = 2 } })
        local c = esme(gw)
        assert.equal(ROK, (submit(c, {})))
        assert.equal(ROK, (submit(c, {})))
        assert.equal(0x14, (submit(c, {})))                     -- ESME_RMSGQFUL: the queue is full
        local q = gw:stats().gateway.queues.A
        assert.equal(2, q.queued)
        assert.equal(2, q.max_queue)
        local fam = prometheus.parse(select(2, gw:http("GET", "/metrics")))
        assert.equal(2, fam.smppgw_gateway_queue.samples[1].value)
        assert.equal(2, fam.smppgw_gateway_queue_limit.samples[1].value)
        assert.equal("A", fam.smppgw_gateway_queue.samples[1].labels.upstream)
    end)

    it("issues its ids in the format asked: the store's node id in a fixed width, then a counter", function()
        local port = closed_port()
        local shapes = { hex = "^%x%x%x%x%x%x%x%x0000000[12]$", decimal = "^%d%d%d%d%d%d%d%d%d%d000000000[12]$",
                         uuid = "^%x%x%x%x%x%x%x%x%-0000%-4000%-8000%-00000000000[12]$" }
        for fmt, shape in pairs(shapes) do
            local gw = gateway({ A = port }, nil, { gateway = { own_id_format = fmt } })
            local c = esme(gw)
            local st1, id1 = submit(c, {})
            local st2, id2 = submit(c, {})
            assert.equal(ROK, st1)
            assert.equal(ROK, st2)
            assert.matches(shape, id1, fmt)
            assert.matches(shape, id2, fmt)
            assert.not_equal(id1, id2)
            assert.equal(id1:sub(1, 8), id2:sub(1, 8))          -- the same node
        end
    end)

    it("gives the ESME a REJECTD receipt when the upstream refuses the message", function()
        local up = server.start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } } } }
        local gw = gateway { A = up.port }
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { destination_addr = "000123", registered_delivery = 1 })   -- refused there
        assert.equal(ROK, st)
        local d = receipt(c)
        assert.equal(mid, d.rid)
        assert.equal("REJECTD", d.stat)
        assert.equal("011", d.err)                              -- ESME_RINVDSTADR
        local m = message(gw, mid)
        assert.equal("REJECTD", m.state)
        assert.equal(11, m.error)
        assert.equal(1, m.attempts)                              -- the sending the refusal answered
        assert.matches("^sent to A %(session %d+, attempt 1%): ESME_RINVDSTADR; REJECTED$", events(m)[2])
    end)

    it("moves a message the upstream refuses with a failover_on status to the next upstream", function()
        local acct = { accounts = { { system_id = "gw", password = "gwpw" } } }
        local a = server.start { conf = server.smsc_conf(acct) }
        local b = server.start { conf = server.smsc_conf(server.merge(acct, { smsc = { reject = {}, message_id = "hex" } })) }
        local gw = gateway({ A = a.port, B = b.port },
            { { name = "both", prefix = "", to = { "A", "B" }, failover_on = { "ESME_RINVDSTADR" } } })
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        assert(gw:wait_log("upstream B: bind 1 up", 5))
        local c = esme(gw)
        local st, mid = submit(c, { destination_addr = "000123", registered_delivery = 1 })
        assert.equal(ROK, st)
        local d = receipt(c)
        assert.equal(mid, d.rid)
        assert.equal("DELIVRD", d.stat)
        local m = message(gw, mid)
        assert.equal("B", m.upstream)
        assert.matches("^sent to A %(session %d+, attempt 1%): ESME_RINVDSTADR; moved to B$", events(m)[2])
        assert.matches("^sent to B %(session %d+, attempt 2%): accepted", events(m)[3])
        assert.equal(2, m.attempts)                              -- A's and B's
        assert.is_nil(m.error)                                   -- B accepted it: no error left from A's refusal
        assert.equal(1, gw:stats().gateway.queues.A.moved)
    end)
end)

describe("#integration message_id = \"upstream\"", function()
    it("passes the upstream's id through, stores the message under it, even when two upstreams reuse it", function()
        local a = server.start { conf = UPSTREAM_CONF, script = throttling(0) }
        local b = server.start { conf = UPSTREAM_CONF, script = throttling(0) }
        local gw = gateway({ A = a.port, B = b.port },
            { { name = "both", prefix = "", to = { "A", "B" }, strategy = "round_robin" } },
            { gateway = { message_id = "upstream" } })
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        assert(gw:wait_log("upstream B: bind 1 up", 5))
        local c = esme(gw)
        -- both sent before any answer is read: a receipt may come before
        -- the other message's answer (the ESME waits for the upstream)
        local seqs = {}
        for _, text in ipairs { "first", "second" } do
            local seq = c:next_seq()
            seqs[seq] = text
            c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
        end
        local ids, texts, answered, receipts = {}, {}, 0, 0
        while answered < 2 or receipts < 2 do
            local p = assert(c:read(5))
            if p.id == RESP + id.submit_sm then
                assert.equal(ROK, p.status)
                ids[seqs[p.seq]] = wire.first_cstr(p.body)
                answered = answered + 1
            elseif p.id == id.deliver_sm then
                c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                assert.equal("1001\0", d.tlvs[0x001E])
                texts[d.short_message:match("text:(.*)$")] = true   -- each receipt reached its own message
                receipts = receipts + 1
            end
        end
        assert.same({ first = "1001", second = "1001" }, ids)  -- each upstream's first id: the same one
        assert.same({ first = true, second = true }, texts)
        local m = message(gw, "1001")
        assert.equal(2, #m.parts)
        local ups = { m.parts[1].upstream, m.parts[2].upstream }
        table.sort(ups)
        assert.same({ "A", "B" }, ups)
        for _, p in ipairs(m.parts) do assert.equal("DELIVRD", p.state) end
    end)
end)

describe("#integration the trace", function()
    local up, gw, c, ids
    setup(function()
        up = server.start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } } } }
        gw = gateway { A = up.port }
        assert(gw:wait_log("upstream A: bind 1 up", 5))
        c = esme(gw)
        ids = {}
        for i = 1, 3 do
            local st, mid = submit(c, { registered_delivery = 1, destination_addr = i == 3 and "999000" or "447700900123" })
            assert.equal(ROK, st)
            ids[i] = mid
        end
        for _ = 1, 3 do receipt(c) end                          -- 999... ends UNDELIV at the SMSC
        assert(wait_until(function() return message(gw, ids[3]).final end), "no final state for " .. ids[3])
    end)

    it("lists an account's messages by state and time over HTTP", function()
        local code, r = get(gw, "/messages?account=esme1")
        assert.equal(200, code)
        assert.equal(3, r.count)
        assert.equal(ids[1], r.messages[1].message_id)
        assert.is_nil(r.messages[1].trace)                      -- lists are brief
        code, r = get(gw, "/messages?account=esme1&state=UNDELIV&since=1h")
        assert.equal(1, r.count)
        assert.equal(ids[3], r.messages[1].message_id)
        code, r = get(gw, "/messages?account=esme1&until=1")
        assert.equal(0, r.count)
        for _, q in ipairs { "", "?account=esme1&state=NOPE", "?account=esme1&since=yesterday", "?account=x&limit=0" } do
            code, r = get(gw, "/messages" .. q)
            assert.equal(400, code, q)
            assert.is_string(r.error)
        end
        assert.equal(404, (gw:http("GET", "/messages/nosuchid")))
    end)

    it("shows a message and lists them with smppgw messages", function()
        local conf = gw.dir .. "/conf.lua"
        local out, err, rc = run.smppgw { "messages", conf, ids[1] }
        assert.equal(0, rc, err)
        assert.matches("^message " .. ids[1] .. ": DELIVRD %(final%)\n", out)
        assert.matches("\n  [%d%-]+T[%d:.]+Z  accepted from esme1 %(session %d+%), route 'all', queued for A\n", out)
        assert.matches("\n  [%d%-]+T[%d:.]+Z  receipt from A: stat:DELIVRD err:000; delivered to esme1\n", out)
        out, err, rc = run.smppgw { "messages", conf, "--account", "esme1", "--state", "DELIVERED", "--since", "10m" }
        assert.equal(0, rc, err)
        assert.matches("\n2 messages\n$", "\n" .. out)
        out, err, rc = run.smppgw { "messages", conf, ids[3], "--json" }
        assert.equal(0, rc, err)
        assert.equal("UNDELIV", cjson.decode(out).state)
        out, err, rc = run.smppgw { "messages", conf, "nosuchid" }
        assert.equal(1, rc)
        assert.matches("no message nosuchid", err)
        out, err, rc = run.smppgw { "messages", conf }
        assert.equal(2, rc)
        assert.matches("give a message ID, or %-%-account", err)
        out, err, rc = run.smppgw { "messages", conf, "--account", "esme1", "--since", "soon" }
        assert.equal(2, rc)
        assert.matches("since: not a time", err)
    end)

    it("answers query_sm from the store, for the account's own messages", function()
        local seq = c:next_seq()
        c:send(wire.pdu(id.query_sm, seq, wire.cstr(ids[1]) .. wire.u8(0) .. wire.u8(0) .. wire.cstr("1234")))
        local r = assert(c:expect(function(p) return p.seq == seq end, 5))
        assert.equal(ROK, r.status)
        local q = wire.parse_query_resp(r.body)
        assert.equal(ids[1], q.message_id)
        assert.equal(2, q.message_state)                        -- DELIVERED
        assert.equal(16, #q.final_date)
        seq = c:next_seq()
        c:send(wire.pdu(id.query_sm, seq, wire.cstr("nosuchid") .. wire.u8(0) .. wire.u8(0) .. wire.cstr("")))
        r = assert(c:expect(function(p) return p.seq == seq end, 5))
        assert.equal(0x67, r.status)                            -- ESME_RQUERYFAIL
        -- a source_addr that is not the message's: not its originator
        seq = c:next_seq()
        c:send(wire.pdu(id.query_sm, seq, wire.cstr(ids[1]) .. wire.u8(0) .. wire.u8(0) .. wire.cstr("999999")))
        r = assert(c:expect(function(p) return p.seq == seq end, 5))
        assert.equal(0x67, r.status)
    end)
end)
