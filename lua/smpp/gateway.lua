-- smpp.gateway -- what a gateway script needs beyond routing: forwarding
-- through a route's upstreams (failover, round robin, weighted, least
-- outstanding), the message id map, receipts mapped back to ESMEs, and
-- delivery to ESMEs through their outbox in the store (smpp.post: kept
-- for the account until one of its receivers takes it).
local smpp = require "smpp"
local core = require "smpp.core"
local upstream = require "smpp.upstream"
local msgid = require "smpp.msgid"
local receipt = require "smpp.receipt"
local ratelimit = require "smpp.ratelimit"
local http = require "smpp.http"

local S = smpp.status
local random = math.random

local M = {}

local opt = {
    message_id = "own",        -- "own": issue ours; "upstream": pass its id through
    mapping_ttl = 172800,      -- seconds a forwarded message's id mapping is kept
    mapping_max = 1000000,     -- most mappings kept (oldest dropped first)
    early_ttl = 60,            -- seconds a receipt waits for its submit_sm_resp
    queue_ttl = 3600,          -- seconds a receipt or MO waits for the ESME's receiver
}

local stats = {
    forwarded = 0, no_route = 0, not_sent = 0, failed = 0, upstream_error = 0, throttled = 0,
    receipts = 0, receipts_early = 0, receipts_unmatched = 0, mo = 0, mo_no_route = 0,
    queued = 0, undeliverable = 0,
}
M.stats = stats

local now = core.clock

-- configure(gateway_section): options (see conf/gateway.lua).
function M.configure(o)
    for k, v in pairs(o or {}) do if opt[k] ~= nil then opt[k] = v end end
    M.own_id = msgid.generator { format = o and o.own_id_format or "hex" }
    -- levels beside their ceilings in /stats and /metrics (what waits for
    -- an ESME's receiver is in the store's outbox: /stats store and accounts)
    smpp.gauge("gateway_id_mappings", function() return M.mapping_count() end, opt.mapping_max)
end

-- -- Forwarding -----------------------------------------------------------------------

local turns = {}           -- route name -> round robin position
local route_buckets = {}   -- route name -> token bucket

-- candidates(route) -> the route's upstreams in the order its strategy
-- tries them (exposed for the specs).
local function candidates(route)
    local to, n = route.to, #route.to
    if n == 1 then return to end
    local order = {}
    if route.strategy == "round_robin" then
        local start = (turns[route.name] or 0) % n + 1
        turns[route.name] = start
        for i = 0, n - 1 do order[#order + 1] = to[(start + i - 1) % n + 1] end
    elseif route.strategy == "weighted" then
        local total, w = 0, route.weights or {}
        for i = 1, n do total = total + (w[i] or 1) end
        local pick, acc, first = random() * total, 0, n
        for i = 1, n do
            acc = acc + (w[i] or 1)
            if pick < acc then first = i break end
        end
        order[1] = to[first]
        for i = 1, n do if i ~= first then order[#order + 1] = to[i] end end
    elseif route.strategy == "least_outstanding" then
        for i = 1, n do order[i] = to[i] end
        local function load(name)
            local l = upstream.get(name)
            return l and l:usable() and l:outstanding() or math.huge
        end
        table.sort(order, function(a, b) return load(a) < load(b) end)
    else
        order = to                  -- failover: in the order given
    end
    return order
end

M.candidates = candidates

local function status_set(list)
    local set = {}
    for _, name in ipairs(list or {}) do set[S[name] or -1] = true end
    return set
end

-- forward(route, pdu) -> response, link name | nil, status, reason.
-- Tries the route's upstreams by its strategy. It moves on to the next one
-- only when the message was certainly not taken: the link is down or busy,
-- or it answered a status in route.failover_on (always ESME_RTHROTTLED and
-- ESME_RMSGQFUL once the link's own retries are spent). After a timeout or
-- a lost connection the message may have been accepted, so it is not sent
-- again (no duplicates): the ESME gets ESME_RSYSERR and may retry.
function M.forward(route, pdu)
    if route.rate and route.rate > 0 then
        local b = route_buckets[route.name]
        if not b or b.rate ~= route.rate then
            b = ratelimit.bucket(route.rate, route.burst or route.rate, now)
            route_buckets[route.name] = b
        end
        if not b:take(1) then
            stats.throttled = stats.throttled + 1
            return nil, S[route.status or "ESME_RTHROTTLED"] or S.ESME_RTHROTTLED, "route rate"
        end
    end
    route._failover = route._failover or status_set(route.failover_on)
    local order = candidates(route)
    local last_status, last_reason = S.ESME_RMSGQFUL, "no upstream available"
    for i, name in ipairs(order) do
        local link = upstream.get(name)
        if link then
            -- only the last candidate waits for its link; earlier ones are
            -- skipped at once when unusable
            local last = i == #order
            if not last and not link:usable() then
                last_reason = name .. " unusable"
            else
                local resp, err = link:send(pdu, not last and { wait = 0 } or nil)
                if resp then
                    local st = resp.command_status
                    if st == 0 or not (route._failover[st] or st == S.ESME_RTHROTTLED or st == S.ESME_RMSGQFUL) then
                        return resp, name
                    end
                    last_status, last_reason = st, name .. " answered " .. (smpp.status_name(st) or st)
                    if not last then
                        smpp.log("info", "route %s: %s, trying %s", route.name, last_reason, order[i + 1])
                    end
                elseif err == "link down" or err == "link busy" then
                    last_status, last_reason = S.ESME_RMSGQFUL, name .. ": " .. err
                else
                    stats.failed = stats.failed + 1
                    return nil, S.ESME_RSYSERR, name .. ": " .. tostring(err)
                end
            end
        else
            last_reason = "no upstream named " .. name
        end
    end
    if last_status == S.ESME_RMSGQFUL then stats.not_sent = stats.not_sent + 1
    else stats.upstream_error = stats.upstream_error + 1 end
    return nil, last_status, last_reason
end

-- -- The id map ------------------------------------------------------------------------
-- key: link name .. " " .. normalized upstream id -> mapping

-- fifo[fifo_first..fifo_last]: keys oldest first (explicit indexes: # is
-- undefined once the front has been cleared)
local map, fifo, fifo_first, fifo_last, map_count = {}, {}, 1, 0, 0
local early = {}           -- key -> list of {pdu, link, at}: receipts ahead of their mapping

-- The formats link `link` declared for its ids (upstreams[].id_format):
-- resp (submit_sm_resp), receipt (the id: field of a receipt's text) and
-- tlv (receipted_message_id); each defaults to resp, resp to "string".
local function id_format(link, where)
    local l = upstream.get(link)
    local f = l and l.conf.id_format
    if not f then return "string" end
    return f[where] or f.resp or "string"
end

-- The map key of an upstream id: the link, and the id read in the format
-- the link declared for the place it came from. Ids are matched exactly
-- by this key and only within the link that issued them.
local function key(link, id, where) return link .. " " .. msgid.key(id, id_format(link, where)) end

local function expire()
    local t = now()
    while fifo_first <= fifo_last do
        local k = fifo[fifo_first]
        local m = map[k]
        if m and m.expires > t and map_count <= opt.mapping_max then break end
        if m then
            map[k] = nil
            map_count = map_count - 1
        end
        fifo[fifo_first] = nil
        fifo_first = fifo_first + 1
    end
    for k, list in pairs(early) do
        for i = #list, 1, -1 do
            if t - list[i].at > opt.early_ttl then
                stats.receipts_unmatched = stats.receipts_unmatched + 1
                smpp.log("warn", "receipt for %s: no submit matched it within %d s", k, opt.early_ttl)
                table.remove(list, i)
            end
        end
        if #list == 0 then early[k] = nil end
    end
end

local handle_receipt

-- remember(session, link, resp, pdu) -> the message_id for the ESME.
-- Records which account and ESME id the upstream's id belongs to, then
-- handles any receipt that raced ahead of this response. A message that
-- asks for no receipt (registered_delivery 0) needs no mapping.
function M.remember(session, link, resp, pdu)
    local up_id = resp.message_id or ""
    local esme_id = opt.message_id == "own" and M.own_id() or up_id
    stats.forwarded = stats.forwarded + 1
    if pdu and (pdu.registered_delivery or 0) == 0 then return esme_id end
    local k = key(link, up_id, "resp")
    if not map[k] then map_count = map_count + 1 end
    map[k] = { account = session.system_id, esme_id = esme_id, upstream = link, upstream_id = up_id,
               expires = now() + opt.mapping_ttl }
    fifo_last = fifo_last + 1
    fifo[fifo_last] = k
    if map_count > opt.mapping_max then expire() end
    local waiting = early[k]
    if waiting then
        early[k] = nil
        for _, r in ipairs(waiting) do
            smpp.after(0, function() handle_receipt(r.link, r.pdu) end)
        end
    end
    return esme_id
end

-- -- Delivering to ESMEs -----------------------------------------------------------------

-- The PDU to send on: the same fields without the header and derived keys.
local function onward(pdu)
    local out = {}
    for k, v in pairs(pdu) do
        if k ~= "command_id" and k ~= "sequence_number" and k ~= "command_status" and k ~= "sm_length"
            and k ~= "tlv_order" then
            out[k] = v
        end
    end
    return out
end

-- deliver(account, pdu) -> true | nil, status: put a receipt or MO in the
-- account's outbox (the runtime hands it to a receiver of the account, now
-- or when one binds). The upstream is answered once that is stored; the
-- status is for when the outbox is full (ESME_RX_T_APPN: try later).
function M.deliver(account, pdu)
    if account == "@http" then         -- a message sent through POST /send
        local id = pdu.receipted_message_id
        local r = receipt.parse(pdu.short_message or pdu.message_payload or "") or {}
        local m = id and http.message(id)
        if m then
            local rec = http.receipt(id, r.stat or receipt.stat_of(pdu.message_state or 7) or "UNKNOWN",
                                     pdu.short_message or "")
            if m.callback_url then      -- post it to the sender's URL
                smpp.after(0, function()
                    local st, perr = http.post(m.callback_url, rec)
                    if not st or st >= 300 then
                        smpp.log("warn", "receipt callback for %s to %s failed: %s", id, m.callback_url,
                            tostring(st or perr))
                    end
                end)
            end
        end
        return true
    end
    local ok, err, detail = smpp.post(account, pdu, { ttl = opt.queue_ttl })
    if ok then
        stats.queued = stats.queued + 1
        return true
    end
    stats.undeliverable = stats.undeliverable + 1
    smpp.log("warn", "%s for %s not queued: %s", pdu.command or "deliver_sm", account, tostring(detail or err))
    return nil, S.ESME_RX_T_APPN
end

-- -- Receipts and MO from upstreams ---------------------------------------------------------

-- Is this deliver_sm/data_sm a delivery receipt (esm_class message type
-- 0x04, or 0x20 intermediate notification)?
function M.is_receipt(pdu)
    local t = (pdu.esm_class or 0) % 64
    return t - t % 4 == 0x04 or t - t % 4 == 0x20
end

-- The upstream id a receipt is about, and where it was found: the
-- receipted_message_id TLV ("tlv"), else the text's id: field ("receipt").
local function receipt_id(pdu)
    if pdu.receipted_message_id and pdu.receipted_message_id ~= "" then return pdu.receipted_message_id, "tlv" end
    local r = receipt.parse(pdu.short_message or pdu.message_payload or "")
    return r and r.id, "receipt"
end

handle_receipt = function(link, pdu)
    local id, where = receipt_id(pdu)
    if not id then
        stats.receipts_unmatched = stats.receipts_unmatched + 1
        smpp.log("warn", "receipt from %s without a message id", link)
        return
    end
    local k = key(link, id, where)
    local m = map[k]
    if not m then
        early[k] = early[k] or {}
        table.insert(early[k], { pdu = pdu, link = link, at = now() })
        stats.receipts_early = stats.receipts_early + 1
        return
    end
    local out = onward(pdu)
    out.receipted_message_id = m.esme_id
    for _, f in ipairs { "short_message", "message_payload" } do
        if out[f] then out[f] = out[f]:gsub("([Ii][Dd]:)%S+", "%1" .. m.esme_id:gsub("%%", "%%%%"), 1) end
    end
    stats.receipts = stats.receipts + 1
    return M.deliver(m.account, out)
end

-- receipt(link_name, pdu) -> status for the upstream: map a receipt back
-- to the ESME's id and account and send it on (or hold it).
function M.receipt(link, pdu)
    local ok, st = handle_receipt(link, pdu)
    if ok == nil and st then return st end
    return S.ESME_ROK
end

-- mo(account, pdu) -> status for the upstream: an MO message for an ESME.
function M.mo(account, pdu)
    stats.mo = stats.mo + 1
    local ok, st = M.deliver(account, onward(pdu))
    return ok and S.ESME_ROK or st
end

-- Sweep expired mappings and held receipts once a minute.
function M.start()
    smpp.every(60, expire)
end

function M.mapping_count() return map_count end

M.configure()

return M
