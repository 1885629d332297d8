-- What the gateway does around a message on the Redis store as on the
-- SQLite one: the receipt of a message sent through POST /send with a
-- callback_url is posted to it (the gateway's Lua handler, event
-- "receipt"); an upstream's refusal goes to the handler (its after_answer
-- hook decides; the ESME gets the gateway's own receipt); the per-route
-- metrics count the upstream's answers (latency) and the receipts of each
-- route and account.
local cjson = require "cjson"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local prometheus = require "helpers.prometheus"
local tmp = require "helpers.tmp"
local gwr = require "helpers.gwr"

local ROK = gwr.ROK

-- the value of sample `name` with exactly the labels want (le aside), or 0
local function value(fam, name, want)
    local f = fam[name] or fam[(name:gsub("_sum$", ""))]
    if not f then return 0 end
    for _, s in ipairs(f.samples) do
        local ok = s.name == name or s.name == name .. "_count"
        for k, v in pairs(s.labels) do if k ~= "le" and want[k] ~= v then ok = false end end
        for k, v in pairs(want) do if s.labels[k] ~= v then ok = false end end
        if ok then return s.value end
    end
    return 0
end

describe("cluster store events", function()
    it("posts the receipt of a POST /send message to its callback_url", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local listener, cport = wire.listen()
        local code, body = a:http("POST", "/send", cjson.encode {
            to = "447700900123", text = "rcpt call me back", callback_url = "http://127.0.0.1:" .. cport .. "/receipts" },
            { ["Content-Type"] = "application/json" })
        assert.are.equal(200, code, body)
        local id = cjson.decode(body).message_ids[1]
        listener:settimeout(wait.scaled(10))
        local conn = assert(listener:accept())
        conn:settimeout(5)
        assert.are.equal("POST /receipts HTTP/1.1", conn:receive("*l"))
        local len
        repeat
            local h = assert(conn:receive("*l"))
            len = len or tonumber(h:match("^[Cc]ontent%-[Ll]ength: (%d+)"))
        until h == ""
        local raw = assert(conn:receive(len))
        local posted = cjson.decode(raw)
        conn:send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        conn:close()
        listener:close()
        assert.are.equal(id, posted.message_id)
        assert.are.equal("DELIVRD", posted.state)
        assert.are.equal("U", posted.upstream)
        assert.matches("stat:DELIVRD", posted.receipt_text, 1, true)
        local st = a:stats().cluster.store
        assert.are.equal(1, st.receipts_to_handler)
        assert.are.equal(0, st.rx_appended)                       -- not put in a stream nobody reads
        assert.are.equal(0, r:cmd("EXISTS", "smppgw:{a:@http}r"))
    end)

    it("counts each route's latency and receipts and each account's receipts", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        gwr.submit_all(a, gwr.texts("rcpt", 4))
        local fam
        assert.is_true(wait.wait_until(function()
            local code, body = a:http("GET", "/metrics")
            assert.are.equal(200, code)
            fam = prometheus.parse(body)
            return value(fam, "smppgw_route_receipts_total", { route = "all", stat = "DELIVRD" }) == 4
        end, 10), "4 receipts of route all in /metrics")
        assert.are.equal(4, value(fam, "smppgw_route_latency_seconds", { route = "all" }))
        assert.is_true(value(fam, "smppgw_route_latency_seconds_sum", { route = "all" }) > 0)
        assert.are.equal(4, value(fam, "smppgw_account_receipts_total", { account = "esme1", stat = "DELIVRD" }))
    end)

    it("asks the gateway's handler about a refusal: its after_answer hook decides, the ESME gets a receipt", function()
        local r = redis.start()
        local up = gwr.upstream()
        local dir = tmp.dir()
        tmp.write(dir .. "/gw.lua", [[
local gw = require("smpp.gateway_script").new(...)
function gw.after_answer(a)
    if a.kind == "refused" and a.upstream == "U" and a.status == 0x0B then return "ESME_RX_P_APPN" end
end
return gw.handlers
]])
        local a = gwr.node(r, up.port, { script = dir .. "/gw.lua" })
        gwr.bound_upstream(a)
        local rx = wire.connect(a.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local id = gwr.submit_all(a, { "refuse me" })[1]
        local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
        rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
        local sm = wire.parse_sm(p.body)
        assert.matches("^id:" .. id .. " ", sm.short_message)
        assert.matches("stat:REJECTD err:101", sm.short_message, 1, true)
        local code, body = a:http("GET", "/messages/" .. id)
        assert.are.equal(200, code, body)
        local m = cjson.decode(body)
        assert.are.equal("REJECTD", m.state)
        assert.is_true(m.final)
        assert.are.equal(0x65, m.error)
        local last = m.trace[#m.trace].event
        assert.matches("after_answer: sent to U %(session %d+, attempt 1%): ESME_RINVDSTADR; REJECTED", last)
        assert.are.equal(1, a:stats().cluster.store.refused)
    end)

    it("keeps a healthy Redis link while a handler holds the loop longer than cluster.timeout", function()
        local r = redis.start()
        local up = gwr.upstream()
        local dir = tmp.dir()
        -- "block" holds the loop for 1.5 s of CPU in C-free Lua (the budget,
        -- 20 s of wall clock, leaves room for a loaded machine): the message before it in the same read has its accept call sent
        -- to Redis and waiting when the loop stops
        tmp.write(dir .. "/gw.lua", [[
local gw = require("smpp.gateway_script").new(...)
function gw.before_route(m)
    if m.pdu.short_message == "block" then
        local t0 = os.clock()
        while os.clock() - t0 < 1.5 do end
    end
end
return gw.handlers
]])
        local a = gwr.node(r, up.port, { script = dir .. "/gw.lua", scripts = { budget_ms = 20000 },
                                         cluster = { timeout = 0.5 } })     -- over helpers.gw_store's
        gwr.bound_upstream(a)
        local c = wire.connect(a.port)
        assert.are.equal(ROK, c:bind("transmitter", "esme1", "pw1").status)
        local f = { source_addr = "1", destination_addr = "447700900123" }
        local s1, s2 = c:next_seq(), nil
        f.short_message = "before the block"
        local both = wire.submit_sm(s1, f)
        s2 = c:next_seq()
        f.short_message = "block"
        c:send(both .. wire.submit_sm(s2, f))         -- one write: one read, one loop turn
        local got = {}
        for _ = 1, 2 do
            local p = assert(c:read(wait.scaled(10)))
            got[p.seq] = p.status
        end
        assert.are.equal(ROK, got[s1], a:log_text())
        assert.are.equal(ROK, got[s2], a:log_text())
        assert.are.equal(0, a:count_log("dropping the link"), a:log_text())
        assert.are.equal(0, a:stats().cluster.redis.disconnects)
    end)
end)
