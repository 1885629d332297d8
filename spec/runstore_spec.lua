-- runstore_spec -- the store in the running server: the configuration's
-- store opened before listening (or a clear start-up error), group commit
-- (an answer leaves only after the commit of what its handler wrote, and
-- a failed commit turns ESME_ROK into an error, but not one held before an
-- early commit that stored its writes), expiry from a timer and what it
-- lost counted in /stats.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local store = require "smpp.store"
local lfs = require "lfs"
local wait_until = wait.wait_until

-- A handler that stores every submit (a 2 KiB row) and answers with its id
-- only when the store took it: the put's own error otherwise.
local STORING = [[
local smpp = require "smpp"
local store = require "smpp.store"
local n = 0
return {
    submit_sm = function(session, pdu)
        n = n + 1
        local id = "m" .. n
        local ok, err = store.put { id = id, account = session.system_id, dest = pdu.destination_addr,
                                    submitted = smpp.time(), pdu = ("x"):rep(2048) }
        if not ok then return err:match("full") and "ESME_RMSGQFUL" or "ESME_RSYSERR" end
        return 0, { message_id = id }
    end,
}
]]

local function conf(store_section)
    return "return " .. server.lua {
        script = "script.lua",
        accounts = { { system_id = "smppclient1", password = "password" } },
        store = store_section,
    }
end

-- A second handle on the server's store file, read-only in practice: it
-- sees what the server committed, nothing else.
local function reader(path)
    return assert(store.open { path = path, busy_timeout = 5 })
end

describe("#integration the store in the server", function()
    it("opens the configured store before listening, or exits naming the path and the reason", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/script.lua", STORING)
        tmp.write(dir .. "/notadb.db", ("garbage that is no database "):rep(100))
        tmp.write(dir .. "/conf.lua", conf { path = "notadb.db" })
        local out, err, rc = run.smppgw { "run", dir .. "/conf.lua", "-l", "127.0.0.1:0" }
        assert.is_true(rc ~= 0)
        assert.equal("", out)
        assert.matches("notadb%.db: not an SQLite database", err)
        -- a configuration without a store section stores beside itself
        local s = server.start { conf = conf(nil), script = STORING }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(c:next_seq()))
        local r = assert(c:read())
        assert.equal(0, r.status)
        local st = reader(s.dir .. "/conf.db")
        assert.is_not_nil(st:get(wire.first_cstr(r.body)))
        st:close()
    end)

    it("answers a submit only once its row is committed: another process reads it at the answer", function()
        local s = server.start { conf = conf { path = "s.db" }, script = STORING }
        local st = reader(s.dir .. "/s.db")
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        local batch = {}
        for i = 1, 50 do batch[i] = wire.submit_sm(c:next_seq()) end
        c:send(table.concat(batch))                      -- one turn of the server writes many
        for _ = 1, 50 do
            local r = assert(c:read())
            assert.equal(0, r.status)
            local id = wire.first_cstr(r.body)
            assert.is_not_nil(st:get(id), "answered " .. id .. " before it was committed")
        end
        local stats = s:stats().store
        assert.is_true(stats.commits >= 1 and stats.commits <= 50)   -- grouped: fewer commits than writes
        assert.equal(0, stats.commit_failures)
        assert.is_true(stats.held_answers >= 50)
        st:close()
    end)

    it("turns ESME_ROK into ESME_RSYSERR when the commit fails, and stores again afterwards", function()
        local s = server.start { conf = conf { path = "s.db" }, script = STORING }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(c:next_seq()))
        assert.equal(0, assert(c:read()).status)
        -- the process may not write past the end of the write-ahead log:
        -- the puts go to SQLite's cache, the commit's append to the log fails
        local wal = assert(lfs.attributes(s.dir .. "/s.db-wal", "size"))
        local _, perr, prc = run.sh("prlimit --pid " .. s.pid .. " --fsize=" .. wal .. ":")
        assert.equal(0, prc, perr)
        local statuses = {}
        for _ = 1, 20 do
            c:send(wire.submit_sm(c:next_seq()))
            local r = assert(c:read())
            statuses[r.status] = (statuses[r.status] or 0) + 1
        end
        -- every put succeeded (in SQLite's cache): each answer is the failed commit's
        assert.same({ [0x08] = 20 }, statuses)                -- ESME_RSYSERR, never ESME_ROK
        assert.is_true(s:wait_log("store commit failed: .* answers given as ESME_RSYSERR"))
        local st = s:stats().store
        assert.is_true(st.commit_failures >= 1)
        assert.is_true(st.held_failed >= 1)
        assert.is_true(st.lost_writes >= 1)
        run.sh("prlimit --pid " .. s.pid .. " --fsize=unlimited:")
        local ok_ids = {}
        for _ = 1, 5 do
            c:send(wire.submit_sm(c:next_seq()))
            local r = assert(c:read())
            assert.equal(0, r.status)
            ok_ids[#ok_ids + 1] = wire.first_cstr(r.body)
        end
        local rd = reader(s.dir .. "/s.db")
        for _, id in ipairs(ok_ids) do assert.is_not_nil(rd:get(id)) end
        rd:close()
    end)

    it("answers an error, not ESME_ROK, when a handler's row was lost by a commit that failed while it waited",
        function()
        -- "wait" stores its row, then waits for a "go" (stores nothing) and
        -- answers ESME_ROK; the commit of the turn it stored in fails
        local s = server.start { conf = conf { path = "s.db" }, script = [[
local smpp = require "smpp"
local store = require "smpp.store"
local go = false
return {
    submit_sm = function(session, pdu)
        if pdu.short_message == "go" then go = true; return 0, { message_id = "go" } end
        if pdu.short_message == "commit" then store.commit(); return 0, { message_id = "c" } end
        go = false
        local ok, err = store.put { id = "waited", account = session.system_id, dest = pdu.destination_addr,
                                    submitted = smpp.time(), pdu = ("x"):rep(2048) }
        if not ok then return "ESME_RSYSERR" end
        while not go do smpp.sleep(0.01) end
        return 0, { message_id = "waited" }
    end,
}
]] }
        -- the commit that fails: the turn's own, or (second round, the
        -- same turn) a script's own store.commit(), after which the
        -- turn's commit has nothing left to write and succeeds
        for _, how in ipairs { "the turn's", "a script's" } do
            local c = wire.connect(s.port)
            assert.equal(0, c:bind("transceiver").status)
            local wal = assert(lfs.attributes(s.dir .. "/s.db-wal", "size"))
            local _, perr, prc = run.sh("prlimit --pid " .. s.pid .. " --fsize=" .. wal .. ":")
            assert.equal(0, prc, perr)
            local seq, n = c:next_seq(), 2
            local bytes = wire.submit_sm(seq, { short_message = "wait" })
            if how == "a script's" then
                local before = s:stats().store.commit_failures
                bytes, n = bytes .. wire.submit_sm(c:next_seq(), { short_message = "commit" }), 3
                c:send(bytes)
                assert(wait_until(function() return s:stats().store.commit_failures > before end, 5), "no failure")
            else
                c:send(bytes)
                assert.is_true(s:wait_log("store commit failed"))
            end
            run.sh("prlimit --pid " .. s.pid .. " --fsize=unlimited:")
            c:send(wire.submit_sm(c:next_seq(), { short_message = "go" }))
            local got
            for _ = 1, n do
                local r = assert(c:read())
                if r.seq == seq then got = r end
            end
            assert.is_not_nil(got, how .. ": no answer to the waiting handler")
            assert.is_true(got.status == 0x08 or got.status == 0x14, how .. ": answered " .. got.status)
            local rd = reader(s.dir .. "/s.db")
            assert.is_nil(rd:get("waited"))
            rd:close()
            c:close()
        end
    end)

    it("never answers ESME_ROK for a row that a full store refused (limits.size_mb)", function()
        local s = server.start { conf = conf { path = "s.db", limits = { size_mb = 1 } }, script = STORING }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        local ok_ids, full = {}, 0
        for _ = 1, 800 do
            c:send(wire.submit_sm(c:next_seq()))
            local r = assert(c:read())
            if r.status == 0 then ok_ids[#ok_ids + 1] = wire.first_cstr(r.body)
            else
                assert.equal(0x14, r.status)                   -- ESME_RMSGQFUL
                full = full + 1
                if full >= 5 then break end
            end
        end
        assert.is_true(full >= 5, "the store never filled up")
        local rd = reader(s.dir .. "/s.db")
        for _, id in ipairs(ok_ids) do assert.is_not_nil(rd:get(id), id) end
        rd:close()
    end)

    -- Three submit_sm in one read, so one loop turn. "first" stores a row
    -- and answers ESME_ROK: held for the turn's commit. "second" does
    -- `how` ("commit": the script's own store.commit(); "ids": 1,500
    -- values of a counter no block covers yet), then stores a row and
    -- answers ESME_ROK: held too. "third" puts a row larger than
    -- limits.size_mb: the write fails, and with it the turn's own commit.
    -- Each run logs the store's count of commits and open writes, which
    -- tell when the answers were held. Returns the server, the answers by
    -- text, the runs' log lines by text and the keys stored.
    local function three_in_a_turn(how)
        local s = server.start { conf = conf { path = "s.db", limits = { size_mb = 1 } }, script = [[
local smpp = require "smpp"
local store = require "smpp.store"
local how = "]] .. how .. [["
return {
    submit_sm = function(session, pdu)
        local text, st = pdu.short_message, store.stats()
        local ids = 0
        if text == "other" then return 0, { message_id = tostring(store.next_id("spec.other")) } end
        if text == "second" and how == "ids" then
            for _ = 1, 1500 do
                if not store.next_id("spec.ids") then break end
                ids = ids + 1
            end
        elseif text == "second" then
            assert(store.commit())
        end
        local key, err = store.put { account = "acct", source = pdu.source_addr, dest = pdu.destination_addr,
                                     submitted = smpp.time(), final = true, state = store.state.DELIVERED,
                                     done = smpp.time(), pdu = text == "third" and ("x"):rep(2 * 1048576) or nil }
        local now = store.stats()
        smpp.log("info", "%s: commits %d, %d writes open, %d ids; answered at commits %d, %d writes open: %s",
                 text, st.commits, st.txn_writes, ids, now.commits, now.txn_writes, tostring(key or err))
        if not key then return err:match("full") and "ESME_RMSGQFUL" or "ESME_RSYSERR" end
        return 0, { message_id = tostring(key) }
    end,
}
]] }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        local before = s:stats().store
        local seqs, bytes = {}, {}
        for i, text in ipairs { "first", "second", "third" } do
            seqs[text] = c:next_seq()
            bytes[i] = wire.submit_sm(seqs[text], { short_message = text, source_addr = tostring(i):rep(4) })
        end
        c:send(table.concat(bytes))
        local got, answers = {}, {}
        for _ = 1, 3 do
            local r = assert(c:read())
            got[r.seq] = r
        end
        for text, seq in pairs(seqs) do answers[text] = got[seq] end
        assert.is_true(s:wait_log("store commit failed: "), s:log_text())
        local runs = {}
        for text, c0, open0, ids, c1, open1, put in s:log_text():gmatch(
            "(%a+): commits (%d+), (%d+) writes open, (%d+) ids; answered at commits (%d+), (%d+) writes open: (%w+)") do
            runs[text] = { commits = tonumber(c0), open = tonumber(open0), ids = tonumber(ids),
                           answered = tonumber(c1), open_then = tonumber(open1), put = put }
        end
        assert.is_truthy(runs.first and runs.second and runs.third, s:log_text())
        assert.equal("full", runs.third.put)                 -- the write that failed the turn
        local after = s:stats().store
        assert.equal(before.held_answers + 2, after.held_answers)
        assert.equal(before.commit_failures + 1, after.commit_failures)
        local out, err, rc = run.sh("sqlite3 " .. run.quote(s.dir .. "/s.db")
                                    .. " \"SELECT key, source FROM messages ORDER BY key\"")
        assert.equal(0, rc, err)
        return s, answers, runs, out, before, after, c
    end

    it("gives an answer held before a script's own commit as it is when the turn's commit then fails", function()
        local _, answers, runs, stored, before, after, c = three_in_a_turn("commit")
        c:close()
        local first, second, third = runs.first, runs.second, runs.third
        -- one turn: no commit between the runs but the second's own
        assert.is_true(first.open_then >= 1)                 -- the first's answer held, its row open ...
        assert.equal(first.answered, second.commits)         -- ... and still open when the second began
        assert.is_true(second.open >= 1)
        assert.is_true(second.answered > second.commits)     -- its commit stored the first's row ...
        assert.is_true(second.open_then >= 1)                -- ... and its own answer was held after that
        assert.equal(second.answered, third.commits)
        assert.equal(before.held_failed + 1, after.held_failed)
        -- the first: ESME_ROK, its message id the key of its row, the only one stored
        assert.equal(0, answers.first.status)
        assert.equal(wire.first_cstr(answers.first.body) .. "|1111\n", stored)
        -- the second and the third: the full store's status, without a body
        for _, text in ipairs { "second", "third" } do
            assert.equal(0x14, answers[text].status, text)  -- ESME_RMSGQFUL
            assert.equal(16, answers[text].len, text)
        end
    end)

    it("never commits a turn early for a script's st:next_id: a turn lost to a full store loses every run's rows",
       function()
        -- the second's values run past their first block: a serving
        -- process syncs the block into its lock file instead of committing
        -- the turn (which would store the first's row and what the second
        -- put before its values, while the turn's commit lost the rest)
        local s, answers, runs, stored, before, after, c = three_in_a_turn("ids")
        assert.equal(1500, runs.second.ids)
        for _, text in ipairs { "first", "second", "third" } do
            assert.equal(runs.first.commits, runs[text].answered, text .. " answered after a commit")
            assert.equal(0x14, answers[text].status, text)  -- ESME_RMSGQFUL
        end
        assert.equal(before.held_failed + 2, after.held_failed)
        assert.equal("", stored)
        -- the values given are covered in the lock file, also once another
        -- counter's block has rewritten it after the turn was lost
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { short_message = "other" }))
        local r = assert(c:read())
        assert.equal(0, r.status)
        local lock = assert(io.open(s.dir .. "/s.db-lock")):read("a")
        assert.matches("counter spec%.other %d+", lock)
        local hw = tonumber(lock:match("counter spec%.ids (%d+)"))
        assert.is_true(hw and hw > 1500, lock)
    end)

    it("keeps the write-ahead log within a quarter of limits.size_mb", function()
        -- without a limit the log runs to thousands of pages before it is
        -- copied back, and its file never shrinks
        local s = server.start { conf = conf { path = "s.db", limits = { size_mb = 8 } }, script = STORING }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        local biggest = 0
        for i = 1, 1500 do                                   -- a row a page: 6 MiB
            c:send(wire.submit_sm(c:next_seq()))
            assert.equal(0, assert(c:read()).status, "submit " .. i)
            if i % 100 == 0 then
                local a = lfs.attributes(s.dir .. "/s.db-wal")
                if a and a.size > biggest then biggest = a.size end
            end
        end
        -- a quarter (2 MiB), and what one turn writes before the loop copies it back
        assert.is_true(biggest <= 2.5 * 1048576, "the log grew to " .. biggest .. " octets")
        assert.is_true(biggest > 0)
    end)

    it("stamps rows with smpp.time(), the epoch's seconds, which SMPPGW_TIME_OFFSET shifts for tests", function()
        local script = [[return { submit_sm = function()
            return 0, { message_id = string.format("%.3f", require("smpp").time()) } end }]]
        local function stamp(s)
            local c = wire.connect(s.port)
            assert.equal(0, c:bind("transceiver").status)
            c:send(wire.submit_sm(c:next_seq()))
            return tonumber(wire.first_cstr(assert(c:read()).body))
        end
        local now = stamp(server.start { conf = conf(nil), script = script })
        assert.is_true(math.abs(now - wait.gettime()) < 2, "smpp.time() " .. now)
        local later = server.start { conf = conf(nil), script = script, env = { SMPPGW_TIME_OFFSET = "86400" } }
        assert.is_true(math.abs(stamp(later) - 86400 - wait.gettime()) < 2)
        assert.is_true(later:wait_log("SMPPGW_TIME_OFFSET=86400: stored times are shifted"))
    end)

    it("expires rows from a timer and counts what was lost in /stats", function()
        -- trace_ttl 0: a message not final is gone once its validity ends
        local s = server.start { conf = conf { path = "s.db", trace_ttl = 0 }, script = [[
local smpp = require "smpp"
local store = require "smpp.store"
return { submit_sm = function(session, pdu)
    local now = smpp.time()
    assert(store.put { id = pdu.destination_addr, account = session.system_id, submitted = now - 10,
                       expires = now - 5 })
    return 0, { message_id = pdu.destination_addr }
end }]] }
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver").status)
        for i = 1, 3 do
            c:send(wire.submit_sm(c:next_seq(), { destination_addr = "4470000000" .. i }))
            assert.equal(0, assert(c:read()).status)
        end
        assert.is_truthy(wait_until(function() return s:stats().store.expired.unfinished == 3 end, 5))
        assert.is_true(s:wait_log("store expiry: 3 messages never reached a final state %(first: 4470000000%d of smppclient1%)"))
        assert.equal(0, s:stats().store.messages.value)
    end)
end)

-- -- Receipts and MO from the store ----------------------------------------------
-- The feeder's submit_sm to "ACCOUNT:N[:TTL[:REF]]" posts N deliver_sm to
-- ACCOUNT (smpp.post: into its outbox, back at once), about the stored
-- message REF when given; its answer says whether the outbox took them.
local POSTING = [[
local smpp = require "smpp"
local store = require "smpp.store"
return {
    submit_sm = function(session, pdu)
        local acct, n, ttl, ref = pdu.destination_addr:match("^(%w+):(%d+):?([%d.]*):?(%w*)$")
        if ref ~= "" then assert(store.put { id = ref, account = acct, submitted = smpp.time() }) end
        for i = 1, tonumber(n) do
            local ok, err = smpp.post(acct, { source_addr = "sender", destination_addr = acct,
                                              short_message = "msg " .. i },
                                      { ttl = tonumber(ttl), ref = ref ~= "" and ref or nil })
            if not ok then return err == "full" and "ESME_RMSGQFUL" or "ESME_RSYSERR" end
        end
        return 0, { message_id = "posted" }
    end,
}
]]

local function posting_conf(extra)
    return "return " .. server.lua(server.merge({
        script = "script.lua",
        session = { window = 10 },
        accounts = { { system_id = "feeder", password = "pw" }, { system_id = "A", password = "pw" },
                     { system_id = "B", password = "pw" } },
        store = { path = "s.db" },
    }, extra))
end

-- post(feeder, "A:10") -> the submit's status
local function post(feeder, what)
    feeder:send(wire.submit_sm(feeder:next_seq(), { destination_addr = what }))
    return assert(feeder:read()).status
end

local function bind(s, kind, who)
    local c = wire.connect(s.port)
    assert.equal(0, c:bind(kind, who, "pw").status)
    return c
end

-- Read deliver_sm PDUs (answering each with status, default ESME_ROK) until
-- n came: their texts in order.
local function take(c, n, status)
    local texts = {}
    while #texts < n do
        local d = assert(c:read())
        assert.equal(wire.id.deliver_sm, d.id)
        texts[#texts + 1] = wire.parse_sm(d.body).short_message
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, d.seq, "\0", status))
    end
    return texts
end

describe("#integration receipts and MO from the store", function()
    it("keeps an account's items for it while its receiver is away, never for another account", function()
        local s = server.start { conf = posting_conf(), script = POSTING }
        local feeder = bind(s, "transmitter", "feeder")
        local a1, b = bind(s, "receiver", "A"), bind(s, "receiver", "B")
        a1:close()                                              -- A's receiver vanishes
        assert.is_truthy(wait_until(function()
            local acc = s:stats().accounts
            return acc.B and acc.B.receivers == 1 and not (acc.A and acc.A.receivers > 0)
        end))
        assert.equal(0, post(feeder, "A:300"))
        assert.is_truthy(wait_until(function() return s:stats().store.outbox.value == 300 end))
        local d, err = b:read(0.3)                              -- B gets none of them
        assert.is_nil(d, "a receipt for A went to B")
        assert.equal("timeout", err)
        -- A binds again: it gets them all, in order, never more at once than its window
        local a2 = bind(s, "receiver", "A")
        local first = {}
        for i = 1, 10 do
            local p = assert(a2:read())
            first[i] = p
        end
        assert.is_nil(a2:read(0.2), "more than the window (10) outstanding")
        local texts = {}
        for i, p in ipairs(first) do
            texts[i] = wire.parse_sm(p.body).short_message
            a2:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        end
        for _, t in ipairs(take(a2, 290)) do texts[#texts + 1] = t end
        for i = 1, 300 do assert.equal("msg " .. i, texts[i]) end
        assert.is_truthy(wait_until(function() return s:stats().store.outbox.value == 0 end))
        local st = s:stats()
        assert.equal(300, st.outbox.delivered)
        assert.equal(300, st.outbox.posted)
        assert.equal(0, st.outbox.inflight)
    end)

    it("offers again what a receiver left unanswered when it closed, and removes a refused one", function()
        local s = server.start { conf = posting_conf(), script = POSTING }
        local feeder = bind(s, "transmitter", "feeder")
        local r1 = bind(s, "transceiver", "A")
        assert.equal(0, post(feeder, "A:1"))
        local d = assert(r1:read())
        assert.equal("msg 1", wire.parse_sm(d.body).short_message)
        r1:close()                                              -- gone without answering
        local r2 = bind(s, "receiver", "A")
        assert.same({ "msg 1" }, take(r2, 1))                   -- the same item, again
        assert.is_true(s:stats().outbox.retried >= 1)
        assert.equal(0, post(feeder, "A:1::m7"))
        assert.same({ "msg 1" }, take(r2, 1, 0x0B))             -- refused: ESME_RINVDSTADR
        assert.is_truthy(wait_until(function() return s:stats().store.outbox.value == 0 end))
        assert.equal(1, s:stats().outbox.refused)
        assert.is_true(s:wait_log("A refused a delivery: ESME_RINVDSTADR"))
        assert.is_nil(r2:read(0.2))                             -- not offered again
        assert.equal(0, post(feeder, "A:1::m8"))
        assert.same({ "msg 1" }, take(r2, 1))
        -- the messages the items named have it in their trace
        local rd = reader(s.dir .. "/s.db")
        assert.is_truthy(wait_until(function()
            local m8 = rd:get("m8")
            return m8 and (m8.trace or ""):match("delivered to A")
        end))
        assert.matches("^[%d.]+ refused by A: ESME_RINVDSTADR\n$", rd:get("m7").trace)
        rd:close()
    end)

    it("keeps the outbox across a crash, expires what waits past its TTL, and says when it is full", function()
        local s = server.start { conf = posting_conf { store = { limits = { outbox_per_account = 20 } } },
                                 script = POSTING }
        local feeder = bind(s, "transmitter", "feeder")
        assert.equal(0, post(feeder, "A:5"))
        assert.equal(0x14, post(feeder, "A:16"))                -- the 21st does not fit: ESME_RMSGQFUL
        assert.equal(0, post(feeder, "B:2:0.1"))                -- B's wait only 0.1 s
        s:kill()                                                -- SIGKILL: only the store remains
        local again = server.start { conf_file = s.dir .. "/conf.lua" }
        local a = bind(again, "receiver", "A")
        local texts = take(a, 20)
        assert.equal("msg 1", texts[1])
        assert.equal("msg 15", texts[20])
        assert.is_truthy(wait_until(function() return again:stats().store.expired.outbox == 2 end, 5))
        assert.is_true(again:wait_log("2 receipts/MO were never delivered %(first: for B%)"))
        assert.equal(0, again:stats().store.outbox.value)
    end)
end)
