-- store_put_spec -- the rows that wait and go in together (store_put.c):
-- every key a put answered names its own row, whatever a turn's count of
-- rows, keys that do not follow one another, and a higher key written
-- into the file by another writer.
local store = require "smpp.store"
local run = require "helpers.run"
local tmp = require "helpers.tmp"

-- A lean row (no text id: it waits) whose source names i.
local function put(st, i)
    return st:put { account = "acct", source = "s" .. i, dest = "4477", submitted = 1000 + i, final = true,
                    state = store.state.DELIVERED, done = 1001 + i }
end

-- The keys of keys[] whose rows are missing or are not theirs.
local function wrong(st, keys)
    local bad = {}
    for i, k in ipairs(keys) do
        local r = st:get(k)
        if not r or r.source ~= "s" .. i or r.submitted ~= 1000 + i then bad[#bad + 1] = k end
    end
    return bad
end

-- Rows of the file at path (read by another process: committed ones only) matching where.
local function count(path, where)
    local out, err, rc = run.sh("sqlite3 " .. run.quote(path) .. " \"SELECT count(*) FROM messages WHERE "
                                .. where .. "\"")
    assert.equal(0, rc, err)
    return tonumber(out)
end

-- Puts rows of 200 KiB until one fails (store.limits.size_mb): the turn is lost.
local function fill_until_refused(st, tries)
    local big = string.rep("x", 200 * 1024)
    for i = 1, tries do
        if not st:put { account = "acct", source = "big" .. i, submitted = 1, final = true, pdu = big } then
            return
        end
    end
    error("the size limit did not fail a write")
end

describe("smpp.store put", function()
    it("stores each row under the key its put answered, for every count of rows in a turn", function()
        local st = assert(store.open { path = ":memory:" })
        finally(function() st:close() end)
        -- 1 .. 70: fewer than a batch, a batch and what is left (16, 8, 4, 2, 1 at a time)
        for n = 1, 70 do
            local keys = {}
            for i = 1, n do keys[i] = assert(put(st, i)) end
            assert.equal(n, st:commit())
            assert.same({}, wrong(st, keys), "with " .. n .. " rows in the turn")
        end
    end)

    it("answers a putter's row's id with its key when the row has an id format, as get shows it", function()
        local msgid = require "smpp.msgid"
        local st = assert(store.open { path = ":memory:" })
        finally(function() st:close() end)
        local node = st:node_id()
        for _, f in ipairs { "decimal", "hex", "uuid" } do
            local put = st:putter { "account", "submitted", "final", "id_format" }
            local key, id = put("acct", 1000, true, msgid.code[f])
            assert.is_number(key)
            assert.equal(msgid.make(f, node, key), id)
            assert.equal(id, st:get(key).id)
        end
        -- parts: part 0 answers its id; a later part (whose id is its part
        -- 0's, which the caller has) the key alone, whatever part it names
        local put = st:putter { "account", "submitted", "part", "id_format" }
        local k0, id0 = put("acct", 1000, 0, msgid.code.hex)
        assert.equal(msgid.make("hex", node, k0), id0)
        for _, part in ipairs { 1, -2, 1e9 } do
            assert.equal(1, select("#", put("acct", 1000, part, msgid.code.hex)))
        end
        assert.equal(id0, st:get(k0 + 1).id)
        -- no id format: the key alone
        local plain = st:putter { "account", "submitted" }
        assert.equal(1, select("#", plain("acct", 1000)))
    end)

    it("stores rows whose keys do not follow one another under their own keys", function()
        local st = assert(store.open { path = ":memory:" })
        finally(function() st:close() end)
        -- a caller taking a value of the key counter between two puts
        local keys = {}
        for i = 1, 40 do
            keys[i] = assert(put(st, i))
            if i % 3 == 0 then st:next_id("messages.key") end
        end
        assert.equal(40, st:commit())
        assert.same({}, wrong(st, keys))
        assert.equal(keys[1] + 1, keys[2])
        assert.equal(keys[3] + 2, keys[4])
    end)

    for _, high in ipairs { "5000000", "9007199254740000", "9223372036854775807" } do
    it("loses a turn whose rows would take other keys than theirs (another writer's key " .. high
        .. "), then names every row's key", function()
        local dir = tmp.dir()
        local path = dir .. "/put.db"
        local st = assert(store.open { path = path })
        finally(function() st:close() end)
        assert(put(st, 1))
        assert.equal(1, st:commit())
        -- another writer (an operator's shell) puts a row with a key above the counter's
        local _, err, rc = run.sh("sqlite3 " .. run.quote(path) .. " \"INSERT INTO messages (key, submitted, "
                                  .. "keep_until, final) VALUES (" .. high .. ", 1, 2, 1)\"")
        assert.equal(0, rc, err)
        -- the 32nd put inserts the batch: its rows would go in as the higher key + 1 ...
        local keys = {}
        for i = 1, 31 do keys[i] = assert(put(st, i)) end
        assert.is_true(keys[31] < 5000000)
        local k, perr = put(st, 32)
        assert.is_nil(k)
        assert.matches("^io: put: keys", perr)
        assert.is_nil(put(st, 33))                          -- the turn is lost until a commit says so
        local ok, cerr, lost = st:commit()
        assert.is_nil(ok)
        assert.matches("keys " .. keys[1] .. " .. " .. keys[31] + 1 .. " went in as others", cerr, 1, true)
        assert.equal(31, lost)
        for _, key in ipairs(keys) do assert.is_nil(st:get(key)) end
        local n = run.sh("sqlite3 " .. run.quote(path) .. " 'SELECT count(*) FROM messages'")
        assert.equal(2, tonumber(n))                        -- nothing went in under a key not its own
        -- the next turns go in, each row under the key its put answered
        for _ = 1, 2 do
            keys = {}
            for i = 1, 40 do keys[i] = assert(put(st, i)) end
            assert.is_true(keys[40] < 5000000)
            assert.equal(40, st:commit())
            assert.same({}, wrong(st, keys))
        end
        n = run.sh("sqlite3 " .. run.quote(path) .. " 'SELECT count(*) FROM messages WHERE key = " .. high .. "'")
        assert.equal(1, tonumber(n))
    end)
    end
end)

describe("smpp.store after a commit that failed", function()
    it("refuses a value of a block that runs out mid-turn rather than commit the turn's first rows early", function()
        local dir = tmp.dir()
        local path = dir .. "/put.db"
        local st = assert(store.open { path = path, limits = { size_mb = 1 } })
        finally(function() st:close() end)
        assert(put(st, 1))
        -- a turn that writes more than the file may hold (limits.size_mb):
        -- a write fails, and with it the turn
        fill_until_refused(st, 10)
        assert.is_nil((st:commit()))
        -- the next turn: a row, then values until its block runs out
        assert(put(st, 2))
        local refused
        for _ = 1, 5000 do
            local v, err, detail = st:next_id("messages.key")
            if not v then
                refused = tostring(err) .. " " .. tostring(detail)
                break
            end
        end
        assert.is_truthy(refused, "no value was refused")
        assert.matches("its next block is not stored yet", refused, 1, true)
        assert.equal(0, count(path, "source = 's2'"))                      -- not committed in the middle of the turn
        assert.is_truthy(st:commit())                    -- the turn's commit holds the row and the block
        assert.equal(1, count(path, "source = 's2'"))
        assert.is_number(st:next_id("messages.key"))     -- and values come again
        assert(put(st, 3))
        assert.is_truthy(st:commit())
        assert.equal(1, count(path, "source = 's3'"))
    end)
end)

describe("smpp.store keys past a block's end", function()
    it("stores a turn whose puts use up blocks of keys in its own commit, whole or not at all", function()
        local dir = tmp.dir()
        local path = dir .. "/keys.db"
        local st = assert(store.open { path = path, limits = { size_mb = 2 } })
        finally(function() st:close() end)
        -- 2,500 rows in one turn: more than the first block of keys (1,000)
        -- and its half-way successor; nothing is committed before the turn's
        -- commit (another reader of the file sees none of them)
        local keys = {}
        for i = 1, 2500 do keys[i] = assert(put(st, i)) end
        assert.equal(0, count(path, "source LIKE 's%'"))
        assert.equal(2500, st:commit())
        assert.same({}, wrong(st, keys))
        -- a turn that uses up its block, then fails (the file's size limit):
        -- none of its rows is stored, not the first block's either
        local lost = {}
        for i = 1, 2500 do
            lost[i] = assert(st:put { account = "acct", source = "t" .. i, dest = "4477", submitted = 1,
                                       final = true, state = store.state.DELIVERED, done = 2 })
        end
        fill_until_refused(st, 20)
        assert.is_nil((st:commit()))
        assert.equal(0, count(path, "source LIKE 't%' OR source LIKE 'big%'"))
        for _, k in ipairs(lost) do assert.is_nil(st:get(k)) end
        -- the next turns go in, under keys above every key handed out before
        local after = {}
        for i = 1, 1500 do after[i] = assert(put(st, i)) end
        assert.equal(1500, st:commit())
        assert.same({}, wrong(st, after))
        assert.is_true(after[1] > keys[2500])
        -- a block's end is stored with the rows that use it: with every row
        -- gone from the file, a store opened again starts above the keys
        st:close()
        assert.equal(4000, count(path, "source LIKE 's%'"))
        local _, err, rc = run.sh("sqlite3 " .. run.quote(path) .. " 'DELETE FROM messages'")
        assert.equal(0, rc, err)
        st = assert(store.open { path = path })
        local k = assert(put(st, 1))
        assert.is_true(k > after[1500], "key " .. k .. " was handed out before (up to " .. after[1500] .. ")")
        assert.is_truthy(st:commit())
    end)

    it("reserves a busy counter's keys in growing blocks, not every thousand keys", function()
        local dir = tmp.dir()
        local path = dir .. "/grow.db"
        local st = assert(store.open { path = path })
        finally(function() st:close() end)
        -- 12,000 keys in twelve turns, well within a second on any machine
        -- that runs this suite: blocks of 1,000, 2,000, 4,000, 8,000 and
        -- 16,000 values (each reserved within a second of the one before)
        local keys = {}
        for _ = 1, 12 do
            for i = 1, 1000 do keys[#keys + 1] = assert(put(st, i)) end
            assert.equal(1000, st:commit())
        end
        local out, err, rc = run.sh("sqlite3 " .. run.quote(path)
                                    .. " \"SELECT hw FROM counters WHERE name = 'messages.key'\"")
        assert.equal(0, rc, err)
        -- with blocks of 1,000 the mark would be within 1,000 of the last key
        assert.is_true(tonumber(out) > keys[#keys] + 8000, "hw " .. tostring(out) .. ", last key " .. keys[#keys])
    end)
end)

describe("smpp.store lock file", function()
    it("keeps the newest counter names when there are more than fit, and never fails a reservation for it",
       function()
        -- one new counter name a "day" (a per-day counter), the store
        -- opened once a day with the lock, as smppgw run does: the lock
        -- file kept every name ever seen, up to 8 KiB, and then every
        -- reservation failed, message keys' included
        local dir = tmp.dir()
        local path = dir .. "/days.db"
        local name = function(day) return string.format("orders-%04d-shop-counter-with-a-longer-name", day) end
        for day = 1, 400 do
            local st = assert(store.open { path = path, lock = true })
            local v, err = st:next_id(name(day))
            assert.is_number(v, "day " .. day .. ": " .. tostring(err))
            assert.is_number((st:put { account = "a", dest = "1", submitted = 1000 + day }), "day " .. day)
            assert.is_truthy(st:commit())
            st:close()
        end
        local text = assert(io.open(path .. "-lock")):read("a")
        assert.is_true(#text <= 16384, #text .. " octets")
        assert.matches("counter " .. name(400) .. " 1001", text, 1, true)
        assert.matches("counter messages.key %d+", text)
        assert.is_nil(text:find(name(1), 1, true))      -- the oldest left out
    end)
end)
