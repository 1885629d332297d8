-- gateway_upgrade_spec -- a store written by the schema before the
-- gateway's narrow forwarding rows (5): a message waiting in a forward
-- queue there is moved when the gateway opens the file, goes out, and its
-- answer is read back with the rest of its trace; one of schema 6 (usual
-- lines as text) and one of 7 (receipts found by the text index of
-- upstream and key): their messages still get their receipts; one of 8
-- (receipt keys of id_format "string" in lower case, leading zeros
-- dropped): its messages waiting for receipts get their own, although
-- their ids differ only in case or leading zeros. An upgrade
-- runs only under the store's lock: refused while another process serves
-- the file, and not run again by a process that read the older schema but
-- got the lock after another process upgraded the file.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait_until = require("helpers.wait").wait_until
local store = require "smpp.store"
local cjson = require "cjson"
local lfs = require "lfs"

local UPSTREAM_CONF = [[return { script = 'script.lua',
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

-- What turns a store of this schema into one of schema 7: no first_sent,
-- key_num and q in fwd, receipts and queues found by the indexes of
-- (upstream, upstream_key) and (upstream, due).
local SCHEMA_7 = "ALTER TABLE fwd DROP COLUMN first_sent; DROP INDEX fwd_key; ALTER TABLE fwd DROP COLUMN key_num; "
    .. "CREATE INDEX fwd_upstream_key ON fwd (upstream, upstream_key) WHERE upstream_key IS NOT NULL; "
    .. "DROP INDEX fwd_queue; ALTER TABLE fwd DROP COLUMN q; "
    .. "CREATE INDEX fwd_queue ON fwd (upstream, due) WHERE due IS NOT NULL; "

-- A gateway on the store at path, one upstream A on port, every message
-- routed to it.
local function gateway_conf(path, port)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        store = { path = path },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "A", port = port, system_id = "gw", password = "gwpw" } },
        gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } },
    }
end

-- A submit_sm asking for a receipt, answered ESME_ROK -> the gateway's id.
local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == wire.RESP + wire.id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

describe("#integration a store of schema 5", function()
    it("is brought up to date when the gateway opens it, and a message waiting in its queue goes out", function()
        local path = tmp.dir() .. "/old.db"
        local st = assert(store.open { path = path })
        local now = os.time()
        -- as schema 5 kept a queued message: its queue place in messages
        assert(st:put { id = "old-1", account = "esme1", source = "1234", dest = "447700900123",
                        submitted = now, expires = now + 3600, due = now, upstream = "A", route = "all",
                        pdu = wire.submit_sm(1, { short_message = "from schema 5" }),
                        trace = "accepted from esme1 (session 1), route 'all', queued for A" })
        assert(st:commit())
        st:close()
        local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "DROP TRIGGER fwd_gone; DROP TABLE fwd; UPDATE meta SET value = 5 WHERE key = 'schema'"))
        assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
        local up = server.start { conf = UPSTREAM_CONF, script = [[
            local smpp = require "smpp"
            return { submit_sm = function(session, pdu)
                smpp.log("info", "took %s", pdu.short_message)
                return 0, { message_id = "u1" }
            end }]] }
        local gw = server.start { conf = gateway_conf(path, up.port) }
        assert.truthy(up:wait_log("took from schema 5", 10), gw:log_text())
        assert.truthy(wait_until(function()
            local code, body = gw:http("GET", "/messages/old-1")
            return code == 200 and body:find("accepted as u1", 1, true) ~= nil
        end, 10), gw:log_text())
        gw:stop()
        local reopened = assert(store.open { path = path })
        local m = reopened:get("old-1")
        reopened:close()
        assert.equal(1, m.state)                              -- ENROUTE, from its fwd row
        assert.matches("queued for A\n.* sent to A %(session %d+, attempt 1%): accepted as u1\n$", m.trace)
    end)
end)

describe("#integration a store of schema 6", function()
    it("is brought up to date: a sent line kept as text reads once, and its receipt's line follows it", function()
        local path = tmp.dir() .. "/six.db"
        -- "u1" for the first message; its receipt once a second one comes
        local up = server.start { conf = UPSTREAM_CONF, script = [[
            local smpp = require "smpp"
            return { submit_sm = function(session, pdu)
                if pdu.short_message ~= "now the receipt" then return 0, { message_id = "u1" } end
                smpp.post(session.system_id, { esm_class = 4, source_addr = "447700900123", destination_addr = "1234",
                    receipted_message_id = "u1", message_state = 2,
                    short_message = "id:u1 sub:001 dlvrd:001 submit date:2501311200 done date:2501311201 "
                        .. "stat:DELIVRD err:000 text:" })
                return 0, { message_id = "u2" }
            end }]] }
        local conf = gateway_conf(path, up.port)
        local gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        local mid = submit(c, "first")
        assert.truthy(wait_until(function()
            local code, body = gw:http("GET", "/messages/" .. mid)
            return code == 200 and body:find("accepted as u1", 1, true) ~= nil
        end, 10), gw:log_text())
        c:close()
        gw:stop()
        -- as schema 6 kept it: the first line in the record, the sent line
        -- in fwd, both as text, no columns for them
        local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "UPDATE messages SET trace = (SELECT printf('%.3f accepted from %s (session %d), route ''%s'', "
            .. "queued for %s', messages.submitted, messages.account, f.via, messages.route, messages.upstream) "
            .. "|| char(10) FROM fwd f WHERE f.key = messages.key) WHERE key IN (SELECT key FROM fwd WHERE via > 0); "
            .. "UPDATE fwd SET trace = printf('%.3f sent to A (session %d, attempt %d): accepted as %s', sent, sess, "
            .. "attempts, upstream_id) || char(10) WHERE sent IS NOT NULL; ALTER TABLE fwd DROP COLUMN sent; "
            .. "ALTER TABLE fwd DROP COLUMN sess; ALTER TABLE fwd DROP COLUMN rcpt; ALTER TABLE fwd DROP COLUMN via; "
            .. SCHEMA_7 .. "UPDATE meta SET value = 6 WHERE key = 'schema'"))
        assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
        gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        submit(c, "now the receipt")
        local p = assert(c:expect(function(q) return q.id == wire.id.deliver_sm end, 10), "no receipt")
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        local m
        assert.truthy(wait_until(function()
            local code, body = gw:http("GET", "/messages/" .. mid)
            m = code == 200 and cjson.decode(body)
            return m and #m.trace == 3
        end, 10), gw:log_text())
        assert.matches("^accepted from esme1 %(session %d+%), route 'all', queued for A$", m.trace[1].event)
        assert.matches("^sent to A %(session %d+, attempt 1%): accepted as u1$", m.trace[2].event)
        assert.equal("receipt from A: stat:DELIVRD err:000; delivered to esme1", m.trace[3].event)
        assert.equal("DELIVRD", m.state)
        c:close()
        gw:stop()
        local out = io.popen("sqlite3 " .. run.quote(path) .. " \"SELECT value FROM meta WHERE key = 'schema'\""):read("*a")
        assert.equal("9\n", out)
    end)
end)

describe("#integration a store of schema 7", function()
    it("is brought up to date: its messages waiting for their receipts get them, each under its own id", function()
        local path = tmp.dir() .. "/seven.db"
        -- u1, u2 for the first two messages; their receipts once a third comes
        local up = server.start { conf = UPSTREAM_CONF, script = [[
            local smpp = require "smpp"
            local n = 0
            return { submit_sm = function(session, pdu)
                n = n + 1
                if pdu.short_message == "now the receipts" then
                    for _, rid in ipairs { "u2", "u1" } do
                        smpp.post(session.system_id, { esm_class = 4, source_addr = "447700900123",
                            destination_addr = "1234", receipted_message_id = rid, message_state = 2,
                            short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                                .. "done date:2501311201 stat:DELIVRD err:000 text:" })
                    end
                end
                return 0, { message_id = "u" .. n }
            end }]] }
        local conf = gateway_conf(path, up.port)
        local function sql(q)
            return io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(q)):read("*a")
        end
        local gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        local ids = { [submit(c, "first")] = "u1", [submit(c, "second")] = "u2" }
        for id, uid in pairs(ids) do
            assert.truthy(wait_until(function()
                local code, body = gw:http("GET", "/messages/" .. id)
                return code == 200 and body:find("accepted as " .. uid, 1, true) ~= nil
            end, 10), gw:log_text())
        end
        c:close()
        gw:stop()
        -- as schema 7 kept them: no key_num, the index of (upstream, upstream_key)
        local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            SCHEMA_7 .. "UPDATE meta SET value = 7 WHERE key = 'schema'"))
        assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
        assert.equal("0\n", sql("SELECT count(*) FROM pragma_table_info('fwd') WHERE name IN ('key_num', 'q')"))
        gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        assert.equal("9\n", sql("SELECT value FROM meta WHERE key = 'schema'"))
        assert.equal("2|2|2\n", sql("SELECT count(*), count(key_num), count(q) FROM fwd WHERE upstream_key IN ('u1', 'u2')"))
        c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        submit(c, "now the receipts")
        local got = {}
        for _ = 1, 2 do
            local p = assert(c:expect(function(q) return q.id == wire.id.deliver_sm end, 10), "a receipt is missing")
            c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
            local rid = (wire.parse_sm(p.body).tlvs[0x001E] or ""):gsub("%z$", "")
            assert.is_not_nil(ids[rid], "a receipt for " .. rid)
            assert.is_nil(got[rid], "a second receipt for " .. rid)
            got[rid] = true
        end
        c:close()
        gw:stop()
        assert.equal("", sql("SELECT name FROM sqlite_master WHERE name = 'fwd_upstream_key'"))
    end)
end)

describe("#integration a store of schema 8", function()
    -- Accepts each message under the id its text is; "receipts a=STAT
    -- ..." posts a receipt for each id a ... with that stat.
    local UPSTREAM = [[
        local smpp = require "smpp"
        return { submit_sm = function(session, pdu)
            local text = pdu.short_message
            if text:find("^receipts ") then
                for rid, stat in text:gmatch("([^%s=]+)=(%u+)") do
                    smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
                        receipted_message_id = rid, message_state = stat == "DELIVRD" and 2 or 5,
                        short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                            .. "done date:2501311201 stat:" .. stat .. " err:000 text:" })
                end
                return 0, { message_id = "r" }
            end
            return 0, { message_id = text }
        end }]]

    for _, policy in ipairs { "own", "upstream" } do
        it("is brought up to date: ids that differ in case or leading zeros get their own receipts (message_id "
            .. policy .. ")", function()
            local path = tmp.dir() .. "/eight.db"
            local up = server.start { conf = [[return { script = 'script.lua', session = { window = 100 },
                accounts = { { system_id = 'gw', password = 'gwpw' } } }]], script = UPSTREAM }
            local conf = "return " .. server.lua {
                script = server.root .. "/scripts/gateway.lua", store = { path = path },
                accounts = { { system_id = "esme1", password = "pw1" }, { system_id = "esme2", password = "pw2" } },
                upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw" } },
                gateway = { message_id = policy, routes = { { name = "all", prefix = "", to = { "A" } } } } }
            local function sql(q)
                return io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(q)):read("*a")
            end
            local function esme(gw, n, kind)
                local c = wire.connect(gw.port)
                assert.equal(0, c:bind(kind or "transceiver", "esme" .. n, "pw" .. n).status)
                return c
            end
            -- every key's number 0 (the store's test hook): schema 8's keys
            -- below need no numbers of their own
            local gw = server.start { env = { SMPPGW_STORE_KEY_BITS = "0" }, conf = conf }
            assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
            local c1, c2 = esme(gw, 1), esme(gw, 2)
            local mine = { { [submit(c1, "msg1")] = true, [submit(c1, "01")] = true },
                           { [submit(c2, "MSG1")] = true, [submit(c2, "1")] = true } }
            assert.truthy(wait_until(function()
                return sql("SELECT (SELECT count(*) FROM fwd WHERE upstream_key IS NOT NULL) + "
                    .. "(SELECT count(*) FROM messages WHERE upstream_key IS NOT NULL)") == "4\n"
            end, 10), gw:log_text())
            c1:close()
            c2:close()
            gw:stop()
            -- as schema 8 keyed them: in lower case, leading zeros dropped
            local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
                "UPDATE fwd SET upstream_key = lower(ltrim(upstream_key, '0')) WHERE upstream_key IS NOT NULL; "
                .. "UPDATE messages SET upstream_key = lower(ltrim(upstream_key, '0')) WHERE upstream_key IS NOT NULL; "
                .. "ALTER TABLE fwd DROP COLUMN first_sent; "
                .. "UPDATE meta SET value = 8 WHERE key = 'schema'; DELETE FROM meta WHERE key = 'exact_keys_from'"))
            assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
            assert.equal("1|msg1\n", sql("SELECT min(upstream_key), max(upstream_key) FROM (SELECT upstream_key "
                .. "FROM fwd UNION ALL SELECT upstream_key FROM messages) WHERE upstream_key IS NOT NULL"))
            gw = server.start { conf = conf }
            assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
            assert.equal("9\n", sql("SELECT value FROM meta WHERE key = 'schema'"))
            c1, c2 = esme(gw, 1), esme(gw, 2)
            -- each older message's receipt after the newer one's: under one key both went to the newer
            submit(esme(gw, 1, "transmitter"), "receipts MSG1=UNDELIV 1=UNDELIV msg1=DELIVRD 01=DELIVRD")
            local got, cs = { {}, {} }, { c1, c2 }
            local deadline = wire.gettime() + 10
            while (#got[1] < 2 or #got[2] < 2) and wire.gettime() < deadline do
                for i, c in ipairs(cs) do
                    local p = c:expect(function(q) return q.id == wire.id.deliver_sm end, 0.05)
                    if p then
                        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
                        local d = wire.parse_sm(p.body)
                        local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
                        assert.is_true(mine[i][rid], "esme" .. i .. " got a receipt for " .. rid)
                        assert.equal(i == 1 and "DELIVRD" or "UNDELIV", d.short_message:match("stat:(%u+)"))
                        got[i][#got[i] + 1] = rid
                    end
                end
            end
            assert.equal(2, #got[1], gw:log_text())
            assert.equal(2, #got[2], gw:log_text())
            assert.are_not.equal(got[1][1], got[1][2])
            assert.are_not.equal(got[2][1], got[2][2])
        end)
    end

    it("says once, for an upstream whose receipts write its ids in another case, that it declares normalized",
        function()
        local path = tmp.dir() .. "/eight.db"
        local up = server.start { conf = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]], script = UPSTREAM }
        local conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", store = { path = path },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } } }
        local function sql(q)
            return io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(q)):read("*a")
        end
        local gw = server.start { env = { SMPPGW_STORE_KEY_BITS = "0" }, conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        submit(c, "AB1")
        submit(c, "AB2")
        assert.truthy(wait_until(function()
            return sql("SELECT count(*) FROM fwd WHERE upstream_key IS NOT NULL") == "2\n"
        end, 10), gw:log_text())
        c:close()
        gw:stop()
        local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "UPDATE fwd SET upstream_key = lower(ltrim(upstream_key, '0')) WHERE upstream_key IS NOT NULL; "
            .. "ALTER TABLE fwd DROP COLUMN first_sent; "
            .. "UPDATE meta SET value = 8 WHERE key = 'schema'; DELETE FROM meta WHERE key = 'exact_keys_from'"))
        assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
        gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        c = wire.connect(gw.port)
        assert.equal(0, c:bind("transmitter", "esme1", "pw1").status)
        submit(c, "receipts ab1=DELIVRD ab2=DELIVRD")
        assert.truthy(wait_until(function() return gw:stats().gateway.queues.A.receipts_early == 2 end, 10),
            gw:log_text())
        assert.truthy(gw:wait_log("receipt from A for ab1: .*set id_format = 'normalized' on it", 5), gw:log_text())
        assert.equal(1, gw:count_log("id_format = 'normalized'"), gw:log_text())
    end)
end)

describe("#integration early receipts kept under schema 8's keys", function()
    -- The first time it sees a text, posts its receipt (DELIVRD for a
    -- lower-case text, else UNDELIV) and answers 10 s later; the next
    -- time it answers at once, with the text as the id.
    local UPSTREAM = [[
        local smpp = require "smpp"
        local seen = {}
        return { submit_sm = function(session, pdu)
            local text = pdu.short_message
            if not seen[text] then
                seen[text] = true
                local stat = text == text:lower() and "DELIVRD" or "UNDELIV"
                smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
                    receipted_message_id = text, message_state = stat == "DELIVRD" and 2 or 5,
                    short_message = "id:" .. text .. " sub:001 dlvrd:001 submit date:2501311200 "
                        .. "done date:2501311201 stat:" .. stat .. " err:000 text:" })
                smpp.sleep(10)
            end
            return 0, { message_id = text }
        end }]]

    it("reach their own messages, not those whose id has their old key", function()
        local path = tmp.dir() .. "/early.db"
        local up = server.start { conf = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]], script = UPSTREAM }
        local conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", store = { path = path },
            accounts = { { system_id = "esme1", password = "pw1" }, { system_id = "esme2", password = "pw2" } },
            upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw",
                            reconnect_min = 0.1, reconnect_max = 0.2 } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } }, early_ttl = 60 } }
        local function sql(q)
            return io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(q)):read("*a")
        end
        local function esme(gw, n, kind)
            local c = wire.connect(gw.port)
            assert.equal(0, c:bind(kind, "esme" .. n, "pw" .. n).status)
            return c
        end
        local gw = server.start { conf = conf }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        local mine = { [submit(esme(gw, 1, "transmitter"), "msg1")] = 1,
                       [submit(esme(gw, 2, "transmitter"), "MSG1")] = 2 }
        -- both receipts kept, their answers not come
        assert.truthy(wait_until(function() return sql("SELECT count(*) FROM early") == "2\n" end, 10),
            gw:log_text())
        gw:signal("KILL")
        assert(wait_until(function() return not gw:alive() end, 5), "still alive after SIGKILL")
        -- as schema 8 keyed them: both under the lower-case id
        assert.equal("", sql("UPDATE early SET key = lower(key)"))
        assert.equal("msg1|msg1\n", sql("SELECT min(key), max(key) FROM early"))
        gw = server.start { conf = conf }
        local cs = { esme(gw, 1, "receiver"), esme(gw, 2, "receiver") }
        local got = { {}, {} }
        local deadline = wire.gettime() + 10
        while (#got[1] < 1 or #got[2] < 1) and wire.gettime() < deadline do
            for i, c in ipairs(cs) do
                local p = c:expect(function(q) return q.id == wire.id.deliver_sm end, 0.05)
                if p then
                    c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
                    local d = wire.parse_sm(p.body)
                    local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
                    got[i][#got[i] + 1] = { mine[rid], d.short_message:match("stat:(%u+)") }
                end
            end
        end
        assert.same({ { { 1, "DELIVRD" } }, { { 2, "UNDELIV" } } }, got, gw:log_text())
    end)
end)

-- The lock file of a store holds (flock) while a process serves from it;
-- here the spec's own process plays an older smppgw still serving the
-- file. -> release()
local function hold_lock(path)
    local ffi = require "ffi"
    pcall(ffi.cdef, "int open(const char *, int, ...); int flock(int, int); int close(int);")
    local fd = ffi.C.open(path .. "-lock", 66, 420)            -- O_RDWR | O_CREAT, 0644
    assert(fd >= 0, "the lock file")
    assert(ffi.C.flock(fd, 6) == 0, "flock")                    -- LOCK_EX | LOCK_NB
    local held = true
    return function()
        if held then ffi.C.close(fd); held = false end
    end
end

local function schema_of(path)
    local out = run.sh("sqlite3 " .. run.quote(path) .. " \"SELECT value FROM meta WHERE key = 'schema'\"")
    return tonumber(out)
end

-- A schema-7 file, seven.db in a temporary directory, holding message
-- m-1. -> dir, path
local function seven_with_one()
    local dir = tmp.dir()
    local path = dir .. "/seven.db"
    local st = assert(store.open { path = path })
    assert(st:put { id = "m-1", account = "esme1", source = "1", dest = "2", submitted = os.time() })
    assert(st:commit())
    st:close()
    local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
        SCHEMA_7 .. "UPDATE meta SET value = 7 WHERE key = 'schema'; DELETE FROM meta WHERE key = 'key_bits'"))
    assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
    return dir, path
end

describe("#integration a store of schema 7 that another process serves", function()
    it("is not upgraded by smppgw check or messages; once free, check upgrades it", function()
        local dir, path = seven_with_one()
        local conf = dir .. "/c.lua"
        tmp.write(conf, gateway_conf(path, 9))       -- never started: check and messages only
        local release = hold_lock(path)
        finally(release)
        local out, err, code = run.smppgw { "check", conf }
        assert.are_not.equal(0, code, out .. err)
        assert.matches("schema 7; this one knows 9%) and not upgraded: .*locked by another process", out .. err)
        assert.equal(7, schema_of(path))
        out, err, code = run.smppgw { "messages", conf, "m-1" }
        assert.are_not.equal(0, code, out .. err)
        assert.matches("not upgraded", out .. err)
        assert.equal(7, schema_of(path))
        release()
        out, err, code = run.smppgw { "check", conf }
        assert.equal(0, code, out .. err)
        assert.equal(9, schema_of(path))
    end)
end)

-- A read lease (fcntl F_SETLEASE) on the lock file: a process that opens
-- it to take the lock waits in open() until the lease goes. -> leased()
-- (true once such an open waits), release()
local function lease_lock_file(path)
    local ffi = require "ffi"
    for _, decl in ipairs { "int open(const char *, int, ...);", "int close(int);", "int fcntl(int, int, ...);",
                            "typedef void (*sighandler_t)(int);", "sighandler_t signal(int, sighandler_t);" } do
        pcall(ffi.cdef, decl)
    end
    local F_SETLEASE, F_GETLEASE, F_RDLCK, F_UNLCK, SIGIO = 1024, 1025, 0, 2, 29
    -- the kernel tells the lease's holder with SIGIO, whose default ends it
    local old = ffi.C.signal(SIGIO, ffi.cast("sighandler_t", 1))  -- SIG_IGN
    local fd = ffi.C.open(path .. "-lock", 64, ffi.new("int", 420))    -- O_RDONLY | O_CREAT, 0644
    assert(fd >= 0, "the lock file")
    local held = true
    local function release()
        if not held then return end
        held = false
        ffi.C.fcntl(fd, F_SETLEASE, ffi.new("int", F_UNLCK))
        ffi.C.close(fd)
        ffi.C.signal(SIGIO, old)
    end
    if ffi.C.fcntl(fd, F_SETLEASE, ffi.new("int", F_RDLCK)) ~= 0 then
        local errno = ffi.errno()
        release()
        error("no read lease on " .. path .. "-lock (fcntl F_SETLEASE: errno " .. errno .. ")")
    end
    -- while an open waits, the lease reads as what it is to become
    local function leased() return held and ffi.C.fcntl(fd, F_GETLEASE) == F_UNLCK end
    return leased, release
end

-- The lease on the file whose inode is ino is being broken: an open waits.
local function lease_breaking(ino)
    for line in io.lines("/proc/locks") do
        if line:match("LEASE%s+BREAKING") and line:match(":" .. ino .. " ") then return true end
    end
    return false
end

describe("#integration a store of schema 7 that another process upgrades", function()
    it("is opened as it is by a check that found it older but got the lock after that upgrade", function()
        -- check A reads the file's schema (7), then opens the lock file to
        -- upgrade it: a lease holds it there. The lock file is unlinked
        -- and check B takes a new one and upgrades the file. The lease
        -- goes: A gets its lock, finds schema 9, and must open the file as
        -- it is (it ran the upgrade again and failed: duplicate column).
        local dir, path = seven_with_one()
        local conf = dir .. "/c.lua"
        tmp.write(conf, gateway_conf(path, 9))       -- never started: check only
        local leased, release = lease_lock_file(path)
        finally(release)
        local ino = assert(lfs.attributes(path .. "-lock", "ino"))
        local a = run.spawn(run.quote(run.bin) .. " check " .. run.quote(conf))
        assert(wait_until(function() return leased() or a:exit_code() end, 10) and leased(),
               "check A did not come to the lock: " .. a:log_text())
        assert.equal(7, schema_of(path))
        os.remove(path .. "-lock")
        local out, err, code = run.smppgw { "check", conf }
        assert.equal(0, code, out .. err)
        assert.equal(9, schema_of(path))
        -- A waited all along (the kernel ends a lease after a while)
        assert.is_true(lease_breaking(ino), "the lease was broken before its release")
        assert.is_nil(a:exit_code(), a:log_text())
        release()
        assert.equal(0, a:wait_exit(10), a:log_text())
        assert.matches(": ok %(.*store: 1 messages", a:log_text())
        assert.not_matches("duplicate column", a:log_text())
        assert.equal(9, schema_of(path))
        local again = assert(store.open { path = path })
        local m = again:get("m-1")
        again:close()
        assert.equal("esme1", m and m.account)
    end)
end)
