-- receipt_spec -- smpp.receipt: the Appendix B text of reference 9.2 both
-- ways, the variations SMSCs send, and the state table of 9.3.
local receipt = require "smpp.receipt"
local cjson = require "cjson"

local EXAMPLE = "id:0001715004 sub:001 dlvrd:001 submit date:2501311200 "
    .. "done date:2501311201 stat:DELIVRD err:000 text:Hello"
local T_SUBMIT = 1738324800     -- 2025-01-31 12:00:00 UTC
local T_DONE = 1738324860       -- 2025-01-31 12:01:00 UTC

local function load_tables()
    local f = assert(io.open("spec/data/smpp34-tables.json", "rb"))
    local t = cjson.decode(f:read("*a"))
    f:close()
    return t
end
local TABLES = load_tables()

describe("receipt.format", function()
    it("writes the reference example from strings", function()
        assert.equal(EXAMPLE, receipt.format({
            id = "0001715004", sub = 1, dlvrd = 1, submit_date = "2501311200",
            done_date = "2501311201", stat = "DELIVRD", err = 0, text = "Hello",
        }))
    end)

    it("writes the reference example from unix times, a state number and defaults", function()
        assert.equal(EXAMPLE, receipt.format({
            id = "0001715004", submit_date = T_SUBMIT, done_date = T_DONE,
            stat = 2, text = "Hello",
        }))
    end)

    it("defaults dlvrd to 0 for a state other than delivered", function()
        local s = receipt.format({ id = "7", submit_date = T_SUBMIT, done_date = T_DONE,
                                   stat = "undeliv", err = 34 })
        assert.equal("id:7 sub:001 dlvrd:000 submit date:2501311200 done date:2501311201 "
                     .. "stat:UNDELIV err:034 text:", s)
    end)

    it("writes state names as the 7-letter stat word and keeps unknown words", function()
        assert.matches("stat:REJECTD ", receipt.format({ id = "1", stat = "rejected" }))
        assert.matches("stat:FOO ", receipt.format({ id = "1", stat = "FOO" }))
    end)

    it("cuts the text to 20 characters, not bytes", function()
        local s = receipt.format({ id = "1", stat = 2, text = string.rep("é", 25) })
        assert.equal(string.rep("é", 20), s:match("text:(.*)$"))
        s = receipt.format({ id = "1", stat = 2, text = "0123456789abcdefghijKLMN" })
        assert.equal("0123456789abcdefghij", s:match("text:(.*)$"))
    end)

    it("uses the current time when dates are missing", function()
        local before = os.date("!%y%m%d%H%M", os.time())
        local s = receipt.format({ id = "1", stat = 2 })
        local after = os.date("!%y%m%d%H%M", os.time())
        local sd = s:match("submit date:(%d+)")
        assert.is_true(sd == before or sd == after, sd)
        assert.equal(sd, s:match("done date:(%d+)"))
    end)

    it("raises on missing id or stat", function()
        assert.has_error(function() receipt.format({ stat = 2 }) end)
        assert.has_error(function() receipt.format({ id = "1" }) end)
        assert.has_error(function() receipt.format({ id = "1", stat = 99 }) end)
        assert.has_error(function() receipt.format("id:1") end)
    end)

    it("raises on a number that is NaN, infinite, negative or fractional, naming the field", function()
        local nan, inf = 0 / 0, math.huge
        for field, bad in pairs { sub = nan, dlvrd = inf, err = nan, submit_date = nan, done_date = -inf } do
            local r = { id = "1", stat = "DELIVRD" }
            r[field] = bad
            assert.has_error(function() receipt.format(r) end,
                field .. " must be a finite number (" .. tostring(bad) .. ")")
        end
        assert.has_error(function() receipt.format { id = "1", stat = 2, err = -1 } end,
            "err must be an integer 0 or more (-1)")
        assert.has_error(function() receipt.format { id = "1", stat = 2, sub = 1.5 } end,
            "sub must be an integer 0 or more (1.5)")
        assert.has_error(function() receipt.format { id = nan, stat = 2 } end, "receipt id must be a finite number")
    end)
end)

describe("receipt.parse", function()
    it("reads the reference example", function()
        local r = assert(receipt.parse(EXAMPLE))
        assert.equal("0001715004", r.id)
        assert.equal(1, r.sub)
        assert.equal(1, r.dlvrd)
        assert.equal("2501311200", r.submit_date)
        assert.equal("2501311201", r.done_date)
        assert.equal(T_SUBMIT, r.submit_time)
        assert.equal(T_DONE, r.done_time)
        assert.equal("DELIVRD", r.stat)
        assert.equal(2, r.state)
        assert.equal(0, r.err)
        assert.equal("Hello", r.text)
    end)

    it("round-trips what format writes", function()
        for state = 1, 8 do
            local s = receipt.format({ id = "AB12", sub = 3, dlvrd = 2, submit_date = T_SUBMIT,
                                       done_date = T_DONE, stat = state, err = 7,
                                       text = "a: b c" })
            local r = assert(receipt.parse(s))
            assert.equal("AB12", r.id)
            assert.equal(3, r.sub)
            assert.equal(2, r.dlvrd)
            assert.equal(state, r.state)
            assert.equal(7, r.err)
            assert.equal("a: b c", r.text)
            assert.equal(T_DONE, r.done_time)
        end
    end)

    it("accepts any label case", function()
        local r = assert(receipt.parse("ID:1A2B3C SUB:001 DLVRD:001 Submit Date:2501311200 "
                                       .. "DONE DATE:2501311201 Stat:delivrd ERR:000 Text:Hi"))
        assert.equal("1A2B3C", r.id)
        assert.equal(T_SUBMIT, r.submit_time)
        assert.equal(T_DONE, r.done_time)
        assert.equal("DELIVRD", r.stat)
        assert.equal(2, r.state)
        assert.equal("Hi", r.text)
    end)

    it("tolerates missing fields and an absent text", function()
        local r = assert(receipt.parse("id:123 stat:EXPIRED"))
        assert.equal("123", r.id)
        assert.equal(3, r.state)
        assert.is_nil(r.text)
        assert.is_nil(r.sub)
        assert.is_nil(r.submit_date)
        assert.is_nil(r.submit_time)
    end)

    it("keeps an empty text as empty", function()
        local r = assert(receipt.parse("id:1 stat:DELIVRD err:000 text:"))
        assert.equal("", r.text)
    end)

    it("reads dates with seconds and with four-digit years", function()
        local r = assert(receipt.parse("id:1 submit date:250131120030 done date:202501311201 stat:DELIVRD"))
        assert.equal("250131120030", r.submit_date)
        assert.equal(1738324830, r.submit_time)
        assert.equal(T_DONE, r.done_time)
        r = assert(receipt.parse("id:1 submit date:20250131120030 stat:DELIVRD"))
        assert.equal(1738324830, r.submit_time)
    end)

    it("keeps an unreadable date as a string without a time", function()
        local r = assert(receipt.parse("id:1 submit date:2513311200 done date:x stat:DELIVRD"))
        assert.equal("2513311200", r.submit_date)
        assert.is_nil(r.submit_time)
        assert.equal("x", r.done_date)
        assert.is_nil(r.done_time)
    end)

    it("collects extra fields and ignores their order", function()
        local r = assert(receipt.parse("stat:UNDELIV id:99 err:0x1F foo:bar mccmnc:23410 text:x y"))
        assert.equal("99", r.id)
        assert.equal(5, r.state)
        assert.equal("0x1F", r.err)
        assert.equal("bar", r.extra.foo)
        assert.equal("23410", r.extra.mccmnc)
        assert.equal("x y", r.text)
    end)

    it("keeps long and hexadecimal ids as sent", function()
        local r = assert(receipt.parse("id:7f3a9c0e-55aa-4b1e-9c2d-0123456789ab stat:ACCEPTD"))
        assert.equal("7f3a9c0e-55aa-4b1e-9c2d-0123456789ab", r.id)
        assert.equal(6, r.state)
    end)

    it("accepts a space after the colon and underscored labels", function()
        local r = assert(receipt.parse("id: 42 submit_date:2501311200 stat: DELIVRD"))
        assert.equal("42", r.id)
        assert.equal(T_SUBMIT, r.submit_time)
        assert.equal(2, r.state)
    end)

    it("takes everything after text: as the text, colons included", function()
        local r = assert(receipt.parse("id:1 stat:DELIVRD text:stat:REJECTD id:2\0"))
        assert.equal("1", r.id)
        assert.equal(2, r.state)
        assert.equal("stat:REJECTD id:2", r.text)
    end)

    it("gives an unknown stat word no state", function()
        local r = assert(receipt.parse("id:1 stat:WEIRD"))
        assert.equal("WEIRD", r.stat)
        assert.is_nil(r.state)
    end)

    it("refuses text that is not a receipt", function()
        local r, err = receipt.parse("Hello, how are you?")
        assert.is_nil(r)
        assert.equal("not a delivery receipt", err)
        assert.is_nil((receipt.parse("")))
        assert.has_error(function() receipt.parse(nil) end)
    end)
end)

describe("receipt states (reference 9.3)", function()
    it("maps every stat word of the JSON both ways", function()
        local n = 0
        for word, state in pairs(TABLES.receipt_stat_text) do
            assert.equal(word, receipt.stat_of(state))
            assert.equal(state, receipt.state_of(word))
            assert.equal(state, receipt.state_of(word:lower()))
            n = n + 1
        end
        assert.equal(8, n)
    end)

    it("maps the message_state names of the JSON to their numbers", function()
        for num, name in pairs(TABLES.message_state) do
            assert.equal(tonumber(num), receipt.state_of(name))
        end
    end)

    it("has no stat word for states without one", function()
        assert.is_nil(receipt.stat_of(0))
        assert.is_nil(receipt.stat_of(9))
        assert.is_nil(receipt.stat_of(42))
        assert.is_nil(receipt.state_of("NOPE"))
        assert.is_nil(receipt.state_of(nil))
    end)

    it("knows which states are final", function()
        local final = { [0] = false, false, true, true, true, true, true, true, true, true }
        for state = 0, 9 do
            assert.equal(final[state], receipt.is_final(state), "state " .. state)
        end
        assert.is_false(receipt.is_final("ENROUTE"))
        assert.is_true(receipt.is_final("delivrd"))
        assert.is_false(receipt.is_final(nil))
        assert.is_false(receipt.is_final("WEIRD"))
    end)
end)

describe("smpp.receipt pdu", function()
    it("builds the deliver_sm of a message's receipt: from its destination, text, TLVs", function()
        local p = receipt.pdu { id = "0001715004", source = "1234", dest = "447700900123", dest_ton = 1, dest_npi = 1,
                                state = "DELIVRD", submitted = T_SUBMIT, done = T_DONE, text = "Hello" }
        assert.equal("deliver_sm", p.command)
        assert.equal(0x04, p.esm_class)
        assert.same({ 1, 1, "447700900123" }, { p.source_addr_ton, p.source_addr_npi, p.source_addr })
        assert.same({ 0, 0, "1234" }, { p.dest_addr_ton, p.dest_addr_npi, p.destination_addr })
        assert.equal(EXAMPLE, p.short_message)
        assert.equal("0001715004", p.receipted_message_id)
        assert.equal(2, p.message_state)
        assert.is_nil(p.network_error_code)
    end)

    it("carries a failure's error code, a state by number, and an ASCII preview of the text", function()
        local p = receipt.pdu { id = "9", source = "1", dest = "2", state = 5, err = 260, submitted = T_SUBMIT,
                                done = T_DONE, text = "\226\130\172uro price is high, really high" }
        assert.equal("\3\1\4", p.network_error_code)     -- GSM, 260
        assert.equal(5, p.message_state)
        assert.matches(" stat:UNDELIV err:260 text:%?uro price is high, $", p.short_message)
        assert.equal(receipt.pdu { id = "9", source = "1", dest = "2", stat = "UNDELIV", err = 260,
                                   submitted = T_SUBMIT, done = T_DONE,
                                   text = "\226\130\172uro price is high, really high" }.short_message, p.short_message)
    end)

    it("refuses what is no receipt", function()
        assert.has_error(function() receipt.pdu { id = "1", state = 0 } end)          -- SCHEDULED has no stat word
        assert.has_error(function() receipt.pdu { id = "1", state = "LOST" } end)
        assert.has_error(function() receipt.pdu { state = 2 } end, "receipt.pdu: id must be a string")
        assert.has_error(function() receipt.pdu { id = "1", state = 2, err = -1 } end,
            "receipt.pdu: err must be an integer 0..65535")
    end)
end)

describe("receipt.is_receipt", function()
    -- reference 7.1: bits 5-2 of a deliver_sm's esm_class are its message
    -- type; 0x04 is an SMSC delivery receipt, 0x20 an intermediate
    -- notification, and the other bits (UDHI 0x40, reply path 0x80, the
    -- unused bits 1-0) do not change it
    it("is the message type 0x04 or 0x20, whatever the other bits", function()
        local n = 0
        for esm = 0, 255 do
            local kind = bit.band(esm, 0x3C)
            assert.equal(kind == 0x04 or kind == 0x20, receipt.is_receipt { esm_class = esm }, esm)
            if receipt.is_receipt { esm_class = esm } then n = n + 1 end
        end
        assert.equal(32, n)
        assert.is_false(receipt.is_receipt { receipted_message_id = "1" })    -- no esm_class: a message
        assert.is_false(receipt.is_receipt { esm_class = 0x08 })              -- an SME acknowledgement
    end)

    it("is what smppgw send --listen prints a deliver_sm as", function()
        local lines = {}
        local out = { write = function(_, ...) lines[#lines + 1] = table.concat { ... } end, flush = function() end }
        local p = require("smpp.send_listen").new { out = out }
        p:take { esm_class = 0x44, short_message = "\5\0\3\1\1\1" .. "id:7 stat:DELIVRD err:000",
                 receipted_message_id = "7" }
        p:take { esm_class = 0x08, short_message = "ack", source_addr = "1", destination_addr = "2" }
        p:take { esm_class = 0, short_message = "hi", receipted_message_id = "9", source_addr = "1",
                 destination_addr = "2" }
        assert.matches("^receipt 7: DELIVRD", lines[1])
        assert.matches("^mo from 1 to 2: ack", lines[2])
        assert.matches("^mo from 1 to 2: hi", lines[3])
    end)
end)
