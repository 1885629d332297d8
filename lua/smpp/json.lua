-- smpp.json -- PDU tables as JSON text and back, for the CLI and (later) the
-- HTTP API. JSON cannot hold arbitrary bytes, so a string that is not
-- printable UTF-8 is written as {"hex": "..."}; from_json turns that back.
local cjson = require "cjson"
local smpp = require "smpp"
local hex = require "smpp.hex"

local concat, sort = table.concat, table.sort

-- Interpreted, not compiled: encode walks what a script hands it (a table
-- of millions of entries is ordinary script data), and the script budget's
-- count hook does not run inside a compiled loop, so one call could run
-- past scripts.budget_ms until the watchdog ended the process.
if jit then jit.off(true, true) end

local M = {}

-- True when s is valid UTF-8 without control characters other than
-- tab, CR and LF.
local function printable(s)
    if s:find("[%z\1-\8\11\12\14-\31\127]") then return false end
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        local len = c < 0x80 and 1 or c >= 0xC2 and c < 0xE0 and 2
            or c >= 0xE0 and c < 0xF0 and 3 or c >= 0xF0 and c < 0xF5 and 4 or nil
        if not len or i + len - 1 > n then return false end
        for j = i + 1, i + len - 1 do
            local d = s:byte(j)
            if d < 0x80 or d > 0xBF then return false end
        end
        i = i + len
    end
    return true
end

M.printable = printable

-- text(s) -> s as printable UTF-8 text: each octet that is not part of a
-- valid UTF-8 sequence, and each control character but tab, CR and LF, is
-- written \xHH (an error message that echoes what a client sent stays a
-- JSON string, never {"hex": ...}).
function M.text(s)
    if printable(s) then return s end
    local out, i, n = {}, 1, #s
    while i <= n do
        local c = s:byte(i)
        local len = c >= 0x20 and c < 0x7F and 1 or (c == 9 or c == 10 or c == 13) and 1
            or c >= 0xC2 and c < 0xE0 and 2 or c >= 0xE0 and c < 0xF0 and 3 or c >= 0xF0 and c < 0xF5 and 4 or nil
        if len and len > 1 then
            if i + len - 1 > n then
                len = nil
            else
                for j = i + 1, i + len - 1 do
                    local d = s:byte(j)
                    if d < 0x80 or d > 0xBF then len = nil break end
                end
            end
            if len and not printable(s:sub(i, i + len - 1)) then len = nil end
        end
        if len then
            out[#out + 1] = s:sub(i, i + len - 1)
            i = i + len
        else
            out[#out + 1] = string.format("\\x%02X", c)
            i = i + 1
        end
    end
    return concat(out)
end

-- A PDU table (its `command` names an SMPP command) keeps a TLV the
-- tables do not name under its numeric tag, which may be 1 (a decoded
-- PDU with TLV 0x0001 has [1] beside its fields: "mixed"). Its keys as
-- JSON: names as they are, a whole-number tag 0..0xFFFF as "0x0001" (what
-- smpp.encode reads back); anything else raises. nil: not a PDU table.
local function pdu_keys(v)
    local command = rawget(v, "command")
    if type(command) ~= "string" or not smpp.command_info(command) then return nil end
    local keys = {}
    for k in pairs(v) do
        if type(k) == "number" then
            if k < 0 or k > 0xFFFF or k % 1 ~= 0 then
                error("a PDU table has a number key that is no TLV tag (" .. tostring(k) .. ")", 0)
            end
            keys[#keys + 1] = { string.format("0x%04X", k), k }
        elseif type(k) == "string" then
            keys[#keys + 1] = { k, k }
        else
            error("a PDU table has a " .. type(k) .. " key", 0)
        end
    end
    sort(keys, function(a, b) return a[1] < b[1] end)
    return keys
end

local value_json

local function pdu_json(v, keys)
    local out = {}
    for i, k in ipairs(keys) do out[i] = cjson.encode(k[1]) .. ":" .. value_json(v[k[2]]) end
    return "{" .. concat(out, ",") .. "}"
end

function value_json(v)
    local t = type(v)
    if t == "string" then
        if printable(v) then return cjson.encode(v) end
        return '{"hex":"' .. hex.from_bytes(v) .. '"}'
    elseif t == "table" then
        if next(v) == nil then return "[]" end
        local keys = pdu_keys(v)
        if keys then return pdu_json(v, keys) end
        if v[1] ~= nil then
            -- a list: its entries 1..n, a hole as null; a key of another kind
            -- is refused, never dropped (JSON has no such value)
            local n, count = 0, 0
            for k in pairs(v) do
                if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then
                    error("a table mixes list entries and other keys (" .. tostring(k) .. ")", 0)
                end
                count = count + 1
                if k > n then n = k end
            end
            if n > 2 * count + 16 then
                error(string.format("a sparse list (%d slots for %d entries)", n, count), 0)
            end
            local out = {}
            for i = 1, n do out[i] = v[i] == nil and "null" or value_json(v[i]) end
            return "[" .. concat(out, ",") .. "]"
        end
        local keys = {}
        for k in pairs(v) do keys[#keys + 1] = tostring(k) end
        sort(keys)
        local out = {}
        for i, k in ipairs(keys) do
            local val = v[k]
            if val == nil then val = v[tonumber(k)] end
            out[i] = cjson.encode(k) .. ":" .. value_json(val)
        end
        return "{" .. concat(out, ",") .. "}"
    end
    return cjson.encode(v)
end

-- encode(value) -> JSON text: like cjson.encode, with keys sorted, an empty
-- table written as [] and bytes that are not printable UTF-8 as {"hex": ...}.
-- A list (a table with [1]) is written 1..its largest key, holes as null;
-- one that also has other keys, or is sparse (more than twice as many
-- slots as entries, and 16), raises rather than drop anything. A PDU table
-- (a `command` naming an SMPP command) is an object whose TLV tags are
-- written "0x0001" (pdu_keys), so that every decoded PDU can be written.
M.encode = function(v) return value_json(v) end

-- An address list's entries (dest_address, unsuccess_sme) with their keys
-- in wire order, any other key after them, sorted.
local ENTRY_ORDER = { "dest_flag", "dest_addr_ton", "dest_addr_npi", "destination_addr", "dl_name",
                      "error_status_code" }
local function entries_json(list)
    if type(list) ~= "table" or list[1] == nil then return value_json(list) end
    local out = {}
    for i = 1, #list do
        local e = list[i]
        if type(e) ~= "table" then
            out[i] = value_json(e)
        else
            local parts, seen = {}, {}
            for _, k in ipairs(ENTRY_ORDER) do
                if e[k] ~= nil then
                    seen[k] = true
                    parts[#parts + 1] = cjson.encode(k) .. ":" .. value_json(e[k])
                end
            end
            local rest = {}
            for k in pairs(e) do if not seen[k] then rest[#rest + 1] = tostring(k) end end
            sort(rest)
            for _, k in ipairs(rest) do
                local val = e[k]
                if val == nil then val = e[tonumber(k)] end
                parts[#parts + 1] = cjson.encode(k) .. ":" .. value_json(val)
            end
            out[i] = "{" .. concat(parts, ",") .. "}"
        end
    end
    return "[" .. concat(out, ",") .. "]"
end

-- A PDU table as one line of JSON, keys in a stable, readable order: the
-- header (and `status`, a name beside command_status, when the caller
-- added one), the body fields in wire order (an address list's entries
-- too), TLVs by tag (a TLV without a
-- name under its tag in hex, "0x1401"), then tlv_order.
function M.encode_pdu(pdu)
    local out, seen = {}, {}
    local function add(k, v)
        if v ~= nil and not seen[k] then
            seen[k] = true
            local key = type(k) == "number" and string.format("0x%04X", k) or tostring(k)
            local is_list = k == "dest_address" or k == "unsuccess_sme"
            out[#out + 1] = cjson.encode(key) .. ":" .. (is_list and entries_json(v) or value_json(v))
        end
    end
    for _, k in ipairs { "command", "command_id", "command_status", "status", "sequence_number" } do
        add(k, pdu[k])
    end
    local info = pdu.command and smpp.command_info(pdu.command)
    for _, f in ipairs(info and info.fields or {}) do add(f, pdu[f]) end
    local tlvs = {}
    for k in pairs(pdu) do
        if not seen[k] and k ~= "tlv_order" then
            tlvs[#tlvs + 1] = { tag = type(k) == "number" and k or smpp.tlv[k] or 1e9, key = k }
        end
    end
    sort(tlvs, function(a, b) return a.tag < b.tag end)
    for _, t in ipairs(tlvs) do add(t.key, pdu[t.key]) end
    add("tlv_order", pdu.tlv_order)
    return "{" .. concat(out, ",") .. "}"
end

-- Undo the JSON presentation: {"hex": "..."} becomes bytes (recursively),
-- cjson's null is dropped. Returns a new table.
function M.decode_value(v)
    if type(v) ~= "table" then return v end
    local k1 = next(v)
    if k1 == "hex" and next(v, k1) == nil and type(v.hex) == "string" then
        local bytes, why = hex.to_bytes(v.hex)
        if not bytes then error("bad {\"hex\": ...} value: " .. why, 0) end
        return bytes
    end
    local t = {}
    for k, val in pairs(v) do
        if val ~= cjson.null then t[k] = M.decode_value(val) end
    end
    return t
end

return M
