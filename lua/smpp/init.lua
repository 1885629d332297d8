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

-- The runtime (only inside smppgw's serve loop): sessions, waits, timers.
-- See lua/smpp/session.lua.
for _, k in ipairs { "sleep", "after", "every", "cancel", "connect", "outbind", "sessions", "deliver", "post",
                     "receivers",
                     "wait", "wake", "log", "stopping",
                     "stats", "now", "clock", "time", "gauge" } do
    M[k] = session[k]
end
M.Session = session.Session

-- A status printed for people: "ESME_RTHROTTLED (0x00000058)".
function M.status_string(v)
    return string.format("%s (0x%08X)", status_names[v] or "unknown status", v)
end

return M
