-- smpp.checks -- the SMPP 3.4 checks of a message's values that the codec
-- leaves to whoever takes the message (the codec checks its structure:
-- docs/protocol.md), in one place for the gateway's acceptance (both id
-- policies) and the reference SMSC: submit_sm, data_sm and submit_multi
-- from an ESME. Each answers nil when the message may go on, else the
-- status the ESME is answered and why.
--
--   source_addr_ton, dest_addr_ton above 6       ESME_RINVSRCTON / ESME_RINVDSTTON
--   destination_addr empty                       ESME_RINVDSTADR
--   esm_class message type (bits 2-5) other than
--     default (0), ESME delivery ack (0x08) or
--     manual/user ack (0x10): a delivery receipt,
--     an intermediate notification ... go to an
--     ESME, never from one                      ESME_RINVESMCLASS
--   priority_flag above 3                        ESME_RINVPRTFLG
--   registered_delivery with a reserved bit
--     (5-7) set                                  ESME_RINVREGDLVFLG
--   schedule_delivery_time that does not parse   ESME_RINVSCHED
--   validity_period that does not parse          ESME_RINVEXPIRY
--
-- Accepted on purpose: registered_delivery 3 in bits 0-1 (a receipt on
-- success only, as SMPP 5.0 defines it), every data_coding (the GSM 03.38
-- coding groups in 3.4's reserved range, 0x10 for a flash message, are in
-- use; what the gateway cannot read is forwarded as binary), every npi.
local smpp = require "smpp"
local stime = require "smpp.time"

local S = smpp.status
local floor = math.floor
local parse = stime.parse

local M = {}

M.TON_MAX = 6
M.PRIORITY_MAX = 3
M.RD_MAX = 0x1F          -- bits 0-4 defined (receipt, SME acks, intermediate notification)

-- Message types (esm_class bits 2-5) an ESME may send.
local SUBMIT_TYPES = { [0] = true, [2] = true, [4] = true }

-- dest(ton, addr) -> nil | status, why: one destination (a submit_sm's,
-- or one SME address of a submit_multi).
function M.dest(ton, addr)
    if ton and ton > M.TON_MAX then return S.ESME_RINVDSTTON, "dest_addr_ton " .. ton .. " (0-6)" end
    if addr == nil or addr == "" then return S.ESME_RINVDSTADR, "destination_addr empty" end
    return nil
end

-- message(pdu, now) -> nil | status, why: the values of the whole
-- message; a submit_sm's or data_sm's destination too (a submit_multi's
-- destinations one by one: M.dest, M.multi). now: for relative times
-- (default: smpp.time()).
function M.message(pdu, now)
    local ton = pdu.source_addr_ton
    if ton and ton > M.TON_MAX then return S.ESME_RINVSRCTON, "source_addr_ton " .. ton .. " (0-6)" end
    local esm = pdu.esm_class
    if esm and esm ~= 0 and not SUBMIT_TYPES[floor(esm / 4) % 16] then
        return S.ESME_RINVESMCLASS, string.format("esm_class 0x%02X: not a message type an ESME sends", esm)
    end
    local pf = pdu.priority_flag
    if pf and pf > M.PRIORITY_MAX then return S.ESME_RINVPRTFLG, "priority_flag " .. pf .. " (0-3)" end
    local rd = pdu.registered_delivery
    if rd and rd > M.RD_MAX then
        return S.ESME_RINVREGDLVFLG, string.format("registered_delivery 0x%02X: reserved bits set", rd)
    end
    local v = pdu.schedule_delivery_time
    if v and v ~= "" and not parse(v, now or smpp.time()) then
        return S.ESME_RINVSCHED, "schedule_delivery_time " .. v
    end
    v = pdu.validity_period
    if v and v ~= "" and not parse(v, now or smpp.time()) then return S.ESME_RINVEXPIRY, "validity_period " .. v end
    if pdu.command == "submit_multi" then return nil end
    return M.dest(pdu.dest_addr_ton, pdu.destination_addr)
end

-- multi(pdu) -> the submit_multi's SME destinations that fail M.dest, as
-- unsuccess_sme entries ({dest_addr_ton, dest_addr_npi, destination_addr,
-- error_status_code}), keyed by their dest_address entries; nil when none
-- does. Distribution lists (dest_flag 2) are the taker's to resolve.
function M.multi(pdu)
    local bad
    for _, d in ipairs(pdu.dest_address or {}) do
        if d.dest_flag ~= 2 then
            local st = M.dest(d.dest_addr_ton, d.destination_addr)
            if st then
                bad = bad or {}
                bad[d] = { dest_addr_ton = d.dest_addr_ton or 0, dest_addr_npi = d.dest_addr_npi or 0,
                           destination_addr = d.destination_addr or "", error_status_code = st }
            end
        end
    end
    return bad
end

return M
