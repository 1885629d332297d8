-- receipts_spec -- receipts reach the message they are about: ids are
-- matched exactly within the upstream that issued them, read in the base
-- the upstream declares (upstreams[].id_format), never by guessing between
-- hex and decimal; early receipts follow the same rules.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK = 0
local CWD = os.getenv("PWD")

-- An upstream whose ids come from a counter starting at `first`, written
-- by `fmt_resp` in submit_sm_resp and by `fmt_text` in the receipt text
-- (no receipted_message_id TLV, as many carriers do). `early(n)` says
-- whether message n's receipt goes out before its response; the others
-- get theirs `late` seconds after (or never, when late is nil).
local function upstream_script(first, fmt_resp, fmt_text, early_ids, late)
    return string.format([[
        local smpp = require "smpp"
        local n = %d
        local early = { %s }
        local late = %s
        local function receipt(session, pdu, id_text)
            return session:send { command = "deliver_sm", esm_class = 4,
                source_addr = pdu.destination_addr, destination_addr = pdu.source_addr,
                short_message = "id:" .. id_text .. " sub:001 dlvrd:001 submit date:2501311200 "
                    .. "done date:2501311201 stat:DELIVRD err:000 text:" .. pdu.short_message }
        end
        return { submit_sm = function(session, pdu)
            n = n + 1
            local resp_id, text_id = string.format(%q, n), string.format(%q, n)
            if early[n] then receipt(session, pdu, text_id)
            elseif late then smpp.after(late, function() receipt(session, pdu, text_id) end) end
            return 0, { message_id = resp_id }
        end }]], first - 1, early_ids, late and tostring(late) or "nil", fmt_resp, fmt_text)
end

local function gateway_conf(port, id_format, message_id)
    return string.format([[return { script = '%s/scripts/gateway.lua',
        log = { level = 'info' },
        accounts = { { system_id = 'esme1', password = 'pw1' } },
        upstreams = { { name = 'U', port = %d, system_id = 'gw', password = 'gwpw', %s } },
        gateway = { message_id = '%s', routes = { { name = 'all', prefix = '', to = { 'U' } } } } }]],
        CWD, port, id_format and ("id_format = " .. id_format) or "", message_id or "own")
end

-- window 100: the upstream sends its receipts without waiting for a free
-- slot, so with the default 10 a busy machine saw "window full" for some
local UPSTREAM_CONF = [[return { script = 'script.lua', log = { level = 'info' },
    session = { window = 100 }, accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

-- A receipt read on the way is answered and kept in c.receipts
-- ({ [receipted id] = text of the original }).
local function take_receipt(c, p)
    c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
    c.receipts[rid] = d.short_message:match("text:(.*)$")
    c.nreceipts = c.nreceipts + 1
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { destination_addr = "447700900123", registered_delivery = 1,
                                 short_message = text }))
    local r = assert(c:expect(function(p)
        if p.id == id.deliver_sm then take_receipt(c, p) return false end
        return p.seq == seq and p.id == RESP + id.submit_sm
    end, 6))
    assert.equal(ROK, r.status)
    return wire.first_cstr(r.body)
end

-- Wait until `want` receipts were read (or timeout): receipts, count.
local function receipts(c, want, timeout)
    local deadline = wire.gettime() + timeout
    while c.nreceipts < want and wire.gettime() < deadline do
        local p = c:expect(function(p) return p.id == id.deliver_sm end, deadline - wire.gettime())
        if p then take_receipt(c, p) end
    end
    return c.receipts, c.nreceipts
end

local function run_case(script, id_format, count, message_id)
    local up, gw, c
    local ok, err = pcall(function()
        up = server.start { conf = UPSTREAM_CONF, script = script }
        gw = server.start { conf = gateway_conf(up.port, id_format, message_id) }
        assert(gw:wait_log("upstream U: bind 1 up", 5), gw:log_text())
        c = wire.connect(gw.port)
        c.receipts, c.nreceipts = {}, 0
        assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
        local sent = {}
        for i = 1, count do sent[submit(c, "m" .. i)] = "m" .. i end
        return sent
    end)
    return ok, err, up, gw, c
end

local function stop(...)
    for _, s in ipairs { ... } do
        if s and s.close then s:close()
        elseif s and not s:stop("TERM", 5) then s:kill() end
    end
end

describe("#integration receipts matched by exact id", function()
    it("gives an early receipt for decimal id 16 to message 16, never to live message 10", function()
        -- ids 10..16; only 16 gets a receipt, and it comes before its response
        local ok, sent, up, gw, c = run_case(upstream_script(10, "%d", "%d", "[16] = true", nil), nil, 7)
        finally(function() stop(c, gw, up) end)
        assert(ok, sent)
        local got, n = receipts(c, 7, 3)
        assert.equal(1, n)
        local ids = {}
        for esme_id in pairs(got) do ids[#ids + 1] = esme_id end
        assert.equal("m7", got[ids[1]])           -- message 16 is the 7th submitted
        assert.equal("m7", sent[ids[1]])
    end)

    it("matches hex submit_sm_resp ids to decimal receipt ids when the upstream declares them", function()
        -- every third receipt arrives before its response, the rest 50 ms after
        local early = {}
        for n = 10, 29, 3 do early[#early + 1] = "[" .. n .. "] = true" end
        local script = upstream_script(10, "%X", "%d", table.concat(early, ", "), 0.05)
        local ok, sent, up, gw, c = run_case(script, "{ resp = 'hex', receipt = 'decimal' }", 20)
        finally(function() stop(c, gw, up) end)
        assert(ok, sent)
        local got, n = receipts(c, 20, 5)
        assert.equal(20, n)
        for esme_id, text in pairs(got) do
            assert.equal(sent[esme_id], text, "receipt for " .. esme_id .. " carried " .. tostring(text))
        end
    end)

    -- Undeclared formats: the upstream answers in hex and writes decimal
    -- ids in its receipt texts, every receipt before its response. The
    -- receipt of message 10 ("10") waits as early; message 16's response
    -- is "10" too, but message 16 was sent after that receipt arrived, so
    -- the receipt cannot be about it. Messages 1-9 (hex = decimal) get
    -- theirs; 10-20 get none (their receipts wait and expire), and no
    -- receipt reaches a wrong message.
    for _, policy in ipairs { "own", "upstream" } do
        it("never gives an early receipt to a message sent after it arrived (message_id " .. policy .. ")",
            function()
            local early = {}
            for n = 1, 20 do early[#early + 1] = "[" .. n .. "] = true" end
            local script = upstream_script(1, "%X", "%d", table.concat(early, ", "), nil)
            local ok, sent, up, gw, c = run_case(script, nil, 20, policy)
            finally(function() stop(c, gw, up) end)
            assert(ok, sent)
            -- every receipt was read by the gateway: matched (1-9) or kept as early (10-20)
            local link
            assert.is_truthy(wait_until(function()
                link = gw:stats().gateway.queues.U
                return link.receipts_early == 20 and link.receipts_early_matched >= 9
            end, 10))
            local got, n = receipts(c, 9, 5)
            assert.equal(9, n)
            for esme_id, text in pairs(got) do
                assert.equal(sent[esme_id], text, "receipt for " .. esme_id .. " carried " .. tostring(text))
            end
            assert.equal(9, link.receipts_early_matched)      -- not 14: 16-20 took none of 10-14's
            assert.equal(11, gw:stats().store.early.value)    -- 10-20 wait for their TTL
        end)
    end
end)
