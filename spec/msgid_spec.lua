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

describe("msgid.variants / same", function()
    it("gives the hex form of the reference receipt's decimal id", function()
        local v = set_of(msgid.variants("0001715004"))
        assert.is_true(v["1715004"])
        assert.is_true(v["1a2b3c"])
        assert.equal("1715004", msgid.variants("0001715004")[1])
    end)

    it("gives the decimal form of a hex id", function()
        assert.same({ "1a2b3c", "1715004" }, msgid.variants("1A2B3C"))
    end)

    it("gives only the id itself when it is not a number", function()
        assert.same({ "msg-01" }, msgid.variants("MSG-01"))
        assert.same({ "" }, msgid.variants(""))
        assert.same({ "0" }, msgid.variants("000"))
    end)

    it("is exact up to 2^53 and skips numeric forms beyond", function()
        local v = set_of(msgid.variants("9007199254740991"))      -- 2^53 - 1
        assert.is_true(v["1fffffffffffff"])
        assert.same({ "9007199254740993" }, msgid.variants("9007199254740993"))
        assert.same({ "1fffffffffffff", "9007199254740991" }, msgid.variants("1FFFFFFFFFFFFF"))
        -- 0x20000000000000 is 2^53: only its decimal reading stays.
        assert.same({ "20000000000000", "12309ce54000" }, msgid.variants("20000000000000"))
        local hexbig = msgid.variants("ffffffffffffffff")
        assert.same({ "ffffffffffffffff" }, hexbig)
    end)

    it("matches the hex and decimal forms of one id", function()
        assert.is_true(msgid.same("0001715004", "1A2B3C"))
        assert.is_true(msgid.same("1a2b3c", " 1715004 "))
        assert.is_true(msgid.same("abc", "ABC"))
        assert.is_true(msgid.same("007", "7"))
        assert.is_true(msgid.same("10", "16"))           -- 0x10 = 16
    end)

    it("does not match different ids", function()
        assert.is_false(msgid.same("1715004", "1715005"))
        assert.is_false(msgid.same("1a2b3c", "1a2b3d"))
        assert.is_false(msgid.same("msg-1", "msg-2"))
        assert.is_false(msgid.same("", "0"))
        -- 0x10 = 16 and 22 = 0x16, but 10 and 22 are no reading of one id.
        assert.is_false(msgid.same("10", "22"))
    end)
end)
