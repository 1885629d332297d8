-- smsc_stopped_spec -- the reference SMSC when runs of its code are
-- stopped partway (a small scripts.budget_ms, the heap's ceiling
-- scripts.memory_mb): every submit answered ESME_ROK gets its receipt
-- (at least once), and no receipt comes for a message that was not
-- answered ESME_ROK. The scheduler clears a row's due only with its
-- receipt posted, and a submit is answered as soon as it is stored, or
-- (a budget over 100 ms, the runtime's own on_text) its row is withdrawn
-- when the run is stopped between the put and the answer.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP
local ROK = 0

local function conf(over)
    return server.smsc_conf(server.merge({
        smsc = { receipt_delay = 0.5, echo = "off" },
        store = { path = "smsc.db" },
        session = { receive_window = 5000 },
    }, over))
end

-- What one transceiver saw: ids answered ESME_ROK, other statuses, and
-- receipts by id (each deliver_sm answered).
local function tally()
    return { ok = {}, refused = {}, receipts = {}, answered = 0 }
end

local function take(c, t, p)
    if p.id == RESP + id.submit_sm then
        t.answered = t.answered + 1
        if p.status == ROK then t.ok[wire.first_cstr(p.body)] = true
        else t.refused[p.status] = (t.refused[p.status] or 0) + 1 end
    elseif p.id == id.deliver_sm then
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        local rid = wire.parse_sm(p.body).tlvs[0x001E]:sub(1, -2)
        t.receipts[rid] = (t.receipts[rid] or 0) + 1
    end
end

-- Read for `seconds` (or until done(t)).
local function pump(c, t, seconds, done)
    local deadline = wire.gettime() + seconds
    while wire.gettime() < deadline do
        if done and done(t) then return true end
        local p = c:read(0.05)
        if p then take(c, t, p) end
    end
    return done and done(t) or false
end

local function submits(c, n, dest)
    local batch = {}
    for i = 1, n do
        batch[i] = wire.submit_sm(c:next_seq(), { destination_addr = string.format("%s%06d", dest, i),
                                                  registered_delivery = 1 })
    end
    c:send(table.concat(batch))
end

-- Every ESME_ROK has a receipt (waits up to `seconds`).
local function all_receipted(c, t, seconds)
    return pump(c, t, seconds, function()
        for mid in pairs(t.ok) do if not t.receipts[mid] then return false end end
        return true
    end)
end

local function missing(t)
    local n = 0
    for mid in pairs(t.ok) do if not t.receipts[mid] then n = n + 1 end end
    return n
end

local function strays(t)
    local n = 0
    for rid in pairs(t.receipts) do if not t.ok[rid] then n = n + 1 end end
    return n
end

-- A script whose submits to a destination ending "999" are stopped by
-- the budget right after their rows are put, with the runtime's own
-- on_text: the scheduler's arm (what accept_one calls after the put) is
-- made to spin once, as a slow step of the runtime would.
local SPIN_SCRIPT = [[
local smsc = require("smpp.smsc").new(...)
local function spun(h)
    return function(session, pdu)
        local d = pdu.dest_address
        local dest = pdu.destination_addr or (d and d[#d].destination_addr) or ""
        if dest:sub(-3) == "999" then
            smsc.arm = function() smsc.arm = nil; while true do end end
        end
        return h(session, pdu)
    end
end
smsc.handlers.submit_sm = spun(smsc.handlers.submit_sm)
smsc.handlers.submit_multi = spun(smsc.handlers.submit_multi)
return smsc.handlers
]]

describe("#integration reference SMSC with runs stopped partway", function()
    it("withdraws the row of a submit stopped between its put and its answer (ESME_RSYSERR, no receipt)", function()
        local srv = server.start { conf = conf { script = "script.lua", scripts = { budget_ms = 150 } },
                                   script = SPIN_SCRIPT }
        finally(function() srv:finish() end)
        local c = wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
        local t = tally()
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { destination_addr = "447700900999", registered_delivery = 1 }))
        assert.is_true(pump(c, t, 10, function() return t.answered == 1 end), srv:log_text())
        assert.same({ [8] = 1 }, t.refused)                                     -- ESME_RSYSERR
        assert.is_truthy(srv:wait_log("script budget exceeded", 5))
        assert.equal(0, srv:gauge("smsc_stored_messages"))
        -- a submit_multi stopped after its rows are put: every one withdrawn
        local dests = { "447700900001", "447700900999" }
        local body = wire.cstr("") .. "\1\1" .. wire.cstr("1234") .. wire.u8(#dests)
        for _, d in ipairs(dests) do body = body .. "\1\1\1" .. wire.cstr(d) end
        body = body .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"      -- registered_delivery 1
        seq = c:next_seq()
        c:send(wire.pdu(id.submit_multi, seq, body))
        local r = assert(c:expect(function(p) return p.seq == seq end))
        assert.equal(8, r.status)
        assert.equal(0, srv:gauge("smsc_stored_messages"))
        -- a later submit's receipt comes; none came for the withdrawn ones
        -- (their receipts would have been due before it)
        submits(c, 1, "4470")
        assert.is_true(all_receipted(c, t, 10))
        assert.equal(1, srv:gauge("smsc_stored_messages"))
        assert.equal(0, strays(t), "receipts of messages not answered ESME_ROK")
        c:close()
    end)


    it("loses no receipt when scripts.budget_ms stops the scheduler", function()
        local srv = server.start { conf = conf { scripts = { budget_ms = 3 } } }
        finally(function() srv:finish() end)
        local c = wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
        local t = tally()
        for round = 1, 8 do
            submits(c, 500, "44" .. round)
            pump(c, t, 10, function() return t.answered == 500 * round end)
        end
        assert.equal(4000, t.answered)
        assert.is_true(next(t.ok) ~= nil)
        all_receipted(c, t, 30)
        assert.equal(0, missing(t), "ESME_ROK without a receipt")
        assert.equal(0, strays(t), "receipts of messages not answered ESME_ROK")
        c:close()
    end)

    it("loses no receipt, and answers no stored message ESME_RSYSERR, while a script holds the heap at its ceiling",
        function()
        local script = [[
local smpp = require "smpp"
local smsc = require("smpp.smsc").new(...)
local hoard, on = {}, false
local submit = smsc.handlers.submit_sm
smsc.handlers.submit_sm = function(session, pdu)
    if pdu.destination_addr == "leak" then
        on = true
        smpp.after(0, function()
            while on do
                pcall(function() for _ = 1, 64 do hoard[#hoard + 1] = string.rep("x", 16384) .. #hoard end end)
                smpp.sleep(0.005)
            end
        end)
        return 0, { message_id = "leak" }
    end
    if pdu.destination_addr == "free" then on, hoard = false, {} return 0, { message_id = "free" } end
    return submit(session, pdu)
end
return smsc.handlers
]]
        local srv = server.start { conf = conf { script = "script.lua", scripts = { memory_mb = 32 },
                                                 smsc = { receipt_delay = 0.3 } }, script = script }
        finally(function() srv:finish() end)
        local c, ctl = wire.connect(srv.port), wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
        assert.equal(ROK, ctl:bind("transmitter").status)
        local t = tally()
        -- (a run at the ceiling is stopped before the wrapper reads the
        -- destination: sent again until it is answered ESME_ROK)
        local function control(dest)
            local deadline = wire.gettime() + 10
            repeat
                local seq = ctl:next_seq()
                ctl:send(wire.submit_sm(seq, { destination_addr = dest }))
                local r = assert(ctl:expect(function(p) return p.seq == seq end))
            until r.status == ROK or wire.gettime() > deadline
        end
        submits(c, 300, "4477")
        pump(c, t, 10, function() return t.answered == 300 end)
        control("leak")
        assert.is_truthy(srv:wait_log("script memory ceiling exceeded", 10))
        local deadline = wire.gettime() + 2
        while wire.gettime() < deadline do
            submits(c, 50, "4478")
            pump(c, t, 0.05)
        end
        control("free")
        submits(c, 300, "4479")
        all_receipted(c, t, 20)
        assert.equal(0, missing(t), "ESME_ROK without a receipt")
        assert.equal(0, strays(t), "receipts of messages not answered ESME_ROK")
        c:close()
        ctl:close()
    end)
end)
