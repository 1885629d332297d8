-- smsc_redis_node_spec -- message ids of the reference SMSC on a Redis
-- store that restarts empty (no persistence, a FLUSHDB): the store makes a
-- new node id, every running node takes it, so no id is issued twice and
-- a message accepted on one node is found on the others. (Processes, Redis
-- and clients are stopped by the helpers when the test ends, whatever its
-- asserts did.)
local wire = require "helpers.wire"
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"

local id, RESP = wire.id, wire.RESP
local ROK = 0

local function node(r)
    local n = server.start { conf = server.smsc_conf { store = { redis = r.address, prefix = "nd:" } } }
    assert.is_true(n:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), n:log_text())
    return n
end

local function bound(n)
    local c = wire.connect(n.port)
    assert.are.equal(ROK, c:bind("transceiver", "smppclient1", "password").status)
    return c
end

local function submit(c)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = "hi" }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
    return r.status, wire.first_cstr(r.body)
end

local function query(c, mid)
    local seq = c:next_seq()
    c:send(wire.pdu(id.query_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")))
    return assert(c:expect(function(p) return p.seq == seq end)).status
end

describe("#integration the reference SMSC on a Redis store that restarts empty", function()
    it("issues no id twice and every node finds the messages of the others", function()
        local r = redis.start()
        local a = node(r)
        local ca = bound(a)
        local issued = {}
        for _ = 1, 3 do
            local st, mid = submit(ca)
            assert.are.equal(ROK, st)
            issued[mid] = true
        end
        r:stop()
        r:start()                                             -- empty: nothing was saved
        local after = {}
        assert.is_true(wait.wait_until(function()
            local st, mid = submit(ca)
            if st == ROK then after[#after + 1] = mid end
            return #after >= 3
        end, 20), a:log_text())
        for _, mid in ipairs(after) do
            assert.is_nil(issued[mid], "message id " .. mid .. " issued again after Redis restarted empty")
            issued[mid] = true
        end
        -- a node started now, and the one that ran through it, agree
        local b = node(r)
        local cb = bound(b)
        local st, on_b = submit(cb)
        assert.are.equal(ROK, st)
        assert.is_nil(issued[on_b], "message id " .. on_b .. " issued twice")
        assert.are.equal(ROK, query(cb, after[3]), b:log_text())
        assert.is_true(wait.wait_until(function() return query(ca, on_b) == ROK end, 5), a:log_text())
    end)
end)
