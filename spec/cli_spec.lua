-- cli_spec -- smppgw decode / encode / --help / --version as a user runs them.
local run = require "helpers.run"
local cjson = require "cjson"
local smpp = require "smpp"

local SUBMIT = "00000036000000040000000000000002000500494E464F000101343437373030393030313233"
    .. "000000000000010000000548656C6C6F"

describe("smppgw decode", function()
    it("prints one JSON object per PDU, keys in wire order", function()
        local out, err, rc = run.smppgw({ "decode", SUBMIT, "00000010800000040000005800000003" })
        assert.equal(0, rc, err)
        local lines = {}
        for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
        assert.equal(2, #lines)
        local a = cjson.decode(lines[1])
        assert.equal("submit_sm", a.command)
        assert.equal("447700900123", a.destination_addr)
        assert.equal("Hello", a.short_message)
        assert.matches('^{"command":"submit_sm","command_id":"0x00000004","command_status":"0x00000000",'
            .. '"status":"ESME_ROK","sequence_number":2,"service_type":""', lines[1])
        local resp = cjson.decode(lines[2])
        assert.same({ "submit_sm_resp", "0x80000004", "0x00000058", "ESME_RTHROTTLED", 3 },
            { resp.command, resp.command_id, resp.command_status, resp.status, resp.sequence_number })
    end)
    it("shows TLVs by name, one without a name under its tag in hex, and their wire order", function()
        -- data_sm: TLVs 0x1401 (vendor), message_payload, receipted_message_id, in that order
        local pdu = "0000002C00000103000000000000000100000000000000000000"
            .. "14010002ABCD" .. "042400026869" .. "001E00027800"
        local out, err, rc = run.smppgw({ "decode", pdu })
        assert.equal(0, rc, err)
        local d = cjson.decode(out)
        assert.same({ "hi", "x", { hex = "ABCD" } }, { d.message_payload, d.receipted_message_id, d["0x1401"] })
        assert.same({ "0x1401", "message_payload", "receipted_message_id" }, d.tlv_order)
        assert.matches('"receipted_message_id":"x","message_payload":"hi","0x1401":{"hex":"ABCD"},"tlv_order"', out)
        local back = run.smppgw({ "encode", "-" }, out)
        assert.equal(pdu .. "\n", back)
    end)
    it("writes an address list's entries with their keys in wire order", function()
        local bytes = assert(smpp.encode { command = "submit_multi", short_message = "hi", dest_address = {
            { dest_flag = 1, dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "4477" },
            { dest_flag = 2, dl_name = "list" } } })
        local hex = bytes:gsub(".", function(c) return string.format("%02X", c:byte()) end)
        local out, err, rc = run.smppgw({ "decode", hex })
        assert.equal(0, rc, err)
        assert.matches('"dest_address":%[{"dest_flag":1,"dest_addr_ton":1,"dest_addr_npi":1,'
            .. '"destination_addr":"4477"},{"dest_flag":2,"dl_name":"list"}%]', out)
    end)
    it("shows a status the table does not name in hex only", function()
        local out = run.smppgw({ "decode", "00000010800000040000040000000007" })
        local d = cjson.decode(out)
        assert.same({ "0x00000400", nil }, { d.command_status, d.status })
        assert.equal("00000010800000040000040000000007\n", run.smppgw({ "encode", "-" }, out))
    end)
    it("accepts spaced hex split over arguments, and standard input", function()
        local spaced = SUBMIT:gsub("(%x%x)", "%1 ")
        local out1 = run.smppgw({ "decode", spaced:sub(1, 30), spaced:sub(31) })
        local out2 = run.smppgw({ "decode" }, spaced .. "\n")
        assert.equal(out1, out2)
        assert.matches('"short_message":"Hello"', out1)
    end)
    it("shows bytes that are not printable text as hex", function()
        local out = run.smppgw({ "decode", "00000023000000040000000000000001" .. ("00"):rep(16) .. "02FF00" })
        assert.matches('"short_message":{"hex":"FF00"}', out, 1, true)
    end)
    it("names the status and the problem of an invalid PDU, exit 1", function()
        local out, err, rc = run.smppgw({ "decode", "0000001000000099000000000000000A" })
        assert.equal(1, rc)
        assert.equal("", out)
        assert.matches("PDU 1 %(0x00000099, sequence_number 10%): ESME_RINVCMDID %(0x00000003%)", err)
        _, err, rc = run.smppgw({ "decode", "0000001A0000000400000000000000010041414141414141" .. "4100" })
        assert.equal(1, rc)
        assert.matches("PDU 1 %(0x00000004 submit_sm, sequence_number 1%): ESME_RINVCMDLEN %(0x00000002%)", err)
    end)
    it("reports a truncated stream", function()
        local _, err, rc = run.smppgw({ "decode", SUBMIT:sub(1, 40) })
        assert.equal(1, rc)
        assert.matches("ESME_RINVCMDLEN", err)
    end)
    it("refuses text that is not hex", function()
        local _, err, rc = run.smppgw({ "decode", "00zz" })
        assert.equal(2, rc)
        assert.matches("not hexadecimal", err)
    end)
end)

describe("smppgw encode", function()
    it("round-trips what decode printed", function()
        local json = run.smppgw({ "decode", SUBMIT })
        local out, err, rc = run.smppgw({ "encode", "-" }, json)
        assert.equal(0, rc, err)
        assert.equal(SUBMIT .. "\n", out)
    end)
    it("encodes a hand-written object, hex strings and numeric TLV keys included", function()
        local out, err, rc = run.smppgw({ "encode",
            '{"command":"data_sm","sequence_number":3,"destination_addr":"4477",'
            .. '"message_payload":{"hex":"0001FF"},"5121":"ab"}' })
        assert.equal(0, rc, err)
        local pdu = smpp.decode(assert(require("smpp.hex").to_bytes(out)))
        assert.equal("\0\1\255", pdu.message_payload)
        assert.equal("ab", pdu[5121])
        assert.equal(3, pdu.sequence_number)
    end)
    it("takes command ids and statuses as numbers, hex or names, and checks they agree", function()
        local want = "00000010800000150000005800000001\n"
        for _, obj in ipairs {
            '{"command":"enquire_link_resp","command_status":88,"sequence_number":1}',
            '{"command_id":"0x80000015","command_status":"0x00000058","sequence_number":1}',
            '{"command":"enquire_link_resp","command_status":"ESME_RTHROTTLED","sequence_number":1}',
            '{"command":"enquire_link_resp","status":"ESME_RTHROTTLED","sequence_number":1}',
        } do
            local out, err, rc = run.smppgw({ "encode", obj })
            assert.equal(0, rc, err)
            assert.equal(want, out)
        end
        local out, err, rc = run.smppgw({ "encode",
            '{"command":"enquire_link_resp","status":"ESME_RTHROTTLED","command_status":"0x00000001","sequence_number":1}' })
        assert.same({ "", 1 }, { out, rc })
        assert.matches("status ESME_RTHROTTLED %(0x00000058%) does not match command_status 0x00000001", err)
        _, err, rc = run.smppgw({ "encode", '{"command":"enquire_link_resp","status":"ESME_NOPE"}' })
        assert.equal(1, rc)
        assert.matches("unknown status ESME_NOPE", err)
        _, err, rc = run.smppgw({ "encode", '{"command":"data_sm","tlv_order":["colour"]}' })
        assert.equal(1, rc)
        assert.matches("tlv_order: unknown TLV colour", err)
    end)
    it("encodes a JSON array as one PDU per line", function()
        local out = run.smppgw({ "encode", '[{"command":"enquire_link","sequence_number":1},'
            .. '{"command":"enquire_link_resp","sequence_number":1}]' })
        assert.equal("00000010000000150000000000000001\n00000010800000150000000000000001\n", out)
    end)
    it("names the wrong field, exit 1", function()
        local out, err, rc = run.smppgw({ "encode", '{"command":"submit_sm","source_addr":"1234567890123456789012"}' })
        assert.equal(1, rc)
        assert.equal("", out)
        assert.matches("source_addr", err)
        _, err, rc = run.smppgw({ "encode", '{"command":"submit_sm","colour":"red"}' })
        assert.equal(1, rc)
        assert.matches("colour", err)
    end)
    it("encodes several PDUs: one JSON text per argument, or per line as decode prints them", function()
        local two = "00000010000000150000000000000001\n00000010000000150000000000000002\n"
        local out, err, rc = run.smppgw({ "decode", "00000010000000150000000000000001",
                                          "00000010000000150000000000000002" })
        assert.equal(0, rc, err)
        assert.same({ two, "", 0 }, { run.smppgw({ "encode", "-" }, out) })
        assert.same({ two, "", 0 }, { run.smppgw({ "encode", '{"command":"enquire_link","sequence_number":1}',
                                                  '[{"command":"enquire_link","sequence_number":2}]' }) })
        local _, err2, rc2 = run.smppgw({ "encode", '{"command":"enquire_link","sequence_number":1}', "{nope" })
        assert.equal(2, rc2)
        assert.matches("^encode: invalid JSON in argument 2", err2)
        _, err2, rc2 = run.smppgw({ "encode" }, '{"command":"enquire_link","sequence_number":1}\n{nope\n')
        assert.equal(2, rc2)
        assert.matches("^encode: invalid JSON in line 2", err2)
    end)
    it("numbers a request 1 unless told, and warns about a request's number outside 1..0x7FFFFFFF", function()
        assert.same({ "00000010000000150000000000000001\n", "", 0 },
                    { run.smppgw({ "encode", '{"command":"enquire_link"}' }) })
        for _, seq in ipairs { "0", "2147483648" } do
            local out, err, rc = run.smppgw({ "encode", '{"command":"enquire_link","sequence_number":' .. seq .. "}" })
            -- written as given (decode | encode gives a capture back), warned about
            assert.same({ string.format("000000100000001500000000%08x\n", tonumber(seq)), 0 },
                        { out, rc })
            assert.matches("PDU 1: warning: sequence_number " .. seq .. " is outside 1..0x7FFFFFFF", err, 1, true)
        end
        -- a response echoes any number, 0 included (a generic_nack for an unusable header)
        assert.same({ "00000010800000000000000300000000\n", "", 0 },
                    { run.smppgw({ "encode", '{"command":"generic_nack","status":"ESME_RINVCMDID","sequence_number":0}' }) })
    end)
    it("refuses invalid JSON, exit 2", function()
        local _, err, rc = run.smppgw({ "encode", "{nope" })
        assert.equal(2, rc)
        assert.matches("invalid JSON", err)
    end)
    it("refuses an array element that is not an object, exit 2, printing nothing", function()
        for json, want in pairs {
            ["[1,2]"] = "encode: PDU 1 is not a JSON object %(a number%)",
            ['[{"command":"enquire_link","sequence_number":1},"x"]'] = "encode: PDU 2 is not a JSON object %(a string%)",
            ['[{"command":"enquire_link","sequence_number":1},null]'] = "encode: PDU 2 is not a JSON object %(null%)",
            ['[[{"command":"enquire_link"}]]'] = "encode: PDU 1 is not a JSON object %(an array%)",
            ["[true]"] = "encode: PDU 1 is not a JSON object %(a boolean%)",
        } do
            local out, err, rc = run.smppgw({ "encode", json })
            assert.same({ "", 2 }, { out, rc }, json)
            assert.matches("^" .. want .. "\n$", err)
        end
    end)
end)

describe("smppgw --help and --version", function()
    it("prints usage", function()
        local out, _, rc = run.smppgw({ "--help" })
        assert.equal(0, rc)
        assert.matches("decode HEX", out)
        assert.matches("encode JSON", out)
    end)
    it("prints the version", function()
        local out, _, rc = run.smppgw({ "--version" })
        assert.equal(0, rc)
        assert.equal("smppgw " .. smpp.version .. " (SMPP 3.4)\n", out)
    end)
    it("refuses an unknown command", function()
        local _, err, rc = run.smppgw({ "frobnicate" })
        assert.equal(2, rc)
        assert.matches("unknown command", err)
    end)
end)
