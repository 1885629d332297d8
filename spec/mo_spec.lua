-- mo_spec -- smpp.mo: the deliver_sm of a mobile-originated text, in the
-- receiver's alphabet when the text fits it, else UCS-2, long ones in
-- message_payload.
local mo = require "smpp.mo"
local text = require "smpp.text"

describe("smpp.mo pdu", function()
    it("builds an MO in the receiver's alphabet (data_coding 0) when the text fits it", function()
        local p = assert(mo.pdu { source = "447700900123", dest = "1234", text = "Hello @ 5" })
        assert.same({ "deliver_sm", 0, 0 }, { p.command, p.esm_class, p.data_coding })
        assert.same({ "447700900123", "1234" }, { p.source_addr, p.destination_addr })
        assert.equal("Hello \0 5", p.short_message)                  -- GSM: @ is 0x00
        p = assert(mo.pdu { source = "1", dest = "2", text = "caf\195\169", alphabet = "latin1" })
        assert.same({ 0, "caf\233" }, { p.data_coding, p.short_message })
        assert.equal("caf\195\169", (text.of_pdu(p, "latin1")))
    end)

    it("falls back to UCS-2, or uses the coding asked for", function()
        local p = assert(mo.pdu { source = "1", dest = "2", text = "\226\130\172\240\159\152\128" })
        assert.equal(8, p.data_coding)
        assert.equal("\226\130\172\240\159\152\128", (text.of_pdu(p)))
        p = assert(mo.pdu { source = "1", dest = "2", text = "abc", coding = "ucs2", source_ton = 1, source_npi = 1 })
        assert.same({ 8, "\0a\0b\0c", 1, 1 }, { p.data_coding, p.short_message, p.source_addr_ton, p.source_addr_npi })
        local none, err = mo.pdu { source = "1", dest = "2", text = "\226\130\172", coding = "ascii" }
        assert.is_nil(none)
        assert.matches("cannot represent U%+20AC in ascii", err)
    end)

    it("puts more than 254 octets in message_payload", function()
        local p = assert(mo.pdu { source = "1", dest = "2", text = ("x"):rep(300) })
        assert.same({ "", 300 }, { p.short_message, #p.message_payload })
        assert.equal(("x"):rep(300), (text.of_pdu(p)))
        assert.equal(254, #assert(mo.pdu { source = "1", dest = "2", text = ("x"):rep(254) }).short_message)
    end)

    it("raises on a caller's mistake", function()
        assert.has_error(function() mo.pdu { source = "1", dest = "2" } end, "mo.pdu: text must be a string, got nil")
        assert.has_error(function() mo.pdu { source = 1, dest = "2", text = "x" } end,
            "mo.pdu: source and dest must be strings")
        assert.has_error(function() mo.pdu { source = "1", dest = "2", text = "x", coding = "binary" } end)
    end)
end)
