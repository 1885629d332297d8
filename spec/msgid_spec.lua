-- msgid_spec -- smpp.msgid: generators that never repeat, normalisation,
-- and matching the hex and decimal forms of one id (reference 9.2).
local msgid = require "smpp.msgid"

local function set_of(list)
    local s = {}
    for _, v in ipairs(list) do s[v] = true end
    return s
end

describe("msgid.generator", function()
    it("counts in zero-padded decimal from start", function()
        local g = msgid.generator({ start = 1 })
        assert.equal("0000000001", g())
        assert.equal("0000000002", g())
        local w = msgid.generator({ start = 98, width = 3 })
        assert.equal("098", w())
        assert.equal("099", w())
        assert.equal("100", w())
        -- Past the width the id grows instead of wrapping to a used value.
        assert.equal("101", w())
        local x = msgid.generator({ start = 999, width = 3 })
        assert.equal("999", x())
        assert.equal("1000", x())
    end)

    it("counts in upper-case hex, width 8", function()
        local g = msgid.generator({ format = "hex", start = 255 })
        assert.equal("000000FF", g())
        assert.equal("00000100", g())
        local big = msgid.generator({ format = "hex", start = 0xFFFFFFFF })
        assert.equal("FFFFFFFF", big())
        assert.equal("100000000", big())
    end)

    it("seeds from the clock by default and keeps the width", function()
        for _, fmt in ipairs({ "decimal", "hex" }) do
            local g = msgid.generator({ format = fmt })
            local a, b = g(), g()
            assert.equal(fmt == "hex" and 8 or 10, #a)
            assert.not_equal(a, b)
            assert.matches(fmt == "hex" and "^%x+$" or "^%d+$", a)
            assert.is_nil(a:find("%l"))
        end
    end)

    it("never repeats within a generator", function()
        for _, fmt in ipairs({ "decimal", "hex", "uuid" }) do
            local g, seen = msgid.generator({ format = fmt }), {}
            for _ = 1, 20000 do
                local id = g()
                assert.is_nil(seen[id], fmt .. " repeated " .. id)
                seen[id] = true
            end
        end
    end)

    it("makes lower-case version 4 uuids, unique across generators", function()
        local g1, g2 = msgid.generator({ format = "uuid" }), msgid.generator({ format = "uuid" })
        local seen = {}
        for _ = 1, 2000 do
            for _, g in ipairs({ g1, g2 }) do
                local id = g()
                assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$", id)
                assert.is_nil(id:find("%u"))
                assert.is_nil(seen[id])
                seen[id] = true
            end
        end
    end)

    it("raises on bad options", function()
        assert.has_error(function() msgid.generator({ format = "base64" }) end)
        assert.has_error(function() msgid.generator({ width = 0 }) end)
        assert.has_error(function() msgid.generator({ start = -1 }) end)
        assert.has_error(function() msgid.generator({ start = 1.5 }) end)
    end)
end)

describe("msgid.normalize", function()
    local cases = {
        { "0001715004", "1715004" },
        { "  1A2B3C\n", "1a2b3c" },
        { "1a2b3c\0", "1a2b3c" },
        { "000", "0" },
        { "0", "0" },
        { "", "" },
        { "   ", "" },
        { "00abc-DEF", "abc-def" },
        { 1715004, "1715004" },
    }
    for _, c in ipairs(cases) do
        it(string.format("%q -> %q", tostring(c[1]), c[2]), function()
            assert.equal(c[2], msgid.normalize(c[1]))
        end)
    end

    it("raises on other types", function()
        assert.has_error(function() msgid.normalize(nil) end)
        assert.has_error(function() msgid.normalize({}) end)
    end)
end)

describe("msgid.key", function()
    it("is the id as written, trimmed, for undeclared (string) ids", function()
        assert.equal("0001715004", msgid.key("0001715004"))
        assert.equal("1A2B3C", msgid.key(" 1A2B3C ", "string"))
        assert.equal("1a2b3c", msgid.key("1a2b3c\0", "string"))
        assert.equal("MSG-01", msgid.key("MSG-01"))
        assert.equal("", msgid.key(""))
        assert.equal("", msgid.key("   "))
    end)

    it("tells apart string ids that differ in case or leading zeros", function()
        assert.not_equal(msgid.key("msg1"), msgid.key("MSG1"))
        assert.not_equal(msgid.key("01"), msgid.key("1"))
        assert.not_equal(msgid.key("000"), msgid.key("0"))
        assert.equal(msgid.key("  MSG1\r\n"), msgid.key("MSG1"))
    end)

    it("is the normalized id for normalized ids", function()
        assert.equal("1715004", msgid.key("0001715004", "normalized"))
        assert.equal("msg-01", msgid.key(" MSG-01 ", "normalized"))
        assert.equal(msgid.key("msg1", "normalized"), msgid.key("MSG1", "normalized"))
        assert.equal(msgid.key("01", "normalized"), msgid.key("1", "normalized"))
    end)

    it("reads declared decimal and hex ids as one number", function()
        assert.equal("1715004", msgid.key("0001715004", "decimal"))
        assert.equal("1715004", msgid.key("1A2B3C", "hex"))
        assert.equal("16", msgid.key("10", "hex"))
        assert.equal("10", msgid.key("10", "decimal"))
        assert.equal("0", msgid.key("000", "hex"))
    end)

    it("is exact far beyond 2^53", function()
        assert.equal("18446744073709551615", msgid.key("ffffffffffffffff", "hex"))
        assert.equal("18446744073709551615", msgid.key("018446744073709551615", "decimal"))
        assert.equal("340282366920938463463374607431768211455",
            msgid.key(string.rep("F", 32), "hex"))
        assert.equal("9007199254740993", msgid.key("20000000000001", "hex"))
    end)

    it("never relates ids across bases unless declared", function()
        -- the finding: decimal id 16 must not match live id 10 (0x10)
        assert.not_equal(msgid.key("10"), msgid.key("16"))
        assert.not_equal(msgid.key("10", "decimal"), msgid.key("16", "decimal"))
        assert.equal(msgid.key("10", "hex"), msgid.key("16", "decimal"))
    end)

    it("matches an id that is not a number of its declared base as written", function()
        assert.equal("ABC-1", msgid.key("ABC-1", "hex"))
        assert.equal("1A", msgid.key(" 1A", "decimal"))
        assert.equal("0x1A", msgid.key("0x1A", "hex"))
        assert.not_equal(msgid.key("abc-1", "hex"), msgid.key("ABC-1", "hex"))
    end)

    it("reads a hex number in either case", function()
        assert.equal(msgid.key("abc", "hex"), msgid.key("ABC", "hex"))
        assert.equal("2748", msgid.key("0AbC", "hex"))
    end)

    it("raises on an unknown format", function()
        assert.has_error(function() msgid.key("1", "octal") end)
    end)
end)

describe("msgid.make and msgid.read", function()
    it("make the ids we issue from a node id and a key, one format each, and read them back", function()
        local node = 4000000001
        assert.equal("40000000010000000042", msgid.make("decimal", node, 42))
        assert.equal("EE6B28010000002A", msgid.make("hex", node, 42))
        assert.equal("ee6b2801-0000-4000-8000-00000000002a", msgid.make("uuid", node, 42))
        for _, fmt in ipairs { "decimal", "hex", "uuid" } do
            for _, key in ipairs { 0, 1, 2 ^ 32, 2 ^ 48 + 3, 2 ^ 53 - 1 } do
                local id = msgid.make(fmt, node, key)
                assert.same({ node, key, fmt }, { msgid.read(id, fmt) })
                assert.same({ node, key, fmt }, { msgid.read(id) })       -- the format found alone
            end
        end
    end)

    it("read nothing that make would not write", function()
        assert.is_nil(msgid.read("EE6B2801000000002A", "hex"))        -- padded past 8 digits
        assert.is_nil(msgid.read("4000000001000000042"))              -- 19 digits
        assert.is_nil(msgid.read("1715004"))
        assert.is_nil(msgid.read(""))
        assert.is_nil(msgid.read(42))
    end)

    it("raise on a bad format, node or key", function()
        assert.has_error(function() msgid.make("octal", 1, 1) end)
        assert.has_error(function() msgid.make("hex", 0, 1) end)
        assert.has_error(function() msgid.make("hex", 2 ^ 32, 1) end)
        assert.has_error(function() msgid.make("hex", 1, -1) end)
        assert.has_error(function() msgid.make("hex", 1, 1.5) end)
        assert.has_error(function() msgid.read("1", "octal") end)
    end)
end)
