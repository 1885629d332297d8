-- gateway_size_mb_spec -- a store at store.limits.size_mb drains on its
-- own: new messages are refused (ESME_RMSGQFUL) at the soft limit, short
-- of size_mb by the room kept for what the messages already stored need
-- written (answers, expiry, the queue's rows); once the upstream is back
-- every accepted message is forwarded exactly once, and once expiry has
-- freed room the gateway accepts again, without a restart.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK, RMSGQFUL = 0, 0x14

-- n as letters: texts that differ in more than numbers (log lines that
-- differ only in numbers may be folded)
local function letters(n)
    local s = ""
    repeat
        s = string.char(97 + n % 26) .. s
        n = math.floor(n / 26)
    until n == 0
    return s
end

local function esme(gw)
    local c = wire.connect(gw.port)
    assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
    return c
end

-- Submit texts[from..to] pipelined; -> the statuses by text.
local function submit_all(c, texts, from, to)
    local seqs, out = {}, {}
    for i = from, to do
        local seq = c:next_seq()
        seqs[seq] = texts[i]
        c:send(wire.submit_sm(seq, { short_message = texts[i] }))
    end
    for _ = from, to do
        local r = assert(c:expect(function(p) return seqs[p.seq] and p.id == RESP + id.submit_sm end, 10), "no answer")
        out[seqs[r.seq]] = r.status
        seqs[r.seq] = nil
    end
    return out
end

describe("#integration store.limits.size_mb reached with messages queued", function()
    it("refuses new ones at the soft limit, forwards each accepted once when the upstream is back, "
       .. "then accepts again", function()
        local closed = wire.listen()
        local port = tonumber((select(2, closed:getsockname())))
        closed:close()
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            accounts = { { system_id = "esme1", password = "pw1" } },
            store = { path = "gw.db", trace_ttl = 0, limits = { size_mb = 1 } },
            upstreams = { { name = "A", port = port, system_id = "gw", password = "gwpw",
                            reconnect_min = 0.2, reconnect_max = 0.5 } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } }, retry_min = 0.2, retry_max = 1 },
        } }
        local c = esme(gw)
        local texts, accepted, naccepted, refused = {}, {}, 0, false
        local pad = (" "):rep(120)
        local i = 0
        while not refused do
            assert(i < 20000, "never refused: " .. gw:log_text():sub(-2000))
            for k = i + 1, i + 100 do texts[k] = "m " .. letters(k) .. pad end
            for text, status in pairs(submit_all(c, texts, i + 1, i + 100)) do
                if status == ROK then
                    accepted[text] = true
                    naccepted = naccepted + 1
                else
                    assert.equal(RMSGQFUL, status, gw:log_text():sub(-2000))
                    refused = true
                end
            end
            i = i + 100
        end
        assert.is_true(naccepted > 100)
        -- the upstream comes up: it counts what it takes, per text
        local up = server.start { port = port, conf = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]], script = [[
            local smpp, n, seen = require "smpp", 0, {}
            return { submit_sm = function(session, pdu)
                n = n + 1
                seen[pdu.short_message] = (seen[pdu.short_message] or 0) + 1
                if seen[pdu.short_message] > 1 then
                    smpp.log("warn", "again: %s", pdu.short_message:match("^m (%l+)"))
                end
                if n % 100 == 0 then smpp.log("info", "took %d", n) end
                return 0, { message_id = tostring(n) }
            end }]] }
        assert.truthy(wait_until(function()
            local q = gw:stats().gateway.queues.A
            return q and q.queued == 0
        end, 60), "queue not drained: " .. gw:log_text():sub(-3000))
        local a = gw:stats().gateway.queues.A
        assert.equal(naccepted, a.accepted, gw:log_text():sub(-2000))
        assert.equal(naccepted, a.sent, gw:log_text():sub(-2000))
        assert.is_nil(up:log_text():match("again: %l+"), up:log_text():sub(-2000))
        assert.is_nil(gw:log_text():match("store commit failed"), gw:log_text():sub(-3000))
        -- expiry frees room (trace_ttl = 0): new messages are accepted again, no restart
        local n = i
        assert.truthy(wait_until(function()
            n = n + 1
            texts[n] = "m " .. letters(n) .. pad
            return submit_all(c, texts, n, n)[texts[n]] == ROK
        end, 20), gw:log_text():sub(-2000))
        assert.matches("at its soft limit", gw:log_text(), 1, true)     -- why the first were refused
        up:stop()
        gw:stop()
    end)
end)
