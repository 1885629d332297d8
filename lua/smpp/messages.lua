-- smpp.messages -- "where is my message?": a stored message as an operator
-- reads it (its state, route, upstream and ids, and its trace: accepted
-- from whom, each attempt and its answer, the receipt, the delivery to the
-- ESME), and lists of messages by account, state and time. GET
-- /messages/ID, GET /messages?account=... and `smppgw messages` all show
-- what this module makes of the store's rows.
local store = require "smpp.store"
local receipt = require "smpp.receipt"

local M = {}

-- state_of(word) -> message_state | nil: a store state name (SCHEDULED,
-- ENROUTE, DELIVERED, ...) or a stat word (DELIVRD, ...), any case.
function M.state_of(word)
    if type(word) ~= "string" then return nil end
    local up = word:upper()
    return store.state[up] or receipt.state_of(up)
end

-- The word a state is shown as: its stat word where it has one (DELIVRD,
-- ENROUTE, ...), else its name (SCHEDULED: waiting to be forwarded).
local function state_word(state)
    return receipt.stat_of(state) or store.state_name[state] or tostring(state)
end
M.state_word = state_word

-- ISO 8601 UTC with milliseconds, for people.
local function iso(t)
    if not t then return nil end
    local s = math.floor(t)
    return os.date("!%Y-%m-%dT%H:%M:%S", s) .. string.format(".%03dZ", math.floor((t - s) * 1000 + 0.5) % 1000)
end
M.iso = iso

-- trace(text) -> { { at = seconds, time = ISO, event = text }, ... } in order.
function M.trace(text)
    local out = {}
    for line in (text or ""):gmatch("[^\n]+") do
        local at, event = line:match("^([%d.]+) (.*)$")
        at = tonumber(at)
        out[#out + 1] = { at = at, time = iso(at), event = event or line }
    end
    return out
end

-- view(rec [, brief]) -> the record of a stored message as the API shows
-- it; brief leaves the trace out (lists).
function M.view(rec, brief)
    local last_receipt, trace
    if brief then                    -- a list: the last receipt only, found in the text (no table per line)
        for r in ("\n" .. (rec.trace or "")):gmatch("\n[%d.]+ receipt from %S+: ([^;\n]*)") do last_receipt = r end
    else
        trace = M.trace(rec.trace)
        for _, t in ipairs(trace) do
            last_receipt = t.event:match("^receipt from %S+: ([^;]*)") or last_receipt
        end
    end
    return {
        message_id = rec.id, part = rec.part, account = rec.account, from = rec.source, to = rec.dest,
        state = state_word(rec.state), state_name = store.state_name[rec.state], final = rec.final,
        submitted = rec.submitted, submitted_time = iso(rec.submitted), done = rec.done, done_time = iso(rec.done),
        expires = rec.expires, route = rec.route, upstream = rec.upstream, upstream_id = rec.upstream_id,
        attempts = rec.attempts, error = rec.err ~= 0 and rec.err or nil, callback_url = rec.notify,
        registered_delivery = rec.registered_delivery, receipt = last_receipt,
        trace = not brief and trace or nil,
    }
end

-- get(st, id) -> the view of message id (with `parts` when it has more
-- than one: a submit_multi, or an upstream's id it reused), or nil.
-- nil, err when the store cannot answer.
function M.get(st, id)
    local parts, err = st:parts(id)
    if not parts then return nil, "the store cannot answer: " .. tostring(err) end
    if #parts == 0 then return nil end
    local v = M.view(parts[1])
    if #parts > 1 then
        v.parts = {}
        for i, rec in ipairs(parts) do v.parts[i] = M.view(rec) end
    end
    return v
end

-- find(st, id [, gateway]) -> the view of message id | nil (none) | nil,
-- err. With the store in Redis a message is in one of two places: the
-- store's own keys (smpp.store: the reference SMSC, scripts) or, for a
-- message the gateway accepted, its record under its upstream
-- (core/rt_gwr.h). The store is asked first (get above); when it has no
-- such message, gateway(id) (smpp.cluster.message: record | nil | nil,
-- err) is.
function M.find(st, id, gateway)
    local v, err
    if st then v, err = M.get(st, id) end
    if v or err or not gateway then return v, err end
    local rec, gerr = gateway(id)
    if not rec then return nil, gerr and "the message store (Redis) is unreachable: " .. tostring(gerr) end
    return M.view(rec)
end

-- gateway_in_redis(conf) -> whether conf is a gateway whose messages are
-- in Redis (its store is: store.redis or cluster.store, and it has
-- upstreams to forward to). Those records have no index by account and
-- time: lists of them are refused (NO_LISTS) rather than answered without
-- them; the store's own messages are listed everywhere else.
function M.gateway_in_redis(conf)
    return store.redis_of(conf) ~= nil and type(conf.upstreams) == "table" and #conf.upstreams > 0
end
M.NO_LISTS = "lists of messages need the SQLite store: a gateway whose store is in Redis keeps each message "
    .. "under its upstream, with no index by account and time; give a message ID (GET /messages/ID)"

-- parse_time(s, now) -> seconds since the epoch | nil, err: seconds since
-- the epoch, an age ("90s", "15m", "2h", "7d": that long before now), or
-- an ISO 8601 UTC time ("2026-12-01T16:00:00Z", the Z optional).
function M.parse_time(s, now)
    if type(s) ~= "string" or s == "" then return nil, "a time is required" end
    local n = tonumber(s)
    if n then return n end
    local num, unit = s:match("^(%d+%.?%d*)([smhd])$")
    if num then return now - tonumber(num) * ({ s = 1, m = 60, h = 3600, d = 86400 })[unit] end
    local y, mo, d, h, mi, sec = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[T ](%d%d):(%d%d):?(%d*)Z?$")
    if y then
        local t = require("smpp.time").timegm(tonumber(y), tonumber(mo), tonumber(d), tonumber(h),
                                              tonumber(mi), tonumber(sec) or 0)
        if t then return t end
    end
    return nil, "not a time: " .. s .. " (seconds since the epoch, an age such as 15m, 2h, 7d, or 2026-12-01T16:00:00Z)"
end

-- query(q, now) -> list options for st:list | nil, err. q: account
-- (required: messages are listed by account), state (a name or stat word),
-- since, until (parse_time), limit (1..10000, default 100), after (the
-- `next` of a previous list: where to go on).
function M.query(q, now)
    if type(q.account) ~= "string" or q.account == "" then
        return nil, "account is required: messages are listed by account"
    end
    local out = { account = q.account, limit = 100 }
    if q.state and q.state ~= "" then
        out.state = M.state_of(q.state)
        if not out.state then return nil, "unknown state " .. tostring(q.state) end
    end
    for _, k in ipairs { "since", "until" } do
        if q[k] and q[k] ~= "" then
            local t, err = M.parse_time(q[k], now)
            if not t then return nil, k .. ": " .. err end
            out[k] = t
        end
    end
    if q.limit then
        local l = tonumber(q.limit)
        if not l or l < 1 or l > 10000 or l % 1 ~= 0 then return nil, "limit must be a whole number 1..10000" end
        out.limit = l
    end
    if q.after and q.after ~= "" then
        local a = tonumber(q.after)
        if not a or a < 1 or a > 2 ^ 53 or a % 1 ~= 0 then return nil, "after must be the next of a previous list" end
        out.after = a
    end
    return out
end

-- list(st, q, now [, pages [, pause [, each]]]) -> { messages = { brief
-- views, oldest first }, count = n, next = key } | nil, err. The store
-- walks its keys, a bounded number per call (docs/store.md): `next` says
-- where to go on (q.after) when it stopped before the end. pages > 1 goes
-- on itself up to that many calls; with pause (the HTTP API: smpp.sleep(0))
-- the calls read at most CHUNK rows each and pause() runs between them, so
-- a list of 10,000 never holds the loop (it held it past the script
-- budget: 500); pause() may return nil, err to end the list there (the
-- list's answer is then nil, err). With each, every view goes to each(view)
-- as it is made and none is kept (messages is then absent): the HTTP API
-- writes each one out at once, where 10,000 views held until the end cost
-- 10 MiB or more per list.
local CHUNK = 100
function M.list(st, q, now, pages, pause, each)
    local opts, err = M.query(q, now)
    if not opts then return nil, err end
    local want, out, n, next = opts.limit, not each and {} or nil, 0, nil
    for _ = 1, pages or 1 do
        if pause then opts.limit = math.min(want - n, CHUNK) end
        local rows
        rows, next = st:list(opts)
        if not rows then return nil, "the store cannot answer: " .. tostring(next) end
        for _, rec in ipairs(rows) do
            n = n + 1
            if each then each(M.view(rec, true)) else out[n] = M.view(rec, true) end
        end
        if not next or n >= want then break end
        opts.after, opts.limit = next, want - n
        if pause then
            local go, why = pause()
            if go == nil and why ~= nil then return nil, why end
        end
    end
    return { messages = out, count = n, next = next }
end

return M
