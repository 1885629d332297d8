-- containment_spec -- a script cannot hang the process: every kind of
-- runaway run is answered ESME_RSYSERR within about the budget while a
-- bystander session is served, with the JIT on for library code and off
-- for scripts, and SIGTERM stops the process while a script loops. The heap
-- ceiling and what nothing can interrupt are in script_limits_spec.lua; the
-- ways out of the sandbox in sandbox_spec.lua.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local scaled = wait.scaled
local ROK, RSYSERR = 0, 0x08

local ACCOUNTS = "accounts = { { system_id = 'smppclient1', password = 'password' } }"

-- submit(c, text [, timeout]) -> the submit_sm_resp, its message_id, and
-- the seconds it took.
local function submit(c, text, timeout)
    local seq = c:next_seq()
    local t0 = wire.gettime()
    c:send(wire.submit_sm(seq, { short_message = text }))
    local p = assert(c:expect(function(r) return r.seq == seq end, timeout or 15))
    return p, wire.first_cstr(p.body) or "", wire.gettime() - t0
end

local function bound(srv)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind("transceiver").status)
    return c
end

-- -- Runaways --------------------------------------------------------------------------

local BUDGET_MS = 200

-- One handler per kind of runaway, named by the message text.
local RUNAWAYS = [==[
local smpp = require "smpp"
local text = require "smpp.text"
local json = require "smpp.json"
local S = smpp.status
local cjson = require "cjson"
local forever = function() while true do end end
local slow = string.rep("a", 400)
local sorted, numbers = {}, {}
for i = 1, 100000 do sorted[i] = i end
for i = 1, 200000 do numbers[i] = i end

local cases = {
    ["loop"] = forever,
    ["pcall"] = function() while true do pcall(forever) end end,
    ["pcall of error"] = function() while true do pcall(error, "x") end end,
    ["xpcall with a looping handler"] = function()
        while true do xpcall(function() error("x") end, forever) end
    end,
    ["xpcall"] = function() while true do xpcall(forever, function(e) return e end) end end,
    ["coroutine.wrap"] = function() coroutine.wrap(forever)() end,
    ["coroutine.resume"] = function()
        while true do coroutine.resume(coroutine.create(forever)) end
    end,
    ["pcall in a coroutine"] = function()
        while true do coroutine.wrap(function() pcall(forever) end)() end
    end,
    ["find"] = function() slow:find(".-.-.-b") end,
    ["string.find"] = function() string.find(slow, ".-.-.-b") end,
    ["match"] = function() slow:match(".-.-.-.-b") end,
    ["gsub"] = function() slow:gsub(".-.-.-b", "") end,
    ["gmatch"] = function() for _ in slow:gmatch(".-.-.-b") do end end,
    ["pattern in pcall"] = function() while true do pcall(string.find, slow, ".-.-.-b") end end,
    ["gsub callback"] = function() ("abc"):gsub(".", forever) end,
    ["sort comparator"] = function() table.sort({ 3, 2, 1 }, function() while true do end end) end,
    ["__index"] = function() return setmetatable({}, { __index = forever }).x end,
    ["__tostring"] = function() tostring(setmetatable({}, { __tostring = forever })) end,
    ["library code in a loop"] = function() while true do text.septets("hello world") end end,
    ["arithmetic loop"] = function() local x = 0 while true do x = x + 1 end end,
    -- loops of C calls of a few ms each: a count hook every 10,000
    -- instructions came thousands of calls late (the watchdog ended the process)
    ["sort loop"] = function() for _ = 1, 100000 do table.sort(sorted) end end,
    ["upper loop"] = function()
        local big = string.rep("x", 16 * 2 ^ 20)
        while true do local _ = big:upper() end
    end,
    ["cjson loop"] = function() while true do cjson.encode(numbers) end end,
    -- one call: lua-cjson's encode wrote 6,000,000 numbers in seconds of C
    ["cjson of a large table"] = function()
        local t = {}
        for i = 1, 30 do t[i] = numbers end
        cjson.encode(t)
    end,
    -- 3,000,000 values to write for 4,000 made: library code walking script data
    ["json of a large table"] = function()
        local row, t = {}, {}
        for i = 1, 1000 do row[i] = i end
        for i = 1, 3000 do t[i] = row end
        json.encode(t)
    end,
}

return {
    submit_sm = function(session, pdu)
        local t = pdu.short_message
        if cases[t] then cases[t]() return S.ESME_ROK, { message_id = "escaped" } end
        if t == "session metatable" then
            -- a session is a read-only view whose metatable is protected:
            -- this raises (ESME_RSYSERR), and the runtime writes and reads
            -- the fields behind it raw in any case (state changes, close)
            setmetatable(session, { __index = forever, __newindex = forever })
            return S.ESME_ROK, { message_id = "set" }
        end
        if t == "fields with __index" then
            -- the runtime reads the fields after the run: raw reads only
            return S.ESME_ROK, setmetatable({}, { __index = forever })
        end
        if t == "finalizers" then
            -- tables have no finalizers in LuaJIT, and scripts get nothing else
            for i = 1, 1000 do setmetatable({}, { __gc = forever }) end
            for i = 1, 50000 do local _ = { i } end   -- a collector step or more, well within the budget
            return S.ESME_ROK, { message_id = "no finalizer ran" }
        end
        return S.ESME_ROK, { message_id = "ok" }
    end,
}
]==]

local CASES = { "loop", "pcall", "pcall of error", "xpcall with a looping handler", "xpcall", "coroutine.wrap",
                "coroutine.resume", "pcall in a coroutine", "find", "string.find", "match", "gsub", "gmatch",
                "pattern in pcall", "gsub callback", "sort comparator", "__index", "__tostring",
                "library code in a loop", "arithmetic loop", "sort loop", "upper loop", "cjson loop",
                "cjson of a large table", "json of a large table" }

describe("#integration runaway scripts", function()
    local srv, c, bystander
    setup(function()
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = " .. BUDGET_MS .. " } }", script = RUNAWAYS }
        c, bystander = bound(srv), bound(srv)
    end)

    -- each case once; the ones a budget stop used to leave running, twice
    local twice = { ["pcall"] = true, ["xpcall with a looping handler"] = true, ["coroutine.resume"] = true,
                    ["find"] = true }
    for _, case in ipairs(CASES) do
        it("stops " .. case .. " within about the budget while a bystander is served", function()
            for _ = 1, twice[case] and 2 or 1 do
                local stops = srv:stats().totals.script_budget_stops
                local seq = c:next_seq()
                local t0 = wire.gettime()
                c:send(wire.submit_sm(seq, { short_message = case }))
                -- the bystander asks while the runaway runs; it is answered once it is stopped
                local r, mid, took = submit(bystander, "fine")
                assert.equal(ROK, r.status)
                assert.equal("ok", mid)
                assert.is_true(took < scaled(BUDGET_MS / 1000 + 1), "bystander waited " .. took .. " s")
                local p = assert(c:expect(function(x) return x.seq == seq end, 10))
                assert.equal(RSYSERR, p.status)
                assert.is_true(wire.gettime() - t0 < scaled(BUDGET_MS / 1000 + 1))
                -- counted (identical log lines are printed once per window)
                assert.equal(stops + 1, srv:stats().totals.script_budget_stops)
                assert.truthy(srv:log_text():find("script budget exceeded", 1, true))
            end
        end)
    end

    it("reads a handler's response fields raw: a table with a looping __index is answered", function()
        local r, _, took = submit(c, "fields with __index")
        assert.equal(ROK, r.status)
        assert.is_true(took < scaled(1))
    end)

    it("touches session tables raw: a session's metatable cannot be replaced, and it closes cleanly", function()
        local victim = bound(srv)
        local r = submit(victim, "session metatable")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:wait_log("cannot change a protected metatable"), srv:log_text())
        victim:close()
        assert.truthy(srv:wait_log("peer closed the connection"), srv:log_text())
        local r2, _, took = submit(bystander, "fine")
        assert.equal(ROK, r2.status)
        assert.is_true(took < scaled(1))
    end)

    it("gives scripts no finalizer: a table's looping __gc never runs", function()
        local r, mid, took = submit(c, "finalizers")
        assert.equal(ROK, r.status)
        assert.equal("no finalizer ran", mid)
        assert.is_true(took < scaled(BUDGET_MS / 1000 + 1))
    end)

    it("counts the stops in /stats and goes on serving", function()
        local totals = srv:stats().totals
        assert.is_true(totals.script_budget_stops >= #CASES + 4, tostring(totals.script_budget_stops))
        assert.equal("ok", select(2, submit(c, "fine")))
        c:close()
        bystander:close()
        assert.is_true(srv:stop("TERM", 5))
        assert.equal(0, srv:wait_exit())
    end)
end)

-- -- SIGTERM while a script loops ------------------------------------------------------

describe("#integration SIGTERM while a script loops", function()
    -- The budget is the longest there is (60 s): the signal, not the
    -- budget, must end the run, within about a second.
    for _, case in ipairs { "loop", "coroutine.wrap", "pcall", "find", "gsub callback" } do
        it("interrupts a handler in " .. case .. " at once and exits 0", function()
            local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
                .. ", scripts = { budget_ms = 0 } }", script = RUNAWAYS }
            local c = bound(srv)
            c:send(wire.submit_sm(c:next_seq(), { short_message = case }))
            wait.wait_until(function() return false end, 0.2)   -- the handler is running now
            local t0 = wire.gettime()
            srv:signal("TERM")
            -- the handler's answer at once, then the unbind of the shutdown
            local r = assert(c:expect(function(p) return p.id == wire.RESP + wire.id.submit_sm end, 10))
            assert.equal(RSYSERR, r.status)
            assert.is_true(wire.gettime() - t0 < scaled(1), "answered after " .. wire.gettime() - t0 .. " s")
            local u = assert(c:expect(function(p) return p.id == wire.id.unbind end, 10))
            c:send(wire.pdu(wire.RESP + wire.id.unbind, u.seq))
            assert.truthy(srv:wait_exit(scaled(3)), srv:log_text())
            assert.equal(0, srv:exit_code())
            assert.is_true(wire.gettime() - t0 < scaled(1.5), "exited after " .. wire.gettime() - t0 .. " s")
            assert.truthy(srv:log_text():find("script stopped: signal 15 asked the process to stop", 1, true))
        end)
    end

    it("ends a run nothing can interrupt a second after the signal: a log line, exit status 3", function()
        -- a loop the JIT compiled (scripts.jit): no hook runs in it
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 0, jit = true } }",
            script = "return { submit_sm = function() while true do end end }" }
        local c = bound(srv)
        c:send(wire.submit_sm(c:next_seq(), { short_message = "loop" }))
        wait.wait_until(function() return false end, 0.2)
        local t0 = wire.gettime()
        srv:signal("TERM")
        assert.equal(3, srv:wait_exit(scaled(5)), srv:log_text())
        local took = wire.gettime() - t0
        assert.is_true(took >= 0.9 and took < scaled(2), "exited after " .. took .. " s")
        assert.truthy(srv:log_text():match("script submit_sm has run %d+ ms, still runs after signal 15 asked the "
            .. "process to stop, and cannot be interrupted: exiting"), srv:log_text())
    end)

    it("stops a timer that loops again and again and exits 0", function()
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 500 } }", script = [[
local smpp = require "smpp"
return { start = function() smpp.every(0.01, function() while true do end end) end }
]] }
        assert.truthy(srv:wait_log("script budget exceeded"), srv:log_text())
        local t0 = wire.gettime()
        srv:signal("TERM")
        assert.truthy(srv:wait_exit(scaled(5)), srv:log_text())
        assert.equal(0, srv:exit_code())
        assert.is_true(wire.gettime() - t0 < scaled(3))
    end)
end)

-- -- The JIT: on for library code, off for scripts ----------------------------------------

describe("#integration the JIT", function()
    it("compiles library code while script loops stay interpreted and stoppable", function()
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 300, allow = { 'debug' } } }", script = [[
local text = require "smpp.text"
local loaded = debug.getregistry()._LOADED
local jit = loaded.jit
local util = loaded["jit.util"] or loaded.package.preload["jit.util"]()
return {
    submit_sm = function(session, pdu)
        if pdu.short_message == "warm" then
            for i = 1, 2000 do text.septets("hello world, hello world") end
            -- a trace exists, and the handler itself is not compiled
            local traces = 0
            for i = 1, 100 do if util.traceinfo(i) then traces = traces + 1 end end
            return 0, { message_id = (jit.status() and "on" or "off") .. " " .. traces }
        end
        while true do text.septets("hello world") end
    end,
}
]] }
        local c = bound(srv)
        local _, mid = submit(c, "warm")
        local status, traces = mid:match("^(%a+) (%d+)$")
        assert.equal("on", status)
        assert.is_true(tonumber(traces) > 0, mid)
        local r, _, took = submit(c, "loop")
        assert.equal(RSYSERR, r.status)
        assert.is_true(took < scaled(BUDGET_MS / 1000 + 1))
    end)
end)
