-- smsc_redis_receipts_spec -- the reference SMSC's receipts on the Redis
-- store are at least once: the scheduler leases due messages, posts their
-- receipts and only then ends the leases, so a scheduler that dies between
-- the two (its task failing, its process SIGKILLed under load) leaves the
-- messages due again, and a receipt goes out for every message accepted
-- with registered_delivery. (Processes, Redis and clients are stopped by
-- the helpers when each test ends, whatever its asserts did.)
local wire = require "helpers.wire"
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"

local id, RESP = wire.id, wire.RESP
local ROK = 0

local function conf(r, over)
    return server.smsc_conf(server.merge({ store = { redis = r.address, prefix = "rc:", lease = 1 },
                                          smsc = { receipt_delay = 0.2 } }, over))
end

local function up(n)
    assert.is_true(n:wait_log("redis 127%.0%.0%.1:%d+: up", wait.scaled(10)), n:log_text())
    return n
end

local function bound(n, kind)
    local c = wire.connect(n.port)
    assert.are.equal(ROK, c:bind(kind, "smppclient1", "password").status)
    return c
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
    return r.status, wire.first_cstr(r.body)
end

-- the message id of the next receipt (answered), or nil after timeout
local function receipt(c, timeout)
    local p = c:expect(function(p) return p.id == id.deliver_sm end, timeout)
    if not p then return nil end
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local rid = wire.parse_sm(p.body).tlvs[0x001E]
    return rid and rid:gsub("%z$", "")
end

describe("#integration receipts of the reference SMSC on the Redis store", function()
    it("go out when the scheduler that took them died before posting them", function()
        local r = redis.start()
        -- the scheduler's first receipt runs past the script budget: the
        -- run that leased the message is stopped there (uncatchable), as a
        -- process killed before its post would be. (A receipt that merely
        -- raises is that row's failure, not the run's: the next test.)
        local n = up(server.start { conf = conf(r, { script = "script.lua", scripts = { budget_ms = 300 } }),
                                    script = [[
            local smsc = require("smpp.smsc").new(...)
            local receipt_of, failed = smsc.receipt_of, false
            function smsc:receipt_of(row)
                if not failed then
                    failed = true
                    while true do end           -- the scheduler dies before its post
                end
                return receipt_of(self, row)
            end
            return smsc.handlers
        ]] })
        local c = bound(n, "transceiver")
        local st, mid = submit(c, "first")
        assert.are.equal(ROK, st)
        assert.are.equal(mid, receipt(c, wait.scaled(10)), n:log_text())
        assert.matches("script budget exceeded", n:log_text())
    end)

    it("go on for the rest of a leased batch when one row raises; that row ends final, logged once", function()
        local r = redis.start()
        local n = up(server.start { conf = conf(r, { script = "script.lua" }), script = [[
            local smsc = require("smpp.smsc").new(...)
            local receipt_of = smsc.receipt_of
            function smsc:receipt_of(row)
                if row.dest == "447700900666" then error("a row no code path expects") end
                return receipt_of(self, row)
            end
            return smsc.handlers
        ]] })
        local c = bound(n, "transceiver")
        local at = require("smpp.time").format_absolute(math.floor(wire.gettime()) + 2)
        local want, bad = {}, nil
        for i = 1, 20 do
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { registered_delivery = 1, schedule_delivery_time = at,
                                         destination_addr = i == 1 and "447700900666" or ("4477009%05d"):format(i) }))
            local p = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
            assert.are.equal(ROK, p.status)
            if i == 1 then bad = wire.first_cstr(p.body) else want[wire.first_cstr(p.body)] = true end
        end
        local left = 19
        while left > 0 do
            local rid = receipt(c, wait.scaled(10))
            assert.is_not_nil(rid, left .. " receipts missing\n" .. n:log_text())
            assert.are_not.equal(bad, rid)
            if want[rid] then want[rid], left = nil, left - 1 end
        end
        assert.is_true(n:wait_log("the receipt of message " .. bad .. " of smppclient1 is not sent", 5), n:log_text())
        -- its lease ended with the others': not taken again when it would have run out (lease = 1 s)
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = "later",
            schedule_delivery_time = require("smpp.time").format_absolute(math.floor(wire.gettime()) + 2) }))
        local p = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
        assert.are.equal(wire.first_cstr(p.body), receipt(c, wait.scaled(10)))
        local _, count = n:log_text():gsub("is not sent: ", "")
        assert.are.equal(1, count, n:log_text())
    end)

    it("every message accepted before a node's SIGKILL under load gets its receipt", function()
        local r = redis.start { durable = true }
        local a = up(server.start { conf = conf(r, { smsc = { receipt_delay = 0.3 } }) })
        local b = up(server.start { conf = conf(r, { smsc = { receipt_delay = 0.3 } }) })
        local rx = bound(b, "receiver")
        local tx = bound(a, "transmitter")
        local accepted, count = {}, 0
        for i = 1, 300 do
            local st, mid = submit(tx, "load " .. i)
            if st == ROK then
                accepted[mid] = true
                count = count + 1
            end
        end
        a:kill()                      -- receipts due, leased or in flight on A: none may be lost
        assert.is_true(count >= 250, "accepted " .. count)
        local missing = count
        local got = {}
        wait.wait_until(function()
            local rid = receipt(rx, 0.5)
            while rid do
                if accepted[rid] and not got[rid] then
                    got[rid] = true
                    missing = missing - 1
                end
                rid = receipt(rx, 0.01)
            end
            return missing == 0
        end, 30)
        assert.are.equal(0, missing, b:log_text())
    end)
end)
