-- scripts/bench.lua -- the bench SMSC (conf/bench.lua): every submit_sm is
-- accepted with a message_id from a counter; nothing else is done.
local S = require("smpp").status

local n = 0

return {
    submit_sm = function(session, pdu)
        n = n + 1
        return S.ESME_ROK, { message_id = tostring(n) }
    end,
}
