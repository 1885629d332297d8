-- smpp.send_listen -- what `smppgw send` prints: each part it sent, and the
-- receipts and MO messages the SMSC delivers, one line each, as text or
-- as one JSON object per line. MO text is decoded to UTF-8 whatever its
-- data_coding, and the parts of a long MO are joined before it is shown.
local json = require "smpp.json"
local receipt = require "smpp.receipt"
local split = require "smpp.split"
local text = require "smpp.text"
local hex = require "smpp.hex"

local format = string.format

local M = {}

local Printer = {}
Printer.__index = Printer

-- new{json = bool, out = file (default io.stdout)} -> printer
function M.new(opts)
    return setmetatable({
        json = opts.json, out = opts.out or io.stdout,
        -- parts of long MO messages; a part alone for 10 minutes is shown
        -- as incomplete (expire) rather than held for ever
        parts = split.reassembler { timeout = 600, max_pending = 1000 },
    }, Printer)
end

-- -- Lines -------------------------------------------------------------------------

function Printer:line(s)
    self.out:write(s, "\n")
    self.out:flush()
end

-- One JSON object, keys in the order given: { "key", value, ... }; a key
-- whose value is nil is left out (so the list has holes: maxn, not #).
function Printer:object(kv)
    local out = {}
    for i = 1, table.maxn(kv), 2 do
        if kv[i + 1] ~= nil then out[#out + 1] = json.encode(kv[i]) .. ":" .. json.encode(kv[i + 1]) end
    end
    self:line("{" .. table.concat(out, ",") .. "}")
end

-- Text on one line: line breaks and other control characters escaped.
local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ["\\"] = "\\\\" }
local function one_line(s)
    return (s:gsub("[%c\\]", function(c) return ESCAPES[c] or format("\\x%02X", c:byte()) end))
end

-- submitted(message_id, i, n): part i of n was accepted.
function Printer:submitted(id, i, n)
    if self.json then
        self:object { "type", "submitted", "message_id", id, "part", i, "parts", n }
    else
        self:line(format("message_id %s (part %d/%d)", id, i, n))
    end
end

-- -- Receipts ----------------------------------------------------------------------

-- The receipt's facts: id, stat, err (three digits when a number; from
-- the text, else network_error_code's error) and the text as sent, from
-- its text and its TLVs (which win when present).
function M.receipt(pdu)
    local body = text.payload(pdu)
    local r = receipt.parse(body) or {}
    local err = r.err
    local nec = pdu.network_error_code
    if err == nil and type(nec) == "string" and #nec == 3 then err = nec:byte(2) * 256 + nec:byte(3) end
    if type(err) == "number" then err = format("%03d", err) end
    return {
        id = pdu.receipted_message_id or r.id,
        stat = (pdu.message_state and receipt.stat_of(pdu.message_state)) or r.stat or "UNKNOWN",
        err = err,
        text = body,
        from = pdu.source_addr, to = pdu.destination_addr,
    }
end

-- receipt(r): a receipt as M.receipt read it.
function Printer:receipt(r)
    if self.json then
        self:object { "type", "receipt", "message_id", r.id, "stat", r.stat, "err", r.err,
                      "from", r.from, "to", r.to, "text", r.text }
    else
        self:line(format("receipt %s: %s%s%s", tostring(r.id), r.stat, r.err and " err:" .. r.err or "",
                         r.text ~= "" and " (" .. one_line(r.text) .. ")" or ""))
    end
end

-- -- MO messages -------------------------------------------------------------------

-- User data -> UTF-8 text, or nil and the bytes in hex when the
-- data_coding is binary or unknown.
local function decoded(data, data_coding)
    local coding = text.coding_of(data_coding or 0)
    if coding == "gsm" or coding == "ascii" or coding == "latin1" or coding == "ucs2" then
        return text.decode(data, coding)
    end
    return nil, hex.from_bytes(data)
end

-- Print one MO: pdu for its addresses, data its whole user data.
function Printer:mo_line(pdu, data, data_coding, parts, missing)
    local utf8, bytes = decoded(data, data_coding)
    if self.json then
        self:object { "type", "mo", "from", pdu.source_addr, "from_ton", pdu.source_addr_ton,
                      "from_npi", pdu.source_addr_npi, "to", pdu.destination_addr,
                      "to_ton", pdu.dest_addr_ton, "to_npi", pdu.dest_addr_npi,
                      "data_coding", data_coding, "parts", parts, "missing", missing,
                      "text", utf8, "hex", bytes }
    else
        self:line(format("mo from %s to %s: %s%s%s", tostring(pdu.source_addr), tostring(pdu.destination_addr),
            utf8 and one_line(utf8) or "binary " .. bytes, parts > 1 and format(" [%d parts]", parts) or "",
            missing and format(" [incomplete: %d of %d parts missing]", missing, parts) or ""))
    end
end

-- mo(pdu): an MO message, or a part of one (printed when the last arrives).
function Printer:mo(pdu)
    local data, info = self.parts:add(pdu, os.time())
    if data then
        self:mo_line(pdu, data, info.data_coding, info.total)
    elseif info then                                  -- a malformed UDH: show what came
        self:mo_line(pdu, text.payload(pdu), pdu.data_coding, 1)
    end
    self:expire(os.time())
end

-- expire(now): print the long MO messages whose parts stopped coming
-- (all of them with now = math.huge: the end of listening).
function Printer:expire(now)
    for _, m in ipairs((self.parts:expire(now))) do
        local data, received = {}, 0
        for i = 1, m.total do
            if m.parts[i] then
                data[#data + 1] = m.parts[i]
                received = received + 1
            end
        end
        self:mo_line({ source_addr = m.source_addr, destination_addr = m.destination_addr },
                     table.concat(data), m.data_coding, m.total, m.total - received)
    end
end

-- take(pdu): a deliver_sm or data_sm from the SMSC, printed as what it is.
function Printer:take(pdu)
    if receipt.is_receipt(pdu) then self:receipt(M.receipt(pdu)) else self:mo(pdu) end
end

M.Printer = Printer

return M
