-- text_spec -- smpp.text: GSM 03.38 tables against the reference JSON,
-- 7-bit packing vectors, every coding's round trips and failures.
local text = require "smpp.text"
local hex = require "smpp.hex"
local cjson = require "cjson"

local char, format = string.char, string.format

local function H(s) return assert(hex.to_bytes(s)) end
local function X(s) return hex.from_bytes(s) end

local function load_tables()
    local f = assert(io.open("spec/data/smpp34-tables.json", "rb"))
    local t = cjson.decode(f:read("*a"))
    f:close()
    return t
end
local TABLES = load_tables()

local function cp_of(u) return tonumber(u:match("^U%+(%x+)$"), 16) end

describe("pack7 / unpack7 (reference 10.3)", function()
    local vectors = {
        { "hellohello", 0, "E8329BFD4697D9EC37" },
        { "Hi", 0, "C834" },
        { "hello", 1, "D06536FB0D" },
        { "1234567", 0, "31D98C56B3DD00" },
    }
    for _, v in ipairs(vectors) do
        it(format("packs %q with %d fill bits to %s", v[1], v[2], v[3]), function()
            assert.equal(v[3], X(text.pack7(v[1], v[2])))
        end)
        it(format("unpacks %s back to %q", v[3], v[1]), function()
            assert.equal(v[1], text.unpack7(H(v[3]), #v[1], v[2]))
        end)
    end

    it("reads the 7 padding bits of '1234567' as '@' without a count", function()
        assert.equal("1234567\0", text.unpack7(H("31D98C56B3DD00")))
    end)

    it("needs ceil(7n/8) octets: 160 septets in 140, 8 in 7", function()
        assert.equal(140, #text.pack7(string.rep("A", 160)))
        assert.equal(7, #text.pack7("ABCDEFGH"))
        assert.equal(3, #text.pack7("ABC"))
        assert.equal("", text.pack7(""))
    end)

    it("round-trips random septets with every fill count", function()
        math.randomseed(7)
        for fill = 0, 6 do
            for n = 0, 40 do
                local t = {}
                for i = 1, n do t[i] = char(math.random(0, 127)) end
                local s = table.concat(t)
                local packed = text.pack7(s, fill)
                -- No septets, no octets: fill bits alone carry nothing.
                assert.equal(n == 0 and 0 or math.ceil((fill + 7 * n) / 8), #packed)
                assert.equal(s, text.unpack7(packed, n, fill))
            end
        end
    end)

    it("refuses a septet count the octets cannot hold", function()
        local s, err = text.unpack7(H("C834"), 3)
        assert.is_nil(s)
        assert.matches("fewer than 3 septets", err)
    end)

    it("raises on septets above 0x7F and bad fill bits", function()
        assert.has_error(function() text.pack7("\128") end)
        assert.has_error(function() text.pack7("a", 7) end)
        assert.has_error(function() text.pack7(nil) end)
        assert.has_error(function() text.unpack7("a", nil, -1) end)
    end)
end)

describe("GSM 03.38 tables (spec/data/smpp34-tables.json)", function()
    local basic, ext = TABLES.gsm7.basic, TABLES.gsm7.extension

    it("has 128 basic entries and 10 extension entries in the JSON", function()
        assert.equal(128, #basic)
        local n = 0
        for _ in pairs(ext) do n = n + 1 end
        assert.equal(10, n)
    end)

    it("encodes and decodes each of the 127 basic characters", function()
        local checked = 0
        for i, u in ipairs(basic) do
            local septet = i - 1
            if u ~= cjson.null then
                local s = text.utf8_char(cp_of(u))
                assert.equal(char(septet), text.encode(s, "gsm"), u)
                assert.equal(s, text.decode(char(septet), "gsm"), u)
                assert.equal(1, text.septets(s))
                checked = checked + 1
            else
                assert.equal(0x1B, septet)
            end
        end
        assert.equal(127, checked)
    end)

    it("encodes and decodes each of the 10 extension characters as 0x1B xx", function()
        for k, u in pairs(ext) do
            local septet = tonumber(k:sub(3), 16)
            local s = text.utf8_char(cp_of(u))
            assert.equal(char(0x1B, septet), text.encode(s, "gsm"), u)
            assert.equal(s, text.decode(char(0x1B, septet), "gsm"), u)
            assert.equal(2, text.septets(s))
        end
    end)

    it("round-trips the whole alphabet, unpacked and packed", function()
        local parts = {}
        for _, u in ipairs(basic) do
            if u ~= cjson.null then parts[#parts + 1] = text.utf8_char(cp_of(u)) end
        end
        for _, u in pairs(ext) do parts[#parts + 1] = text.utf8_char(cp_of(u)) end
        local all = table.concat(parts)
        local wire = assert(text.encode(all, "gsm"))
        assert.equal(127 + 20, #wire)
        assert.equal(all, text.decode(wire, "gsm"))
        for fill = 0, 6 do
            local packed = assert(text.encode(all, "gsm_packed", { fill_bits = fill }))
            assert.equal(math.ceil((fill + 7 * #wire) / 8), #packed)
            assert.equal(all, text.decode(packed, "gsm_packed",
                                          { septets = #wire, fill_bits = fill }))
        end
    end)

    it("accepts U+00E7 for septet 0x09 and decodes 0x09 as U+00C7", function()
        assert.equal("\9", text.encode("ç", "gsm"))
        assert.equal("\9", text.encode("Ç", "gsm"))
        assert.equal("Ç", text.decode("\9", "gsm"))
    end)

    it("shows a lone or doubled escape as a space, an unknown pair as its second septet", function()
        assert.equal("a ", text.decode("a\27", "gsm"))
        assert.equal("A", text.decode("\27\65", "gsm"))
        assert.equal(" x", text.decode("\27\27x", "gsm"))
        assert.equal("\r", text.decode("\27\13", "gsm"))
    end)

    it("decodes octets above 0x7F as U+FFFD, and 0x00 as '@'", function()
        assert.equal("a\239\191\189", text.decode("a\200", "gsm"))
        assert.equal("@", text.decode("\0", "gsm"))
    end)

    it("packs 'hello' after a 6-octet UDH with the fill bit through encode", function()
        assert.equal("D06536FB0D", X(text.encode("hello", "gsm_packed", { fill_bits = 1 })))
        assert.equal("hello", text.decode(H("D06536FB0D"), "gsm_packed",
                                          { septets = 5, fill_bits = 1 }))
    end)
end)

describe("Unicode text through every coding that can hold it", function()
    local samples = {
        { name = "ASCII", s = "Hello, world! 123", codings = { "gsm", "gsm_packed", "ascii", "latin1", "ucs2" } },
        { name = "GSM accents", s = "café à Ñandù, Ökonomie", codings = { "gsm", "gsm_packed", "latin1", "ucs2" } },
        { name = "Latin-1 only", s = "naïve façade ±½", codings = { "latin1", "ucs2" } },
        { name = "Greek capitals in GSM", s = "ΔΦΓΛΩΠΨΣΘΞ", codings = { "gsm", "gsm_packed", "ucs2" } },
        { name = "Greek lower case", s = "καλημέρα κόσμε", codings = { "ucs2" } },
        { name = "CJK", s = "漢字テキスト한국어", codings = { "ucs2" } },
        { name = "emoji (surrogate pairs)", s = "ok 😀👍🏽 🇫🇷", codings = { "ucs2" } },
        { name = "euro and brackets", s = "€5 [x] {y} ~z^ \\ |", codings = { "gsm", "gsm_packed", "ucs2" } },
    }
    local all = { "gsm", "gsm_packed", "ascii", "latin1", "ucs2" }

    for _, sample in ipairs(samples) do
        local can = {}
        for _, c in ipairs(sample.codings) do can[c] = true end
        for _, coding in ipairs(all) do
            if can[coding] then
                it(sample.name .. " round-trips through " .. coding, function()
                    local bytes, err = text.encode(sample.s, coding)
                    assert.is_not_nil(bytes, err)
                    local opts = coding == "gsm_packed" and { septets = text.septets(sample.s) } or nil
                    assert.equal(sample.s, text.decode(bytes, coding, opts))
                end)
            else
                it(sample.name .. " is refused by " .. coding .. " with the bad code points", function()
                    local bytes, err, bad = text.encode(sample.s, coding)
                    assert.is_nil(bytes)
                    assert.matches("^cannot represent U%+%x%x%x%x", err)
                    assert.is_table(bad)
                    assert.is_true(#bad > 0)
                    for _, cp in ipairs(bad) do
                        local b2 = text.encode(text.utf8_char(cp), coding)
                        assert.is_nil(b2)
                    end
                end)
            end
        end
    end

    it("writes non-BMP characters as UTF-16 surrogate pairs", function()
        assert.equal("0061D83DDE00", X(text.encode("a😀", "ucs2")))
        assert.equal("20AC", X(text.encode("€", "ucs2")))
        assert.equal("a😀", text.decode(H("0061D83DDE00"), "ucs2"))
    end)

    it("lists each unrepresentable code point once, in order", function()
        local bytes, err, bad = text.encode("a€中€😀", "latin1")
        assert.is_nil(bytes)
        assert.same({ 0x20AC, 0x4E2D, 0x1F600 }, bad)
        assert.equal("cannot represent U+20AC, U+4E2D, U+1F600 in latin1", err)
    end)

    it("replaces unrepresentable characters with opts.replace", function()
        assert.equal("a??b", text.encode("a€中b", "latin1", { replace = "?" }))
        assert.equal("a?b", text.encode("a中b", "gsm", { replace = "?" }))
        assert.equal("ab", text.encode("a😀b", "ascii", { replace = "" }))
        assert.equal(text.pack7("a?b"), text.encode("a中b", "gsm_packed", { replace = "?" }))
        assert.has_error(function() text.encode("中", "ascii", { replace = "€" }) end)
    end)

    it("decodes Latin-1 octets 0x80-0xFF and refuses them in ASCII", function()
        assert.equal("ÿé", text.decode("\255\233", "latin1"))
        assert.equal("a\239\191\189", text.decode("a\200", "ascii"))
    end)

    it("turns unpaired surrogates and an odd octet into U+FFFD", function()
        local fffd = "\239\191\189"
        assert.equal(fffd .. "a", text.decode(H("D83D0061"), "ucs2"))
        assert.equal(fffd .. "a", text.decode(H("DE000061"), "ucs2"))
        assert.equal("a" .. fffd, text.decode(H("0061D83D"), "ucs2"))
        assert.equal("a" .. fffd, text.decode(H("006100"), "ucs2"))
    end)

    it("passes bytes through the binary coding", function()
        assert.equal("\0\255\1", text.encode("\0\255\1", "binary"))
        assert.equal("\0\255\1", text.decode("\0\255\1", "binary"))
    end)
end)

describe("codepoints / utf8_char", function()
    it("decodes UTF-8 of every length and encodes it back", function()
        local s = "A\195\169\226\130\172\240\159\152\128"     -- A é € 😀
        assert.same({ 0x41, 0xE9, 0x20AC, 0x1F600 }, text.codepoints(s))
        local t = {}
        for i, cp in ipairs(text.codepoints(s)) do t[i] = text.utf8_char(cp) end
        assert.equal(s, table.concat(t))
        assert.equal("\244\143\191\191", text.utf8_char(0x10FFFF))
    end)

    it("reports where UTF-8 goes wrong", function()
        local cps, err = text.codepoints("ok\255")
        assert.is_nil(cps)
        assert.equal("invalid utf-8 at byte 3", err)
    end)
end)

describe("invalid input", function()
    local bad = {
        { "ab\195(", 3 },                   -- lead byte without continuation
        { "\192\128", 1 },                  -- overlong NUL
        { "x\237\160\128", 2 },             -- UTF-8-encoded surrogate
        { "\244\144\128\128", 1 },          -- above U+10FFFF
        { "abc\128", 4 },                   -- stray continuation byte
        { "ok\226\130", 3 },                -- truncated at the end
    }
    for _, v in ipairs(bad) do
        it(format("reports invalid utf-8 at byte %d for %q", v[2], v[1]), function()
            for _, coding in ipairs({ "gsm", "latin1", "ucs2" }) do
                local bytes, err = text.encode(v[1], coding)
                assert.is_nil(bytes)
                assert.equal("invalid utf-8 at byte " .. v[2], err)
            end
            assert.is_nil(text.septets(v[1]))
            assert.is_nil(text.choose(v[1]))
        end)
    end

    it("raises on wrong argument types and unknown codings", function()
        assert.has_error(function() text.encode(nil, "gsm") end)
        assert.has_error(function() text.encode("a", "ebcdic") end)
        assert.has_error(function() text.decode(1, "gsm") end)
        assert.has_error(function() text.decode("a", nil) end)
        assert.has_error(function() text.encode("a", "gsm", { replace = 1 }) end)
        assert.has_error(function() text.coding_of("0") end)
    end)
end)

describe("septets / choose", function()
    it("counts extension characters twice", function()
        assert.equal(5, text.septets("hello"))
        assert.equal(6, text.septets("€[]"))
        assert.equal(0, text.septets(""))
        assert.equal(160, text.septets(string.rep("a", 150) .. string.rep("{", 5)))
    end)

    it("returns nil for text outside GSM", function()
        assert.is_nil(text.septets("naïve"))
        assert.is_nil(text.septets("😀"))
    end)

    it("picks the smallest coding", function()
        assert.same({ "gsm", 0 }, { text.choose("Hello €") })
        assert.same({ "gsm", 0xF0 }, { text.choose("Hello", { gsm_data_coding = 0xF0 }) })
        assert.same({ "ucs2", 8 }, { text.choose("naïve") })
        assert.same({ "latin1", 3 }, { text.choose("naïve", { allow_latin1 = true }) })
        assert.same({ "ucs2", 8 }, { text.choose("naïve €", { allow_latin1 = true }) })
        assert.same({ "gsm", 0 }, { text.choose("café", { allow_latin1 = true }) })
        assert.same({ "ucs2", 8 }, { text.choose("Привет") })
        assert.same({ "gsm", 0 }, { text.choose("") })
    end)
end)

describe("data_coding_of / coding_of (reference 7.3)", function()
    it("maps codings to data_coding", function()
        assert.equal(0, text.data_coding_of("gsm"))
        assert.equal(1, text.data_coding_of("ascii"))
        assert.equal(3, text.data_coding_of("latin1"))
        assert.equal(8, text.data_coding_of("ucs2"))
        assert.equal(4, text.data_coding_of("binary"))
        assert.is_nil(text.data_coding_of("utf8"))
    end)

    it("maps data_coding values to codings", function()
        assert.equal("gsm", text.coding_of(0))
        assert.equal("latin1", text.coding_of(0, "latin1"))
        assert.equal("ascii", text.coding_of(1))
        assert.equal("latin1", text.coding_of(3))
        assert.equal("ucs2", text.coding_of(8))
        assert.equal("binary", text.coding_of(2))
        assert.equal("binary", text.coding_of(4))
        for dc = 0xF0, 0xF3 do assert.equal("gsm", text.coding_of(dc)) end
        for dc = 0xF4, 0xF7 do assert.equal("binary", text.coding_of(dc)) end
        for dc = 0xC0, 0xDF do assert.equal("gsm", text.coding_of(dc)) end   -- MWI groups
        for _, dc in ipairs({ 5, 6, 7, 9, 0x0E, 0xE0, 0xF8, 0xFF }) do
            assert.is_nil(text.coding_of(dc))
        end
    end)

    it("round-trips each coding through its data_coding", function()
        for _, c in ipairs({ "gsm", "ascii", "latin1", "ucs2", "binary" }) do
            assert.equal(c, text.coding_of(text.data_coding_of(c)))
        end
    end)
end)

describe("smpp.text of_pdu", function()
    it("reads short_message or message_payload in the PDU's coding, as UTF-8", function()
        assert.same({ "Hello @", "gsm" }, { text.of_pdu { short_message = "Hello \0" } })
        assert.same({ "caf\195\169", "latin1" }, { text.of_pdu { data_coding = 3, short_message = "caf\233" } })
        assert.same({ "\226\130\172 5", "ucs2" }, { text.of_pdu { data_coding = 8, short_message = H("20AC00200035") } })
        assert.same({ "payload", "ascii" },
            { text.of_pdu { data_coding = 1, short_message = "", message_payload = "payload" } })
        -- data_coding 0 is the account's default alphabet
        assert.same({ "caf\195\169", "latin1" }, { text.of_pdu({ short_message = "caf\233" }, "latin1") })
        assert.same({ "caf\195\169", "gsm" }, { text.of_pdu({ short_message = "caf\5" }, "gsm") })
    end)

    it("leaves the user data header out when esm_class has UDHI", function()
        local udh = H("050003770301")                    -- concatenation, ref 0x77, part 1 of 3
        assert.equal("part one", (text.of_pdu { esm_class = 0x40, short_message = udh .. "part one" }))
        assert.equal("part one", (text.of_pdu { esm_class = 0x43, short_message = udh .. "part one" }))
        assert.equal(text.decode(udh .. "x", "gsm"), (text.of_pdu { esm_class = 0, short_message = udh .. "x" }))
        assert.equal("", (text.of_pdu { esm_class = 0x40, short_message = "\9" }))     -- header past the end
        assert.equal("\226\130\172", (text.of_pdu { esm_class = 0x40, data_coding = 8,
                                                     short_message = udh .. H("20AC") }))
    end)

    it("gives nil and the reason for a PDU without text", function()
        assert.same({ nil, "binary" }, { text.of_pdu { data_coding = 4, short_message = "\0\1\2" } })
        assert.same({ nil, "unknown" }, { text.of_pdu { data_coding = 0x99, short_message = "x" } })
        assert.same({ "", "gsm" }, { text.of_pdu {} })
        assert.has_error(function() text.of_pdu("text") end, "pdu must be a table, got string")
    end)

    -- The codec gives a TLV that came twice as an array of its values: the
    -- text reads them joined in order, and nothing raises on it.
    it("reads a message_payload that came twice as its values joined in order", function()
        assert.same({ "ab", "gsm" }, { text.of_pdu { short_message = "", message_payload = { "a", "b" } } })
        assert.same({ "part one", "gsm" }, { text.of_pdu { esm_class = 0x40, short_message = "",
            message_payload = { H("050003770301") .. "part ", "one" } } })
        assert.same({ "", "gsm" }, { text.of_pdu { message_payload = {} } })
        assert.same({ "", "gsm" }, { text.of_pdu { message_payload = 7 } })
        assert.equal("ab", text.payload { message_payload = { "a", 1, "b" } })
        assert.equal("sm", text.payload { short_message = "sm", message_payload = { "a", "b" } })
        assert.equal("", text.payload {})
    end)
end)
