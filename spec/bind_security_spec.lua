-- bind_security_spec -- binds that can neither lock the real user out nor
-- stall the event loop: lockouts per address and per (address,
-- system_id), a bounded failure table, the cheap checks before any hash,
-- hashes on the thread pool (bounded, with a cache that a wrong password
-- never hits).
local wire = require "helpers.wire"
local server = require "helpers.server"
local security = require "smpp.security"
local socket = require "socket"
local cjson = require "cjson"

local RINVPASWD, RINVSYSID, RBINDFAIL = 0x0E, 0x0F, 0x0D

local HASH = security.hash("pw123", 100000)       -- as smppgw passwd makes it (~50 ms to verify)
-- pw123 at 1,000,000 iterations, ~0.4 s a hash (made once with security.hash, not per run): holds its
-- slot long enough that what a test sends meanwhile finds it taken, however slow the machine
local SLOW = "pbkdf2-sha256$1000000$6773a145563760dccc91c6dced899761$"
    .. "5b03ceecfda2792cd1832dfb331c871d8122ca8e451c7c7c06542978d225efa7"

-- A client connected from a given loopback address.
local function connect_from(port, from)
    local s = assert(socket.tcp())
    assert(s:bind(from or "127.0.0.1", 0))
    s:settimeout(10)
    assert(s:connect("127.0.0.1", port))
    s:setoption("tcp-nodelay", true)
    return setmetatable({ sock = s, buf = "", seq = 0 }, getmetatable(wire.connect(port)))
end

local function bind_status(srv, from, user, pw, kind)
    local c = connect_from(srv.port, from)
    local r = assert(c:bind(kind or "transceiver", user, pw))
    c:close()
    return r.status
end

local function stats(srv)
    local http = require "socket.http"
    local body = assert(http.request("http://127.0.0.1:" .. srv.http_port .. "/stats"))
    return cjson.decode(body)
end

local function start(security_conf, accounts)
    local srv = server.start { conf = "return { script = 'script.lua', security = " .. security_conf
        .. ", accounts = " .. accounts .. " }", script = "return {}" }
    finally(function()
        local stopped = srv:stop("TERM", 10)
        if not stopped then srv:kill() end
        local code = srv:wait_exit(5)
        -- binds that hash or wait for a slot at shutdown end cleanly too; the log
        -- goes to standard error (TAP comments) when not, even if the test failed first
        if not (stopped and code == 0) then
            io.stderr:write(("smppgw did not stop cleanly (exit %s); its log ends:\n%s\n"):format(tostring(code),
                srv:log_text():sub(-3000)))
        end
        os.execute("rm -rf " .. srv.dir)
        assert(stopped and code == 0, "smppgw did not stop cleanly (exit " .. tostring(code) .. ")")
    end)
    return srv
end

local USERS = "{ { system_id = 'victim', password = 'right' }, { system_id = 'other', password = 'pw' } }"

describe("#integration bind lockouts", function()
    it("wrong passwords from one address do not lock the user out of another", function()
        local srv = start("{ max_failures = 3, lockout = 60, failure_delay = 0 }", USERS)
        for _ = 1, 3 do assert.equal(RINVPASWD, bind_status(srv, "127.0.0.2", "victim", "guess")) end
        -- the attacker's address is locked out for that system_id, even with the right password
        assert.equal(RBINDFAIL, bind_status(srv, "127.0.0.2", "victim", "right"))
        assert.is_true(srv:wait_log("bind lockout for 60s: 3 failed binds of 'victim' from 127%.0%.0%.2"))
        -- the real user, elsewhere, is not (it was locked out everywhere, renewably)
        assert.equal(0, bind_status(srv, "127.0.0.1", "victim", "right"))
        -- and the attacker's address may still bind another account
        assert.equal(0, bind_status(srv, "127.0.0.2", "other", "pw"))
    end)

    it("a success from one address does not clear the failures of another", function()
        local srv = start("{ max_failures = 3, lockout = 60, failure_delay = 0 }", USERS)
        -- 8 rotating addresses, 5 guesses each, with the user's own successful
        -- binds in between (that once gave 40 of 40 guesses and no lockout)
        local guessed, locked = 0, 0
        for round = 1, 5 do
            for a = 10, 17 do
                local st = bind_status(srv, "127.0.0." .. a, "victim", "guess" .. round)
                if st == RINVPASWD then guessed = guessed + 1 elseif st == RBINDFAIL then locked = locked + 1 end
                assert.equal(0, bind_status(srv, "127.0.0.1", "victim", "right"))
            end
        end
        assert.equal(8 * 3, guessed)                -- max_failures per address, then locked out
        assert.equal(8 * 2, locked)
    end)

    it("locks out an address that tries many system_ids (max_address_failures)", function()
        local srv = start("{ max_failures = 3, max_address_failures = 4, lockout = 60, failure_delay = 0 }", USERS)
        for i = 1, 4 do assert.equal(RINVSYSID, bind_status(srv, "127.0.0.5", "nobody" .. i, "x")) end
        assert.equal(RBINDFAIL, bind_status(srv, "127.0.0.5", "other", "pw"))
        assert.is_true(srv:wait_log("bind lockout for 60s: 4 failed binds from 127%.0%.0%.5"))
        assert.equal(0, bind_status(srv, "127.0.0.1", "other", "pw"))
    end)

    it("keeps the failure table within max_tracked, shown in /stats", function()
        local srv = start("{ max_failures = 3, lockout = 60, failure_delay = 0, max_tracked = 20, bind_rate = 0 }", USERS)
        for a = 1, 15 do
            for _, who in ipairs { "victim", "x" .. a } do
                bind_status(srv, "127.0.1." .. a, who, "bad")
            end
        end
        local s = stats(srv)
        -- 15 addresses x 3 entries made (the address, two pairs), 20 kept
        assert.equal(20, s.security.tracked)
        assert.equal(25, s.security.tracked_evicted)
        assert.equal(20, s.gauges.bind_tracked.value)
        assert.equal(20, s.gauges.bind_tracked.limit)
    end)
end)

describe("#integration bind pace", function()
    it("slows an address that binds in a loop to bind_rate, not other addresses", function()
        local srv = start("{ bind_rate = 20, bind_burst = 5 }", USERS)
        -- 16 connections from one address, each binding, closing and binding again
        local t0, done = socket.gettime(), 0
        local conns = {}
        finally(function() for _, c in pairs(conns) do c:close() end end)
        for i = 1, 16 do
            conns[i] = connect_from(srv.port, "127.0.0.7")
            conns[i]:send(wire.bind("transceiver", 1, "other", "pw"))
        end
        while socket.gettime() - t0 < 1.5 do
            for i, c in pairs(conns) do
                local p = c:read(0.01)
                if p then
                    assert.equal(0, p.status)
                    done = done + 1
                    c:close()
                    conns[i] = connect_from(srv.port, "127.0.0.7")
                    conns[i]:send(wire.bind("transceiver", 1, "other", "pw"))
                end
            end
            -- meanwhile another address binds at once
            local tb = socket.gettime()
            assert.equal(0, bind_status(srv, "127.0.0.1", "victim", "right"))
            assert.is_true(socket.gettime() - tb < 1)
        end
        local elapsed = socket.gettime() - t0
        -- at most the burst and the rate (a flood with no pace binds thousands a second)
        assert.is_true(done <= 5 + 20 * elapsed + 2, done .. " binds in " .. elapsed .. " s")
        assert.is_true(done >= 1)
        assert.is_true(stats(srv).security.binds_paced >= 1)
    end)
end)

describe("#integration bind password checks", function()
    local ACCOUNTS = "{ { system_id = 'h', password = '" .. HASH .. "', bind_types = { 'transceiver' }, max_binds = 1 },"
        .. " { system_id = 'far', password = '" .. HASH .. "', networks = { '10.0.0.0/8' } } }"

    it("runs the cheap checks before any hash, and a cache hit never takes a wrong password", function()
        local srv = start("{ failure_delay = 0, max_failures = 50 }", ACCOUNTS)
        assert.equal(RINVSYSID, bind_status(srv, nil, "nobody", "pw123"))
        assert.equal(RBINDFAIL, bind_status(srv, nil, "far", "pw123"))               -- networks
        assert.equal(RBINDFAIL, bind_status(srv, nil, "h", "pw123", "transmitter"))  -- bind type
        local c = connect_from(srv.port)
        assert.equal(0, c:bind("transceiver", "h", "pw123").status)                  -- hash 1
        assert.equal(RBINDFAIL, bind_status(srv, nil, "h", "pw123"))                 -- max_binds
        local s = stats(srv).security
        assert.equal(1, s.password_hashes)                  -- none of the refusals hashed
        c:close()
        assert.is_true(srv:wait_log("closing: peer closed"))
        local deadline = socket.gettime() + 5
        local st
        repeat st = bind_status(srv, nil, "h", "pw123") until st == 0 or socket.gettime() > deadline
        assert.equal(0, st)
        s = stats(srv).security
        assert.equal(1, s.password_hashes)                  -- verified lately: no second hash
        assert.is_true(s.password_cache_hits >= 1)
        assert.equal(RINVPASWD, bind_status(srv, nil, "h", "pw124"))
        assert.equal(2, stats(srv).security.password_hashes)  -- a wrong password is always hashed
    end)

    it("keeps other sessions answered while 16 binds hash (the loop never waits)", function()
        -- every bind hashes (no cache, so none waits for another's answer),
        -- and all 16 from this address may wait at once
        local srv = start("{ verify_cache_ttl = 0, hash_concurrency = 1, hash_per_address = 16 }",
            "{ { system_id = 'h', password = '" .. HASH .. "' }, { system_id = 'smppclient1', password = 'password' } }")
        local by = wire.connect(srv.port)
        finally(function() by:close() end)
        assert.equal(0, by:bind("transceiver").status)
        local binders = {}
        for i = 1, 16 do
            binders[i] = wire.connect(srv.port)
            binders[i]:send(wire.bind("transceiver", 1, "h", "pw123"))
        end
        finally(function() for _, b in ipairs(binders) do b:close() end end)
        -- the bystander's round trips while the 16 hashes (~50 ms each, one
        -- at a time) run: on the loop they added up to 800 ms of stall
        local times, bound = {}, 0
        local deadline = socket.gettime() + require("helpers.wait").scaled(30)
        while bound < 16 and socket.gettime() < deadline do
            local t0 = socket.gettime()
            by:send(wire.submit_sm(by:next_seq()))
            local r = assert(by:read(10))
            times[#times + 1] = socket.gettime() - t0
            assert.equal(wire.id.submit_sm + wire.RESP, r.id)
            -- the binders that have an answer (waiting up to 10 ms for one,
            -- which also keeps this loop from taking a core the hashes need;
            -- a short read on each of 16 took longer than the hashes under ASan)
            local waiting = {}
            for _, b in ipairs(binders) do if not b.done then waiting[#waiting + 1] = b.sock end end
            local ready = socket.select(waiting, nil, 0.01)
            for _, b in ipairs(binders) do
                if not b.done and ready[b.sock] then
                    local p = assert(b:read(5))
                    assert.equal(0, p.status)
                    b.done = true
                    bound = bound + 1
                end
            end
        end
        assert.equal(16, bound)
        table.sort(times)
        assert.is_true(#times >= 16, "only " .. #times .. " round trips while the binds hashed")
        local median = times[math.ceil(#times / 2)]
        assert.is_true(median < 0.05, string.format("median %.1f ms", median * 1000))
        assert.equal(16, stats(srv).security.password_hashes)
    end)

    it("refuses binds past hash_queue at once with ESME_RBINDFAIL, without counting them as failures", function()
        local srv = start("{ verify_cache_ttl = 0, hash_concurrency = 1, hash_queue = 2, hash_per_account = 10, "
            .. "max_failures = 3, failure_delay = 0 }",
            "{ { system_id = 'h', password = '" .. HASH .. "' } }")
        local cs = {}
        for i = 1, 10 do
            cs[i] = wire.connect(srv.port)
            cs[i]:send(wire.bind("transceiver", 1, "h", "pw123"))
        end
        finally(function() for _, c in ipairs(cs) do c:close() end end)
        local ok, busy = 0, 0
        for _, c in ipairs(cs) do
            local st = assert(c:read(10)).status
            if st == 0 then ok = ok + 1 elseif st == RBINDFAIL then busy = busy + 1 end
        end
        assert.is_true(ok >= 3, ok .. " bound")               -- one hashing and two waiting, at least
        assert.equal(10, ok + busy)
        assert.is_true(busy >= 1)
        assert.is_true(srv:wait_log("too many binds waiting for a password check"))
        assert.equal(busy, stats(srv).security.password_checks_busy)
        assert.equal(0, bind_status(srv, nil, "h", "pw123"))  -- no lockout from being busy
    end)
end)

describe("#integration hash slots", function()
    local wait_until = require("helpers.wait").wait_until

    -- A bind handler that calls the password check the ways a script can
    -- get wrong, then the default bind for everyone else.
    local SCRIPT = [==[
local smpp = require "smpp"
local security = require "smpp.security"
local server = require "smpp.server"
local HASH = ...
HASH = HASH.accounts[1].password
return { bind = function(session, pdu)
    if pdu.system_id == "long" then           -- a password no hash takes (over 1024 octets)
        local ok, err = security.check_password(HASH, string.rep("x", 2000))
        smpp.log("info", "long: %s %s", tostring(ok), tostring(err))
        return smpp.status.ESME_RBINDFAIL
    elseif pdu.system_id == "raises" then     -- still_wanted raises with the slot held
        local ok, err = pcall(security.check_password, HASH, "pw123", { still_wanted = function() error("boom") end })
        smpp.log("info", "raises: %s %s", tostring(ok), tostring(err))
        return smpp.status.ESME_RBINDFAIL
    end
    return server.check_bind(session, pdu)
end }
]==]

    it("gives the slot back when a check fails before or instead of hashing", function()
        local srv = start("{ hash_concurrency = 1, verify_cache_ttl = 0 }", "{ { system_id = 'h', password = '"
            .. HASH .. "' } }")
        srv:write("script.lua", SCRIPT)
        srv:signal("HUP")
        assert.is_true(srv:wait_log("reloaded"))
        assert.equal(RBINDFAIL, bind_status(srv, nil, "long", "x"))
        assert.is_true(srv:wait_log("long: nil pbkdf2: password or salt longer than 1024 octets"))
        assert.equal(RBINDFAIL, bind_status(srv, nil, "raises", "x"))
        assert.is_true(srv:wait_log("raises: false .*boom"))
        local s = stats(srv).security
        assert.same({ 0, 0 }, { s.hashing, s.hash_waiting })
        -- the one slot is free: a hashed bind is answered (it waited forever)
        assert.equal(0, bind_status(srv, nil, "h", "pw123"))
        assert.equal(RINVPASWD, bind_status(srv, nil, "h", "pw124"))
    end)

    it("gives the slots of binds that closed while waiting back, without hashing for them", function()
        local srv = start("{ hash_concurrency = 1, verify_cache_ttl = 0, failure_delay = 0 }",
            "{ { system_id = 'h', password = '" .. SLOW .. "' }, { system_id = 'quick', password = '" .. HASH .. "' } }")
        local first = wire.connect(srv.port)
        first:send(wire.bind("transceiver", 1, "h", "pw123"))
        wait_until(function() return stats(srv).security.hashing == 1 end, 5, "the first hash")
        local gone = {}
        for i = 1, 5 do
            gone[i] = connect_from(srv.port, "127.0.0." .. (10 + i))
            gone[i]:send(wire.bind("transceiver", 1, "h", "guess" .. i))
        end
        wait_until(function() return stats(srv).security.hash_waiting == 5 end, 5, "5 binds waiting")
        for _, c in ipairs(gone) do c:close() end
        assert.equal(0, assert(first:read(10)).status)
        first:close()                                   -- (a bound client would hold the server's stop)
        wait_until(function()
            local s = stats(srv).security
            return s.hashing == 0 and s.hash_waiting == 0
        end, 5, "every slot given back")
        assert.equal(1, stats(srv).security.password_hashes)
        assert.equal(0, bind_status(srv, nil, "quick", "pw123"))
    end)
end)

describe("#integration hash queue lanes", function()
    local wait_until = require("helpers.wait").wait_until

    -- binds of `user` with wrong passwords from 127.0.0.FIRST.. (one each), unread
    local function flood(srv, user, first, n)
        local cs = {}
        for i = 1, n do
            cs[i] = connect_from(srv.port, "127.0.0." .. (first + i - 1))
            cs[i]:send(wire.bind("transceiver", 1, user, "g" .. i))
        end
        return cs
    end

    -- answered(conns) -> the conns that have an answer to read now, without waiting
    local function answered(conns)
        local socks = {}
        for _, c in ipairs(conns) do socks[#socks + 1] = c.sock end
        local ready, out = socket.select(socks, nil, 0), {}
        for _, c in ipairs(conns) do if ready[c.sock] or #c.buf > 0 then out[#out + 1] = c end end
        return out
    end

    -- refused(conns, n) -> the conns left after reading the n refusals (ESME_RBINDFAIL) among them
    local function refused(conns, n)
        local done = {}
        wait_until(function()
            for _, c in ipairs(answered(conns)) do
                if not done[c] then
                    assert.equal(RBINDFAIL, assert(c:read(5)).status)
                    done[c] = true
                    n = n - 1
                end
            end
            return n <= 0
        end, 10, "the refusals")
        local left = {}
        for _, c in ipairs(conns) do if not done[c] then left[#left + 1] = c end end
        return left
    end

    it("strangers from rotating addresses cannot take the places of known clients", function()
        -- 8 places: strangers may take 4, binds of a known system_id from a new address 6, a known pair 8
        -- pw123 at 2,500,000 iterations, ~1 s: holds the one slot while the queue fills
        local BLOCKER = "pbkdf2-sha256$2500000$0e1fe8118d1c1caad63cb7e1fcb44ff3$"
            .. "df034e3108a7ceb8e16c0774fd86669433cc324a3507d6a6e77ce1b295510e1c"
        local srv = start("{ hash_concurrency = 1, hash_queue = 8, hash_reserved = 2, hash_per_address = 1, "
            .. "hash_per_account = 8, verify_cache_ttl = 0, failure_delay = 0, max_failures = 50 }",
            "{ { system_id = 'victim', password = '" .. HASH .. "' }, { system_id = 'dormant', password = '" .. HASH
            .. "' }, { system_id = 'slow', password = '" .. BLOCKER .. "' } }")
        assert.equal(0, bind_status(srv, "127.0.0.1", "victim", "pw123"))     -- now a known pair and system_id
        local blocker = connect_from(srv.port, "127.0.0.3")
        blocker:send(wire.bind("transceiver", 1, "slow", "pw123"))
        wait_until(function() return stats(srv).security.hashing == 1 end, 5, "the blocker hashing")
        -- 20 addresses guess the password of an account that never bound: strangers, 4 places
        local placed = refused(flood(srv, "dormant", 30, 20), 16)
        assert.equal(4, stats(srv).security.hash_waiting_strangers)
        -- a first bind of the known system_id from a new address still finds a place
        local second = connect_from(srv.port, "127.0.0.2")
        second:send(wire.bind("transceiver", 1, "victim", "pw123"))
        wait_until(function() return stats(srv).security.hash_waiting_known_account == 1 end, 5, "its place")
        -- 20 more addresses guess the victim's own password: one place is left for them
        for _, c in ipairs(refused(flood(srv, "victim", 60, 20), 19)) do placed[#placed + 1] = c end
        assert.equal(5, #placed)
        -- the real client, from where it bound before, finds a place: lane 1
        local real = connect_from(srv.port, "127.0.0.1")
        real:send(wire.bind("transceiver", 1, "victim", "pw123"))
        wait_until(function() return stats(srv).security.hash_waiting_known == 1 end, 5, "the real client's place")
        -- and is served first, before any of those that waited longer
        assert.equal(0, assert(real:read(10)).status)
        assert.same({}, answered(placed))
        assert.same({}, answered { second })
        assert.equal(0, assert(second:read(10)).status)
        assert.equal(0, srv:count_log("bind of 'victim' from 127%.0%.0%.[12] refused"))
        for _, c in ipairs { blocker, second, real } do c:close() end
    end)

    it("a flood at one account from rotating addresses leaves room for another account's first bind", function()
        local BLOCKER = "pbkdf2-sha256$2500000$0e1fe8118d1c1caad63cb7e1fcb44ff3$"
            .. "df034e3108a7ceb8e16c0774fd86669433cc324a3507d6a6e77ce1b295510e1c"
        local srv = start("{ hash_concurrency = 1, hash_queue = 8, hash_reserved = 0, hash_per_account = 3, "
            .. "verify_cache_ttl = 0, failure_delay = 0, max_failures = 50 }",
            "{ { system_id = 'dormant', password = '" .. HASH .. "' }, { system_id = 'fresh', password = '" .. HASH
            .. "' }, { system_id = 'slow', password = '" .. BLOCKER .. "' } }")
        local blocker = connect_from(srv.port, "127.0.0.3")
        blocker:send(wire.bind("transceiver", 1, "slow", "pw123"))
        wait_until(function() return stats(srv).security.hashing == 1 end, 5, "the blocker hashing")
        flood(srv, "dormant", 30, 12)
        wait_until(function() return stats(srv).security.password_checks_busy == 9 end, 5, "9 guesses refused")
        local s = stats(srv).security
        assert.same({ 3, 9 }, { s.hash_waiting_strangers, s.password_checks_busy_account })
        assert.is_true(srv:wait_log("this system_id has security.hash_per_account binds from new addresses waiting"))
        -- the queue has room for another account's first bind (it had none: 8 of 8 were the flood's)
        assert.equal(0, bind_status(srv, "127.0.0.2", "fresh", "pw123"))
        blocker:close()
    end)

    it("bounds the places of one address and paces it when it is refused", function()
        local srv = start("{ hash_concurrency = 1, hash_per_address = 2, verify_cache_ttl = 0, failure_delay = 0.1, "
            .. "bind_rate = 100, bind_burst = 5, max_failures = 50 }", "{ { system_id = 'h', password = '" .. SLOW
            .. "' }, { system_id = 'quick', password = '" .. HASH .. "' } }")
        local cs = {}
        for i = 1, 5 do
            cs[i] = connect_from(srv.port, "127.0.0.9")
            cs[i]:send(wire.bind("transceiver", 1, "h", "g" .. i))
        end
        -- the refusals come at once, the two placed binds after their hashes
        local statuses, busy = {}, 0
        wait_until(function()
            for i, c in ipairs(cs) do
                local p = not statuses[i] and c:read(0.01)
                if p then
                    statuses[i] = p.status
                    if p.status == RBINDFAIL then busy = busy + 1 end
                end
            end
            return busy == 3
        end, 10, "3 refusals")
        -- its next bind is paced (refused binds push its turn back); looked at when it arrives
        local paced = stats(srv).security.binds_paced
        local again = connect_from(srv.port, "127.0.0.9")
        again:send(wire.bind("transceiver", 1, "h", "pw123"))
        assert.is_not_nil(again:read(10))
        again:close()
        assert.is_true(stats(srv).security.binds_paced > paced)
        for i, c in ipairs(cs) do
            if not statuses[i] then statuses[i] = assert(c:read(10)).status end
        end
        table.sort(statuses)
        assert.same({ RBINDFAIL, RBINDFAIL, RBINDFAIL, RINVPASWD, RINVPASWD }, statuses)  -- 2 places: 2 hashed
        local s = stats(srv).security
        assert.is_true(s.password_checks_busy_address >= 3)   -- (and `again`, if the two were still held)
        assert.is_true(srv:wait_log("this address has security.hash_per_address binds waiting"))
        -- another address is not held back
        assert.equal(0, bind_status(srv, "127.0.0.8", "quick", "pw123"))
    end)

    it("one client opening many binds at once costs one hash", function()
        local srv = start("{ hash_concurrency = 1, hash_per_address = 1 }", "{ { system_id = 'h', password = '" .. HASH .. "' } }")
        local cs = {}
        for i = 1, 8 do
            cs[i] = wire.connect(srv.port)
            cs[i]:send(wire.bind("transceiver", 1, "h", "pw123"))
        end
        for _, c in ipairs(cs) do assert.equal(0, assert(c:read(10)).status) end
        for _, c in ipairs(cs) do c:close() end
        local s = stats(srv).security
        assert.equal(1, s.password_hashes)
        assert.equal(7, s.password_checks_coalesced + s.password_cache_hits)
    end)
end)
