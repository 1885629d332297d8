-- cli_send_print_spec -- what smppgw send --listen prints for the PDUs an
-- SMSC delivers (smpp.send_listen), driven table-in/line-out: receipts
-- read from the text or the TLVs, MO text in any coding, long MO joined or
-- shown incomplete, binary data in hex, one line per message.
local send_listen = require "smpp.send_listen"
local text = require "smpp.text"
local split = require "smpp.split"
local cjson = require "cjson"

-- A printer that writes into a list of lines.
local function printer(json)
    local lines = {}
    local out = { write = function(_, ...) for _, s in ipairs { ... } do lines[#lines + 1] = s end end,
                  flush = function() end }
    local p = send_listen.new { json = json, out = out }
    return p, function()
        local all = table.concat(lines)
        local list = {}
        for l in all:gmatch("([^\n]*)\n") do list[#list + 1] = l end
        return list
    end
end

describe("smppgw send's listener output", function()
    it("reads a receipt from its text, or from its TLVs when they are there", function()
        local p, lines = printer(false)
        p:take { esm_class = 4, source_addr = "447700900123", destination_addr = "1234",
                 short_message = "id:77 sub:001 dlvrd:000 submit date:2601011200 done date:2601011201 "
                     .. "stat:UNDELIV err:12 text:hi" }
        p:take { esm_class = 4, short_message = "", receipted_message_id = "78", message_state = 2 }
        p:take { esm_class = 4, short_message = "", receipted_message_id = "79", message_state = 5,
                 network_error_code = "\3\0\34" }
        assert.same({ "receipt 77: UNDELIV err:012 (id:77 sub:001 dlvrd:000 submit date:2601011200 "
                          .. "done date:2601011201 stat:UNDELIV err:12 text:hi)",
                      "receipt 78: DELIVRD", "receipt 79: UNDELIV err:034" }, lines())
    end)

    it("decodes MO text by data_coding and keeps it on one line", function()
        local p, lines = printer(false)
        p:take { source_addr = "a", destination_addr = "b", data_coding = 8,
                 short_message = text.encode("Ω\r\n\t\\ok", "ucs2") }
        p:take { source_addr = "a", destination_addr = "b", data_coding = 3, short_message = "caf\233" }
        p:take { source_addr = "a", destination_addr = "b", data_coding = 0, short_message = "",
                 message_payload = text.encode("@£$", "gsm") }
        p:take { source_addr = "a", destination_addr = "b", data_coding = 4, short_message = "\0\1\255" }
        assert.same({ "mo from a to b: Ω\\r\\n\\t\\\\ok", "mo from a to b: café", "mo from a to b: @£$",
                      "mo from a to b: binary 0001FF" }, lines())
    end)

    it("joins the parts of a long MO, and shows what came of one whose parts stopped coming", function()
        local p, lines = printer(true)
        local long = ("Ωμέγα "):rep(30)
        local parts = assert(split.split(long, { coding = "ucs2", ref = 9 }))
        assert.equal(3, #parts)
        for _, i in ipairs { 3, 1, 2 } do
            local pdu = { source_addr = "447700900123", source_addr_ton = 1, source_addr_npi = 1,
                          destination_addr = "1234", dest_addr_ton = 2, dest_addr_npi = 0 }
            for k, v in pairs(parts[i]) do pdu[k] = v end
            p:take(pdu)
        end
        local second = assert(split.split(long, { coding = "ucs2", ref = 10 }))
        local pdu = { source_addr = "447700900123", destination_addr = "1234" }
        for k, v in pairs(second[2]) do pdu[k] = v end
        p:take(pdu)                                    -- part 2 of 3 only
        assert.equal(1, #lines())                      -- held while the others may come
        p:expire(math.huge)                            -- the end of listening
        local l = lines()
        assert.equal(2, #l)
        local mo = cjson.decode(l[1])
        assert.same({ "mo", long, 3, "447700900123", 1, 1, "1234", 2, 0, 8 }, { mo.type, mo.text, mo.parts,
            mo.from, mo.from_ton, mo.from_npi, mo.to, mo.to_ton, mo.to_npi, mo.data_coding })
        assert.is_nil(mo.missing)
        local half = cjson.decode(l[2])
        assert.same({ 3, 2 }, { half.parts, half.missing })
        assert.equal(text.decode(second[2].short_message:sub(7), "ucs2"), half.text)
    end)

    it("prints the parts it sent", function()
        local p, lines = printer(false)
        p:submitted("abc", 1, 2)
        local pj, jlines = printer(true)
        pj:submitted("abc", 2, 2)
        assert.same({ "message_id abc (part 1/2)" }, lines())
        assert.same({ type = "submitted", message_id = "abc", part = 2, parts = 2 }, cjson.decode(jlines()[1]))
    end)
end)
