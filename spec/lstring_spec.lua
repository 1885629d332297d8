-- lstring_spec -- the pattern functions scripts get (core/lstring.c: a
-- matcher that asks the script budget as it works) give the same results
-- and the same errors as LuaJIT's own: on a table of cases, on every
-- character against every class, and on generated patterns and subjects.
-- Their budget (a runaway pattern stopped) is in containment_spec.lua.
local L = require("smpp.core").lstring

-- pcall(fn, ...) as a comparable string: "ok|v1|v2..." or "error|message".
local function outcome(fn, ...)
    local r = { pcall(fn, ...) }
    local out = {}
    for i = 1, table.maxn(r) do out[#out + 1] = tostring(r[i]) end
    return table.concat(out, "|")
end

-- Every value the iterator of gmatch(s, p) gives (at most 50 rounds), or
-- the error it raises.
local function gmatch_outcome(gmatch, s, p)
    local ok, it = pcall(gmatch, s, p)
    if not ok then return "error|" .. tostring(it) end
    local out = {}
    for _ = 1, 50 do
        local r = { pcall(it) }
        local items = {}
        for i = 1, table.maxn(r) do items[#items + 1] = tostring(r[i]) end
        out[#out + 1] = table.concat(items, ",")
        if not r[1] or r[2] == nil then break end
    end
    return table.concat(out, ";")
end

local function same_as_builtin(fn, ...)
    assert.equal(outcome(string[fn], ...), outcome(L[fn], ...))
end

local CASES = {
    { "find", "hello world", "o w" }, { "find", "hello", "l+" }, { "find", "abc", "()b()" },
    { "match", "key=val", "(%w+)=(%w+)" }, { "match", "  x  ", "^%s*(.-)%s*$" },
    { "find", "a.b", "%." }, { "find", "[x]", "[]]" }, { "find", "a-b", "[a-]" },
    { "match", "THE (quick) fox", "%((%a+)%)" }, { "match", "f(a(b)c)d", "%b()" },
    { "find", "THE (quick) fox", "%f[%a]%a+" }, { "match", "hello hello", "(h%a+) %1" },
    { "find", "abc", "b", 10 }, { "find", "abc", "", 10 }, { "find", "abc", "", -10 }, { "find", "abc", "c", -1 },
    { "find", "a+b", "+", 1, true }, { "match", "abc", "^b" }, { "match", "abc", "c$" }, { "match", "a$c", "$c" },
    { "find", "a\0b", "%z" }, { "match", "a\0b", "a%zb" }, { "find", "xa\0b", "a\0." }, { "find", "a\0b", "a\0c" },
    { "match", "2024-01-02", "(%d+)-(%d+)-(%d+)" }, { "match", "abc", "()(b)()" }, { "find", "x", "()" },
    { "match", "id:42 sub:001", "id:(%w+)" }, { "match", "printable", "%g+" },
    -- errors: the same message
    { "find", "a", "%" }, { "find", "a", "[a" }, { "find", "a", "[^" }, { "find", "a", "(a" }, { "match", "a", "a)" },
    { "find", "a", "%b" }, { "find", "a", "%fa" }, { "find", "a", "%1" }, { "find", "a", "(a)%2" },
    { "find", string.rep("a", 300), string.rep("a?", 300) }, { "find", string.rep("a", 300), string.rep("a?", 199) },
    { "find", string.rep("a", 300), string.rep("(a)", 33) }, { "find", string.rep("a", 300), string.rep("(a)", 32) },
    { "find", nil, "a" }, { "find", "a" }, { "find", 12345, "3" },
    -- gsub: string, table and function replacements, limits, bad values
    { "gsub", "hello world", "o", "0" }, { "gsub", "hello world", "(o)", "[%1]" }, { "gsub", "abc", "%w", "%0%0" },
    { "gsub", "abc", "", "-" }, { "gsub", "abc", "^", "-" }, { "gsub", "abc", "%w", "%2" }, { "gsub", "abc", "%w", "%" },
    { "gsub", "abc", "%w", { a = "A", b = false } }, { "gsub", "abc", "%w", "x", 2 }, { "gsub", "abc", "%w", true },
    { "gsub", "abc", "%w", 5 }, { "gsub", "hello", "l*", "x" }, { "gsub", "abc", "%w", { a = {} } },
    { "gsub", "abc", "(%w)(%w)", function(a, b) return b .. a end },
    { "gsub", "abc", "%w", function(c) if c == "b" then return nil end return c:upper() end },
}

describe("lstring", function()
    it("matches a table of cases as LuaJIT does, errors included", function()
        for _, c in ipairs(CASES) do
            same_as_builtin(c[1], unpack(c, 2, table.maxn(c)))
        end
    end)

    it("iterates gmatch as LuaJIT does (^ is an ordinary character there)", function()
        for _, c in ipairs { { "hello world from lua", "%a+" }, { "abc", "%a*" }, { "abc", "" }, { "^a^a", "^a" },
                             { "k1=v1, k2=v2", "(%w+)=(%w+)" }, { "abc", "()" }, { "abc", "%" } } do
            assert.equal(gmatch_outcome(string.gmatch, c[1], c[2]), gmatch_outcome(L.gmatch, c[1], c[2]))
        end
    end)

    it("puts every character in the same classes and sets", function()
        for c = 0, 255 do
            local ch = string.char(c)
            for cl in ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.%]^-["):gmatch(".") do
                for _, p in ipairs { "%" .. cl, "[%" .. cl .. "]", "[^%" .. cl .. "]", "[" .. cl .. "-z]", "[!-" .. cl .. "]" } do
                    assert.equal(outcome(string.find, ch, p), outcome(L.find, ch, p))
                end
            end
        end
    end)

    it("agrees with LuaJIT on 20,000 generated patterns and subjects", function()
        local tokens = { "a", "b", "c", ".", "%a", "%d", "%s", "%w", "%p", "%A", "%x", "%u", "%l", "%c", "%z", "%.",
            "%%", "[ab]", "[^a]", "[a-c]", "[%d.]", "[]]", "[^]]", "[a-]", "(", ")", "()", "%1", "%2", "%b()", "%bab",
            "%f[%a]", "%f[%s]", "^", "$", "*", "+", "-", "?", "*", "+", "-", "?", "%", "[", "]", "\0", "1", " " }
        local chars = { "a", "b", "c", "1", "2", " ", "(", ")", ".", "\0", "A", "%", "]", "\t", "\200" }
        local seed = 20241201
        local function random(n)                       -- a small LCG: the same cases every run
            seed = (seed * 1103515245 + 12345) % 2147483648
            return seed % n + 1
        end
        local function gen(from, max)
            local out = {}
            for i = 1, random(max + 1) - 1 do out[i] = from[random(#from)] end
            return table.concat(out)
        end
        local repl = { "<%0>", "%1", "x", "%", "%%" }
        for _ = 1, 20000 do
            local s, p = gen(chars, 12), gen(tokens, 6)
            local init = random(4) == 1 and random(31) - 16 or nil
            same_as_builtin("find", s, p, init)
            same_as_builtin("match", s, p, init)
            same_as_builtin("gsub", s, p, repl[random(#repl)])
            assert.equal(gmatch_outcome(string.gmatch, s, p), gmatch_outcome(L.gmatch, s, p))
        end
    end)

    it("find_steps finds as find does within its steps and gives up (false) past them", function()
        for _, c in ipairs(CASES) do
            if c[1] == "find" and c[4] == nil then
                local r = { pcall(L.find, c[2], c[3]) }
                if r[1] then assert.same(r, { true, L.find_steps(c[2], c[3], 100000) }) end
            end
        end
        assert.same({ 7, 16 }, { L.find_steps("hello promo code", "promo.-code", 1000) })
        assert.is_nil(L.find_steps("hello", "x", 10))
        assert.is_nil(L.find_steps("hello", "h.-x", 100))
        -- quadratic work on 60 kB: stopped after its steps, not the script budget
        assert.is_false(L.find_steps(string.rep("promo", 12000), "promo.-code", 250000))
        assert.is_false(L.find_steps(string.rep("a", 3000), "a*a*a*a*a*a*a*a*a*b", 250000))
        -- the same subject and pattern give up or not by the count alone
        assert.is_false(L.find_steps("aaaab", "a-a-b", 3))
        assert.same({ 1, 5 }, { L.find_steps("aaaab", "a-a-b", 1000) })
        assert.has_error(function() L.find_steps("x", "x", 0) end)
        assert.has_error(function() L.find_steps("x", "[x", 100) end)
        assert.is_nil(string.find_steps)         -- not a script's string function
    end)

    it("builds rep and concat results as LuaJIT does", function()
        for _, c in ipairs { { "ab", 3, "," }, { "", 3, "," }, { "x", 0 }, { "x", -2 }, { "x", 2.7 }, { "ab", 1, "," } } do
            same_as_builtin("rep", unpack(c))
        end
        for _, c in ipairs { { { 1, "a", 2.5 }, "-" }, { { "a", "b", "c" }, ",", 2 }, { { "a", "b", "c" }, ",", 2, 2 },
                             { { "a" }, ",", 3 }, { { 1, {}, 3 } }, { { "a", nil, "c" }, "", 1, 3 } } do
            assert.equal(outcome(table.concat, unpack(c, 1, 4)), outcome(L.concat, unpack(c, 1, 4)))
        end
    end)
end)
