-- scripts/examples/throttle_account.lua -- a test SMSC that answers
-- ESME_RTHROTTLED to one account (smsc.params.account) past smsc.params.rate
-- submits a second; every other account is served as the reference SMSC.
local smpp = require "smpp"
local ratelimit = require "smpp.ratelimit"
local smsc = require("smpp.smsc").new(...)

local account, rate = smsc.params.account or "slow", smsc.params.rate or 10
local bucket = ratelimit.bucket(rate, rate, smpp.clock)   -- the loop's clock, not whole seconds

function smsc.on_submit(m)
    if m.account == account and not bucket:take() then return "ESME_RTHROTTLED" end
end

return smsc.handlers
