-- scripts/smsc.lua -- the reference SMSC: what an SMSC does, one handler
-- per command. The runtime passes the configuration as `...`.
local smpp = require "smpp"

local S = smpp.status
local next_id = 0

local function new_id()
    next_id = next_id + 1
    return string.format("%010d", next_id)
end

return {
    -- submit_sm: accept and give the message an id.
    submit_sm = function(session, pdu)
        return S.ESME_ROK, { message_id = new_id() }
    end,

    data_sm = function(session, pdu)
        return S.ESME_ROK, { message_id = new_id() }
    end,
}
