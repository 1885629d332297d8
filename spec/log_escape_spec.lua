-- log_escape_spec -- what a peer sends never shapes the log: a bind's
-- system_id with a newline, terminal escapes and bytes that are not UTF-8
-- is escaped in text lines (one line, no ESC) and in JSON lines (every
-- line valid JSON in valid UTF-8), and the reference SMSC's first line
-- (logged as its script loads) is already in the configured format.
local wire = require "helpers.wire"
local server = require "helpers.server"
local cjson = require "cjson"

-- 13 octets (system_id holds 15): newline, ESC[2J, two bytes that are not UTF-8, a quote
local HOSTILE = 'a\nFAKE\27[2J\255\254"'

-- Is s valid UTF-8 (RFC 3629)?
local function utf8_valid(s)
    local i, n = 1, #s
    while i <= n do
        local c = s:byte(i)
        local len, min = 1, 0
        if c >= 0xF0 and c <= 0xF4 then len, min = 4, 0x10000
        elseif c >= 0xE0 then len, min = 3, 0x800
        elseif c >= 0xC2 and c < 0xE0 then len, min = 2, 0x80
        elseif c >= 0x80 then return false end
        if len > 1 then
            local cp = c % (2 ^ (7 - len))
            for j = i + 1, i + len - 1 do
                local b = s:byte(j)
                if not b or b < 0x80 or b > 0xBF then return false end
                cp = cp * 64 + b % 64
            end
            if cp < min or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then return false end
        end
        i = i + len
    end
    return true
end

local function start(log)
    local srv = server.start { conf = server.smsc_conf { log = log, smsc = { seed = 7 } } }
    finally(function()
        if not srv:exit_code() then srv:kill() end
        os.execute("rm -rf " .. srv.dir)
    end)
    return srv
end

local function hostile_bind(srv)
    local c = wire.connect(srv.port)
    assert.equal(0x0F, c:bind("transceiver", HOSTILE, "pw").status)      -- ESME_RINVSYSID
    c:close()
    assert.is_true(srv:wait_log("refused: ESME_RINVSYSID", 5), srv:log_text())
    assert.is_true(srv:stop("TERM", 10))
    return srv:log_text()
end

describe("#integration log lines and a peer's bytes", function()
    it("text lines: the peer's newline and escapes are written as \\n, \\xNN", function()
        local text = hostile_bind(start { level = "info" })
        assert.is_nil(text:find("\27", 1, true), "a raw ESC in the log")
        assert.is_nil(text:find("\nFAKE", 1, true), "a line forged by the peer")
        assert.is_true(utf8_valid(text))
        assert.truthy(text:find("bind of 'a\\nFAKE\\x1B[2J\\xFF\\xFE\"'", 1, true), text)
    end)

    it("JSON lines: every line valid JSON in UTF-8, the SMSC's seed line first", function()
        local text = hostile_bind(start { level = "info", format = "json" })
        local first, n, hostile = nil, 0, 0
        for line in text:gmatch("[^\n]+") do
            if not line:match("^exit=") then
                assert.is_true(utf8_valid(line), line)
                local obj = cjson.decode(line)
                assert.is_string(obj.msg)
                first = first or obj.msg
                if obj.msg:find("bind of 'a\nFAKE\27[2J\\xFF\\xFE\"'", 1, true) then hostile = hostile + 1 end
                n = n + 1
            end
        end
        assert.matches("^smsc: random rules seeded with 7", first)
        assert.is_true(hostile >= 1, text)
        assert.is_true(n >= 4)
    end)
    it("a long message is cut where it says so, and its line stays one write of at most 4,096 octets", function()
        local srv = server.start { conf = "return { script = 'script.lua', log = { level = 'info', format = 'json' }, "
            .. "accounts = { { system_id = 'a', password = 'b' } } }", script = [[
local smpp = require "smpp"
return { start = function()
    smpp.log("info", "controls %s", string.rep("\1", 1000))     -- six octets each in JSON
    smpp.log("info", "plain %s", string.rep("x", 3000))
    smpp.log("info", "logged both")
end }
]] }
        assert.is_true(srv:wait_log("logged both", 5), srv:log_text())
        assert.is_true(srv:stop("TERM", 10))
        local seen = {}
        for line in srv:log_text():gmatch("[^\n]+") do
            if not line:match("^exit=") then
                assert.is_true(#line + 1 <= 4096, #line .. " octets")
                local obj = cjson.decode(line)
                local kind = obj.msg:match("^(%a+) ")
                if kind == "controls" or kind == "plain" then
                    assert.matches("%[%.%.%. %d+ more bytes cut%]$", obj.msg)
                    seen[kind] = true
                end
            end
        end
        assert.is_true(seen.controls and seen.plain, srv:log_text())
    end)
end)
