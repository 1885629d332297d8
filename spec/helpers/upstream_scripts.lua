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

-- One SMSC account bound by two upstream entries: each message is
-- accepted under the id its text is, and its receipt (TLV and text; stat
-- UNDELIV when the text has "undeliv", else DELIVRD) goes on another bound
-- session than the one the message came on: after the answer, or, for a
-- text starting "early", before it (the answer waits for the receipt's).
M.other_session = [[
    local smpp = require "smpp"
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        local other
        for _, s in ipairs(smpp.sessions { side = "server", bound = true }) do
            if s.id ~= session.id and s:can_receive() then other = s end
        end
        local undeliv = text:find("undeliv", 1, true) ~= nil
        local receipt = { command = "deliver_sm", esm_class = 4, source_addr = pdu.destination_addr,
            destination_addr = pdu.source_addr, receipted_message_id = text, message_state = undeliv and 5 or 2,
            short_message = "id:" .. text .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 "
                .. "stat:" .. (undeliv and "UNDELIV" or "DELIVRD") .. " err:000 text:" }
        if not other then return 8 end
        if text:find("^early") then
            assert(other:send(receipt))
            return 0, { message_id = text }
        end
        smpp.respond(0, { message_id = text })
        smpp.sleep(0.05)
        assert(other:send(receipt))
    end }]]

-- Receipts about destinations: a submit_multi is accepted as "mm",
-- "hold" after 5 s, other texts as themselves ("took TEXT" logged); a text
-- "receipts ID@DEST=STAT ..." posts a receipt for each (its source_addr
-- the destination it is about, message_state from STAT), 0.2 s apart
-- from 0.2 s after its answer, and is accepted as "r".
M.receipts_at_dest = [[
    local smpp = require "smpp"
    local STATE = { ENROUTE = 1, DELIVRD = 2, UNDELIV = 5, ACCEPTD = 6 }
    return {
        submit_multi = function() return 0, { message_id = "mm" } end,
        submit_sm = function(session, pdu)
            local text = pdu.short_message
            smpp.log("info", "took %s", text)
            if text == "hold" then smpp.sleep(5) return 0, { message_id = "h" } end
            local list = {}
            for rid, dest, stat in text:gmatch("(%w+)@(%d+)=(%u+)") do list[#list + 1] = { rid, dest, stat } end
            for i, r in ipairs(list) do
                local rid, dest, stat = r[1], r[2], r[3]
                smpp.post(session.system_id, { esm_class = 4, source_addr = dest, destination_addr = "1234",
                    receipted_message_id = rid, message_state = STATE[stat],
                    short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                        .. "done date:2501311201 stat:" .. stat .. " err:000 text:" }, { delay = i * 0.2 })
            end
            return 0, { message_id = #list > 0 and "r" or text }
        end }]]

-- Numbers its ids from 1, and again from 1 after "start again" (a
-- restart that lost its counter); a message's receipt (DELIVRD) follows
-- its answer, but a text starting "early" has its receipt (UNDELIV) sent
-- first and is answered 0.3 s after.
M.renumbering = [[
    local smpp = require "smpp"
    local n = 0
    local function receipt(session, rid, stat, delay)
        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
            receipted_message_id = rid, message_state = stat == "DELIVRD" and 2 or 5,
            short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:" .. stat .. " err:000 text:" }, { delay = delay })
    end
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text == "start again" then
            n = 0
            return 0, { message_id = "x" }
        end
        n = n + 1
        local mid = tostring(n)
        if text:find("^early") then
            receipt(session, mid, "UNDELIV", 0)
            smpp.sleep(0.3)
        else
            receipt(session, mid, "DELIVRD", 0.05)
        end
        return 0, { message_id = mid }
    end }]]

return M
