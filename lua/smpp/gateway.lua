-- smpp.gateway -- the gateway's policy, in Lua: which upstream of a route
-- a message is queued for (the route's strategy), what the forwarder asks
-- to decide (failover, refusals, expiry: core/rt_fwd.c raises them as
-- events), the receipts the gateway writes itself (EXPIRED, REJECTD), MO to
-- accounts, POST /send, and the "upstream" id policy. The hot path is C:
-- the message is stored in the upstream's queue (core.gw_queue) and the
-- ESME answered after the commit; the forwarder sends it, writes the
-- answer, and matches receipts through the store (docs/gateway.md).
-- Nothing about a message is kept in Lua.
local smpp = require "smpp"
local core = require "smpp.core"
local upstream = require "smpp.upstream"
local receipt = require "smpp.receipt"
local ratelimit = require "smpp.ratelimit"
local store = require "smpp.store"
local stime = require "smpp.time"
local text = require "smpp.text"
local messages = require "smpp.messages"
local http = require "smpp.http"

local S = smpp.status
local random = math.random

local M = {}

local opt = {
    message_id = "own",        -- "own": issue ours, store and forward; "upstream": pass its id through
    own_id_format = "hex",     -- hex | decimal | uuid (the store's node id and counter either way)
    validity = 172800,         -- seconds a message may wait to be forwarded without validity_period
    max_validity = 0,          -- longest validity an ESME may ask for (0: any)
    early_ttl = 60,            -- seconds a receipt waits for its message's answer
    queue_ttl = 3600,          -- seconds a receipt or MO waits for the ESME's receiver
    receipt_wait = 2,          -- seconds a relayed receipt waits for the ESME's answer, then the outbox (0: no limit)
    retry_min = 1,             -- backoff of a message sent again (timeout, lost connection) ...
    retry_max = 60,            -- ... doubling up to this
}

-- Counted here: what the Lua side decides (the C side counts the rest:
-- core.gw_stats, per upstream).
local counts = {
    queued = 0, no_route = 0, not_queued = 0, throttled = 0, failed_over = 0, refused = 0, expired = 0,
    receipts_generated = 0, mo = 0, mo_no_route = 0, mo_not_queued = 0, forwarded_upstream = 0,
    upstream_error = 0, not_sent = 0, failed = 0,
    invalid = 0,                -- refused for its values (smpp.checks: a TON, esm_class, time ...)
    pattern_gave_up = 0,        -- a route's pattern key ran out of steps on a message (it did not match)
}

-- The ESME side's answers per route and per account: submitted (messages
-- routed there) and answered by status name (ESME_ROK: taken). Bounded by
-- the configuration: routes by name, accounts by system_id ("@http" for
-- POST /send; "-" stands for "no route" in by_route).
local by_route, by_account = {}, {}

local function note_in(t, name, st)
    local e = t[name]
    if not e then
        e = { submitted = 0, answered = {} }
        t[name] = e
    end
    e.submitted = e.submitted + 1
    local a = e.answered
    a[st] = (a[st] or 0) + 1
end

-- note(route name | nil, account, status): one message answered `status`
-- (0: taken) on that route for that account.
function M.note(route, account, status)
    status = status or 0
    local st = status == 0 and "ESME_ROK" or smpp.status_name(status) or string.format("0x%08X", status)
    note_in(by_route, route or "-", st)
    note_in(by_account, account or "-", st)
end

local function copy_notes(t)
    local out = {}
    for name, e in pairs(t) do
        local a = {}
        for k, v in pairs(e.answered) do a[k] = v end
        out[name] = { submitted = e.submitted, answered = a }
    end
    return out
end

-- The C side's figures (core.route_stats: latency per route, receipts by
-- stat, MO per account) merged into the rows of routes and accounts.
local function merge_figures(out)
    local c = core.route_stats()
    for _, kind in ipairs { "routes", "accounts" } do
        for name, f in pairs(c[kind]) do
            local e = out[kind][name]
            if not e then
                e = { submitted = 0, answered = {} }
                out[kind][name] = e
            end
            for k, v in pairs(f) do e[k] = v end
        end
    end
    out.latency_bounds_ms = c.latency_bounds_ms
end

-- stats() -> the counters above and the forwarder's (queues, per upstream),
-- with the per-route and per-account answers (routes, accounts), each
-- route's latency and receipts, each account's receipts and MO.
function M.stats()
    local out = {}
    for k, v in pairs(counts) do out[k] = v end
    out.routes, out.accounts = copy_notes(by_route), copy_notes(by_account)
    merge_figures(out)
    local ok, c = pcall(core.gw_stats)
    if ok and c then
        out.stored, out.held_answers, out.events_failed = c.stored, c.held, c.events_failed
        out.refused_full, out.refused_io = c.refused_full, c.refused_io
        out.stored_as_received = c.stored_as_received
        out.turn_rows, out.turn_rows_cap = c.turn_rows, c.turn_rows_cap
        out.unrecorded_held, out.unrecorded_holds = c.unrecorded_held, c.unrecorded_holds
        out.receipt_origins = c.origins
        out.queues = c.links
    end
    return out
end

-- count(name): one more of a counter above (scripts count their own
-- decisions, e.g. no_route, through this: module tables are read-only to
-- them).
function M.count(name)
    if counts[name] == nil then error("gateway.count: no counter named " .. tostring(name), 2) end
    counts[name] = counts[name] + 1
end

-- -- Settings ----------------------------------------------------------------------

local on_event

-- configure(gateway_section): options (conf/gateway.lua lists them).
function M.configure(o)
    for k, v in pairs(o or {}) do if opt[k] ~= nil then opt[k] = v end end
    M.message_id = opt.message_id
end

-- start(): the runtime's side of the settings (when serving starts, and
-- again after a reload).
function M.start()
    core.gw_start { on_event = on_event, early_ttl = opt.early_ttl, queue_ttl = opt.queue_ttl,
                    receipt_wait = opt.receipt_wait, retry_min = opt.retry_min, retry_max = opt.retry_max, id_format = opt.own_id_format }
end

-- set_routes(list): the routes in force (a router's), by name: the
-- forwarder's events name a message's route, failover reads its upstreams.
function M.set_routes(list)
    local by_name = {}
    for _, r in ipairs(list or {}) do by_name[r.name] = r end
    M.routes = by_name
end

-- -- Choosing an upstream ---------------------------------------------------------------

local turns = {}           -- route name -> round robin position
local route_buckets = {}   -- route name -> token bucket

local function usable(name)
    local l = upstream.get(name)
    return l ~= nil and l:usable()
end

-- least_outstanding's order: the loads of the names being sorted. Not a
-- closure made in candidates: a function that makes one closes upvalues
-- as it returns (UCLO), which the JIT does not compile, and every caller's
-- trace through it (the queueing of each message) aborted there.
local sort_load = {}
local function less_loaded(a, b) return sort_load[a] < sort_load[b] end

-- candidates(route) -> the route's upstreams in the order its strategy
-- tries them (usable ones first is the caller's part).
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
        for _, name in ipairs(order) do sort_load[name] = core.gw_load(name) end
        table.sort(order, less_loaded)
    else
        order = to                  -- failover: in the order given
    end
    return order
end
M.candidates = candidates

-- Is `name` one of the route's upstreams?
local function on_route(route, name)
    for _, n in ipairs(route.to) do if n == name then return true end end
    return false
end

-- A queue that takes a message now: its link usable, its queue under its
-- max_queue (core.gw_room).
local function takes(name) return usable(name) and core.gw_room(name) end

-- pick(route [, link]) -> the upstream whose queue a new message goes to:
-- `link` (the upstream the earlier parts of its long message took) while
-- it is on the route and takes it, else the first candidate whose link is
-- usable now and whose queue has room, else the first candidate (the
-- message waits in its queue until the link is back, or another takes
-- it; a full queue refuses it).
function M.pick(route, link)
    local to = route.to
    if #to == 1 then return to[1] end       -- whichever is usable: the route has no other
    if link and on_route(route, link) and takes(link) then return link end
    local order = candidates(route)
    for _, name in ipairs(order) do
        if takes(name) then return name end
    end
    return order[1]
end

-- A route's own rate limit: true when the message may go.
local function route_allows(route)
    if not (route.rate and route.rate > 0) then return true end
    local b = route_buckets[route.name]
    if not b or b.rate ~= route.rate then
        b = ratelimit.bucket(route.rate, route.burst or route.rate, smpp.clock)
        route_buckets[route.name] = b
    end
    return b:take(1)
end

local function status_set(list)
    local set = {}
    for _, name in ipairs(list or {}) do set[S[name] or -1] = true end
    return set
end
local failover_sets = setmetatable({}, { __mode = "k" })   -- route -> its failover_on set (never in the route)
local function fails_over(route, status)
    local set = failover_sets[route]
    if not set then
        set = status_set(route.failover_on)
        failover_sets[route] = set
    end
    return set[status] == true
end

-- -- Store and forward ---------------------------------------------------------------------

-- The absolute end of a message's validity (validity_period, or the
-- gateway's default; capped at max_validity), or nil, status for a
-- validity_period that does not parse.
local function expiry(pdu, now)
    local v, t = pdu.validity_period, now + opt.validity
    if v and v ~= "" then
        t = stime.parse(v, now)
        if not t then return nil, S.ESME_RINVEXPIRY end
    end
    if opt.max_validity > 0 and t > now + opt.max_validity then t = now + opt.max_validity end
    return t
end

-- queue(account, pdu, route, via [, notify [, link]]) -> message id | nil,
-- status, reason: store the message in the queue of the upstream the
-- route's strategy picks (link first: M.pick); the runtime answers after
-- the commit and forwards it. via: the ESME's session id, or how the
-- message came ("POST /send"). On success the 4th value is the upstream
-- whose queue took it.
function M.queue(account, pdu, route, via, notify, link)
    local rate = route.rate
    if rate and rate > 0 and not route_allows(route) then
        counts.throttled = counts.throttled + 1
        return nil, S[route.status or "ESME_RTHROTTLED"] or S.ESME_RTHROTTLED, "route rate"
    end
    local now = smpp.time()
    local expires, bad = expiry(pdu, now)
    if not expires then return nil, bad, "validity_period does not parse" end
    local to = M.pick(route, link)
    local id, err, detail = core.gw_queue(pdu, account, to, route.name, expires, via, notify)
    if not id then
        counts.not_queued = counts.not_queued + 1
        return nil, err == "full" and S.ESME_RMSGQFUL or S.ESME_RSYSERR, detail or err
    end
    counts.queued = counts.queued + 1
    return id, nil, nil, to
end

-- -- "upstream" ids: the ESME waits for the upstream ---------------------------------------

-- forward(route, pdu) -> response, link name, sent (core.gw_stamp() before
-- it went out) | nil, status, reason. Tries
-- the route's upstreams by its strategy, moving on only when the message
-- was certainly not taken (link down or busy, or a status in failover_on;
-- ESME_RTHROTTLED and ESME_RMSGQFUL once the link's own retries are
-- spent). After a timeout or a lost connection the message may have been
-- accepted, so it is not sent again: the ESME gets ESME_RSYSERR.
function M.forward(route, pdu, link)
    if not route_allows(route) then
        counts.throttled = counts.throttled + 1
        return nil, S[route.status or "ESME_RTHROTTLED"] or S.ESME_RTHROTTLED, "route rate"
    end
    local order = candidates(route)
    if link and on_route(route, link) and order[1] ~= link then      -- a long message's earlier parts went there
        local o = { link }
        for _, n in ipairs(order) do if n ~= link then o[#o + 1] = n end end
        order = o
    end
    local last_status, last_reason = S.ESME_RMSGQFUL, "no upstream available"
    for i, name in ipairs(order) do
        local link = upstream.get(name)
        if link then
            local last = i == #order
            if not last and not link:usable() then
                last_reason = name .. " unusable"
            else
                local sent = core.gw_stamp()
                local resp, err = link:send(pdu, not last and { wait = 0 } or nil)
                if resp then
                    local st = resp.command_status
                    if st == 0 or not (fails_over(route, st) or st == S.ESME_RTHROTTLED or st == S.ESME_RMSGQFUL) then
                        return resp, name, sent
                    end
                    last_status, last_reason = st, name .. " answered " .. (smpp.status_name(st) or st)
                    if not last then
                        smpp.log("info", "route %s: %s, trying %s", route.name, last_reason, order[i + 1])
                    end
                elseif err == "link down" or err == "link busy" then
                    last_status, last_reason = S.ESME_RMSGQFUL, name .. ": " .. err
                else
                    counts.failed = counts.failed + 1
                    return nil, S.ESME_RSYSERR, name .. ": " .. tostring(err)
                end
            end
        else
            last_reason = "no upstream named " .. name
        end
    end
    if last_status == S.ESME_RMSGQFUL then counts.not_sent = counts.not_sent + 1
    else counts.upstream_error = counts.upstream_error + 1 end
    return nil, last_status, last_reason
end

-- pass_through(account, pdu, route, via [, notify [, prefer]]) -> id,
-- the upstream's response, nil, the upstream | nil, status, reason:
-- message_id = "upstream" (prefer: the upstream to try first). The message is stored
-- under that id after the upstream accepted it (its receipts are matched
-- through the store like any other).
function M.pass_through(account, pdu, route, via, notify, prefer)
    local t0 = core.clock()
    local resp, link, sent = M.forward(route, pdu, prefer)
    if not resp then return nil, link, sent end
    core.route_latency(route.name, core.clock() - t0)    -- what the ESME waited for the answer
    local hook = M.hooks and M.hooks.after_answer
    if hook then
        local v = hook { account = account, route = route.name, upstream = link, status = resp.command_status,
                         message_id = resp.message_id, pdu = pdu, kind = "answer" }
        local st = type(v) == "table" and v.status or v
        if type(st) == "string" then st = S[st] end
        if type(st) == "number" and st ~= resp.command_status then
            if st ~= 0 then return nil, st, "after_answer: " .. (smpp.status_name(st) or tostring(st)) end
        elseif v ~= nil and type(st) ~= "number" then
            error("after_answer returned " .. tostring(v) .. ": a status (number or name), or nothing", 0)
        end
    end
    if resp.command_status ~= 0 then return nil, resp.command_status, "upstream refused" end
    local now = smpp.time()
    local id, err, detail = core.gw_record(pdu, { account = account, upstream = link, route = route.name,
        expires = expiry(pdu, now) or now + opt.validity, upstream_id = resp.message_id or "", notify = notify,
        sent = sent,
        trace = string.format("accepted from %s (%s), route '%s', sent to %s: accepted as %s", account,
            type(via) == "number" and "session " .. via or tostring(via), route.name, link,
            tostring(resp.message_id)) })
    if not id then
        counts.not_queued = counts.not_queued + 1
        return nil, S.ESME_RSYSERR, "accepted upstream but not stored: " .. tostring(detail or err)
    end
    counts.forwarded_upstream = counts.forwarded_upstream + 1
    return id, resp, nil, link
end

-- submit(account, pdu, route, via [, notify [, link]]) -> message id, _,
-- _, the upstream taken | nil, status, reason, whichever the id policy.
-- link: the upstream to prefer (the one the earlier parts of its long
-- message took).
function M.submit(account, pdu, route, via, notify, link)
    if opt.message_id == "upstream" then
        return M.pass_through(account, pdu, route, via, notify, link)
    end
    return M.queue(account, pdu, route, via, notify, link)
end

-- -- Receipts the gateway writes ---------------------------------------------------------------

-- Does this registered_delivery ask for a receipt of a message that ended
-- with `state` (reference 5.2.17: 1 any final, 2 failure, 3 success)?
local function wanted(rd, state)
    local kind = rd % 4
    return kind == 1 or (kind == 2 and state ~= store.state.DELIVERED)
        or (kind == 3 and state == store.state.DELIVERED)
end

-- The first 20 characters of the message's text, ASCII only.
local function preview(pdu)
    local data = text.payload(pdu)
    if (pdu.esm_class or 0) % 128 >= 64 and #data > 0 then data = data:sub(data:byte(1) + 2) end
    local coding = text.coding_of(pdu.data_coding or 0, "gsm")
    local ok, s = pcall(text.decode, data, coding)
    s = ok and s or ""
    return (s:gsub("[\192-\247][\128-\191]*", "?"):gsub("[^\32-\126]", "?"):sub(1, 20))
end

-- A receipt for message rec (a stored row) in final `state`, written by
-- the gateway (the message never reached an upstream that could say).
local function own_receipt(rec, state, err)
    local pdu = rec.pdu and smpp.decode(rec.pdu) or {}
    return {
        command = "deliver_sm",
        source_addr_ton = pdu.dest_addr_ton, source_addr_npi = pdu.dest_addr_npi, source_addr = rec.dest or "",
        dest_addr_ton = pdu.source_addr_ton, dest_addr_npi = pdu.source_addr_npi, destination_addr = rec.source or "",
        esm_class = 0x04, receipted_message_id = rec.id, message_state = state,
        short_message = receipt.format { id = rec.id, sub = 1, dlvrd = 0, submit_date = rec.submitted,
                                         done_date = smpp.time(), stat = state, err = err % 1000,
                                         text = preview(pdu) },
    }
end

local notify_message          -- set below (POST /send's callbacks)

-- The final state the gateway gives a message (REJECTED, EXPIRED): its
-- receipt, when the ESME asked for one, goes to the account's outbox.
local function finish(ev, state, err, line)
    local cluster = package.loaded["smpp.cluster"]
    local rec
    if cluster and cluster.stores_messages() then rec = cluster.message(ev.id)     -- kept in Redis
    else rec = store.get(ev.rowid) end
    if rec and rec.account == "@http" then
        notify_message(ev.id, receipt.stat_of(state))
    elseif rec and wanted(rec.registered_delivery or 0, state) then
        local ok, perr, detail = smpp.post(rec.account, own_receipt(rec, state, err),
                                           { ref = rec.id, ttl = opt.queue_ttl })
        if ok then counts.receipts_generated = counts.receipts_generated + 1
        else smpp.log("warn", "%s receipt for %s not queued: %s", receipt.stat_of(state), ev.id, tostring(detail or perr)) end
    end
    return { action = "finish", state = state, err = err, line = line }
end

M.MAX_MOVES = 10        -- moves of one message an after_answer hook may ask for

-- The upstreams the message of event ev was sent to, from its trace
-- ("sent to NAME"); its record is in Redis when the cluster keeps them.
local function tried(ev)
    local cluster = package.loaded["smpp.cluster"]
    local rec
    if cluster and cluster.stores_messages() then rec = cluster.message(ev.id)
    else rec = store.get(ev.rowid) end
    local set = {}
    for name in ((rec and rec.trace) or ""):gmatch("sent to ([^%s:]+)") do set[name] = true end
    return set, rec
end

-- Another upstream of the message's route that is usable now and, unless
-- any_tried, was not tried (with room: whose queue is under its max_queue);
-- nil when there is none.
local function alternative(ev, any_tried, room)
    local route = M.routes and M.routes[ev.route]
    -- a message of an upstream a reload removed: any usable one of its route
    if not route or (#route.to < 2 and upstream.get(ev.upstream)) then return nil end
    local done = tried(ev)
    done[ev.upstream] = true
    for _, name in ipairs(candidates(route)) do
        if (any_tried or not done[name]) and name ~= ev.upstream and (room and takes or usable)(name) then
            return name
        end
    end
end

-- The forwarder's events (core/rt_fwd.c): the answer is a decision, or
-- nothing for the default (named per kind).
-- The after_answer hook on a refusal (kind "refused" or "throttled"):
-- nil for the default, else the decision it asks for.
local function refusal_hook(ev)
    local hook = M.hooks and M.hooks.after_answer
    if not hook then return nil end
    local v = hook { message_id = ev.id, route = ev.route, upstream = ev.upstream, status = ev.status,
                     detail = ev.detail, kind = ev.kind }
    if v == nil then return nil end
    local why = "after_answer: " .. (ev.detail or smpp.status_name(ev.status) or tostring(ev.status))
    if type(v) == "table" and v.upstream then
        if not upstream.get(v.upstream) then error("after_answer moved to " .. tostring(v.upstream) .. ": no such upstream", 0) end
        -- a hook that moves every refusal to the other upstream would send
        -- one message back and forth until its validity ends: at most
        -- MAX_MOVES moves (counted in its trace), then REJECTED
        local _, rec = tried(ev)
        local _, moves = ((rec and rec.trace) or ""):gsub("moved to ", "")
        if moves >= M.MAX_MOVES then
            counts.refused = counts.refused + 1
            smpp.log("warn", "after_answer moved %s %d times already: REJECTED", ev.id, moves)
            return finish(ev, store.state.REJECTED, ev.status,
                          why .. "; not moved again (" .. moves .. " moves): REJECTED")
        end
        counts.failed_over = counts.failed_over + 1
        return { action = "move", upstream = v.upstream, line = why .. "; moved to " .. v.upstream }
    end
    local st = type(v) == "table" and v.status or v
    if type(st) == "string" then st = S[st] end
    if type(st) ~= "number" then
        error("after_answer returned " .. tostring(v) .. ": a status, {status =}, {upstream =} or nothing", 0)
    end
    counts.refused = counts.refused + 1
    return finish(ev, store.state.REJECTED, st, why .. "; REJECTED")
end

on_event = function(ev)
    if (ev.kind == "refused" or ev.kind == "throttled") and M.hooks and M.hooks.after_answer then
        local d = refusal_hook(ev)
        if d then return d end
    end
    if ev.kind == "refused" then
        -- a status in the route's failover_on moves on to an upstream not
        -- tried yet; any other refusal ends the message (REJECTED)
        local route = M.routes and M.routes[ev.route]
        local to = route and fails_over(route, ev.status) and alternative(ev)
        local why = ev.detail or smpp.status_name(ev.status) or tostring(ev.status)
        if to then
            counts.failed_over = counts.failed_over + 1
            smpp.log("info", "route %s: %s for %s; trying %s", ev.route, why, ev.id, to)
            return { action = "move", upstream = to, line = why .. "; moved to " .. to }
        end
        counts.refused = counts.refused + 1
        return finish(ev, store.state.REJECTED, ev.status, why .. "; REJECTED")
    elseif ev.kind == "throttled" then
        local route = M.routes and M.routes[ev.route]
        local to = route and fails_over(route, ev.status) and alternative(ev)
        if to then
            counts.failed_over = counts.failed_over + 1
            smpp.log("info", "route %s: %s; trying %s", ev.route, ev.detail, to)
            return { action = "move", upstream = to, line = ev.detail .. "; moved to " .. to }
        end
        return nil                                    -- again on the same link after its pause
    elseif ev.kind == "stalled" then
        -- its link cannot send for a while: another usable one of its route
        -- with room (a queue at its max_queue takes no more moves: the
        -- message waits here, looked at again every 2 s)
        local to = alternative(ev, true, true)
        if to then
            counts.failed_over = counts.failed_over + 1
            return { action = "move", upstream = to, line = ev.detail .. ": moved to " .. to }
        end
        return nil
    elseif ev.kind == "expired" then
        counts.expired = counts.expired + 1
        return finish(ev, store.state.EXPIRED, 0, "expired: " .. (ev.detail or "its validity ended"))
    elseif ev.kind == "receipt" then
        notify_message(ev.id, receipt.stat_of(ev.status) or "UNKNOWN", ev.detail)
    end
end

-- -- MO ---------------------------------------------------------------------------------------

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

-- mo(account, pdu) -> status for the upstream: an MO message for an ESME,
-- put in the account's outbox (kept until a receiver takes it).
function M.mo(account, pdu)
    local ok, err, detail = smpp.post(account, onward(pdu), { ttl = opt.queue_ttl })
    if ok then
        counts.mo = counts.mo + 1
        core.route_mo(account)
        return S.ESME_ROK
    end
    counts.mo_not_queued = counts.mo_not_queued + 1
    smpp.log("warn", "MO for %s not queued: %s", account, tostring(detail or err))
    return S.ESME_RX_T_APPN
end

-- -- POST /send -------------------------------------------------------------------------------

-- The record of a message sent through POST /send, posted to its
-- callback_url when its receipt (or the gateway's verdict) comes: from a
-- task of its own, so the forwarder's decision never waits for the post.
notify_message = function(id, stat, receipt_text)
    local cluster = package.loaded["smpp.cluster"]
    local rec = (cluster and cluster.stores_messages() and cluster.message or store.get)(id)
    if not (rec and rec.notify) then return end
    local v = messages.view(rec)
    v.state = stat or v.state
    v.receipt_text = receipt_text
    smpp.after(0, function()
        local st, perr = http.post(rec.notify, v)
        if not st or st >= 300 then
            smpp.log("warn", "receipt callback for %s to %s failed: %s", id, rec.notify, tostring(st or perr))
        end
    end)
end

return M
