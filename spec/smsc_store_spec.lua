-- smsc_store_spec -- the reference SMSC on the store: killed (SIGKILL) under
-- load and stopped (SIGTERM), then started again on the same store file,
-- counting on both sides (every ESME_ROK gets its receipt once a receiver
-- binds, no id twice, query_sm and cancel_sm for messages from before);
-- two stores issue different ids; expiry and validity on a clock the spec
-- moves (SMPPGW_TIME_OFFSET); a full store answers ESME_RMSGQFUL.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local run = require "helpers.run"
local socket = require "socket"

local id, RESP = wire.id, wire.RESP
local ROK, RMSGQFUL, RQUERYFAIL, RCANCELFAIL, RSYSERR = 0, 0x14, 0x67, 0x11, 0x08
local IN_60_S = "000000000100000R"      -- schedule_delivery_time / validity_period, relative

-- The reference SMSC on a store file beside its config; receipts 0.3 s
-- after the submit; a leased outbox item comes back after 1 s.
local function conf(over)
    return server.smsc_conf(server.merge({
        smsc = { receipt_delay = 0.3, echo = "off" },
        store = { path = "smsc.db", lease = 1 },
        session = { receive_window = 1000 },
    }, over))
end

-- Start again on the store of a server that has ended.
local function restart(old, env)
    return server.start { conf_file = old.dir .. "/conf.lua", env = env }
end

local function bound(srv, kind)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind(kind or "transceiver").status)
    return c
end

-- Receipts that come while a helper waits for another answer are answered
-- and kept (client -> id -> count) for receipts(): a restarted SMSC may
-- deliver before the spec starts reading them, and an unanswered one
-- would hold a window slot for the whole response_timeout.
local seen = setmetatable({}, { __mode = "k" })
local function keep_receipt(c, p)
    if p.id ~= id.deliver_sm then return false end
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local rid = wire.parse_sm(p.body).tlvs[0x001E]:sub(1, -2)
    local t = seen[c] or {}
    seen[c], t[rid] = t, (t[rid] or 0) + 1
    return true
end

local function submit(c, f)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p)
        return not keep_receipt(c, p) and p.seq == seq and p.id == RESP + id.submit_sm
    end))
    return r.status, wire.first_cstr(r.body)
end

local function query(c, mid)
    local seq = c:next_seq()
    c:send(wire.pdu(id.query_sm, seq, wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")))
    local r = assert(c:expect(function(p) return not keep_receipt(c, p) and p.seq == seq end))
    return r.status, r.status == ROK and wire.parse_query_resp(r.body) or nil
end

local function cancel(c, mid)
    local seq = c:next_seq()
    c:send(wire.pdu(id.cancel_sm, seq, wire.cstr("") .. wire.cstr(mid) .. "\0\0" .. wire.cstr("1234")
        .. "\1\1" .. wire.cstr("447700900123")))
    return assert(c:expect(function(p) return not keep_receipt(c, p) and p.seq == seq end)).status
end

-- Receipts on c until every id in `want` has one (or timeout): id -> count.
local function receipts(c, want, timeout)
    local got, missing = {}, 0
    for rid, n in pairs(seen[c] or {}) do got[rid] = n end
    for rid in pairs(want) do if not got[rid] then missing = missing + 1 end end
    local deadline = wire.gettime() + timeout
    while missing > 0 do
        local p = c:read_by(deadline)
        if not p then break end
        if p.id == id.deliver_sm then
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local rid = wire.parse_sm(p.body).tlvs[0x001E]:sub(1, -2)
            got[rid] = (got[rid] or 0) + 1
            if want[rid] and got[rid] == 1 then missing = missing - 1 end
        end
    end
    return got
end

-- Submits in rounds of `per` (one write each, then their answers): id ->
-- true of those answered ESME_ROK, and how many were answered at all.
-- With kill: right after round kill_at is written, kill() runs and the
-- answers that still come are read (the rest are never answered).
local function flood(c, rounds, per, f, kill_at, kill)
    local ok, answered = {}, 0
    for round = 1, rounds do
        local batch = {}
        for i = 1, per do batch[i] = wire.submit_sm(c:next_seq(), f) end
        if not pcall(c.send, c, table.concat(batch)) then break end
        if round == kill_at then kill() end
        local got = 0
        while got < per do
            local p = c:read(5)
            if not p then return ok, answered end          -- closed: the rest is never answered
            if p.id == RESP + id.submit_sm then
                got, answered = got + 1, answered + 1
                if p.status == ROK then ok[wire.first_cstr(p.body)] = true end
            else
                keep_receipt(c, p)
            end
        end
    end
    return ok, answered
end

local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
end

describe("#integration reference SMSC on the store", function()
    it("killed with SIGKILL under load: every ESME_ROK gets its receipt, no id twice, query_sm and "
        .. "cancel_sm go on", function()
        local srv = server.start { conf = conf() }
        local tx = bound(srv, "transmitter")              -- no receiver: receipts are held
        -- pending for a minute: cancelled after the restart
        local _, later = submit(tx, { registered_delivery = 1, schedule_delivery_time = IN_60_S })
        local _, failing = submit(tx, { registered_delivery = 1, destination_addr = "99912345" })
        local before, answered = flood(tx, 20, 50, { registered_delivery = 1 }, 10, function() srv:kill() end)
        assert.is_true(answered >= 450 and answered < 1000)       -- killed with round 10 in flight
        assert.is_true(count(before) >= 450)
        before[failing] = true

        local again = restart(srv)
        local c = bound(again, "transceiver")
        -- the message from before the crash that is still pending can be cancelled
        assert.equal(ROK, cancel(c, later))
        assert.equal(RCANCELFAIL, cancel(c, later))
        local status, q = query(c, later)
        assert.same({ ROK, 4 }, { status, q.message_state })          -- DELETED
        -- ids after the restart were never handed out before it
        local after = flood(c, 4, 50, {})
        assert.equal(200, count(after))
        for mid in pairs(after) do assert.is_nil(before[mid], "id " .. mid .. " issued twice") end
        -- every receipt asked for before the crash arrives (at least once)
        local got = receipts(c, before, 20)
        local missing = {}
        for mid in pairs(before) do if not got[mid] then missing[#missing + 1] = mid end end
        assert.same({}, missing)
        assert.is_nil(got[later])                          -- cancelled: no receipt
        -- query_sm answers for messages accepted before the crash
        status, q = query(c, failing)
        assert.same({ ROK, 5, 1 }, { status, q.message_state, q.error_code })  -- UNDELIVERABLE, err 1
        local delivered = next(before)
        if delivered == failing then delivered = next(before, failing) end
        status, q = query(c, delivered)
        assert.same({ ROK, 2 }, { status, q.message_state })                 -- DELIVERED
        c:close()
    end)

    it("stopped with SIGTERM: held receipts and pending messages go on after the restart", function()
        local srv = server.start { conf = conf { smsc = { receipt_delay = 0.5 } } }
        local tx = bound(srv, "transmitter")
        local before = flood(tx, 1, 50, { registered_delivery = 1 })
        assert.equal(50, count(before))
        tx:close()
        assert.is_true(srv:stop("TERM", 10))
        assert.equal(0, srv:wait_exit(10))
        local again = restart(srv)
        local c = bound(again, "receiver")
        local got = receipts(c, before, 10)
        for mid in pairs(before) do assert.is_not_nil(got[mid], "receipt of " .. mid) end
        local q = bound(again, "transmitter")
        local status, r = query(q, next(before))
        assert.same({ ROK, 2 }, { status, r.message_state })
        local _, mid = submit(q, {})
        assert.is_nil(before[mid])
    end)

    it("starts on a store it cannot write to (a file size limit), refuses messages, and keeps their receipts",
       function()
        local srv = server.start { conf = conf() }
        local tx = bound(srv, "transmitter")
        local before = flood(tx, 1, 50, { registered_delivery = 1 })
        assert.equal(50, count(before))
        tx:close()
        srv:kill()                        -- its log and the log's index stay, to be read at the next start
        -- again, where no file may grow past the store's log (the log's
        -- index, 32 KiB, is made again at the start): every commit, which
        -- appends to the log, fails as on a full disk. Opening writes
        -- nothing, so it serves; a message is refused (ESME_RSYSERR for
        -- a file size limit, ESME_RMSGQFUL for a full disk: docs/scripting.md)
        local f = assert(io.open(srv.dir .. "/smsc.db-wal", "rb"))
        local wal = f:seek("end")
        f:close()
        assert.is_true(wal > 32768, "the log holds " .. wal .. " octets")
        local again = server.start { conf_file = srv.dir .. "/conf.lua", fsize = wal }
        local c = bound(again, "transmitter")
        local status = submit(c, {})
        assert.is_true(status == RMSGQFUL or status == RSYSERR, "answered " .. status)
        c:close()
        assert.is_true(again:stop("TERM", 10))
        -- with room again, every receipt comes
        local last = restart(srv)
        local rx = bound(last, "receiver")
        local got = receipts(rx, before, 10)
        for mid in pairs(before) do assert.is_not_nil(got[mid], "receipt of " .. mid) end
    end)

    it("goes on with the rest of a batch of due receipts when one row raises, and takes that row once", function()
        -- one row whose receipt raises (a script's receipt_of here; a row
        -- no code path expects, in life) among 30 due at the same moment,
        -- so one take holds them all: the run stopped at it, and the rows
        -- after it, their due cleared by the take, never had their receipts
        local script = [[
local smsc = require("smpp.smsc").new(...)
local receipt_of = smsc.receipt_of
function smsc:receipt_of(row)
    if row.dest == "447700900666" then error("a row no code path expects") end
    return receipt_of(self, row)
end
return smsc.handlers
]]
        local srv = server.start { conf = conf { script = "script.lua" }, script = script }
        local c = bound(srv)
        local at = require("smpp.time").format_absolute(math.floor(socket.gettime()) + 2)
        local want, bad = {}, nil
        for i = 1, 30 do
            local dest = i == 1 and "447700900666" or string.format("4477009%05d", i)
            local st, mid = submit(c, { registered_delivery = 1, destination_addr = dest, schedule_delivery_time = at })
            assert.equal(ROK, st)
            if i == 1 then bad = mid else want[mid] = true end
        end
        local got = receipts(c, want, 10)
        for mid in pairs(want) do assert.is_not_nil(got[mid], "receipt of " .. mid) end
        assert.is_nil(got[bad])
        -- logged once with its id, counted, and final for query_sm
        assert(srv:wait_log("the receipt of message " .. bad .. " of smppclient1 is not sent: .*a row no code "
            .. "path expects; the message stays DELIVRD with no receipt", 5), srv:log_text())
        assert.equal(1, srv:gauge("smsc_receipts_failed"))
        local st, q = query(c, bad)
        assert.equal(ROK, st)
        assert.equal(2, q.message_state)                           -- DELIVERED
        -- a later run of the scheduler does not take it again
        local _, later = submit(c, { registered_delivery = 1 })
        got = receipts(c, { [later] = true }, 5)
        assert.is_not_nil(got[later])
        assert.equal(1, srv:count_log("is not sent: "), srv:log_text())
        -- replace_sm making a message final at once posts its receipt there:
        -- one that raises fails that receipt, not the stored replacement
        local _, pending = submit(c, { registered_delivery = 1, destination_addr = "447700900666",
                                       schedule_delivery_time = IN_60_S })
        local seq = c:next_seq()
        c:send(wire.pdu(id.replace_sm, seq, wire.cstr(pending) .. "\0\0" .. wire.cstr("1234")
            .. "\0" .. wire.cstr("000000000000000R") .. "\1\0" .. wire.u8(3) .. "new"))
        local r = assert(c:expect(function(p) return not keep_receipt(c, p) and p.seq == seq end))
        assert.equal(ROK, r.status, srv:log_text())
        assert.equal(2, srv:gauge("smsc_receipts_failed"))
        st, q = query(c, pending)
        assert.equal(3, q.message_state)                           -- EXPIRED
        c:close()
    end)

    it("waits between takes of due receipts while the full store's commits lose them, rather than spin", function()
        -- a store on a full disk (here a file size limit of 1 MiB, which
        -- fails writes as a full disk does; limits.size_mb refuses new rows
        -- before it is full instead, and commits keep working) filled with
        -- messages whose receipts come 1 s later: posting them fails, and
        -- the turn's commit loses the take, so the rows are due again at
        -- once. The scheduler waits 0.1 s, doubling, between such takes (it
        -- took them again every turn: about 190 failed commits a second)
        local srv = server.start { conf = conf { smsc = { receipt_delay = 1 } }, fsize = 1024 * 1024 }
        local c = bound(srv, "transmitter")
        local refused, sent = false, 0
        while not refused and sent < 20000 do
            local batch = {}
            for i = 1, 100 do
                batch[i] = wire.submit_sm(c:next_seq(), { registered_delivery = 1, short_message = ("x"):rep(140) })
            end
            c:send(table.concat(batch))
            for _ = 1, 100 do
                local p = assert(c:read(5))
                if p.id == RESP + id.submit_sm and p.status ~= ROK then refused = true end
            end
            sent = sent + 100
        end
        assert.is_true(refused, "the store never filled")
        -- no more submits: from here on the commits that fail are the
        -- scheduler's, 0.1, 0.2, 0.4, 0.8 s ... apart (a commit of the
        -- last submits may be among the first counted)
        local f0, t1 = srv:stats().store.commit_failures, nil
        assert.is_truthy(wait_until(function()
            local f = srv:stats().store.commit_failures
            if f > f0 and not t1 then t1 = socket.gettime() end
            return f >= f0 + 6
        end, 15), "the commits did not fail")
        local took = socket.gettime() - t1
        assert.is_true(took >= 0.5, "6 failed commits within " .. took .. " s")
        c:close()
    end)

    it("waits between deliveries of its outbox while commits fail, rather than send the same receipts again",
       function()
        -- receipts wait in the outbox (no receiver); then no write may
        -- grow the store's log (prlimit on the running process: every
        -- commit fails, as on a full disk), and a receiver binds. Each
        -- failed commit loses the outbox's takes and acks, so its items
        -- are due again at once: they went to the receiver again every
        -- turn (thousands a second). Now the outbox waits between takes.
        local srv = server.start { conf = conf { smsc = { receipt_delay = 0 } } }
        local tx = bound(srv, "transmitter")
        local want = flood(tx, 1, 20, { registered_delivery = 1 })
        assert.equal(20, count(want))
        tx:close()
        assert.is_truthy(wait_until(function() return srv:stats().outbox.posted >= 20 end, 10))
        local f = assert(io.open(srv.dir .. "/smsc.db-wal", "rb"))
        local wal = f:seek("end")
        f:close()
        local _, perr, prc = run.sh("prlimit --pid " .. srv.pid .. " --fsize=" .. wal .. ":unlimited")
        assert.equal(0, prc, perr)
        local rx = bound(srv, "receiver")
        local got = 0
        local function drain()
            for _ = 1, 200 do
                local p = rx:read(0.01)
                if not p then return end
                if p.id == id.deliver_sm then
                    rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                    got = got + 1
                end
            end
        end
        local before = srv:stats().store.commit_failures
        assert.is_truthy(wait_until(function()
            drain()
            if got > 1000 then return true end        -- the same receipts again and again
            local st = srv:stats()
            return st.store.commit_failures >= before + 3 and (st.outbox.held_turns or 0) >= 3
        end, 15), "the commits did not fail, or the outbox did not wait")
        drain()
        -- a few rounds of the 20 at most (one per wait), not hundreds
        assert.is_true(got <= 100, got .. " deliver_sm for 20 receipts")
        -- room again: every receipt comes, and the outbox empties
        _, perr, prc = run.sh("prlimit --pid " .. srv.pid .. " --fsize=unlimited:unlimited")
        assert.equal(0, prc, perr)
        local rids = receipts(rx, want, 15)
        for mid in pairs(want) do assert.is_not_nil(rids[mid], "receipt of " .. mid) end
        assert.is_truthy(wait_until(function() return srv:stats().store.outbox.value == 0 end, 15), "the outbox kept items")
        rx:close()
    end)

    it("refuses a second process on a store in use; check and messages still read it", function()
        local srv = server.start { conf = conf() }
        local c = bound(srv)
        local st, mid = submit(c, { short_message = "mine" })
        assert.equal(ROK, st)
        local conf_file = srv.dir .. "/conf.lua"
        -- (timeout: a second server that starts would serve until stopped)
        local out, err, rc = run.sh("timeout 30 " .. run.quote(run.bin) .. " run " .. run.quote(conf_file)
                                    .. " -l 127.0.0.1:0 --http 127.0.0.1:0")
        assert.equal(1, rc, out .. err)
        assert.matches("store .*/smsc%.db: locked by another process %(pid %d+%)", err)
        assert.is_true(srv:alive())
        out, err, rc = run.smppgw { "check", conf_file }
        assert.equal(0, rc, out .. err)
        out, err, rc = run.smppgw { "messages", conf_file, mid }
        assert.equal(0, rc, out .. err)
        assert.matches(mid, out)
        -- the lock goes with the process: a restart takes the store over
        c:close()
        assert.is_true(srv:stop())
        local again = restart(srv)
        assert.matches("listening on", again:log_text())
    end)

    it("answers ESME_RMSGQFUL at once while another process holds the file's write lock, and serves on", function()
        local srv = server.start { conf = conf() }                  -- busy_timeout: the default, 0.1 s
        local c = bound(srv)
        local st, old = submit(c, { short_message = "before", registered_delivery = 0 })
        assert.equal(ROK, st)
        local release = run.lock_store(srv.dir .. "/smsc.db")
        finally(release)
        -- submits for 3 s of the lock, longer than the script budget (1 s)
        -- and the watchdog (2 s): each answered within the lock wait
        local t0, n = wire.gettime(), 0
        while wire.gettime() - t0 < 3 do
            local t1 = wire.gettime()
            assert.equal(RMSGQFUL, (submit(c, { short_message = "locked" })))
            assert.is_true(wire.gettime() - t1 < 1, "answered after " .. (wire.gettime() - t1) .. " s")
            n = n + 1
        end
        assert.is_true(n >= 3)
        assert.is_true(srv:alive(), srv:log_text())
        release()
        assert.truthy(wait_until(function() return (submit(c, { short_message = "after" })) == ROK end, 10))
        local qs, q = query(c, old)
        assert.equal(ROK, qs)
        assert.is_truthy(q)
    end)

    it("keeps a receipt its receiver refused with ESME_RINVBNDSTS while unbinding, and sends it again", function()
        local srv = server.start { conf = conf() }
        local c = bound(srv)
        local st, mid = submit(c, { registered_delivery = 1 })
        assert.equal(ROK, st)
        local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 10), "no receipt")
        assert.equal(mid, wire.parse_sm(p.body).tlvs[0x001E]:sub(1, -2))
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0", 0x04))   -- ESME_RINVBNDSTS: this session is going
        local got = receipts(c, { [mid] = true }, 10)              -- again, to the next receiver with room
        assert.equal(1, got[mid])
    end)

    it("issues different ids on two stores started at once", function()
        local a, b = server.start { conf = conf() }, server.start { conf = conf() }
        local ca, cb = bound(a), bound(b)
        local _, ia = submit(ca, {})
        local _, ib = submit(cb, {})
        assert.matches("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d$", ia)      -- 20 digits
        assert.is_true(ia ~= ib)
        assert.is_true(ia:sub(1, 10) ~= ib:sub(1, 10))                         -- the stores' node ids
        assert.equal(ia:sub(11), ib:sub(11))                                   -- the same key in each
    end)

    it("expires messages and applies validity_period on a clock the spec moves", function()
        local srv = server.start { conf = conf { store = { trace_ttl = 60 }, smsc = { receipt_delay = 0 } } }
        local c = bound(srv)
        local _, old = submit(c, {})
        -- scheduled in a minute, valid for 30 s: it expires first
        local _, short = submit(c, { schedule_delivery_time = IN_60_S, validity_period = "000000000030000R" })
        local status, q = query(c, short)
        assert.same({ ROK, 1 }, { status, q.message_state })                  -- ENROUTE
        c:close()
        assert.is_true(srv:stop("TERM", 10))
        -- 45 s later: `short` is EXPIRED; `old` is kept until its final state + 60 s
        local later = restart(srv, { SMPPGW_TIME_OFFSET = "45" })
        c = bound(later)
        status, q = query(c, short)
        assert.same({ ROK, 3 }, { status, q.message_state })                  -- EXPIRED
        assert.equal(ROK, (query(c, old)))
        c:close()
        assert.is_true(later:stop("TERM", 10))
        -- 3 minutes later both are gone, and expiry counted them
        local gone = restart(srv, { SMPPGW_TIME_OFFSET = "180" })
        assert.is_truthy(wait_until(function() return gone:stats().store.expired.messages >= 2 end, 10))
        c = bound(gone)
        assert.equal(RQUERYFAIL, (query(c, old)))
        assert.equal(RQUERYFAIL, (query(c, short)))
    end)

    it("keeps a receipt the full outbox refused with its message, and sends it later", function()
        local srv = server.start { conf = conf { store = { path = ":memory:", limits = { outbox_per_account = 3 } },
                                                 smsc = { receipt_delay = 0 } } }
        local tx = bound(srv, "transmitter")
        local want = flood(tx, 1, 4, { registered_delivery = 1 })
        -- receipts go out at once (the scheduler's next tick): the 4th is
        -- refused by the full outbox and waits, and a 5th submit asking
        -- for a receipt is pushed back (ESME_RMSGQFUL)
        assert.equal(4, count(want))
        assert.is_truthy(srv:wait_log("the receipt of a message of smppclient1 waits: .*outbox_per_account"))
        assert.equal(RMSGQFUL, (submit(tx, { registered_delivery = 1 })))
        assert.equal(3, srv:stats().store.outbox.value)
        local got = receipts(bound(srv, "receiver"), want, 10)
        for mid in pairs(want) do assert.equal(1, got[mid], "receipts of " .. mid) end
    end)

    it("pushes back on submits asking for receipts while the outbox is full, and loses none of its receipts",
        function()
        -- receipts come 0.2 s after their submits: 8 are accepted, the
        -- outbox takes 3, the other 5 wait with their messages
        local srv = server.start { conf = conf { store = { path = ":memory:", limits = { outbox_per_account = 3 } },
                                                 smsc = { receipt_delay = 0.2 } } }
        local tx = bound(srv, "transmitter")
        local want = flood(tx, 1, 8, { registered_delivery = 1 })
        assert.equal(8, count(want))
        assert.is_truthy(wait_until(function()
            local st = srv:stats()
            return st.gauges.smsc_receipts_deferred.value >= 5 and st.outbox.full >= 5
        end, 10))
        assert.equal(3, srv:stats().store.outbox.value)
        -- the account's backlog is past its bound: a submit asking for a
        -- receipt is refused, one asking for none is not
        assert.equal(RMSGQFUL, (submit(tx, { registered_delivery = 1 })))
        assert.equal(ROK, (submit(tx, {})))
        local g = srv:stats().gauges.smsc_backlog_refusals
        assert.equal(1, g.value)
        assert.equal(10000, g.limit)
        -- a receiver binds: all 8 receipts, once each
        local rx = bound(srv, "receiver")
        local got = receipts(rx, want, 20)
        for mid in pairs(want) do assert.equal(1, got[mid], "receipts of " .. mid) end
        -- drained: receipts are asked for and accepted again
        local status, mid = submit(tx, { registered_delivery = 1 })
        assert.equal(ROK, status)
        assert.equal(1, receipts(rx, { [mid] = true }, 10)[mid])
    end)

    it("pushes back at smsc.max_backlog receipts in the account's outbox", function()
        local srv = server.start { conf = conf { store = { path = ":memory:" },
                                                 smsc = { receipt_delay = 0, max_backlog = 3 } } }
        local tx = bound(srv, "transmitter")
        for _ = 1, 3 do assert.equal(ROK, (submit(tx, { registered_delivery = 1 }))) end
        assert.is_truthy(wait_until(function() return srv:stats().store.outbox.value == 3 end, 10))
        assert.equal(RMSGQFUL, (submit(tx, { registered_delivery = 1 })))
        assert.equal(RMSGQFUL, (submit(tx, { registered_delivery = 2 })))   -- failures only: may still need one
        assert.equal(ROK, (submit(tx, { registered_delivery = 0 })))
        local st = srv:stats()
        assert.equal(2, st.gauges.smsc_backlog_refusals.value)
        assert.equal(0, st.outbox.full)                   -- the bound refused submits, the outbox refused nothing
    end)

    it("answers ESME_RMSGQFUL when the store is full of messages still to be finished", function()
        local srv = server.start { conf = conf { store = { path = ":memory:", limits = { messages = 3 } },
                                                 smsc = { receipt_delay = 30 } } }
        local c = bound(srv)
        for _ = 1, 3 do assert.equal(ROK, (submit(c, { registered_delivery = 1 }))) end
        assert.equal(RMSGQFUL, (submit(c, { registered_delivery = 1 })))
        -- a message that needs nothing more makes room for the next one
        local srv2 = server.start { conf = conf { store = { path = ":memory:", limits = { messages = 3 } } } }
        local c2 = bound(srv2)
        for _ = 1, 5 do assert.equal(ROK, (submit(c2, {}))) end
        assert.equal(3, srv2:stats().store.messages.value)
    end)
end)

describe("#integration smppgw messages of a row a script stored", function()
    it("shows a missing source as -, not nil", function()
        local srv = server.start { conf = "return { script = 'script.lua', store = { path = 'm.db' }, "
            .. "accounts = { { system_id = 'smppclient1', password = 'password' } } }", script = [[
local store = require "smpp.store"
local smpp = require "smpp"
return { submit_sm = function(session, pdu)
    local id = string.format("%08x%06x", store.node_id(), store.next_id("msg"))
    local ok, err = store.put { id = id, account = session.system_id, dest = pdu.destination_addr,
                                submitted = smpp.time(), pdu = smpp.encode(pdu) }
    if not ok then return "ESME_RSYSERR" end
    return "ESME_ROK", { message_id = id }
end }
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        c:send(wire.submit_sm(2))
        local r = assert(c:read(5))
        assert.equal(0, r.status)
        local mid = wire.first_cstr(r.body)
        local out, err, rc = run.smppgw { "messages", srv.dir .. "/conf.lua", mid }
        assert.equal(0, rc, out .. err)
        assert.matches("account smppclient1, from %- to 447700900123,", out)
    end)
end)
