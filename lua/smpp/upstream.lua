-- smpp.upstream -- links to upstream SMSCs, kept bound (reconnect with
-- backoff and jitter), and sending through them within each link's window,
-- rate and throttle back-off. Each bind is also handed to the runtime's
-- forwarder (core.gw_attach), which sends the stored messages of the
-- link's queue through it and matches its receipts (core/rt_gw.h).
local smpp = require "smpp"
local core = require "smpp.core"
local config = require "smpp.config"
local address = require "smpp.address"
local ratelimit = require "smpp.ratelimit"

local S = smpp.status
local floor, max, min, random = math.floor, math.max, math.min, math.random

local M = {}

local links = {}        -- name -> Link
local by_session = {}   -- session id -> Link (our binds to upstreams)


local now = core.clock

-- A delay with +-25 % jitter, so that many links do not reconnect in step.
local function jitter(d) return d * (0.75 + random() * 0.5) end

local Link = {}
Link.__index = Link

-- -- Waiting for the link to be usable -------------------------------------------

-- Wake every task waiting for this link (a bind came up, a window slot was
-- freed, a pause ended, the link was removed); each re-checks what it needs.
function Link:wake_all()
    local waiters = self.waiters
    if #waiters == 0 then return end
    self.waiters = {}
    for _, tok in ipairs(waiters) do smpp.wake(tok) end
end

function Link:wait_for_change(seconds)
    smpp.wait(function(tok) self.waiters[#self.waiters + 1] = tok end, max(seconds, 0.001))
end

-- The next bound slot with room in its window, taking turns.
function Link:pick()
    local n = #self.slots
    for _ = 1, n do
        self.turn = self.turn % n + 1
        local sl = self.slots[self.turn]
        if sl.state == "up" and sl.inflight < self.conf.window then return sl end
    end
end

function Link:is_up()
    for _, sl in ipairs(self.slots) do if sl.state == "up" then return true end end
    return false
end

-- Requests sent and not yet answered, over all binds.
function Link:outstanding()
    local n = 0
    for _, sl in ipairs(self.slots) do n = n + (sl.inflight or 0) end
    return n
end

-- Answering: its requests have not gone unanswered max_timeouts times in
-- a row, or a trial may go to it now (one message at a time tries a link
-- that does not answer: core/rt_gw.h, rt_gw_link_answer) -> true | false,
-- the seconds until a trial may go.
function Link:answering() return core.gw_answering(self.name, self:outstanding()) end

-- Usable now: bound, not paused by a throttle answer, answering.
function Link:usable()
    return not self.removed and self:is_up() and now() >= self.paused_until and (self:answering())
end

-- -- Sending -----------------------------------------------------------------------

-- link:send(pdu [, {wait = seconds}]) -> response | nil, err [, status].
-- Waits (at most `wait` seconds, default the link's) for a bound session
-- with a free window slot, the rate limit and any throttle pause; answers
-- ESME_RTHROTTLED / ESME_RMSGQFUL pause the link for throttle_backoff and
-- the message is sent again (throttle_retries times). err "link down" or
-- "link busy" when the wait ran out before sending (the message was not
-- sent: safe to try elsewhere); "timeout", "closed", "nack" after sending.
function Link:send(pdu, opts)
    local c = self.conf
    local deadline
    local retries = 0
    while true do
        local slot
        while true do
            if self.removed then return nil, "link down" end
            local t = now()
            local pause = self.paused_until - t
            if pause <= 0 then
                local answering, trial = self:answering()
                if not answering then pause = trial end          -- unanswered: until a trial may go
            end
            if pause <= 0 then
                slot = self:pick()
                if slot then
                    if c.throughput <= 0 then break end
                    local ok, wait = self.bucket:take(1)
                    if ok then break end
                    slot, pause = nil, wait
                end
            end
            -- the wait starts the first time the link is not usable at once
            deadline = deadline or t + (opts and opts.wait or c.wait)
            local left = deadline - t
            if left <= 0 then
                self.stats.not_sent = self.stats.not_sent + 1
                return nil, self:is_up() and "link busy" or "link down"
            end
            self:wait_for_change(pause > 0 and min(pause, left) or left)
        end
        slot.inflight = slot.inflight + 1
        self.stats.sent = self.stats.sent + 1
        local sent = core.gw_stamp()
        local resp, err, status = slot.session:send(pdu)
        slot.inflight = slot.inflight - 1
        local rst = resp and resp.command_status or err == "nack" and status
        if rst == S.ESME_RSYSERR or rst == S.ESME_RINVBNDSTS then
            -- the link's fault: a run of them makes it unable to send, as timeouts do
            core.gw_answer(self.name, rst == S.ESME_RSYSERR and "ESME_RSYSERR" or "ESME_RINVBNDSTS", sent)
        elseif resp or err == "nack" or err == "bad response" then core.gw_answer(self.name, true, sent)
        elseif err == "timeout" then core.gw_answer(self.name, false, sent) end
        self:wake_all()
        local st = resp and resp.command_status
        if resp and (st == S.ESME_RTHROTTLED or st == S.ESME_RMSGQFUL) then
            self.stats.throttled = self.stats.throttled + 1
            self.paused_until = now() + c.throttle_backoff
            if retries >= c.throttle_retries then return resp end
            retries = retries + 1
            smpp.log("info", "upstream %s answered %s: pausing %.2f s, retry %d", self.name,
                smpp.status_name(st), c.throttle_backoff, retries)
        else
            if resp and st == 0 then self.stats.ok = self.stats.ok + 1
            elseif resp then self.stats.error = self.stats.error + 1
            else self.stats.failed = self.stats.failed + 1 end
            return resp, err, status
        end
    end
end

-- -- Keeping the binds up -------------------------------------------------------------

function Link:session_opts()
    local c = self.conf
    return { window = c.window, response_timeout = c.response_timeout,
             enquire_link_interval = c.enquire_link_interval,
             enquire_link_misses = c.enquire_link_misses, init_timeout = 0 }
end

-- Over for this link: removed from the configuration, or the process is
-- stopping (a link that bound again then would keep it from exiting).
function Link:over() return self.removed or core.stopping() end

-- One bind slot's life: connect, bind, wait for the session to go down,
-- back off, again, until the link is removed or the process stops.
function Link:maintain(i)
    local c = self.conf
    local delay = c.reconnect_min
    while not self:over() do
        local slot = self.slots[i]
        slot.state = "connecting"
        local tls
        if c.tls then
            tls = {}
            for k, v in pairs(c.tls) do tls[k] = v end
            if tls.verify == nil then tls.verify = tls.ca ~= nil end
        end
        local s, err, status = smpp.connect { host = c.host, port = c.port, system_id = c.system_id,
            password = c.password, system_type = c.system_type, bind = c.bind,
            session = self:session_opts(), tls = tls }
        if s and self:over() then
            s:unbind()
            return
        end
        local wait
        if s then
            slot.state, slot.session, slot.inflight = "up", s, 0
            by_session[s.id] = self
            core.gw_attach(self.name, s)                -- the forwarder sends through it
            core.session_group(s, self.name)            -- its traffic counted as the upstream's
            self.stats.binds = self.stats.binds + 1
            smpp.log("info", "upstream %s: bind %d up as %s (session %d)", self.name, i, s.bind_type, s.id)
            self:wake_all()
            local reason = smpp.wait(function(tok) slot.down_token = tok end)
            core.gw_detach(self.name, s)
            by_session[s.id] = nil
            slot.state, slot.session, slot.down_token = "down", nil, nil
            self.last_error = reason
            smpp.log("warn", "upstream %s: bind %d down (%s)", self.name, i, tostring(reason))
            self:wake_all()
            delay = c.reconnect_min
            wait = delay
        else
            self.last_error = status and (err .. ": " .. (smpp.status_name(status) or status)) or err
            -- a connection not made: the token, then the prose ("resolve: cannot resolve host ...")
            local why = type(status) == "string" and self.last_error or tostring(err)
            if err == "bind refused" then
                -- wrong credentials will not fix themselves quickly
                wait = max(delay, c.bind_refused_delay)
                smpp.log("error", "upstream %s: bind %d refused (%s); retrying in %.1f s", self.name, i,
                    smpp.status_name(status) or tostring(status), wait)
            else
                wait = delay
                smpp.log("warn", "upstream %s: bind %d failed (%s); retrying in %.1f s", self.name, i,
                    why, wait)
            end
            delay = min(delay * 2, c.reconnect_max)
        end
        if self:over() then return end
        slot.state = "backoff"
        self.stats.reconnects = self.stats.reconnects + 1
        smpp.sleep(jitter(wait))
    end
end

local outbind_links = {}   -- "host:port" we listen on -> Link

function Link:start()
    for i = 1, self.conf.binds do
        self.slots[i] = { state = "down", inflight = 0 }
        if not self.conf.outbind_listen then
            smpp.after(0, function() self:maintain(i) end)
        end
    end
    if self.conf.outbind_listen then
        -- the SMSC opens the connection and sends outbind (M.on_outbind)
        local host, port = address.parse(self.conf.outbind_listen)
        local bound, err = core.listen(host, port, "outbind")
        if not bound then
            self.last_error = err
            smpp.log("error", "upstream %s: %s", self.name, err)
            return
        end
        self.outbind_addr = address.format(host, bound)     -- as session.local names it
        outbind_links[self.outbind_addr] = self
        for _, sl in ipairs(self.slots) do sl.state = "awaiting outbind" end
    end
end

-- on_outbind(session, pdu): an SMSC connected to one of our outbind
-- addresses and sent outbind: bind_receiver with that link's credentials,
-- and the session serves the link until it closes.
function M.on_outbind(session, pdu)
    local link = outbind_links[session["local"]]
    local slot
    for _, sl in ipairs(link and link.slots or {}) do
        if sl.state ~= "up" then slot = sl break end
    end
    if not slot then
        smpp.log("warn", "outbind from %s (%s): no upstream link waits for it here", session.remote, pdu.system_id)
        session:close()
        return
    end
    local c = link.conf
    local resp, err = session:send { command = "bind_receiver", system_id = c.system_id,
        password = c.password, system_type = c.system_type, interface_version = 0x34 }
    if not resp or resp.command_status ~= 0 then
        link.last_error = resp and ("bind refused: " .. (smpp.status_name(resp.command_status) or "")) or err
        smpp.log("warn", "upstream %s: bind after outbind failed (%s)", link.name, tostring(link.last_error))
        session:close()
        return
    end
    slot.state, slot.session, slot.inflight = "up", session, 0
    by_session[session.id] = link
    core.gw_attach(link.name, session)
    core.session_group(session, link.name)
    link.stats.binds = link.stats.binds + 1
    smpp.log("info", "upstream %s: bind up after outbind from %s (session %d)", link.name, session.remote, session.id)
    link:wake_all()
    local reason = smpp.wait(function(tok) slot.down_token = tok end)
    core.gw_detach(link.name, session)
    by_session[session.id] = nil
    slot.state, slot.session, slot.down_token = "awaiting outbind", nil, nil
    smpp.log("warn", "upstream %s: outbind session down (%s)", link.name, tostring(reason))
end

-- Stop: unbind every session (in-flight requests finish first).
function Link:remove()
    self.removed = true
    if self.outbind_addr then
        core.unlisten(address.parse(self.outbind_addr))
        outbind_links[self.outbind_addr] = nil
    end
    for _, sl in ipairs(self.slots) do
        if sl.session then sl.session:unbind() end
    end
    self:wake_all()
end

function Link:state()
    local up = 0
    for _, sl in ipairs(self.slots) do if sl.state == "up" then up = up + 1 end end
    if up == #self.slots then return "up" end
    if up > 0 then return "partial" end
    return "down"
end

-- -- Module functions ---------------------------------------------------------------

local function new_link(name, conf)
    local self = setmetatable({ name = name, conf = conf, slots = {}, waiters = {}, turn = 0,
        paused_until = 0, removed = false,
        stats = { sent = 0, ok = 0, error = 0, failed = 0, throttled = 0, not_sent = 0,
                  binds = 0, reconnects = 0 } }, Link)
    self.bucket = ratelimit.bucket(conf.throughput, max(1, conf.throughput), now)
    -- the forwarder's view of the link (core/rt_gw.c): its pace, its
    -- answers to throttling, and the id formats its receipts are read in
    core.gw_link(name, { throughput = conf.throughput, throttle_backoff = conf.throttle_backoff,
                         throttle_retries = conf.throttle_retries, wait = conf.wait, max_queue = conf.max_queue,
                         max_timeouts = conf.max_timeouts, max_errors = conf.max_errors, id_format = conf.id_format,
                         receipts_for = conf.receipts_for })
    return self
end


local function same(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k, v in pairs(b) do if a[k] == nil then return false end end
    return true
end

-- Whether a link's settings changed (former_names joins receipt groups
-- only: changing it does not rebind).
local function same_link(a, b)
    local fa, fb = a.former_names, b.former_names
    a.former_names, b.former_names = nil, nil
    local r = same(a, b)
    a.former_names, b.former_names = fa, fb
    return r
end

-- Entries a reload removed (or renamed): their sent messages' receipts are
-- still due, under their names, and early receipts may be kept under them.
-- Each stays a member of the receipt group of its SMSC account (the group
-- rules, config.receipt_groups, over its last settings) for the process's
-- life, while a configured entry of that account is there; at most
-- MAX_FORMER names (the oldest go first), the gauge upstreams_former.
-- Across a restart, upstreams[].former_names names them.
M.MAX_FORMER = 256
local former, former_order = {}, {}     -- name -> its last conf; names, oldest first

local function forget_former(name)
    former[name] = nil
    for i, n in ipairs(former_order) do
        if n == name then table.remove(former_order, i) break end
    end
end

local function remember_former(name, conf)
    forget_former(name)
    former[name] = conf
    former_order[#former_order + 1] = name
    while #former_order > M.MAX_FORMER do
        local old = table.remove(former_order, 1)
        smpp.log("warn", "upstream %s: no longer a member of its receipt group (more than %d removed entries "
            .. "are kept): receipts still due for its messages wait as early and expire", old, M.MAX_FORMER)
        former[old] = nil
    end
end

-- The receipt groups, as names: the configured entries' (config.receipt_groups),
-- with the removed entries of their accounts, and the former_names of each
-- entry in its group (or in a group of its own with them).
local function groups_of(list)
    local ext, n, seen = {}, #list, {}
    for i, c in ipairs(list) do ext[i], seen[c.name] = c, true end
    for _, name in ipairs(former_order) do
        local c = former[name]
        ext[#ext + 1] = { name = name, host = c.host, port = c.port, system_id = c.system_id,
                          smsc_account = c.smsc_account, bind = c.bind, outbind_listen = c.outbind_listen }
    end
    local groups, of = {}, {}
    for _, g in ipairs(config.receipt_groups(ext)) do
        local names, live = {}, false
        for _, i in ipairs(g) do
            names[#names + 1] = ext[i].name
            live = live or i <= n
        end
        if live then
            groups[#groups + 1] = names
            for _, name in ipairs(names) do of[name] = names end
        end
    end
    for _, c in ipairs(list) do
        for _, f in ipairs(type(c.former_names) == "table" and c.former_names or {}) do
            local g = of[c.name]
            if not g then
                g = { c.name }
                groups[#groups + 1], of[c.name] = g, g
            end
            if not seen[f] and not of[f] then
                g[#g + 1], of[f] = f, g
            end
        end
    end
    return groups
end

function M.former_count() return #former_order end

-- Every upstream name a process has had (configured, removed, a former
-- name, a queue found in the store) keeps a record in C of about 600
-- bytes until a restart (core/rt_gw.c): freeing one safely needs to know
-- that no store callback, queued or in-flight message, event or receipt
-- under way refers to it, which nothing counts. So a reload that names new
-- ones may bring the records to the names it configures (entries and their
-- former_names) and NAMES_SPARE more, no further (room): renaming past that
-- needs a restart; a reload that names none is never refused for this.
-- The gauge upstream_names shows them beside that limit.
M.NAMES_SPARE = 1024

local function names_of(list)
    local out, seen = {}, {}
    local function add(n)
        if type(n) == "string" and not seen[n] then seen[n], out[#out + 1] = true, n end
    end
    for _, c in ipairs(list or {}) do
        add(c.name)
        for _, f in ipairs(type(c.former_names) == "table" and c.former_names or {}) do add(f) end
    end
    return out
end

-- names_limit(list) -> the most records a reload to `list` may leave.
function M.names_limit(list) return #names_of(list) + M.NAMES_SPARE end

-- room(list) -> true | nil, message naming `upstreams`: whether a reload to
-- the configuration's `upstreams` list stays within names_limit (the
-- reload is refused before anything changes: smpp.server).
function M.room(list)
    if not core.gw_links then return true end
    local names = names_of(list)
    local have, fresh = core.gw_links(names)
    local limit = #names + M.NAMES_SPARE
    if fresh == 0 or have + fresh <= limit then return true end      -- no new record, or room for them
    return nil, ("upstreams: %d name%s this process has not had would make %d upstream names since its start, "
        .. "past %d (the %d this configuration names and %d more: each keeps a record of about 600 bytes until a "
        .. "restart); restart the process to rename further, or keep the old names (docs/gateway.md)"):format(
        fresh, fresh == 1 and "" or "s", have + fresh, limit, #names, M.NAMES_SPARE)
end

-- configure(list): make the links match the config's `upstreams` (at start
-- and on reload): new ones connect, removed ones unbind, changed ones are
-- replaced (unbind, then bind with the new settings), the rest stay bound.
function M.configure(list)
    local seen = {}
    for _, c in ipairs(list or {}) do
        local conf = config.with_defaults("upstreams", c)
        seen[c.name] = true
        forget_former(c.name)                                   -- configured again
        local old = links[c.name]
        if not (old and same_link(old.conf, conf)) then
            if old then
                smpp.log("info", "upstream %s changed: rebinding", c.name)
                old:remove()
            end
            local l = new_link(c.name, conf)
            links[c.name] = l
            l:start()
        end
    end
    for name, l in pairs(links) do
        if not seen[name] then
            smpp.log("info", "upstream %s removed: unbinding", name)
            l:remove()
            links[name] = nil
            remember_former(name, l.conf)                       -- its messages' receipts are still due
            if core.gw_unlink then core.gw_unlink(name) end     -- its queue: gateway.lua moves it
        end
    end
    -- the entries of one SMSC account match each other's receipts
    if core.gw_groups then core.gw_groups(groups_of(list or {}), former_order) end
    if #(list or {}) > 0 or #former_order > 0 then                   -- a gateway's
        require("smpp.session").own_gauge("upstreams_former", M.former_count, M.MAX_FORMER)
    end
    if core.gw_links and (#(list or {}) > 0 or #former_order > 0) then
        require("smpp.session").own_gauge("upstream_names", function() return (core.gw_links()) end,
            max(M.names_limit(list), (core.gw_links())))     -- a smaller configuration keeps what there is
    end
end

-- get(name) -> link | nil (the gateway's own code: the live link)
function M.get(name) return links[name] end

-- link_of(session) -> the link a session of ours belongs to (nil for ESMEs).
function M.link_of(session) return by_session[session.id] end

-- What scripts get instead of the link (smpp.sandbox swaps get and
-- link_of for these, and hands the result out read-only): a description
-- made at the call, and send through the link. Never the link itself: a
-- script that set its slots or waiters, or called its maintain or remove,
-- would break it for every message the gateway sends through it. Its send
-- takes the requests about messages only: an unbind, bind, enquire_link
-- or a response (generic_nack ...) would act on the link's sessions, not
-- send a message, so it raises.
local SCRIPT_SENDS = {}                  -- name -> command_id (the codec's, through smpp.command)
for _, name in ipairs { "submit_sm", "data_sm", "query_sm", "cancel_sm", "replace_sm", "submit_multi" } do
    SCRIPT_SENDS[name] = smpp.command[name]
end

local function script_send(l, pdu, opts)
    local cmd = type(pdu) == "table" and rawget(pdu, "command")
    local cid = type(pdu) == "table" and rawget(pdu, "command_id")
    local ok = cmd and SCRIPT_SENDS[cmd] and (cid == nil or cid == SCRIPT_SENDS[cmd])
    if cmd == nil and cid ~= nil then
        for _, v in pairs(SCRIPT_SENDS) do ok = ok or v == cid end
    end
    if not ok then
        error(string.format("smpp.upstream: a link's send takes submit_sm, data_sm, query_sm, cancel_sm, "
            .. "replace_sm or submit_multi, not %s", tostring(cmd or cid)), 3)
    end
    return l:send(pdu, opts)
end

local function describe(l)
    if not l then return nil end
    local up = 0
    for _, sl in ipairs(l.slots) do if sl.state == "up" then up = up + 1 end end
    return { name = l.name, state = l:state(), binds = #l.slots, binds_up = up,
             outstanding = l:outstanding(), window = l.conf.window, paused = now() < l.paused_until,
             usable = l:usable() and true or false, removed = l.removed, last_error = l.last_error,
             send = function(_, pdu, opts) return script_send(l, pdu, opts) end }
end

-- script_get(name) -> a description of the link | nil (get, for scripts).
function M.script_get(name) return describe(links[name]) end

-- script_link_of(session) -> a description of its link | nil (link_of, for scripts).
function M.script_link_of(session) return describe(by_session[session.id]) end

-- on_down(session, reason): the runtime's down event, for our binds.
function M.on_down(session, reason)
    local l = by_session[session.id]
    if not l then return end
    for _, sl in ipairs(l.slots) do
        if sl.session == session and sl.down_token then smpp.wake(sl.down_token, reason) end
    end
end

-- stats() -> array of {name, state, binds_up, outstanding, sent, ok, ...}.
-- ok, error, failed and throttled count the link's sends whoever made
-- them: a script's link:send (message_id = "upstream") or the
-- store-and-forward forwarder in C (its answers_* and throttled).
function M.stats()
    local out = {}
    local fwd = core.gw_stats().links
    for name, l in pairs(links) do
        local st = { name = name, state = l:state(), outstanding = l:outstanding(),
                     paused = now() < l.paused_until, last_error = l.last_error }
        local up = 0
        for _, sl in ipairs(l.slots) do if sl.state == "up" then up = up + 1 end end
        st.binds_up, st.binds = up, #l.slots
        for k, v in pairs(l.stats) do st[k] = v end
        local f = fwd[name]
        if f then
            st.ok, st.error, st.failed = st.ok + f.answers_ok, st.error + f.answers_error, st.failed + f.answers_failed
            st.throttled = st.throttled + f.throttled
            -- its requests went unanswered max_timeouts times in a row
            -- (either id policy): unusable but for one trial at a time
            st.unanswered, st.unanswered_s, st.timeouts_in_row = f.unanswered, f.unanswered_s, f.timeouts_in_row
            st.errors_in_row, st.link_errors = f.errors_in_row, f.link_errors
        end
        out[#out + 1] = st
    end
    table.sort(out, function(a, b) return a.name < b.name end)
    return out
end

return M
