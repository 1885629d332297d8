-- sandbox_spec -- the environment scripts run in (lua/smpp/sandbox.lua):
-- every known way out fails with a clear error, the environment is locked,
-- the modules scripts may require hand out nothing that leads back out
-- (checked by walking everything a script can reach), and scripts.allow
-- opts in one capability at a time. Through `smppgw check` too, so that
-- the binary's own environment is the one tested.
local sandbox = require "smpp.sandbox"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local server = require "helpers.server"
local wire = require "helpers.wire"

-- run_in(code [, allow]) -> ok, result-or-error of code as a script's main
-- chunk (conf path: a directory of its own).
local function run_in(code, allow)
    local env, state = sandbox.environment("script.lua", "/srv/smppgw/conf.lua", allow)
    local chunk = assert(loadstring(code, "=script.lua"))
    setfenv(chunk, env)
    local ok, res = pcall(chunk)
    state.loading = false
    return ok, res, env
end

local function refused(code, pattern, allow)
    local ok, err = run_in(code, allow)
    assert.is_false(ok, code .. " worked")
    assert.matches(pattern, tostring(err), 1, true)
end

describe("the script sandbox", function()
    it("refuses every known way out, each with a clear error", function()
        local ways = {
            { "return package.loaded.io", "undeclared global 'package'" },
            { "return package.loadlib", "undeclared global 'package'" },
            { "return os.execute('id')", "os.execute is not available to scripts" },
            { "return os.getenv('HOME')", "os.getenv is not available to scripts" },
            { "return os.exit(1)", "os.exit is not available to scripts" },
            { "return getfenv(0)", "undeclared global 'getfenv'" },
            { "return setfenv(1, {})", "undeclared global 'setfenv'" },
            { "return require 'ffi'", "module 'ffi' is not allowed in scripts" },
            { "return require 'io'", "module 'io' is not allowed in scripts" },
            { "return require('os').execute", "os.execute is not available to scripts" },
            { "return require 'debug'", "module 'debug' is not allowed in scripts" },
            { "return require 'jit'", "module 'jit' is not available to scripts" },
            { "return require 'package'", "module 'package' is not available to scripts" },
            { "return require 'smpp.core'", "module 'smpp.core' is not available to scripts" },
            { "return require 'smpp.store_sqlite'", "module 'smpp.store_sqlite' is not available to scripts" },
            { "return require 'smpp.session'", "module 'smpp.session' is not available to scripts" },
            { "return require 'smpp.sandbox'", "module 'smpp.sandbox' is not available to scripts" },
            { "return load(string.dump(function() end))", "undeclared global 'load'" },
            { "return string.dump(function() end)", "string.dump is not available to scripts" },
            { "return load('return 1')", "undeclared global 'load'" },
            { "return loadstring('return 1')", "undeclared global 'loadstring'" },
            { "return dofile('/etc/passwd')", "undeclared global 'dofile'" },
            { "return loadfile('/etc/passwd')", "undeclared global 'loadfile'" },
            { "return newproxy(true)", "undeclared global 'newproxy'" },
            { "return module('x')", "undeclared global 'module'" },
            { "return debug.getregistry()", "undeclared global 'debug'" },
            { "return io.open('/etc/passwd')", "undeclared global 'io'" },
            { "return jit.off()", "undeclared global 'jit'" },
            { "return getmetatable('').__index", "attempt to index a nil value" },
            { "return collectgarbage()", "scripts may only ask for \"count\"" },
            { "return collectgarbage('stop')", "scripts may only ask for \"count\"" },
            { "rawset(_G, 'x', 1)", "rawset on the script's environment is not allowed" },
            { "setmetatable(_G, nil)", "cannot change a protected metatable" },
            { "return require('smpp.config').load('/etc/passwd')", "smpp.config.load is not available to scripts" },
            { "return require('smpp.store').open{ path = '/tmp/x' }", "smpp.store.open is not available to scripts" },
            { "return require('smpp.store').from_config({}, 'x')", "smpp.store.from_config is not available" },
            { "return require('smpp.server').load_script('x.lua', {})", "smpp.server.load_script is not available" },
            { "return require('smpp.server').run('x.lua')", "smpp.server.run is not available to scripts" },
            { "return require('smpp.server').conf", "smpp.server.conf is not available to scripts" },
            { "return require('smpp.http').start({}, {}, {})", "smpp.http.start is not available to scripts" },
            { "return require('cjson').decode_max_depth(1e9)", "cjson.decode_max_depth is not available" },
            { "return require('cjson.safe').new()", "cjson.safe.new is not available to scripts" },
            { "return require('smpp.router').load_json('/etc/passwd')", "outside the configuration's directory" },
            { "return require('smpp.router').load_json('/srv/smppgw/../../etc/passwd')", "outside the configuration" },
            { "require('smpp').sleep = nil", "module smpp is read-only in scripts" },
            { "rawset(require('smpp'), 'x', 1) return getmetatable(require('smpp'))", "" },
            { "return undeclared_name", "undeclared global 'undeclared_name'" },
        }
        for _, w in ipairs(ways) do
            if w[2] ~= "" then refused(w[1], w[2]) end
        end
        -- smpp carries no smpp.core, and a view's metatable is not handed out
        local fine, core = run_in("return require('smpp').core")
        assert.is_true(fine)
        assert.is_nil(core)
        local ok, mt = run_in("return getmetatable(require('smpp'))")
        assert.is_true(ok)
        assert.is_false(mt)
    end)

    it("locks the environment once the main chunk has run", function()
        local core = require "smpp.core"
        core.log_config("error")                          -- the warnings for declared globals are expected
        finally(function() core.log_config("info") end)
        local env, state = sandbox.environment("script.lua", "conf.lua")
        local chunk = assert(loadstring("declared = 1 function later() fresh = 2 end "
            .. "function reassign() declared = 3 end return true", "=script.lua"))
        setfenv(chunk, env)
        assert.is_true(chunk())
        state.loading = false
        assert.equal(1, env.declared)
        env.reassign()                                   -- a declared global may change
        assert.equal(3, env.declared)
        local ok, err = pcall(env.later)
        assert.is_false(ok)
        assert.matches("assignment to undeclared global 'fresh'", err, 1, true)
        ok, err = pcall(function() return env.nothing end)
        assert.is_false(ok)
        assert.matches("undeclared global 'nothing'", err, 1, true)
    end)

    it("keeps what scripts need: the safe libraries and the smpp modules", function()
        local ok, res = run_in([[
            local smpp = require "smpp"
            local text = require "smpp.text"
            local cjson = require "cjson"
            local t = {}
            for w in ("a b c"):gmatch("%a") do t[#t + 1] = w:upper() end
            assert(os.time() > 0 and os.clock() >= 0 and os.date("!%Y", 0) == "1970")
            assert(bit.band(6, 3) == 2 and math.floor(2.5) == 2 and coroutine.wrap(function() return 1 end)() == 1)
            assert(select(2, xpcall(function() error("e", 0) end, function(e) return e .. "!" end)) == "e!")
            assert(collectgarbage("count") > 0 and getmetatable("") == nil)
            assert(cjson.decode(cjson.encode({ a = 1 })).a == 1)
            assert(require("smpp.config").dir_of("a/b.lua") == "a/")
            return table.concat(t, ",") .. " " .. smpp.status_name(0) .. " " .. text.septets("abc")
        ]])
        assert.is_true(ok, res)
        assert.equal("A,B,C ESME_ROK 3", res)
    end)

    it("opens one capability at a time with scripts.allow", function()
        assert.is_true((run_in("return io.open ~= nil", { "io" })))
        assert.is_true((run_in("return os.getenv ~= nil and require('os') == os", { "os" })))
        assert.is_true((run_in("return debug.getinfo ~= nil", { "debug" })))
        assert.is_true((run_in("return require('ffi').C ~= nil", { "ffi" })))
        assert.is_true((run_in("return loadfile ~= nil and dofile ~= nil", { "files" })))
        refused("return io", "undeclared global 'io'", { "os" })
        refused("return debug", "undeclared global 'debug'", { "io", "ffi" })
        assert.has_error(function() sandbox.environment("s.lua", "c.lua", { "network" }) end,
            "scripts.allow: unknown capability 'network' (known: io, os, debug, files, ffi)")
    end)

    -- walk(env) -> every table, function and userdata a script of env
    -- reaches from its globals and the modules it may require, through
    -- fields, keys and metatables as the script's own pairs and
    -- getmetatable see them: a list of { value, path }.
    local function walk(env)
        local roots = { { env, "_G" } }
        for name in pairs(sandbox.allow.modules) do roots[#roots + 1] = { env.require(name), "require '" .. name .. "'" } end
        local seen, queue, out = {}, {}, {}
        local function visit(v, path)
            if (type(v) == "table" or type(v) == "function" or type(v) == "userdata") and not seen[v] then
                seen[v] = true
                queue[#queue + 1] = { v, path }
            end
        end
        for _, r in ipairs(roots) do visit(r[1], r[2]) end
        while #queue > 0 do
            local item = table.remove(queue)
            local v, path = item[1], item[2]
            out[#out + 1] = item
            if type(v) == "table" then
                local mt = env.getmetatable(v)
                if type(mt) == "table" then visit(mt, path .. "<metatable>") end
                for k, field in env.pairs(v) do
                    visit(k, path .. "[key]")
                    visit(field, path .. "." .. tostring(k))
                end
            end
        end
        return out
    end

    it("hands out nothing that leads back out (every value a script can reach)", function()
        local core = require "smpp.core"
        local forbidden = {
            [core] = "smpp.core", [package] = "package", [package.loaded] = "package.loaded", [_G] = "_G",
            [io] = "io", [os] = "os", [debug] = "debug", [jit] = "jit", [require("ffi")] = "ffi",
            [load] = "load", [loadstring] = "loadstring", [loadfile] = "loadfile", [dofile] = "dofile",
            [require] = "require", [getfenv] = "getfenv", [setfenv] = "setfenv", [newproxy] = "newproxy",
            [string.dump] = "string.dump", [collectgarbage] = "collectgarbage", [module] = "module",
            [rawset] = "rawset", [string] = "the string table", [getmetatable("")] = "the string metatable",
            [core.set_limits] = "core.set_limits", [core.budget_call] = "core.budget_call",
            [require("smpp.store_sqlite")] = "smpp.store_sqlite", [require("smpp.config").load] = "config.load",
            [require("smpp.store").open] = "store.open", [require("smpp.router").load_json] = "router.load_json",
            [require("smpp.server").load_script] = "server.load_script", [require("cjson").new] = "cjson.new",
        }
        -- and no table of the runtime itself: the scripts see views of them
        for name in pairs(sandbox.allow.modules) do forbidden[require(name)] = "the module " .. name end
        local smpp = require "smpp"
        forbidden[smpp.status], forbidden[smpp.Session], forbidden[smpp.codec] = "smpp.status", "Session", "codec"
        forbidden[require("smpp.config").schema] = "config.schema"
        local _, _, env = run_in("return 1")
        local reached = walk(env)
        for _, item in ipairs(reached) do
            assert.is_nil(forbidden[item[1]], item[2] .. " is " .. tostring(forbidden[item[1]]))
        end
        assert.is_true(#reached > 600, "walked only " .. #reached .. " values")
    end)

    it("lets a script write nothing it reaches but its own tables", function()
        local smpp, config = require "smpp", require "smpp.config"
        local before = { paswd = smpp.status.ESME_RINVPASWD, sysid = smpp.status.ESME_RINVSYSID,
                         send = smpp.Session.send, decode = smpp.codec.decode,
                         budget = config.schema.fields.scripts.fields.budget_ms.max }
        local _, _, env = run_in("return 1")
        -- its own: the environment, its copies of the standard libraries,
        -- and the gateway's counters (shared with smpp.gateway on purpose)
        local own = { [env] = true, [env.string] = true, [env.table] = true, [env.math] = true, [env.bit] = true,
                      [env.coroutine] = true, [env.os] = true, [require("smpp.gateway").stats] = true }
        local writes, tables = {
            function(t) t.__probe = 1 end,
            function(t) env.rawset(t, "__probe", 1) end,
            function(t) env.table.insert(t, 1) end,
            function(t) env.table.remove(t) end,
            function(t) env.table.sort(t) end,
            function(t) env.setmetatable(t, {}) end,
            function(t) for k, v in env.pairs(t) do t[k] = v break end end,      -- a field it has
        }, 0
        for _, item in ipairs(walk(env)) do
            local t, path = item[1], item[2]
            if type(t) == "table" and not own[t] then
                tables = tables + 1
                for i, write in ipairs(writes) do
                    local ok = pcall(write, t)
                    local has = rawget(t, "__probe") ~= nil or rawget(t, 1) ~= nil
                    assert.is_false(ok and (i ~= 7 or next(t) ~= nil) or has, path .. " took write #" .. i)
                end
            end
        end
        assert.is_true(tables > 100, "tried " .. tables .. " tables")
        -- and the runtime's tables are as they were
        assert.equal(before.paswd, smpp.status.ESME_RINVPASWD)
        assert.equal(before.sysid, smpp.status.ESME_RINVSYSID)
        assert.equal(before.send, smpp.Session.send)
        assert.equal(before.decode, smpp.codec.decode)
        assert.equal(before.budget, config.schema.fields.scripts.fields.budget_ms.max)
    end)

    it("refuses the writes found in the wild, each with a clear error", function()
        for _, w in ipairs {
            { "require('smpp').status.ESME_RINVPASWD = 0",
              "smpp.status is read-only in scripts (assigning 'ESME_RINVPASWD')" },
            { "rawset(require('smpp').status, 'ESME_RINVSYSID', 0)", "rawset: the table is read-only in scripts" },
            { "require('smpp').Session.send = nil", "smpp.Session is read-only in scripts (assigning 'send')" },
            { "require('smpp').codec.decode = nil", "smpp.codec is read-only in scripts (assigning 'decode')" },
            { "require('smpp.codec').decode = nil", "module smpp.codec is read-only in scripts (assigning 'decode')" },
            { "require('smpp.config').load = print", "module smpp.config is read-only in scripts (assigning 'load')" },
            { "require('smpp').codec.commands[4].fields[1] = 'x'", "smpp.codec.commands.4.fields is read-only" },
            { "require('smpp').command_info('submit_sm').id = 1", "smpp.command_info() is read-only" },
            { "require('smpp.config').schema.fields.scripts.fields.allow = nil",
              "smpp.config.schema.fields.scripts.fields is read-only" },
            { "getmetatable(require('smpp.router').new { routes = {} }).match = nil",
              "the metatable of a runtime object is read-only" },
            { "table.insert(require('smpp').status, 1)", "table.insert: the table is read-only in scripts" },
            { "setmetatable(require('smpp').status, nil)", "cannot change a protected metatable" },
        } do
            refused(w[1], w[2])
        end
    end)

    it("reads views as the tables they show: pairs, ipairs, next, identity", function()
        local ok, res = run_in([[
            local smpp = require "smpp"
            local n, rows, named = 0, 0, 0
            for name, v in pairs(smpp.status) do if smpp.status_name(v) then n = n + 1 end end
            for i, c in ipairs(smpp.codec.commands) do if c.name and #c.name > 0 then rows = rows + 1 end end
            for k, v in next, smpp.tlv do named = named + 1 end
            assert(smpp.status == smpp.status and smpp.codec == require("smpp").codec)
            assert(smpp.command_info("submit_sm") == smpp.command_info("submit_sm"))
            assert(smpp.command_info("submit_sm").fields[1] ~= nil)
            local mine = setmetatable({}, { __index = { x = 1 } })
            getmetatable(mine).__index.x = 2             -- a script's own metatable stays its own
            return n .. " " .. rows .. " " .. named .. " " .. mine.x
        ]])
        assert.is_true(ok, res)
        local n, rows, named, x = res:match("^(%d+) (%d+) (%d+) (%d+)$")
        assert.is_true(tonumber(n) > 50 and tonumber(rows) > 20 and tonumber(named) > 20, res)
        assert.equal("2", x)
    end)

    it("gives the script a copy of its configuration: the runtime's stays as it was", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/script.lua", [[
            local conf = ...
            conf.accounts[1].password = ""
            conf.accounts[2] = { system_id = "intruder", password = "x" }
            return { n = #conf.accounts }
        ]])
        local conf = { accounts = { { system_id = "a", password = "secret" } } }
        local handlers = assert(sandbox.load(dir .. "/script.lua", conf, dir .. "/conf.lua"))
        assert.equal(2, handlers.n)
        assert.same({ { system_id = "a", password = "secret" } }, conf.accounts)
    end)
end)

describe("#integration the sandbox in smppgw", function()
    local function check(script, conf_extra)
        local dir = tmp.dir()
        tmp.write(dir .. "/script.lua", script)
        tmp.write(dir .. "/conf.lua", "return { script = 'script.lua' " .. (conf_extra or "") .. " }")
        return run.smppgw({ "check", dir .. "/conf.lua" })
    end

    it("refuses the escapes found in the wild", function()
        for _, c in ipairs {
            { "local io = package.loaded.io", "undeclared global 'package'" },
            { "os.execute('id')", "os.execute is not available to scripts" },
            { "getfenv(0)", "undeclared global 'getfenv'" },
            { "require('ffi').C.system('id')", "module 'ffi' is not allowed in scripts" },
            { "load(string.dump(function() end))", "undeclared global 'load'" },
            { "local f = string.dump(function() end)", "string.dump is not available to scripts" },
            { "require('smpp.core').set_budget(0, 0, 0)", "module 'smpp.core' is not available to scripts" },
            -- the string metatable of smppgw's state has no dump, and no bounded rep to bypass
            { "local f = ('').dump(function() end)", "attempt to call field 'dump' (a nil value)" },
            { "local s = ('x'):rep(2 ^ 31)", "string.rep: the result would be 2147483648 bytes" },
        } do
            local _, err, rc = check(c[1] .. " return {}")
            assert.equal(1, rc)
            assert.matches(c[2], err, 1, true)
        end
    end)

    it("runs a script's main chunk under the budget: a loop while loading is stopped", function()
        local _, err, rc = check("while true do end return {}", ", scripts = { budget_ms = 200 }")
        assert.equal(1, rc)
        assert.matches("script budget exceeded: ran longer than 200 ms without waiting", err, 1, true)
    end)

    it("keeps the bind check's statuses and accounts out of a script's reach", function()
        local srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = "
            .. "'smppclient1', password = 'password' } } }", script = [[
local conf = ...
conf.accounts[1].password = "injected"           -- the script's copy, not the runtime's
conf.accounts[2] = { system_id = "intruder", password = "x" }
return {
    submit_sm = function()
        local ok1 = pcall(function() require("smpp").status.ESME_RINVPASWD = 0 end)
        local ok2 = pcall(rawset, require("smpp").status, "ESME_RINVSYSID", 0)
        return 0, { message_id = tostring(ok1) .. " " .. tostring(ok2) }
    end,
}
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(1, { short_message = "poke" }))
        local r = assert(c:read(5))
        assert.equal(0, r.status)
        assert.equal("false false", wire.first_cstr(r.body))
        for _, b in ipairs {
            { "smppclient1", "wrong", 0x0E },          -- ESME_RINVPASWD
            { "smppclient1", "injected", 0x0E },
            { "nobody", "password", 0x0F },           -- ESME_RINVSYSID
            { "intruder", "x", 0x0F },
            { "smppclient1", "password", 0 },
        } do
            local b2 = wire.connect(srv.port)
            assert.equal(b[3], b2:bind("transceiver", b[1], b[2]).status, b[1] .. "/" .. b[2])
            b2:close()
        end
    end)

    it("keeps the runtime's store open: store.current() cannot close it, the lock stays", function()
        local srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = "
            .. "'smppclient1', password = 'password' } }, store = { path = 'st.db' } }", script = [[
local store = require "smpp.store"
return {
    submit_sm = function(session, pdu)
        local st, t = store.current(), pdu.short_message
        local ok, err
        if t == "close" then ok, err = pcall(st.close, st)
        elseif t == "module close" then ok, err = pcall(store.close)
        elseif t == "raw" then ok, err = pcall(function() return st.cmd ~= nil or st.run ~= nil end)
        elseif t == "write" then ok, err = pcall(function() st.put = print end)
        else
            ok, err = st:put { id = "m-" .. t, account = "a", source = "s", dest = "d", submitted = 1 }, nil
        end
        return 0, { message_id = (tostring(ok) .. " " .. tostring(err):gsub("^.-:%d+: ", "")):sub(1, 64) }
    end,
}
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local function submit(text)
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { short_message = text }))
            local r = assert(c:expect(function(p) return p.seq == seq end, 5))
            assert.equal(0, r.status)
            return wire.first_cstr(r.body)
        end
        assert.equal(("false smpp.store: close: the store is the runtime's; it closes it when it stops"):sub(1, 64),
            submit("close"))
        assert.equal(("false smpp.store.close: the runtime closes its store when it stops"):sub(1, 64),
            submit("module close"))
        assert.equal("true false", submit("raw"))
        assert.equal(("false smpp.store: the store is read-only in scripts (assigning 'put')"):sub(1, 64),
            submit("write"))
        assert.matches("^%d+ nil$", submit("after"))           -- still open: put gives its key
        -- and still locked: a second process on the file is refused
        local out, err, rc = run.sh("timeout 30 " .. run.quote(run.bin) .. " run " .. run.quote(srv.dir .. "/conf.lua")
            .. " -l 127.0.0.1:0 --http 127.0.0.1:0")
        assert.equal(1, rc, out .. err)
        assert.matches("locked by another process", err)
    end)

    it("hands out no raw store through the reference SMSC's object, nor any module a script reaches", function()
        -- the SMSC kept its lean path's store (the runtime's own, not the
        -- guard) in a field of the object scripts hold: a script closed it
        -- through smsc._lean_store, and on Redis ran any command
        local srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = "
            .. "'smppclient1', password = 'password' } }, store = { path = 'st.db' } }", script = [[
local store = require "smpp.store"
local smsc = require("smpp.smsc").new(...)
local names = { "smpp", "smpp.smsc", "smpp.store", "smpp.gateway", "smpp.gateway_script", "smpp.server",
                "smpp.http", "smpp.upstream", "smpp.webhook", "smpp.security", "smpp.router", "smpp.mo" }
-- every table a script reaches from the SMSC and these modules, as its own
-- pairs and getmetatable see them: a store that is not the guard (it has
-- putter), or the Redis store's raw commands, is found by its path
local function walk()
    local skip = { [store.current()] = true }         -- the guard
    local seen, queue, n = {}, { { smsc, "smsc" } }, 0
    for _, name in ipairs(names) do       -- the modules themselves: store.putter is the module's own
        queue[#queue + 1] = { require(name), name }
        skip[require(name)] = true
    end
    while #queue > 0 do
        local item = table.remove(queue)
        local v, path = item[1], item[2]
        if not seen[v] then
            seen[v], n = true, n + 1
            if not skip[v] then
                local ok, found = pcall(function() return v.putter or v.cmd or v.run end)
                if ok and type(found) == "function" then return path end
            end
            if type(v) == "table" then
                local mt = getmetatable(v)
                if type(mt) == "table" then queue[#queue + 1] = { mt, path .. "<mt>" } end
                for k, x in pairs(v) do
                    if type(x) == "table" or type(x) == "userdata" then queue[#queue + 1] = { x, path .. "." .. tostring(k) } end
                end
            end
        end
    end
    return "none " .. n
end
local h = {}
for k, v in pairs(smsc.handlers) do h[k] = v end
h.submit_sm = function(session, pdu, ...)
    local t = pdu.short_message
    if t == "walk" then return 0, { message_id = walk() } end
    if t == "field" then return 0, { message_id = tostring(rawget(smsc, "_lean_store")) } end
    return smsc.handlers.submit_sm(session, pdu, ...)
end
return h
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local function submit(text)
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { short_message = text, destination_addr = "447700900123" }))
            local r = assert(c:expect(function(p) return p.seq == seq end, 5))
            assert.equal(0, r.status)
            return wire.first_cstr(r.body)
        end
        submit("a message through the lean path")
        assert.equal("nil", submit("field"))
        local found = submit("walk")
        assert.matches("^none %d+$", found)
        assert.is_true(tonumber(found:match("%d+")) > 100, found)     -- the walk did reach the modules
        assert.is_not.equal("", submit("still stored"))
    end)

    it("loads no module from the working directory (Lua or C)", function()
        -- LuaJIT's default paths begin with ./?.lua and ./?.so: a cjson.lua in the
        -- working directory was the runtime's cjson, run outside the sandbox
        for _, planted in ipairs {
            { "cjson.lua", "io.open('MARK', 'w'):write('loaded') return { encode = function() return 'x' end }" },
            { "cjson.so", "not a shared object" },
            { "smpp.lua", "io.open('MARK', 'w'):write('loaded') return {}" },
        } do
            local dir = tmp.dir()
            tmp.write(dir .. "/" .. planted[1], planted[2])
            tmp.write(dir .. "/script.lua", "local cjson = require 'cjson' assert(cjson.encode({ 1 }) == '[1]') return {}")
            tmp.write(dir .. "/conf.lua", "return { script = 'script.lua', store = { path = ':memory:' } }")
            local out, err, rc = run.sh("cd " .. run.quote(dir) .. " && " .. run.quote(run.bin) .. " check conf.lua")
            assert.equal(0, rc, planted[1] .. ": " .. out .. err)
            assert.is_nil(io.open(dir .. "/MARK"), planted[1] .. " was loaded")
        end
    end)

    it("leaves a handler's coroutine to the runtime: another handler cannot resume it", function()
        local srv = server.start { script = [[
local smpp = require "smpp"
local sleeping
return {
    submit_sm = function(session, pdu)
        if pdu.short_message == "sleep" then
            sleeping = coroutine.running()
            local woken_with = smpp.sleep(0.3)
            return 0, { message_id = "woke " .. tostring(woken_with) }
        end
        local ok, x = coroutine.resume(sleeping, "hijacked")
        return 0, { message_id = "resumed " .. tostring(ok) .. " " .. tostring(x) }
    end,
}
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(1, { short_message = "sleep" }))
        c:send(wire.submit_sm(2, { short_message = "resume it" }))
        local got = {}
        for _ = 1, 2 do
            local p = assert(c:read(5))
            got[p.seq] = { p.status, wire.first_cstr(p.body) }
        end
        assert.same({ 0x08 }, { got[2][1] })        -- the resume is refused: ESME_RSYSERR
        assert.same({ 0, "woke nil" }, got[1])     -- the sleeper wakes when its time comes
        assert.truthy(srv:wait_log("coroutine.resume: that coroutine is a handler's task; only the runtime resumes it"))
    end)
end)
