-- smpp_spec -- the constants of require "smpp", both ways.
local smpp = require "smpp"

describe("smpp constants", function()
    it("maps statuses both ways", function()
        assert.equal(0x58, smpp.status.ESME_RTHROTTLED)
        assert.equal("ESME_RTHROTTLED", smpp.status_name(0x58))
        assert.equal(0, smpp.status.ESME_ROK)
        assert.is_nil(smpp.status_name(0x09))
        assert.equal("ESME_RTHROTTLED (0x00000058)", smpp.status_string(0x58))
        for name, v in pairs(smpp.status) do assert.equal(name, smpp.status_name(v)) end
    end)
    it("maps commands both ways", function()
        assert.equal(0x80000004, smpp.command.submit_sm_resp)
        assert.equal("data_sm", smpp.command_name(0x103))
        for name, v in pairs(smpp.command) do assert.equal(name, smpp.command_name(v)) end
    end)
    it("maps TLV tags both ways", function()
        assert.equal(0x0424, smpp.tlv.message_payload)
        assert.equal("receipted_message_id", smpp.tlv_name(0x001E))
        assert.is_nil(smpp.tlv_name(0x1400))
        for name, v in pairs(smpp.tlv) do assert.equal(name, smpp.tlv_name(v)) end
    end)
    it("describes commands from the C table", function()
        local info = smpp.command_info("submit_sm")
        assert.equal(0x80000004, info.resp_id)
        assert.equal("service_type", info.fields[1])
        assert.equal("short_message", info.fields[#info.fields])
    end)
    it("names a 3.4 TLV that came twice in a decoded PDU, and not a vendor one", function()
        local function tlv(tag, v) return string.char(math.floor(tag / 256), tag % 256, 0, #v) .. v end
        local function sm(tlvs)
            local body = "\0" .. "\1\1" .. "1\0" .. "\1\1" .. "447700900999\0" .. "\0\0\0" .. "\0" .. "\0"
                .. "\1\0\0\0\0" .. tlvs
            local n = 16 + #body
            local pdu = assert(smpp.decode(string.char(0, 0, math.floor(n / 256), n % 256, 0, 0, 0, 4,
                                                       0, 0, 0, 0, 0, 0, 0, 1) .. body))
            return pdu
        end
        local p = sm(tlv(0x0424, "a") .. tlv(0x0424, "b"))
        assert.same({ "a", "b" }, p.message_payload)
        assert.equal("message_payload", smpp.repeated_tlv(p))
        assert.equal("user_message_reference",
                     smpp.repeated_tlv(sm(tlv(0x0204, "\0\1") .. tlv(0x0424, "a") .. tlv(0x0204, "\0\2"))))
        assert.is_nil(smpp.repeated_tlv(sm(tlv(0x1400, "x") .. tlv(0x1400, "y"))))        -- vendor: may repeat
        assert.is_nil(smpp.repeated_tlv(sm(tlv(0x0424, "a") .. tlv(0x0204, "\0\1"))))  -- out of order, once each
        assert.is_nil(smpp.repeated_tlv(sm(tlv(0x0204, "\0\1") .. tlv(0x0424, "a"))))
        assert.is_nil(smpp.repeated_tlv(sm("")))
    end)
end)
