-- runstore_spec -- the store in the running server: the configuration's
-- store opened before listening (or a clear start-up error), group commit
-- (an answer leaves only after the commit of what its handler wrote, and
-- a failed commit turns ESME_ROK into an error), expiry from a timer and
-- what it lost counted in /stats.
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
