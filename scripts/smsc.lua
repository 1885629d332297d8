-- scripts/smsc.lua -- the reference SMSC: the module smpp.smsc with the
-- options of the configuration's `smsc` section (conf/smppgw.lua lists
-- them). A test SMSC of your own starts from these lines and replaces the
-- hooks it needs (docs/scripting.md, "The reference SMSC"; examples in
-- scripts/examples/):
--
--   function smsc.on_submit(m) ... end     accept (nil) or refuse (a status)
--   function smsc.final_state(m) ... end   stat, err, delay of each message
--   function smsc.on_text(m) ... end       an MO answer (text or deliver_sm)
local smsc = require("smpp.smsc").new(...)

return smsc.handlers
