-- store_spec -- smpp.store through its SQLite binding from plain luajit:
-- every method, bounds, expiry on a clock the spec controls, reopening,
-- sync modes, and `smppgw check` on a sound and on a damaged store file.
local store = require "smpp.store"
local run = require "helpers.run"

local function tmpdir()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir) == 0)
    return dir
end

local function rmdir(dir)
    os.execute("rm -rf '" .. dir .. "'")
end

local function exists(path)
    local f = io.open(path)
    if f then f:close() end
    return f ~= nil
end

-- A message record with what every test needs; fields in t win.
local function msg(id, t)
    local rec = { id = id, account = "acct", source = "src", dest = "4477", submitted = 1000,
                  pdu = "\0\0\0\16\0\0\0\4\0\0\0\0\0\0\0\1" }
    for k, v in pairs(t or {}) do rec[k] = v end
    return rec
end

local function ids(list, field)
    local out = {}
    for i, r in ipairs(list) do out[i] = r[field or "id"] end
    return out
end

describe("smpp.store", function()
    local st
    before_each(function() st = assert(store.open { path = ":memory:" }) end)
    after_each(function() if st then st:close() end end)

    it("puts and gets a record, binary PDU and trace included", function()
        local pdu = "\0\1\2\0\255"
        assert.is_number(st:put(msg("m1", { pdu = pdu, registered_delivery = 1, expires = 5000,
                                          trace = "accepted from acct" })))
        local r = st:get("m1")
        assert.equal(pdu, r.pdu)
        assert.equal(0, r.part)
        assert.equal(1, r.registered_delivery)
        assert.equal(store.state.SCHEDULED, r.state)
        assert.is_false(r.final)
        assert.equal(5000, r.expires)
        assert.equal("1000.000 accepted from acct\n", r.trace)
        assert.is_nil(r.due)
        assert.is_nil(r.upstream)
        assert.equal(5000 + 86400, r.keep_until)      -- validity end + trace_ttl
        assert.is_nil(st:get("m2"))
    end)

    it("refuses a second put of the same id and part", function()
        assert.is_number(st:put(msg("m1")))
        local ok, err, detail = st:put(msg("m1"))
        assert.is_nil(ok)
        assert.equal("exists", err)
        assert.matches("m1", detail)
        assert.is_number(st:put(msg("m1", { part = 1 })))
    end)

    it("keeps the parts of one id (submit_multi) and updates one or all", function()
        for p = 0, 2 do assert.is_number(st:put(msg("mm", { part = p, dest = "44" .. p }))) end
        assert.same({ 0, 1, 2 }, ids(st:parts("mm"), "part"))
        assert.equal(3, st:update("mm", { state = store.state.ENROUTE, trace = "forwarded", at = 1001 }))
        assert.equal(1, st:update("mm", { state = store.state.DELIVERED, final = true, done = 1002 }, { part = 1 }))
        assert.equal(store.state.DELIVERED, st:get("mm", 1).state)
        assert.equal(store.state.ENROUTE, st:get("mm", 2).state)
        assert.equal("1001.000 forwarded\n", st:get("mm", 2).trace)
        -- pending only: cancel what is not final yet
        assert.equal(2, st:update("mm", { state = store.state.DELETED, final = true, done = 1003 }, { pending = true }))
        assert.equal(store.state.DELIVERED, st:get("mm", 1).state)
        assert.equal(1002 + 86400, st:get("mm", 1).keep_until)
        assert.equal(0, st:update("absent", { state = 1 }))
    end)

    it("raises on a caller's mistake, naming the field", function()
        assert.has_error(function() st:put(msg("x", { acount = "a" })) end, "put: unknown field 'acount'")
        assert.has_error(function() st:put(msg("x", { dest = 4477 })) end,
            "put: field 'dest' must be a string, got number")
        assert.has_error(function() st:put(msg("x", { final = 1 })) end,
            "put: field 'final' must be a boolean, got number")
        assert.has_error(function() st:put(msg("x", { part = 1.5 })) end,
            "put: field 'part' must be an integer, got another number")
        assert.has_error(function() st:put(msg("x", { keep_until = 5 })) end, "put: keep_until is computed by the store")
        assert.has_error(function() st:put { id = "x", account = "a" } end, "put: submitted is required")
        assert.has_error(function() st:put { id = "", submitted = 1 } end, "put: an id cannot be empty")
        assert.has_error(function() st:put(msg("x", { key = 5 })) end, "put: key is computed by the store")
        assert.has_error(function() st:get(0) end, "get: key must be > 0")
        assert.has_error(function() st:update(1.5, { state = 1 }) end, "update: key must be an integer")
        assert.has_error(function() st:update("x", { id = "y" }) end, "update: id cannot be changed")
        assert.has_error(function() st:update("x", { trace = "no time" }) end,
            "update: a trace line needs its time (at)")
        assert.has_error(function() st:get(true) end)
        assert.has_error(function() st:find { account = "a" } end, "find: account, source and dest are required")
        assert.has_error(function() st:due(0, 1e9) end)                 -- one call hands out 10,000 at most
        assert.has_error(function() st:list { account = "a", limit = 20000 } end,
            "list: limit must be an integer 0..10000")
        assert.has_error(function() st:get("x", 0.5) end, "get: part must be an integer")
        assert.has_error(function() st:outbox_ack(1 / 0) end, "outbox_ack: rowid must be an integer")
        assert.has_error(function() st:put(msg("x", { pdu = ("x"):rep(16 * 2 ^ 20 + 1) })) end,
            "put: pdu is longer than 16777216 octets")
    end)

    it("finds pending messages by account, destination and source", function()
        st:put(msg("a"))
        st:put(msg("b", { service_type = "CMT" }))
        st:put(msg("c", { source = "other" }))
        st:put(msg("d"))
        st:update("d", { final = true, done = 1001, state = store.state.DELIVERED })
        assert.same({ "a", "b" }, ids(st:find { account = "acct", source = "src", dest = "4477" }))
        assert.same({ "b" }, ids(st:find { account = "acct", source = "src", dest = "4477", service_type = "CMT" }))
        assert.same({ "a" }, ids(st:find { account = "acct", source = "src", dest = "4477", limit = 1, pending = true }))
        assert.same({}, st:find { account = "other", source = "src", dest = "4477" })
        assert.has_error(function() st:find { account = "acct", source = "src", dest = "4477", pending = false } end)
    end)

    it("hands out due messages earliest first, per upstream, with a lease", function()
        st:put(msg("l1", { due = 30 }))
        st:put(msg("l2", { due = 10 }))
        st:put(msg("q1", { due = 20, upstream = "up1" }))
        st:put(msg("q2", { due = 5, upstream = "up2" }))
        st:put(msg("never"))
        assert.same({ "l2", "l1" }, ids(st:due(100, 10)))
        assert.same({ "q1" }, ids(st:due(100, 10, "up1")))
        assert.same({}, ids(st:due(4, 10, "up2")))
        local leased = st:due(100, 1, nil, 60)
        assert.same({ "l2" }, ids(leased))
        assert.equal(160, leased[1].due)
        assert.same({ "l1" }, ids(st:due(100, 10)))     -- l2 hidden until 160
        assert.same({ "l1", "l2" }, ids(st:due(160, 10)))  -- l2 is due at 160 now
    end)

    it("matches receipts by upstream and key, newest first", function()
        st:put(msg("g1", { upstream = "up1", upstream_id = "0A", upstream_key = "10" }))
        st:put(msg("g2", { upstream = "up1", upstream_id = "00A", upstream_key = "10" }))
        st:put(msg("g3", { upstream = "up2", upstream_key = "10" }))
        assert.equal("g2", st:by_upstream("up1", "10").id)
        assert.equal("g3", st:by_upstream("up2", "10").id)
        assert.is_nil(st:by_upstream("up1", "11"))
    end)

    it("lists an account's messages by time and state, in pages", function()
        for i = 1, 5 do st:put(msg("t" .. i, { submitted = 100 + i })) end
        st:update("t4", { state = store.state.DELIVERED, final = true, done = 200 })
        local rows, next = st:list { account = "acct", since = 102, limit = 2 }
        assert.same({ "t2", "t3" }, ids(rows))
        assert.same({ "t4", "t5" }, ids((st:list { account = "acct", after = next })))   -- going on
        assert.same({ "t1", "t2" }, ids((st:list { account = "acct", ["until"] = 103 })))
        assert.same({ "t4" }, ids((st:list { account = "acct", state = store.state.DELIVERED })))
        assert.same({}, st:list { account = "nobody" })
        -- the walk looks at `scan` rows at most, and says where to go on
        rows, next = st:list { account = "acct", scan = 2 }
        assert.same({ "t1", "t2" }, ids(rows))
        assert.same({ "t3", "t4" }, ids((st:list { account = "acct", scan = 2, after = next })))
    end)

    it("queues deliver_sm PDUs per account: take leases, ack removes, retry offers again", function()
        local r1 = assert(st:outbox_push("A", "pdu1", { ref = "m1" }))
        local r2 = assert(st:outbox_push("A", "pdu2", { ref = "m2", due = 50, expires = 500 }))
        assert(st:outbox_push("B", "pdu3"))
        assert.equal(2, st:outbox_count("A"))
        local got = st:outbox_take("A", 10, 10, 30)
        assert.equal(1, #got)
        assert.same({ rowid = r1, account = "A", ref = "m1", pdu = "pdu1", due = 40, attempts = 1 }, got[1])
        assert.same({}, st:outbox_take("A", 10, 20))            -- leased
        got = st:outbox_take("A", 10, 60)
        assert.same({ r1, r2 }, ids(got, "rowid"))
        assert.equal(120, got[1].due)                          -- the configured lease, 60 s
        assert.equal(2, got[1].attempts)
        assert.is_true(st:outbox_ack(r1))
        assert.is_false(st:outbox_ack(r1))
        assert.is_true(st:outbox_retry(r2, 200))
        assert.same({}, st:outbox_take("A", 10, 199))
        assert.equal("pdu2", st:outbox_take("A", 10, 200)[1].pdu)
        assert.equal(1, st:outbox_count("A"))
        assert.equal(0, st:outbox_count("C"))
    end)

    it("keeps early receipts until their message is known", function()
        assert.is_true(st:early_put("up1", "10", "r1", 100, 1))
        assert.is_true(st:early_put("up1", "10", "r2", 100, 2))
        assert.is_true(st:early_put("up1", "11", "r3", 100))
        local got = st:early_take("up1", "10")
        assert.same({ "r1", "r2" }, ids(got, "pdu"))
        assert.equal(1, got[1].at)
        assert.same({}, st:early_take("up1", "10"))
        assert.equal(1, #st:early_take("up1", "11"))
    end)

    it("issues increasing ids per counter name, and a node id", function()
        assert.same({ 1, 2, 3 }, { st:next_id("msg"), st:next_id("msg"), st:next_id("msg") })
        assert.equal(1, st:next_id("other"))
        local node = st:node_id()
        assert.is_true(node >= 1 and node < 2 ^ 32 and node == math.floor(node))
    end)

    it("expires in bounded batches on the caller's clock, reporting what was lost", function()
        for i = 1, 5 do
            st:put(msg("f" .. i))
            st:update("f" .. i, { final = true, done = 1000 + i, state = store.state.DELIVERED })
        end
        local stuck = st:put(msg("stuck"))                 -- never final: kept until 1000 + ttl
        local long = st:put(msg("long", { expires = 5000 }))   -- kept until 5000 + ttl: lasting
        st:outbox_push("A", "held", { ref = "f1", expires = 2000 })
        st:early_put("up1", "k", "early", 2000)
        local ttl = 86400
        local r = st:expire(1000 + ttl, 2)
        assert.equal(0, r.messages)                        -- in key order: "stuck" waits behind f1
        assert.same({ { rowid = 1, account = "A", ref = "f1" } }, r.outbox)
        assert.same({ { rowid = 1, upstream = "up1", key = "k" } }, r.early)
        assert.is_false(r.more)
        r = st:expire(1005 + ttl, 2)
        assert.equal(2, r.messages)
        assert.is_true(r.more)                             -- a full batch: call again
        assert.same({}, r.unfinished)
        r = st:expire(1005 + ttl, 2)
        assert.equal(2, r.messages)
        r = st:expire(1005 + ttl, 2)
        assert.equal(2, r.messages)                        -- f5, and "stuck" at last
        assert.same({ { id = "stuck", key = stuck, part = 0, account = "acct", state = 0 } }, r.unfinished)
        r = st:expire(1005 + ttl, 2)
        assert.equal(0, r.messages)                        -- "long" is not due, and not in the way
        assert.is_false(r.more)
        r = st:expire(5000 + ttl, 2)
        assert.same({ { id = "long", key = long, part = 0, account = "acct", state = 0 } }, r.unfinished)
        local s = st:stats()
        assert.equal(0, s.messages.value)
        assert.equal(0, s.outbox.value)
        assert.equal(9, s.expired)
    end)

    it("keys messages by an integer: a record without a text id, its parts, recent ones, due ones", function()
        local function keyed(t)
            local rec = { account = "acct", source = "src", dest = "4477", submitted = 1000, final = true,
                          state = store.state.DELIVERED, done = 1001 }
            for k, v in pairs(t or {}) do rec[k] = v end
            return assert(st:put(rec))
        end
        local k1 = keyed()
        local k2 = keyed { submitted = 1001 }
        assert.equal(k2 + 1, keyed { submitted = 1001, part = 1, dest = "4478" })
        local k3 = keyed { submitted = 1002, due = 1010 }
        assert.equal(k1 + 1, k2)
        local r = st:get(k1)
        assert.equal(k1, r.key)
        assert.is_nil(r.id)
        assert.is_true(r.final)
        assert.is_false(r.lasting)
        assert.is_nil(st:get(k3 + 100))
        assert.same({ "4477", "4478" }, ids(st:parts(k2), "dest"))
        assert.same({}, st:parts(k2 + 1))                 -- not a part 0
        assert.equal(1, st:update(k2 + 1, { state = store.state.DELETED, done = 1003 }))
        assert.equal(store.state.DELETED, st:get(k2 + 1).state)
        assert.equal(store.state.DELIVERED, st:get(k2).state)
        -- newest first, since a time, by address
        assert.same({ k3, k2 }, ids(st:recent { account = "acct", source = "src", dest = "4477", since = 1001 }, "key"))
        assert.same({ k3 }, ids(st:recent { account = "acct", source = "src", dest = "4477", since = 1001,
                                            limit = 1 }, "key"))
        assert.same({}, st:recent { account = "acct", source = "src", dest = "4477", since = 1003 })
        -- due ones are taken once
        assert.equal(1010, st:next_due())
        assert.same({}, st:take_due(1009, 10))
        assert.same({ k3 }, ids(st:take_due(1010, 10), "key"))
        assert.same({}, st:take_due(1010, 10))
        assert.is_nil(st:next_due())
        assert.is_nil(st:get(k3).due)
    end)

    it("puts the same columns again and again through a putter, values in order", function()
        local put = st:putter { "account", "source", "dest", "submitted", "final", "err", "due" }
        local k1 = assert(put("acct", "src", "4477", 1000, true, false, nil))
        local k2 = assert(put("acct", "src", "4478", 1001, false, 7, 1005))
        assert.equal(k1 + 1, k2)
        local r1, r2 = st:get(k1), st:get(k2)
        assert.same({ "4477", true, 0 }, { r1.dest, r1.final, r1.err })        -- false: no value (err's default)
        assert.is_nil(r1.due)
        assert.same({ "4478", false, 7, 1005 }, { r2.dest, r2.final, r2.err, r2.due })
        assert.has_error(function() put("acct", "src", 4479, 1002) end, "put: field 'dest' must be a string, got number")
        assert.has_error(function() st:putter { "acount" } end, "putter: unknown field 'acount'")
        assert.has_error(function() st:putter { "keep_until" } end, "putter: keep_until cannot be given to a putter")
        assert.has_error(function() st:putter {} end)
        -- put(rec) reads false as no value too, so one record table serves every put
        local rec = { account = "acct", submitted = 1003, err = false, pdu = false, final = false }
        local r = st:get(assert(st:put(rec)))
        assert.same({ 0, false }, { r.err, r.final })
        assert.is_nil(r.pdu)
    end)

    it("counts writes per transaction and commits them", function()
        assert.is_false(st:in_txn())
        st:put(msg("c1"))
        st:outbox_push("A", "p")
        assert.is_true(st:in_txn())
        assert.equal(2, st:stats().txn_writes)
        assert.equal(2, st:commit())
        assert.is_false(st:in_txn())
        assert.equal(0, st:commit())
        assert.is_true(st:check())
    end)
end)

describe("smpp.store bounds", function()
    it("answers nil, 'full' at each limit, and names it", function()
        local st = assert(store.open { path = ":memory:",
            limits = { messages = 2, outbox = 3, outbox_per_account = 2, early = 1 } })
        finally(function() st:close() end)
        assert.is_number(st:put(msg("a")))
        assert.is_number(st:put(msg("b")))
        local ok, err, detail = st:put(msg("c"))
        assert.is_nil(ok)
        assert.equal("full", err)
        assert.matches("limits.messages", detail)
        -- a finished message makes room (its trace goes early)
        st:update("a", { final = true, done = 1001 })
        assert.is_number(st:put(msg("c")))
        assert.is_nil(st:get("a"))
        assert.equal(1, st:stats().evicted)
        assert(st:outbox_push("A", "1"))
        assert(st:outbox_push("A", "2"))
        ok, err, detail = st:outbox_push("A", "3")
        assert.equal("full", err)
        assert.matches("outbox_per_account", detail)
        assert(st:outbox_push("B", "3"))
        ok, err, detail = st:outbox_push("B", "4")
        assert.equal("full", err)
        assert.matches("limits.outbox", detail)
        assert.is_true(st:early_put("u", "k", "r", 10))
        ok, err = st:early_put("u", "k2", "r", 10)
        assert.equal("full", err)
        local s = st:stats()
        assert.same({ value = 2, limit = 2 }, s.messages)
        assert.same({ value = 3, limit = 3 }, s.outbox)
        assert.same({ value = 1, limit = 1 }, s.early)
    end)

    it("refuses new rows at the soft limit short of limits.size_mb, and says so; the turn is not lost", function()
        local dir, st = tmpdir(), nil
        finally(function()          -- busted keeps one finally per test
            if st then st:close() end
            rmdir(dir)
        end)
        st = assert(store.open { path = dir .. "/small.db", limits = { size_mb = 1 } })
        local ok, err, detail
        for i = 1, 400 do
            ok, err, detail = st:put(msg("big" .. i, { pdu = ("x"):rep(8000) }))
            if not ok then break end
        end
        assert.is_nil(ok)
        assert.equal("full", err)                -- the callers' ESME_RMSGQFUL, as for a bound
        assert.matches("at its soft limit (limits.size_mb 1 MiB less 256 KiB", detail, 1, true)
        -- so is a new outbox item; what was put before is kept (the turn is not lost)
        ok, err = st:outbox_push("A", "p")
        assert.same({ nil, "full" }, { ok, err })
        local stored = st:stats().messages.value
        assert.truthy(stored > 50)
        assert.truthy(st:commit())
        assert.equal(stored, st:stats().messages.value)
        -- changes to stored rows still have room: the last tenth is theirs
        assert.equal(1, st:update("big1", { state = 2, final = true }))
        assert.truthy(st:commit())
    end)
end)

describe("smpp.store files", function()
    local dir
    before_each(function() dir = tmpdir() end)
    after_each(function() rmdir(dir) end)

    it("keeps what was committed across close and reopen, in a directory it creates", function()
        local path = dir .. "/var/db/store.db"
        local st = assert(store.open { path = path })
        local node = st:node_id()
        st:put(msg("kept", { trace = "accepted" }))
        st:outbox_push("A", "held")
        local id = st:next_id("msg")
        assert.equal(2, st:close())                       -- close commits
        assert.is_true(exists(path))
        st = assert(store.open { path = path })
        finally(function() st:close() end)
        assert.equal(node, st:node_id())
        assert.equal("1000.000 accepted\n", st:get("kept").trace)
        assert.equal(1, st:outbox_count("A"))
        assert.is_true(st:next_id("msg") > id)
        assert.same({ value = 1, limit = 1000000 }, st:stats().messages)
    end)

    it("loses the uncommitted turn of a store dropped without close, never an id", function()
        local path = dir .. "/crash.db"
        local st = assert(store.open { path = path })
        local issued = { st:next_id("msg") }   -- a counter's first use commits its block
        st:put(msg("committed"))
        st:commit()
        st:put(msg("uncommitted"))
        for i = 2, 600 do issued[i] = st:next_id("msg") end
        assert.is_true(st:in_txn())
        st = nil
        collectgarbage()                                  -- as a crash: no commit
        collectgarbage()
        st = assert(store.open { path = path })
        finally(function() st:close() end)
        assert.is_table(st:get("committed"))
        assert.is_nil(st:get("uncommitted"))
        assert.is_true(st:next_id("msg") > issued[#issued])
    end)

    it("keeps every put in a transaction when a block of keys runs out", function()
        -- a block's end commits early; the put that starts the next block
        -- must still be in a transaction, or its answer is not held for
        -- the commit that stores it (and a crash loses an acknowledged row)
        local path = dir .. "/blocks.db"
        local st = assert(store.open { path = path })
        local keys, outside = {}, {}
        for i = 1, 2600 do
            keys[i] = assert(st:put { account = "a", dest = "1", submitted = 1000, final = true })
            if not st:in_txn() then outside[#outside + 1] = keys[i] end
        end
        assert.same({}, outside)
        assert.equal(2600, st:commit())
        st = nil
        collectgarbage()                                  -- as a crash after the commit
        collectgarbage()
        st = assert(store.open { path = path })
        finally(function() st:close() end)
        local missing = {}
        for _, k in ipairs(keys) do if not st:get(k) then missing[#missing + 1] = k end end
        assert.same({}, missing)
        assert.is_true(st:put { account = "a", dest = "1", submitted = 1000 } > keys[#keys])
    end)

    it("never issues a key again after its WAL lost the last commits", function()
        -- a child puts and commits, then dies (no close: the commits are
        -- only in the WAL); the WAL is then lost, as a power loss under
        -- sync normal or a damaged log may leave it
        local path = dir .. "/walloss.db"
        local child = dir .. "/child.lua"
        local f = assert(io.open(child, "w"))
        f:write([[
            local store = require "smpp.store"
            local st = assert(store.open { path = arg[1], lock = true })
            local last
            for i = 1, 2500 do
                last = assert(st:put { account = "a", dest = "1", submitted = 1000, final = true })
                if i % 100 == 0 then assert(st:commit()) end
            end
            assert(st:commit())
            print(last)
            os.exit(0)
        ]])
        f:close()
        local out, err, rc = run.sh(string.format("LUA_PATH=%s LUA_CPATH=%s luajit %s %s", run.quote(package.path),
            run.quote(package.cpath), run.quote(child), run.quote(path)))
        assert.equal(0, rc, err)
        local last = assert(tonumber(out:match("(%d+)")), out .. err)
        assert.is_true(last >= 2500)
        assert.is_true(exists(path .. "-wal"))
        assert(os.remove(path .. "-wal"))
        os.remove(path .. "-shm")
        local st = assert(store.open { path = path, lock = true })
        finally(function() st:close() end)
        assert.is_nil(st:get(last))                          -- the messages went with the log
        local key = assert(st:put { account = "a", dest = "1", submitted = 1000 })
        assert.is_true(key > last, "key " .. key .. " issued again (the last before the loss: " .. last .. ")")
    end)

    it("opens with each sync mode", function()
        for _, mode in ipairs { "off", "normal", "full" } do
            local st = assert(store.open { path = dir .. "/sync.db", sync = mode })
            assert.is_number(st:put(msg("s-" .. mode)))
            assert.equal(1, st:close())
        end
        local st = assert(store.open { path = dir .. "/sync.db" })
        finally(function() st:close() end)
        assert.equal(3, st:stats().messages.value)
    end)

    it("gives two stores different node ids", function()
        local a = assert(store.open { path = dir .. "/a.db" })
        local b = assert(store.open { path = dir .. "/b.db" })
        finally(function() a:close(); b:close() end)
        assert.are_not.equal(a:node_id(), b:node_id())
    end)

    it("names the path and the reason when it cannot open", function()
        local f = assert(io.open(dir .. "/text.db", "w"))
        f:write(("not a database "):rep(20))
        f:close()
        local st, err = store.open { path = dir .. "/text.db" }
        assert.is_nil(st)
        assert.equal("store " .. dir .. "/text.db: not an SQLite database (file is not a database)", err)
        st, err = store.open { path = dir .. "/text.db/sub/x.db" }
        assert.is_nil(st)
        assert.matches("cannot create directory", err)
        st, err = store.open { path = dir .. "/x.db", sync = "fast" }
        assert.is_nil(st)
        assert.equal('store.sync: "fast" is not one of normal, full, off', err)
        st, err = store.open { sync = "off" }
        assert.equal("store.path: missing (or store.redis: a Redis store)", err)
        st, err = store.open { path = ":memory:", redis = "127.0.0.1:6379" }
        assert.is_nil(st)
        assert.equal("store.path, store.redis: give one of them", err)
    end)

    it("resolves the path against the configuration file", function()
        local st = assert(store.from_config({ path = "data/s.db" }, dir .. "/conf.lua"))
        st:close()
        assert.is_true(exists(dir .. "/data/s.db"))
    end)
end)

describe("smpp.store sticky routes", function()
    it("hold a long message's first route until its ttl, keep the first choice, expire and count", function()
        local st = assert(store.open { path = ":memory:", limits = { sticky = 2 } })
        finally(function() st:close() end)
        local k1 = "acct\0src\0dst\0u9"
        assert.is_nil(st:sticky_get(k1, 1000))
        assert.is_true(st:sticky_put(k1, "rr", "B", 10, 1000))
        assert.is_false(st:sticky_put(k1, "uk", "A", 10, 1001))          -- the first part's choice stays
        assert.same({ "rr", "B" }, { st:sticky_get(k1, 1005) })
        assert.is_nil(st:sticky_get("acct\0src\0dst\0u8", 1005))
        assert.is_nil(st:sticky_get(k1, 1010))                           -- its ttl is over
        assert.is_true(st:sticky_put("k2", "pass", nil, 100, 1000))      -- no upstream: nil back
        local route, up = st:sticky_get("k2", 1001)
        assert.same({ "pass", nil }, { route, up })
        -- full: the one that expires first makes room, counted apart
        assert.is_true(st:sticky_put("k3", "rr", "A", 50, 1001))
        local s = st:stats()
        assert.same({ value = 2, limit = 2 }, s.sticky)
        assert.equal(1, s.sticky_evicted)
        assert.is_nil(st:sticky_get(k1, 1002))                            -- k1 expired first (1010)
        assert.equal("pass", (st:sticky_get("k2", 1002)))
        assert.equal(3, st:commit())
        local x = st:expire(1060, 100)
        assert.equal(1, x.sticky)                                         -- k3
        assert.same({ value = 1, limit = 2 }, st:stats().sticky)
        assert.has_error(function() st:sticky_put(k1, "rr", "B", 0, 1000) end)
        assert.has_error(function() st:sticky_get(k1) end)
    end)
end)

describe("smpp.store module functions", function()
    it("act on the store in use", function()
        assert.has_error(function() store.get("x") end,
            "smpp.store.get: no store in use (conf.store, or store.use(st))")
        local st = store.use(assert(store.open { path = ":memory:" }))
        finally(function() store.use(nil); st:close() end)
        assert.equal(st, store.current())
        assert.is_number(store.put(msg("via-module")))
        assert.equal("via-module", store.get("via-module").id)
        assert.equal(1, store.commit())
        assert.equal("DELIVERED", store.state_name[store.state.DELIVERED])
        for _, name in ipairs(store.methods) do
            assert.is_function(store[name], name)
            assert.is_not_nil(st[name], name)          -- the backend has every method
        end
    end)
end)

describe("#integration smppgw check with a store", function()
    local dir
    before_each(function() dir = tmpdir() end)
    after_each(function() rmdir(dir) end)

    local function conf(path)
        local f = assert(io.open(dir .. "/conf.lua", "w"))
        f:write(string.format("return { store = { path = %q, sync = 'off' } }", path))
        f:close()
        return dir .. "/conf.lua"
    end

    it("opens and checks the store, reporting its levels", function()
        assert(os.execute("mkdir -p " .. run.quote(dir .. "/var")))
        assert(store.open { path = dir .. "/var/store.db" }):close()
        local out, err, rc = run.smppgw({ "check", conf("var/store.db") })
        assert.equal(0, rc, err)
        assert.matches("store: 0 messages, 0 in outboxes", out)
    end)

    it("makes no store file and no directory where there is none yet", function()
        local out, err, rc = run.smppgw({ "check", conf("var/store.db") })
        assert.equal(0, rc, err)
        assert.matches("var/store.db does not exist yet (run creates it)", out, 1, true)
        assert.is_false(exists(dir .. "/var"))
    end)

    it("run refuses a small store whose pages check calls damaged, with check's words", function()
        -- one page of a table's b-tree garbled: the levels still count
        -- (the open reads them), only quick_check finds it; `run` checks
        -- a file of up to 64 MiB as `check` does, and does not start
        local path = dir .. "/page.db"
        local st = assert(store.open { path = path })
        for i = 1, 300 do st:put(msg("d" .. i, { pdu = ("p"):rep(200) })) end
        st:close()
        local damaged
        for page = 3, 40 do
            os.execute("cp " .. run.quote(path) .. " " .. run.quote(dir .. "/try.db"))
            local f = assert(io.open(dir .. "/try.db", "r+b"))
            f:seek("set", 4096 * (page - 1))
            local junk = {}
            for k = 1, 4096 do junk[k] = string.char((k * 7919 + page * 104729) % 251) end
            f:write(table.concat(junk))
            f:close()
            local out, err = run.smppgw({ "check", conf("try.db") })
            if (out .. err):match("corrupt %(quick_check:") then damaged = page break end
        end
        assert.truthy(damaged, "no page whose damage only quick_check finds")
        local out, err, rc = run.sh("timeout 5 " .. run.quote(run.bin) .. " run " .. run.quote(conf("try.db"))
                                     .. " -l 127.0.0.1:0 --http 127.0.0.1:0")
        assert.equal(1, rc, out .. err)
        assert.matches("try.db: corrupt (quick_check:", out .. err, 1, true)
    end)

    it("exits 1 naming a damaged store file", function()
        local path = dir .. "/bad.db"
        local st = assert(store.open { path = path })
        for i = 1, 300 do st:put(msg("d" .. i, { pdu = ("p"):rep(200) })) end
        st:close()
        local f = assert(io.open(path, "r+b"))
        f:seek("set", 4096 * 2)
        f:write(("\165"):rep(4096 * 3))
        f:close()
        local _, err, rc = run.smppgw({ "check", conf("bad.db") })
        assert.equal(1, rc)
        assert.matches("store " .. dir:gsub("%p", "%%%0") .. "/bad.db: corrupt", err)
    end)

    it("calls a store whose schema version is damaged corrupt, not the wrong file", function()
        local path = dir .. "/meta.db"
        assert(store.open { path = path }):close()
        local _, err, rc = run.sh("sqlite3 " .. run.quote(path) .. " \"DELETE FROM meta WHERE key = 'schema'\"")
        assert.equal(0, rc, err)
        _, err, rc = run.smppgw({ "check", conf("meta.db") })
        assert.equal(1, rc)
        assert.matches("meta%.db: corrupt %(no schema version in meta%)", err)
        assert.not_matches("not a smppgw store", err)
    end)

    it("names a store key that is wrong", function()
        local f = assert(io.open(dir .. "/conf.lua", "w"))
        f:write("return { store = { path = 's.db', limits = { mesages = 5 } } }")
        f:close()
        local _, err, rc = run.smppgw({ "check", dir .. "/conf.lua" })
        assert.equal(1, rc)
        assert.matches("store.limits.mesages: unknown key", err)
    end)
end)
