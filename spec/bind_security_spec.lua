-- bind_security_spec -- binds that can neither lock the real user out nor
-- stall the event loop: lockouts per address and per (address,
-- system_id), a bounded failure table, the cheap checks before any hash,
-- hashes on the thread pool (bounded, with a cache that a wrong password
-- never hits).
local wire = require "helpers.wire"
local binds = require "helpers.binds"
local socket = require "socket"

local RINVPASWD, RINVSYSID, RBINDFAIL = binds.RINVPASWD, binds.RINVSYSID, binds.RBINDFAIL
local HASH = binds.HASH
local connect_from, bind_status, stats = binds.connect_from, binds.bind_status, binds.stats

local function start(security_conf, accounts)
    local srv = binds.start(security_conf, accounts)
    finally(function() binds.stop(srv) end)
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

    it("tells exactly max_failures wrong passwords before the lockout, however many are checked at once", function()
        -- 12 guesses from one address waiting for their hashes together: each had
        -- passed the lockout check on arrival, so all 12 were once told
        -- ESME_RINVPASWD (8 of 300 pipelined binds with max_failures 5)
        local srv = start("{ max_failures = 5, lockout = 60, failure_delay = 0, verify_cache_ttl = 0, "
            .. "hash_concurrency = 1, hash_queue = 32, hash_reserved = 0, hash_per_address = 32, "
            .. "hash_per_account = 32, bind_rate = 0 }",
            "{ { system_id = 'victim', password = '" .. HASH .. "' }, { system_id = 'slow', password = '"
            .. binds.BLOCKER .. "' } }")
        local blocker = connect_from(srv.port, "127.0.0.3")
        blocker:send(wire.bind("transceiver", 1, "slow", "pw123"))
        local wait_until = require("helpers.wait").wait_until
        wait_until(function() return stats(srv).security.hashing == 1 end, 5, "the blocker hashing")
        local cs = {}
        for i = 1, 12 do
            cs[i] = connect_from(srv.port, "127.0.0.7")
            cs[i]:send(wire.bind("transceiver", 1, "victim", "guess" .. i))
        end
        wait_until(function() return stats(srv).security.hash_waiting == 12 end, 5, "12 guesses waiting")
        local told = {}
        for _, c in ipairs(cs) do
            local st = assert(c:read(60)).status
            told[st] = (told[st] or 0) + 1
        end
        assert.same({ [RINVPASWD] = 5, [RBINDFAIL] = 7 }, told)
        assert.is_true(srv:wait_log("bind lockout for 60s: 5 failed binds of 'victim' from 127%.0%.0%.7"))
        assert.is_true(srv:wait_log("refused: locked out until [^ ]+ %(while its password was checked%)"))
        assert.equal(0, assert(blocker:read(60)).status)
        blocker:close()
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
