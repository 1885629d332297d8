-- scripts/gateway.lua -- the gateway: ESMEs bind to us; each message is
-- routed, stored in the queue of an upstream SMSC and answered with our id
-- once stored; the runtime forwards it and brings its receipt back under
-- that id (store and forward, docs/gateway.md). MO messages from upstreams
-- go to the account their destination is routed to.
--
-- The handlers are smpp.gateway_script's. To change a message, pick its
-- route or refuse it, or act on an upstream's answer, set its hooks
-- before returning the handlers (docs/scripting.md, "Gateway hooks"):
--
--   local gw = require("smpp.gateway_script").new(...)
--   function gw.before_route(m)
--       if m.text and m.text:find("STOP", 1, true) then return "ESME_RX_R_APPN" end
--   end
--   return gw.handlers
local gw = require("smpp.gateway_script").new(...)

return gw.handlers
