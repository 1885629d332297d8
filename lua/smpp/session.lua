-- smpp.session -- the session objects handlers receive, and the waits
-- (send, sleep, connect, wait) that suspend the running task until the
-- loop resumes it. Every function that waits must be called from a handler,
-- timer or event task (the runtime runs all script code in one); the C
-- side registers the wait and yields in one step.
local core = require "smpp.core"
local fifo = require "smpp.fifo"

local M = {}                -- the module (its functions follow the class)

local Session = {}
Session.__index = Session

-- What scripts hold is a view of a session (core/rt_sess.c): its fields
-- (id, side, state, system_id, bind_type, remote, local, closed,
-- close_reason, ctx) are the engine's and read-only; assigning one
-- raises. session.ctx is a table of the script's own: write there.
local FIELDS                -- core.session_key(), asked for on first use (loading calls nothing)
local function fields_key()
    FIELDS = core.session_key()
    return FIELDS
end
local View = { __metatable = false }
View.__index = function(v, k)
    local x = rawget(v, FIELDS or fields_key())[k]
    if x == nil then return Session[k] end
    return x
end
View.__newindex = function(_, k)
    error(string.format("session fields are read-only (assigning '%s'): keep your own values in session.ctx",
        tostring(k)), 2)
end
M.View = View

-- fields_of(v) -> the fields table behind a session view, or nil when v
-- is none (for the runtime: the sandbox walks and guards views with it).
function M.fields_of(v)
    if type(v) == "table" and debug.getmetatable(v) == View then return rawget(v, FIELDS or fields_key()) end
    return nil
end

-- What a send that was answered (or gave up waiting) returns as err: its
-- window slot is free again.
local settled = { timeout = true, closed = true, nack = true, ["bad response"] = true }

-- Tasks that may wait for one session's window slot at once (smpp.deliver
-- in a burst of receipts); past it wait_slot fails at once.
local MAX_SLOT_WAITERS = 10000

-- A misuse error of the C side ("smpp: send: ..."), as the script should
-- read it: without the position of our own line (the caller raises it
-- again at the script's), and in the script's words.
local function misuse(e)
    if type(e) ~= "string" then return nil end
    local msg = e:gsub("^[^\n]-:%d+: ", "", 1)
    if msg:sub(1, 12) ~= "smpp: send: " and msg:sub(1, 11) ~= "smpp.post: " then return nil end
    return (msg:gsub("use sess_respond for (%S+)$",
        "%1 is a response: a handler answers its request by returning, or with smpp.respond"))
end

-- session:send(pdu) -> response table | nil, err [, status]
-- err (smpp.E) is "timeout", "closed", "nack" (status: the generic_nack's),
-- "window full", "not allowed in this state", "output full", "bad
-- response"; a PDU the encoder refuses raises (the caller's mistake,
-- named at the caller's line). A PDU with no response (generic_nack,
-- alert_notification) returns true once queued.
function Session:send(pdu)
    if type(pdu) ~= "table" then error("smpp: send: the PDU must be a table, not " .. type(pdu), 2) end
    local ok, r1, r2, r3 = pcall(core.send, self, pdu)
    if not ok then error(misuse(r1) or r1, misuse(r1) and 2 or 0) end
    -- a window slot is free again: wake the first task waiting for it
    local w = self._slot_waiters
    if w and (type(r1) == "table" or settled[r2]) then
        repeat
            local tok = w:pop()
        until tok == nil or core.wake(tok)     -- a waiter that timed out is skipped
    end
    return r1, r2, r3
end

-- session:wait_slot(timeout) -> true | nil, "timeout" | nil, "full": wait
-- until one of this session's requests is answered (its window then has a
-- free slot); "full" at once when MAX_SLOT_WAITERS tasks already wait.
function Session:wait_slot(timeout)
    local w = self._slot_waiters
    if not w then
        w = fifo.new(MAX_SLOT_WAITERS)
        rawget(self, FIELDS or fields_key())._slot_waiters = w        -- the runtime's, beside the engine's fields
    end
    if w:full() then return nil, "full" end
    local _, err = M.wait(function(tok) w:push(tok) end, timeout)
    if err then return nil, err end
    return true
end

-- session:unbind() -> true | nil, err: graceful (outstanding work finishes first).
function Session:unbind() return core.unbind(self) end

-- session:close() -> true | nil, err: close after the pending output.
function Session:close() return core.close(self) end

-- session:stats() -> table of counters (nil once closed).
function Session:stats() return core.session_stats(self) end

-- session:log(level, fmt, ...) -> a log line naming this session.
function Session:log(level, fmt, ...)
    core.log(level, select("#", ...) > 0 and fmt:format(...) or fmt, self.id)
end

-- True when the session is bound and the SMSC side may deliver to it.
function Session:can_receive()
    return self.state == "BOUND_RX" or self.state == "BOUND_TRX"
end

-- True while the session is open (not closed).
function Session:is_open() return not self.closed end

M.Session = Session

-- stopping() -> true once the process is stopping (SIGTERM, SIGINT or a
-- shutdown): a loop that reconnects or waits for new work ends then.
function M.stopping() return core.stopping() end

-- The longest wait, in seconds (about 31.7 years; core/rt_timer.h): a
-- longer one waits this long.
M.MAX_WAIT = 1e9

-- ms(fn, seconds) -> the duration in ms: a number (or a numeric string),
-- finite and not negative, else an error naming fn at the caller's line.
local function ms(fn, seconds)
    local s = tonumber(seconds)
    if s == nil then
        error(string.format("%s: the duration must be a number of seconds, got %s", fn, type(seconds)), 3)
    end
    if s ~= s or s < 0 or s == math.huge then
        error(string.format("%s: the duration must be a finite number of seconds, 0 or more (got %s)", fn,
            tostring(s)), 3)
    end
    if s > M.MAX_WAIT then s = M.MAX_WAIT end
    return s * 1000
end

-- sleep(seconds): suspend the running task. 0 resumes it at the end of
-- this loop turn, after the loop has polled for I/O: other sessions are
-- served in between.
function M.sleep(seconds) core.sleep(ms("smpp.sleep", seconds)) end

-- after(seconds, fn) -> timer: run fn in a task of its own, once (0: at
-- the end of this loop turn, after its poll).
function M.after(seconds, fn) return core.after(ms("smpp.after", seconds), fn, false) end

-- every(seconds, fn) -> timer: run fn in a new task every period (at
-- least 1 ms), until cancelled, the stop, or a reload that works (the
-- script's start makes its timers again; core.timers_cancel_others).
function M.every(seconds, fn) return core.after(ms("smpp.every", seconds), fn, true) end

-- cancel(timer) -> true if it was still pending.
function M.cancel(timer) return core.cancel(timer) end

-- The vocabulary: bind types are transmitter, receiver, transceiver (as
-- session.bind_type and accounts' bind_types say); tx, rx and trx are
-- accepted on input. A session's side is "server" (we are the SMSC side
-- of it) or "client" (we are the ESME); "smsc" and "esme" are accepted on
-- input for them.
M.bind_types = { tx = "transmitter", rx = "receiver", trx = "transceiver",
                 transmitter = "transmitter", receiver = "receiver", transceiver = "transceiver" }
M.sides = { server = "server", client = "client", smsc = "server", esme = "client" }

local bind_commands = { tx = "bind_transmitter", rx = "bind_receiver", trx = "bind_transceiver",
                        transmitter = "bind_transmitter", receiver = "bind_receiver",
                        transceiver = "bind_transceiver" }

-- connect{host=, port=, system_id=, password=, system_type=, bind="trx",
-- session = {window=, response_timeout=, ...}, tls = {ca=, verify=, host=,
-- cert=, key=, min_version=}} -> bound session | nil, err
-- [, status | detail]. Connects as an ESME and binds; `session` overrides the
-- config's session options for this connection. With bind = false it
-- returns the session unbound. A connection that could not be made is
-- nil, smpp.E.CONNECT_REFUSED | RESOLVE | TIMEOUT | UNREACHABLE |
-- CONNECT_FAILED, and the prose third ("connection refused", "cannot
-- resolve host 'x': ..."); a refused bind nil, "bind refused", status.
-- With tls, core.connect returns once the handshake is over and the server
-- verified (bind = false too), within the session's response_timeout: a
-- tls file that did not load or a failed handshake is nil, smpp.E.TLS,
-- the reason.
local TLS_KEYS = { ca = true, host = true, verify = true, cert = true, key = true, min_version = true }
function M.connect(opts)
    local cmd = opts.bind ~= false and bind_commands[opts.bind or "transceiver"]
    if cmd == nil then                                 -- misuse: raised before any connection
        error("smpp.connect: bind must be transmitter, receiver or transceiver (or tx, rx, trx), got "
              .. tostring(opts.bind), 2)
    end
    local tls = opts.tls
    if tls ~= nil and tls ~= false then                -- misuse raises; never plaintext by surprise
        if type(tls) ~= "table" then
            error("smpp.connect: tls must be a table ({ca=, host=, verify=, cert=, key=}), got " .. tostring(tls), 2)
        end
        local t = {}
        for k, v in pairs(tls) do
            if not TLS_KEYS[k] then                    -- a misspelled ca would connect unverified
                error(("smpp.connect: tls.%s is not a key of tls (ca, host, verify, cert, key, min_version)"):format(
                    tostring(k)), 2)
            end
            t[k] = v
        end
        if t.verify == nil then t.verify = t.ca ~= nil end   -- as an upstream: a CA verifies chain and host
        tls = t
    else
        tls = nil
    end
    local sess, cerr, detail = core.connect(opts.host or "127.0.0.1", opts.port or 2775, "client", opts.session,
                                            tls)
    if not sess then return nil, cerr, detail end
    if opts.bind == false then return sess end
    local resp, berr, status = sess:send {
        command = cmd, system_id = opts.system_id or "", password = opts.password or "",
        system_type = opts.system_type or "", interface_version = 0x34,
    }
    if not resp then
        sess:close()
        -- after the handshake (the connect waited for it): the server refused us, e.g. our client certificate
        if tls and sess.close_reason == "TLS failure" then
            return nil, "tls", "TLS failure during the bind (the server refused the connection; see the log)"
        end
        return nil, berr, status
    end
    if resp.command_status ~= 0 then
        sess:close()
        return nil, "bind refused", resp.command_status
    end
    return sess
end

-- outbind{host=, port=, system_id=, password=} -> session | nil, err
-- [, detail] (the connect's tokens, as connect): the
-- SMSC side opens a connection to an ESME and sends outbind; the ESME's
-- bind_receiver then arrives through the bind handler like any bind.
function M.outbind(opts)
    local sess, cerr, detail = core.connect(opts.host or "127.0.0.1", assert(opts.port, "outbind needs a port"),
                                            "server")
    if not sess then return nil, cerr, detail end
    local sent, serr = sess:send { command = "outbind", system_id = opts.system_id or "",
                                   password = opts.password or "" }
    if not sent then
        sess:close()
        return nil, serr
    end
    return sess
end

-- sessions(filter) -> array of live sessions; filter fields (all optional):
-- system_id, side ("server"|"client"), can_receive (true), bound (true).
-- With system_id and side = "server" only the account's bound sessions
-- are looked at (the runtime indexes them), whatever the number of others.
function M.sessions(filter)
    if not filter then return core.sessions() end
    if filter.side ~= nil then
        local side = M.sides[filter.side]
        if not side then error("smpp.sessions: side must be server or client (or smsc, esme), got "
                               .. tostring(filter.side), 2) end
        if side ~= filter.side then
            local f = {}
            for k, v in pairs(filter) do f[k] = v end
            f.side, filter = side, f
        end
    end
    local all
    if filter.system_id and filter.side == "server" and (filter.bound or filter.can_receive) then
        all = core.bound_sessions(filter.system_id)
    else
        all = core.sessions()
    end
    local out = {}
    for _, s in ipairs(all) do
        if (filter.system_id == nil or s.system_id == filter.system_id)
            and (filter.side == nil or s.side == filter.side)
            and (not filter.can_receive or s:can_receive())
            and (not filter.bound or s.bind_type ~= nil) then
            out[#out + 1] = s
        end
    end
    return out
end

-- receivers(system_id) -> how many receivers and transceivers of the
-- account are bound to us now (not our own upstream binds).
M.receivers = core.receivers

-- account_known(system_id) -> whether the running configuration has an
-- account system_id (smpp.server's accounts; true outside a server, where
-- there is no account table to ask). A receiver of any other can never
-- bind, so what is delivered or queued for it would only wait and expire.
function M.account_known(system_id)
    local srv = package.loaded["smpp.server"]
    local accounts = srv and srv.active_accounts
    return accounts == nil or accounts[system_id] ~= nil
end

-- deliver(system_id, pdu [, wait]) -> response | nil, err [, status]:
-- send `pdu` (deliver_sm unless pdu.command says otherwise) to a bound
-- receiver or transceiver of system_id among the sessions that bound to us
-- (not our own upstream binds), taking turns between them, and wait for
-- its response: for a script that wants the ESME's answer. When every
-- receiver's window is full it waits for a slot, at most `wait` seconds
-- (default 5). err "no receiver" when none is bound (nothing is kept:
-- smpp.post keeps the PDU in the store until a receiver takes it); "no
-- account" when the configuration has no account system_id.
function M.deliver(system_id, pdu, wait)
    if not M.account_known(system_id) then return nil, "no account" end
    if not pdu.command and not pdu.command_id then pdu.command = "deliver_sm" end
    local deadline = core.clock() + (wait or 5)
    while true do
        local s, why, busy = core.receiver(system_id)
        if s then
            local resp, err, status = s:send(pdu)
            if err ~= "window full" then return resp, err, status end
        elseif why == "no receiver" then
            return nil, why
        else
            local left = deadline - core.clock()
            if left <= 0 then return nil, "window full" end
            -- every receiver is busy: wait for an answer on one
            local _, err = busy:wait_slot(left)
            if err == "full" then return nil, "window full" end
        end
    end
end

-- deliver_wait: deliver's name that says it waits (deliver stays, deprecated).
M.deliver_wait = M.deliver

-- post(system_id, pdu [, opts]) -> true | nil, "full" [, detail] | nil,
-- "no account" (the configuration has no such account) | nil, "io: ...": put `pdu` (deliver_sm unless pdu.command says data_sm) in
-- the account's outbox in the store and return at once. The runtime
-- delivers it to the account's receivers as their windows allow, keeps it
-- while none is bound (for the account, never for another), removes it
-- when the ESME answered, and tries again after a timeout or a lost link.
-- opts: ref = the message id it is about (the delivery goes into that
-- message's trace), ttl = seconds it may wait (default store.outbox_ttl),
-- delay = seconds before the first attempt.
function M.post(system_id, pdu, opts)
    if type(opts) == "function" then
        error("smpp.post takes options, not a callback: the outbox keeps the PDU until a receiver "
              .. "answers (smpp.deliver waits for the answer)", 2)
    end
    if type(system_id) ~= "string" then error("smpp.post: system_id must be a string", 2) end
    if type(pdu) ~= "table" then error("smpp.post: the PDU must be a table, not " .. type(pdu), 2) end
    if not M.account_known(system_id) then return nil, "no account" end
    if not pdu.command and not pdu.command_id then pdu.command = "deliver_sm" end
    local called, ok, err, detail = pcall(core.post, system_id, pdu, opts)
    if not called then error(misuse(ok) or ok, misuse(ok) and 2 or 0) end
    local hooks = package.loaded["smpp.webhook"]          -- an account served over HTTP: wake its deliverer
    if hooks then hooks.posted(system_id, ok, err) end
    return ok, err, detail
end

-- deliver_queue: post's name that says it queues (post stays, deprecated).
M.deliver_queue = M.post

-- respond([status [, fields]]) -> true: answer the request the running
-- handler serves now, as its return would (after the turn's commit), and
-- keep working; what the handler returns afterwards is not sent. Raises
-- outside a request's handler, a second time, or for values a handler
-- could not return.
M.respond = core.respond

-- log(level, fmt, ...): a log line ("error", "warn", "info", "debug").
function M.log(level, fmt, ...)
    core.log(level, select("#", ...) > 0 and fmt:format(...) or fmt)
end

-- wait(register [, timeout]) -> the values given to wake(token, ...), or
-- nil, "timeout". Suspends the running task; register(token) runs first so
-- the caller can put the token where a waker will find it (a queue of
-- waiters, a table of pending ids); a wake from register itself makes the
-- wait return its values at once. Queues and semaphores are built on it.
function M.wait(register, timeout)
    return core.suspend(register, timeout ~= nil and ms("smpp.wait", timeout) or nil)
end

-- wake(token, ...) -> true if a task was waiting on token (it resumes on
-- the next loop turn with those values).
M.wake = core.wake

M.stats = core.stats
M.now = core.clock          -- the loop clock in seconds (with fractions)
M.now_ms = core.now         -- deprecated: the loop clock in milliseconds (smpp.now before)
M.clock = core.clock        -- the loop clock in seconds (the same as now)
M.time = core.time          -- seconds since the epoch: the time stored rows carry

-- gauge(name, fn [, limit]): a level a script holds (receipts waiting,
-- messages stored), shown in /stats under "gauges" and in /metrics as
-- smppgw_script_gauge{name=}. fn() -> number is called when stats are
-- read; limit is the configured ceiling, shown beside it. Registering a
-- name again replaces the old one; at most scripts.max_gauges names of
-- scripts (every name /stats reads costs a call), each at most
-- GAUGE_NAME_MAX octets (a name is in every /stats and /metrics). The
-- runtime's own (own_gauge: the bind check's) are not counted: a script
-- of 1,000 gauges made the runtime's registration fail, naming it.
-- Gauges a script registers while it loads replace the running script's
-- only once the load has worked (script_gauges_begin/end, as its HTTP
-- routes): a gauge the new script no longer has is dropped at a reload.
M.gauges = {}
local GAUGE_NAME_MAX = 64
local gauge_count, max_gauges = 0, 1000
local staged_gauges         -- name -> gauge, while a script loads (script_gauges_begin), or nil
local staged_count = 0

-- set_max_gauges(n): scripts.max_gauges (smpp.server, as the
-- configuration loads).
function M.set_max_gauges(n) max_gauges = n end

local function finite(v) return type(v) == "number" and v == v and v > -math.huge and v < math.huge end

local function add_gauge(name, fn, limit, own)
    if type(name) ~= "string" or not name:match("^[%w_]+$") then
        error("smpp.gauge: the name must be letters, digits and _ only, got " .. tostring(name), 3)
    end
    if #name > GAUGE_NAME_MAX then
        error(string.format("smpp.gauge: the name is %d octets long, more than %d (%s...)", #name, GAUGE_NAME_MAX,
            name:sub(1, 20)), 3)
    end
    if type(fn) ~= "function" then error("smpp.gauge " .. name .. ": fn must be a function returning a number", 3) end
    if limit ~= nil and not finite(limit) then
        error("smpp.gauge " .. name .. ": the limit must be a finite number, got " .. tostring(limit), 3)
    end
    local g = { fn = fn, limit = limit, own = own }
    local live = M.gauges[name]
    if own then
        if live and not live.own then gauge_count = gauge_count - 1 end   -- the runtime's name now
        M.gauges[name] = g
        return
    end
    if live and live.own then error("smpp.gauge " .. name .. ": the name is one of the runtime's own gauges", 3) end
    local into = staged_gauges or M.gauges
    if not into[name] then
        local n = staged_gauges and staged_count or gauge_count
        if n >= max_gauges then
            error(string.format("smpp.gauge %s: there are %d gauges of scripts already, scripts.max_gauges", name, n), 3)
        end
        if staged_gauges then staged_count = staged_count + 1 else gauge_count = gauge_count + 1 end
    end
    into[name] = g
end

function M.gauge(name, fn, limit) add_gauge(name, fn, limit, false) end

-- own_gauge(name, fn [, limit]): a gauge of the runtime's own (not counted
-- in scripts.max_gauges, kept across reloads); not for scripts (smpp
-- hands out gauge only).
function M.own_gauge(name, fn, limit) add_gauge(name, fn, limit, true) end

-- script_gauges_begin(): gauges scripts register from now on are staged.
-- script_gauges_end(ok): ok, they are the scripts' gauges from now on
-- (the others are dropped); not ok, they are dropped. The runtime's
-- (smpp.server, around a script's load).
function M.script_gauges_begin() staged_gauges, staged_count = {}, 0 end

function M.script_gauges_end(ok)
    local new = staged_gauges
    staged_gauges = nil
    if not ok then return end
    for name, g in pairs(M.gauges) do
        if not g.own then M.gauges[name] = nil end
    end
    gauge_count = 0
    for name, g in pairs(new) do
        if not M.gauges[name] then             -- (a runtime's gauge of that name came meanwhile: it stays)
            M.gauges[name] = g
            gauge_count = gauge_count + 1
        end
    end
end

-- Reading them, inside /stats and /metrics: each gauge is a run of script
-- code of its own with a tenth of the budget (core.budget_call_ms), so a
-- gauge that loops fails alone; all of them together get half of the
-- budget, the ones left after it are not read. A gauge cannot wait (a C
-- call: smpp.sleep raises "cannot wait here"): /stats never waits for
-- one. A value that is not a finite number is that gauge's error.
local GAUGES_SHARE, GAUGE_SHARE = 2, 10
local reported = {}          -- name -> the error last logged for it

local function gauge_error(name, why)
    if reported[name] ~= why then
        reported[name] = why
        M.log("error", "%s: %s", name == "*" and "gauges" or "gauge " .. name, why)
    end
    return why
end

-- gauge_values() -> { name = { value =, limit = } }; a gauge that fails
-- (an error, a value that is NaN or infinite, a wait, past its time) shows
-- { error =, limit = } instead of breaking /stats, and is logged once
-- until it changes.
function M.gauge_values()
    local out = {}
    local budget, from = core.budget_ms()
    local total, each = budget / GAUGES_SHARE, budget / GAUGE_SHARE
    local unread
    for name, g in pairs(M.gauges) do
        local _, now = core.budget_ms()
        local left = total - (now - from)
        if left <= 0 then
            unread = unread or string.format("not read: the gauges read before it took the %.0f ms they may "
                .. "take together (half of scripts.budget_ms)", total)
            out[name] = { error = unread, limit = g.limit }
        else
            local ok, v = core.budget_call_ms("gauge " .. name, math.min(each, left), g.fn)
            local why
            if not ok then
                v = tostring(v)
                why = v:find("cannot wait here", 1, true) and "a gauge must not wait (smpp.sleep, smpp.wait, a "
                    .. "call that waits): " .. v or v
            else
                v = tonumber(v) or 0
                if not finite(v) then why = "returned " .. tostring(v) .. ", not a finite number" end
            end
            if why then
                out[name] = { error = gauge_error(name, why), limit = g.limit }
            else
                reported[name] = nil
                out[name] = { value = v, limit = g.limit }
            end
        end
    end
    if unread then gauge_error("*", unread) end     -- one line for them all
    return out
end

return M
