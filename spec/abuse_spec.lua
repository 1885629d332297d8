-- abuse_spec -- hostile and broken peers against the running binary. After
-- each attack a bystander session bound before it must still be served
-- quickly, a new client must bind and submit, and memory must come back.
local wire = require "helpers.wire"
local server = require "helpers.server"
local socket = require "socket"

local id, RESP = wire.id, wire.RESP

local CONF = [[return { script = 'script.lua',
    session = { init_timeout = 2, receive_window = 1000 },
    limits = { max_per_address = 0 },   -- the attacks and the bystander all come from 127.0.0.1
    security = { max_failures = 5, lockout = 60, failure_delay = 0 },
    accounts = { { system_id = 'smppclient1', password = 'password' }, { system_id = 'victim', password = 'pw' } } }]]
local SCRIPT = "return { submit_sm = function() return 0, { message_id = 'ok' } end }"

local srv, bystander, baseline

local function rss()
    local f = io.open("/proc/" .. srv.pid .. "/status")
    local kb = f and tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
    if f then f:close() end
    return kb
end

-- The bystander and a fresh client are served, within 0.5 s each.
local function healthy()
    local t0 = socket.gettime()
    bystander:send(wire.submit_sm(bystander:next_seq()))
    local r = assert(bystander:read(2))
    assert.equal(0, r.status)
    local c = wire.connect(srv.port)
    assert.equal(0, c:bind("transceiver").status)
    c:send(wire.submit_sm(2))
    assert.equal(0, assert(c:read(2)).status)
    c:close()
    assert.is_true(socket.gettime() - t0 < 1, "slow: " .. (socket.gettime() - t0))
end

describe("#integration abuse", function()
    setup(function()
        srv = server.start { conf = CONF, script = SCRIPT }
        bystander = wire.connect(srv.port)
        assert.equal(0, bystander:bind("transceiver").status)
        healthy()
        baseline = rss()
    end)
    teardown(function()
        bystander:close()
        srv:stop("TERM", 10)
    end)

    it("random bytes on 200 connections", function()
        math.randomseed(42)
        for _ = 1, 200 do
            local c = wire.connect(srv.port)
            local t = {}
            for i = 1, math.random(16, 512) do t[i] = string.char(math.random(0, 255)) end
            pcall(c.send, c, table.concat(t))
            c:close()
        end
        healthy()
    end)

    it("mutated PDUs on a bound session", function()
        math.randomseed(7)
        local good = wire.submit_sm(1, { short_message = "mutate me" })
        for _ = 1, 50 do
            local c = wire.connect(srv.port)
            c:bind("transceiver")
            for _ = 1, 20 do
                local b = { good:byte(1, -1) }
                for _ = 1, 3 do
                    local i = math.random(5, #b)                 -- keep command_length: framing holds
                    b[i] = math.random(0, 255)
                end
                pcall(c.send, c, string.char(unpack(b)))
            end
            c:close()
        end
        healthy()
    end)

    it("a PDU trickled one octet at a time (slowloris) is cut off by the init timer", function()
        local c = wire.connect(srv.port)
        local bytes = wire.bind("transceiver", 1, "smppclient1", "password")
        local t0 = socket.gettime()
        local closed = false
        for i = 1, #bytes do
            local ok = c.sock:send(bytes:sub(i, i))
            if not ok then closed = true break end
            healthy()                                         -- others are served meanwhile
            socket.sleep(0.15)
            if socket.gettime() - t0 > 4 then break end
        end
        assert.is_true(closed or c:closed(3))
        assert.is_true(socket.gettime() - t0 < 6)
    end)

    it("5,000 connections opened and abandoned without binding", function()
        local socks = {}
        for i = 1, 5000 do
            local s = socket.tcp()
            if not s:connect("127.0.0.1", srv.port) then break end
            socks[i] = s
        end
        assert.is_true(#socks >= 4000, "opened " .. #socks)
        healthy()
        for _, s in ipairs(socks) do s:close() end
        socket.sleep(1)
        healthy()
    end)

    it("a flood of binds with wrong passwords from one address locks it out", function()
        local refused = {}
        for _ = 1, 30 do
            local s = socket.tcp()
            s:bind("127.0.0.2", 0)
            assert(s:connect("127.0.0.1", srv.port))
            s:settimeout(5)
            local c = setmetatable({ sock = s, buf = "", seq = 0 }, getmetatable(bystander))
            local r = c:bind("transceiver", "victim", "guess")
            refused[r.status] = (refused[r.status] or 0) + 1
            c:close()
        end
        assert.equal(5, refused[0x0E])                       -- max_failures, then the lockout answers
        assert.equal(25, refused[0x0D])
        assert.is_true(srv:wait_log("bind lockout"))
        healthy()                                              -- 127.0.0.1 is not locked out
    end)

    it("a giant command_length", function()
        local c = wire.connect(srv.port)
        c:send(wire.u32(0xFFFFFFFF) .. wire.u32(4) .. wire.u32(0) .. wire.u32(9))
        local r = assert(c:read())
        assert.same({ id.generic_nack, 0x02, 9 }, { r.id, r.status, r.seq })
        assert.is_true(c:closed())
        healthy()
    end)

    it("100,000 pipelined enquire_links", function()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local batch = {}
        for i = 1, 1000 do batch[i] = wire.pdu(id.enquire_link, i) end
        batch = table.concat(batch)
        local got, buf = 0, ""
        c.sock:settimeout(0)
        local sent = 0
        local deadline = socket.gettime() + 60
        while (sent < 100 or got < 100000) and socket.gettime() < deadline do
            if sent < 100 then
                c.sock:settimeout(0.01)
                local n = c.sock:send(batch)
                if n then sent = sent + 1 end
            end
            c.sock:settimeout(0.01)
            local data, _, partial = c.sock:receive(65536)
            data = data or partial
            if data and #data > 0 then
                buf = buf .. data
                local n = math.floor(#buf / 16)
                got = got + n
                buf = buf:sub(n * 16 + 1)
            end
        end
        assert.equal(100000, got)
        c:close()
        healthy()
    end)

    it("a peer that sends and never reads its responses", function()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local pdus = {}
        for i = 1, 400 do pdus[i] = wire.submit_sm(1000 + i) end
        local chunk = table.concat(pdus)
        -- write until the server stops taking bytes: its output for us is
        -- full (session.max_output), so it stopped reading from us
        c.sock:settimeout(0.5)
        local paused = false
        for _ = 1, 5000 do
            if not c.sock:send(chunk) then paused = true break end
        end
        assert.is_true(paused)
        healthy()                              -- while the attacker is stuck
        c:close()
        healthy()
    end)

    it("memory comes back near its baseline #rss", function()
        collectgarbage()
        socket.sleep(1)
        local now = rss()
        assert.is_true(now < baseline + 40000, string.format("RSS %d kB, baseline %d kB", now, baseline))
    end)
end)

describe("#integration connection limits", function()
    it("refuses connections past max_per_address and counts them", function()
        local s = server.start { conf = [[return { script = 'script.lua', limits = { max_per_address = 20 },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = SCRIPT }
        local conns = {}
        for i = 1, 20 do conns[i] = wire.connect(s.port) end
        local extra = wire.connect(s.port)
        assert.is_true(extra:closed(3))                        -- the 21st is closed at once
        assert.equal(0, conns[1]:bind("transceiver").status)   -- the others work
        for _, c in ipairs(conns) do c:close() end
        socket.sleep(0.3)
        local again = wire.connect(s.port)                     -- room again
        assert.equal(0, again:bind("transceiver").status)
        again:close()
        local out = require("helpers.run").sh("curl -s http://127.0.0.1:" .. s.http_port .. "/stats")
        assert.matches('"refused_connections":1[,}]', out)
        -- the refused connection is still open on our side: TERM must not
        -- wait for it (it did once: only bound sessions ended the shutdown)
        assert.is_true(s:stop("TERM", 5))
        extra:close()
    end)
end)
