-- core/bench/dlr_smsc.lua -- an SMSC for the gateway benches: answers each
-- submit_sm with a counter and sends its receipt at once, on the same session.
local smpp = require "smpp"
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    local id = tostring(n)
    smpp.after(0, function()
        session:send { command = "deliver_sm", esm_class = 4, source_addr = pdu.destination_addr, destination_addr = pdu.source_addr,
            receipted_message_id = id, message_state = 2,
            short_message = "id:" .. id .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311200 stat:DELIVRD err:000 text:" }
    end)
    return 0, { message_id = id }
end }
