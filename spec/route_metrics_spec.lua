-- route_metrics_spec -- per-route latency histograms and receipt counts,
-- per-account receipts and MO, in /metrics (read with the strict parser)
-- and /stats: two reference SMSCs as upstreams A and B, a gateway with two
-- routes (one named with a quote and a backslash), an ESME sending through
-- both, store and forward and message_id "upstream". The bound of the
-- table of routes is checked on the C module itself.
local wire = require "helpers.wire"
local server = require "helpers.server"
local prometheus = require "helpers.prometheus"
local wait_until = require("helpers.wait").wait_until

local id, RESP = wire.id, wire.RESP
local ROK = 0
local ODD = 'odd "route" \\ here'    -- a route name the exposition must escape

local function gateway_conf(a_port, b_port, message_id, redis_address)
    return server.lua {
        cluster = redis_address and { redis = redis_address, store = true } or nil,
        script = server.root .. "/scripts/gateway.lua",
        log = { level = "info" },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = {
            { name = "A", port = a_port, system_id = "gw", password = "gwpw", reconnect_min = 0.2, reconnect_max = 0.5 },
            { name = "B", port = b_port, system_id = "gw", password = "gwpw", reconnect_min = 0.2, reconnect_max = 0.5 },
        },
        gateway = {
            message_id = message_id,
            routes = {
                { name = "uk", prefix = "44", to = "A" },
                { name = ODD, prefix = "999", to = "B" },      -- 999...: UNDELIV at the reference SMSC
            },
            mo_routes = { { account = "esme1" } },
        },
    }
end

local A, B, GW
local function start_all(message_id, redis_address)
    local smsc = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } } }
    A = server.start { conf = smsc }
    B = server.start { conf = smsc }
    GW = server.start { conf = "return " .. gateway_conf(A.port, B.port, message_id, redis_address) }
    assert(GW:wait_log("upstream A: bind 1 up", 5), GW:log_text())
    assert(GW:wait_log("upstream B: bind 1 up", 5), GW:log_text())
end
local function stop_all()
    for _, s in ipairs { GW, A, B } do
        if s and not s:stop("TERM", 5) then s:kill() end
    end
    GW, A, B = nil, nil, nil
end

local function submit(c, dest, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { destination_addr = dest, short_message = text, registered_delivery = 1 }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 6))
    return r.status
end

-- The value of the sample of `name` (or its _count) whose labels are
-- exactly `want` (le aside); 0 when there is none.
local function value(fam, name, want)
    local f = assert(fam[name] or fam[(name:gsub("_sum$", ""))], "no family " .. name)
    for _, s in ipairs(f.samples) do
        local ok = s.name == name or s.name == name .. "_count"
        for k, v in pairs(s.labels) do if k ~= "le" and want[k] ~= v then ok = false end end
        for k, v in pairs(want) do if s.labels[k] ~= v then ok = false end end
        if ok then return s.value end
    end
    return 0
end

-- The le bounds of the series of histogram `name` with labels `want`.
local function bounds(fam, name, want)
    local out = {}
    for _, s in ipairs(fam[name].samples) do
        local ok = s.name == name .. "_bucket"
        for k, v in pairs(want) do if s.labels[k] ~= v then ok = false end end
        if ok then out[#out + 1] = s.labels.le end
    end
    return out
end

-- /metrics parsed, once pred(families) holds (the forwarder and the
-- receipts run in the background).
local function metrics_when(pred)
    local fam, last
    local ok = wait_until(function()
        local code, body = GW:http("GET", "/metrics")
        assert.equal(200, code)
        last = body
        fam = prometheus.parse(body)
        local ok, v = pcall(pred, fam)                -- a family not there yet: not yet
        return ok and v
    end, 8)
    assert(ok, "metrics never got there:\n" .. tostring(last))
    return fam
end

describe("#integration per-route latency and receipts (store and forward)", function()
    setup(function() start_all("own") end)
    teardown(stop_all)

    it("counts what went through each route, escapes the names, and /stats agrees", function()
        local c = wire.connect(GW.port)
        assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
        assert.equal(ROK, submit(c, "447700900123", "one"))
        assert.equal(ROK, submit(c, "447700900124", "two"))
        assert.equal(ROK, submit(c, "447700900125", "echo back"))     -- the SMSC echoes it: an MO
        assert.equal(ROK, submit(c, "999000001", "lost"))
        assert.equal(ROK, submit(c, "999000002", "lost"))
        local fam = metrics_when(function(f)
            return value(f, "smppgw_route_receipts_total", { route = "uk", stat = "DELIVRD" }) == 3
                and value(f, "smppgw_route_receipts_total", { route = ODD, stat = "UNDELIV" }) == 2
                and value(f, "smppgw_account_mo_total", { account = "esme1" }) == 1
        end)
        -- the ESME takes what came (receipts and the MO)
        while c:expect(function(p) return p.id == id.deliver_sm end, 0.5) do end
        assert.equal("histogram", fam.smppgw_route_latency_seconds.type)
        assert.equal(3, value(fam, "smppgw_route_latency_seconds", { route = "uk" }))
        assert.equal(2, value(fam, "smppgw_route_latency_seconds", { route = ODD }))
        assert.is_true(value(fam, "smppgw_route_latency_seconds_sum", { route = "uk" }) > 0)
        assert.equal(0, value(fam, "smppgw_route_receipts_total", { route = "uk", stat = "UNDELIV" }))
        assert.equal(0, value(fam, "smppgw_route_receipts_total", { route = ODD, stat = "DELIVRD" }))
        assert.equal(3, value(fam, "smppgw_account_receipts_total", { account = "esme1", stat = "DELIVRD" }))
        assert.equal(2, value(fam, "smppgw_account_receipts_total", { account = "esme1", stat = "UNDELIV" }))
        -- the ESME side's answers per route are still there, under the same names
        assert.equal(3, value(fam, "smppgw_route_submitted_total", { route = "uk" }))
        assert.equal(2, value(fam, "smppgw_route_submitted_total", { route = ODD }))
        -- one source for the bounds: the engine's response-time histograms'
        assert.same(bounds(fam, "smppgw_response_time_seconds", {}),
                    bounds(fam, "smppgw_route_latency_seconds", { route = "uk" }))
        -- /stats holds the same figures
        local g = GW:stats().gateway
        assert.equal(3, g.routes.uk.latency_count)
        assert.equal(2, g.routes[ODD].latency_count)
        assert.equal(3, g.routes.uk.receipts.DELIVRD)
        assert.equal(2, g.routes[ODD].receipts.UNDELIV)
        assert.equal(2, g.accounts.esme1.receipts.UNDELIV)
        assert.equal(1, g.accounts.esme1.mo)
        assert.equal(#g.latency_bounds_ms + 1, #g.routes.uk.latency_buckets)
        c:close()
    end)
end)

describe("#integration per-route latency (message_id upstream)", function()
    setup(function() start_all("upstream") end)
    teardown(stop_all)

    it("times what the ESME waited, per route", function()
        local c = wire.connect(GW.port)
        assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
        assert.equal(ROK, submit(c, "447700900123", "one"))
        assert.equal(ROK, submit(c, "447700900124", "two"))
        assert.equal(ROK, submit(c, "999000001", "lost"))
        -- answered: the time is counted before the answer goes out
        local code, body = GW:http("GET", "/metrics")
        assert.equal(200, code)
        local fam = prometheus.parse(body)
        assert.equal(2, value(fam, "smppgw_route_latency_seconds", { route = "uk" }))
        assert.equal(1, value(fam, "smppgw_route_latency_seconds", { route = ODD }))
        -- their receipts are matched through the store like the others
        fam = metrics_when(function(f)
            return value(f, "smppgw_route_receipts_total", { route = "uk", stat = "DELIVRD" }) == 2
                and value(f, "smppgw_route_receipts_total", { route = ODD, stat = "UNDELIV" }) == 1
        end)
        assert.equal(1, value(fam, "smppgw_account_receipts_total", { account = "esme1", stat = "UNDELIV" }))
        c:close()
    end)
end)

describe("#integration per-account receipts on the Redis store", function()
    local redis = require "helpers.redis"

    it("counts each matched receipt under its account, by stat", function()
        local r = redis.start()
        start_all("own", r.address)
        finally(stop_all)
        assert(wait_until(function()             -- its link to Redis and a block of ids
            local cl = GW:stats().cluster
            return cl and cl.redis.state == "up" and cl.store and cl.store.node_id > 0 and cl.store.ids_left > 0
        end, 10), "the node never got its link to Redis")
        local c = wire.connect(GW.port)
        assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
        assert.equal(ROK, submit(c, "447700900123", "one"))
        assert.equal(ROK, submit(c, "447700900124", "two"))
        assert.equal(ROK, submit(c, "999000001", "lost"))
        local fam = metrics_when(function(f)
            return value(f, "smppgw_account_receipts_total", { account = "esme1", stat = "DELIVRD" }) == 2
                and value(f, "smppgw_account_receipts_total", { account = "esme1", stat = "UNDELIV" }) == 1
        end)
        assert.equal(0, value(fam, "smppgw_account_receipts_total", { account = "esme1", stat = "EXPIRED" }))
        c:close()
    end)
end)

describe("the table of routes", function()
    local core = require "smpp.core"

    it("holds RT_ROUTE_MAX names and counts the rest in one (other) row", function()
        local before = 0
        for _ in pairs(core.route_stats().routes) do before = before + 1 end
        for i = 1, 600 do core.route_latency("bound-" .. i, 0.003) end
        core.route_latency("bound-1", -1)             -- a negative time counts as 0
        local t = core.route_stats()
        local n = 0
        for _ in pairs(t.routes) do n = n + 1 end
        assert.equal(513, n)                          -- 512 names and (other)
        local first = t.routes["bound-1"]
        assert.equal(2, first.latency_count)
        assert.equal(1, first.latency_buckets[1])     -- le 1 ms: the negative one
        assert.equal(5, t.latency_bounds_ms[3])
        assert.equal(1, first.latency_buckets[3])     -- 3 ms: le 5 ms
        local other = t.routes["(other)"]
        assert.equal(600 - (512 - before), other.latency_count)
        assert.is_nil(t.routes["bound-600"])
    end)
end)
