-- smpp.send -- `smppgw send`: bind, send one text (split when long), print
-- the message ids, optionally wait for the receipts, unbind. Runs inside
-- the serve loop with no listener.
local core = require "smpp.core"
local smpp = require "smpp"
local split = require "smpp.split"
local text = require "smpp.text"
local receipt = require "smpp.receipt"

local M = {}

M.usage = [[
usage: smppgw send HOST:PORT --from A --to B --text "..." [options]
  --system-id ID     bind system_id (default smppclient1)
  --password PW      bind password (default password)
  --coding C         auto (default: GSM 7-bit if it fits, else UCS-2), gsm, ucs2, latin1
  --split S          how a long text is sent: udh (default), sar or payload
  --wait-dlr SECONDS ask for receipts and wait for them (bind as transceiver)
Prints each part's message_id, then each receipt; exits 1 on any failure
(bind refused, a part refused, a receipt missing or not DELIVRD) with the
status name, 2 on bad arguments.
]]

local function fail(fmt, ...)
    io.stderr:write("smppgw send: ", string.format(fmt, ...), "\n")
end

-- parse(args) -> options | nil, message
function M.parse(args)
    local o = { system_id = "smppclient1", password = "password", coding = "auto", split = "udh" }
    local names = { ["--from"] = "from", ["--to"] = "to", ["--text"] = "text", ["--system-id"] = "system_id",
                    ["--password"] = "password", ["--coding"] = "coding", ["--split"] = "split",
                    ["--wait-dlr"] = "wait_dlr" }
    local i = 2
    while i <= #args do
        local a = args[i]
        if names[a] then
            if args[i + 1] == nil then return nil, a .. " needs a value" end
            o[names[a]] = args[i + 1]
            i = i + 2
        elseif a:sub(1, 1) == "-" then
            return nil, "unknown option " .. a
        elseif not o.host then
            o.host, o.port = a:match("^%[?([^%]]+)%]?:(%d+)$")
            if not o.host then return nil, a .. " is not HOST:PORT" end
            o.port = tonumber(o.port)
            i = i + 1
        else
            return nil, "unexpected argument " .. a
        end
    end
    if not o.host then return nil, "HOST:PORT is missing" end
    for _, k in ipairs { "from", "to", "text" } do
        if not o[k] then return nil, "--" .. k .. " is missing" end
    end
    local codings = { auto = true, gsm = true, ucs2 = true, latin1 = true }
    if not codings[o.coding] then return nil, "--coding takes auto, gsm, ucs2 or latin1, not " .. o.coding end
    local methods = { udh = "udh8", sar = "sar", payload = "payload" }
    if not methods[o.split] then return nil, "--split takes udh, sar or payload, not " .. o.split end
    o.method = methods[o.split]
    if o.wait_dlr then
        o.wait_dlr = tonumber(o.wait_dlr)
        if not o.wait_dlr or o.wait_dlr <= 0 then return nil, "--wait-dlr takes a number of seconds" end
    end
    return o
end

-- The whole exchange, in a task. Returns the exit code.
local function exchange(o, receipts)
    local s, err, status = smpp.connect { host = o.host, port = o.port, system_id = o.system_id,
        password = o.password, bind = o.wait_dlr and "trx" or "tx" }
    if not s then
        fail("bind failed: %s", status and smpp.status_string(status) or tostring(err))
        return 1
    end
    local coding = o.coding
    if coding == "auto" then coding = text.choose(o.text) end
    local parts, why, bad = split.split(o.text, { coding = coding, method = o.method })
    if not parts then
        fail("%s", why)
        s:unbind()
        return 1
    end
    local rc, ids = 0, {}
    for i, part in ipairs(parts) do
        local pdu = { command = "submit_sm", source_addr = o.from, destination_addr = o.to,
                      source_addr_ton = o.from:match("%D") and 5 or 1, source_addr_npi = o.from:match("%D") and 0 or 1,
                      dest_addr_ton = 1, dest_addr_npi = 1, registered_delivery = o.wait_dlr and 1 or 0 }
        for k, v in pairs(part) do pdu[k] = v end
        local resp, serr, sst = s:send(pdu)
        if not resp then
            fail("part %d/%d: %s", i, #parts, sst and smpp.status_string(sst) or tostring(serr))
            rc = 1
            break
        elseif resp.command_status ~= 0 then
            fail("part %d/%d refused: %s", i, #parts, smpp.status_string(resp.command_status))
            rc = 1
            break
        end
        ids[#ids + 1] = resp.message_id
        receipts.wanted[resp.message_id] = true
        io.stdout:write(string.format("message_id %s (part %d/%d)\n", resp.message_id, i, #parts))
        io.stdout:flush()
    end
    if rc == 0 and o.wait_dlr then
        local deadline = core.clock() + o.wait_dlr
        for _, id in ipairs(ids) do
            while not receipts.got[id] and core.clock() < deadline do
                smpp.wait(function(tok) receipts.waiter = tok end, deadline - core.clock())
            end
            local r = receipts.got[id]
            if not r then
                fail("no receipt for %s within %g s", id, o.wait_dlr)
                rc = 1
            else
                io.stdout:write(string.format("receipt %s: %s err:%s (%s)\n", id, r.stat,
                    type(r.err) == "number" and string.format("%03d", r.err) or tostring(r.err), r.text))
                if r.stat ~= "DELIVRD" then rc = 1 end
            end
        end
        io.stdout:flush()
    end
    s:unbind()
    return rc
end

-- run(args) -> exit code
function M.run(args)
    local o, why = M.parse(args)
    if not o then
        fail("%s", why)
        io.stderr:write(M.usage)
        return 2
    end
    core.log_config("error", "text")
    local receipts = { wanted = {}, got = {} }
    local function on_receipt(session, pdu)
        local r = receipt.parse(pdu.short_message or pdu.message_payload or "") or {}
        local id = pdu.receipted_message_id or r.id
        if id and receipts.wanted[id] then
            receipts.got[id] = { stat = r.stat or receipt.stat_of(pdu.message_state or 7) or "?", err = r.err or "",
                                 text = pdu.short_message or "" }
            if receipts.waiter then smpp.wake(receipts.waiter) end
        end
        return smpp.status.ESME_ROK
    end
    local rc = 1
    local ok, err = core.serve {
        handlers = { deliver_sm = on_receipt, data_sm = on_receipt },
        listen = {},
        start = function()
            rc = exchange(o, receipts)
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
