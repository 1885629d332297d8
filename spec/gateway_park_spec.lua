-- gateway_park_spec -- a handler that stores its message (core.gw_queue)
-- and then waits (here: until the spec submits "go") has its message
-- parked, not forwarded, until it ends: failing then (a script error, a
-- response table that does not check) ends the message REJECTED as in the
-- same turn; answering ESME_ROK puts it back in its queue (forwarded once,
-- its receipt under the id); its validity ending while it is parked
-- changes nothing until the handler ends (then: EXPIRED with a receipt if
-- the ESME was answered ESME_ROK, early or at the end; REJECTED without
-- one if it was answered ESME_RSYSERR);
-- a SIGKILL while it is parked leaves it to be forwarded after the restart;
-- a store locked by another process when the handler ends delays it
-- until the lock goes.
-- The upstream is the spec itself (it answers when told to).
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local park = require "helpers.park"
local accept_bind, send, answer, go, queue, parked = park.accept_bind, park.send, park.answer, park.go,
    park.queue, park.parked
local esme = park.esme
local ROK, RSYSERR, RINVDSTADR = 0, 0x08, 0x0B

-- The gateway's script: a text starting "wait" is stored, then its
-- handler waits until a "go" arrives (stored nothing, answered
-- ESME_RINVDSTADR) and ends as its text says.
local SCRIPT = [[
local smpp = require "smpp"
local gw = require("smpp.gateway_script").new(...)
local submit = gw.handlers.submit_sm
local go = 0
gw.handlers.submit_sm = function(session, pdu)
    local text = pdu.short_message
    if text == "go" then
        go = go + 1
        return "ESME_RINVDSTADR"
    end
    if text == "refuse then store" or text == "refuse, wait, then store" then
        smpp.respond("ESME_RINVDSTADR")               -- the ESME is told an error first
        if text ~= "refuse then store" then smpp.sleep(0.01) end
        local status = submit(session, pdu)
        smpp.log("info", "%s: stored after refusing? %s", text, tostring(status))
        return
    end
    local seen = go
    local status, resp = submit(session, pdu)
    if text:sub(1, 4) ~= "wait" then return status, resp end
    if text == "wait a while" then          -- (a reload's script has a go of its own)
        smpp.sleep(WHILE)
        return status, resp
    end
    local early = text:sub(1, 12) == "wait respond"
    if early then smpp.respond(status, resp) end     -- answered before the wait
    while go == seen do smpp.sleep(0.01) end
    if text == "wait then fail" or text == "wait respond then fail" then error("a mistake after waiting") end
    if text == "wait then bad answer" then return status, { message_id = 12 } end    -- not a string
    if early then return end
    return status, resp
end
return gw.handlers
]]

local function gateway_conf(port, dir, validity)
    local f = assert(io.open(dir .. "/gw.lua", "w"))
    f:write((SCRIPT:gsub("WHILE", tostring(require("helpers.wait").scaled(3)))))
    f:close()
    return "return " .. server.lua {
        script = dir .. "/gw.lua",
        store = { path = "gw.db", busy_timeout = 0 },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", binds = 1,
                        reconnect_min = 0.1, reconnect_max = 0.2 } },
        gateway = { routes = { { name = "all", prefix = "", to = { "U" } } }, validity = validity },
    }
end

-- The next submit_sm the upstream gets: its sequence number and text.
local function upstream_gets(up)
    local p = assert(up:expect(function(q) return q.id == id.submit_sm end, 10), "nothing forwarded")
    return p.seq, wire.parse_sm(p.body).short_message
end

-- The upstream accepts request seq as uid and sends its receipt.
local function accept(up, seq, uid, text)
    up:send(wire.pdu(RESP + id.submit_sm, seq, wire.cstr(uid)))
    up:send(wire.submit_sm(up:next_seq(), { esm_class = 4, short_message = "id:" .. uid
        .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:DELIVRD err:000 text:" .. text,
        tlvs = wire.tlv(0x001E, uid .. "\0") .. wire.tlv(0x0427, "\2") }, id.deliver_sm))
end

local function receipt(c)
    local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 10), "no receipt")
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    return (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message
end

local function message(gw, mid)
    local code, body = gw:http("GET", "/messages/" .. mid)
    assert.equal(200, code)
    return cjson.decode(body)
end

-- The message the list of esme1's messages holds (one).
local function only(gw)
    local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1"))))
    assert.equal(1, list.count)
    return message(gw, list.messages[1].message_id)
end

local function start(dir, validity)
    local l, port = wire.listen()
    l:settimeout(5)
    local gw = server.start { conf = gateway_conf(port, dir, validity) }
    local up = accept_bind(l)
    assert(gw:wait_log("upstream U: bind 1 up", 5))
    return gw, up, esme(gw), l
end

-- A gateway (its messages valid for `validity` seconds, if given) with
-- its upstream and an ESME bound: fn(gw, up, e); everything closed and
-- stopped after it, whether it failed or not.
local function with_gateway(validity, fn)
    local gw, up, e = start(require("helpers.tmp").dir(), validity)
    local ok, err = pcall(fn, gw, up, e)
    e:close()
    up:close()
    assert.is_true(gw:stop("TERM", 10))
    assert(ok, err)
end

describe("#integration gateway parked messages", function()
    it("does not forward the message of a handler that fails after waiting: ESME_RSYSERR, REJECTED", function()
        with_gateway(nil, function(gw, up, e)
            local seq = send(e, "wait then fail")
            parked(gw, 1)
            local q = queue(gw)
            assert.equal(0, q.queued)                    -- parked rows are not in the queue's count
            assert.equal(0, q.sent)
            go(e)
            assert.equal(RSYSERR, (answer(e, seq)))
            parked(gw, 0)
            seq = send(e, "wait then bad answer")         -- the same, for an answer that does not check
            parked(gw, 1)
            go(e)
            assert.equal(RSYSERR, (answer(e, seq)))
            parked(gw, 0)
            assert.equal(ROK, (answer(e, send(e, "fine"))))
            local _, text = upstream_gets(up)
            assert.equal("fine", text)                    -- the first and only one sent
            q = queue(gw)
            assert.equal(2, q.refused)
            assert.equal(1, q.sent)
            assert.equal(1, q.queued)                     -- "fine", in flight
            local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1&state=REJECTD"))))
            assert.equal(2, list.count)
            for _, m in ipairs(list.messages) do
                local full = message(gw, m.message_id)
                assert.equal(8, full.error)
                assert.matches("the handler failed after storing it (answered ESME_RSYSERR): not forwarded",
                    full.trace[#full.trace].event, 1, true)
            end
        end)
    end)

    it("stores nothing for a request smpp.respond answered with an error, then or after a wait", function()
        with_gateway(nil, function(gw, up, e)
            assert.equal(RINVDSTADR, (answer(e, send(e, "refuse then store"))))
            assert.equal(RINVDSTADR, (answer(e, send(e, "refuse, wait, then store"))))
            assert(gw:wait_log("refuse, wait, then store: stored after refusing%? "), gw:log_text())
            assert.equal(ROK, (answer(e, send(e, "fine"))))
            local _, text = upstream_gets(up)
            assert.equal("fine", text)                    -- the first and only one sent
            assert.equal(1, queue(gw).sent)
            local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1"))))
            assert.equal(1, list.count)                   -- "fine" alone was stored
        end)
    end)

    it("reads a queue again when the store holds rows its count had lost", function()
        with_gateway(nil, function(gw, up, e)
            assert.equal(ROK, (answer(e, send(e, "fine"))))
            local useq, text = upstream_gets(up)
            assert.equal("fine", text)
            accept(up, useq, "U-1", "fine")
            receipt(e)
            assert(wait_until(function() local q = queue(gw) return q.queued == 0 and q.inflight == 0 end, 10))
            -- the row back in its queue behind the count's back, as a
            -- disk-full episode with parked runs once left rows
            local rc = os.execute("sqlite3 -cmd '.timeout 5000' " .. run.quote(gw.dir .. "/gw.db")
                .. " \"UPDATE fwd SET due = strftime('%s', 'now')\"")
            assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
            assert(gw:wait_log("the queue of U holds messages its count had lost: read again from the store", 15),
                gw:log_text())
            local _, again = upstream_gets(up)
            assert.equal("fine", again)
        end)
    end)

    it("forwards the message of a handler that answers ESME_ROK after waiting, once, its receipt under the id", function()
        with_gateway(nil, function(gw, up, e)
            local seq = send(e, "wait then ok")
            parked(gw, 1)
            assert.equal(0, queue(gw).sent)
            go(e)
            local status, mid = answer(e, seq)
            assert.equal(ROK, status)
            local useq, text = upstream_gets(up)
            assert.equal("wait then ok", text)
            accept(up, useq, "U1", text)
            local rid, rtext = receipt(e)
            assert.equal(mid, rid)
            assert.matches("stat:DELIVRD.*text:wait then ok$", rtext)
            assert(wait_until(function()
                local q = queue(gw)
                return q.receipts == 1 and q.queued == 0 and q.parked == 0
            end, 10), "the receipt's state not written")
            local q = queue(gw)
            assert.equal(1, q.sent)
            assert.equal(1, q.accepted)
            assert.equal("DELIVRD", message(gw, mid).state)
        end)
    end)

    -- Wait until the validity of message m (GET /messages) ended half a
    -- second ago: the forwarder's tick (every 100 ms) has passed since,
    -- and a parked message must still be parked.
    local function validity_ended(m)
        assert.is_number(m.expires)
        assert(wait_until(function() return wire.gettime() > m.expires + 0.5 end, 10))
    end

    it("keeps a parked message whose validity ends until its handler ends, which answered early: EXPIRED, its receipt",
    function()
        with_gateway(1, function(gw, up, e)                  -- valid for 1 s
            for n, text in ipairs { "wait respond then ok", "wait respond then fail" } do
                local status, mid = answer(e, send(e, text))
                assert.equal(ROK, status)                 -- answered before the wait
                parked(gw, 1)
                validity_ended(message(gw, mid))
                local q = queue(gw)
                assert.equal(1, q.parked)                 -- still parked: its fate is its run's
                assert.equal(n - 1, q.expired)
                go(e)
                local rid, rtext = receipt(e)
                assert.equal(mid, rid)
                assert.matches("stat:EXPIRED", rtext)
                assert.equal("EXPIRED", message(gw, mid).state)
                parked(gw, 0)
                assert.equal(n, queue(gw).expired)
            end
            assert.equal(ROK, (answer(e, send(e, "after"))))
            local _, text = upstream_gets(up)
            assert.equal("after", text)                   -- the expired ones never went
            local q = queue(gw)
            assert.equal(1, q.sent)
            assert.equal(0, q.refused)
        end)
    end)

    it("answers ESME_ROK and then sends an EXPIRED receipt when the handler ends well after the validity", function()
        with_gateway(1, function(gw, up, e)                  -- valid for 1 s
            local seq = send(e, "wait then ok")
            parked(gw, 1)
            validity_ended(only(gw))
            assert.equal(1, queue(gw).parked)
            go(e)
            local status, mid = answer(e, seq)
            assert.equal(ROK, status)
            local rid, rtext = receipt(e)
            assert.equal(mid, rid)
            assert.matches("stat:EXPIRED", rtext)
            assert.equal("EXPIRED", message(gw, mid).state)
            assert.equal(ROK, (answer(e, send(e, "after"))))
            local _, text = upstream_gets(up)
            assert.equal("after", text)                   -- the expired one never went
            local q = queue(gw)
            assert.equal(1, q.sent)
            assert.equal(1, q.expired)
            assert.equal(0, q.parked)
        end)
    end)

    it("ends REJECTED, without a receipt, a message whose handler fails after its validity: ESME_RSYSERR", function()
        with_gateway(1, function(gw, up, e)                  -- valid for 1 s
            local seq = send(e, "wait then fail")
            parked(gw, 1)
            local m = only(gw)
            validity_ended(m)
            go(e)
            assert.equal(RSYSERR, (answer(e, seq)))
            parked(gw, 0)
            m = message(gw, m.message_id)
            assert.equal("REJECTD", m.state)
            assert.matches("the handler failed after storing it", m.trace[#m.trace].event, 1, true)
            local status, mid = answer(e, send(e, "after"))
            assert.equal(ROK, status)
            local useq, text = upstream_gets(up)
            assert.equal("after", text)                   -- the failed one never went
            accept(up, useq, "U1", text)
            local rid, rtext = receipt(e)                 -- the first receipt is the one after's
            assert.equal(mid, rid)
            assert.matches("stat:DELIVRD.*text:after$", rtext)
            local q = queue(gw)
            assert.equal(1, q.refused)
            assert.equal(0, q.expired)
        end)
    end)

    it("keeps a message parked across a reload and forwards it when its handler ends", function()
        with_gateway(nil, function(gw, up, e)
            local seq = send(e, "wait a while")
            parked(gw, 1)
            gw:signal("HUP")
            assert.is_true(gw:wait_log("reloaded", 5))
            assert.equal(1, queue(gw).parked)
            local status, mid = answer(e, seq)
            assert.equal(ROK, status)
            local useq, text = upstream_gets(up)
            assert.equal("wait a while", text)
            accept(up, useq, "U2", text)
            local rid = receipt(e)
            assert.equal(mid, rid)
            local q = queue(gw)
            assert.equal(0, q.parked)
            assert.equal(1, q.sent)
        end)
    end)

    it("puts a parked message back in its queue once a store locked when its handler ended takes writes", function()
        local dir = require("helpers.tmp").dir()
        local gw, up, e = start(dir)
        local release
        local ok, err = pcall(function()
            local seq = send(e, "wait then ok")
            parked(gw, 1)
            release = run.lock_store(gw.dir .. "/gw.db")
            go(e)
            local status, mid = answer(e, seq)
            assert.equal(ROK, status)                    -- stored before: it was parked in the store
            assert(gw:wait_log("a parked message of U not put back in its queue", 5))
            local q = queue(gw)
            assert.equal(1, q.parked)                     -- parked still, counted once
            assert.equal(0, q.queued)
            assert.equal(0, q.sent)
            release()
            local useq, text = upstream_gets(up)
            assert.equal("wait then ok", text)
            accept(up, useq, "U3", text)
            assert.equal(mid, (receipt(e)))
            assert(wait_until(function()
                local q2 = queue(gw)
                return q2.parked == 0 and q2.queued == 0 and q2.sent == 1
            end, 10), "not counted right")
        end)
        if release then release() end
        e:close()
        up:close()
        assert.is_true(gw:stop("TERM", 10))
        assert(ok, err)
    end)

    it("forwards a message parked when the gateway was killed, after the restart, counted once", function()
        local dir = require("helpers.tmp").dir()
        local gw, up, e, l = start(dir)
        local gw_port, gw_dir = gw.port, gw.dir
        local ok, err = pcall(function()
            send(e, "wait crash")
            parked(gw, 1)
            gw:signal("KILL")
            assert(wait_until(function() return not gw:alive() end, 5), "still alive after SIGKILL")
            up:close()
            e:close()
            gw = server.start { conf_file = gw_dir .. "/conf.lua", port = gw_port }
            up = accept_bind(l)
            local useq, text = upstream_gets(up)
            assert.equal("wait crash", text)             -- its handler is gone: forwarded (at least once)
            assert.is_true(gw:wait_log("1 messages of U stored by handlers that had not ended", 5))
            local m, lines = only(gw), {}
            for _, t in ipairs(m.trace) do lines[#lines + 1] = t.event end
            assert.matches("its handler had not ended when the gateway stopped: queued again at start",
                table.concat(lines, "\n"), 1, true)
            local q = queue(gw)
            assert.equal(1, q.queued)                     -- in flight, counted once
            assert.equal(0, q.parked)
            accept(up, useq, "U9", text)
            assert(wait_until(function() return queue(gw).queued == 0 end, 10), "its answer not written")
            assert.equal(1, queue(gw).sent)
        end)
        if up then up:close() end
        assert.is_true(gw:stop("TERM", 10))
        assert(ok, err)
    end)
end)
