-- receipts_slow_esme_spec -- an ESME session that stays bound but stops
-- answering deliver_sm. A receipt relayed straight to an ESME keeps the
-- upstream's deliver_sm unanswered until the ESME answers, and the origin
-- preference sent every receipt of that session's messages to it: the
-- upstream's window toward us filled, and every other account's receipts
-- on that upstream were answered ESME_RTHROTTLED until the stuck session's
-- response_timeout (30 s). Now a receiver whose oldest request is late
-- (1 s) gets nothing more, and a relayed receipt not answered within
-- gateway.receipt_wait goes to the account's outbox, the upstream answered
-- then; a late answer takes the outbox copy back.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"
local scripts = require "helpers.upstream_scripts"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local function start()
    local up = server.start { conf = UP_CONF, script = scripts.id_is_text }
    local gw = server.start { conf = "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        session = { receive_window = 10 },          -- the upstream's window toward us: 10 receipts
        accounts = { { system_id = "esme1", password = "pw" }, { system_id = "esme2", password = "pw" },
                     { system_id = "esme3", password = "pw" } },
        upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw" } },
        gateway = { message_id = "own", routes = { { prefix = "", to = { "A" } } } },
    } }
    assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
    return up, gw
end

local function bind(gw, kind, account)
    local c = wire.connect(gw.port)
    assert.equal(0, c:bind(kind, account, "pw").status)
    return c
end

-- submit(c, text) -> our id of the message (the upstream's is its text)
local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, destination_addr = "4470", short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

-- n receipts on c, each answered: { [our id] = count }
local function take(c, n, timeout)
    local got, k = {}, 0
    while k < n do
        local p = c:expect(function(q) return q.id == id.deliver_sm end, timeout)
        if not p then break end
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        local rid = (wire.parse_sm(p.body).tlvs[0x001E] or ""):gsub("%z$", "")
        got[rid] = (got[rid] or 0) + 1
        k = k + 1
    end
    return got, k
end

local function receipts_for(names)
    local t = {}
    for i, n in ipairs(names) do t[i] = n .. "=DELIVRD" end
    return "receipts " .. table.concat(t, " ")
end

describe("#integration an ESME session that stops answering deliver_sm", function()
    it("holds up neither the other accounts' receipts nor its own account's", function()
        local up, gw = start()
        local stuck, good, tx, e2
        finally(function()
            for _, c in ipairs { stuck, good, tx, e2 } do c:close() end
            gw:stop() up:stop()
        end)
        stuck = bind(gw, "transceiver", "esme1")     -- reads nothing it is sent, answers nothing
        good = bind(gw, "receiver", "esme1")
        tx = bind(gw, "transmitter", "esme1")
        e2 = bind(gw, "transceiver", "esme2")
        local ours, names = {}, {}
        for i = 1, 11 do
            names[i] = "s" .. i
            ours[submit(stuck, names[i])] = names[i]
        end
        -- 10 receipts for the stuck session's messages: its origin preference
        -- puts them on it, filling the upstream's window of 10
        submit(tx, receipts_for { unpack(names, 1, 10) })
        -- after receipt_wait they are in esme1's outbox, the upstream
        -- answered, and the outbox gives them to the session that answers
        local got, n = take(good, 10, 10)
        assert.equal(10, n, gw:log_text())
        for i = 1, 10 do
            local rid
            for k, v in pairs(ours) do if v == names[i] then rid = k end end
            assert.equal(1, got[rid], "the receipt of " .. names[i])
        end
        -- the stuck session is late now: a receipt for its message goes to
        -- the other session without waiting for it
        submit(tx, receipts_for { "s11" })
        got, n = take(good, 1, 10)
        assert.equal(1, n, gw:log_text())
        assert.is_truthy(ours[next(got)] == "s11")
        -- another account's receipts on the same upstream: at once, none refused
        local theirs, x = {}, {}
        for i = 1, 5 do
            x[i] = "x" .. i
            theirs[submit(e2, x[i])] = true
        end
        local t0 = wire.gettime()
        submit(e2, receipts_for(x))
        got, n = take(e2, 5, 5)
        assert.equal(5, n, gw:log_text())
        assert.is_true(wire.gettime() - t0 < wait.scaled(3), "esme2's receipts took " .. (wire.gettime() - t0) .. " s")
        for rid in pairs(got) do assert.is_true(theirs[rid], rid) end
        assert.is_nil(gw:log_text():find("receive window full", 1, true), "a receipt was refused ESME_RTHROTTLED")
        -- the stuck session had the first 10 only, and nothing is left in the outbox
        local seen = 0
        while stuck:expect(function(q) return q.id == id.deliver_sm end, 0.3) do seen = seen + 1 end
        assert.equal(10, seen)
        assert.is_truthy(wait.wait_until(function() return gw:stats().accounts.esme1.outbox == 0 end, 5))
    end)

    it("takes a receipt's outbox copy back when the ESME answers it late", function()
        local up, gw = start()
        local slow
        finally(function() if slow then slow:close() end gw:stop() up:stop() end)
        slow = bind(gw, "transceiver", "esme3")
        local rid = submit(slow, "m1")
        submit(slow, receipts_for { "m1" })
        local p = assert(slow:expect(function(q) return q.id == id.deliver_sm end, 5))
        -- not answered within receipt_wait: the outbox keeps it, the upstream has its answer
        assert.is_truthy(wait.wait_until(function()
            local a = gw:stats().accounts.esme3
            return a and a.outbox == 1
        end, 10), gw:log_text())
        slow:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))     -- the late answer
        assert.is_truthy(wait.wait_until(function() return gw:stats().accounts.esme3.outbox == 0 end, 5))
        assert.is_nil(slow:expect(function(q) return q.id == id.deliver_sm end, 1.5),
                      "the receipt of " .. rid .. " came again")
    end)
end)
