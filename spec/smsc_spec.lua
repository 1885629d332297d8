-- smsc_spec -- the reference SMSC (scripts/smsc.lua) with the shipped rules
-- (server.smsc_conf: receipts after 0.1 s), a fresh one for every test so
-- that no test sees another's messages or held receipts.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local split = require "smpp.split"

local id, RESP = wire.id, wire.RESP
local ROK = 0
local IN_1_S = "000000000001000R"     -- schedule_delivery_time: pending for 1 s

local srv
local function smsc(over)
    srv = server.start { conf = server.smsc_conf(over) }
    return srv
end

local function bound(kind)
    local c = wire.connect(srv.port)
    local r = c:bind(kind or "transceiver")
    assert.equal(ROK, r.status)
    return c
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end))
    return r, wire.first_cstr(r.body)
end

-- Wait for a deliver_sm, answer it, return its parsed fields.
local function deliver(c, timeout)
    local p = assert(c:expect(function(p) return p.id == id.deliver_sm end, timeout or 5))
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    return wire.parse_sm(p.body)
end

local function query(c, mid, source)
    local seq = c:next_seq()
    c:send(wire.pdu(id.query_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr(source or "1234")))
    local r = assert(c:expect(function(p) return p.seq == seq end))
    return r, r.status == 0 and wire.parse_query_resp(r.body) or nil
end

describe("#integration reference SMSC", function()
    it("accepts the default credentials for every bind type", function()
        smsc()
        for _, kind in ipairs { "transmitter", "receiver", "transceiver" } do
            local c = wire.connect(srv.port)
            assert.equal(ROK, c:bind(kind, "smppclient1", "password").status)
            c:close()
        end
    end)

    it("sends a delivery receipt when registered_delivery asks for one", function()
        smsc()
        local c = bound()
        local r, mid = submit(c, { registered_delivery = 1, short_message = "Hello receipt",
                                   destination_addr = "447700900123", source_addr = "1234" })
        assert.equal(ROK, r.status)
        assert.matches("^%d+$", mid)
        local d = deliver(c, 5)
        assert.equal(4, d.esm_class)
        assert.equal("447700900123", d.source_addr)         -- from the original destination
        assert.equal("1234", d.destination_addr)
        assert.matches("^id:" .. mid .. " sub:001 dlvrd:001 submit date:%d%d%d%d%d%d%d%d%d%d done date:%d+ stat:DELIVRD err:000 text:Hello receipt$",
            d.short_message)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        assert.equal("\2", d.tlvs[0x0427])
        c:close()
    end)

    it("ends a destination matching a failure rule UNDELIV", function()
        smsc()
        local c = bound()
        local _, mid = submit(c, { registered_delivery = 1, destination_addr = "99912345" })
        local d = deliver(c, 5)
        assert.matches("id:" .. mid .. " .* stat:UNDELIV err:001", d.short_message)
        assert.equal("\5", d.tlvs[0x0427])
        assert.equal("\3\0\1", d.tlvs[0x0423])
        c:close()
    end)

    it("refuses a destination matching a reject rule", function()
        smsc()
        local c = bound()
        local r = submit(c, { destination_addr = "000123" })
        assert.equal(0x0B, r.status)                           -- ESME_RINVDSTADR
        c:close()
    end)

    it("holds a receipt until a receiver binds", function()
        smsc()
        local tx = bound("transmitter")
        submit(tx, { registered_delivery = 1, short_message = "held" })
        -- final, and nobody to deliver to: held in the account's outbox
        assert.is_truthy(wait_until(function() return srv:stats().store.outbox.value == 1 end))
        local rx = bound("receiver")
        local d = deliver(rx, 3)
        assert.matches("stat:DELIVRD", d.short_message)
        assert.matches("text:held", d.short_message)
        tx:close()
        rx:close()
    end)

    it("answers query_sm with the state, then the final state and date", function()
        smsc()
        local c = bound()
        local _, mid = submit(c, { schedule_delivery_time = IN_1_S })
        local r, q = query(c, mid)
        assert.equal(ROK, r.status)
        assert.same({ mid, "", 1 }, { q.message_id, q.final_date, q.message_state })   -- ENROUTE
        assert.is_truthy(wait_until(function()
            r, q = query(c, mid)
            return q.message_state ~= 1
        end))
        assert.equal(2, q.message_state)                      -- DELIVERED
        assert.matches("^%d+000%+$", q.final_date)
        assert.equal(16, #q.final_date)
        r = query(c, "nosuchid")
        assert.equal(0x67, r.status)                          -- ESME_RQUERYFAIL
        c:close()
    end)

    it("cancels a pending message once, and not a final one", function()
        smsc()
        local c = bound()
        local _, mid = submit(c, { registered_delivery = 1, schedule_delivery_time = IN_1_S })
        local function cancel()
            local seq = c:next_seq()
            c:send(wire.pdu(id.cancel_sm, seq, wire.cstr("") .. wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
                .. "\1\1" .. wire.cstr("447700900123")))
            return assert(c:expect(function(p) return p.seq == seq end))
        end
        assert.equal(ROK, cancel().status)
        assert.equal(0x11, cancel().status)                   -- ESME_RCANCELFAIL
        local _, q = query(c, mid)
        assert.equal(4, q.message_state)                      -- DELETED
        -- no receipt: the first to come is that of a later message, due
        -- after the cancelled one would have been
        local _, later = submit(c, { registered_delivery = 1, schedule_delivery_time = IN_1_S })
        local d = deliver(c, 5)
        assert.equal(later .. "\0", d.tlvs[0x001E])
        c:close()
    end)

    it("replaces a pending message and refuses to replace a final one", function()
        smsc()
        local c = bound()
        local _, mid = submit(c, { registered_delivery = 1, short_message = "old text",
                                   schedule_delivery_time = IN_1_S })
        local function replace(text)
            local seq = c:next_seq()
            c:send(wire.pdu(id.replace_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
                .. "\0\0" .. "\1\0" .. wire.u8(#text) .. text))
            return assert(c:expect(function(p) return p.seq == seq end))
        end
        assert.equal(ROK, replace("new text").status)
        local d = deliver(c, 5)
        assert.matches("text:new text", d.short_message)
        assert.equal(0x13, replace("too late").status)        -- ESME_RREPLACEFAIL
        c:close()
    end)

    it("honours replace_if_present_flag on submit_sm", function()
        smsc()
        local c = bound()
        local _, a = submit(c, { destination_addr = "447700900555" })
        local _, b = submit(c, { destination_addr = "447700900555", replace_if_present_flag = 1 })
        local _, other = submit(c, { destination_addr = "447700900556", replace_if_present_flag = 1 })
        assert.equal(a, b)
        assert.is_true(other ~= a)
        c:close()
    end)

    it("answers submit_multi with per-destination results", function()
        smsc()
        local c = bound()
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(4)
            .. "\1\1\1" .. wire.cstr("447700900123")
            .. "\1\1\1" .. wire.cstr("000999")                -- rejected by a rule
            .. "\2" .. wire.cstr("friends")                    -- a distribution list
            .. "\2" .. wire.cstr("nope")                       -- unknown list
            .. "\0\0\0" .. "\0\0" .. "\0\0\0\0" .. wire.u8(2) .. "hi"
        c:send(wire.pdu(id.submit_multi, 40, body))
        local r = assert(c:read())
        assert.same({ RESP + id.submit_multi, ROK, 40 }, { r.id, r.status, r.seq })
        local m = wire.parse_multi_resp(r.body)
        assert.matches("^%d+$", m.message_id)
        assert.equal(2, #m.unsuccess)
        assert.same({ "000999", 0x0B }, { m.unsuccess[1].addr, m.unsuccess[1].status })
        assert.same({ "nope", 0x34 }, { m.unsuccess[2].addr, m.unsuccess[2].status })   -- ESME_RINVDLNAME
        c:close()
    end)

    it("takes a long message in three UDH parts, each with its receipt", function()
        smsc()
        local c = bound()
        local long = ("The quick brown fox jumps over the lazy dog. "):rep(9)   -- 405 characters
        local parts = assert(split.split(long, { coding = "gsm", method = "udh8", ref = 77 }))
        assert.equal(3, #parts)
        local ids = {}
        for _, p in ipairs(parts) do
            local r, mid = submit(c, { short_message = p.short_message, esm_class = p.esm_class,
                                       registered_delivery = 1 })
            assert.equal(ROK, r.status)
            ids[mid] = true
        end
        local seen = 0
        for _ = 1, 3 do
            local d = deliver(c, 5)
            local rid = d.tlvs[0x001E]:sub(1, -2)
            assert.is_true(ids[rid])
            seen = seen + 1
        end
        assert.equal(3, seen)
        c:close()
    end)

    it("delivers an MO to a bound receiver (echo keyword)", function()
        smsc()
        local c = bound()
        submit(c, { short_message = "echo hello world", source_addr = "5555", destination_addr = "447700900777" })
        local d = deliver(c, 3)
        assert.equal(0, d.esm_class)
        assert.equal("447700900777", d.source_addr)
        assert.equal("5555", d.destination_addr)
        assert.equal("echo hello world", d.short_message)
        c:close()
    end)

    -- Which copy would be the message? Refused before anything is stored:
    -- no receipt, no echo, and the messages after it go on as ever.
    it("refuses a submit whose message_payload came twice with ESME_RINVOPTPARSTREAM, storing nothing", function()
        smsc()
        local c = bound()
        local twice = wire.tlv(0x0424, "echo a") .. wire.tlv(0x0424, "echo b")
        local r = submit(c, { registered_delivery = 1, short_message = "", tlvs = twice })
        assert.equal(0xC0, r.status)
        local data_sm = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. "\1\1" .. wire.cstr("447700900123")
            .. "\0\1\0" .. twice
        c:send(wire.pdu(id.data_sm, 61, data_sm))
        r = assert(c:expect(function(p) return p.seq == 61 end))
        assert.same({ RESP + id.data_sm, 0xC0 }, { r.id, r.status })
        local multi = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(1) .. "\1\1\1" .. wire.cstr("447700900123")
            .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(0) .. twice
        c:send(wire.pdu(id.submit_multi, 62, multi))
        r = assert(c:expect(function(p) return p.seq == 62 end))
        assert.same({ RESP + id.submit_multi, 0xC0 }, { r.id, r.status })
        assert.equal(0, srv:count_log("traceback"), srv:log_text())
        -- the next message's receipt is the first deliver_sm: nothing of the three went anywhere
        local _, mid = submit(c, { registered_delivery = 1, short_message = "after" })
        local d = deliver(c, 5)
        assert.equal(mid .. "\0", d.tlvs[0x001E])
        assert(wait_until(function() return srv:gauge("smsc_stored_messages") == 1 end, 5),
               "stored: " .. tostring(srv:gauge("smsc_stored_messages")))
        c:close()
    end)

    it("accepts data_sm with message_payload", function()
        smsc()
        local c = bound()
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. "\1\1" .. wire.cstr("447700900123")
            .. "\0\0\0" .. wire.tlv(0x0424, "payload text")
        c:send(wire.pdu(id.data_sm, 60, body))
        local r = assert(c:read())
        assert.same({ RESP + id.data_sm, ROK, 60 }, { r.id, r.status, r.seq })
        assert.matches("^%d+$", wire.first_cstr(r.body))
        c:close()
    end)
end)

describe("#integration reference SMSC with a small message store", function()
    it("keeps store.limits.messages messages for query_sm, forgetting the oldest, however many are submitted", function()
        local small = smsc { store = { path = ":memory:", limits = { messages = 3 } } }
        local c = wire.connect(small.port)
        assert.equal(ROK, c:bind("transceiver").status)
        local ids = {}
        for i = 1, 12 do
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, {}))
            local r = assert(c:expect(function(p) return p.seq == seq end))
            ids[i] = wire.first_cstr(r.body)
        end
        for i = 1, 12 do
            local seq = c:next_seq()
            c:send(wire.pdu(id.query_sm, seq, wire.cstr(ids[i]) .. "\0\0" .. wire.cstr("1234")))
            local r = assert(c:expect(function(p) return p.seq == seq end))
            assert.equal(i > 9 and ROK or 0x67, r.status, "message " .. i)   -- ESME_RQUERYFAIL when forgotten
        end
        c:close()
    end)
end)

-- A script's hooks that fail. final_state runs before the message is
-- stored: a bad value refuses the submit (ESME_RSYSERR) and keeps nothing.
-- on_text runs once it is stored: its failure is logged naming the hook,
-- the submit is answered ESME_ROK with its id, the receipt follows, and
-- only the MO is missing.
describe("#integration reference SMSC with hooks that fail", function()
    local SCRIPT = [[
local smsc = require("smpp.smsc").new(...)
local smpp = require "smpp"
function smsc.on_text(m)
    if m.dest == "7" then return { command = "submit_sm" } end                -- smpp.post refuses it
    if m.dest == "71" then return { short_message = string.rep("x", 300) } end
    if m.dest == "8" then error("on_text fails") end
    if m.dest == "9" then return 42 end
    if m.dest == "10" then smpp.sleep(0.05) return "slept" end
end
function smsc.final_state(m)
    if m.dest == "61" then return "DELIVRD", "x" end
    if m.dest == "62" then return "DELIVRD", 0, -3 end
    if m.dest == "63" then return "LOST" end
    return "DELIVRD", 0, 0
end
function smsc.on_submit(m)
    if m.dest == "64" then error("on_submit fails") end
    if m.dest == "65" then return {} end                  -- a verdict table: not a status
    if m.dest == "66" then return 0/0 end
    if m.dest:sub(1, 3) == "000" then return "ESME_RINVDSTADR" end
end
return smsc.handlers
]]
    local MANY = { "447700900201", "447700900202" }
    for i = 1, 300 do MANY[#MANY + 1] = string.format("000%06d", i) end
    local function start()
        srv = server.start { script = SCRIPT, conf = server.smsc_conf { script = "script.lua",
                                                                        smsc = { distribution_lists = { many = MANY } } } }
        return srv
    end

    -- Send the requests (bytes whose sequence_numbers are 1..n after the
    -- bind) and then a submit to "10", whose MO comes after everything
    -- posted before it; read until that MO: the responses by
    -- sequence_number, the receipts' ids in order, the other MO texts.
    local function exchange(c, requests)
        local n = #requests
        c:send(table.concat(requests) .. wire.submit_sm(c.seq + n + 1, { destination_addr = "10" }))
        local first = c.seq + 1
        c.seq = c.seq + n + 1
        local resps, receipts, mo, slept = {}, {}, {}, false
        while not slept or #resps < n + 1 do
            local p = assert(c:read(5))
            if p.id == id.deliver_sm then
                c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                if d.esm_class == 4 then receipts[#receipts + 1] = d.tlvs[0x001E]:sub(1, -2)
                elseif d.short_message == "slept" then slept = true
                else mo[#mo + 1] = d.short_message end
            else
                resps[p.seq - first + 1] = p
            end
        end
        assert.equal(ROK, resps[n + 1].status)
        resps[n + 1] = nil
        return resps, receipts, mo
    end

    it("accepts a message whose on_text fails: its id answered, its receipt sent, no MO, the hook logged", function()
        start()
        local c = bound()
        local dests, requests = { "7", "71", "8", "9" }, {}
        for i, dest in ipairs(dests) do
            requests[i] = wire.submit_sm(c.seq + i, { registered_delivery = 1, destination_addr = dest })
        end
        local resps, receipts, mo = exchange(c, requests)
        local ids = {}
        for i, r in ipairs(resps) do
            assert.equal(ROK, r.status, "dest " .. dests[i])
            ids[i] = wire.first_cstr(r.body)
            assert.matches("^%d+$", ids[i])
        end
        assert.same(ids, receipts)
        assert.same({}, mo)
        local log = srv:log_text()
        local hook = "on_text %([^\n]-script%.lua:3%)"
        assert.matches(hook .. " to " .. ids[1] .. " cannot be sent: smpp%.post: only deliver_sm and data_sm", log)
        assert.matches(hook .. " to " .. ids[2] .. " cannot be sent: smpp%.post: short_message is 300 octets", log)
        assert.matches(hook .. " failed for message " .. ids[3] .. " %(accepted; no MO sent%): [^\n]-script%.lua:6: on_text fails", log)
        assert.matches(hook .. " returned a number for message " .. ids[4], log)
        assert.equal(0, srv:count_log("submit_sm failed"))
        c:close()
    end)

    it("keeps every destination of a submit_multi whose on_text fails for one", function()
        start()
        local c = bound()
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(3)
            .. "\1\1\1" .. wire.cstr("447700900123") .. "\1\1\1" .. wire.cstr("8") .. "\1\1\1" .. wire.cstr("7")
            .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"        -- registered_delivery 1
        local resps, receipts, mo = exchange(c, { wire.pdu(id.submit_multi, c.seq + 1, body) })
        assert.same({ RESP + id.submit_multi, ROK }, { resps[1].id, resps[1].status })
        local m = wire.parse_multi_resp(resps[1].body)
        assert.matches("^%d+$", m.message_id)
        assert.equal(0, #m.unsuccess)
        assert.same({ m.message_id, m.message_id, m.message_id }, receipts)
        assert.same({}, mo)
        assert.equal(3 + 1, srv:gauge("smsc_stored_messages"))          -- and the submit to 10
        c:close()
    end)

    it("refuses a message whose final_state returns a bad value, naming the hook, and keeps nothing", function()
        start()
        local c = bound()
        local requests = {}
        for i, dest in ipairs { "61", "62", "63" } do
            requests[i] = wire.submit_sm(c.seq + i, { registered_delivery = 1, destination_addr = dest })
        end
        local resps, receipts = exchange(c, requests)
        for i = 1, 3 do assert.equal(0x08, resps[i].status, "submit " .. i) end    -- ESME_RSYSERR
        local hook = "final_state %([^\n]-script%.lua:10%)"
        local log = srv:log_text()
        assert.matches(hook .. ': err "x" is not an integer 0%.%.65535', log)
        assert.matches(hook .. ": delay %-3 is not a number of seconds, 0 or more", log)
        assert.matches(hook .. ": LOST is not a final state", log)
        assert.same({}, receipts)
        assert.equal(1, srv:gauge("smsc_stored_messages"))
        c:close()
    end)

    it("refuses only the destinations of a submit_multi whose on_submit or final_state fails", function()
        start()
        local c = bound()
        local dests = { "447700900123", "64", "61", "447700900124", "62" }
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(#dests)
        for _, d in ipairs(dests) do body = body .. "\1\1\1" .. wire.cstr(d) end
        body = body .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"      -- registered_delivery 1
        local resps, receipts = exchange(c, { wire.pdu(id.submit_multi, c.seq + 1, body) })
        assert.equal(ROK, resps[1].status)
        local m = wire.parse_multi_resp(resps[1].body)
        local refused = {}
        for i, u in ipairs(m.unsuccess) do refused[i] = u.addr .. " " .. u.status end
        assert.same({ "64 8", "61 8", "62 8" }, refused)                          -- ESME_RSYSERR each
        assert.same({ m.message_id, m.message_id }, receipts)
        assert.equal(2 + 1, srv:gauge("smsc_stored_messages"))
        assert.matches("submit_multi: destination 64 refused %(ESME_RSYSERR%): [^\n]-script%.lua:17: on_submit fails",
                       srv:log_text())
        assert.matches("submit_multi: destination 61 refused %(ESME_RSYSERR%): final_state %([^\n]-script%.lua:10%): err",
                       srv:log_text())
        c:close()
    end)

    it("refuses a message whose on_submit returns what is not a status, naming the hook, and keeps nothing", function()
        start()
        local c = bound()
        local requests = {}
        for i, dest in ipairs { "65", "66" } do
            requests[i] = wire.submit_sm(c.seq + i, { registered_delivery = 1, destination_addr = dest })
        end
        local resps, receipts = exchange(c, requests)
        for i = 1, 2 do assert.equal(0x08, resps[i].status, "submit " .. i) end    -- ESME_RSYSERR
        local hook = "on_submit %([^\n]-script%.lua:16%)"
        assert.is_truthy(srv:wait_log(hook .. ": a table is not a status"))
        assert.is_truthy(srv:wait_log(hook .. ": nan is not a status"))
        assert.same({}, receipts)
        assert.equal(1, srv:gauge("smsc_stored_messages"))                        -- the submit to 10
        -- in a submit_multi, those destinations only are refused
        local dests = { "447700900123", "65", "66", "447700900124" }
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(#dests)
        for _, d in ipairs(dests) do body = body .. "\1\1\1" .. wire.cstr(d) end
        body = body .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"
        resps, receipts = exchange(c, { wire.pdu(id.submit_multi, c.seq + 1, body) })
        assert.equal(ROK, resps[1].status)
        local m = wire.parse_multi_resp(resps[1].body)
        local refused = {}
        for i, u in ipairs(m.unsuccess) do refused[i] = u.addr .. " " .. u.status end
        assert.same({ "65 8", "66 8" }, refused)
        assert.same({ m.message_id, m.message_id }, receipts)
        c:close()
    end)

    it("refuses a submit_multi whose refused destinations are more than unsuccess_sme holds, withdrawing the rest",
        function()
        start()
        local c = bound()
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(1) .. "\2" .. wire.cstr("many")
            .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"      -- registered_delivery 1
        local resps, receipts = exchange(c, { wire.pdu(id.submit_multi, c.seq + 1, body) })
        assert.equal(0x45, resps[1].status)                                      -- ESME_RSUBMITFAIL
        assert.equal("", wire.parse_multi_resp(resps[1].body).message_id)
        assert.is_truthy(srv:wait_log("submit_multi refused %(ESME_RSUBMITFAIL%): 300 destinations refused, more "
            .. "than the 254 unsuccess_sme holds; the 2 stored are withdrawn"))
        -- the two stored are gone from the store (removed in the run that
        -- refused them, before any run of the scheduler: no receipt can
        -- come for them); the submit to 10 is the one message kept
        assert.equal(1, srv:gauge("smsc_stored_messages"))
        assert.same({}, receipts)
        c:close()
    end)
end)
