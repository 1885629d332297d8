-- script_tostring_spec -- a script's tostring (core.script_tostring, given
-- to scripts by lua/smpp/sandbox.lua) writes an integer itself and leaves
-- everything else to the base library's: the same results as tostring for
-- every value, compiled callers or not.
local sandbox = require "smpp.sandbox"

-- The script environment's tostring, and a chunk calling it as a global.
local function script_env()
    local env, state = sandbox.environment("script.lua", "/srv/smppgw/conf.lua", {})
    state.loading = false
    return env
end

local function values()
    local v = { 1, -1, 0, -0, 0 / 0, -(0 / 0), 1 / 0, -1 / 0, 2 ^ 53, 2 ^ 53 + 2, -2 ^ 53, 2 ^ 63, -2 ^ 63, 2 ^ 64,
                1e14, 1e14 - 1, -1e14 + 1, -1e14, 1e15, 123456789012345, 0.5, -0.5, 1e-300, 5e-324, 1e300,
                3.14159, 1 / 3, 10, 9, 11, 99, 100, 101, 1e8 - 1, 1e8, 1e8 + 1, 2 ^ 32 - 1, 2 ^ 32, 2 ^ 31,
                -2 ^ 31, 12345678901234, -12345678901234, 1e13, 1e13 + 0.5, "12", "", "x", "1e3", true, false }
    for i = 0, 30 do v[#v + 1] = 10 ^ i - 1; v[#v + 1] = -(10 ^ i); v[#v + 1] = 10 ^ i + 1 end
    local seed = 20261202
    local function rnd(n)                    -- a fixed sequence: the same values every run
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % n
    end
    for _ = 1, 20000 do
        local x = rnd(2147483647) * 65536 + rnd(65536)
        v[#v + 1] = rnd(2) == 0 and x or -x
        v[#v + 1] = x / (rnd(1000) + 1)
        v[#v + 1] = (rnd(2) == 0 and 1 or -1) * rnd(1000000) * 10 ^ (rnd(40) - 20)
    end
    return v
end

describe("a script's tostring", function()
    it("gives the base library's string for every number and every other value", function()
        local env = script_env()
        assert.are_not.equal(tostring, env.tostring)     -- the script's own, not the base library's
        for i, v in ipairs(values()) do
            local want, got = tostring(v), env.tostring(v)
            if want ~= got then
                error(string.format("value %d (%.17g): %q, the base library says %q", i,
                    type(v) == "number" and v or 0, got, want))
            end
        end
        assert.equal("nil", env.tostring(nil))
        assert.equal(1, select("#", env.tostring(5, 6, 7)))
        assert.equal("5", env.tostring(5, 6, 7))
        assert.matches("^table: 0x%x+$", env.tostring({}))
        assert.matches("^function: ", env.tostring(print))
        assert.matches("^thread: ", env.tostring(coroutine.create(print)))
    end)

    it("gives the same from a compiled loop and from the interpreter", function()
        local env = script_env()
        local vals = values()
        local f = assert(loadstring([[
            local t, vals, out = tostring, ...
            for i = 1, #vals do out[i] = t(vals[i]) end
        ]], "=script.lua"))
        setfenv(f, env)
        for _, mode in ipairs { "on", "off" } do
            jit[mode](f, true)
            local out = {}
            f(vals, out)
            for i, v in ipairs(vals) do assert.equal(tostring(v), out[i]) end
        end
        jit.on(f, true)
    end)

    it("calls __tostring as the base library does: its results, its errors", function()
        local env = script_env()
        local two = setmetatable({}, { __tostring = function() return "two", 2 end })
        assert.same({ "two", 2 }, { env.tostring(two) })
        assert.same({ tostring(two) }, { env.tostring(two) })
        local bad = setmetatable({}, { __tostring = function() error("no string for you", 0) end })
        local ok1, e1 = pcall(tostring, bad)
        local ok2, e2 = pcall(env.tostring, bad)
        assert.is_false(ok1)
        assert.is_false(ok2)
        assert.equal(e1, e2)
        local odd = setmetatable({}, { __tostring = function() return 42 end })
        assert.equal(42, env.tostring(odd))
    end)

    it("follows a numbers' metatable's __tostring (debug.setmetatable)", function()
        local env = script_env()
        debug.setmetatable(0, { __tostring = function(n) return "n" .. n end })
        local ok, a, b = pcall(function() return env.tostring(5), env.tostring(0.5) end)
        debug.setmetatable(0, nil)
        assert.is_true(ok, a)
        assert.equal("n5", a)
        assert.equal("n0.5", b)
        assert.equal("5", env.tostring(5))
    end)

    it("refuses a call without a value with the base library's message", function()
        local env = script_env()
        local function message(e)
            local f = assert(loadstring("local s = tostring() return s", "=script.lua"))
            setfenv(f, e)
            local ok, err = pcall(f)
            assert.is_false(ok)
            return err
        end
        assert.equal(message({ tostring = tostring }), message(env))
        assert.matches("bad argument #1 to 'tostring' (value expected)", message(env), 1, true)
    end)
end)
