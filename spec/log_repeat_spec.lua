-- log_repeat_spec -- identical log lines are printed once, then counted
-- ("[... repeated N more times in S s]"), so a client that makes the
-- script warn on every message cannot fill the disk.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

-- Every submit_sm makes the same warning (as a transmitter-only client
-- asking for receipts did: one identical line per message).
local SCRIPT = [[
local smpp = require "smpp"
return { submit_sm = function(session, pdu)
    smpp.log("warn", "no receiver for the receipts of %s to %s", session.system_id, pdu.destination_addr)
    return 0, { message_id = "m" }
end }]]

local function conf(log)
    return "return { script = 'script.lua', log = " .. log .. [[,
        accounts = { { system_id = 'smppclient1', password = 'password' } } }]]
end

-- n submits on one bound session, every one answered ESME_ROK.
local function submit(srv, n, to)
    local c = wire.connect(srv.port)
    assert.equal(0, c:bind("transmitter").status)
    for i = 1, n do c:send(wire.submit_sm(i + 1, { registered_delivery = 1, destination_addr = to or "447700900123" })) end
    for _ = 1, n do assert.equal(0, assert(c:read(10)).status) end
    return c
end

local LINE = "no receiver for the receipts of smppclient1 to 447700900123"

-- A server for one case, killed (if still running) and its directory
-- removed when the case ends, whatever happened.
local function start(opts)
    local srv = server.start(opts)
    finally(function()
        if not srv:exit_code() then srv:kill() end
        os.execute("rm -rf " .. srv.dir)
    end)
    return srv
end

local function stopped(srv)
    assert.is_true(srv:stop("TERM", 10))
    return srv:log_text()
end

describe("#integration repeated log lines", function()
    it("a flood of failed binds, each its own connection, logs far fewer lines than binds", function()
        local N = 200
        local srv = start { conf = "return { script = 'script.lua', security = { failure_delay = 0, bind_rate = 0 }, "
            .. "accounts = { { system_id = 'smppclient1', password = 'password' } } }", script = SCRIPT }
        for _ = 1, N do
            local c = wire.connect(srv.port)
            assert.is_true(c:bind("transceiver", "smppclient1", "wrong").status ~= 0)
            c:close()
        end
        local text = stopped(srv)
        local lines = select(2, text:gsub("\n", ""))
        -- before: 4 lines a bind (connect, refused, its status, close), 800 lines
        assert.is_true(lines < N / 4, lines .. " lines for " .. N .. " failed binds:\n" .. text)
        assert.matches("%] bind of 'smppclient1' from 127%.0%.0%.1 refused: locked out until [%dT:Z-]+ "
            .. "%[%.%.%. repeated %d+ more times in %d+ s, %d+ of them in other sessions%]", text)
        assert.matches("%] connection from 127%.0%.0%.1 %[%.%.%. repeated " .. (N - 1) .. " more times", text)
    end)

    it("without a window every copy is printed (the flood this guards against)", function()
        local srv = start { conf = conf("{ repeat_window = 0 }"), script = SCRIPT }
        submit(srv, 500):close()
        local text = stopped(srv)
        local _, n = text:gsub(LINE, "")
        assert.equal(500, n)
    end)

    it("prints an identical line once per window, then its count", function()
        local srv = start { conf = conf("{ level = 'info' }"), script = SCRIPT }
        submit(srv, 2000):close()
        local _, n = srv:log_text():gsub(LINE, "")
        assert.equal(1, n)                   -- one line for 2000 warnings so far
        -- a different line is never held back by the first one's count
        -- (warnings that differ only in their numbers are copies)
        submit(srv, 3, "voicemail"):close()
        _, n = srv:log_text():gsub("to voicemail", "")
        assert.equal(1, n)
        local text = stopped(srv)            -- the counts are printed by exit at the latest
        assert.matches(LINE .. " %[%.%.%. repeated 1999 more times in %d+ s%]", text)
        assert.matches("to voicemail %[%.%.%. repeated 2 more times", text)
        _, n = text:gsub(LINE, "")
        assert.equal(2, n)                   -- the line and its count
    end)

    it("prints the count when the window has passed, and the line again (JSON lines too)", function()
        local srv = start { conf = conf("{ format = 'json', repeat_window = 0.3 }"), script = SCRIPT }
        local c = submit(srv, 50)
        -- any later line after the window brings the count out: new
        -- connections log one each, until the count shows up
        local deadline = wire.gettime() + 5
        while not srv:log_text():find('"repeated":49', 1, true) and wire.gettime() < deadline do
            wire.connect(srv.port):close()
            wire.sleep(0.05)
        end
        assert.truthy(srv:log_text():find('"repeated":49', 1, true))
        for i = 1, 5 do c:send(wire.submit_sm(100 + i)) end
        for _ = 1, 5 do assert.equal(0, c:read().status) end
        c:close()
        local text = stopped(srv)
        local _, n = text:gsub('"msg":"' .. LINE .. '"', "")
        assert.equal(4, n)                   -- the line, its count, the line again, its count
        assert.truthy(text:find('"repeated":4,', 1, true))
    end)

    it("a receipt refused for each message of a full outbox, each line naming its own id, logs one line and "
        .. "a count", function()
        local N, ROOM = 60, 5
        local up = start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } },
                                                     smsc = { reject = {}, rules = {} } } }
        local gw = start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", log = { level = "info" },
            store = { path = "gw.db", limits = { outbox_per_account = ROOM } },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = "U" } } } } }
        assert(gw:wait_log("upstream U: bind 1 up", 5), gw:log_text())
        -- a transmitter only: every receipt goes to the outbox, which holds ROOM
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transmitter", "esme1", "pw1").status)
        for i = 1, N do c:send(wire.submit_sm(i + 1, { registered_delivery = 1 })) end
        for _ = 1, N do assert.equal(0, assert(c:read(10)).status) end
        assert.is_true(wait.wait_until(function()
            return gw:stats().gateway.queues.U.receipts_refused >= N - ROOM
        end, 10), gw:log_text())
        c:close()
        local text = stopped(gw)
        local _, n = text:gsub("not queued for esme1", "")
        -- before: one line per refused receipt (the ids are hex: their
        -- letters kept the lines apart), N - ROOM lines and more
        assert.is_true(n <= 2, n .. " lines:\n" .. text:sub(1, 4000))
        assert.matches("receipt from U for %x+ not queued for esme1: [^\n]*; answered ESME_RX_T_APPN "
            .. "%[%.%.%. %d+ more of this kind in %d+ s%]", text)
    end)

    it("a second account whose outbox fills is named although the first one's refusals are being counted",
        function()
        local N, ROOM = 40, 5
        local up = start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } },
                                                     smsc = { reject = {}, rules = {} } } }
        local gw = start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", log = { level = "info" },
            store = { path = "gw.db", limits = { outbox_per_account = ROOM } },
            accounts = { { system_id = "esme1", password = "pw1" }, { system_id = "esme2", password = "pw2" } },
            upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = "U" } } } } }
        assert(gw:wait_log("upstream U: bind 1 up", 5), gw:log_text())
        local function flood(sid, pw, want)
            local c = wire.connect(gw.port)
            assert.equal(0, c:bind("transmitter", sid, pw).status)
            for i = 1, N do c:send(wire.submit_sm(i + 1, { registered_delivery = 1 })) end
            for _ = 1, N do assert.equal(0, assert(c:read(10)).status) end
            assert.is_true(wait.wait_until(function()
                return gw:stats().gateway.queues.U.receipts_refused >= want
            end, 10), gw:log_text())
            return c
        end
        local c1 = flood("esme1", "pw1", N - ROOM)
        local c2 = flood("esme2", "pw2", 2 * (N - ROOM))
        c1:close()
        c2:close()
        local text = stopped(gw)
        for _, sid in ipairs { "esme1", "esme2" } do
            local _, n = text:gsub("not queued for " .. sid, "")
            assert.is_true(n >= 1 and n <= 2, sid .. ": " .. n .. " lines:\n" .. text:sub(1, 4000))
        end
    end)

    it("a peer making a new warning with every PDU (its own command_ids and sequence_numbers) cannot fill the log",
        function()
        local N = 3000
        local srv = start { conf = conf("{ level = 'info' }"), script = SCRIPT }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local batch = {}
        for i = 1, N do
            -- ids of the peer's choosing, letters among the digits (0x0000abcd, ...)
            batch[#batch + 1] = wire.pdu(0x0000a000 + i % 0x1000, i + 1, "")
            if #batch == 100 then c:send(table.concat(batch)); batch = {} end
        end
        for i = 1, N do
            local r = assert(c:read(10), "generic_nack " .. i)
            assert.equal(wire.id.generic_nack, r.id)
        end
        c:close()
        local text = stopped(srv)
        local warned = 0
        for line in text:gmatch("[^\n]+") do
            if line:find("unknown command_id", 1, true) and not line:find("repeated", 1, true) then warned = warned + 1 end
        end
        -- before: one line per PDU, 3000 lines; now the command_id (0x hex) and the
        -- sequence_number are numbers: one line and its count
        assert.equal(1, warned, warned .. " lines for " .. N .. " unknown command_ids:\n" .. text:sub(1, 4000))
        assert.matches("unknown command_id 0x0000A001 %(sequence_number 2%): generic_nack %[%.%.%. repeated 2999 more", text)
    end)

    it("a peer pipelining past its receive window gets its refusals, not a log line for each", function()
        local N = 2000
        -- a handler that waits, so two are in hand and the rest refused
        local slow = [[local smpp = require "smpp"
return { submit_sm = function() smpp.sleep(0.01) return 0, { message_id = "m" } end }]]
        local srv = start { conf = "return { script = 'script.lua', session = { receive_window = 2 }, "
            .. "accounts = { { system_id = 'smppclient1', password = 'password' } } }", script = slow }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local batch = {}
        for i = 1, N do batch[#batch + 1] = wire.submit_sm(i + 1) end
        c:send(table.concat(batch))
        local throttled = 0
        for i = 1, N do
            local r = assert(c:read(10), "answer " .. i)
            if r.status == 0x58 then throttled = throttled + 1 end
        end
        c:close()
        assert.is_true(throttled > 0)
        local text = stopped(srv)
        local lines = 0
        for line in text:gmatch("[^\n]+") do
            if line:find("receive window full", 1, true) and not line:find("repeated", 1, true) then lines = lines + 1 end
        end
        -- before: one info line per refusal
        assert.is_true(lines <= 20, lines .. " lines for " .. throttled .. " refusals")
    end)

    it("prints a window's count when it ends, with no later line to carry it", function()
        local srv = start { conf = conf("{ repeat_window = 0.3 }"), script = SCRIPT }
        local c = submit(srv, 30)
        -- nothing else happens: the count still comes out within about a second
        assert.truthy(wait.wait_until(function()
            return srv:log_text():find(LINE .. " [... repeated 29 more times", 1, true)
        end, 5), srv:log_text())
        c:close()
    end)

    it("many connections each within their own 20 lines still print at most 200 a window", function()
        local srv = start { conf = "return { script = 'script.lua', security = { failure_delay = 0, bind_rate = 0, "
            .. "max_failures = 1000000 }, limits = { max_per_address = 0 }, "
            .. "accounts = { { system_id = 'smppclient1', password = 'password' } } }", script = SCRIPT }
        local function name(i)                     -- letters only: no number to fold
            local t = {}
            for k = 1, 4 do t[k] = string.char(97 + math.floor(i / 26 ^ (k - 1)) % 26) end
            return table.concat(t)
        end
        for i = 1, 400 do                          -- each its own session, a system_id of the peer's choosing
            local c = wire.connect(srv.port)
            assert.is_true(c:bind("transceiver", name(i), "x").status ~= 0)
            c:close()
        end
        local text = stopped(srv)
        local lines = 0
        for line in text:gmatch("[^\n]+") do
            if line:find("bind of '", 1, true) and not line:find("repeated", 1, true) then lines = lines + 1 end
        end
        -- before: a line or two for each of the 400 binds
        assert.is_true(lines <= 200, lines .. " lines")
        assert.matches("%d+ more warnings and errors of sessions not printed", text)
    end)
end)
