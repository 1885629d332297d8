-- gateway_spec -- two (or three) smppgw processes on loopback: reference
-- SMSCs as upstreams, one gateway in front, ESME clients speaking hand-built
-- PDUs to the gateway. Every server is stopped when the describe or test
-- that started it ends, the gateway first (helpers.cleanup).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK, RINVDSTADR, RSYSERR = 0, 0x0B, 0x08
local CWD = server.root

-- A reference SMSC for upstream duty: ids in `idfmt` tell who answered.
local function smsc_conf(idfmt, extra)
    return string.format([[return { script = '%s/scripts/smsc.lua',
        log = { level = 'info' },
        accounts = { { system_id = 'gw', password = 'gwpw' }, { system_id = 'slow', password = 'pw', throughput = 1, burst = 1 } },
        smsc = { message_id = '%s', receipt_delay = 0.1, echo = 'keyword' %s } }]], CWD, idfmt, extra or "")
end

local function gateway_conf(a_port, b_port, extra_routes, extra)
    return string.format([[return { script = '%s/scripts/gateway.lua',
        log = { level = 'info' },
        accounts = { { system_id = 'esme1', password = 'pw1' }, { system_id = 'esme2', password = 'pw2' } },
        upstreams = {
            { name = 'A', port = %d, system_id = 'gw', password = 'gwpw', reconnect_min = 0.2, reconnect_max = 0.5, wait = 0.3 },
            { name = 'B', port = %d, system_id = 'gw', password = 'gwpw', reconnect_min = 0.2, reconnect_max = 0.5, wait = 0.3 },
            %s
        },
        gateway = {
            message_id = 'own',
            routes = {
                { name = 'uk', prefix = '44', to = { 'A' } },
                { name = 'fr', prefix = '33', to = { 'B' } },
                %s
                { name = 'both', prefix = '1', to = { 'A', 'B' }, strategy = 'failover', failover_on = { 'ESME_RTHROTTLED' } },
            },
            mo_routes = { { prefix = '111', account = 'esme1' }, { prefix = '222', account = 'esme2' } },
        } } ]], CWD, a_port, b_port, extra or "", extra_routes or "")
end

local A, B, GW
local function start_all(extra_routes, extra_upstreams, b_conf)
    A = server.start { conf = smsc_conf("decimal") }
    B = server.start { conf = b_conf or smsc_conf("uuid") }
    GW = server.start { conf = gateway_conf(A.port, B.port, extra_routes, extra_upstreams) }
    assert(GW:wait_log("upstream A: bind 1 up", 5), GW:log_text())
    assert(GW:wait_log("upstream B: bind 1 up", 5), GW:log_text())
end
local function stop_all()
    for _, s in ipairs { GW, A, B } do
        if s and not s:stop("TERM", 5) then s:kill() end
    end
end

local function esme(user, pw)
    local c = wire.connect(GW.port)
    local r = c:bind("transceiver", user or "esme1", pw or "pw1")
    assert.equal(ROK, r.status)
    return c
end

local function submit(c, dest, f)
    f = f or {}
    f.destination_addr = dest
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 6))
    return r.status, wire.first_cstr(r.body)
end

local function deliver(c, timeout)
    local p = assert(c:expect(function(p) return p.id == id.deliver_sm end, timeout or 5))
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    return wire.parse_sm(p.body)
end

describe("#integration gateway routing", function()
    setup(function() start_all() end)

    it("routes by prefix to the right upstream and answers with its own id", function()
        local c = esme()
        local st, mid = submit(c, "447700900123")
        assert.equal(ROK, st)
        assert.matches("^%x+$", mid)                   -- the gateway's own id (hex)
        st = submit(c, "33612345678")
        assert.equal(ROK, st)
        c:close()
    end)

    it("maps receipts back to the ESME's id and account", function()
        local c = esme()
        local st, mid = submit(c, "447700900123", { registered_delivery = 1, short_message = "via A" })
        assert.equal(ROK, st)
        local d = deliver(c, 5)
        assert.equal(4, d.esm_class)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        assert.matches("^id:" .. mid .. " ", d.short_message)
        assert.matches("stat:DELIVRD", d.short_message)
        -- the same for B (uuid ids upstream)
        st, mid = submit(c, "33612345678", { registered_delivery = 1 })
        d = deliver(c, 5)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        c:close()
    end)

    it("answers ESME_RINVDSTADR when no route matches", function()
        local c = esme()
        local st = submit(c, "5551234")
        assert.equal(RINVDSTADR, st)
        c:close()
    end)

    it("routes an MO to the ESME its destination belongs to", function()
        local c1, c2 = esme("esme1", "pw1"), esme("esme2", "pw2")
        -- the upstream echoes "echo ..." back from the destination to the source
        submit(c1, "447700900999", { short_message = "echo to esme2", source_addr = "2225" })
        local d = deliver(c2, 5)
        assert.equal("echo to esme2", d.short_message)
        assert.equal("2225", d.destination_addr)
        -- and not to esme1: the first MO esme1 gets is one sent after it
        submit(c2, "447700900999", { short_message = "echo to esme1", source_addr = "1115" })
        assert.equal("echo to esme1", deliver(c1, 5).short_message)
        c1:close()
        c2:close()
    end)
end)

describe("#integration gateway failover and reconnect", function()
    setup(function() start_all() end)

    it("fails over to B while A is down, keeps A's messages until it is back, then uses A again", function()
        local c = esme()
        local st, mid = submit(c, "1555")
        assert.equal(ROK, st)
        local a_port = A.port
        A:kill()
        assert.is_true(GW:wait_log("upstream A: bind 1 down", 5))
        for _ = 1, 5 do
            st = submit(c, "1555", { registered_delivery = 1 })
            assert.equal(ROK, st)
            assert.equal("DELIVRD", deliver(c, 5).short_message:match("stat:(%u+)"))   -- through B
        end
        -- a message for A alone is stored and answered: it waits in A's queue
        st, mid = submit(c, "447700900123", { registered_delivery = 1, short_message = "waited for A" })
        assert.equal(ROK, st)
        -- A comes back on the same port: the gateway binds again and sends it
        A = server.start { conf = smsc_conf("decimal"), port = a_port }
        wait_until(function() return GW:count_log("upstream A: bind 1 up") >= 2 end)
        assert.equal(2, GW:count_log("upstream A: bind 1 up"))
        local d = deliver(c, 5)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        assert.matches("stat:DELIVRD", d.short_message)
        st = submit(c, "447700900123")
        assert.equal(ROK, st)
        c:close()
    end)
end)

describe("#integration gateway throttling answers", function()
    it("moves on to B when A answers ESME_RTHROTTLED", function()
        -- A's account for the gateway is limited to 1 message/s
        local slow = "{ name = 'slowA', port = %d, system_id = 'slow', password = 'pw', throttle_retries = 0, wait = 1 },"
        A = server.start { conf = smsc_conf("decimal") }
        B = server.start { conf = smsc_conf("uuid") }
        GW = server.start { conf = gateway_conf(A.port, B.port,
            "{ name = 'throttled', prefix = '7', to = { 'slowA', 'B' }, failover_on = { 'ESME_RTHROTTLED' } },",
            slow:format(A.port)) }
        assert(GW:wait_log("upstream slowA: bind 1 up", 5))
        assert(GW:wait_log("upstream B: bind 1 up", 5))
        local c = esme()
        local ok = 0
        for _ = 1, 4 do
            local st = submit(c, "7000")
            if st == ROK then ok = ok + 1 end
        end
        assert.equal(4, ok)                            -- none lost to the throttling
        assert.is_true(GW:wait_log("route throttled: sent to slowA %(session %d+, attempt 1%): ESME_RTHROTTLED; trying B", 1))
        c:close()
    end)
end)

describe("#integration gateway receipt racing its response", function()
    it("holds a receipt that arrives before the submit_sm_resp and maps it", function()
        -- upstream B sends the receipt first, then answers the submit
        local racer = [[return { script = 'script.lua', accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
        A = server.start { conf = smsc_conf("decimal") }
        B = server.start { conf = racer, script = [[
            local smpp = require "smpp"
            local n = 0
            return { submit_sm = function(session, pdu)
                n = n + 1
                local mid = "R" .. n
                local r = session:send { command = "deliver_sm", esm_class = 4,
                    source_addr = pdu.destination_addr, destination_addr = pdu.source_addr,
                    short_message = "id:" .. mid .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:DELIVRD err:000 text:",
                    receipted_message_id = mid, message_state = 2 }
                return 0, { message_id = mid }
            end }]] }
        GW = server.start { conf = gateway_conf(A.port, B.port) }
        assert(GW:wait_log("upstream B: bind 1 up", 5))
        local c = esme()
        local st, mid = submit(c, "33000", { registered_delivery = 1 })
        assert.equal(ROK, st)
        local d = deliver(c, 5)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        assert.matches("^id:" .. mid .. " ", d.short_message)
        c:close()
    end)
end)

describe("#integration gateway reload", function()
    setup(function() start_all() end)

    it("adds a route on SIGHUP without dropping binds", function()
        local c = esme()
        assert.equal(RINVDSTADR, (submit(c, "5551234")))
        GW:write("conf.lua", gateway_conf(A.port, B.port, "{ name = 'new', prefix = '555', to = { 'A' } },"))
        GW:signal("HUP")
        assert.is_true(GW:wait_log("reloaded", 5))
        assert.equal(ROK, (submit(c, "5551234")))     -- same bind, new route
        assert.equal(1, GW:count_log("upstream A: bind 1 up"))   -- links untouched
        c:close()
    end)

    it("keeps the running script when the new one does not compile", function()
        local c = esme()
        GW:write("conf.lua", "return { script = 'broken.lua' }")
        GW:write("broken.lua", "return { submit_sm = function( end }")
        GW:signal("HUP")
        assert.is_true(GW:wait_log("reload failed, the running configuration stays", 5))
        assert.equal(ROK, (submit(c, "447700900123")))
        c:close()
    end)
end)

describe("#integration gateway accounting", function()
    it("loses and duplicates nothing: counts match on both sides", function()
        start_all()
        local c = esme()
        local ok, n = 0, 60
        local pending = {}
        for i = 1, n do
            local seq = c:next_seq()
            pending[seq] = true
            c:send(wire.submit_sm(seq, { destination_addr = (i % 2 == 0) and "4477" or "3366",
                                         registered_delivery = 1 }))
        end
        local receipts = 0
        local deadline = wire.gettime() + 10
        while (next(pending) or receipts < n) and wire.gettime() < deadline do
            local p = c:read(1)
            if p and p.id == RESP + id.submit_sm then
                assert.is_true(pending[p.seq])
                pending[p.seq] = nil
                if p.status == ROK then ok = ok + 1 end
            elseif p and p.id == id.deliver_sm then
                receipts = receipts + 1
                c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            end
        end
        assert.equal(n, ok)
        assert.equal(n, receipts)
        c:close()
        stop_all()
        -- each upstream answered exactly the submits routed to it
        local a = tonumber(A:log_text():match("submit_sm (%d+)/0"))
        local b = tonumber(B:log_text():match("submit_sm (%d+)/0"))
        assert.equal(n / 2, a)
        assert.equal(n / 2, b)
        local g = tonumber(GW:log_text():match("submit_sm (%d+)/%d+"))
        assert.equal(n, g)
    end)
end)

describe("#integration gateway upstream refusing the bind", function()
    it("backs off bind_refused_delay and says why", function()
        A = server.start { conf = smsc_conf("decimal") }
        B = server.start { conf = smsc_conf("uuid") }
        GW = server.start { conf = gateway_conf(A.port, B.port, nil,
            ("{ name = 'wrongpw', port = %d, system_id = 'gw', password = 'nope', bind_refused_delay = 42 },"):format(A.port)) }
        assert.is_true(GW:wait_log("upstream wrongpw: bind 1 refused %(ESME_RINVPASWD%); retrying in 42%.0 s", 5))
    end)
end)

describe("#integration gateway upstream by outbind", function()
    it("binds as a receiver when the SMSC sends outbind, and routes its MO", function()
        A = server.start { conf = smsc_conf("decimal") }
        B = server.start { conf = smsc_conf("uuid") }
        GW = server.start { conf = gateway_conf(A.port, B.port, nil,
            "{ name = 'OB', outbind_listen = '127.0.0.1:0', system_id = 'gw', password = 'gwpw' },") }
        assert.is_true(GW:wait_log("listening on 127%.0%.0%.1:%d+ for outbind", 5))
        local port = tonumber(GW:log_text():match("listening on 127%.0%.0%.1:(%d+) for outbind"))
        local esme1 = esme("esme1", "pw1")
        local smsc = wire.connect(port)               -- the test plays the SMSC
        smsc:send(wire.pdu(id.outbind, 1, wire.cstr("SMSC") .. wire.cstr("x")))
        local b = assert(smsc:read())
        assert.equal(id.bind_receiver, b.id)
        assert.equal("gw", wire.first_cstr(b.body))
        smsc:send(wire.pdu(RESP + id.bind_receiver, b.seq, wire.cstr("SMSC")))
        assert.is_true(GW:wait_log("upstream OB: bind up after outbind", 5))
        smsc:send(wire.submit_sm(9, { source_addr = "447700900123", destination_addr = "1115" }, id.deliver_sm))
        local r = assert(smsc:read())
        assert.same({ RESP + id.deliver_sm, ROK, 9 }, { r.id, r.status, r.seq })
        local d = deliver(esme1, 5)
        assert.equal("1115", d.destination_addr)
    end)
end)

describe("#integration gateway receipt during its own unbind", function()
    it("takes a receipt that arrives while a reload's unbind waits for the link's answers (ESME_ROK)", function()
        -- B answers the submit a second after it came, sending the receipt
        -- first; meanwhile a reload changes B, whose link unbinds once its
        -- request is answered
        local slow = [[return { script = 'script.lua', log = { level = 'info' },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
        A = server.start { conf = smsc_conf("decimal") }
        B = server.start { conf = slow, script = [[
            local smpp = require "smpp"
            return { submit_sm = function(session, pdu)
                smpp.log("info", "GOT %s", pdu.destination_addr)
                smpp.sleep(1)
                local r = session:send { command = "deliver_sm", esm_class = 4,
                    source_addr = pdu.destination_addr, destination_addr = pdu.source_addr,
                    short_message = "id:U1 sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 stat:DELIVRD err:000 text:",
                    receipted_message_id = "U1", message_state = 2 }
                smpp.log("info", "RECEIPT ANSWERED %s", tostring(r and r.command_status))
                return 0, { message_id = "U1" }
            end }]] }
        GW = server.start { conf = gateway_conf(A.port, B.port) }
        assert(GW:wait_log("upstream B: bind 1 up", 5))
        local c = esme()
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { destination_addr = "33000", registered_delivery = 1 }))
        assert(B:wait_log("GOT 33000", 5), B:log_text())
        GW:write("conf.lua", (gateway_conf(A.port, B.port):gsub("(name = 'B', port = %d+,)", "%1 window = 5,")))
        GW:signal("HUP")
        assert(GW:wait_log("upstream B changed: rebinding", 5), GW:log_text())
        local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 6))
        assert.equal(ROK, r.status)
        local d = deliver(c, 5)
        assert.matches("^id:" .. wire.first_cstr(r.body) .. " ", d.short_message)
        assert(B:wait_log("RECEIPT ANSWERED 0", 5), B:log_text())
        assert(GW:wait_log("upstream B: bind 1 up.*upstream B: bind 1 up", 5), GW:log_text())   -- bound again
        c:close()
    end)
end)
