-- nesting_spec -- a script cannot exhaust the C stack: every way a script
-- can nest C calls (coroutines resumed inside coroutines, string.gsub's
-- callbacks, metamethods called from C functions, table.sort comparators,
-- pcall, __tostring, cjson) ends in a Lua error for that request
-- (ESME_RSYSERR, or the error the script caught), never in a crash, and
-- the process serves on. Run twice: with the usual 8 MiB stack, and with
-- a 1 MiB one (the bound follows the stack's rlimit).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local scaled = wait.scaled
local ROK, RSYSERR = 0, 0x08

-- every line printed: each case looks for its own error line, and one
-- session makes more than the 20 a window that are printed by default
local ACCOUNTS = "log = { repeat_window = 0 }, accounts = { { system_id = 'smppclient1', password = 'password' } }"

-- Each case is a handler body; the handler answers ESME_ROK with "done"
-- when it returns, so a case that errors is answered ESME_RSYSERR with its
-- error in the log.
local CASES = {
    -- name, code, expected: "done" (it returns) or a pattern of the logged error
    { "coroutine.wrap inside coroutine.wrap",
      "local function f() coroutine.wrap(f)() end f()", "C stack overflow: coroutines nested more than 200 deep" },
    { "coroutine.resume inside coroutine.resume, errors passed up",
      "local function f() local ok, e = coroutine.resume(coroutine.create(f)) if not ok then error(e, 0) end end f()",
      "C stack overflow: coroutines nested more than 200 deep" },
    { "coroutine.resume inside coroutine.resume, errors ignored",
      "local function f() coroutine.resume(coroutine.create(f)) end f()", "done" },
    { "coroutine.wrap as an iterator inside itself",
      "local function gen() coroutine.yield(1) for _ in coroutine.wrap(gen) do end end "
          .. "for _ in coroutine.wrap(gen) do end", "C stack overflow: coroutines nested" },
    { "string.gsub callback calling gsub",
      "local function f() ('ab'):gsub('.', function() f() end) end f()", "C stack overflow: script calls nested" },
    { "string.gsub with a table whose __index calls gsub",
      "local t t = setmetatable({}, { __index = function(_, k) return k:gsub('.', t) end }); ('ab'):gsub('.', t)",
      "C stack overflow: script calls nested" },
    { "table.sort comparator calling sort",
      "local function f() table.sort({ 3, 1, 2 }, function(a, b) f() return a < b end) end f()", "stack overflow" },
    { "__lt called by table.sort calling sort",
      "local m m = setmetatable({}, { __lt = function() table.sort({ m, m, m }) return true end }) "
          .. "table.sort({ m, m, m })", "stack overflow" },
    { "string.format %s calling __tostring calling format",
      "local m m = setmetatable({}, { __tostring = function(s) return string.format('%s', s) end }) "
          .. "local _ = string.format('%s', m)", "stack overflow" },
    { "os.time reading a field whose __index calls os.time",
      "local t t = setmetatable({}, { __index = function(s) return os.time(s) end }) os.time(t)", "stack overflow" },
    { "__index calling smpp.log formatting a __tostring that logs",
      "local smpp = require 'smpp' local m m = setmetatable({}, { __tostring = function(s) "
          .. "smpp.log('debug', '%s', s) return 'x' end }) smpp.log('debug', '%s', m)", "stack overflow" },
    { "pcall inside pcall", "local function f() pcall(f) end f()", "done" },
    { "xpcall with handlers inside handlers", "local function f() xpcall(f, f) end f()", "done" },
    { "tostring calling __tostring calling tostring",
      "local m m = setmetatable({}, { __tostring = function(s) local r = tostring(s) return r end }) tostring(m)",
      "stack overflow" },
    { "__index chains", "local m m = setmetatable({}, { __index = function(t, k) return m[k] end }) local _ = m.x",
      "stack overflow" },
    { "Lua recursion", "local function f() return f() + 1 end f()", "stack overflow" },
    { "cjson.encode of a deep table",
      "local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end require('cjson').encode(t)",
      "excessive nesting" },
    { "cjson.decode of deep text", "require('cjson').decode(string.rep('[', 100000))", "too many nested" },
    { "gsub in a coroutine in a gsub callback",
      "local function f() ('ab'):gsub('.', function() coroutine.wrap(f)() end) end f()", "C stack overflow" },
}

local function script()
    local out = { "local cases = {}" }
    for i, c in ipairs(CASES) do out[#out + 1] = string.format("cases[%q] = function(session) %s end", c[1], c[2]) end
    out[#out + 1] = [[
return {
    submit_sm = function(session, pdu)
        local case = cases[pdu.short_message]
        if case then case(session) return 0, { message_id = "done" } end
        return 0, { message_id = "fine" }
    end,
}]]
    return table.concat(out, "\n")
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = text }))
    local p = assert(c:expect(function(r) return r.seq == seq end, 15), "no answer to " .. text)
    return p, wire.first_cstr(p.body) or ""
end

for _, stack in ipairs { { "an 8 MiB", 8192 }, { "a 1 MiB", 1024 } } do
    describe("#integration C-level nesting with " .. stack[1] .. " stack", function()
        local srv, c
        setup(function()
            srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS .. " }",
                                 script = script(), stack_kb = stack[2] }
            c = wire.connect(srv.port)
            assert.equal(ROK, c:bind("transceiver").status)
        end)

        for _, case in ipairs(CASES) do
            it(case[1] .. ": " .. (case[3] == "done" and "returns" or case[3]), function()
                local before = srv:count_log(case[3]:gsub("%p", "%%%0"))
                local r, mid = submit(c, case[1])
                if case[3] == "done" then
                    assert.equal(ROK, r.status)
                    assert.equal("done", mid)
                else
                    assert.equal(RSYSERR, r.status)
                    assert.truthy(wait.wait_until(function()
                        return srv:count_log(case[3]:gsub("%p", "%%%0")) > before
                    end, 5), srv:log_text())
                end
                assert.is_true(srv:alive())
                local r2, mid2 = submit(c, "bystander")
                assert.equal(ROK, r2.status)
                assert.equal("fine", mid2)
            end)
        end

        it("exits cleanly afterwards", function()
            c:close()
            assert.is_true(srv:stop("TERM", scaled(5)))
            assert.equal(0, srv:wait_exit())
        end)
    end)
end
