-- split_spec -- smpp.split: limits of reference 10.5, UDH/SAR layouts of 11,
-- unbreakable escape/surrogate pairs, and the reassembler.
local split = require "smpp.split"
local text = require "smpp.text"
local hex = require "smpp.hex"

local byte, rep, sub = string.byte, string.rep, string.sub

local function X(s) return hex.from_bytes(s) end

-- User data of a part: short_message without its UDH.
local function body(part)
    local sm = part.short_message
    if part.esm_class == 0x40 then return sub(sm, 2 + byte(sm, 1)) end
    return sm
end

local function join(parts)
    local t = {}
    for i, p in ipairs(parts) do t[i] = body(p) end
    return table.concat(t)
end

-- Some text that is long and GSM-only, without extension characters.
local function letters(n)
    local t = {}
    for i = 1, n do t[i] = string.char(97 + (i - 1) % 26) end
    return table.concat(t)
end

describe("split: one SMS", function()
    local fits = {
        { "gsm", letters(160) },
        { "gsm", letters(150) .. rep("€", 5) },     -- 160 septets
        { "latin1", rep("é", 140) },
        { "ucs2", rep("中", 70) },
        { "ucs2", rep("😀", 35) },                  -- 70 UTF-16 units
    }
    for _, method in ipairs({ "udh8", "udh16", "sar", "payload" }) do
        for _, v in ipairs(fits) do
            it(method .. ": a " .. v[1] .. " text at the single-SMS limit is one plain part", function()
                local parts = assert(split.split(v[2], { coding = v[1], method = method }))
                assert.equal(1, #parts)
                local p = parts[1]
                assert.equal(0, p.esm_class)
                assert.is_nil(p.sar_msg_ref_num)
                assert.is_nil(p.message_payload)
                assert.equal(text.encode(v[2], v[1]), p.short_message)
                assert.equal(text.data_coding_of(v[1]), p.data_coding)
            end)
        end
    end

    it("gives an empty text one empty part", function()
        local parts = assert(split.split(""))
        assert.equal(1, #parts)
        assert.equal("", parts[1].short_message)
    end)
end)

describe("split: per-part limits (reference 10.5)", function()
    local cases = {
        -- coding, text, method, octets of user data in a full part, parts
        { "gsm", letters(161), "udh8", 153, 2 },
        { "gsm", letters(161), "udh16", 152, 2 },
        { "gsm", letters(153 * 3), "udh8", 153, 3 },
        { "gsm", letters(153 * 3 + 1), "udh8", 153, 4 },
        { "latin1", rep("é", 141), "udh8", 134, 2 },
        { "latin1", rep("é", 141), "udh16", 133, 2 },
        { "ascii", rep("x", 300), "udh8", 134, 3 },
        { "ucs2", rep("中", 71), "udh8", 134, 2 },
        { "ucs2", rep("中", 71), "udh16", 132, 2 },
        { "ucs2", rep("中", 67 * 2), "udh8", 134, 2 },
    }
    for _, c in ipairs(cases) do
        it(string.format("%s %s: %d octets per part, %d parts", c[1], c[3], c[4], c[5]), function()
            local parts = assert(split.split(c[2], { coding = c[1], method = c[3] }))
            assert.equal(c[5], #parts)
            assert.equal(c[4], #body(parts[1]))
            for i, p in ipairs(parts) do
                assert.equal(0x40, p.esm_class)
                assert.is_true(#body(p) <= c[4])
                assert.is_true(#p.short_message <= 254)
                if i < #parts then assert.equal(c[4], #body(p)) end
            end
            assert.equal(text.encode(c[2], c[1]), join(parts))
        end)
    end

    it("writes the 8-bit-reference UDH 05 00 03 ref total seq", function()
        local parts = assert(split.split(letters(153 * 2 + 10), { ref = 0x4A }))
        assert.equal(3, #parts)
        assert.equal("0500034A0302", X(sub(parts[2].short_message, 1, 6)))
        assert.equal("0500034A0301", X(sub(parts[1].short_message, 1, 6)))
        assert.equal("0500034A0303", X(sub(parts[3].short_message, 1, 6)))
        assert.equal(159, #parts[1].short_message)
        assert.equal(0, parts[1].data_coding)
    end)

    it("writes the 16-bit-reference UDH 06 08 04 refhi reflo total seq", function()
        local parts = assert(split.split(letters(200), { method = "udh16", ref = 0x1234 }))
        assert.equal(2, #parts)
        assert.equal("06080412340201", X(sub(parts[1].short_message, 1, 7)))
        assert.equal("06080412340202", X(sub(parts[2].short_message, 1, 7)))
    end)

    it("puts SAR parts in TLVs, sized for the UDH the SMSC adds", function()
        local s = letters(400)
        local parts = assert(split.split(s, { method = "sar", ref = 0xBEEF }))
        assert.equal(3, #parts)
        for i, p in ipairs(parts) do
            assert.equal(0, p.esm_class)
            assert.equal(0xBEEF, p.sar_msg_ref_num)
            assert.equal(3, p.sar_total_segments)
            assert.equal(i, p.sar_segment_seqnum)
        end
        assert.equal(153, #parts[1].short_message)
        assert.equal(s, table.concat({ parts[1].short_message, parts[2].short_message,
                                       parts[3].short_message }))
    end)

    it("lets part_limit override the per-part size (e.g. full 160 for SAR)", function()
        local parts = assert(split.split(letters(400), { method = "sar", part_limit = 160 }))
        assert.equal(3, #parts)
        assert.equal(160, #parts[1].short_message)
        assert.has_error(function() split.split(letters(400), { part_limit = 1 }) end)
        assert.has_error(function() split.split(letters(400), { part_limit = 161 }) end)
    end)

    it("sends a long text whole in message_payload with the payload method", function()
        local s = rep("中", 500)
        local parts = assert(split.split(s, { method = "payload" }))
        assert.equal(1, #parts)
        assert.equal("", parts[1].short_message)
        assert.equal(text.encode(s, "ucs2"), parts[1].message_payload)
        assert.equal(8, parts[1].data_coding)
        assert.equal(0, parts[1].esm_class)
        local none, err = split.split(rep("中", 40000), { method = "payload" })
        assert.is_nil(none)
        assert.matches("too long", err)
    end)
end)

describe("split: pairs are never cut", function()
    it("keeps an escape pair whole when the 153rd septet would start it", function()
        local s = letters(152) .. "€" .. letters(20)
        local parts = assert(split.split(s))
        assert.equal(2, #parts)
        assert.equal(152, #body(parts[1]))
        assert.equal("1B65", X(sub(body(parts[2]), 1, 2)))
        assert.equal(s, text.decode(join(parts), "gsm"))
    end)

    it("never ends a part on a lone 0x1B in text full of extension characters", function()
        for shift = 0, 3 do
            local s = letters(shift) .. rep("[", 200)
            local parts = assert(split.split(s, { method = "udh16" }))
            assert.equal(3, #parts)
            local decoded = {}
            for i, p in ipairs(parts) do
                local b = body(p)
                assert.is_true(#b <= 152)
                -- Walk the septets: every escape must have its second septet.
                local j = 1
                while j <= #b do
                    if byte(b, j) == 0x1B then
                        assert.is_true(j < #b, "part " .. i .. " ends in an escape")
                        j = j + 2
                    else
                        j = j + 1
                    end
                end
                decoded[i] = text.decode(b, "gsm")
            end
            -- Decoding part by part gives the text back only if no pair was cut.
            assert.equal(s, table.concat(decoded))
        end
    end)

    it("keeps a surrogate pair whole when the 67th unit would start it", function()
        local s = rep("中", 66) .. "😀" .. rep("文", 10)
        local parts = assert(split.split(s))
        assert.equal(2, #parts)
        assert.equal(8, parts[1].data_coding)
        assert.equal(132, #body(parts[1]))
        assert.equal("D83DDE00", X(sub(body(parts[2]), 1, 4)))
        assert.equal(s, text.decode(join(parts), "ucs2"))
    end)

    it("keeps every part of an all-emoji text on whole characters", function()
        local s = rep("😀", 100)
        for _, method in ipairs({ "udh8", "udh16", "sar" }) do
            local parts = assert(split.split(s, { method = method }))
            for _, p in ipairs(parts) do
                local b = body(p)
                assert.equal(0, #b % 4)
                assert.equal(rep("😀", #b / 4), text.decode(b, "ucs2"))
            end
        end
    end)
end)

describe("split: options and failures", function()
    it("refuses a text that needs more than max_parts", function()
        local parts, err = split.split(letters(153 * 3), { max_parts = 2 })
        assert.is_nil(parts)
        assert.equal("message needs more than 2 parts", err)
        -- 306 septets would fit 2 x 153, but the escape pair cannot be cut.
        parts, err = split.split(letters(152) .. "€" .. letters(152), { max_parts = 2 })
        assert.is_nil(parts)
        assert.equal("message needs 3 parts, more than 2", err)
        assert.equal(2, #assert(split.split(letters(152) .. "€" .. letters(151), { max_parts = 2 })))
        assert.is_nil((split.split(letters(153 * 255 + 1))))
        assert.equal(255, #assert(split.split(letters(153 * 255))))
    end)

    it("reports characters the forced coding cannot hold", function()
        local parts, err, bad = split.split("price 5€ 中", { coding = "latin1" })
        assert.is_nil(parts)
        assert.matches("cannot represent", err)
        assert.same({ 0x20AC, 0x4E2D }, bad)
        local ok = assert(split.split("price 5€ 中", { coding = "latin1", replace = "?" }))
        assert.equal("price 5? ?", ok[1].short_message)
    end)

    it("reports invalid UTF-8", function()
        local parts, err = split.split("ab\255")
        assert.is_nil(parts)
        assert.equal("invalid utf-8 at byte 3", err)
    end)

    it("uses a fresh reference for each message by default", function()
        local a = assert(split.split(letters(200)))
        local b = assert(split.split(letters(200)))
        assert.not_equal(byte(a[1].short_message, 4), byte(b[1].short_message, 4))
        assert.equal(byte(a[1].short_message, 4), byte(a[2].short_message, 4))
    end)

    it("chooses the coding and honours data_coding options", function()
        assert.equal(8, assert(split.split(rep("ж", 100)))[1].data_coding)
        assert.equal(3, assert(split.split("naïve", { allow_latin1 = true }))[1].data_coding)
        assert.equal(0xF0, assert(split.split("hi", { gsm_data_coding = 0xF0 }))[1].data_coding)
        assert.equal(0xF0, assert(split.split("hi", { coding = "gsm", gsm_data_coding = 0xF0 }))[1].data_coding)
        assert.equal(1, assert(split.split("hi", { coding = "ascii" }))[1].data_coding)
    end)

    it("raises on bad arguments", function()
        assert.has_error(function() split.split(nil) end)
        assert.has_error(function() split.split("a", { method = "smoke" }) end)
        assert.has_error(function() split.split("a", { coding = "gsm_packed" }) end)
        assert.has_error(function() split.split(letters(200), { ref = 256 }) end)
        assert.has_error(function() split.split(letters(200), { max_parts = 0 }) end)
        -- Checked even when the text fits one SMS.
        assert.has_error(function() split.split("short", { ref = -1 }) end)
        assert.has_error(function() split.split("short", { method = "udh8", ref = 300 }) end)
    end)
end)

-- deliver_sm-like field tables for the parts of `s`.
local function pdus(s, opts, src, dst)
    local parts = assert(split.split(s, opts))
    for _, p in ipairs(parts) do
        p.source_addr, p.destination_addr = src or "447700900123", dst or "INFO"
    end
    return parts
end

local function shuffle(t, seed)
    math.randomseed(seed)
    for i = #t, 2, -1 do
        local j = math.random(1, i)
        t[i], t[j] = t[j], t[i]
    end
    return t
end

describe("reassembler", function()
    for _, method in ipairs({ "udh8", "udh16", "sar" }) do
        it(method .. ": rebuilds a message from parts in shuffled order", function()
            local s = letters(153 * 4 + 20) .. "€"
            local parts = shuffle(pdus(s, { method = method, ref = 77 }), 3)
            local r = split.reassembler()
            for i = 1, #parts - 1 do
                assert.is_nil((r:add(parts[i], 100)))
                assert.equal(1, r:pending())
            end
            local msg, info = r:add(parts[#parts], 101)
            assert.equal(text.encode(s, "gsm"), msg)
            assert.equal(5, info.total)
            assert.equal(77, info.ref)
            assert.equal(0, info.data_coding)
            assert.equal(0, r:pending())
        end)
    end

    it("ignores duplicates", function()
        local parts = pdus(rep("中", 200), { ref = 9 })
        assert.equal(3, #parts)
        local r = split.reassembler()
        assert.is_nil((r:add(parts[2], 0)))
        assert.is_nil((r:add(parts[2], 0)))
        assert.is_nil((r:add(parts[1], 0)))
        assert.is_nil((r:add(parts[1], 0)))
        local msg, info = r:add(parts[3], 0)
        assert.equal(text.encode(rep("中", 200), "ucs2"), msg)
        assert.equal(8, info.data_coding)
        -- A late duplicate after completion does not complete anything.
        assert.is_nil((r:add(parts[3], 0)))
        assert.equal(1, r:pending())
    end)

    it("keeps messages with the same reference from different senders apart", function()
        local a = pdus(letters(200), { ref = 5 }, "111")
        local b = pdus(rep("z", 200), { ref = 5 }, "222")
        local r = split.reassembler()
        r:add(a[1], 0)
        r:add(b[2], 0)
        assert.equal(2, r:pending())
        assert.equal(letters(200), (r:add(a[2], 0)))
        assert.equal(rep("z", 200), (r:add(b[1], 0)))
    end)

    it("finds the concatenation IE among other IEs, and returns them", function()
        -- UDH: port addressing 16-bit (05 04 0B84 23F0), then concat 8-bit.
        local function part(seq, data)
            return { esm_class = 0x40, source_addr = "1", destination_addr = "2",
                     data_coding = 4,
                     short_message = hex.to_bytes("0B0504 0B84 23F0 0003 2A 02" ..
                                                  string.format("%02X", seq)) .. data }
        end
        local r = split.reassembler()
        assert.is_nil((r:add(part(2, "world"), 0)))
        local msg, info = r:add(part(1, "hello "), 0)
        assert.equal("hello world", msg)
        assert.equal(0x2A, info.ref)
        assert.equal(4, info.data_coding)
        assert.same({ { iei = 5, data = hex.to_bytes("0B8423F0") } }, info.ies)
    end)

    it("reads a 16-bit reference IE after another IE", function()
        local function part(seq, data)
            return { esm_class = 0x40, short_message =
                     hex.to_bytes("0A 0402 1020 0804 ABCD 02" .. string.format("%02X", seq)) .. data }
        end
        local r = split.reassembler()
        r:add(part(1, "ab"), 0)
        local msg, info = r:add(part(2, "cd"), 0)
        assert.equal("abcd", msg)
        assert.equal(0xABCD, info.ref)
    end)

    it("returns a message that is not concatenated at once", function()
        local r = split.reassembler()
        local msg, info = r:add({ short_message = "plain", esm_class = 0, data_coding = 3 })
        assert.equal("plain", msg)
        assert.equal(1, info.total)
        assert.equal(3, info.data_coding)
        -- A UDH without a concatenation IE is stripped.
        msg = r:add({ short_message = hex.to_bytes("0404020102") .. "x", esm_class = 0x40 })
        assert.equal("x", msg)
        -- A UDH inside message_payload.
        msg = r:add({ short_message = "", esm_class = 0x40,
                      message_payload = hex.to_bytes("050003010101") .. "pay" })
        assert.equal("pay", msg)
        -- message_payload given twice (an array): its values joined
        msg = r:add({ short_message = "", esm_class = 0x40,
                      message_payload = { hex.to_bytes("050003010101") .. "pa", "y" } })
        assert.equal("pay", msg)
        assert.equal(0, r:pending())
    end)

    it("rejects malformed UDHs and segment numbers", function()
        local r = split.reassembler()
        local msg, err = r:add({ esm_class = 0x40, short_message = "\10abc" })
        assert.is_nil(msg)
        assert.matches("udh", err)
        msg, err = r:add({ esm_class = 0x40, short_message = hex.to_bytes("0500040102") })
        assert.is_nil(msg)
        assert.matches("udh", err)
        msg, err = r:add({ esm_class = 0x40, short_message = hex.to_bytes("050003010300") .. "x" })
        assert.is_nil(msg)
        assert.matches("bad segment", err)
        msg, err = r:add({ short_message = "x", sar_msg_ref_num = 1,
                           sar_total_segments = 2, sar_segment_seqnum = 3 })
        assert.is_nil(msg)
        assert.matches("bad segment", err)
        msg, err = r:add({ short_message = "x", sar_msg_ref_num = 1,
                           sar_total_segments = { 2, 2 }, sar_segment_seqnum = 1 })
        assert.is_nil(msg)
        assert.matches("bad sar", err)
        assert.equal(0, r:pending())
    end)

    it("expires incomplete messages after the timeout", function()
        local parts = pdus(letters(400), { ref = 33 })
        local r = split.reassembler({ timeout = 60 })
        r:add(parts[1], 1000)
        r:add(parts[3], 1030)
        assert.same({}, r:expire(1059))
        assert.equal(1, r:pending())
        local gone = r:expire(1060)
        assert.equal(1, #gone)
        assert.equal(33, gone[1].ref)
        assert.equal(3, gone[1].total)
        assert.equal(2, gone[1].received)
        assert.equal(body(parts[1]), gone[1].parts[1])
        assert.equal(body(parts[3]), gone[1].parts[3])
        assert.is_nil(gone[1].parts[2])
        assert.equal("timeout", gone[1].reason)
        assert.equal(0, r:pending())
        -- The missing part alone does not complete anything now.
        assert.is_nil((r:add(parts[2], 1061)))
        assert.same({}, r:expire(1061))
    end)

    it("starts again when a part arrives for a message that has timed out", function()
        local parts = pdus(letters(200), { ref = 4 })
        local r = split.reassembler({ timeout = 10 })
        r:add(parts[1], 0)
        assert.is_nil((r:add(parts[2], 20)))
        local gone = r:expire(21)
        assert.equal(1, #gone)
        assert.equal(1, gone[1].received)
        assert.equal(1, r:pending())
    end)

    it("treats a reused reference with another total as a new message", function()
        local r = split.reassembler()
        local old = pdus(letters(200), { ref = 8 })         -- 2 parts
        local new = pdus(letters(400), { ref = 8 })         -- 3 parts
        r:add(old[1], 0)
        r:add(new[1], 1)
        r:add(new[2], 1)
        assert.equal(letters(400), (r:add(new[3], 2)))
        local gone = r:expire(3)
        assert.equal(1, #gone)
        assert.equal("replaced", gone[1].reason)
        assert.equal(2, gone[1].total)
    end)

    it("keeps completing messages while an old one waits at the head", function()
        local r = split.reassembler({ timeout = 1000 })
        local stuck = pdus(letters(200), { ref = 200 }, "stuck")
        r:add(stuck[1], 0)
        for i = 1, 300 do
            local p = pdus(letters(200), { ref = i % 256 }, "s" .. i)
            r:add(p[2], i)
            assert.equal(letters(200), (r:add(p[1], i)))
        end
        assert.equal(1, r:pending())
        assert.equal(letters(200), (r:add(stuck[2], 301)))
        assert.equal(0, r:pending())
        assert.same({}, r:expire(5000))
    end)

    it("evicts the oldest incomplete message when max_pending is reached", function()
        local r = split.reassembler({ max_pending = 2 })
        local a = pdus(letters(200), { ref = 1 })
        local b = pdus(letters(200), { ref = 2 })
        local c = pdus(letters(200), { ref = 3 })
        r:add(a[1], 0)
        r:add(b[1], 1)
        r:add(c[1], 2)
        assert.equal(2, r:pending())
        local gone = r:expire(3)
        assert.equal(1, #gone)
        assert.equal(1, gone[1].ref)
        assert.equal("evicted", gone[1].reason)
        -- b and c are still there and complete.
        assert.equal(letters(200), (r:add(b[2], 4)))
        assert.equal(letters(200), (r:add(c[2], 4)))
        assert.equal(0, r:pending())
    end)

    it("stays bounded under many incomplete messages", function()
        local r = split.reassembler({ max_pending = 10 })
        for i = 1, 500 do
            r:add({ esm_class = 0x40, source_addr = tostring(i),
                    short_message = hex.to_bytes("050003010201") .. "x" }, i)
        end
        assert.equal(10, r:pending())
        -- 490 evicted: the reports are capped at max_pending, the rest counted.
        local gone, unreported = r:expire(500)
        assert.equal(10, #gone)
        assert.equal(480, unreported)
        assert.equal("1", gone[1].source_addr)
        assert.equal(10, r:pending())
        gone, unreported = r:expire(500)
        assert.same({}, gone)
        assert.equal(0, unreported)
    end)
end)

describe("smpp.split.part_key", function()
    local split = require "smpp.split"

    it("keys a long message by account, source, destination and reference (UDH 8/16-bit, SAR)", function()
        local udh8 = { esm_class = 0x40, source_addr = "1", destination_addr = "2", short_message = "\5\0\3\9\2\1hi" }
        local udh16 = { esm_class = 0x40, source_addr = "1", destination_addr = "2", short_message = "\6\8\4\0\9\2\1hi" }
        local sar = { source_addr = "1", destination_addr = "2", sar_msg_ref_num = 9, sar_total_segments = 2, sar_segment_seqnum = 1 }
        local key = split.part_key
        assert.is_string(key("a", udh8))
        assert.equal(key("a", udh8), key("a", { esm_class = 0x43, source_addr = "1", destination_addr = "2",
                                                short_message = "\5\0\3\9\2\2there" }))   -- its next part
        assert.are_not.equal(key("a", udh8), key("a", udh16))
        assert.are_not.equal(key("a", udh8), key("b", udh8))
        assert.are_not.equal(key("a", sar), key("a", udh8))
        assert.are_not.equal(key("a", udh8), key("a", { esm_class = 0x40, source_addr = "1", destination_addr = "3",
                                                        short_message = "\5\0\3\9\2\1hi" }))
        assert.is_nil(key("a", { short_message = "whole" }))
        assert.is_nil(key("a", { short_message = "\5\0\3\9\2\1hi" }))            -- no UDHI: text
        assert.is_nil(key("a", { esm_class = 0x40, short_message = "\5\0\3\9\1\1one part" }))
        assert.is_nil(key("a", { esm_class = 0x40, short_message = "\9\0" }))   -- UDH past the data
    end)

    it("gives no key, and never raises, for a sar_msg_ref_num that came twice (an array)", function()
        assert.is_nil(split.part_key("a", { source_addr = "1", destination_addr = "2", sar_msg_ref_num = { 9, 8 },
                                            sar_total_segments = 2, sar_segment_seqnum = 1 }))
    end)
end)
