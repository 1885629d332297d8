-- stats_spec -- facts the statistics take from one place: statuses counted
-- by code (vendor and unknown ones too), the response-time histogram
-- bounds of the engine, the process's uptime, and the session defaults of
-- the config schema as the C engine applies them.
local wire = require "helpers.wire"
local server = require "helpers.server"
local cjson = require "cjson"
local http = require "socket.http"
local socket = require "socket"
local config = require "smpp.config"

local id, RESP = wire.id, wire.RESP

local SCRIPT = [[
local smpp = require "smpp"
local S = smpp.status
return {
    submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text == "vendor" then return 0x400 end
        if text == "unknown" then return 0x09 end        -- in the span, not in status.def
        if text == "mo" then
            local r, err = session:send { command = "deliver_sm", source_addr = "1", destination_addr = "2",
                                          short_message = "mo" }
            return S.ESME_ROK, { message_id = r and string.format("%X", r.command_status) or err }
        end
        return S.ESME_ROK, { message_id = "ok" }
    end,
}
]]

local function get(srv, path)
    local body, code = http.request("http://127.0.0.1:" .. srv.http_port .. path)
    assert.equal(200, code, path)
    return body
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = text }))
    while true do
        local p = assert(c:read())
        if p.id == id.deliver_sm then           -- a vendor status back
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0", 0x4FF))
        elseif p.id == RESP + id.submit_sm and p.seq == seq then
            return p, wire.first_cstr(p.body)
        end
    end
end

describe("#integration statistics", function()
    local srv, c, started
    setup(function()
        started = socket.gettime()
        srv = server.start { script = SCRIPT }
        c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
    end)
    teardown(function()
        if c then c:close() end
        if srv then
            if not srv:stop("TERM", 5) then srv:kill() end
            os.execute("rm -rf '" .. srv.dir .. "'")
        end
    end)

    it("counts statuses without a name by code, sent and received, in /stats and /metrics", function()
        assert.equal(0x400, (submit(c, "vendor")).status)
        assert.equal(0x09, (submit(c, "unknown")).status)
        local _, mid = submit(c, "mo")
        assert.equal("4FF", mid)
        local st = cjson.decode(get(srv, "/stats")).totals.statuses
        assert.same({ rx = 0, tx = 1 }, st["0x00000400"])
        assert.same({ rx = 0, tx = 1 }, st["0x00000009"])
        assert.same({ rx = 1, tx = 0 }, st["0x000004FF"])
        assert.is_nil(st.ESME_RALYBND)                          -- only what was seen
        local m = get(srv, "/metrics")
        assert.truthy(m:find('smppgw_responses_total{direction="tx",status="0x00000400"} 1', 1, true), m)
        assert.truthy(m:find('smppgw_responses_total{direction="rx",status="0x000004FF"} 1', 1, true), m)
    end)

    it("exports the engine's response-time bounds, and /metrics uses them", function()
        submit(c, "mo")
        local t = cjson.decode(get(srv, "/stats")).totals
        assert.equal(#t.response_time_buckets - 1, #t.response_time_bounds_ms)
        assert.same({ 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000 }, t.response_time_bounds_ms)
        local m = get(srv, "/metrics")
        local les = {}
        for le in m:gmatch('smppgw_response_time_seconds_bucket{le="([^"]+)"}') do les[#les + 1] = le end
        assert.equal(#t.response_time_buckets, #les)
        for i, ms in ipairs(t.response_time_bounds_ms) do
            assert.equal(ms / 1000, tonumber(les[i]))
        end
        assert.equal("+Inf", les[#les])
        local inf = tonumber(m:match('smppgw_response_time_seconds_bucket{le="%+Inf"} (%d+)'))
        assert.equal(tonumber(m:match("smppgw_response_time_seconds_count (%d+)")), inf)
        assert.is_true(inf >= 1)
    end)

    it("reports the process's uptime, not the host's", function()
        local up = cjson.decode(get(srv, "/stats")).totals.uptime_s
        assert.is_true(up >= 0)
        assert.is_true(up <= socket.gettime() - started + 1, "uptime_s " .. up)
        local m = tonumber(get(srv, "/metrics"):match("smppgw_uptime_seconds ([%d.e+-]+)"))
        assert.is_true(m >= up and m <= socket.gettime() - started + 1)
    end)

    it("gives sessions the schema's defaults when the config sets none", function()
        local d = config.defaults("session")
        local s = cjson.decode(get(srv, "/stats?sessions=1")).sessions[1]
        assert.equal(d.window, s.window_size)
        assert.equal(d.receive_window, s.receive_window_size)
        local lim = cjson.decode(get(srv, "/stats")).limits
        assert.equal(d.max_pdu, lim.max_pdu)
        -- max_connections has no fixed default: it is what the open-files limit leaves
        assert.is_nil(config.defaults("limits").max_connections)
        assert.is_true(lim.max_connections > 0, "max_connections " .. tostring(lim.max_connections))
        assert.equal(config.defaults("limits").max_per_address, lim.max_per_address)
    end)
end)

-- -- Script gauges that fail -----------------------------------------------------------

describe("#integration script gauges that fail", function()
    local srv, c
    setup(function()
        srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', "
            .. "password = 'password' } }, scripts = { budget_ms = 400, max_gauges = 40 } }", script = [[
local smpp = require "smpp"
smpp.gauge("good", function() return 5 end, 10)
smpp.gauge("ratio", function() return 0 / 0 end)               -- errors / total before any traffic
smpp.gauge("huge", function() return -math.huge end)
smpp.gauge("loops", function() while true do end end)
smpp.gauge("sleeps", function() smpp.sleep(5) return 1 end)
smpp.gauge("raises", function() error("no level yet") end)
return {
    submit_sm = function(session, pdu)
        local n, ok, err = 0, true, nil
        while ok do
            ok, err = pcall(smpp.gauge, "more_" .. n, function() return 1 end)
            if ok then n = n + 1 end
        end
        local lim = pcall(smpp.gauge, "bad_limit", function() return 1 end, 0 / 0)
        return 0, { message_id = n .. " " .. tostring(lim) .. " " .. (err:match("there are %d+ gauges of scripts already") or err:sub(1, 50)) }
    end,
}
]] }
        c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
    end)

    it("show each failure as that gauge's error, and /stats and /metrics answer", function()
        local t0 = socket.gettime()
        local g = cjson.decode(get(srv, "/stats")).gauges
        -- a tenth of the budget for the one that loops; the one that waits is refused at once
        assert.is_true(socket.gettime() - t0 < 0.4, "GET /stats took " .. socket.gettime() - t0 .. " s")
        assert.same({ value = 5, limit = 10 }, g.good)
        assert.equal("returned nan, not a finite number", g.ratio.error)
        assert.is_nil(g.ratio.value)
        assert.equal("returned -inf, not a finite number", g.huge.error)
        assert.matches("script budget exceeded: ran longer than 40 ms, the limit of gauge loops", g.loops.error)
        assert.matches("^a gauge must not wait", g.sleeps.error)
        assert.matches("no level yet", g.raises.error)
        local m = get(srv, "/metrics")
        assert.matches('smppgw_script_gauge{name="good"} 5', m, 1, true)
        assert.is_nil(m:find("nan", 1, true) or m:find("NaN", 1, true))
        -- logged naming the gauge, once while it stays the same
        assert.truthy(srv:wait_log("gauge ratio: returned nan, not a finite number"))
        assert.equal(1, srv:count_log("gauge ratio: returned nan"))
    end)

    it("bounds the number of gauges by scripts.max_gauges, and refuses a limit that is not finite", function()
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { short_message = "more" }))
        local r = assert(c:expect(function(p) return p.seq == seq end, 5))
        local n, lim, err = wire.first_cstr(r.body):match("^(%d+) (%a+) (.*)$")
        -- 40 of scripts in all: the script's six and 34 more; the bind
        -- check's own five (smpp.security) are not counted (they were, and
        -- a script of max_gauges gauges made the runtime's registration fail)
        assert.equal("34", n)
        assert.equal("false", lim)
        assert.equal("there are 40 gauges of scripts already", err)
        assert.equal(45, #(function() local t = {} for k in pairs(cjson.decode(get(srv, "/stats")).gauges) do
            t[#t + 1] = k end return t end)())
    end)
end)

describe("#integration a script gauge that loops over short C calls", function()
    it("fails alone at its tenth of the budget: /stats answers 200 with its error", function()
        -- the hook counts instructions, and a loop of table.sort calls runs
        -- few of them: only the watchdog's poke reaches it in time, and the
        -- watchdog knew the /stats run's deadline alone (500 after the
        -- whole budget, /stats stopped with it)
        local srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', "
            .. "password = 'password' } }, scripts = { budget_ms = 1000 } }", script = [[
local smpp = require "smpp"
local t, big = {}, string.rep("x", 4 * 1024 * 1024)
for i = 1, 100000 do t[i] = i end
smpp.gauge("sorts", function() while true do table.sort(t) end end)
smpp.gauge("uppers", function() while true do big:upper() end end)
smpp.gauge("good", function() return 7 end)
return {}
]] }
        for _ = 1, 2 do
            local t0 = socket.gettime()
            local body, code = http.request("http://127.0.0.1:" .. srv.http_port .. "/stats")
            local took = socket.gettime() - t0
            assert.equal(200, code, tostring(body) .. srv:log_text())
            -- two gauges of 100 ms each, a watchdog tick (20 ms) and a C call past it at most
            assert.is_true(took < 0.6, "GET /stats took " .. took .. " s")
            local g = cjson.decode(body).gauges
            assert.matches("ran longer than 100 ms, the limit of gauge sorts", g.sorts.error, 1, true)
            assert.matches("ran longer than 100 ms, the limit of gauge uppers", g.uppers.error, 1, true)
            assert.equal(7, g.good.value)
        end
        local _, code = http.request("http://127.0.0.1:" .. srv.http_port .. "/metrics")
        assert.equal(200, code)
        assert.equal(0, srv:count_log("HTTP handler failed"), srv:log_text())
    end)
end)
