-- gateway_memory_spec -- forwarding from memory: a message stored while its
-- upstream's queue holds nothing else waiting is sent after the commit
-- from the octets the gateway stored, not read back from the queue; its
-- row stays in the queue until the upstream's answer is written, so a
-- SIGKILL between the sending and the answer sends it again after the
-- restart, and its receipt reaches the ESME once, under the id it was
-- given. The upstream here is the spec itself (it answers when told to).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local ROK = 0
local park = require "helpers.park"
local accept_bind, esme = park.accept_bind, park.esme

local function gateway_conf(port, throughput, validity, script)
    return "return " .. server.lua {
        script = script or server.root .. "/scripts/gateway.lua",
        store = { path = "gw.db" },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", binds = 1,
                        reconnect_min = 0.1, reconnect_max = 0.2, throughput = throughput } },
        gateway = { routes = { { name = "all", prefix = "", to = { "U" } } }, validity = validity },
    }
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(ROK, r.status)
    return wire.first_cstr(r.body)
end

-- The next submit_sm the upstream gets: its sequence number and text.
local function upstream_gets(up)
    local p = assert(up:expect(function(q) return q.id == id.submit_sm end, 5), "nothing forwarded")
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
    local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 5), "no receipt")
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    return (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message
end

describe("#integration gateway forwarding from memory", function()
    it("sends a stored message from memory; killed before the answer, sends it again after the restart", function()
        local l, port = wire.listen()
        l:settimeout(5)
        local gw = server.start { conf = gateway_conf(port) }
        local gw_port, gw_dir = gw.port, gw.dir
        local up = accept_bind(l)
        assert(gw:wait_log("upstream U: bind 1 up", 5))
        local e = esme(gw)

        -- the first: sent from memory, answered, its receipt relayed
        local mid1 = submit(e, "first")
        local seq, text = upstream_gets(up)
        assert.equal("first", text)
        accept(up, seq, "U1", "first")
        local rid, rtext = receipt(e)
        assert.equal(mid1, rid)
        assert.matches("^id:" .. mid1 .. " .*stat:DELIVRD.*text:first$", rtext)
        local q = gw:stats().gateway.queues.U
        assert.equal(1, q.sent)
        assert.equal(1, q.sent_from_memory)
        assert.equal(0, q.held)                          -- sent: nothing held any more

        -- the second: sent from memory, and the gateway dies before the answer
        local mid2 = submit(e, "second")
        seq, text = upstream_gets(up)
        assert.equal("second", text)
        assert(wait_until(function()
            local u = gw:stats().gateway.queues.U
            return u.sent_from_memory == 2 and u.inflight == 1
        end, 5), "not in flight from memory")
        gw:signal("KILL")
        assert(wait_until(function() return not gw:alive() end, 5), "still alive after SIGKILL")
        up:close()
        e:close()

        -- restarted on its store: its queue still holds the second (read
        -- back, not from memory), which is sent again; the upstream takes it
        -- now, and the receipt comes once under the gateway's id
        gw = server.start { conf_file = gw_dir .. "/conf.lua", port = gw_port }
        up = accept_bind(l)
        seq, text = upstream_gets(up)
        assert.equal("second", text)
        accept(up, seq, "U2", "second")
        e = esme(gw)
        rid, rtext = receipt(e)
        assert.equal(mid2, rid)
        assert.matches("text:second$", rtext)
        assert(wait_until(function()
            local u = gw:stats().gateway.queues.U
            return u.receipts == 1 and u.queued == 0
        end, 5), "the receipt's state not written")
        q = gw:stats().gateway.queues.U
        assert.equal(1, q.sent)                          -- once after the restart
        assert.equal(0, q.sent_from_memory)              -- from the queue, which held it
        assert.equal(1, q.accepted)
        local code, body = gw:http("GET", "/messages/" .. mid2)
        assert.equal(200, code)
        local m = cjson.decode(body)
        assert.equal("DELIVRD", m.state)
        local sent, delivered = 0, 0
        for _, t in ipairs(m.trace) do
            if t.event:match("^sent to U ") then sent = sent + 1 end
            if t.event:match("delivered to esme1$") then delivered = delivered + 1 end
        end
        assert.equal(1, sent)                            -- the answer written once: after the restart
        assert.equal(1, delivered)
        e:close()
        up:close()
        assert.is_true(gw:stop("TERM", 10))
    end)

    it("ends what it holds when its validity passes before the link may send it: EXPIRED, each once", function()
        local l, port = wire.listen()
        l:settimeout(5)
        local gw = server.start { conf = gateway_conf(port, 2, 1) }      -- 2 a second; valid for 1 s
        local up = accept_bind(l)
        assert(gw:wait_log("upstream U: bind 1 up", 5))
        local e = esme(gw)
        local ids = {}
        for i = 1, 20 do ids[submit(e, "held " .. i)] = true end       -- held in memory, waiting for the throughput
        assert(wait_until(function()
            local u = gw:stats().gateway.queues.U
            return u.sent + u.expired == 20
        end, 10), "every message sent or expired")
        assert.is_true(gw:alive(), gw:log_text():sub(-3000))
        local u = gw:stats().gateway.queues.U
        assert.is_true(u.expired >= 10, "expired " .. u.expired)
        assert.equal(0, u.held)
        local seen = {}
        for _ = 1, u.expired do
            local rid, rtext = receipt(e)
            assert.is_true(ids[rid] and not seen[rid], "a receipt for " .. rid)
            seen[rid] = true
            assert.matches("stat:EXPIRED", rtext)
        end
        e:close()
        up:close()
        assert.is_true(gw:stop("TERM", 10))
    end)

    it("does not forward a message whose handler failed after storing it: ESME_RSYSERR, ended, not sent", function()
        local l, port = wire.listen()
        l:settimeout(5)
        local dir = require("helpers.tmp").dir()
        local script = dir .. "/gw.lua"
        local f = assert(io.open(script, "w"))
        f:write([[
local gw = require("smpp.gateway_script").new(...)
local submit = gw.handlers.submit_sm
gw.handlers.submit_sm = function(session, pdu)
    local status, resp = submit(session, pdu)
    if pdu.short_message == "fails after" then error("a mistake after the message was stored") end
    if pdu.short_message == "bad answer" then return status, { message_id = 12 } end     -- not a string
    return status, resp
end
return gw.handlers
]])
        f:close()
        local gw = server.start { conf = gateway_conf(port, nil, nil, script) }
        local up = accept_bind(l)
        assert(gw:wait_log("upstream U: bind 1 up", 5))
        local e = esme(gw)
        local seq = e:next_seq()
        e:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = "fails after" }))
        local r = assert(e:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
        assert.equal(0x08, r.status)                                    -- ESME_RSYSERR
        seq = e:next_seq()
        e:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = "bad answer" }))
        r = assert(e:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
        assert.equal(0x08, r.status)                                    -- the response did not check
        submit(e, "fine")
        local _, text = upstream_gets(up)
        assert.equal("fine", text)                                      -- the first and only one sent
        local q = gw:stats().gateway.queues.U
        assert.equal(2, q.refused)
        assert.equal(1, q.sent)
        local list = cjson.decode((select(2, gw:http("GET", "/messages?account=esme1&state=REJECTD"))))
        assert.equal(2, list.count)
        local m = cjson.decode((select(2, gw:http("GET", "/messages/" .. list.messages[1].message_id))))
        assert.equal(8, m.error)
        assert.matches("the handler failed after storing it (answered ESME_RSYSERR): not forwarded",
            m.trace[#m.trace].event, 1, true)
        e:close()
        up:close()
        assert.is_true(gw:stop("TERM", 10))
    end)
end)
