-- smpp.smsc -- the reference SMSC as a module with hooks: a test SMSC is
-- the shipped behaviour with the few functions it wants changed.
--
--   local smsc = require("smpp.smsc").new(...)     -- the script's conf
--   function smsc.on_submit(m)                     -- refuse what you like
--       if m.text:find("spam") then return "ESME_RINVDSTADR" end
--   end
--   return smsc.handlers
--
-- Hooks (each replaceable; the defaults follow conf.smsc): on_submit(m)
-- accepts (nil) or refuses (a status [, fields]); final_state(m) chooses
-- the final state, its error code and its delay; on_text(m) answers with
-- an MO (a text, or a deliver_sm table). m is the message as hooks see it
-- (see message()). docs/scripting.md, "The reference SMSC", has it all.
--
-- What is kept, and where: one store row per message (per destination of
-- a submit_multi), keyed by an integer the store hands out; the message id
-- is made from the store's node id and that key, so ids never repeat
-- across restarts nor between two stores. The row holds the final state
-- the message will reach (decided when it is accepted), the time it
-- reaches it (`done`), and, when something must happen then (a receipt,
-- or leaving the pending index), that time as `due`. Nothing per message
-- is kept in Lua: one scheduler takes due rows from the store in batches
-- and re-arms itself for the earliest due time; receipts and MO go to the
-- account's outbox (smpp.post), which keeps them until a receiver binds.
local core = require "smpp.core"
local smpp = require "smpp"
local checks = require "smpp.checks"
local mo = require "smpp.mo"
local msgid = require "smpp.msgid"
local msgid_make = msgid.make
local receipt = require "smpp.receipt"
local rules = require "smpp.smsc_rules"
local server = require "smpp.server"
local stime = require "smpp.time"
local store = require "smpp.store"
local text = require "smpp.text"

local S, ST = smpp.status, store.state
local find = string.find
local floor, max = math.floor, math.max
local ipairs, pairs, setmetatable, tonumber, tostring, type =
    ipairs, pairs, setmetatable, tonumber, tostring, type
local time = smpp.time
local store_wait = core.store_wait        -- nil outside smppgw run
local heap_reserve = core.heap_reserve
local gc_count = function() return collectgarbage("count") end
local respond = core.respond

local M = {}

-- A message whose final state comes at most this many seconds after its
-- submission is stored final at once (its state is read from its times)
-- and found by address by a walk over the last second's messages; a later
-- one waits in the store's pending index until the scheduler marks it.
local SHORT = 1
local BATCH = 100           -- due rows the scheduler reads at once (a run fits a small budget)
local TICK = 0.001          -- the scheduler's resolution: the loop's clock is in milliseconds
local RETRY_MAX = 60        -- seconds at most between two tries of a receipt the outbox refused
local POLL = 2              -- seconds between two looks at the store's earliest due time
local RESUME = 0.2          -- seconds before the scheduler goes on after a run stopped partway
local UNSUCCESS_MAX = 254    -- destinations a submit_multi_resp lists at most (SMPP 3.4, 4.5.2)
local SETTLE = 50           -- receipts posted between two ends of their leases (a shared store)

-- -- Options, random numbers, the message, the default hooks (smsc_rules.lua) --------

M.defaults, M.fields, M.random = rules.defaults, rules.fields, rules.random
local options, message = rules.options, rules.message
local rejecter, finisher, echoer = rules.rejecter, rules.finisher, rules.echoer

-- -- Helpers ------------------------------------------------------------------------------

-- A hook's answer to on_submit: nil, true or ESME_ROK accept.
local function refused(status)
    return not (status == nil or status == true or status == 0 or status == "ESME_ROK")
end

local function status_number(status)
    if type(status) == "string" then return S[status] or S.ESME_RSYSERR end
    return status
end

-- Errors that stop the whole run (core/rt_budget.c): never caught here.
local function run_stopped(e)
    return type(e) == "string" and (find(e, "script budget exceeded", 1, true)
        or find(e, "script memory ceiling exceeded", 1, true) or find(e, "script stopped:", 1, true)) ~= nil
end

-- The store's refusal of a write, as an SMPP status.
local function write_status(err, what)
    if err == "full" then return S.ESME_RMSGQFUL end
    if err == "unavailable" then                  -- the store cannot be reached now: try again later
        smpp.log("warn", "smsc: %s not stored: the store is unavailable", what)
        return S.ESME_RMSGQFUL
    end
    smpp.log("warn", "smsc: %s not stored: %s", what, tostring(err))
    return S.ESME_RSYSERR
end

-- A read the store could not answer (Redis unreachable: "unavailable";
-- at a bound: "full"), as an SMPP status: try again later.
local function read_status(err, what)
    if err == "full" or err == "unavailable" then return S.ESME_RMSGQFUL end
    smpp.log("warn", "smsc: %s: the store failed: %s", what, tostring(err))
    return S.ESME_RSYSERR
end

-- Where a script's hook is defined ("final_state (t.lua:7)"), for the
-- errors about what it returned.
local function hook_name(name, f)
    local info = type(f) == "function" and debug.getinfo(f, "S")
    if not info or info.what == "C" then return name end
    return string.format("%s (%s:%d)", name, info.short_src, info.linedefined)
end

-- A script's on_submit answer, checked: nil, true, 0 or "ESME_ROK"
-- accept; a refusal is a status (an integer 1..0xFFFFFFFF or a name
-- smpp.status knows) and optionally a table of response fields. Anything
-- else raises naming the hook (answered ESME_RSYSERR and logged, as the
-- other hooks' bad values are): a table as the status was taken for a
-- refusal whose status the runtime then read as the response fields, an
-- ESME_ROK with nothing stored. -> refused
local function hook_submit(hook, status, fields)
    if not refused(status) then return false end
    local t = type(status)
    if not ((t == "number" and status % 1 == 0 and status >= 1 and status <= 0xFFFFFFFF)
            or (t == "string" and S[status] ~= nil)) then
        error(string.format("%s: %s is not a status (nil accepts; a refusal is a status number or name)",
                            hook_name("on_submit", hook), t == "string" and "\"" .. status .. "\""
                            or (t == "number" and tostring(status) or "a " .. t)), 0)
    end
    if fields ~= nil and type(fields) ~= "table" then
        error(string.format("%s: its second value is a %s, not a table of response fields",
                            hook_name("on_submit", hook), type(fields)), 0)
    end
    return true
end

-- message_state of a hook's stat word or number (final states only).
local FINAL = { [2] = 2, [3] = 3, [4] = 4, [5] = 5, [6] = 6, [7] = 7, [8] = 8,
                DELIVRD = 2, EXPIRED = 3, DELETED = 4, UNDELIV = 5, ACCEPTD = 6, UNKNOWN = 7, REJECTD = 8 }
local function final_state_of(stat, hook)
    local n = FINAL[stat] or (type(stat) == "string" and FINAL[stat:upper()])
    if not n then
        error(hook_name("final_state", hook) .. ": " .. tostring(stat)
              .. " is not a final state (DELIVRD, UNDELIV, EXPIRED, ...)", 0)
    end
    return n
end

-- A script's final_state hook: its three values checked (the defaults'
-- come from checked options) -> state, err, delay; raises naming the hook.
local function hook_final(hook, m)
    local stat, err, delay = hook(m)
    local state = final_state_of(stat, hook)
    if err ~= nil and (type(err) ~= "number" or err % 1 ~= 0 or err < 0 or err > 65535) then
        error(string.format("%s: err %s is not an integer 0..65535 (the network error code)",
                            hook_name("final_state", hook), type(err) == "string" and "\"" .. err .. "\"" or tostring(err)), 0)
    end
    if delay ~= nil and (type(delay) ~= "number" or not (delay >= 0)) then
        error(string.format("%s: delay %s is not a number of seconds, 0 or more", hook_name("final_state", hook),
                            type(delay) == "string" and "\"" .. delay .. "\"" or tostring(delay)), 0)
    end
    return state, err, delay
end

-- Does registered_delivery ask for a receipt of this final state?
local function wants(rd, state)
    local r = (rd or 0) % 4
    return r == 1 or (r == 2 and state ~= ST.DELIVERED) or (r == 3 and state == ST.DELIVERED)
end

-- Not final yet, as the ESME sees it (the state is fixed from `done` on).
-- A cancelled message is final at once, whatever the clock of the node
-- that asks (nodes sharing a store read the time each on its own).
local function pending(row, now)
    return row.done > now and row.state ~= ST.DELETED
end

-- The PDU kept for a receipt: the request itself, or for one destination
-- of a submit_multi a submit_sm to that destination.
local function content(pdu, dest, ton, npi)
    if pdu.command ~= "submit_multi" then return smpp.encode(pdu) end
    return smpp.encode {
        command = "submit_sm", service_type = pdu.service_type, source_addr_ton = pdu.source_addr_ton,
        source_addr_npi = pdu.source_addr_npi, source_addr = pdu.source_addr, dest_addr_ton = ton,
        dest_addr_npi = npi, destination_addr = dest, esm_class = pdu.esm_class,
        data_coding = pdu.data_coding, short_message = pdu.short_message, message_payload = pdu.message_payload,
    }
end

-- -- The SMSC -------------------------------------------------------------------------------

local Smsc = {}
Smsc.__index = Smsc

-- id_of(key) -> the message id of the message whose part 0 has that key
-- (smpp.msgid: the store reads it back too, its rows name the format).
function Smsc:id_of(key)
    return msgid_make(self.opt.message_id, self._node or self:node(), key)
end

-- node() -> the store's node id | nil, err. Kept here for a store of the
-- process's own; a store shared in Redis may make a new one (it lost its
-- data), so it is asked each time (it keeps it a second itself).
function Smsc:node()
    local st = store.current()
    local node, err = store.node_id()
    if node and not (st and st.shared) then self._node = node end
    return node, err
end

-- key_of(id) -> the key an id of this SMSC names, or nil (nil, err: the
-- store's node id could not be read).
function Smsc:key_of(id)
    if type(id) ~= "string" then return nil end
    local node, key = msgid.read(id, self.opt.message_id)
    local mine, err = self._node, nil
    if not mine then
        mine, err = self:node()
        if not mine then return nil, err end
    end
    if node ~= mine or not key or key < 1 then return nil end
    return key
end

-- Post a receipt to the account's outbox (kept until a receiver binds,
-- receipt_queue_ttl at most). -> true | nil, err, detail (the caller's to
-- handle: see receipt_later). MO: post_reply.
function Smsc:post(account, pdu)
    return smpp.post(account, pdu, { ttl = self.opt.receipt_queue_ttl })
end

-- A receipt the outbox refused (full): the message is due again, after
-- 1, 2, 4 ... 60 s (its attempts count them), so the receipt waits in the
-- messages table instead of being lost. A row taken with a lease (a
-- shared store) is marked final here too, and when even this update
-- fails (Redis unreachable) its lease brings it back when it ends.
function Smsc:receipt_later(row, err, detail, leased)
    local attempts = (row.attempts or 0) + 1
    self._deferred = self._deferred + 1
    self._congested[row.account] = true
    local delay = math.min(RETRY_MAX, 2 ^ (attempts - 1))
    local at = time() + delay
    local changes = { due = at, attempts = attempts }
    if leased and not row.final then changes.final = true end
    local n, uerr = store.update(row.key, changes)
    if n then
        smpp.log("warn", "smsc: the receipt of a message of %s waits: %s; again in %g s", row.account,
                 tostring(detail or err), delay)
    elseif leased then
        at = row.due
        smpp.log("warn", "smsc: the receipt of a message of %s waits: %s; again when its lease ends (%s)",
                 row.account, tostring(detail or err), tostring(uerr))
    else
        smpp.log("error", "smsc: the receipt of a message of %s waits: %s, and its retry is not stored: %s",
                 row.account, tostring(detail or err), tostring(uerr))
    end
    self:arm(at)
end

-- Push-back: a submit asking for a receipt (any final state) is refused
-- while its account's receipts pile up faster than its receivers take
-- them: max_backlog or more in its outbox, or one refused by the full
-- outbox and not yet posted. -> the status to answer, or nil.
function Smsc:backlogged(account, rd)
    if (rd or 0) % 4 == 0 then return nil end
    local st = store.current()
    if self._congested[account] then
        self._pushed_back = self._pushed_back + 1
        return S.ESME_RMSGQFUL
    end
    if not st then return nil end
    local n, err = st:outbox_count(account)
    if not n then return read_status(err, "the outbox of " .. account .. " not counted") end
    if n >= self.opt.max_backlog then
        self._pushed_back = self._pushed_back + 1
        return S.ESME_RMSGQFUL
    end
end

-- The receipt of a stored row (its own, or a row's fields as they are now).
function Smsc:receipt_of(row)
    local p = row.pdu and smpp.decode(row.pdu) or {}
    local utf8 = row.pdu and text.of_pdu(p, server.alphabet(row.account)) or ""
    return receipt.pdu {
        id = row.id or self:id_of(row.key - row.part), source = row.source, dest = row.dest,
        source_ton = p.source_addr_ton, source_npi = p.source_addr_npi,
        dest_ton = p.dest_addr_ton, dest_npi = p.dest_addr_npi,
        state = row.state, err = row.err, submitted = row.submitted, done = row.done, text = utf8,
    }
end

-- The scheduler: arm(t) makes it run at t at the latest. One SMSC of the
-- process schedules (M.active: the last one started, after a reload the
-- new one); the others hand their times to it.
function Smsc:arm(t)
    local active = M.active
    if not active then
        M.active = self
    elseif active ~= self then
        return active:arm(t)
    end
    local at = self._armed_at
    if at and at <= t then return end
    if self._timer then smpp.cancel(self._timer) end
    self._armed_at = t
    -- at least a millisecond: a timer of 0 started from a timer would run
    -- in the same turn of the loop, before its clock moves
    self._timer = smpp.after(max(TICK, t - time()), self._run)
end

-- One due row: a late message leaves the pending index; a receipt goes
-- out when one was asked for (never for a cancelled message). -> true when
-- it is done with (a leased row: its lease is to be ended), false when
-- its receipt waits (receipt_later).
function Smsc:due(row, leased)
    if not row.final and not leased then
        local n, err = store.update(row.key, { final = true })
        if not n then smpp.log("warn", "smsc: a message not marked final: %s", tostring(err)) end
    end
    if row.state ~= ST.DELETED and wants(row.registered_delivery, row.state) then
        local ok, err, detail = self:post(row.account, self:receipt_of(row))
        if not ok then
            self:receipt_later(row, err, detail, leased)
            return false
        end
        if self._congested[row.account] then self._congested[row.account] = nil end
    end
    return true
end

-- A due row whose handling raised (its receipt could not be made or
-- posted: a row no code path expects). The others of its batch go on; this
-- one is logged once with its id, counted (smsc_receipts_failed), and
-- left final with the state it has, so query_sm still answers for it: its
-- due is cleared (cleared) or its lease ends (settle), so it is not taken
-- again every turn. -> true: a leased row's lease is to be ended.
function Smsc:due_failed(row, err, leased)
    if run_stopped(err) then error(err, 0) end    -- the run is over: a lease brings its rows back
    self._failed = self._failed + 1
    local ok, id = pcall(self.id_of, self, (row.key or 0) - (row.part or 0))
    smpp.log("error", "smsc: the receipt of message %s of %s is not sent: %s; the message stays %s "
        .. "with no receipt (smsc_receipts_failed)", ok and tostring(id) or "key " .. tostring(row.key),
        tostring(row.account), tostring(err), tostring(receipt.stat_of(row.state) or row.state))
    if not row.final and not leased then
        local n, uerr = store.update(row.key, { final = true })
        if not n then smpp.log("warn", "smsc: a message not marked final: %s", tostring(uerr)) end
    end
    return true
end

-- The end of the leases of rows whose receipts are out (a shared store).
local function settle(st, done)
    if #done == 0 then return end
    local n, err = st:due_done(done, true)
    if not n then
        smpp.log("warn", "smsc: %d receipts out, their messages not marked (%s): they go again when "
            .. "their leases end", #done, tostring(err))
    end
    for i = #done, 1, -1 do done[i] = nil end
end

-- A row of a store of the process's own (SQLite) whose receipt is in the
-- outbox (or that is done with): its due is cleared now, by its key, in
-- the same turn as the post.
local CLEAR = { due = false }
local function cleared(row)
    local n, err = store.update(row.key, CLEAR)
    if not n then
        smpp.log("warn", "smsc: a message's due not cleared (its receipt may go again): %s", tostring(err))
    end
end

-- The scheduler's run. On a store of its own (SQLite) it reads the due
-- rows, posts each receipt and clears that row's due (cleared), one row at
-- a time in the same transaction: a run stopped partway (the budget, the
-- heap's ceiling) leaves the rows it did not reach due, and at most the
-- one it was in sends its receipt twice. On a store shared with other processes (Redis: st.due_done)
-- there is no such transaction: it leases them (due moves to the lease's
-- end, store.lease), posts the receipts, then ends the leases; a process
-- that dies in between leaves the rows due again when their leases end,
-- taken by any node (at least once: a receipt may go twice, none is lost).
local function run(s)
    s._timer, s._armed_at = nil, nil
    local now = time()
    if M.active ~= s then return M.active:arm(now) end   -- a reload made another SMSC the scheduler
    local st = store.current()
    local leased = st and st.due_done and st or nil
    local rows, err
    -- failed commits (a full disk) lost what earlier runs took: those rows
    -- are due again at once, and taking them every turn spun on the
    -- failing commits; wait as the runtime says (core/rt_store.h)
    local wait = not leased and store_wait and store_wait() or 0
    if wait > 0 then return s:arm(now + wait) end
    -- a run stopped partway (the budget, the heap's ceiling) arms nothing
    -- at its end: this timer starts the next one (cancelled at the end)
    s:arm(now + RESUME)
    -- read, not taken: a row's due is cleared only after its receipt is
    -- in the outbox (cleared()), so a run stopped partway (the budget, the
    -- heap's ceiling) leaves every row it did not reach due
    rows, err = store.due(now + TICK, BATCH, nil, leased and (st.lease or 60) or nil)
    if not rows then
        smpp.log("error", "smsc: due messages not read: %s", tostring(err))
        return s:arm(now + 1)
    end
    local done = {}
    for i = 1, #rows do
        -- one row that raises must not take the rest of its batch with it
        local row = rows[i]
        local ok, out = pcall(s.due, s, row, leased)
        if not ok then out = s:due_failed(row, out, leased) end
        if leased then
            if out then
                done[#done + 1] = row
                if #done >= SETTLE then settle(leased, done) end
            end
        elseif out then
            cleared(row)
        end
    end
    if leased then settle(leased, done) end
    if s._timer then smpp.cancel(s._timer) end
    s._timer, s._armed_at = nil, nil
    if #rows == BATCH then return s:arm(now) end
    local next_at = store.next_due()
    if next_at then s:arm(next_at) end
end

-- The row put for each message: one table, filled again for each (its
-- fields are read by store.put at once; nothing keeps it). Absent values
-- are false, not nil: a key set to nil leaves the table, and putting it
-- back each time costs LuaJIT a rebuild of the table. A message with none
-- of the optional values (the usual one) goes through a putter of LEAN's
-- columns instead.
local scratch = {}
local LEAN = { "account", "source", "dest", "submitted", "state", "done", "final", "id_format" }

-- Each SMSC's putter of LEAN's columns and the store it was made on. Not
-- fields of the SMSC: scripts hold that object (smsc.new's result), and
-- the store here is the runtime's own, not the guard scripts get from
-- store.current() (a script closed it through such a field, and on Redis
-- ran any command).
local lean_of = setmetatable({}, { __mode = "k" })     -- SMSC -> { putter, store }

-- accept_one(session, pdu, dest, ton, npi, part, now, head, answer) -> id,
-- key | nil, status [, fields]: one message (one destination of a
-- submit_multi, whose part 0 has the key head): on_submit, final_state,
-- the store row (its receipt due: the scheduler posts it), with answer
-- the request answered ESME_ROK at once (smpp.respond; the put and the
-- answer in the heap's reserve), then on_text and its MO. A hook raises
-- only before the row is stored (on_text's failures are logged: reply_of).
-- The final state comes at the hook's delay, not before
-- schedule_delivery_time, EXPIRED if validity_period ends first.
function Smsc:accept_one(session, pdu, dest, ton, npi, part, now, head, answer)
    local source, m = pdu.source_addr or "", nil
    local status, fields, stat, err, delay
    if self.on_submit == self._on_submit then status = self._reject(dest, source)
    else
        m = message(session, pdu, dest, ton, npi, part)
        status, fields = self.on_submit(m)
        if hook_submit(self.on_submit, status, fields) then return nil, status, fields end
    end
    if refused(status) then return nil, status, fields end
    local state
    if self.final_state == self._final_state then
        stat, err, delay = self._final(dest, source)
        state = final_state_of(stat)
    else
        m = m or message(session, pdu, dest, ton, npi, part)
        state, err, delay = hook_final(self.final_state, m)
    end
    err = err or 0
    local at = now + (delay or self.opt.receipt_delay)
    local sched, valid = pdu.schedule_delivery_time, pdu.validity_period
    if sched and sched ~= "" then
        local t = stime.parse(sched, now)
        if not t then return nil, S.ESME_RINVSCHED end
        if t > at then at = t end
    end
    local expires = now + self.opt.default_validity
    if valid and valid ~= "" then
        expires = stime.parse(valid, now)
        if not expires then return nil, S.ESME_RINVEXPIRY end
    end
    if expires < at then at, state, err = max(now, expires), ST.EXPIRED, 0 end
    local short = at - now <= SHORT
    local rd = pdu.registered_delivery or 0
    local wanted = wants(rd, state)
    local service_type = pdu.service_type
    local st, key, got, reserved = store.current(), nil, nil, nil
    -- a run that may be stopped after the put: a budget small enough for
    -- the runtime's own steps to pass it, the heap near its ceiling, a
    -- script's on_text still to run, or a store that cannot withdraw the
    -- row (Redis: each put is a round trip anyway) (answer, heap_reserve:
    -- below). Otherwise the row is put to be withdrawn (put's last
    -- argument) if the request is answered with an error: a run stopped
    -- in the few steps between the put and the answer is answered
    -- ESME_RSYSERR, and the runtime then removes the row it put
    local guard = answer and (self._tight or self.on_text ~= self._on_text or st.shared
                              or gc_count() > self._heap_near)
    -- on a shared store (Redis) every receipt goes through the scheduler's
    -- lease, so that a process dying before its post leaves it due
    -- a receipt always goes through the scheduler (due), which clears the
    -- due only with the receipt posted: a run stopped after the put posts
    -- no receipt itself and loses none
    local due = (not short or wanted) and at
    if part or rd ~= 0 or err ~= 0 or due or (service_type and service_type ~= "") then
        local row = scratch
        row.account, row.source, row.dest, row.submitted = session.system_id, source, dest, now
        row.state, row.done, row.final, row.part = state, at, short, part or false
        row.service_type = service_type ~= "" and service_type
        row.err = err ~= 0 and err
        row.registered_delivery = rd ~= 0 and rd
        row.pdu = wanted and content(pdu, dest, ton, npi)
        row.due = due
        row.id_format = self._id_code
        if guard then reserved = heap_reserve(true) end
        key, got = st:put(row, true)
    else                                          -- the usual message: no table to read
        local lean = lean_of[self]
        if not lean or lean[2] ~= st then
            lean = { st:putter(LEAN), st }
            lean_of[self] = lean
        end
        -- key, id (the SQLite store makes the id: one call) | key | nil, err
        if guard then reserved = heap_reserve(true) end
        key, got = lean[1](session.system_id, source, dest, now, state, at, short, self._id_code, true)
    end
    if not key then
        if reserved ~= nil then heap_reserve(reserved) end
        return nil, write_status(got, "message")
    end
    local id = not head and got or self:id_of(head or key)
    -- stored: a submit_sm or data_sm (answer) is answered ESME_ROK now, so
    -- that a run stopped from here on (the budget, the heap's ceiling) does
    -- not answer ESME_RSYSERR for a stored message that gets its receipt
    if guard then respond(S.ESME_ROK, { message_id = id }) end
    if due then self:arm(at) end
    if reserved ~= nil then heap_reserve(reserved) end
    -- the message is accepted from here on: on_text's failures are logged
    -- and cost its MO only (reply_of, post_reply)
    local reply, hook
    if self.on_text == self._on_text then reply, hook = self._echo(session, pdu, dest, ton, npi), "echo"
    else
        m = m or message(session, pdu, dest, ton, npi, part)
        m.id, m.key = id, key
        reply, hook = self:reply_of(m)
    end
    if reply then self:post_reply(session, reply, id, hook) end
    return id, key
end

local function traced(e)
    if run_stopped(e) then return e end
    return debug.traceback(tostring(e), 2)
end

-- reply_of(m) -> the MO a script's on_text answers m with (a PDU table),
-- or nil, and the hook (for post_reply's log). The message is accepted
-- when it runs: a hook that raises or returns what is not a reply is
-- logged (naming it) and m gets no MO; the submit is answered as usual.
function Smsc:reply_of(m)
    local f = self.on_text
    local ok, reply = xpcall(f, traced, m)
    if not ok then
        if run_stopped(reply) then error(reply, 0) end
        m.session:log("error", "smsc: %s failed for message %s (accepted; no MO sent): %s", hook_name("on_text", f),
                      m.id, tostring(reply))
        return nil
    end
    if reply == nil or reply == false then return nil end
    if type(reply) == "string" then
        local pdu = m.pdu
        local p, why = mo.pdu { source = m.dest, source_ton = m.dest_ton, source_npi = m.dest_npi, dest = m.source,
                                dest_ton = pdu.source_addr_ton, dest_npi = pdu.source_addr_npi,
                                text = reply, alphabet = server.alphabet(m.session.system_id) }
        if not p then
            m.session:log("warn", "smsc: the reply of %s to %s cannot be sent: %s", hook_name("on_text", f), m.id, why)
        end
        return p, f
    end
    if type(reply) ~= "table" then
        m.session:log("error", "smsc: %s returned a %s for message %s (accepted; no MO sent): it returns nil, a text "
                      .. "or a deliver_sm table", hook_name("on_text", f), type(reply), m.id)
        return nil
    end
    return reply, f
end

-- post_reply(session, pdu, id, hook): on_text's MO (hook: the script's
-- function), or the echo (hook: "echo"), to the outbox of the session's
-- account. A table smpp.post refuses, or a full outbox, is logged naming
-- the hook; the message it answers stays accepted.
function Smsc:post_reply(session, pdu, id, hook)
    local ok, posted, err, detail = pcall(smpp.post, session.system_id, pdu, { ttl = self.opt.receipt_queue_ttl })
    if ok and posted then return end
    local name = hook == "echo" and "echo" or hook_name("on_text", hook)
    if not ok then
        if run_stopped(posted) then error(posted, 0) end
        session:log("error", "smsc: the MO reply of %s to %s cannot be sent: %s", name, id,
                    (tostring(posted):gsub("^[^\n]-:%d+: ", "", 1)))
    else
        session:log("warn", "smsc: the MO reply of %s to %s not queued: %s", name, id, tostring(detail or err))
    end
end

-- The pending messages of m's account from its source to its dest (and
-- service_type, when it has one), newest first: those in the pending
-- index, and the short ones of the last second. -> rows | nil, err (the
-- store could not answer)
function Smsc:pending_like(m, now)
    local q = { account = m.account, source = m.source, dest = m.dest,
                service_type = m.service_type ~= "" and m.service_type or nil, limit = 10000 }
    local out = {}
    local rows, err = store.find(q)
    if not rows then return nil, err end
    for _, row in ipairs(rows) do
        if pending(row, now) then out[#out + 1] = row end
    end
    q.since = now - SHORT
    rows, err = store.recent(q)
    if not rows then return nil, err end
    for _, row in ipairs(rows) do
        if row.final and pending(row, now) then out[#out + 1] = row end
    end
    table.sort(out, function(a, b) return a.key > b.key end)
    return out
end

-- The message an id and (optionally) a source name, of this account.
-- -> row | nil (none) | nil, err (the store could not answer)
function Smsc:lookup(session, id, source)
    local key, err = self:key_of(id)
    if not key then return nil, err end
    local row
    row, err = store.get(key)
    if not row then return nil, err end
    if row.part ~= 0 or row.account ~= session.system_id then return nil end
    if source and source ~= "" and row.source ~= source then return nil end
    return row
end

-- -> true | nil, err
function Smsc:cancel(row, now)
    local n, err = store.update(row.key, { state = ST.DELETED, err = 0, done = now, final = true })
    if not n then return nil, err end
    return true
end

-- -- Handlers -----------------------------------------------------------------------------

-- A submit in which a TLV that SMPP 3.4 defines came more than once (a
-- second message_payload: which copy is the message?) is refused before
-- anything is stored. -> the status, or nil.
local function repeated(session, pdu)
    local name = smpp.repeated_tlv(pdu)
    if not name then return nil end
    session:log("info", "%s refused: TLV %s given more than once (ESME_RINVOPTPARSTREAM)", pdu.command, name)
    return S.ESME_RINVOPTPARSTREAM
end

local function accept(s, session, pdu)
    local bad = repeated(session, pdu)
    if bad then return bad end
    local now = time()
    local invalid = checks.message(pdu, now)          -- SMPP 3.4's checks of its values
    if invalid then return invalid end
    local dest, ton, npi = pdu.destination_addr or "", pdu.dest_addr_ton or 0, pdu.dest_addr_npi or 0
    if pdu.replace_if_present_flag == 1 then
        local m = message(session, pdu, dest, ton, npi)
        local status, fields = s.on_submit(m)
        if hook_submit(s.on_submit, status, fields) then return status, fields end
        local like, lerr = s:pending_like(m, now)
        if not like then return read_status(lerr, "replace_if_present") end
        local old = like[1]
        if old then
            local rd = pdu.registered_delivery or 0
            local changes = { registered_delivery = rd }
            if wants(rd, old.state) then
                changes.pdu = content(pdu, dest, ton, npi)
                changes.due = old.done
                s:arm(old.done)
            end
            local n, err = store.update(old.key, changes)
            if not n then return write_status(err, "replacement") end
            return S.ESME_ROK, { message_id = s:id_of(old.key - old.part) }
        end
    end
    local backlog = s:backlogged(session.system_id, pdu.registered_delivery)
    if backlog then return backlog end
    local id, status, fields = s:accept_one(session, pdu, dest, ton, npi, nil, now, nil, true)
    if not id then return status, fields end
    return S.ESME_ROK, { message_id = id }
end

local function handlers(s)
    local h = {}
    local opt = s.opt

    function h.submit_sm(session, pdu) return accept(s, session, pdu) end
    h.data_sm = h.submit_sm

    -- submit_multi: one message_id; destinations refused (by on_submit,
    -- an unknown distribution list, a full store) are listed in
    -- unsuccess_sme. Each destination is a row, the rows' keys consecutive.
    function h.submit_multi(session, pdu)
        local bad = repeated(session, pdu)
        if bad then return bad, { message_id = "" } end
        local now = time()
        local invalid = checks.message(pdu, now)
        if invalid then return invalid, { message_id = "" } end
        local backlog = s:backlogged(session.system_id, pdu.registered_delivery)
        if backlog then return backlog, { message_id = "" } end
        local failed, head, n = {}, nil, 0
        local function fail(ton, npi, dest, status)
            failed[#failed + 1] = { dest_addr_ton = ton, dest_addr_npi = npi, destination_addr = dest,
                                    error_status_code = status_number(status) }
        end
        local function one(ton, npi, dest)
            invalid = checks.dest(ton, dest)
            if invalid then return fail(ton, npi, dest or "", invalid) end
            -- a hook that fails for one destination refuses that one only
            -- (ESME_RSYSERR): it raised before anything of it was stored
            local ok, id, key_or_status = xpcall(s.accept_one, traced, s, session, pdu, dest, ton, npi, n, now, head)
            if not ok then
                if run_stopped(id) then error(id, 0) end
                session:log("error", "submit_multi: destination %s refused (ESME_RSYSERR): %s", tostring(dest), tostring(id))
                return fail(ton, npi, dest, S.ESME_RSYSERR)
            end
            if not id then return fail(ton, npi, dest, key_or_status) end
            head = head or key_or_status
            n = n + 1
        end
        for _, d in ipairs(pdu.dest_address) do
            if d.dest_flag == 2 then
                local list = opt.distribution_lists[d.dl_name]
                if not list then fail(0, 0, d.dl_name, S.ESME_RINVDLNAME)
                else for _, addr in ipairs(list) do one(1, 1, addr) end end
            else
                one(d.dest_addr_ton, d.dest_addr_npi, d.destination_addr)
            end
        end
        if #failed > UNSUCCESS_MAX then
            -- the answer cannot list every refused destination: the whole
            -- submit_multi is refused, and what was stored is withdrawn
            -- (removed: the ESME never had its message_id; no receipt)
            session:log("warn", "submit_multi refused (ESME_RSUBMITFAIL): %d destinations refused, more than "
                .. "the %d unsuccess_sme holds; the %d stored are withdrawn", #failed, UNSUCCESS_MAX, n)
            if n > 0 then
                local parts, perr = store.parts(head)
                if not parts then return read_status(perr, "submit_multi withdrawn") end
                for _, part in ipairs(parts) do
                    local ok, rerr = store.remove(part.key)
                    if not ok then return write_status(rerr, "withdrawal") end
                end
            end
            return S.ESME_RSUBMITFAIL, { message_id = "" }
        end
        if n == 0 then return S.ESME_RSUBMITFAIL, { message_id = "", unsuccess_sme = failed } end
        return S.ESME_ROK, { message_id = s:id_of(head), unsuccess_sme = failed }
    end

    function h.query_sm(session, pdu)
        local row, err = s:lookup(session, pdu.message_id, pdu.source_addr)
        if not row then return err and read_status(err, "query_sm") or S.ESME_RQUERYFAIL end
        local now = time()
        if pending(row, now) then
            return S.ESME_ROK, { message_id = pdu.message_id, final_date = "", message_state = ST.ENROUTE, error_code = 0 }
        end
        return S.ESME_ROK, { message_id = pdu.message_id, final_date = stime.format_absolute(floor(row.done)),
                             message_state = row.state, error_code = (row.err or 0) % 256 }
    end

    -- cancel_sm: one message by id (every destination of a submit_multi),
    -- or (empty id) every pending message of the account from source_addr
    -- to destination_addr (of service_type, when given). A message final
    -- already cannot be cancelled; a cancelled one gets no receipt.
    function h.cancel_sm(session, pdu)
        local now = time()
        if pdu.message_id ~= "" then
            local row, err = s:lookup(session, pdu.message_id, pdu.source_addr)
            if not row and err then return read_status(err, "cancel_sm") end
            if not row or not pending(row, now) then return S.ESME_RCANCELFAIL end
            local parts, perr = store.parts(row.key)
            if not parts then return read_status(perr, "cancel_sm") end
            for _, part in ipairs(parts) do
                if pending(part, now) then
                    local ok, cerr = s:cancel(part, now)
                    if not ok then return write_status(cerr, "cancellation") end
                end
            end
            return S.ESME_ROK
        end
        local m = { account = session.system_id, source = pdu.source_addr or "", dest = pdu.destination_addr or "",
                    service_type = pdu.service_type or "" }
        local rows, err = s:pending_like(m, now)
        if not rows then return read_status(err, "cancel_sm") end
        for _, row in ipairs(rows) do
            local ok, cerr = s:cancel(row, now)
            if not ok then return write_status(cerr, "cancellation") end
        end
        return #rows > 0 and S.ESME_ROK or S.ESME_RCANCELFAIL
    end

    -- replace_sm: new text and registered_delivery while not final; a new
    -- schedule_delivery_time or validity_period moves the final state.
    function h.replace_sm(session, pdu)
        local now = time()
        local row, lerr = s:lookup(session, pdu.message_id, pdu.source_addr)
        if not row and lerr then return read_status(lerr, "replace_sm") end
        if not row or not pending(row, now) then return S.ESME_RREPLACEFAIL end
        local p = row.pdu and smpp.decode(row.pdu) or {
            command = "submit_sm", source_addr_ton = pdu.source_addr_ton, source_addr_npi = pdu.source_addr_npi,
            source_addr = row.source, destination_addr = row.dest, data_coding = 0 }
        p.short_message, p.message_payload = pdu.short_message, nil
        p.esm_class = (p.esm_class or 0) % 64 + floor((p.esm_class or 0) / 128) * 128   -- no UDH now
        local at, state, err = row.done, row.state, row.err or 0
        if pdu.schedule_delivery_time ~= "" then
            local t = stime.parse(pdu.schedule_delivery_time, now)
            if not t then return S.ESME_RINVSCHED end
            at = max(now, t)
        end
        if pdu.validity_period ~= "" then
            local t = stime.parse(pdu.validity_period, now)
            if not t then return S.ESME_RINVEXPIRY end
            if t < at then at, state, err = max(now, t), ST.EXPIRED, 0 end
        end
        local rd = pdu.registered_delivery or 0
        local wanted = wants(rd, state)
        local short = at - row.submitted <= SHORT
        local changes = { registered_delivery = rd, done = at, state = state, err = err, final = short,
                          pdu = smpp.encode(p) }
        if not short or (wanted and (at > now or store.current().due_done ~= nil)) then changes.due = at end
        local n, werr = store.update(row.key, changes)
        if not n then return write_status(werr, "replacement") end
        if changes.due then s:arm(at)
        elseif wanted then                        -- final at once: its receipt now, as the scheduler would
            for k, v in pairs(changes) do row[k] = v end
            -- the replacement is stored: a receipt that raises is that row's, not the answer's
            local ok, err = pcall(s.due, s, row)
            if not ok then s:due_failed(row, err) end
        end
        return S.ESME_ROK
    end

    -- MO through HTTP (POST /send, and GET /inject): {to, text, from,
    -- system_id, coding} becomes a deliver_sm in the outbox of the account
    -- (default: the first account of the config), while a receiver of it
    -- is bound. An account the configuration does not have is 404 (as
    -- POST /send answers it before calling here).
    function h.http_send(input)
        local d, status, why = require("smpp.http").check_message(input)
        if not d then return status, { error = why } end
        local accounts = s.conf.accounts
        local account = d.system_id or (accounts and accounts[1] and accounts[1].system_id)
        if account == nil then return 404, { error = "no account to send as: the configuration has none" } end
        if not require("smpp.session").account_known(account) then
            return 404, { error = "no account named " .. account }
        end
        local p, err = mo.pdu { source = d.from or "447700900123", dest = d.to, text = d.text, coding = d.coding,
                                alphabet = server.alphabet(account) }
        if not p then return 422, { error = err } end
        if smpp.receivers(account) == 0 and not require("smpp.webhook").has(account) then
            return 409, { error = "no receiver bound for " .. account }
        end
        -- the input is checked, but what the codec still refuses is the
        -- request's fault, never a 500
        local called, ok, perr, detail = pcall(smpp.post, account, p, { ttl = opt.receipt_queue_ttl })
        if not called then
            if run_stopped(ok) then error(ok, 0) end
            return 400, { error = "MO not queued: " .. tostring(ok):gsub("^[^\n]-:%d+: ", "", 1) }
        end
        if not ok then return 503, { error = "MO not queued: " .. tostring(detail or perr) } end
        return 202, { queued = true, system_id = account }
    end

    -- The scheduler starts from the store's due times (a restart goes on
    -- where the last run stopped); with conf.smsc.mo, an MO every `every`
    -- seconds (smpp.deliver: sent only while a receiver is bound).
    function h.start()
        M.active = s
        local st = store.current()
        if st then
            -- (a store in Redis: the levels it read last, never a wait)
            local function level() local l = st.levels and st:levels() or st:stats() return l and l.messages end
            smpp.gauge("smsc_stored_messages", function() local l = level() return l and l.value or 0 end,
                       (level() or {}).limit)
            -- counters since start: receipts the full outbox refused (each
            -- waits with its message and is tried again), and submits
            -- refused by the push-back (max_backlog)
            smpp.gauge("smsc_receipts_deferred", function() return s._deferred end)
            smpp.gauge("smsc_backlog_refusals", function() return s._pushed_back end, opt.max_backlog)
            -- due rows whose receipt raised (logged each with its id): final, no receipt
            smpp.gauge("smsc_receipts_failed", function() return s._failed end)
            local next_at = store.next_due()
            if next_at then s:arm(next_at) end
            -- a store shared with other processes (Redis) gets due rows
            -- that this one did not put: look for the earliest now and then
            smpp.every(POLL, function()
                local t = store.next_due()
                if t then s:arm(t) end
            end)
        end
        local every = opt.mo
        if every then
            smpp.every(every.every or 10, function()
                local resp, err = smpp.deliver(every.system_id or "smppclient1", {
                    source_addr = every.from or "447700900123", destination_addr = every.to or "1234",
                    short_message = every.text or "MO message",
                })
                if not resp then smpp.log("debug", "MO not delivered: %s", err) end
            end)
        end
    end
    return h
end

-- new(conf [, conf_path]) -> the SMSC: its options (conf.smsc), hooks
-- (on_submit, final_state, on_text: replace any of them), random() (seeded
-- by smsc.seed, else once per process), params (smsc.params), and the
-- handlers table the script returns. Call it while the script loads; it
-- touches neither the store nor the network until the handlers run.
function M.new(conf, conf_path)
    conf = conf or {}
    local opt = options(conf.smsc)
    if opt.max_messages then
        smpp.log("warn", "smsc.max_messages is no longer used: the store keeps the messages "
            .. "(store.limits.messages, default 1000000)")
    end
    local seed = opt.seed or tonumber(core.random_hex(6), 16)
    -- logged, so a run whose random rules went a certain way can be repeated
    smpp.log("info", "smsc: random rules seeded with %.17g%s", seed,
             opt.seed and " (smsc.seed)" or " from the system's random source (set smsc.seed to repeat this run)")
    local s = setmetatable({ conf = conf, conf_path = conf_path, opt = opt, params = opt.params,
                             random = M.random(seed), seed = seed, _id_code = msgid.code[opt.message_id],
                             _congested = {}, _deferred = 0, _pushed_back = 0, _failed = 0 }, Smsc)
    -- the heap (KiB) past which a submit is answered as soon as it is
    -- stored (accept_one): three quarters of scripts.memory_mb
    local mb = type(conf.scripts) == "table" and tonumber(conf.scripts.memory_mb) or 1024
    s._heap_near = mb > 0 and mb * 768 or math.huge
    -- a budget of 100 ms or less: a run of the runtime's own steps after
    -- the put (the echo, the return) can pass it (a coarse clock tick, a
    -- collector's step, a slow build), so submits are answered at the put
    local ms = type(conf.scripts) == "table" and tonumber(conf.scripts.budget_ms) or 1000
    s._tight = ms <= 100
    s._run = function() return run(s) end
    s._reject, s._final, s._echo = rejecter(s), finisher(s), echoer(s)
    s._on_submit = function(m) return s._reject(m.dest, m.source) end
    s._final_state = function(m) return s._final(m.dest, m.source) end
    s._on_text = function(m) return s._echo(m.session, m.pdu, m.dest, m.dest_ton, m.dest_npi, m) end
    s.on_submit, s.final_state, s.on_text = s._on_submit, s._final_state, s._on_text
    s.handlers = handlers(s)
    -- a script's own HTTP route: GET /inject?to=...&text=... (an MO, like /send)
    require("smpp.http").route("GET", "/inject", function(req) return s.handlers.http_send(req.query) end)
    return s
end

return M
