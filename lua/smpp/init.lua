-- smpp -- the Lua face of smppgw: codec functions, the protocol constants
-- and the runtime functions scripts use. Every constant here is generated
-- from the C tables (core/*.def) through smpp.codec; nothing is retyped.
-- Loading this module changes no runtime state (the runtime registers what
-- it needs when serving starts).
local codec = require "smpp.codec"
local session = require "smpp.session"

local M = {
    codec = codec,          -- the codec module alone (plain luajit, no runtime)
    version = codec.version,
    decode = codec.decode,  -- decode(bytes [, max_len]) -> pdu | nil, status, message, header
    encode = codec.encode,  -- encode(pdu) -> bytes | nil, message
    frame = codec.frame,    -- frame(bytes [, max_len]) -> whole PDU length | 0 | nil, message
    status = {},            -- smpp.status.ESME_RTHROTTLED == 0x58
    command = {},           -- smpp.command.submit_sm == 0x00000004
    tlv = {},               -- smpp.tlv.message_payload == 0x0424
}

local status_names, status_texts, command_names, tlv_names = {}, {}, {}, {}
local commands_by_name, tlvs_by_tag = {}, {}

for _, s in ipairs(codec.statuses) do
    M.status[s.name] = s.value
    status_names[s.value] = s.name
    status_texts[s.value] = s.text
end
for _, c in ipairs(codec.commands) do
    M.command[c.name] = c.id
    command_names[c.id] = c.name
    commands_by_name[c.name] = c
end
for _, t in ipairs(codec.tlvs) do
    M.tlv[t.name] = t.tag
    tlv_names[t.tag] = t.name
    tlvs_by_tag[t.tag] = t
end

-- Name of a command_status value ("ESME_RTHROTTLED"), or nil.
function M.status_name(v) return status_names[v] end
-- One-line description of a command_status value, or nil.
function M.status_text(v) return status_texts[v] end
-- Name of a command_id ("submit_sm"), or nil.
function M.command_name(id) return command_names[id] end
-- Name of a TLV tag ("message_payload"), or nil for unknown/vendor tags.
function M.tlv_name(tag) return tlv_names[tag] end
-- The table row of a command: name, id, resp_id, fields (in wire order).
function M.command_info(name) return commands_by_name[name] end
-- The table row of a TLV: name, tag, type (INT/CSTR/OSTR/FLAG), min, max.
function M.tlv_info(tag) return tlvs_by_tag[tag] end

-- repeated_tlv(pdu) -> the name of a TLV that SMPP 3.4 defines and that
-- came more than once in this decoded PDU (the table holds an array of
-- its values), or nil. Vendor and unknown tags may repeat. A repeat is
-- never in ascending order, so the codec lists `tlv_order` for it: a PDU
-- without that key (nearly every one) costs one lookup.
function M.repeated_tlv(pdu)
    local order = pdu.tlv_order
    if type(order) ~= "table" then return nil end
    local seen = {}
    for i = 1, #order do
        local tag = order[i]
        local name = tlv_names[tag]
        if name then
            if seen[tag] then return name end
            seen[tag] = true
        end
    end
    return nil
end

-- -- Error tokens ------------------------------------------------------------------
-- What the runtime's functions return as `err` after nil, for failures at
-- run time (misuse raises instead): smpp.E.WINDOW_FULL == "window full".
-- The engine's come from its table (core/sess.h, SESS_ERRNO_MAP, through
-- smpp.codec); the rest are the Lua runtime's, listed here once. The name
-- is the token in upper case with "_" for spaces. Compare err with these,
-- never with prose; a name that is not here raises (a typo is found at
-- once). Store failures are "io: <detail>": compare the part before ":".
local lua_tokens = {
    "no receiver",      -- smpp.deliver_wait: no receiver of the account is bound
    "no account",       -- smpp.deliver_wait, smpp.deliver_queue: the config has no such account
    "full",             -- a bound reached: smpp.deliver_queue, the store, a queue of waiters
    "link down",        -- an upstream link is not bound (smpp.upstream)
    "link busy",        -- an upstream link's window stayed full for the wait
    "bind refused",     -- smpp.connect: the bind_resp's status comes third
    "tls",              -- smpp.connect: the TLS handshake or the server's verification failed
    "io",               -- the store's backend failed ("io: ...")
}
M.E = {}
M.error_tokens = {}
local function add_token(tok)
    M.E[(tok:upper():gsub("[^%w]+", "_"))] = tok
    M.error_tokens[#M.error_tokens + 1] = tok
end
for _, tok in ipairs(codec.errors) do add_token(tok) end
for _, tok in ipairs(lua_tokens) do add_token(tok) end
setmetatable(M.E, { __index = function(_, k) error("smpp.E." .. tostring(k) .. ": no such error token", 2) end })

-- errors() -> a new list of every token: a script's own table, so `#`
-- counts it (a script reads smpp.error_tokens through a read-only view,
-- which `#` sees as empty; ipairs and pairs walk it).
function M.errors()
    local out = {}
    for i, tok in ipairs(M.error_tokens) do out[i] = tok end
    return out
end

-- The runtime (only inside smppgw's serve loop): sessions, waits, timers.
-- See lua/smpp/session.lua.
for _, k in ipairs { "sleep", "after", "every", "cancel", "connect", "outbind", "sessions",
                     "deliver_wait", "deliver_queue", "receivers", "respond",
                     "wait", "wake", "log", "stopping", "stats", "now", "clock", "time", "gauge",
                     -- deprecated aliases, for one release (docs/scripting.md)
                     "deliver", "post", "now_ms" } do
    M[k] = session[k]
end
M.Session = session.Session

-- A status printed for people: "ESME_RTHROTTLED (0x00000058)".
function M.status_string(v)
    return string.format("%s (0x%08X)", status_names[v] or "unknown status", v)
end

return M
