-- The gateway's Redis store on a Redis Cluster: every key it writes names a
-- hash tag, and every script call's keys hash to one slot (a message's
-- keys with its upstream's queue under {u:<upstream>}, an account's stream
-- under {a:<account>}). Watched with MONITOR over a run with receipts,
-- early receipts and MO; the slots computed here (CRC16 of the tag, mod
-- 16384, as a Redis Cluster does).
local bit = require "bit"
local socket = require "socket"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local ROK = gwr.ROK

-- CRC16-XMODEM, the cluster's key hash
local function crc16(s)
    local crc = 0
    for i = 1, #s do
        crc = bit.bxor(crc, bit.lshift(s:byte(i), 8))
        for _ = 1, 8 do
            if bit.band(crc, 0x8000) ~= 0 then crc = bit.band(bit.bxor(bit.lshift(crc, 1), 0x1021), 0xffff)
            else crc = bit.band(bit.lshift(crc, 1), 0xffff) end
        end
    end
    return crc
end

-- tag(key) -> the hash tag (the text between the first { and the next }),
-- or nil when the key has none
local function tag(key)
    local s = key:find("{", 1, true)
    local e = s and key:find("}", s + 1, true)
    if e and e > s + 1 then return key:sub(s + 1, e - 1) end
end

local function slot(key) return crc16(tag(key) or key) % 16384 end

-- The words of a MONITOR line: 1700000000.123 [0 127.0.0.1:5] "EVALSHA" "..." ...
local function words(line)
    local out, i = {}, line:find('"', 1, true)
    while i do
        local w, j = {}, i + 1
        while j <= #line do
            local c = line:sub(j, j)
            if c == "\\" then
                w[#w + 1] = line:sub(j, j + 1)
                j = j + 2
            elseif c == '"' then
                break
            else
                w[#w + 1] = c
                j = j + 1
            end
        end
        out[#out + 1] = table.concat(w)
        i = line:find('"', j + 1, true)
    end
    return out
end

local function monitor(r)
    local c = assert(socket.tcp())
    c:settimeout(5)
    assert(c:connect("127.0.0.1", r.port))
    assert(c:send("MONITOR\r\n"))
    assert.are.equal("+OK", c:receive("*l"))
    return c
end

-- every line MONITOR saw up to a marker sent now (the nodes keep polling:
-- MONITOR is never quiet)
local function drain(c, r)
    local lines, marker = {}, "end-of-run-" .. tostring(os.time())
    r:cmd("ECHO", marker)
    while true do
        local line = assert(c:receive("*l"))
        if line:find(marker, 1, true) then break end
        lines[#lines + 1] = line
    end
    c:close()
    return lines
end

describe("cluster store slots", function()
    it("computes slots as a Redis Cluster does", function()
        assert.are.equal(0x31C3, crc16("123456789"))          -- the cluster specification's check value
        assert.are.equal(slot("{u:U}q"), slot("x{u:U}m:1"))
        assert.are_not.equal(slot("smppgw:{u:U}q"), slot("smppgw:{a:esme1}r"))
    end)

    it("tags every key it writes, and each script's keys share one slot", function()
        local r = redis.start()
        local up = gwr.upstream(wait.scaled(0.3))
        local mon = monitor(r)
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local b = gwr.node(r, redis.free_port())
        local rx = wire.connect(b.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local list = gwr.texts("rcpt", 20)
        for _, t in ipairs(gwr.texts("rcpt-early-slow", 5)) do list[#list + 1] = t end
        for _, t in ipairs(gwr.texts("mo", 5)) do list[#list + 1] = t end
        gwr.submit_all(a, list)
        for _ = 1, 30 do                       -- 25 receipts, 5 MO
            local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
            rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
        end
        wait.wait_until(function()
            local st = b:stats().cluster.store
            return st.rx_acked == 30 and a:stats().cluster.store.receipts_early_matched >= 1
        end, 10, "every receipt and MO acknowledged, an early receipt among them")
        local lines = drain(mon, r)
        -- the keys left behind: records, mappings, streams, counters
        local keys, cursor = {}, "0"
        repeat
            local page = r:cmd("SCAN", cursor, "COUNT", 1000)
            cursor = page[1]
            for _, k in ipairs(page[2]) do keys[#keys + 1] = k end
        until cursor == "0"
        local kinds = {}
        for _, k in ipairs(keys) do
            assert.is_truthy(tag(k), "a key without a hash tag: " .. k)
            kinds[k] = true
        end
        for _, want in ipairs { "smppgw:{u:U}q", "smppgw:{a:esme1}r", "smppgw:{c}ids", "smppgw:{c}nodes" } do
            assert.is_true(kinds[want], want .. " among " .. table.concat(keys, " "))
        end
        assert.is_truthy(r:cmd("EXISTS", "smppgw:{u:U}k:u1") == 1 or r:cmd("EXISTS", "smppgw:{u:U}k:u2") == 1)
        -- every script call: its keys in one slot; the receipt script's record key (built inside
        -- from ARGV[3] and the id it finds) in the same slot as its mapping
        local scripts, matches, written = 0, 0, {}
        for _, line in ipairs(lines) do
            local w = words(line)
            local cmd = w[1] and w[1]:upper()
            if cmd == "EVALSHA" or cmd == "EVAL" then
                local n = tonumber(w[3])
                local s0 = slot(w[4])
                for i = 4, 3 + n do
                    assert.are.equal(s0, slot(w[i]), "keys of one call in two slots: " .. line:sub(1, 300))
                    written[#written + 1] = w[i]
                end
                -- the match call: KEYS mapping, early list, being-matched set, queue [, old mapping]
                if (n == 4 or n == 5) and w[5]:find("}e:", 1, true) then
                    matches = matches + 1
                    assert.are.equal(s0, slot(w[6 + n] .. "1"), "the record of a receipt in another slot")
                end
                scripts = scripts + 1
            elseif cmd and cmd:match("^[XHSLRI]") and w[2] then
                written[#written + 1] = w[2]
            end
        end
        assert.is_true(scripts >= 5 * 25, "script calls seen: " .. scripts)
        assert.is_true(matches >= 25, "receipt scripts seen: " .. matches)
        for _, k in ipairs(written) do
            if k:sub(1, 7) == "smppgw:" then assert.is_truthy(tag(k), "a key without a hash tag: " .. k) end
        end
    end)
end)
