-- scripts/examples/keyword.lua -- a test SMSC that refuses every message
-- whose text holds a keyword (smsc.params.keyword, "blocked"; any case)
-- with smsc.params.status (ESME_RSUBMITFAIL). The messages it accepts
-- are answered in query_sm (ENROUTE, then their final state), cancel_sm
-- and replace_sm from the store, as by the reference SMSC.
local smsc = require("smpp.smsc").new(...)

local keyword = (smsc.params.keyword or "blocked"):lower()
local status = smsc.params.status or "ESME_RSUBMITFAIL"

function smsc.on_submit(m)
    if m.text:lower():find(keyword, 1, true) then return status end
end

return smsc.handlers
