-- helpers.recorder -- an SMSC that accepts every submit_sm and data_sm and
-- logs each PDU it got, and the spec side that reads those PDUs back from
-- its log: what a client under test really put on the wire, as the
-- server's codec decoded it. Strings travel as hex, so any bytes survive.
local server = require "helpers.server"
local wait = require "helpers.wait"
local cjson = require "cjson"
local json = require "smpp.json"

local M = {}

-- The script: message ids m1, m2, ... in arrival order. A PDU is logged
-- as "recorded N K TEXT" lines, TEXT its JSON in chunks (K from 0) that
-- stay below the log's line length, the last chunk ending in "|".
M.script = [[
local smpp = require "smpp"
local n = 0
local function ser(v)
    if type(v) == "table" then
        local out = {}
        for k, x in pairs(v) do out[#out + 1] = string.format("%q:%s", tostring(k), ser(x)) end
        return "{" .. table.concat(out, ",") .. "}"
    elseif type(v) == "string" then
        return '{"hex":"' .. v:gsub(".", function(c) return string.format("%02X", c:byte()) end) .. '"}'
    end
    return tostring(v)
end
local function record(session, pdu)
    n = n + 1
    local text = ser(pdu) .. "|"
    for i = 1, #text, 700 do
        smpp.log("info", "recorded %d %d %s", n, (i - 1) / 700, text:sub(i, i + 699))
    end
    return smpp.status.ESME_ROK, { message_id = "m" .. n }
end
return { submit_sm = record, data_sm = record }
]]

-- start() -> a running recording SMSC (helpers.server; stopped with the test).
function M.start()
    return server.start { script = M.script }
end

-- pdus(srv) -> the PDUs recorded so far, in arrival order (a PDU whose
-- lines are not all written yet is left out).
function M.pdus(srv)
    local chunks = {}
    for n, k, text in srv:log_text():gmatch("recorded (%d+) (%d+) ([^\n]*)") do
        n, k = tonumber(n), tonumber(k)
        chunks[n] = chunks[n] or {}
        chunks[n][k + 1] = text
    end
    local out = {}
    for n = 1, #chunks do
        local text = table.concat(chunks[n])
        if text:sub(-1) ~= "|" then break end
        out[n] = json.decode_value(cjson.decode(text:sub(1, -2)))
    end
    return out
end

-- wait_for(srv, count) -> the first `count` PDUs once they are all in
-- (raises after 5 s, saying how many came).
function M.wait_for(srv, count)
    local got = wait.wait_until(function()
        local p = M.pdus(srv)
        return #p >= count and p
    end, 5)
    if not got then
        error(("expected %d recorded PDUs, got %d:\n%s"):format(count, #M.pdus(srv), srv:log_text()), 2)
    end
    return got
end

return M
