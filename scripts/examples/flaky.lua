-- scripts/examples/flaky.lua -- a test SMSC where a share of the messages
-- fails (smsc.params.fail, 0.2: UNDELIV with err 1), receipts come
-- smsc.params.delay seconds (5) after the submit, and every message gets
-- an MO reply. Random: the same failures again when smsc.seed is set.
local smsc = require("smpp.smsc").new(...)

local fail, delay = smsc.params.fail or 0.2, smsc.params.delay or 5

function smsc.final_state(m)
    if smsc.random() < fail then return "UNDELIV", 1, delay end
    return "DELIVRD", 0, delay
end

function smsc.on_text(m)
    return "Got: " .. m.text
end

return smsc.handlers
