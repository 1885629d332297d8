-- input_checks_spec -- SMPP 3.4's checks of a message's values (smpp.checks)
-- as the gateway (message_id "own" and "upstream") and the reference SMSC
-- answer them: the same status for the same fault, whoever takes the
-- message. The gateway's upstream takes everything, so that a message the
-- gateway should have refused shows as accepted.
local wire = require "helpers.wire"
local server = require "helpers.server"
local checks = require "smpp.checks"

local id, RESP = wire.id, wire.RESP
local ROK = 0
local RINVPRTFLG, RINVREGDLVFLG, RINVDSTADR, RINVESMCLASS = 0x06, 0x07, 0x0B, 0x43
local RSUBMITFAIL, RINVSRCTON, RINVDSTTON, RINVSCHED, RINVEXPIRY = 0x45, 0x48, 0x50, 0x61, 0x62

-- { name, submit_sm fields, status }
local CASES = {
    { "dest_addr_ton 7", { dest_addr_ton = 7 }, RINVDSTTON },
    { "dest_addr_ton 200", { dest_addr_ton = 200 }, RINVDSTTON },
    { "source_addr_ton 9", { source_addr_ton = 9 }, RINVSRCTON },
    { "priority_flag 9", { priority_flag = 9 }, RINVPRTFLG },
    { "a delivery receipt's esm_class", { esm_class = 0x04 }, RINVESMCLASS },
    { "an intermediate notification's esm_class", { esm_class = 0x20 }, RINVESMCLASS },
    { "registered_delivery 0xFF", { registered_delivery = 0xFF }, RINVREGDLVFLG },
    { "schedule_delivery_time hour 99", { schedule_delivery_time = "9912319999999999" }, RINVSCHED },
    { "schedule_delivery_time direction X", { schedule_delivery_time = "250101000000000X" }, RINVSCHED },
    { "validity_period month 13", { validity_period = "251301000000000+" }, RINVEXPIRY },
    { "validity_period not digits", { validity_period = "2501010000xx000R" }, RINVEXPIRY },
    { "an empty destination_addr", { destination_addr = "" }, RINVDSTADR },
    -- taken
    { "priority_flag 3, dest_addr_ton 6", { priority_flag = 3, dest_addr_ton = 6 }, ROK },
    { "an ESME delivery acknowledgement (esm_class 0x08)", { esm_class = 0x08 }, ROK },
    { "UDHI and store and forward mode (esm_class 0x43)", { esm_class = 0x43, short_message = "\5\0\3\7\1\1hi" }, ROK },
    { "registered_delivery 0x11 (receipt, intermediate)", { registered_delivery = 0x11 }, ROK },
    { "registered_delivery 3 (SMPP 5.0: on success)", { registered_delivery = 3 }, ROK },
    { "data_coding 0x10 (a GSM flash message)", { data_coding = 0x10 }, ROK },
    { "a relative validity_period", { validity_period = "000001000000000R" }, ROK },
}

describe("smpp.checks", function()
    local S = require("smpp").status
    it("answers each fault's status, and nil for what is taken", function()
        for _, c in ipairs(CASES) do
            local pdu = { command = "submit_sm", destination_addr = "447700900123", dest_addr_ton = 1 }
            for k, v in pairs(c[2]) do pdu[k] = v end
            local st, why = checks.message(pdu, 1735689600)
            assert.equal(c[3] ~= ROK and c[3] or nil, st, c[1])
            if st then assert.is_string(why, c[1]) end
        end
    end)

    it("leaves a submit_multi's destinations to checks.multi, one by one", function()
        local good = { dest_flag = 1, dest_addr_ton = 1, destination_addr = "447700900123" }
        local ton = { dest_flag = 1, dest_addr_ton = 7, destination_addr = "447700900124" }
        local empty = { dest_flag = 1, dest_addr_ton = 1, destination_addr = "" }
        local list = { dest_flag = 2, dl_name = "friends" }
        local pdu = { command = "submit_multi", dest_address = { good, ton, empty, list } }
        assert.is_nil(checks.message(pdu))
        local bad = checks.multi(pdu)
        assert.is_nil(bad[good])
        assert.is_nil(bad[list])
        assert.equal(S.ESME_RINVDSTTON, bad[ton].error_status_code)
        assert.equal(S.ESME_RINVDSTADR, bad[empty].error_status_code)
        assert.is_nil(checks.multi { command = "submit_multi", dest_address = { good, list } })
    end)
end)

-- An upstream that takes every message.
local TAKER = [[
return {
    submit_sm = function() return 0, { message_id = "u1" } end,
    submit_multi = function() return 0, { message_id = "u1" } end,
    data_sm = function() return 0, { message_id = "u1" } end,
}]]

local function gateway_conf(port, message_id)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "smppclient1", password = "password" } },
        gateway = { message_id = message_id, routes = { { name = "all", prefix = "", to = "U" } } },
    }
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 6))
    return r.status
end

-- A submit_multi from "1234" to SME addresses { ton, address }.
local function submit_multi(c, dests)
    local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(#dests)
    for _, d in ipairs(dests) do body = body .. "\1" .. wire.u8(d[1]) .. "\1" .. wire.cstr(d[2]) end
    body = body .. "\0\0\0" .. "\0\0" .. "\0\0\0\0" .. wire.u8(2) .. "hi"
    local seq = c:next_seq()
    c:send(wire.pdu(id.submit_multi, seq, body))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_multi end, 6))
    return r.status, wire.parse_multi_resp(r.body)
end

local function each_taker(name, start)
    describe("#integration " .. name, function()
        local c
        setup(function() c = start() end)

        for _, case in ipairs(CASES) do
            it("answers " .. (case[3] == ROK and "ESME_ROK" or string.format("0x%02X", case[3])) .. " for "
                .. case[1], function()
                assert.equal(case[3], submit(c, case[2]))
            end)
        end

        it("lists a submit_multi's bad destinations in unsuccess_sme, and refuses one with none left", function()
            local st, m = submit_multi(c, { { 1, "447700900123" }, { 7, "447700900124" }, { 1, "" } })
            assert.equal(ROK, st)
            assert.equal(2, #m.unsuccess)
            assert.same({ "447700900124", RINVDSTTON }, { m.unsuccess[1].addr, m.unsuccess[1].status })
            assert.same({ "", RINVDSTADR }, { m.unsuccess[2].addr, m.unsuccess[2].status })
            st, m = submit_multi(c, { { 9, "447700900124" }, { 1, "" } })
            assert.equal(RSUBMITFAIL, st)
            assert.equal(2, #m.unsuccess)
        end)
    end)
end

local function bound(port, user, pw)
    local c = wire.connect(port)
    assert.equal(ROK, c:bind("transceiver", user, pw).status)
    return c
end

for _, mode in ipairs { "own", "upstream" } do
    each_taker("the gateway (message_id " .. mode .. ") refuses what SMPP 3.4 does not allow", function()
        local up = server.start { script = TAKER }
        local gw = server.start { conf = gateway_conf(up.port, mode) }
        assert(gw:wait_log("upstream U: bind 1 up", 5), gw:log_text())
        return bound(gw.port, "esme1", "pw1")
    end)
end

each_taker("the reference SMSC refuses the same", function()
    local smsc = server.start { conf = server.smsc_conf { smsc = { reject = {}, rules = {} } } }
    return bound(smsc.port, "smppclient1", "password")
end)
