-- smpp.send_args -- the command line of `smppgw send`: its options read
-- into one table, and the PDUs they make, checked by the codec before
-- anything connects (a bad value is an exit 2 naming it, not a refusal).
local smpp = require "smpp"
local core = require "smpp.core"
local split = require "smpp.split"
local text = require "smpp.text"
local stime = require "smpp.time"
local hex = require "smpp.hex"
local address = require "smpp.address"

local format, floor = string.format, math.floor

local M = {}

-- -- Options ---------------------------------------------------------------------
-- One row per option: the key it sets and whether it takes a value. The
-- parser, the "unknown option" check and the repeatable --tlv read this.
local OPTIONS = {
    ["--from"] = "from", ["--to"] = "to", ["--text"] = "text",
    ["--system-id"] = "system_id", ["--password"] = "password",
    ["--coding"] = "coding", ["--split"] = "split",
    ["--from-ton"] = "from_ton", ["--from-npi"] = "from_npi",
    ["--to-ton"] = "to_ton", ["--to-npi"] = "to_npi",
    ["--validity"] = "validity", ["--service-type"] = "service_type",
    ["--registered-delivery"] = "registered_delivery",
    ["--tlv"] = "tlv", ["--wait-dlr"] = "wait_dlr", ["--wait"] = "wait",
    ["--timeout"] = "timeout",
}
local FLAGS = { ["--data-sm"] = "data_sm", ["--listen"] = "listen", ["--json"] = "json" }

-- Type of number and numbering plan by name (reference 7.7, 7.8).
M.TON = { unknown = 0, international = 1, national = 2, network = 3, subscriber = 4,
          alphanumeric = 5, abbreviated = 6 }
M.NPI = { unknown = 0, isdn = 1, data = 3, telex = 4, land_mobile = 6, national = 8,
          private = 9, ermes = 10, internet = 14, wap = 18 }

local SPLIT = { udh = "udh8", udh16 = "udh16", sar = "sar", payload = "payload" }
local CODINGS = { auto = true, gsm = true, ucs2 = true, latin1 = true }
local UNIT = { s = 1, m = 60, h = 3600, d = 86400 }

-- An integer written in decimal or as 0x hex -> number | nil.
local function integer(v)
    local h = v:match("^0[xX](%x+)$")
    if h then return tonumber(h, 16) end
    return v:match("^%d+$") and tonumber(v) or nil
end

-- A TON or NPI: a number 0..255 or a name of `names`.
local function addr_code(v, opt, names)
    local n = integer(v) or names[v:lower()]
    if not n or n > 255 then
        local list = {}
        for k in pairs(names) do list[#list + 1] = k end
        table.sort(list, function(a, b) return names[a] < names[b] end)
        return nil, format("%s takes 0..255 or one of %s, not %s", opt, table.concat(list, ", "), v)
    end
    return n
end

-- Seconds ("3600", "90s", "30m", "2h", "1d") -> seconds; an SMPP time
-- ("YYMMDDhhmmsstnnp", absolute or relative) -> nil, the time.
local function validity(v)
    local n, unit = v:match("^(%d+)([smhd]?)$")
    if n then
        local secs = tonumber(n) * UNIT[unit ~= "" and unit or "s"]
        if secs > 0 then return secs end
    end
    if #v == 16 and stime.parse(v) then return nil, v end
    return false
end

-- NAME=VALUE (a name of the TLV table, or a tag: 0x1401 or decimal) ->
-- key, value | nil, err. INT TLVs take decimal or 0x hex; C-Octet String
-- ones text; octet strings (and tags the table does not name) 0x hex or
-- text; a FLAG (alert_on_message_delivery) no value.
local function tlv(spec)
    local name, val = spec:match("^([^=]*)=(.*)$")
    if not name then name = spec end
    local tag = smpp.tlv[name] or integer(name)
    if not tag or tag > 0xFFFF then
        return nil, format("--tlv: unknown TLV %s (a name of the TLV table, or a tag such as 0x1401)", name)
    end
    local info = smpp.tlv_info(tag)
    local key = info and info.name or tag
    local kind = info and info.type or "OSTR"
    if kind == "FLAG" then
        if val and val ~= "" then return nil, format("--tlv %s takes no value", key) end
        return key, true
    elseif not val then
        return nil, format("--tlv %s needs a value: %s=VALUE", name, name)
    elseif kind == "INT" then
        local n = integer(val)
        if not n then return nil, format("--tlv %s takes a number (decimal or 0x hex), not %s", key, val) end
        return key, n
    elseif kind == "OSTR" and val:match("^0[xX]") then
        local bytes, why = hex.to_bytes(val:sub(3))
        if not bytes then return nil, format("--tlv %s: %s", key, why) end
        return key, bytes
    end
    return key, val
end

-- parse(args) -> options | nil, message. args[1] is "send".
function M.parse(args)
    local o = { system_id = "smppclient1", password = "password", coding = "auto", tlvs = {} }
    local i = 2
    while i <= #args do
        local a = args[i]
        if FLAGS[a] then
            o[FLAGS[a]] = true
            i = i + 1
        elseif OPTIONS[a] then
            local v = args[i + 1]
            if v == nil then return nil, a .. " needs a value" end
            if a == "--tlv" then
                local key, val = tlv(v)
                if not key then return nil, val end
                local old = o.tlvs[key]
                if old == nil then o.tlvs[key] = val
                elseif type(old) == "table" then old[#old + 1] = val
                else o.tlvs[key] = { old, val } end
            else
                o[OPTIONS[a]] = v
            end
            i = i + 2
        elseif a:sub(1, 1) == "-" then
            return nil, "unknown option " .. a
        elseif not o.host then
            local host, port = address.parse(a)
            if not host then return nil, a .. " is not HOST:PORT (" .. port .. ")" end
            if port == 0 then return nil, a .. ": port 0 is nowhere to connect to" end
            o.host, o.port = host, port
            i = i + 1
        else
            return nil, "unexpected argument " .. a
        end
    end
    if not o.host then return nil, "HOST:PORT is missing" end
    -- with --listen a message is optional: all three, or none
    local given = (o.from and 1 or 0) + (o.to and 1 or 0) + (o.text and 1 or 0)
    if not o.listen or given > 0 then
        for _, k in ipairs { "from", "to", "text" } do
            if not o[k] then return nil, "--" .. k .. " is missing" end
        end
    end
    if not CODINGS[o.coding] then return nil, "--coding takes auto, gsm, ucs2 or latin1, not " .. o.coding end
    if o.split and o.data_sm then return nil, "--split does not apply to --data-sm (the text goes whole in message_payload)" end
    o.method = SPLIT[o.split or "udh"]
    if not o.method then return nil, "--split takes udh, udh16, sar or payload, not " .. o.split end
    for _, k in ipairs { "from_ton", "to_ton", "from_npi", "to_npi" } do
        if o[k] then
            local n, why = addr_code(o[k], "--" .. k:gsub("_", "-"), k:match("ton$") and M.TON or M.NPI)
            if not n then return nil, why end
            o[k] = n
        end
    end
    if o.validity then
        local secs, time = validity(o.validity)
        if secs == false then
            return nil, "--validity takes seconds (3600, or 90s, 30m, 2h, 1d) or an SMPP time (YYMMDDhhmmsstnnp), not "
                .. o.validity
        end
        o.validity_seconds, o.validity_time = secs, time
    end
    if o.registered_delivery then
        local n = integer(o.registered_delivery)
        if not n or n > 255 then return nil, "--registered-delivery takes 0..255, not " .. o.registered_delivery end
        o.registered_delivery = n
    end
    for _, k in ipairs { "wait_dlr", "wait", "timeout" } do
        if o[k] then
            local n = tonumber(o[k])
            if not n or n <= 0 then return nil, "--" .. k:gsub("_", "-") .. " takes a number of seconds" end
            o[k] = n
        end
    end
    if o.wait and not o.listen then return nil, "--wait needs --listen (it is how long to listen)" end
    if o.wait_dlr and o.listen then
        return nil, "--wait-dlr and --listen do not go together (--listen prints the receipts as they come)"
    end
    if not o.registered_delivery then
        o.registered_delivery = (o.wait_dlr or o.listen) and 1 or 0
    elseif o.wait_dlr and o.registered_delivery % 4 == 0 then
        return nil, "--wait-dlr waits for receipts, but --registered-delivery " .. o.registered_delivery
            .. " asks for none"
    end
    return o
end

-- -- The PDUs --------------------------------------------------------------------

-- A random concatenation reference: two sends of a long text must not
-- share one (a handset would mix their parts), so it is not a counter
-- that starts again in every process.
local function random_ref()
    return tonumber(core.random_hex(2), 16)
end

-- The fields every PDU of the message has.
local function common(o)
    local alpha = o.from:match("%D") ~= nil
    local f = {
        service_type = o.service_type,
        source_addr_ton = o.from_ton or (alpha and 5 or 1),
        source_addr_npi = o.from_npi or (alpha and 0 or 1),
        source_addr = o.from,
        dest_addr_ton = o.to_ton or 1, dest_addr_npi = o.to_npi or 1,
        destination_addr = o.to,
        registered_delivery = o.registered_delivery,
    }
    for k, v in pairs(o.tlvs) do f[k] = v end
    return f
end

-- pdus(o) -> the list of PDUs to send | nil, message. Each is encoded
-- once here, so a value the codec refuses is named before connecting.
function M.pdus(o)
    local coding, data_coding = o.coding, nil
    if coding == "auto" then coding = text.choose(o.text) end
    if not coding then return nil, "--text is not valid UTF-8" end
    local list = {}
    if o.data_sm then
        local wire, why = text.encode(o.text, coding)
        if not wire then return nil, why end
        data_coding = text.data_coding_of(coding)
        local p = common(o)
        p.command, p.esm_class, p.data_coding, p.message_payload = "data_sm", 0, data_coding, wire
        -- data_sm has no validity_period: the TLV says how long to try
        if o.validity_seconds then
            p.qos_time_to_live = o.validity_seconds
        elseif o.validity_time then
            local now = os.time()
            p.qos_time_to_live = math.max(1, floor(stime.parse(o.validity_time, now) - now))
        end
        if o.tlvs.message_payload then p.message_payload = o.tlvs.message_payload end
        list[1] = p
    else
        local ref = random_ref()
        local parts, why = split.split(o.text, { coding = coding, method = o.method,
                                                 ref = o.method == "udh8" and ref % 256 or ref })
        if not parts then return nil, why end
        local validity_period = o.validity_time
        if o.validity_seconds then
            local rel, err = stime.format_relative(o.validity_seconds)
            if not rel then return nil, "--validity: " .. err end
            validity_period = rel
        end
        for i, part in ipairs(parts) do
            local p = common(o)
            p.command, p.validity_period = "submit_sm", validity_period
            for k, v in pairs(part) do
                if o.tlvs[k] == nil then p[k] = v end     -- a --tlv wins over the split's own
            end
            list[i] = p
        end
    end
    for i, p in ipairs(list) do
        local ok, why = smpp.encode(p)
        if not ok then
            return nil, #list > 1 and format("part %d/%d: %s", i, #list, why) or why
        end
    end
    return list
end

return M
