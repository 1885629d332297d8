-- smpp.send -- `smppgw send`: bind, send one text (split when long) as
-- submit_sm or data_sm, print the message ids, then optionally wait for
-- the receipts or listen for receipts and MO messages, unbind. Runs inside
-- the serve loop with no listener. Options: smpp.send_args; what it
-- prints: smpp.send_listen.
local core = require "smpp.core"
local smpp = require "smpp"
local args = require "smpp.send_args"
local listen = require "smpp.send_listen"
local receipt = require "smpp.receipt"

local M = {}

M.usage = [[
usage: smppgw send HOST:PORT --from A --to B --text "..." [options]
       smppgw send HOST:PORT --listen [--wait SECONDS] [options]
The message:
  --from A, --to B   source_addr and destination_addr
  --text T           the text, in UTF-8
  --from-ton T, --from-npi N, --to-ton T, --to-npi N
                     TON/NPI of the addresses: 0..255 or a name (TON:
                     unknown, international, national, network, subscriber,
                     alphanumeric, abbreviated; NPI: unknown, isdn, data,
                     telex, land_mobile, national, private, ermes, internet,
                     wap). Default 1/1; 5/0 for a --from that is not
                     all digits
  --coding C         auto (default: GSM 7-bit if it fits, else UCS-2), gsm,
                     ucs2, latin1
  --split S          how a long text is sent: udh (default; 8-bit random
                     reference), udh16, sar or payload
  --data-sm          send one data_sm, the whole text in message_payload
  --validity V       seconds (3600, or 90s, 30m, 2h, 1d: sent as a relative
                     time) or an SMPP time (YYMMDDhhmmsstnnp); with --data-sm
                     it becomes qos_time_to_live
  --service-type T   service_type (default empty)
  --registered-delivery N
                     registered_delivery, 0..255 (default 0; 1 with
                     --wait-dlr or --listen); sent without waiting
  --tlv NAME=VALUE   a TLV by its name in the TLV table, or by tag (0x1401);
                     numbers in decimal or 0x hex, octet strings as 0x hex
                     or text, alert_on_message_delivery without a value;
                     repeatable (a TLV given twice is sent twice)
The session:
  --system-id ID     bind system_id (default smppclient1)
  --password PW      bind password (default password)
  --timeout SECONDS  how long to wait for each response, the bind's too
                     (default 30)
What happens after sending:
  --wait-dlr SECONDS wait for each part's receipt (bind as transceiver)
  --listen           stay bound as a transceiver and print every receipt and
                     MO message as it comes, until Ctrl-C, --wait or an
                     unbind; --from/--to/--text may then be left out
  --wait SECONDS     with --listen: how long to listen
  --json             one JSON object per line ("type": submitted, receipt,
                     mo) instead of text
Prints "message_id ID (part i/n)" for each part, "receipt ID: STAT err:NNN
(text)" for receipts and "mo from A to B: text" for MO messages (decoded to
UTF-8, the parts of a long one joined). Exit code 0 when every part was
accepted (and with --wait-dlr every receipt says DELIVRD; --listen ended by
--wait, Ctrl-C or an unbind), 1 on a failure, named with its status (bind
refused, a part refused, no response, a receipt missing or not DELIVRD, the
connection lost), 2 on bad arguments.
]]

local function fail(fmt, ...)
    io.stderr:write("smppgw send: ", string.format(fmt, ...), "\n")
end

local function status_of(err, status)
    if type(status) == "number" then return smpp.status_string(status) end
    return status and (tostring(err) .. ": " .. status) or tostring(err)   -- a connect's prose
end

M.parse = args.parse

-- -- The exchange ------------------------------------------------------------------

-- Wait (in the running task) until pred() is true, the session has
-- closed or `deadline` (loop clock seconds; nil = none) has passed.
local function wait_until(state, pred, deadline)
    while not pred() and not state.closed do
        local left = deadline and deadline - core.clock()
        if left and left <= 0 then return end
        smpp.wait(function(tok) state.waiter = tok end, left and math.min(left, 60) or 60)
        state.waiter = nil
        state.printer:expire(os.time())
    end
end

-- Send every PDU; print its message_id. -> 0 | 1
local function send_all(s, pdus, state)
    for i, pdu in ipairs(pdus) do
        local resp, err, status = s:send(pdu)
        if not resp then
            fail("part %d/%d: %s", i, #pdus, status_of(err, status))
            return 1
        elseif resp.command_status ~= 0 then
            fail("part %d/%d refused: %s", i, #pdus, smpp.status_string(resp.command_status))
            return 1
        end
        state.ids[i] = resp.message_id
        state.printer:submitted(resp.message_id, i, #pdus)
    end
    return 0
end

-- --wait-dlr: each part's receipt, printed in the order of the parts. -> 0 | 1
local function wait_receipts(o, state)
    local rc, deadline = 0, core.clock() + o.wait_dlr
    for _, id in ipairs(state.ids) do
        wait_until(state, function() return state.receipts[id] end, deadline)
        local r = state.receipts[id]
        if not r then
            fail("no receipt for %s within %g s%s", id, o.wait_dlr,
                 state.closed and " (the session closed: " .. state.closed .. ")" or "")
            rc = 1
        else
            state.printer:receipt(r)
            if r.stat ~= "DELIVRD" then rc = 1 end
        end
    end
    return rc
end

-- --listen: until --wait ends or the session closes (Ctrl-C unbinds it). -> 0 | 1
local function listen_until_end(o, state)
    wait_until(state, function() return false end, o.wait and core.clock() + o.wait)
    state.printer:expire(math.huge)
    -- an unbind (ours at Ctrl-C, or the SMSC's) is an end; a lost connection is not
    if state.closed and not state.closed:match("^unbind") then
        fail("the session closed: %s", state.closed)
        return 1
    end
    return 0
end

local function exchange(o, pdus, state)
    local s, err, status = smpp.connect { host = o.host, port = o.port, system_id = o.system_id,
        password = o.password, bind = (o.wait_dlr or o.listen) and "trx" or "tx",
        session = o.timeout and { response_timeout = o.timeout } or nil }
    if not s then
        fail("bind failed: %s", status_of(err, status))
        return 1
    end
    local rc = send_all(s, pdus, state)
    if rc == 0 and o.wait_dlr then rc = wait_receipts(o, state) end
    if rc == 0 and o.listen then rc = listen_until_end(o, state) end
    s:unbind()
    return rc
end

-- -- Main --------------------------------------------------------------------------

local MAX_RECEIPTS = 10000      -- receipts kept for --wait-dlr (early ones included)

-- run(args) -> exit code
function M.run(argv)
    local o, why = args.parse(argv)
    local pdus
    if o and o.text then pdus, why = args.pdus(o) end
    if not o or (o.text and not pdus) then
        fail("%s", why)
        if not o then io.stderr:write(M.usage) end
        return 2
    end
    core.log_config("error", "text")
    local state = { ids = {}, receipts = {}, kept = 0, printer = listen.new { json = o.json } }
    local function wake()
        if state.waiter then smpp.wake(state.waiter) end
    end
    local function on_deliver(session, pdu)
        if o.listen then
            state.printer:take(pdu)
        elseif receipt.is_receipt(pdu) then
            local r = listen.receipt(pdu)
            if r.id and not state.receipts[r.id] and state.kept < MAX_RECEIPTS then
                state.receipts[r.id] = r
                state.kept = state.kept + 1
                wake()
            end
        end
        return smpp.status.ESME_ROK
    end
    local rc = 1
    local ok, err = core.serve {
        handlers = {
            deliver_sm = on_deliver, data_sm = on_deliver,
            down = function(session, reason)
                state.closed = reason or "closed"
                wake()
            end,
        },
        listen = {},
        start = function()
            -- whatever happens, the loop must end: a CLI never hangs
            local done, r = pcall(exchange, o, pdus or {}, state)
            if done then rc = r else fail("%s", tostring(r)) end
            core.shutdown()
        end,
    }
    if not ok then
        fail("%s", tostring(err))
        return 1
    end
    return rc
end

return M
