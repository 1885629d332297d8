-- codec_spec -- the codec through its Lua view: golden vectors, round trips
-- of every command, malformed input with exact statuses, TLV rules, encoder
-- errors, and completeness against the reference tables.
local smpp = require "smpp"
local hex = require "smpp.hex"
local golden = require "vectors.golden"
local S = smpp.status

local function H(s) return assert(hex.to_bytes(s)) end

-- A PDU from a header and a body in hex, with the true command_length.
local function mk(id, status, seq, body)
    local b = H(body or "")
    local len = 16 + #b
    return H(string.format("%08X%08X%08X%08X", len, id, status, seq)) .. b
end

describe("golden vectors (written by hand from the reference tables)", function()
    for _, v in ipairs(golden) do
        it("decodes " .. v.name, function()
            local pdu, st, msg = smpp.decode(H(v.hex))
            assert.is_nil(st, msg)
            assert.same(v.pdu, pdu)
        end)
        it("encodes " .. v.name, function()
            local bytes, msg = smpp.encode(v.pdu)
            assert.is_not_nil(bytes, msg)
            assert.equal(v.hex, hex.from_bytes(bytes))
        end)
    end
end)

-- A representative value for every field of a command, by its name.
local samples = {
    service_type = "CMT", source_addr = "447700900001", destination_addr = "447700900002",
    schedule_delivery_time = "250131235959012+", validity_period = "000001000000000R",
    short_message = "Hello \0\255 world", system_id = "smppclient1", password = "password",
    system_type = "TEST", address_range = "^44", message_id = "A1B2C3D4",
    final_date = "250601120000000+", esme_addr = "12345",
}

local function sample_pdu(info)
    local pdu = { command = info.name, command_status = 0, sequence_number = 0x7FFFFFFF }
    for i, f in ipairs(info.fields) do
        if f == "dest_address" then
            pdu[f] = { { dest_flag = 1, dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "4477" },
                       { dest_flag = 2, dl_name = "friends" } }
        elseif f == "unsuccess_sme" then
            pdu[f] = { { dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "4477",
                         error_status_code = S.ESME_RINVDSTADR } }
        elseif f == "sm_length" or f == "number_of_dests" or f == "no_unsuccess" then
            -- derived: left out, the decoder reports it
        elseif f == "message_id" and info.name == "deliver_sm_resp" then
            pdu[f] = ""
        else
            pdu[f] = samples[f] or i
        end
    end
    pdu.user_message_reference = 0xBEEF
    pdu[0x1500] = "vendor\0bytes"
    return pdu
end

describe("round trip of every command", function()
    for _, info in ipairs(smpp.codec.commands) do
        it(info.name, function()
            local pdu = sample_pdu(info)
            local bytes, msg = smpp.encode(pdu)
            assert.is_not_nil(bytes, msg)
            local back, st, dmsg = smpp.decode(bytes)
            assert.is_nil(st, dmsg)
            for k, v in pairs(pdu) do assert.same(v, back[k], tostring(k)) end
            assert.equal(info.id, back.command_id)
            assert.equal(bytes, smpp.encode(back))
        end)
    end
end)

describe("a PDU's table is the same whichever way it is made", function()
    -- Without TLVs a PDU's table is made by its command's constructor
    -- (compiled after some calls, reading the fields through the FFI);
    -- with one it is built key by key. Both must give the same keys and
    -- values, the first time and once compiled.
    for _, info in ipairs(smpp.codec.commands) do
        it(info.name, function()
            local pdu = sample_pdu(info)
            pdu[0x1500] = nil
            local with_tlv = assert(smpp.encode(pdu))
            pdu.user_message_reference = nil
            local plain = assert(smpp.encode(pdu))
            local want = assert(smpp.decode(with_tlv))
            want.user_message_reference = nil
            for i = 1, 300 do
                local got = smpp.decode(plain)
                assert.same(want, got, "decode " .. i)
                local n, m = 0, 0
                for _ in pairs(got) do n = n + 1 end
                for _ in pairs(want) do m = m + 1 end
                assert.equal(m, n, "keys seen by pairs, decode " .. i)
            end
        end)
    end
end)

describe("a PDU's table holds its strings whether each is empty or not", function()
    -- The constructor leaves a string field at "" when the PDU's is
    -- empty and makes the string otherwise: PDUs that alternate between
    -- the two, field by field, give the same tables as the PDU built
    -- key by key (with a TLV), once compiled and through its side exits.
    for _, info in ipairs(smpp.codec.commands) do
        it(info.name, function()
            local strings = {}
            for _, f in ipairs(info.fields) do
                if type(samples[f]) == "string" then strings[#strings + 1] = f end
            end
            local variants = {}
            for mask = 0, 2 ^ #strings - 1 do
                local pdu = sample_pdu(info)
                pdu[0x1500] = nil
                for b, f in ipairs(strings) do
                    if math.floor(mask / 2 ^ (b - 1)) % 2 == 1 then pdu[f] = "" end
                end
                local with_tlv = smpp.encode(pdu)
                pdu.user_message_reference = nil
                local plain = smpp.encode(pdu)
                if plain and with_tlv then
                    local want = assert(smpp.decode(with_tlv))
                    want.user_message_reference = nil
                    variants[#variants + 1] = { plain, want }
                end
            end
            assert.is_true(#variants >= 2 or #strings == 0, "variants " .. #variants)
            for i = 1, 600 do
                local v = variants[(i * 7) % #variants + 1]
                local got = smpp.decode(v[1])
                assert.same(v[2], got, "decode " .. i)
                local n, m = 0, 0
                for _ in pairs(got) do n = n + 1 end
                for _ in pairs(v[2]) do m = m + 1 end
                assert.equal(m, n, "keys seen by pairs, decode " .. i)
            end
        end)
    end
end)

describe("a PDU's table holds its own strings where the last PDU's were alike", function()
    -- The constructor keeps each string field's last string and takes it
    -- again when the octets are the same (length, then memcmp): PDUs whose
    -- strings change by one octet at the same length, change length, or
    -- come back to an earlier value must each give their own strings, as
    -- the PDU built key by key does, once compiled and through its exits.
    for _, info in ipairs(smpp.codec.commands) do
        it(info.name, function()
            local strings, sample = {}, sample_pdu(info)
            for _, f in ipairs(info.fields) do
                if type(sample[f]) == "string" and #sample[f] > 0 then strings[#strings + 1] = f end
            end
            if #strings == 0 then return end
            local function variant(k)
                local pdu = sample_pdu(info)
                pdu[0x1500] = nil
                for b, f in ipairs(strings) do
                    local s = samples[f]
                    local j = (k + b) % 4
                    if j == 1 then      -- the last octet changed, same length
                        s = s:sub(1, -2) .. (s:sub(-1) == "0" and "1" or "0")
                    elseif j == 2 then  -- the first octet changed
                        s = (s:sub(1, 1) == "0" and "1" or "0") .. s:sub(2)
                    elseif j == 3 then  -- shorter
                        s = s:sub(1, -2)
                    end
                    pdu[f] = s
                end
                local with_tlv = smpp.encode(pdu)
                pdu.user_message_reference = nil
                local plain = smpp.encode(pdu)
                if not (plain and with_tlv) then return nil end
                local want = assert(smpp.decode(with_tlv))
                want.user_message_reference = nil
                return { plain, want }
            end
            local variants = {}
            for k = 0, 3 do variants[#variants + 1] = variant(k) end
            assert.is_true(#variants >= 2, "variants " .. #variants)
            for i = 1, 600 do
                local v = variants[(i % 7 < 4) and (i % #variants + 1) or 1]
                local got = smpp.decode(v[1])
                assert.same(v[2], got, "decode " .. i)
            end
        end)
    end
end)

describe("malformed input gets the exact status", function()
    local SM0 = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    local cases = {
        { "fewer than 16 octets", H("0000001000000015"), S.ESME_RINVCMDLEN },
        { "command_length below 16", H("0000000C000000150000000000000001"), S.ESME_RINVCMDLEN },
        { "command_length above the cap", mk(4, 0, 1, SM0), S.ESME_RINVCMDLEN, 20 },
        { "unknown command_id", mk(0x99, 0, 5), S.ESME_RINVCMDID },
        { "body shorter than the mandatory fields", mk(4, 0, 1, "00 01 01 4142 00 01"), S.ESME_RINVCMDLEN },
        { "source_addr without NUL in 21 octets", mk(4, 0, 1, "00 01 01" .. ("41"):rep(21) .. "00 00 00 00" .. SM0),
          S.ESME_RINVSRCADR },
        { "destination_addr without NUL", mk(4, 0, 1, "00 01 01 00 01 01" .. ("41"):rep(22) .. SM0), S.ESME_RINVDSTADR },
        { "system_id without NUL", mk(9, 0, 1, ("41"):rep(16) .. "00 00 00 34 00 00 00"), S.ESME_RINVSYSID },
        { "password without NUL", mk(9, 0, 1, "41 00" .. ("41"):rep(9) .. "00 00 34 00 00 00"), S.ESME_RINVPASWD },
        { "service_type without NUL", mk(4, 0, 1, ("41"):rep(7) .. SM0), S.ESME_RINVSERTYP },
        { "schedule_delivery_time of 10 characters",
          mk(4, 0, 1, "00 00 00 00 00 00 00 00 00 00" .. ("31"):rep(10) .. "00 00 00 00 00 00 00"), S.ESME_RINVSCHED },
        { "validity_period of 3 characters",
          mk(4, 0, 1, "00 00 00 00 00 00 00 00 00 00 00 313131 00 00 00 00 00 00"), S.ESME_RINVEXPIRY },
        { "sm_length past the body", mk(4, 0, 1, SM0:sub(1, -3) .. "09 4142"), S.ESME_RINVMSGLEN },
        { "short_message and message_payload", mk(4, 0, 1, SM0:sub(1, -3) .. "02 4142 0424 0001 41"),
          S.ESME_RINVMSGLEN },
        { "TLV length past the body", mk(4, 0, 1, SM0 .. "0204 0009 0001"), S.ESME_RINVOPTPARSTREAM },
        { "known TLV with a wrong length", mk(5, 0, 1, SM0 .. "0427 0000"), S.ESME_RINVPARLEN },
        { "stray octets after the last TLV", mk(4, 0, 1, SM0 .. "0204 0002 0001 FF"), S.ESME_RINVCMDLEN },
        { "number_of_dests 0", mk(0x21, 0, 1, "00 00 00 00 00" .. SM0), S.ESME_RINVNUMDESTS },
        { "dest_flag 3", mk(0x21, 0, 1, "00 00 00 00 01 03 41 00" .. SM0), S.ESME_RINVDESTFLAG },
    }
    for _, c in ipairs(cases) do
        it(c[1] .. " -> " .. smpp.status_name(c[3]), function()
            local pdu, st, msg, hdr = smpp.decode(c[2], c[4])
            assert.is_nil(pdu)
            assert.equal(smpp.status_name(c[3]), smpp.status_name(st))
            assert.is_string(msg)
            assert.is_table(hdr)
        end)
    end

    it("takes zero padding after the TLVs, however long, as padding, never as a TLV 0x0000", function()
        for n = 1, 9 do
            local pdu, st, msg = smpp.decode(mk(4, 0, 1, SM0 .. "0204 0002 0001" .. ("00"):rep(n)))
            assert.is_table(pdu, n .. " zero octets: " .. tostring(msg))
            assert.same({ 1, nil }, { pdu.user_message_reference, pdu[0] }, n .. " zero octets")
            pdu = assert(smpp.decode(mk(4, 0, 1, SM0 .. ("00"):rep(n))))
            assert.is_nil(pdu[0], n .. " zero octets, no TLV")
        end
        -- a zero TLV header followed by a real TLV is no padding: a TLV 0x0000 of length 0 (unknown: kept)
        local pdu = assert(smpp.decode(mk(4, 0, 1, SM0 .. "0000 0000 0204 0002 0001")))
        assert.same({ "", 1 }, { pdu[0], pdu.user_message_reference })
    end)

    it("refuses a max_len that is not a whole number 0..0xFFFFFFFF, rather than no cap or the default", function()
        local b = mk(0x15, 0, 1)
        for _, bad in ipairs { -1, 0 / 0, 1e20, 1.5 } do
            assert.has_error(function() smpp.decode(b, bad) end)
            assert.has_error(function() smpp.frame(b, bad) end)
        end
        assert.is_table(smpp.decode(b, 16))
        assert.is_table(smpp.decode(b, 0))
        assert.is_nil(smpp.decode(b, 15))
    end)

    it("refuses a dest_address entry with both destination_addr and dl_name, rather than drop one", function()
        local bytes, err = smpp.encode { command = "submit_multi", sequence_number = 1,
                                         dest_address = { { destination_addr = "1", dl_name = "x" } } }
        assert.is_nil(bytes)
        assert.matches("dest_address%[1%] has both destination_addr and dl_name", err)
    end)

    it("keeps the header of an unknown command for the generic_nack", function()
        local _, st, _, hdr = smpp.decode(mk(0x99, 0, 77))
        assert.equal(S.ESME_RINVCMDID, st)
        assert.equal(77, hdr.sequence_number)
        assert.equal(0x99, hdr.command_id)
    end)

    it("names the field at fault", function()
        local _, _, msg, hdr = smpp.decode(mk(4, 0, 1, "00 01 01" .. ("41"):rep(21) .. "00" .. SM0))
        assert.matches("source_addr", msg)
        assert.equal("source_addr", hdr.field)
    end)

    it("never fails on random bytes (every result is a table or a status)", function()
        math.randomseed(1234)
        for _ = 1, 3000 do
            local n = math.random(16, 80)
            local t = { string.char(0, 0, 0, n) }
            local ids = { 1, 4, 5, 9, 0x21, 0x103, 0x80000021, 0x80000004 }
            local id = ids[math.random(#ids)]
            t[2] = string.char(math.floor(id / 2^24) % 256, math.floor(id / 2^16) % 256,
                               math.floor(id / 256) % 256, id % 256)
            for i = 9, n do t[#t + 1] = string.char(math.random(0, 255)) end
            local pdu, st = smpp.decode(table.concat(t))
            assert.is_true(pdu ~= nil or type(st) == "number")
            if pdu then assert.is_string(smpp.encode(pdu)) end
        end
    end)
end)

describe("TLVs", function()
    local SM0 = "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
    it("keeps repeated, misplaced and vendor TLVs, in order, byte exact", function()
        local bytes = mk(4, 0, 1, SM0 .. "1401 0002 AABB  0381 0004 00010131  0210 0001 34  0381 0004 00010132")
        local pdu = assert(smpp.decode(bytes))
        assert.same({ "\0\1\1" .. "1", "\0\1\1" .. "2" }, pdu.callback_num)
        assert.equal(0x34, pdu.sc_interface_version)
        assert.equal("\170\187", pdu[0x1401])
        assert.same({ 0x1401, 0x0381, 0x0210, 0x0381 }, pdu.tlv_order)
        assert.equal(bytes, smpp.encode(pdu))
    end)
    it("encodes TLVs in tag order when no tlv_order is given", function()
        local bytes = assert(smpp.encode { command = "submit_sm", [0x1500] = "x", message_payload = "hi",
                                           user_message_reference = 1 })
        local pdu = assert(smpp.decode(bytes))
        assert.is_nil(pdu.tlv_order)
        -- 16 header + 17 NULL fields, then the TLVs sorted by tag
        assert.equal("0204" .. "0002" .. "0001" .. "0424" .. "0002" .. "6869" .. "1500" .. "0001" .. "78",
                     hex.from_bytes(bytes:sub(34)))
    end)
    it("takes numeric-string keys as tags (JSON)", function()
        local pdu = assert(smpp.decode(assert(smpp.encode { command = "enquire_link", ["0x1500"] = "a", ["5377"] = "b" })))
        assert.equal("a", pdu[0x1500])
        assert.equal("b", pdu[5377])
    end)
    it("puts a TLV named like a body field under its tag", function()
        -- message_state is a field of query_sm_resp and a TLV
        local bytes = mk(0x80000003, 0, 1, "41 00 00 02 00 0427 0001 05")
        local pdu = assert(smpp.decode(bytes))
        assert.equal(2, pdu.message_state)
        assert.equal("\5", pdu[0x0427])
        assert.equal(bytes, smpp.encode(pdu))
    end)
    it("alert_on_message_delivery is true, and 5.0's level a number", function()
        local pdu = assert(smpp.decode(mk(4, 0, 1, SM0 .. "130C 0000")))
        assert.is_true(pdu.alert_on_message_delivery)
        pdu = assert(smpp.decode(mk(4, 0, 1, SM0 .. "130C 0001 02")))
        assert.equal(2, pdu.alert_on_message_delivery)
        assert.equal(hex.from_bytes(mk(4, 0, 1, SM0 .. "130C 0001 02")), hex.from_bytes(smpp.encode(pdu)))
    end)
    it("accepts a receipted_message_id sent without its NUL", function()
        local pdu = assert(smpp.decode(mk(5, 0, 1, SM0 .. "001E 0003 414243")))
        assert.equal("ABC", pdu.receipted_message_id)
    end)
end)

describe("encode refuses bad tables with a message naming the field", function()
    local cases = {
        { { command = "submit_sm", source_addr = ("1"):rep(21) }, "source_addr" },
        { { command = "submit_sm", esm_class = 256 }, "esm_class" },
        { { command = "submit_sm", esm_class = "4" }, "esm_class" },
        { { command = "submit_sm", esm_class = 1.5 }, "esm_class" },
        { { command = "submit_sm", short_message = ("x"):rep(255) }, "short_message" },
        { { command = "submit_sm", short_message = "x", message_payload = "y" }, "message_payload" },
        { { command = "submit_sm", sm_length = 3, short_message = "x" }, "sm_length" },
        { { command = "submit_sm", validity_period = "2501" }, "validity_period" },
        { { command = "submit_sm", destination_addr = "a\0b" }, "destination_addr" },
        { { command = "submit_sm", sourceaddr = "x" }, "sourceaddr" },
        { { command = "submit_sm", system_id = "x" }, "system_id" },
        { { command = "submit_sm", message_state = 300 }, "message_state" },
        { { command = "submit_sm", user_message_reference = "x" }, "user_message_reference" },
        { { command = "submit_sm", sar_msg_ref_num = 70000 }, "sar_msg_ref_num" },
        { { command = "submit_multi" }, "dest_address" },
        { { command = "submit_multi", dest_address = { { dest_flag = 3 } } }, "dest_flag" },
        { { command = "submit_multi", dest_address = { { destination_addr = ("1"):rep(21) } } }, "destination_addr" },
        { { command = "submit_multi", dest_address = { { bogus = 1 } } }, "bogus" },
        { { command = "nope" }, "command" },
        { { command_id = 0x99 }, "command_id" },
        { { command = "submit_sm", command_id = 5 }, "disagree" },
        { { sequence_number = 1 }, "command" },
        { { command = "enquire_link", sequence_number = -1 }, "sequence_number" },
        { { command = "enquire_link", command_length = 17 }, "command_length" },
        { { command = "submit_sm", tlv_order = { 0x0204 } }, "tlv_order" },
        -- what the decoder (and a peer with the default max_pdu) refuses
        { { command = "deliver_sm", message_payload = ("a"):rep(65535) }, "65572 octets, above 65552" },
        { { command = "deliver_sm", message_payload = ("a"):rep(65000), [0x1401] = ("b"):rep(600) }, "above 65552" },
    }
    for i, c in ipairs(cases) do
        it(string.format("case %d (%s)", i, c[2]), function()
            local bytes, msg = smpp.encode(c[1])
            assert.is_nil(bytes)
            assert.matches(c[2], msg, 1, true)
        end)
    end
    it("fills absent fields with the spec's NULL values", function()
        local pdu = assert(smpp.decode(assert(smpp.encode { command = "submit_sm" })))
        assert.equal("", pdu.source_addr)
        assert.equal(0, pdu.esm_class)
        assert.equal("", pdu.short_message)
        assert.equal(0, pdu.sequence_number)
    end)
    it("decodes a header-only response to the header's keys alone, a new table each time", function()
        local bytes = mk(0x80000004, S.ESME_RTHROTTLED, 9)
        local a, b = assert(smpp.decode(bytes)), assert(smpp.decode(bytes))
        local keys = {}
        for k in pairs(a) do keys[#keys + 1] = k end
        table.sort(keys)
        assert.same({ "command", "command_id", "command_status", "sequence_number" }, keys)
        assert.is_nil(a.message_id)
        assert.are_not.equal(a, b)
        a.sequence_number, a.message_id = 10, "x"             -- the next decode does not see it
        local c = assert(smpp.decode(bytes))
        assert.same({ 9, nil }, { c.sequence_number, c.message_id })
        assert.same(b, c)
    end)
    it("sends an error response without fields header-only", function()
        local b = assert(smpp.encode { command = "submit_sm_resp", command_status = S.ESME_RTHROTTLED, sequence_number = 4 })
        assert.equal("00000010800000040000005800000004", hex.from_bytes(b))
        b = assert(smpp.encode { command = "submit_sm_resp", sequence_number = 4 })
        assert.equal(17, #b)
    end)
end)

describe("completeness against the reference tables (spec/data/smpp34-tables.json)", function()
    local cjson = require "cjson"
    local f = assert(io.open("spec/data/smpp34-tables.json"))
    local ref = cjson.decode(f:read("*a"))
    f:close()

    it("knows every command id with the same name", function()
        for _, c in ipairs(ref.command_ids) do
            assert.equal(c.name, smpp.command_name(c.id))
        end
        assert.equal(#ref.command_ids, #smpp.codec.commands)
    end)
    it("knows every command_status code with the same name", function()
        for _, s in ipairs(ref.command_status) do assert.equal(s.name, smpp.status_name(s.value)) end
        for _, s in ipairs(ref.command_status_smpp50_only) do assert.equal(s.name, smpp.status_name(s.value)) end
    end)
    it("knows every TLV tag with the same name and length bounds", function()
        for _, t in ipairs(ref.tlvs) do
            local info = smpp.tlv_info(t.tag)
            assert.is_not_nil(info, t.name)
            assert.equal(t.name, info.name)
            assert.is_true(info.min <= t.length_min and info.max >= t.length_max, t.name)
        end
    end)
    it("has every PDU's mandatory fields in the reference order", function()
        for name, fields in pairs(ref.pdus) do
            local want = {}
            for _, fl in ipairs(fields) do
                if not fl.field:match("^%(TLV%)") then want[#want + 1] = (fl.field:gsub("%[%]$", "")) end
            end
            assert.same(want, smpp.command_info(name).fields, name)
        end
    end)
    it("has the reference's response for every request", function()
        for _, c in ipairs(ref.command_ids) do
            local row = smpp.command_info(c.name)
            if c.has_response then
                assert.equal(tonumber(c.response_id_hex), row.resp_id, c.name)
            else
                assert.equal(0, row.resp_id, c.name)
            end
        end
    end)
    it("decodes every example of the reference", function()
        for name, h in pairs(ref.examples_hex) do
            local pdu, st, msg = smpp.decode(H(h))
            assert.is_nil(st, name .. ": " .. tostring(msg))
            assert.equal(h, hex.from_bytes(smpp.encode(pdu)))
        end
    end)
end)
