-- smpp.webhook -- receipts and MO for accounts that take them over HTTP:
-- an account with `http.webhook` in the configuration has its outbox (the
-- store's, where smpp.post, the gateway and the SMSC put deliver_sm for
-- it) posted as JSON to its URL instead of waiting for an SMPP receiver.
--
-- Who owns what: the items are the store's, from the post until the
-- receiver answered 2xx (removed) or their TTL ended (store expiry counts
-- and logs them); a deliverer leases a batch (hidden for LEASE seconds, so
-- a crash offers them again), posts each from a task of its own and puts
-- back what failed with a backoff (retry_min, doubling to retry_max).
-- Here: only the settings and counters of the configured accounts (their
-- number is the configuration's), nothing per message.
local core = require "smpp.core"
local smpp = require "smpp"
local store = require "smpp.store"
local text = require "smpp.text"
local receipt = require "smpp.receipt"
local http = require "smpp.http"

local M = {}

local LEASE = 30          -- seconds a posted item stays hidden (a post gives up after 10)
local POLL = 0.25         -- seconds between looks at an idle outbox (posts from Lua wake it sooner)

M.defaults = { retry_min = 1, retry_max = 60, concurrency = 4 }

local hooks = {}          -- system_id -> { url, retry_min, retry_max, concurrency, counters, token }
local generation = 0      -- a reload starts new deliverers; the old ones end

-- configure(accounts, limit): the accounts' webhook settings in force (the
-- configuration's `accounts` list; a reload calls it again); limit: the
-- store's outbox_per_account, the bound of each account's queue. Counters of
-- an account that keeps its webhook carry on.
function M.configure(list, limit)
    local old = hooks
    M.limit = limit
    hooks = {}
    generation = generation + 1
    for _, a in ipairs(list or {}) do
        local w = a.http and a.http.webhook
        if w then
            local h = old[a.system_id] or { delivered = 0, failed = 0, refused = 0, inflight = 0 }
            h.url = w.url
            for k, v in pairs(M.defaults) do h[k] = w[k] or v end
            h.generation = generation
            hooks[a.system_id] = h
        end
    end
end

-- has(system_id) -> true when the account takes its receipts and MO by HTTP.
function M.has(system_id) return hooks[system_id] ~= nil end

-- -- The JSON posted -------------------------------------------------------------------

-- body(account, item, pdu) -> the table posted for one outbox item:
-- { id, account, type = "mo" | "receipt", from, to, text, coding,
--   message_id, receipt = { id, stat, err, submit_date, done_date },
--   attempt, esm_class, data_coding, command }.
function M.body(account, item, pdu)
    local t, coding = text.of_pdu(pdu)
    local out = {
        id = string.format("%.0f", item.rowid), account = account, attempt = item.attempts or 1,
        command = pdu.command, from = pdu.source_addr or "", to = pdu.destination_addr or "",
        esm_class = pdu.esm_class or 0, data_coding = pdu.data_coding or 0, coding = coding,
        text = t, message_id = item.ref,
    }
    if receipt.is_receipt(pdu) then
        out.type = "receipt"
        local r = receipt.parse(t or "") or {}
        out.receipt = { id = pdu.receipted_message_id or r.id, stat = r.stat or receipt.stat_of(pdu.message_state),
                        err = r.err, submit_date = r.submit_date, done_date = r.done_date }
        out.text = nil                       -- the receipt's text is in `receipt`
    else
        out.type = "mo"
    end
    return out
end

-- -- Delivering ------------------------------------------------------------------------

local function backoff(h, attempts)
    local d = h.retry_min
    for _ = 2, attempts or 1 do
        d = d * 2
        if d >= h.retry_max then return h.retry_max end
    end
    return math.min(d, h.retry_max)
end

-- One item to the account's URL: removed on a 2xx, else offered again
-- after the backoff of its attempts.
local function post_one(st, account, h, item)
    local pdu = smpp.decode(item.pdu)
    if not pdu then
        smpp.log("error", "webhook of %s: outbox item %.0f is not a PDU: removed", account, item.rowid)
        st:outbox_ack(item.rowid)
        h.failed = h.failed + 1
        return
    end
    local status, err = http.post(h.url, M.body(account, item, pdu))
    if status and status >= 200 and status < 300 then
        st:outbox_ack(item.rowid)
        h.delivered = h.delivered + 1
    else
        local delay = backoff(h, item.attempts)
        st:outbox_retry(item.rowid, smpp.time() + delay)
        h.failed = h.failed + 1
        local now = smpp.clock()
        if not h.logged or now - h.logged >= 10 then
            h.logged = now
            smpp.log("warn", "webhook of %s: %s answered %s; item %.0f again in %g s (attempt %d)", account, h.url,
                tostring(status or err), item.rowid, delay, item.attempts or 1)
        end
    end
end

-- The deliverer of one account: takes what is due, up to `concurrency`
-- posts at once, and sleeps until woken or POLL. Ends when the process
-- stops or a reload replaced it.
local function deliverer(account, h, gen)
    while not core.stopping() and h.generation == gen and hooks[account] == h do
        local st = store.current()
        local room = h.concurrency - h.inflight
        local items = st and room > 0 and st:outbox_take(account, room, smpp.time(), LEASE) or {}
        for _, item in ipairs(items) do
            h.inflight = h.inflight + 1
            smpp.after(0, function(premature)
                -- at the stop the item is left leased: offered again after LEASE
                local ok, e = true, nil
                if not premature then ok, e = pcall(post_one, st, account, h, item) end
                h.inflight = h.inflight - 1
                if not ok then smpp.log("error", "webhook of %s: %s", account, tostring(e)) end
                if h.waiter then core.wake(h.waiter) end
            end)
        end
        if #items == 0 or h.inflight >= h.concurrency then
            local mine
            smpp.wait(function(tok) mine, h.waiter = tok, tok end, POLL)
            if h.waiter == mine then h.waiter = nil end      -- a reload's deliverer may wait now
        end
    end
end

-- start(): a deliverer for each configured account (serving starts, and
-- after a reload).
function M.start()
    for account, h in pairs(hooks) do
        local gen = h.generation
        smpp.after(0, function() deliverer(account, h, gen) end)
    end
end

-- posted(system_id, ok, err): what smpp.post did for the account: wakes
-- its deliverer, counts a refusal ("full").
function M.posted(system_id, ok)
    local h = hooks[system_id]
    if not h then return end
    if ok then
        if h.waiter then core.wake(h.waiter) end
    else
        h.refused = h.refused + 1
    end
end

-- stats() -> { [system_id] = { url, queue, limit, inflight, delivered,
-- failed, refused } } for /stats and /metrics: queue is the account's
-- outbox, bounded by store.limits.outbox_per_account (limit).
function M.stats()
    local out = {}
    local st = store.current()
    local lim = M.limit
    for account, h in pairs(hooks) do
        out[account] = { url = h.url, queue = st and st:outbox_count(account) or 0, limit = lim,
                         inflight = h.inflight, delivered = h.delivered, failed = h.failed, refused = h.refused }
    end
    return out
end

return M
