-- smsc_redis_errors_spec -- the reference SMSC on a Redis store that cannot
-- answer: down after it was up, never up at all (wrong password, nothing
-- listening), or full (maxmemory). Every request gets an answer that says
-- "try later" (ESME_RMSGQFUL) at once, never ESME_RSYSERR from a Lua error
-- nor a wait of seconds; /stats answers at once with the link's state.
-- (Processes, Redis and clients are stopped by the helpers when each test
-- ends, whatever its asserts did.)
local wire = require "helpers.wire"
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local socket = require "socket"
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local ROK, RMSGQFUL = 0, 0x14

local function node(address, store)
    local section = { redis = address, prefix = "er:" }
    for k, v in pairs(store or {}) do section[k] = v end
    return server.start { conf = server.smsc_conf { store = section, smsc = { receipt_delay = 0.2 } } }
end

local function bound(n)
    local c = wire.connect(n.port)
    assert.are.equal(ROK, c:bind("transceiver", "smppclient1", "password").status)
    return c
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 15))
    return r.status, wire.first_cstr(r.body)
end

local function request(c, command, body)
    local seq = c:next_seq()
    c:send(wire.pdu(command, seq, body))
    return assert(c:expect(function(p) return p.seq == seq end, 15)).status
end

local function query(c, mid)
    return request(c, id.query_sm, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234"))
end

local function cancel(c, mid)
    return request(c, id.cancel_sm, wire.cstr("") .. wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
        .. "\1\1" .. wire.cstr("447700900123"))
end

describe("#integration the reference SMSC on a Redis store that cannot answer", function()
    it("answers ESME_RMSGQFUL, not ESME_RSYSERR, to every request while Redis is down", function()
        local r = redis.start()
        local n = node(r.address)
        assert.is_true(n:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), n:log_text())
        local c = bound(n)
        local st, mid = submit(c, { registered_delivery = 1, schedule_delivery_time = "000000000100000R" })
        assert.are.equal(ROK, st)
        r:stop()
        assert.is_true(n:wait_log("link lost", wait.scaled(10)), n:log_text())
        -- asking for a receipt: the push-back's count of the outbox fails
        for _ = 1, 3 do
            assert.are.equal(RMSGQFUL, (submit(c, { registered_delivery = 1, short_message = "rd" })))
        end
        assert.are.equal(RMSGQFUL, (submit(c, { short_message = "plain" })))
        assert.are.equal(RMSGQFUL, query(c, mid))
        assert.are.equal(RMSGQFUL, cancel(c, mid))
        assert.are.equal(RMSGQFUL, (submit(c, { registered_delivery = 1, replace_if_present_flag = 1 })))
        assert.is_nil(n:log_text():find("attempt to", 1, true), n:log_text())
        assert.is_true(n:alive())
    end)

    it("answers at once, and /stats at once, when the link never came up", function()
        local r = redis.start()
        r:cmd("CONFIG", "SET", "requirepass", "s3cret")
        for _, case in ipairs {
            { address = r.address, store = { password = "wrong" }, why = "WRONGPASS" },
            { address = "127.0.0.1:" .. redis.free_port(), why = "" },           -- nothing listening
        } do
            local n = node(case.address, case.store)
            assert.is_true(n:wait_log("cannot connect", wait.scaled(10)), n:log_text())
            local c = bound(n)
            for _ = 1, 3 do
                local t0 = socket.gettime()
                assert.are.equal(RMSGQFUL, (submit(c, { registered_delivery = 1, short_message = "never up" })))
                assert.is_true(socket.gettime() - t0 < wait.scaled(2.5), "a submit waited for a link that never came up")
            end
            local t0 = socket.gettime()
            local code, body = n:http("GET", "/stats")
            assert.is_true(socket.gettime() - t0 < wait.scaled(2.5), "/stats waited for Redis")
            assert.are.equal(200, code, body)
            local v = cjson.decode(body)
            assert.are.equal("down", v.store_redis.link)
            assert.matches(case.why, v.cluster.redis.last_error, 1, true)
            t0 = socket.gettime()
            code = n:http("GET", "/messages/1")
            assert.is_true(socket.gettime() - t0 < wait.scaled(2.5), "/messages waited for Redis")
            assert.are.equal(503, code)
            c:close()
            assert.is_true(n:stop(), n:log_text())
        end
    end)

    it("answers ESME_RMSGQFUL when Redis refuses writes at its maxmemory, and says why", function()
        local r = redis.start()
        local n = node(r.address)
        assert.is_true(n:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), n:log_text())
        local c = bound(n)
        assert.are.equal(ROK, (submit(c, { short_message = "before" })))
        r:cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
        r:cmd("CONFIG", "SET", "maxmemory", "1")            -- below what Redis uses: every write refused
        for _ = 1, 3 do
            assert.are.equal(RMSGQFUL, (submit(c, { registered_delivery = 1, short_message = "oom" })))
            assert.are.equal(RMSGQFUL, (submit(c, { short_message = "oom" })))
        end
        assert.is_true(n:wait_log("Redis refused a write at its maxmemory", wait.scaled(5)), n:log_text())
        assert.is_true(n:stats().store_redis.refused_oom >= 3)
        r:cmd("CONFIG", "SET", "maxmemory", "0")
        assert.are.equal(ROK, (submit(c, { short_message = "after" })))
    end)
end)
