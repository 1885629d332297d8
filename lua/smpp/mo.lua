-- smpp.mo -- mobile-originated messages: the deliver_sm an SMSC sends an
-- ESME for a text a handset wrote, built from that text (the reply of a
-- test SMSC, an MO injected over HTTP, a periodic one).
local text = require "smpp.text"

local type, tostring = type, tostring

local M = {}

-- The longest text in short_message; longer goes in message_payload.
local SHORT_MAX = 254

-- pdu(m) -> deliver_sm table | nil, err: an MO from m.source to m.dest
-- (the handset's address and the number it wrote to) carrying m.text
-- (UTF-8):
--   source, dest          addresses; source_ton, source_npi, dest_ton,
--                         dest_npi (0)
--   text                  the message, UTF-8
--   coding                "gsm", "latin1", "ascii", "ucs2": the text is
--                         encoded in it and data_coding says which; by
--                         default the receiver's alphabet (data_coding 0)
--                         when every character is in it, else UCS-2 (8)
--   alphabet              what data_coding 0 means to the receiver (the
--                         account's default_alphabet; "gsm")
--   service_type          ("")
-- Octets past 254 go in message_payload (short_message then empty), as
-- SMPP 3.4 allows in a deliver_sm. err names the characters the coding
-- cannot hold, or says the text is not UTF-8.
function M.pdu(m)
    if type(m) ~= "table" then error("mo.pdu expects a table, got " .. type(m), 2) end
    local utf8 = m.text
    if type(utf8) ~= "string" then error("mo.pdu: text must be a string, got " .. type(utf8), 2) end
    if type(m.source) ~= "string" or type(m.dest) ~= "string" then
        error("mo.pdu: source and dest must be strings", 2)
    end
    local bytes, dc, err
    if m.coding == nil then
        local alphabet = m.alphabet or "gsm"
        bytes = text.encode(utf8, alphabet)
        if bytes then
            dc = 0
        else
            bytes, err = text.encode(utf8, "ucs2")
            dc = 8
        end
    else
        dc = text.data_coding_of(m.coding)
        if not dc or m.coding == "binary" or m.coding == "gsm_packed" then
            error("mo.pdu: coding must be gsm, latin1, ascii or ucs2, got " .. tostring(m.coding), 2)
        end
        bytes, err = text.encode(utf8, m.coding)
    end
    if not bytes then return nil, err end
    local pdu = {
        command = "deliver_sm", service_type = m.service_type or "",
        source_addr_ton = m.source_ton or 0, source_addr_npi = m.source_npi or 0, source_addr = m.source,
        dest_addr_ton = m.dest_ton or 0, dest_addr_npi = m.dest_npi or 0, destination_addr = m.dest,
        esm_class = 0, data_coding = dc, short_message = bytes,
    }
    if #bytes > SHORT_MAX then
        pdu.short_message = ""
        pdu.message_payload = bytes
    end
    return pdu
end

return M
