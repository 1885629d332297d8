-- bind_hash_spec -- the queue for a password hash under hostile binds:
-- every slot given back (a check that fails before hashing, binds that
-- close while they wait, a server stopped with binds hashing), known
-- clients in lanes strangers cannot fill, shares per address and per
-- system_id, refusals pacing their address, and one hash for many binds
-- of one client.
local wire = require "helpers.wire"
local binds = require "helpers.binds"
local socket = require "socket"
local wait_until = require("helpers.wait").wait_until
-- how long an answer may take behind the slow hashes on a loaded machine (a bound, not a wait)
local LONG = require("helpers.wait").scaled(30)

local RINVPASWD, RBINDFAIL = binds.RINVPASWD, binds.RBINDFAIL
local HASH, SLOW, BLOCKER = binds.HASH, binds.SLOW, binds.BLOCKER
local connect_from, bind_status, stats = binds.connect_from, binds.bind_status, binds.stats

local function start(security_conf, accounts)
    local srv = binds.start(security_conf, accounts)
    finally(function() binds.stop(srv) end)
    return srv
end

describe("#integration hash slots", function()

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
        assert.equal(0, assert(first:read(LONG)).status)
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
        assert.equal(0, assert(real:read(LONG)).status)
        assert.same({}, answered(placed))
        assert.same({}, answered { second })
        assert.equal(0, assert(second:read(LONG)).status)
        assert.equal(0, srv:count_log("bind of 'victim' from 127%.0%.0%.[12] refused"))
        for _, c in ipairs { blocker, second, real } do c:close() end
    end)

    it("a flood at one account from rotating addresses leaves room for another account's first bind", function()
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
        assert.is_not_nil(again:read(LONG))
        again:close()
        assert.is_true(stats(srv).security.binds_paced > paced)
        for i, c in ipairs(cs) do
            if not statuses[i] then statuses[i] = assert(c:read(LONG)).status end
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
        for _, c in ipairs(cs) do assert.equal(0, assert(c:read(LONG)).status) end
        for _, c in ipairs(cs) do c:close() end
        local s = stats(srv).security
        assert.equal(1, s.password_hashes)
        assert.equal(7, s.password_checks_coalesced + s.password_cache_hits)
    end)
end)

describe("#integration binds pipelined on one connection", function()
    -- bind_transceiver, bind_transmitter and bind_receiver back to back: with
    -- a hashed password all three once got ESME_ROK and the state flipped
    -- TRX, TX, RX (with a plain one the 2nd and 3rd got ESME_RALYBND)
    local RALYBND, RESP = 0x05, wire.RESP
    local function pipelined(srv, pw, kinds)
        local c = wire.connect(srv.port)
        local out = {}
        for i, kind in ipairs(kinds) do out[#out + 1] = wire.bind(kind, i, "h", pw) end
        c:send(table.concat(out))
        local got = {}
        for _ = 1, #kinds do
            local r = assert(c:read(LONG))
            got[r.seq] = { r.id, r.status }
        end
        return c, got
    end

    -- 20 wrong passwords pipelined: a hashed one is checked while the rest
    -- arrive (ESME_RALYBND); a plain one is checked at once, one after the
    -- other, up to the lockout (max_failures 5, then ESME_RBINDFAIL)
    local cases = { { "hashed", HASH, { [RINVPASWD] = 1, [0x05] = 19 } },
                    { "plain", "pw123", { [RINVPASWD] = 5, [RBINDFAIL] = 15 } } }
    for _, case in ipairs(cases) do
        it("answers ESME_RALYBND to a bind while another is checked (" .. case[1] .. " password)", function()
            local srv = start("{ verify_cache_ttl = 0, failure_delay = 0 }", "{ { system_id = 'h', password = '"
                .. case[2] .. "' } }")
            local c, got = pipelined(srv, "pw123", { "transceiver", "transmitter", "receiver" })
            local id = wire.id
            assert.same({ { RESP + id.bind_transceiver, 0 }, { RESP + id.bind_transmitter, RALYBND },
                          { RESP + id.bind_receiver, RALYBND } }, got)
            wait_until(function() return stats(srv).accounts.h.bound.transceiver == 1 end, 5, "bound once")
            assert.same({ transmitter = 0, receiver = 0, transceiver = 1 }, stats(srv).accounts.h.bound)
            assert.equal(1, srv:count_log("bound h as"))
            -- still a transceiver, not the receiver the last bind asked for: a submit is not
            -- ESME_RINVBNDSTS but reaches the (empty) script, ESME_RINVCMDID
            c:send(wire.submit_sm(9))
            assert.equal(0x03, assert(c:read(LONG)).status)
            c:close()
            local d, answers = pipelined(srv, "wrong", (function()
                local k = {}
                for i = 1, 20 do k[i] = "transceiver" end
                return k
            end)())
            local statuses = {}
            for _, a in ipairs(answers) do statuses[a[2]] = (statuses[a[2]] or 0) + 1 end
            assert.same(case[3], statuses)
            d:close()
        end)
    end

    it("keeps the framing of a submit over 1,024 octets sent right behind a bind being checked", function()
        -- the cap on PDUs before a bind (SESS_UNBOUND_MAX_PDU) applied while the bind's
        -- hash was checked: the submit lost the connection and the bind was never answered
        local srv = start("{ verify_cache_ttl = 0, failure_delay = 0 }", "{ { system_id = 'h', password = '"
            .. HASH .. "' } }")
        local c = wire.connect(srv.port)
        c:send(wire.bind("transceiver", 1, "h", "pw123")
            .. wire.submit_sm(2, { short_message = "", tlvs = wire.tlv(0x0424, ("p"):rep(2000)) }))
        local got = {}
        for _ = 1, 2 do
            local r = assert(c:read(LONG))
            got[r.seq] = { r.id, r.status }
        end
        -- the submit came while the bind was checked: ESME_RINVBNDSTS, and the bind is answered
        assert.same({ { wire.RESP + wire.id.bind_transceiver, 0 }, { wire.RESP + wire.id.submit_sm, 0x04 } }, got)
        c:close()
    end)
end)
