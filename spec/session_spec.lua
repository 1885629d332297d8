-- session_spec -- the real smppgw binary on an ephemeral loopback port, spoken
-- to over TCP with PDU bytes built by hand (helpers.wire), never by the codec.
-- Servers and clients are stopped and closed when the describe or test that
-- made them ends (helpers.cleanup).
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait_until = require("helpers.wait").wait_until
local scaled = require("helpers.wait").scaled

local id, RESP = wire.id, wire.RESP
local ROK, RINVCMDLEN, RINVCMDID, RINVBNDSTS, RALYBND = 0, 0x02, 0x03, 0x04, 0x05
local RSYSERR, RINVSRCADR, RBINDFAIL, RINVPASWD, RINVSYSID, RTHROTTLED = 0x08, 0x0A, 0x0D, 0x0E, 0x0F, 0x58

-- A script that answers submit_sm; some messages steer it (see below).
local SCRIPT = [[
local smpp = require "smpp"
local cjson = require "cjson"
local S = smpp.status
local n = 0
local function deliver(session, text)
    return session:send { command = "deliver_sm", source_addr = "447700900123",
                          destination_addr = "1234", short_message = text }
end
return {
    submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text == "boom" then error("boom on purpose") end
        if text == "yield" then coroutine.yield() end
        if text == "bad return" then return true end
        if text == "bad field" then return S.ESME_ROK, { message_id = ("x"):rep(80) } end
        if text == "slow" then
            -- in flight until the session has refused a request past its
            -- receive window, or unbinds: the test's next PDUs meet it there
            local deadline = smpp.now() + 5
            repeat
                local st = session:stats()
                if not st or st.throttled > 0 or st.state == "UNBINDING" then break end
                smpp.sleep(0.005)
            until smpp.now() > deadline
        end
        if text == "stats" then
            local st = session:stats()
            return S.ESME_ROK, { message_id = st.state .. ":" .. st.rx_requests .. ":" .. st.window_size }
        end
        if text == "mo" then
            -- deliver to every receiver of this account and report what they said
            local out = {}
            for _, s in ipairs(smpp.sessions { system_id = session.system_id, can_receive = true }) do
                local r, err = deliver(s, "mo reply")
                out[#out + 1] = r and ("ok" .. r.command_status) or err
            end
            return S.ESME_ROK, { message_id = table.concat(out, ",") }
        end
        if text == "window" then
            -- three deliver_sm at once with window 2: one fails at once, two time out
            local results = {}
            for i = 1, 3 do
                smpp.after(0, function()
                    local r, err = deliver(session, "w" .. i)
                    results[#results + 1] = r and "ok" or err
                end)
            end
            local deadline = smpp.now() + 5
            while #results < 3 and smpp.now() < deadline do smpp.sleep(0.01) end
            table.sort(results)
            return S.ESME_ROK, { message_id = table.concat(results, ",") }
        end
        n = n + 1
        return S.ESME_ROK, { message_id = "M" .. n }
    end,
    deliver_sm = function(session, pdu) return S.ESME_ROK end,
    outbind = function(session, pdu)
        local r = session:send { command = "bind_receiver", system_id = "esme", password = "pw" }
        return
    end,
}
]]

-- failure_delay 0: refused binds are answered at once (this spec is about
-- sessions, not about slowing down password guessing)
local function conf(extra)
    return [[return { script = 'script.lua', system_id = 'smppgw',
        security = { failure_delay = 0 },
        accounts = {
            { system_id = 'smppclient1', password = 'password' },
            { system_id = 'txonly', password = 'pw', bind_types = { 'transmitter' } },
            { system_id = 'single', password = 'pw', max_binds = 1 },
            { system_id = 'slowpoke', password = 'pw', throughput = 2, burst = 2 },
        },
        ]] .. (extra or "") .. [[ }]]
end

local srv
local function start(extra, script)
    srv = server.start { conf = conf(extra), script = script or SCRIPT }
    return srv
end

local function bound(kind, user, pw)
    local c = wire.connect(srv.port)
    local r = c:bind(kind or "transceiver", user, pw)
    assert.equal(ROK, r.status)
    return c
end

local function submit(c, text, extra)
    local f = extra or {}
    f.short_message = text
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
    return r, wire.first_cstr(r.body)
end

describe("#integration binds", function()
    setup(function() start() end)

    for _, kind in ipairs { "transmitter", "receiver", "transceiver" } do
        it("accepts bind_" .. kind .. " with the account's credentials", function()
            local c = wire.connect(srv.port)
            local r = c:bind(kind)
            assert.equal(RESP + id["bind_" .. kind], r.id)
            assert.equal(ROK, r.status)
            assert.equal(1, r.seq)
            assert.equal("smppgw", wire.first_cstr(r.body))
            -- sc_interface_version TLV after the system_id
            assert.equal(wire.tlv(0x0210, "\52"), r.body:sub(#"smppgw" + 2))
            c:close()
        end)
    end

    local failures = {
        { "a wrong password", "smppclient1", "nope", "transceiver", RINVPASWD },
        { "an unknown system_id", "nobody", "password", "transceiver", RINVSYSID },
        { "a bind type the account may not use", "txonly", "pw", "receiver", RBINDFAIL },
    }
    for _, f in ipairs(failures) do
        it("refuses " .. f[1], function()
            local c = wire.connect(srv.port)
            local r = c:bind(f[4], f[2], f[3])
            assert.equal(f[5], r.status)
            assert.equal(16, r.len)               -- error responses go out header-only
            c:close()
        end)
    end

    it("refuses a bind past max_binds, and accepts again after an unbind", function()
        local a = bound("transceiver", "single", "pw")
        local b = wire.connect(srv.port)
        assert.equal(RBINDFAIL, b:bind("transceiver", "single", "pw").status)
        a:send(wire.pdu(id.unbind, 50))
        local r = a:read()
        assert.equal(RESP + id.unbind, r.id)
        assert.is_true(a:closed())
        assert.is_true(srv:wait_log("closing: unbind"))   -- the bind is given back
        assert.equal(ROK, b:bind("transceiver", "single", "pw").status)
        b:close()
    end)
end)

describe("#integration the state machine", function()
    setup(function() start() end)

    it("answers submit_sm before bind with ESME_RINVBNDSTS and the same sequence_number", function()
        local c = wire.connect(srv.port)
        c:send(wire.submit_sm(77))
        local r = c:read()
        assert.same({ RESP + id.submit_sm, RINVBNDSTS, 77 }, { r.id, r.status, r.seq })
        c:close()
    end)
    it("refuses submit_sm on a receiver bind", function()
        local c = bound("receiver")
        c:send(wire.submit_sm(5))
        local r = c:read()
        assert.same({ RESP + id.submit_sm, RINVBNDSTS }, { r.id, r.status })
        c:close()
    end)
    it("refuses deliver_sm from an ESME", function()
        local c = bound("transceiver")
        c:send(wire.submit_sm(6, {}, id.deliver_sm))
        local r = c:read()
        assert.same({ RESP + id.deliver_sm, RINVBNDSTS, 6 }, { r.id, r.status, r.seq })
        c:close()
    end)
    it("answers alert_notification from an ESME with generic_nack ESME_RINVBNDSTS", function()
        local c = bound("transceiver")
        c:send(wire.pdu(id.alert_notification, 8, "\0\0" .. wire.cstr("1") .. "\0\0" .. wire.cstr("2")))
        local r = c:read()
        assert.same({ id.generic_nack, RINVBNDSTS, 8 }, { r.id, r.status, r.seq })
        c:close()
    end)
    it("answers a second bind with ESME_RALYBND", function()
        local c = bound("transceiver")
        local r = c:bind("transmitter")
        assert.same({ RESP + id.bind_transmitter, RALYBND }, { r.id, r.status })
        c:close()
    end)
    it("refuses a request numbered 0 saying why, and answers enquire_link and unbind numbered 0", function()
        -- 3.4: 1..0x7FFFFFFF (0 is not a request's number). Before, such a
        -- bind was refused "sequence_number already in use" with nothing in use
        local c = wire.connect(srv.port)
        c:send(wire.bind("transceiver", 0, "smppclient1", "password"))
        local r = c:read()
        assert.same({ RESP + id.bind_transceiver, RSYSERR, 0 }, { r.id, r.status, r.seq })
        c:send(wire.bind("transceiver", 1, "smppclient1", "password"))
        assert.equal(ROK, c:read().status)
        c:send(wire.submit_sm(0))
        r = c:read()
        assert.same({ RESP + id.submit_sm, RSYSERR, 0 }, { r.id, r.status, r.seq })
        c:send(wire.pdu(id.enquire_link, 0))
        r = c:read()
        assert.same({ RESP + id.enquire_link, ROK, 0 }, { r.id, r.status, r.seq })
        c:send(wire.pdu(id.unbind, 0))
        r = c:read()
        assert.same({ RESP + id.unbind, ROK, 0 }, { r.id, r.status, r.seq })
        c:close()
        wait_until(function() return srv:log_text():find("sequence_number 0 is outside 1..0x7FFFFFFF", 1, true) end)
    end)
    it("answers enquire_link before bind and in every bound state", function()
        local c = wire.connect(srv.port)
        c:send(wire.pdu(id.enquire_link, 3))
        local r = c:read()
        assert.same({ RESP + id.enquire_link, ROK, 3 }, { r.id, r.status, r.seq })
        c:bind("receiver")
        c:send(wire.pdu(id.enquire_link, 4))
        assert.equal(4, c:read().seq)
        c:close()
    end)
    it("answers an unknown command_id with generic_nack ESME_RINVCMDID, same sequence_number", function()
        local c = bound()
        c:send(wire.pdu(0x00000099, 123))
        local r = c:read()
        assert.same({ id.generic_nack, RINVCMDID, 123 }, { r.id, r.status, r.seq })
        local _, mid = submit(c, "still alive")
        assert.matches("^M%d+$", mid)
        c:close()
    end)
end)

describe("#integration malformed input", function()
    setup(function() start() end)

    it("answers a source_addr without NUL with ESME_RINVSRCADR and goes on", function()
        local c = bound()
        local body = "\0" .. "\0\0" .. ("A"):rep(25)
        c:send(wire.pdu(id.submit_sm, 9, body))
        local r = c:read()
        assert.same({ RESP + id.submit_sm, RINVSRCADR, 9 }, { r.id, r.status, r.seq })
        local _, mid = submit(c, "next")
        assert.matches("^M", mid)
        c:close()
    end)
    it("answers a body too short for its fields with generic_nack ESME_RINVCMDLEN and goes on", function()
        local c = bound()
        c:send(wire.pdu(id.submit_sm, 10, "\0\1\1AB\0"))
        local r = c:read()
        assert.same({ id.generic_nack, RINVCMDLEN, 10 }, { r.id, r.status, r.seq })
        local _, mid = submit(c, "next")
        assert.matches("^M", mid)
        c:close()
    end)
    it("answers an unusable command_length with generic_nack, then closes", function()
        local c = bound()
        c:send(wire.u32(8) .. wire.u32(id.submit_sm) .. wire.u32(0) .. wire.u32(11))
        local r, err = c:read()
        assert.is_not_nil(r, err)
        assert.same({ id.generic_nack, RINVCMDLEN, 11 }, { r.id, r.status, r.seq })
        assert.is_true(c:closed())
    end)
    it("before a bind takes no command_length above 1,024 (a bind is at most 98 octets); bound, max_pdu", function()
        -- once, 3,000 connections that never bound each sent most of a 65,552-octet
        -- bind_transceiver and made the server hold 210 MB until init_timeout
        local c = wire.connect(srv.port)
        c:send(wire.u32(65552) .. wire.u32(id.bind_transceiver) .. wire.u32(0) .. wire.u32(12) .. ("x"):rep(1000))
        local r, err = c:read()
        assert.is_not_nil(r, err)
        assert.same({ id.generic_nack, RINVCMDLEN, 12 }, { r.id, r.status, r.seq })
        assert.is_true(c:closed())
        c = wire.connect(srv.port)
        c:send(wire.u32(1025) .. wire.u32(id.enquire_link) .. wire.u32(0) .. wire.u32(13))
        r = c:read()
        assert.same({ id.generic_nack, RINVCMDLEN, 13 }, { r.id, r.status, r.seq })
        assert.is_true(c:closed())
        -- bound, a submit_sm of 2,000 octets is taken
        c = bound()
        local r2, mid = submit(c, "", { tlvs = wire.tlv(0x0424, ("p"):rep(1980)) })
        assert.equal(ROK, r2.status)
        assert.matches("^M", mid)
        c:close()
    end)
end)

describe("#integration framing over TCP", function()
    setup(function() start("session = { receive_window = 200 },") end)

    it("takes a PDU sent one octet at a time", function()
        local c = bound()
        local bytes = wire.submit_sm(2, { short_message = "one octet at a time" })
        for i = 1, #bytes do
            c:send(bytes:sub(i, i))
            if i % 10 == 0 then wire.sleep(0.001) end
        end
        local r = c:read()
        assert.same({ RESP + id.submit_sm, ROK, 2 }, { r.id, r.status, r.seq })
        c:close()
    end)
    it("answers 100 PDUs sent in one write", function()
        local c = bound()
        local t = {}
        for i = 1, 100 do t[i] = wire.submit_sm(100 + i) end
        c:send(table.concat(t))
        local seen = {}
        for _ = 1, 100 do
            local r = assert(c:read())
            assert.equal(ROK, r.status)
            seen[r.seq] = true
        end
        for i = 1, 100 do assert.is_true(seen[100 + i]) end
        c:close()
    end)
end)

describe("#integration windows and timeouts", function()
    setup(function()
        start("session = { window = 2, response_timeout = 0.5, receive_window = 2 },")
    end)

    it("fails a send at once when the window is full, and times out unanswered requests", function()
        local c = bound()
        local _, mid = submit(c, "window")     -- the client never answers the deliver_sm
        assert.equal("timeout,timeout,window full", mid)
        c:close()
    end)
    it("answers ESME_RTHROTTLED past the receive window", function()
        local c = bound()
        for i = 1, 3 do c:send(wire.submit_sm(i + 1, { short_message = "slow" })) end
        local first = c:read()
        assert.same({ RTHROTTLED, 4 }, { first.status, first.seq })   -- at once
        local a, b = c:read(), c:read()
        assert.same({ ROK, ROK }, { a.status, b.status })
        c:close()
    end)
end)

describe("#integration throttling", function()
    setup(function() start() end)

    it("limits an account to its throughput with ESME_RTHROTTLED", function()
        local c = bound("transceiver", "slowpoke", "pw")
        local st = {}
        for i = 1, 3 do st[i] = submit(c, "x").status end
        assert.same({ ROK, ROK, RTHROTTLED }, st)
        local t0 = wire.gettime()
        -- one token back at 2/s: refused until then
        assert.is_truthy(wait_until(function() return submit(c, "x").status == ROK end, 5))
        assert.is_true(wire.gettime() - t0 >= 0.3, "a token came back after " .. (wire.gettime() - t0) .. " s")
        c:close()
    end)
end)

describe("#integration enquire_link and timers", function()
    setup(function()
        start("session = { enquire_link_interval = 0.3, enquire_link_misses = 2, response_timeout = 0.3, init_timeout = 0.5 },")
    end)

    it("sends enquire_link after the idle interval", function()
        local c = bound()
        local e = assert(c:expect(function(p) return p.id == id.enquire_link end, 2))
        c:send(wire.pdu(RESP + id.enquire_link, e.seq))
        local e2 = assert(c:expect(function(p) return p.id == id.enquire_link end, 2))
        assert.is_true(e2.seq ~= e.seq)
        c:close()
    end)
    it("closes a peer that stops answering", function()
        local c = bound()
        local t0 = wire.gettime()
        assert.is_true(c:closed(5))
        assert.is_true(wire.gettime() - t0 < scaled(3))
        assert.is_true(srv:wait_log("enquire_link unanswered"))
    end)
    it("closes a connection that does not bind in time", function()
        local c = wire.connect(srv.port)
        local t0 = wire.gettime()
        assert.is_true(c:closed(3))
        assert.is_true(wire.gettime() - t0 >= 0.4)
        assert.is_true(srv:wait_log("session_init"))
    end)
end)

describe("#integration unbind", function()
    setup(function() start() end)

    it("answers requests in flight before unbind_resp, then closes", function()
        local c = bound()
        c:send(wire.submit_sm(2, { short_message = "slow" }))
        c:send(wire.pdu(id.unbind, 3))
        local a = c:read()
        assert.same({ RESP + id.submit_sm, ROK, 2 }, { a.id, a.status, a.seq })
        local b = c:read()
        assert.same({ RESP + id.unbind, ROK, 3 }, { b.id, b.status, b.seq })
        assert.is_true(c:closed())
    end)
end)

describe("#integration script errors", function()
    setup(function() start() end)

    for _, case in ipairs { "boom", "yield", "bad return", "bad field" } do
        it("answers ESME_RSYSERR when the handler fails (" .. case .. "), and goes on", function()
            local c = bound()
            local r = submit(c, case)
            assert.equal(RSYSERR, r.status)
            local ok = submit(c, "fine")
            assert.equal(ROK, ok.status)
            c:close()
        end)
    end
    it("logs the error with a traceback and the session id", function()
        local c = bound()
        for _, case in ipairs { "boom", "bad return", "bad field" } do
            assert.equal(RSYSERR, submit(c, case).status)
        end
        assert.is_true(srv:wait_log("%[s%d+%] submit_sm failed: [^\n]*boom on purpose"))
        assert.is_true(srv:wait_log("stack traceback"))
        assert.is_true(srv:wait_log("bad return value"))
        assert.is_true(srv:wait_log("message_id is 80 characters"))
    end)
end)

describe("#integration sessions from scripts", function()
    setup(function() start() end)

    it("finds bound receivers and delivers to them, getting their answers", function()
        local tx = bound("transmitter")
        local rx = bound("receiver")
        tx:send(wire.submit_sm(9, { short_message = "mo" }))
        local d = assert(rx:expect(function(p) return p.id == id.deliver_sm end))
        assert.matches("mo reply", d.body, 1, true)
        rx:send(wire.pdu(RESP + id.deliver_sm, d.seq, "\0"))
        local r = assert(tx:expect(function(p) return p.seq == 9 end))
        assert.equal("ok0", wire.first_cstr(r.body))
        tx:close()
        rx:close()
    end)
    it("reads the session's stats", function()
        local c = bound()
        submit(c, "x")
        local _, mid = submit(c, "stats")
        assert.equal("BOUND_TRX:3:10", mid)   -- bind + 2 submits, window 10
        c:close()
    end)
end)

describe("#integration outbind", function()
    it("an ESME-side listener binds as a receiver when an SMSC sends outbind", function()
        start("outbind_listen = { '127.0.0.1:0' },")
        local port = tonumber(srv:log_text():match("listening on 127%.0%.0%.1:(%d+) for outbind"))
        assert.is_number(port)
        local c = wire.connect(port)                    -- we are the SMSC here
        c:send(wire.pdu(id.outbind, 1, wire.cstr("smsc") .. wire.cstr("pw")))
        local b = assert(c:read())
        assert.equal(id.bind_receiver, b.id)
        assert.equal("esme", wire.first_cstr(b.body))
        c:send(wire.pdu(RESP + id.bind_receiver, b.seq, wire.cstr("smsc")))
        c:send(wire.submit_sm(7, {}, id.deliver_sm))
        local r = assert(c:read())
        assert.same({ RESP + id.deliver_sm, ROK, 7 }, { r.id, r.status, r.seq })
    end)
    it("the SMSC side sends outbind and serves the bind_receiver that follows", function()
        local listener, lport = wire.listen()
        srv = server.start { conf = conf(), script = SCRIPT:gsub("^", string.format([[
            local smpp = require "smpp"
            local START = function()
                local s, err = smpp.outbind { host = "127.0.0.1", port = %d, system_id = "smsc", password = "secret" }
                if not s then smpp.log("error", "outbind: %%s", err) end
            end
        ]], lport)):gsub("\nreturn {", "\nreturn { start = START,", 1) }
        listener:settimeout(5)
        local c = wire.client(assert(listener:accept()))
        listener:close()
        local o = assert(c:read())
        assert.equal(id.outbind, o.id)
        assert.equal("smsc", wire.first_cstr(o.body))
        assert.equal("secret", wire.first_cstr(o.body:sub(6)))
        local r = c:bind("receiver")
        assert.same({ RESP + id.bind_receiver, ROK }, { r.id, r.status })
    end)
end)

describe("#integration graceful shutdown", function()
    it("unbinds every session on SIGTERM and exits 0", function()
        start()
        local c = bound()
        srv:signal("TERM")
        local u = assert(c:expect(function(p) return p.id == id.unbind end))
        c:send(wire.pdu(RESP + id.unbind, u.seq))
        assert.is_true(c:closed())
        c:close()
        assert.equal(0, srv:wait_exit(5))
    end)
end)

describe("#integration logging", function()
    it("writes JSON lines naming the session when log.format is json", function()
        start("log = { format = 'json', level = 'debug' },")
        local c = bound()
        c:close()
        assert.is_true(srv:wait_log('"session":%d+'))
        assert.is_true(srv:stop("TERM", 5))
        local cjson = require "cjson"
        local n = 0
        for line in srv:log_text():gmatch("[^\n]+") do
            if not line:match("^exit=") then
                local obj = assert(cjson.decode(line))
                assert.is_string(obj.level)
                n = n + 1
            end
        end
        assert.is_true(n >= 3)
    end)
end)

describe("#integration smppgw check", function()
    it("names a wrong key by its path and value", function()
        local path = tmp.write(tmp.dir() .. "/conf.lua",
            "return { session = { windw = 10 }, accounts = { { password = 'x' } } }")
        local _, err, rc = run.smppgw({ "check", path })
        assert.equal(1, rc)
        assert.matches("session.windw: unknown key %(value 10%)", err)
        assert.matches("accounts%[1%]%.system_id: missing", err)
    end)
    -- the shipped configurations: spec/conf_spec.lua
end)

describe("#integration C examples (core/ without Lua)", function()
    it("a C client binds and submits to a C server", function()
        local cserver = run.spawn("exec build/example_server 0")
        local port = wait_until(function()
            return cserver:log_text():match("listening on 127%.0%.0%.1:(%d+)")
        end)
        assert.is_not_nil(port, cserver:log_text())
        local out, _, rc = run.sh("build/example_client 127.0.0.1 " .. port .. " 5")
        assert.equal(0, rc)
        assert.matches("5 ok, 0 failed", out)
        assert.matches("message_id 5", out)
        cserver:signal("INT")
        assert.is_not_nil(cserver:wait_exit(5))
        assert.matches("answered 5 submit_sm", cserver:log_text())
    end)
end)

describe("#integration back-pressure", function()
    -- Count whole response PDUs arriving on c (bulk reads: there are many).
    local function count_responses(c, want, timeout)
        local buf, pos, count, bad = c.buf, 1, 0, 0
        local deadline = wire.gettime() + timeout
        while count < want and wire.gettime() < deadline do
            while #buf - pos + 1 >= 16 do
                local len = wire.get32(buf, pos)
                if #buf - pos + 1 < len then break end
                if wire.get32(buf, pos + 8) ~= 0 then bad = bad + 1 end
                count, pos = count + 1, pos + len
            end
            if count >= want then break end
            buf, pos = buf:sub(pos), 1
            c.sock:settimeout(0.05)
            local data, err, partial = c.sock:receive(65536)
            data = data or partial
            if data and #data > 0 then buf = buf .. data elseif err == "closed" then break end
        end
        c.buf = buf:sub(pos)
        return count, bad
    end

    it("stops reading from a peer that does not read, and loses nothing", function()
        start("session = { max_output = 2048, receive_window = 1000 },")
        local c = bound()
        local pdus = {}
        for i = 1, 400 do pdus[i] = wire.submit_sm(1000 + i) end
        local chunk, size = table.concat(pdus), #pdus[1]
        -- write without reading until the server stops taking our bytes
        local sent, paused = 0, false
        c.sock:settimeout(0.3)
        for _ = 1, 5000 do                  -- at most 80 MB, far beyond loopback buffers
            local n, _, last = c.sock:send(chunk)
            if not n then
                sent, paused = sent + (last or 0), true
                break
            end
            sent = sent + #chunk
        end
        assert.is_true(paused)
        assert.is_true(srv:wait_log("peer is not reading: pausing input", 5))
        -- read; finish the PDU cut in the middle (the server reads again)
        local total, got, bad = math.ceil(sent / size), 0, 0
        local rest = sent % size > 0 and pdus[1]:sub(sent % size + 1) or ""
        local deadline = wire.gettime() + 30
        while #rest > 0 and wire.gettime() < deadline do
            local n, b = count_responses(c, 1000, 0.2)
            got, bad = got + n, bad + b
            c.sock:settimeout(0.2)
            local n2, err, last = c.sock:send(rest)
            rest = rest:sub((n2 or last or 0) + 1)
            assert.is_not.equal("closed", err)
        end
        assert.equal(0, #rest)
        local n, b = count_responses(c, total - got, 60)
        got, bad = got + n, bad + b
        assert.equal(total, got)
        assert.equal(0, bad)
        assert.is_true(total > 10000)
    end)
end)

describe("#integration the client side from a script", function()
    it("connects, binds, submits and receives the receipt from another smppgw", function()
        local smsc = server.start { conf = server.smsc_conf() }
        local client = server.start { conf = "return { script = 'script.lua' }", script = ([[
            local smpp = require "smpp"
            return {
                start = function()
                    local s, err, st = smpp.connect { port = PORT, system_id = "smppclient1",
                                                     password = "password", bind = "trx" }
                    if not s then smpp.log("error", "connect: %s %s", err, tostring(st)) return end
                    smpp.log("info", "client bound as %s", s.bind_type)
                    local r, e = s:send { command = "submit_sm", destination_addr = "447700900123",
                                          short_message = "from a script", registered_delivery = 1 }
                    smpp.log("info", "client result: %s %s", r and smpp.status_name(r.command_status) or e,
                             r and r.message_id or "")
                    local bad, why, st2 = smpp.connect { port = PORT, system_id = "smppclient1", password = "wrong" }
                    smpp.log("info", "wrong password: %s %s %s", tostring(bad), tostring(why), tostring(st2))
                end,
                deliver_sm = function(session, pdu)
                    smpp.log("info", "client got receipt: %s", pdu.short_message)
                end,
            }]]):gsub("PORT", tostring(smsc.port)) }
        assert.is_true(client:wait_log("client bound as transceiver", 5))
        assert.is_true(client:wait_log("client result: ESME_ROK %d+", 5))
        assert.is_true(client:wait_log("wrong password: nil bind refused 14", 5))
        assert.is_true(client:wait_log("client got receipt: id:%d+ sub:001 dlvrd:001 .*stat:DELIVRD", 5))
    end)
end)
