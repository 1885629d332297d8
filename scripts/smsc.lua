-- scripts/smsc.lua -- the reference SMSC, as a short tour of what an SMSC
-- does. The runtime calls one handler per command; conf.smsc holds the knobs.
local smpp = require "smpp"
local config = require "smpp.config"
local msgid = require "smpp.msgid"
local receipt = require "smpp.receipt"
local stime = require "smpp.time"
local text = require "smpp.text"

local S = smpp.status
local conf = (...) or {}

-- -- Options (conf.smsc; every key is described in conf/smppgw.lua) --------

local defaults = {
    message_id = "decimal",        -- decimal | hex | uuid
    receipt_delay = 1,             -- seconds from accept to the final state
    default_validity = 172800,     -- seconds a message lives when validity_period is empty
    rules = {},                    -- final state rules, first match wins; else DELIVRD
    reject = {},                   -- submits refused at once, first match wins
    distribution_lists = {},       -- name -> { addresses } for submit_multi
    max_messages = 100000,         -- messages kept for query/cancel/replace
    receipt_queue_ttl = 3600,      -- seconds a receipt waits in the store for a receiver
    echo = "keyword",              -- off | keyword (text "echo ...") | all: MO back to the sender
    mo = nil,                      -- { every =, system_id =, from =, to =, text = }: periodic MO
}

local rule_fields = {
    prefix = { type = "string" }, source = { type = "string" }, pattern = { type = "string" },
    percent = { type = "number", min = 0, max = 100 },
    state = { type = "enum", values = { "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "ACCEPTD", "UNKNOWN" } },
    err = { type = "integer", min = 0, max = 999 },
    status = { type = "string" },
}
local option_fields = {
    message_id = { type = "enum", values = { "decimal", "hex", "uuid" } },
    receipt_delay = { type = "number", min = 0 },
    default_validity = { type = "number", min = 1 },
    rules = { type = "list", of = { type = "table", fields = rule_fields } },
    reject = { type = "list", of = { type = "table", fields = rule_fields } },
    distribution_lists = { type = "table", free = true },
    max_messages = { type = "integer", min = 1 },
    receipt_queue_ttl = { type = "number", min = 1 },
    echo = { type = "enum", values = { "off", "keyword", "all" } },
    mo = { type = "table", fields = {
        every = { type = "number", min = 0.001 }, system_id = { type = "string" },
        from = { type = "string" }, to = { type = "string" }, text = { type = "string" },
    } },
}
assert(config.check_section(conf.smsc or {}, option_fields, "smsc"))
local opt = {}
for k, v in pairs(defaults) do opt[k] = v end
for k, v in pairs(conf.smsc or {}) do opt[k] = v end
for _, r in ipairs(opt.reject) do
    assert(r.status == nil or S[r.status], "smsc.reject: unknown status " .. tostring(r.status))
end

local new_id = msgid.generator { format = opt.message_id }

-- -- Rules ----------------------------------------------------------------------

-- Does rule r match a message to `dest` from `source`?
local function matches(r, dest, source)
    if r.prefix and dest:sub(1, #r.prefix) ~= r.prefix then return false end
    if r.source and source ~= r.source then return false end
    if r.pattern and not dest:match(r.pattern) then return false end
    if r.percent and math.random() * 100 >= r.percent then return false end
    return true
end

-- The status a new message to dest is refused with, or nil to accept it.
local function rejected(dest, source)
    for _, r in ipairs(opt.reject) do
        if matches(r, dest, source) then return S[r.status or "ESME_RSUBMITFAIL"] end
    end
end

-- The final stat word and error code of a message.
local function final_state(dest, source)
    for _, r in ipairs(opt.rules) do
        if matches(r, dest, source) then return r.state or "UNDELIV", r.err or 0 end
    end
    return "DELIVRD", 0
end

-- -- The message store ---------------------------------------------------------
-- id -> list of records (submit_multi: one record per destination, one id).

-- order[first..last] lists the stored ids oldest first; explicit indexes
-- because # is undefined once the front of the list has been cleared
local store, order, first, last = {}, {}, 1, 0

local function remember(id, rec)
    local list = store[id]
    if not list then
        list = {}
        store[id] = list
        last = last + 1
        order[last] = id
        -- bounded: forget the oldest ids (their receipts are already out)
        while last - first + 1 > opt.max_messages do
            store[order[first]] = nil
            order[first] = nil
            first = first + 1
        end
    end
    list[#list + 1] = rec
end

local server = require "smpp.server"

-- The message's text as UTF-8 (data_coding 0 in the account's alphabet).
local function user_text(pdu, system_id)
    local data = pdu.message_payload or pdu.short_message or ""
    if (pdu.esm_class or 0) % 128 >= 64 and #data > 0 then   -- UDHI: skip the header
        data = data:sub(data:byte(1) + 2)
    end
    local coding = text.coding_of(pdu.data_coding or 0, server.alphabet(system_id))
    if coding == "gsm" or coding == "ascii" or coding == "latin1" or coding == "ucs2" then
        return text.decode(data, coding)
    end
    return ""
end

-- -- Receipts ---------------------------------------------------------------------

-- levels shown in /stats ("gauges") and /metrics beside their ceilings;
-- receipts waiting for a receiver are in the store's outbox (/stats store
-- and accounts)
smpp.gauge("smsc_stored_messages", function() return last - first + 1 end, opt.max_messages)

-- The first 20 characters of the text for the receipt, ASCII only: a
-- character outside it becomes one "?".
local function preview(utf8)
    return (utf8:gsub("[\192-\247][\128-\191]*", "?"):gsub("[^\32-\126]", "?"):sub(1, 20))
end

local function receipt_pdu(rec)
    local state = receipt.state_of(rec.stat)
    local pdu = {
        source_addr_ton = rec.dest_ton, source_addr_npi = rec.dest_npi, source_addr = rec.dest,
        dest_addr_ton = rec.source_ton, dest_addr_npi = rec.source_npi, destination_addr = rec.source,
        esm_class = 0x04,
        short_message = receipt.format {
            id = rec.id, sub = 1, dlvrd = rec.stat == "DELIVRD" and 1 or 0,
            submit_date = rec.submitted, done_date = rec.done, stat = rec.stat, err = rec.err,
            text = preview(user_text(rec.content, rec.system_id)),
        },
        receipted_message_id = rec.id,
        message_state = state,
    }
    if rec.err ~= 0 then   -- GSM network error code
        pdu.network_error_code = string.char(3, math.floor(rec.err / 256), rec.err % 256)
    end
    return pdu
end

-- Queue a receipt for a receiver of system_id: the runtime delivers it
-- from the store's outbox now, or when one binds (within receipt_queue_ttl).
local function send_receipt(system_id, pdu)
    local ok, err, detail = smpp.post(system_id, pdu, { ttl = opt.receipt_queue_ttl })
    if not ok then
        smpp.log("warn", "receipt for %s not queued: %s", pdu.receipted_message_id, tostring(detail or err))
    end
end

-- The message reached its final state: record it, send its receipt.
local function finish(rec)
    if rec.final then return end
    rec.stat, rec.err = final_state(rec.dest, rec.source)
    if rec.expires <= os.time() then rec.stat, rec.err = "EXPIRED", 0 end
    rec.final, rec.done = true, os.time()
    local rd = rec.registered_delivery % 4
    local wanted = rd == 1 or (rd == 2 and rec.stat ~= "DELIVRD") or (rd == 3 and rec.stat == "DELIVRD")
    if wanted then send_receipt(rec.system_id, receipt_pdu(rec)) end
end

local clock = smpp.clock   -- the loop's clock, seconds

-- Schedule the final state: receipt_delay after acceptance, not before
-- schedule_delivery_time, and EXPIRED if validity_period ends first. Only
-- a message that may need a receipt gets a timer; the others reach their
-- final state when someone looks (query_sm, cancel_sm, replace_sm).
local function schedule(rec, pdu)
    local now = os.time()
    local delay = opt.receipt_delay
    local sched = pdu.schedule_delivery_time and stime.parse(pdu.schedule_delivery_time, now)
    if sched and sched - now > delay then delay = sched - now end
    local valid = pdu.validity_period and stime.parse(pdu.validity_period, now)
    rec.expires = valid or (now + opt.default_validity)
    if rec.expires - now <= delay then delay = math.max(0, rec.expires - now) end   -- expires first
    rec.final_at = clock() + delay
    if rec.registered_delivery % 4 ~= 0 then
        rec.timer = smpp.after(delay, function() finish(rec) end)
    end
end

-- Bring a message without a timer to its final state once it is due.
local function settle(rec)
    if not rec.final and clock() >= rec.final_at then finish(rec) end
    return rec
end

-- -- Accepting messages ---------------------------------------------------------------

local function new_record(session, pdu, id, ton, npi, dest)
    return {
        id = id, system_id = session.system_id, service_type = pdu.service_type or "",
        source = pdu.source_addr or "", source_ton = pdu.source_addr_ton or 0, source_npi = pdu.source_addr_npi or 0,
        dest = dest, dest_ton = ton, dest_npi = npi,
        registered_delivery = pdu.registered_delivery or 0,
        -- the text is decoded only if a receipt needs it
        content = { short_message = pdu.short_message, message_payload = pdu.message_payload,
                    esm_class = pdu.esm_class, data_coding = pdu.data_coding },
        submitted = os.time(), stat = "ENROUTE", err = 0,
    }
end

-- Echo (auto-reply): the message comes back as an MO from its destination.
local function echo(session, rec, pdu)
    if opt.echo == "off" then return end
    if opt.echo == "keyword" then
        -- "echo " has the same octets in GSM 7-bit, ASCII and Latin-1: look
        -- before decoding (this runs for every message)
        local dc = pdu.data_coding or 0
        local raw = pdu.short_message ~= "" and pdu.short_message or pdu.message_payload or ""
        if dc ~= 8 and (pdu.esm_class or 0) % 128 < 64 and raw:sub(1, 5):lower() ~= "echo " then return end
        if not user_text(pdu, rec.system_id):lower():match("^echo ") then return end
    end
    -- into the account's outbox: delivered when a receiver has room, kept
    -- while none is bound
    local ok, err, detail = smpp.post(rec.system_id, {
        source_addr_ton = rec.dest_ton, source_addr_npi = rec.dest_npi, source_addr = rec.dest,
        dest_addr_ton = rec.source_ton, dest_addr_npi = rec.source_npi, destination_addr = rec.source,
        data_coding = pdu.data_coding, short_message = pdu.short_message,
        message_payload = pdu.message_payload, esm_class = (pdu.esm_class or 0) % 128 >= 64 and 0x40 or 0,
    }, { ttl = opt.receipt_queue_ttl })
    if not ok then smpp.log("warn", "echo of %s not queued: %s", rec.id, tostring(detail or err)) end
end

-- A pending message from this account to the same destination and
-- service_type (replace_if_present_flag on submit_sm).
local function pending_like(session, pdu)
    for i = last, first, -1 do
        for _, rec in ipairs(store[order[i]] or {}) do
            if not settle(rec).final and rec.system_id == session.system_id and rec.source == pdu.source_addr
                and rec.dest == pdu.destination_addr and rec.service_type == (pdu.service_type or "") then
                return rec
            end
        end
    end
end

local function accept(session, pdu)
    local status = rejected(pdu.destination_addr, pdu.source_addr)
    if status then return status end
    if pdu.replace_if_present_flag == 1 then
        local old = pending_like(session, pdu)
        if old then
            old.content = { short_message = pdu.short_message, message_payload = pdu.message_payload,
                            esm_class = pdu.esm_class, data_coding = pdu.data_coding }
            old.registered_delivery = pdu.registered_delivery or 0
            return S.ESME_ROK, { message_id = old.id }
        end
    end
    local id = new_id()
    local rec = new_record(session, pdu, id, pdu.dest_addr_ton or 0, pdu.dest_addr_npi or 0, pdu.destination_addr)
    remember(id, rec)
    schedule(rec, pdu)
    echo(session, rec, pdu)
    return S.ESME_ROK, { message_id = id }
end

-- -- The handlers ---------------------------------------------------------------------

local handlers = {}

handlers.submit_sm = accept
handlers.data_sm = accept

-- submit_multi: one message_id; destinations a rule rejects, and unknown
-- distribution lists, are listed in unsuccess_sme.
function handlers.submit_multi(session, pdu)
    local id, failed, accepted = new_id(), {}, 0
    local function one(ton, npi, dest)
        local status = rejected(dest, pdu.source_addr)
        if status then
            failed[#failed + 1] = { dest_addr_ton = ton, dest_addr_npi = npi, destination_addr = dest,
                                    error_status_code = status }
            return
        end
        local rec = new_record(session, pdu, id, ton, npi, dest)
        remember(id, rec)
        schedule(rec, pdu)
        accepted = accepted + 1
    end
    for _, d in ipairs(pdu.dest_address) do
        if d.dest_flag == 2 then
            local list = opt.distribution_lists[d.dl_name]
            if not list then
                failed[#failed + 1] = { dest_addr_ton = 0, dest_addr_npi = 0, destination_addr = d.dl_name,
                                        error_status_code = S.ESME_RINVDLNAME }
            else
                for _, addr in ipairs(list) do one(1, 1, addr) end
            end
        else
            one(d.dest_addr_ton, d.dest_addr_npi, d.destination_addr)
        end
    end
    if accepted == 0 then return S.ESME_RSUBMITFAIL, { message_id = "", unsuccess_sme = failed } end
    return S.ESME_ROK, { message_id = id, unsuccess_sme = failed }
end

-- The record an id and source address name (3.4: the source must match).
local function find(pdu)
    for _, rec in ipairs(store[pdu.message_id] or {}) do
        if rec.source == (pdu.source_addr or "") or pdu.source_addr == "" then return settle(rec) end
    end
end

function handlers.query_sm(session, pdu)
    local rec = find(pdu)
    if not rec then return S.ESME_RQUERYFAIL end
    return S.ESME_ROK, {
        message_id = rec.id,
        final_date = rec.final and stime.format_absolute(rec.done) or "",
        message_state = receipt.state_of(rec.stat),
        error_code = rec.err % 256,
    }
end

local function cancel(rec)
    if rec.timer then smpp.cancel(rec.timer) end
    rec.final, rec.stat, rec.done = true, "DELETED", os.time()
end

-- cancel_sm: one message by id, or (empty id) every pending message from
-- source_addr to destination_addr; a final message cannot be cancelled.
function handlers.cancel_sm(session, pdu)
    if pdu.message_id ~= "" then
        local rec = find(pdu)
        if not rec or rec.final then return S.ESME_RCANCELFAIL end
        for _, r in ipairs(store[rec.id]) do if not settle(r).final then cancel(r) end end
        return S.ESME_ROK
    end
    local n = 0
    for i = first, last do
        for _, rec in ipairs(store[order[i]] or {}) do
            if not settle(rec).final and rec.system_id == session.system_id and rec.source == pdu.source_addr
                and rec.dest == pdu.destination_addr
                and (pdu.service_type == "" or rec.service_type == pdu.service_type) then
                cancel(rec)
                n = n + 1
            end
        end
    end
    return n > 0 and S.ESME_ROK or S.ESME_RCANCELFAIL
end

-- replace_sm: new text (and registered_delivery) while not final.
function handlers.replace_sm(session, pdu)
    local rec = find(pdu)
    if not rec or rec.final then return S.ESME_RREPLACEFAIL end
    rec.content = { short_message = pdu.short_message, esm_class = rec.content.esm_class,
                    data_coding = rec.content.data_coding }
    rec.registered_delivery = pdu.registered_delivery or rec.registered_delivery
    if pdu.schedule_delivery_time ~= "" or pdu.validity_period ~= "" then
        if rec.timer then smpp.cancel(rec.timer) end
        schedule(rec, pdu)
    end
    return S.ESME_ROK
end

-- MO through HTTP (POST /send, and the /inject route below): {to, text,
-- from, system_id, coding} becomes a deliver_sm to a bound receiver of the
-- account (default: the first account of the config).
local function mo_from_http(input)
    local d, status, why = require("smpp.http").check_message(input)
    if not d then return status, { error = why } end
    local account = d.system_id or (conf.accounts and conf.accounts[1] and conf.accounts[1].system_id)
    local coding = d.coding or text.choose(d.text)
    local bytes, why = text.encode(d.text, coding)
    if not bytes then return 422, { error = why } end
    if #bytes > 254 then return 422, { error = "text too long for one MO (254 octets)" } end
    if smpp.receivers(tostring(account)) == 0 then
        return 409, { error = "no receiver bound for " .. tostring(account) }
    end
    -- queued in the store, not awaited: the HTTP client need not wait for
    -- the ESME's answer (the answer to this request follows the commit)
    local ok, err, detail = smpp.post(account, { source_addr = d.from or "447700900123", destination_addr = d.to,
        data_coding = text.data_coding_of(coding), short_message = bytes })
    if not ok then return 503, { error = "MO not queued: " .. tostring(detail or err) } end
    return 202, { queued = true, system_id = account }
end
handlers.http_send = mo_from_http

-- A script's own HTTP route: GET /inject?to=...&text=... (an MO, like /send).
require("smpp.http").route("GET", "/inject", function(req) return mo_from_http(req.query) end)

-- MO messages: smpp.deliver hands a deliver_sm to a bound receiver of an
-- account. With conf.smsc.mo set, one goes out every `every` seconds.
function handlers.start()
    local mo = opt.mo
    if not mo then return end
    smpp.every(mo.every or 10, function()
        local resp, err = smpp.deliver(mo.system_id or "smppclient1", {
            source_addr = mo.from or "447700900123", destination_addr = mo.to or "1234",
            short_message = mo.text or "MO message",
        })
        if not resp then smpp.log("debug", "MO not delivered: %s", err) end
    end)
end

return handlers
