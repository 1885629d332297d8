-- http_limits_spec -- the HTTP server under clients that are not polite:
-- keep-alive and pipelining on one raw socket, connection limits,
-- head/body/idle timeouts, slow heads and slow bodies at max_connections,
-- bodies larger than their route takes, the token checked before any body is read,
-- duplicate Authorization headers, and an API address already in use.
local server = require "helpers.server"
local run = require "helpers.run"
local socket = require "socket"
local cjson = require "cjson"

local raw = require "helpers.rawhttp"
local connect, response, get, post, closed_by_server = raw.connect, raw.response, raw.get, raw.post,
    raw.closed_by_server

local function stats(srv, token)
    local s = connect(srv.http_port)
    s:send(get("/stats" .. (token and "?token=" .. token or ""), "Connection: close\r\n"))
    local status, _, body = response(s)
    s:close()
    assert.equal(200, status)
    return cjson.decode(body).totals
end

local function rss(pid)
    local f = assert(io.open("/proc/" .. pid .. "/status"))
    local kb = tonumber(f:read("*a"):match("VmRSS:%s*(%d+)"))
    f:close()
    return kb
end

-- A server for one case, stopped and its directory removed whatever happens.
local function start(http)
    local srv = server.start { conf = "return { script = 'script.lua', http = " .. (http or "{}") .. [[,
        accounts = { { system_id = 'smppclient1', password = 'password' } } }]],
        script = [[local http = require "smpp.http"
            http.route("POST", "/echo", function(req) return 200, { got = req.data } end)
            return {}]] }
    finally(function()
        if not srv:stop("TERM", 5) then srv:kill() end
        os.execute("rm -rf " .. srv.dir)
    end)
    return srv
end

-- -- keep-alive and pipelining --------------------------------------------------------

describe("#integration HTTP keep-alive and pipelining", function()
    it("answers many requests one after another on one connection", function()
        local srv = start()
        local s = connect(srv.http_port)
        finally(function() s:close() end)
        for i = 1, 25 do
            if i % 2 == 0 then s:send(get("/stats")) else s:send(post("/echo", '{"n":' .. i .. '}')) end
            local status, h, body = response(s)
            assert.equal(200, status, "request " .. i .. ": " .. tostring(body))
            assert.is_nil(h.connection)                    -- kept open
            if i % 2 == 1 then assert.equal(i, cjson.decode(body).got.n) end
        end
    end)

    it("answers pipelined requests sent in one write, in order", function()
        local srv = start()
        local s = connect(srv.http_port)
        finally(function() s:close() end)
        local batch, want = {}, {}
        for i = 1, 30 do
            if i % 3 == 0 then
                batch[i], want[i] = get("/nope" .. i), 404
            elseif i % 3 == 1 then
                batch[i], want[i] = post("/echo", '{"n":' .. i .. '}'), 200
            else
                batch[i], want[i] = get("/metrics"), 200
            end
        end
        assert(s:send(table.concat(batch)))
        for i = 1, 30 do
            local status, _, body = response(s)
            assert.equal(want[i], status, "request " .. i)
            if i % 3 == 1 then assert.equal(i, cjson.decode(body).got.n) end
            if i % 3 == 0 then assert.matches("/nope" .. i, cjson.decode(body).error, 1, true) end
        end
        -- and a last one, answered and closed on request
        s:send(get("/stats", "Connection: close\r\n"))
        local status, h = response(s)
        assert.equal(200, status)
        assert.equal("close", h.connection)
        assert.is_true(closed_by_server(s))
    end)
end)

-- -- limits ----------------------------------------------------------------------------------

describe("#integration HTTP connection limits", function()
    it("refuses connections past http.max_per_address with 503, and counts them", function()
        local srv = start("{ listen = '127.0.0.1:0', max_per_address = 4 }")
        local held = {}
        finally(function() for _, s in ipairs(held) do s:close() end end)
        for i = 1, 4 do held[i] = connect(srv.http_port) end
        local extra = connect(srv.http_port)
        extra:send(get("/stats"))
        local status = response(extra)
        assert.is_true(status == 503 or status == nil)     -- 503, or closed before it could be read
        assert.is_true(closed_by_server(extra))
        extra:close()
        -- another address still gets in, and sees the count
        local other = connect(srv.http_port, "127.0.0.2")
        other:send(get("/stats", "Connection: close\r\n"))
        local st, _, body = response(other)
        other:close()
        assert.equal(200, st)
        local totals = cjson.decode(body).totals
        assert.equal(1, totals.http_refused_connections)
        assert.equal(5, totals.http_connections)
        assert.is_true(srv:wait_log("HTTP connection from 127%.0%.0%.1 refused: too many HTTP connections from this address"))
    end)

    it("refuses connections past http.max_connections", function()
        local srv = start("{ listen = '127.0.0.1:0', token = 's3cret', max_connections = 3, max_per_address = 0 }")
        local held = {}
        finally(function() for _, s in ipairs(held) do s:close() end end)
        -- the admin's bodies on their way: no slot can be made free for a newcomer
        for i = 1, 3 do
            held[i] = connect(srv.http_port)
            held[i]:send("POST /echo HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\n"
                .. "Content-Length: 8\r\nExpect: 100-continue\r\n\r\n")
            assert.equal("HTTP/1.1 100 Continue", held[i]:receive("*l"))
        end
        local extra = connect(srv.http_port, "127.0.0.3")
        assert.is_true(closed_by_server(extra))
        extra:close()
        held[1]:close()
        table.remove(held, 1)
        assert.is_true(srv:wait_log("too many HTTP connections %(http.max_connections%)"))
        -- a slot is free again once one closes
        local deadline = socket.gettime() + 5
        local totals
        repeat
            local ok, t = pcall(stats, srv, "s3cret")
            totals = ok and t or nil
        until totals or socket.gettime() > deadline
        assert.is_not_nil(totals)
        assert.is_true(totals.http_refused_connections >= 1)
    end)
end)

describe("#integration HTTP timeouts", function()
    it("answers 408 to a head or a body that stalls, and closes idle connections", function()
        local srv = start("{ listen = '127.0.0.1:0', header_timeout = 0.5, body_timeout = 0.5, idle_timeout = 0.5 }")
        local slow_head = connect(srv.http_port)
        local slow_body = connect(srv.http_port)
        local idle = connect(srv.http_port)
        local silent = connect(srv.http_port)
        finally(function()
            for _, s in ipairs { slow_head, slow_body, idle, silent } do s:close() end
        end)
        slow_head:send("GET /stats HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        slow_body:send("POST /echo HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\":")
        idle:send(get("/stats"))
        assert.equal(200, (response(idle)))
        local status, _, body = response(slow_head)
        assert.equal(408, status)
        assert.matches("head not received in time", body)
        status, _, body = response(slow_body)
        assert.equal(408, status)
        assert.matches("body not received in time", body)
        assert.is_true(closed_by_server(slow_head))
        assert.is_true(closed_by_server(idle))           -- idle_timeout after its answer
        assert.is_true(closed_by_server(silent))         -- never sent a byte: header_timeout
        local t = stats(srv)
        -- the slow head, the slow body and the silent one; not the idle
        -- connection closed after its answer
        assert.equal(3, t.http_timeouts)
    end)
end)

describe("#integration HTTP slow heads at max_connections", function()
    it("a flood of slow heads from many addresses cannot keep a client with the token out", function()
        local srv = start("{ listen = '127.0.0.1:0', token = 's3cret', max_connections = 16, max_per_address = 4, "
            .. "header_timeout = 60 }")
        -- 6 addresses x 4 connections (more than the 16 slots), each sending
        -- half a request head and opening a new connection as soon as one
        -- is closed (once, 400 such connections kept all 256 slots)
        local attackers = {}
        local function attack(i)
            local s = assert(socket.tcp())
            assert(s:bind("127.0.0." .. (20 + (i - 1) % 6), 0))
            s:settimeout(2)
            assert(s:connect("127.0.0.1", srv.http_port))
            s:send("GET /stats HTTP/1.1\r\nHost: t\r\n")
            s:settimeout(0)
            attackers[i] = s
        end
        finally(function() for _, s in pairs(attackers) do s:close() end end)
        for i = 1, 24 do attack(i) end
        local answered, reconnected = 0, 0
        for _ = 1, 20 do
            for i, s in ipairs(attackers) do
                local _, err = s:receive("*a")    -- without waiting: "closed" once the server closed it
                if err == "closed" then
                    s:close()
                    attack(i)
                    reconnected = reconnected + 1
                end
            end
            local c = connect(srv.http_port)
            c:send(get("/stats", "Authorization: Bearer s3cret\r\nConnection: close\r\n"))
            if response(c) == 200 then answered = answered + 1 end
            c:close()
        end
        assert.equal(20, answered)
        assert.is_true(reconnected >= 10, reconnected .. " attacker reconnections")
        local t = stats(srv, "s3cret")
        assert.is_true(t.http_evicted_connections >= 20, tostring(t.http_evicted_connections))
        assert.is_true(t.http_connections <= 16)
        assert.is_true(srv:wait_log("HTTP connection closed to make room for a new one"))
    end)

    it("never takes the slot of an authorised body; a slow head goes before a kept-alive client", function()
        local srv = start("{ listen = '127.0.0.1:0', token = 's3cret', max_connections = 2, max_per_address = 0 }")
        -- two authorised bodies on their way ("100 Continue": their heads passed)
        local function body_started(from)
            local b = connect(srv.http_port, from)
            b:send("POST /echo HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\n"
                .. "Content-Length: 8\r\nExpect: 100-continue\r\n\r\n")
            assert.equal("HTTP/1.1 100 Continue", b:receive("*l"))
            assert.equal("", b:receive("*l"))
            return b
        end
        local b1, b2 = body_started("127.0.0.1"), body_started("127.0.0.2")
        -- nothing can make room: refused
        local x = connect(srv.http_port, "127.0.0.3")
        assert.is_true(closed_by_server(x))
        assert.is_true(srv:wait_log("too many HTTP connections %(http.max_connections%)"))
        -- b2 is answered and kept alive: a slow head takes its slot
        b2:send('{"n":2}\n')
        assert.equal(200, (response(b2)))
        local slow = connect(srv.http_port, "127.0.0.4")
        slow:send("GET /stats HTTP/1.1\r\n")
        assert.is_true(closed_by_server(b2))
        -- a client with the token takes the slow head's slot, not b1's
        local c = connect(srv.http_port, "127.0.0.5")
        c:send(get("/stats?token=s3cret"))
        assert.equal(200, (response(c)))
        assert.is_true(closed_by_server(slow))
        b1:send('{"n":1}\n')
        local st, _, out = response(b1)
        assert.equal(200, st)
        assert.equal(1, cjson.decode(out).got.n)
    end)
end)

describe("#integration HTTP slow bodies at max_connections", function()
    -- a request head with Expect: 100-continue from `from`, then the start
    -- of the body and nothing more: once "100 Continue" is read, the server
    -- is reading its body (the head passed)
    local function slow_body(srv, from, path, auth)
        local s = assert(socket.tcp())
        assert(s:bind(from, 0))
        s:settimeout(5)
        assert(s:connect("127.0.0.1", srv.http_port))
        s:send("POST " .. path .. " HTTP/1.1\r\nHost: t\r\n" .. (auth and "Authorization: Bearer " .. auth .. "\r\n" or "")
            .. "Content-Type: application/json\r\nContent-Length: 200000\r\nExpect: 100-continue\r\n\r\n")
        assert.equal("HTTP/1.1 100 Continue", s:receive("*l"))
        assert.equal("", s:receive("*l"))
        s:send("[1")
        s:settimeout(0)
        return s
    end

    -- 16 slots, 4 per address: 24 slow bodies from 6 addresses, each
    -- reopened as soon as the server closes it, while a prompt client asks
    -- 20 times (once, every later client got 503 for body_timeout)
    local function flood(srv, auth, client)
        local attackers = {}
        finally(function() for _, s in pairs(attackers) do s:close() end end)
        local function attack(i)
            local ok, s = pcall(slow_body, srv, "127.0.0." .. (20 + (i - 1) % 6), "/send", auth)
            attackers[i] = ok and s or nil
        end
        for i = 1, 24 do attack(i) end
        local answered, reconnected = 0, 0
        for _ = 1, 20 do
            for i = 1, 24 do
                local s = attackers[i]
                local err = s and select(2, s:receive("*a"))   -- without waiting: "closed" once closed
                if not s or err == "closed" then
                    if s then s:close() end
                    attack(i)
                    reconnected = reconnected + 1
                end
            end
            local c = connect(srv.http_port)
            c:send(client)
            if response(c) == 200 then answered = answered + 1 end
            c:close()
        end
        assert.equal(20, answered)
        assert.is_true(reconnected >= 10, reconnected .. " attacker reconnections")
        assert.is_true(srv:wait_log("HTTP connection closed to make room for a new one: at http.max_connections, "
            .. "the one from 127%.0%.0%.2%d, as it had waited longest in the middle of a request"))
    end

    it("without a token: a flood of slow bodies cannot keep a prompt client out", function()
        local srv = start("{ listen = '127.0.0.1:0', max_connections = 16, max_per_address = 4 }")
        flood(srv, nil, get("/stats", "Connection: close\r\n"))
        assert.is_true(stats(srv).http_evicted_connections >= 20)
    end)

    it("an account's token cannot lock the admin out with slow bodies", function()
        local srv = server.start { conf = "return " .. server.lua {
            script = "script.lua", store = { path = ":memory:" },
            http = { listen = "127.0.0.1:0", token = "s3cret", max_connections = 16, max_per_address = 4 },
            accounts = { { system_id = "app", password = "pw", http = { token = "app-t" } } },
        }, script = "return {}" }
        flood(srv, "app-t", get("/stats", "Authorization: Bearer s3cret\r\nConnection: close\r\n"))
        -- the admin's own slow body is never the one taken
        local mine = slow_body(srv, "127.0.0.9", "/send", "s3cret")
        for i = 1, 20 do
            local c = connect(srv.http_port, "127.0.0." .. (40 + i % 4))
            c:send(get("/stats", "Authorization: Bearer s3cret\r\nConnection: close\r\n"))
            assert.equal(200, (response(c)), "request " .. i)
            c:close()
        end
        mine:settimeout(0)
        local _, err = mine:receive("*a")
        assert.equal("timeout", err)                     -- still open: not taken
        mine:close()
    end)
end)

describe("#integration HTTP bodies larger than the route takes", function()
    it("are refused with 413 at the head, before any of the body is read", function()
        local srv = start("{ listen = '127.0.0.1:0', max_per_address = 0, max_connections = 1000 }")
        local function head_only(path, len)
            local s = connect(srv.http_port)
            s:send("POST " .. path .. " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: "
                .. len .. "\r\n\r\n")
            local status, _, body = response(s, 3)
            s:close()
            return status, body
        end
        -- /send takes a message (256 KiB), /reload and the GET routes next to nothing
        local status, body = head_only("/send", 262145)
        assert.equal(413, status)
        assert.matches("body larger than 262144 octets %(what this route takes%)", body)
        status, body = head_only("/reload", 1025)
        assert.equal(413, status)
        assert.matches("larger than 1024 octets", body)
        local s = connect(srv.http_port)
        s:send("GET /stats HTTP/1.1\r\nContent-Length: 5000\r\n\r\n")
        assert.equal(413, (response(s, 3)))
        s:close()
        -- a chunked body is cut off where it passes the route's limit
        s = connect(srv.http_port)
        s:send("POST /send HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .. "40001\r\n" .. ("x"):rep(262145) .. "\r\n0\r\n\r\n")
        assert.equal(413, (response(s, 3)))
        s:close()
        -- a script's route takes up to http.max_body
        local big = '{"s":"' .. ("x"):rep(500000) .. '"}'
        s = connect(srv.http_port)
        s:send(post("/echo", big))
        status, _, body = response(s)
        assert.equal(200, status)
        assert.equal(500000, #cjson.decode(body).got.s)
        s:close()
        -- within the limit, /send and a GET with a small body are read as before
        s = connect(srv.http_port)
        s:send(post("/send", '{"to":"1","text":"x"}'))
        assert.equal(501, (response(s)))                -- read, checked, and no http_send handler
        s:send("GET /stats HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
        assert.equal(200, (response(s)))
        s:close()
    end)

    it("are read as they come: 300 bodies declaring 1 MiB and sending little keep memory flat #rss", function()
        local srv = start("{ listen = '127.0.0.1:0', max_per_address = 0, max_connections = 1000 }")
        local before = rss(srv.pid)
        local conns = {}
        finally(function() for _, s in ipairs(conns) do s:close() end end)
        for i = 1, 300 do
            local s = connect(srv.http_port)
            conns[i] = s
            s:send("POST /echo HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n"
                .. "Expect: 100-continue\r\n\r\n")
        end
        for _, s in ipairs(conns) do                     -- every head passed: the bodies are being read
            assert.equal("HTTP/1.1 100 Continue", s:receive("*l"))
            assert.equal("", s:receive("*l"))
            s:send('{"a":1')
        end
        local t = stats(srv)
        assert.equal(301, t.http_connections)
        local grew = rss(srv.pid) - before
        assert.is_true(grew < 30000, "RSS grew by " .. grew .. " kB")
    end)
end)

-- -- the token ---------------------------------------------------------------------------

describe("#integration HTTP token", function()
    local TOKEN = "{ listen = '127.0.0.1:0', token = 's3cret', max_per_address = 0, max_connections = 1000 }"

    it("refuses an unauthenticated POST on its head, without waiting for the 1 MiB body", function()
        local srv = start(TOKEN)
        local s = connect(srv.http_port)
        finally(function() s:close() end)
        -- only the head is sent: the answer must not wait for the body
        s:send("POST /send HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
        local status, h, body = response(s, 3)
        assert.equal(401, status)
        assert.equal("close", h.connection)
        assert.matches("missing or wrong token", cjson.decode(body).error)
        -- with Expect: 100-continue an authorised client is told to go on; a
        -- wrong token is refused before the body
        local e = connect(srv.http_port)
        e:send("POST /echo HTTP/1.1\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\n"
            .. "Content-Length: 8\r\nExpect: 100-continue\r\n\r\n")
        assert.equal("HTTP/1.1 100 Continue", e:receive("*l"))
        assert.equal("", e:receive("*l"))
        e:send('{"n":42}')
        local st, _, b = response(e)
        assert.equal(200, st)
        assert.equal(42, cjson.decode(b).got.n)
        e:send("POST /echo HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Length: 8\r\nExpect: 100-continue\r\n\r\n")
        assert.equal(401, (response(e)))
        e:close()
        -- the token in the query, and per request on a kept-alive connection
        local k = connect(srv.http_port)
        k:send(get("/stats?token=s3cret"))
        assert.equal(200, (response(k)))
        k:send(get("/stats?token=s3cre"))
        assert.equal(401, (response(k)))
        k:close()
    end)

    it("refuses two Authorization headers with 400 instead of letting the last win", function()
        local srv = start(TOKEN)
        local s = connect(srv.http_port)
        finally(function() s:close() end)
        s:send(get("/stats", "Authorization: Bearer wrong\r\nAuthorization: Bearer s3cret\r\n"))
        local status, _, body = response(s)
        assert.equal(400, status)
        assert.matches("two Authorization headers", cjson.decode(body).error)
        local t = connect(srv.http_port)
        t:send(get("/stats", "Authorization: Bearer s3cret\r\nAuthorization: Bearer wrong\r\n"))
        assert.equal(400, (response(t)))
        t:close()
    end)

    it("keeps memory flat under 300 unauthenticated connections each sending 256 KiB #rss", function()
        local srv = start(TOKEN)
        local before = rss(srv.pid)
        local chunk = ("x"):rep(65536)
        local conns = {}
        finally(function() for _, s in ipairs(conns) do s:close() end end)
        for i = 1, 300 do
            local s = connect(srv.http_port)
            conns[i] = s
            s:settimeout(0)
            s:send("POST /send HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            for _ = 1, 4 do s:send(chunk) end
        end
        local answered = 0
        for _, s in ipairs(conns) do
            s:settimeout(5)
            if response(s) == 401 then answered = answered + 1 end
        end
        assert.equal(300, answered)
        local grew = rss(srv.pid) - before
        assert.is_true(grew < 30000, "RSS grew by " .. grew .. " kB")
        assert.equal(300, stats(srv, "s3cret").http_unauthorized)
    end)
end)

-- -- start-up -------------------------------------------------------------------------------

describe("#integration HTTP listen address in use", function()
    it("is a start-up error naming the address, exit non-zero", function()
        local holder = assert(socket.bind("127.0.0.1", 0))
        local _, port = holder:getsockname()
        local dir = os.tmpname()
        os.remove(dir)
        os.execute("mkdir -p " .. dir)
        finally(function()
            holder:close()
            os.execute("rm -rf " .. dir)
        end)
        local f = assert(io.open(dir .. "/conf.lua", "w"))
        f:write("return { http = { listen = '127.0.0.1:" .. port .. "' } }")
        f:close()
        -- `timeout` turns the old behaviour (running on without the API) into exit 124
        local _, err, rc = run.sh("timeout 10 " .. run.bin .. " run " .. dir .. "/conf.lua -l 127.0.0.1:0")
        assert.equal(1, rc, err)
        assert.matches("cannot listen for HTTP on 127%.0%.0%.1:" .. port .. ": address already in use", err)
    end)
end)
