-- helpers.upstream_scripts -- scripts of upstream SMSCs the receipt specs
-- put behind a gateway (server.start{ script = ... }).
local M = {}

-- Accepts each message under the id its text is ("msg1" -> msg1); the
-- text "receipts a=STAT b=STAT ..." posts a receipt (TLV and text) for
-- each id a, b ... with that stat, in that order (its source_addr the
-- message's destination, as receipts have it), and is accepted as "r".
M.id_is_text = [[
    local smpp = require "smpp"
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text:find("^receipts ") then
            for rid, stat in text:gmatch("([^%s=]+)=(%u+)") do
                smpp.post(session.system_id, { esm_class = 4, source_addr = pdu.destination_addr,
                    destination_addr = pdu.source_addr, receipted_message_id = rid,
                    message_state = stat == "DELIVRD" and 2 or 5,
                    short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                        .. "done date:2501311201 stat:" .. stat .. " err:000 text:" })
            end
            return 0, { message_id = "r" }
        end
        return 0, { message_id = text }
    end }]]

return M
