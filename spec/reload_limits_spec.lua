-- reload_limits_spec -- a reload's load runs under the new `scripts`
-- limits (budget_ms, memory_mb, max_gauges), but a reload that is refused
-- leaves the running configuration's limits in force, as it says: after a
-- refused reload asking for budget_ms = 7 a script run of 20 ms still
-- completes and /stats still answers. Refusals tried: a script file that
-- does not open (the load), and the upstream name cap (checked once the
-- load has worked, smpp.upstream.room).
local server = require "helpers.server"
local wire = require "helpers.wire"

-- GET /spin: a run that keeps the CPU 20 ms without waiting
local SCRIPT = [[
local smpp = require "smpp"
require("smpp.http").route("GET", "/spin", function()
    local t0 = os.clock()
    while os.clock() - t0 < 0.02 do end
    return 200, { spun = true }
end)
return {}
]]

-- a configuration whose upstreams are `names` (on a port nothing listens
-- on: never bound), `extra` spliced in
local function conf(port, names, extra)
    local ups = {}
    for i, n in ipairs(names) do ups[i] = { name = n, port = port, reconnect_min = 30, reconnect_max = 60 } end
    local t = { script = "script.lua", store = { path = ":memory:" }, upstreams = ups,
                accounts = { { system_id = "smppclient1", password = "password" } } }
    for k, v in pairs(extra or {}) do t[k] = v end
    return "return " .. server.lua(t)
end

local function spins(gw)
    local code, body = gw:http("GET", "/spin")
    assert.equal(200, code, body)
    local st = gw:http("GET", "/stats")
    assert.equal(200, st)
end

describe("#integration a refused reload and the scripts limits", function()
    local port
    setup(function()
        local closed = wire.listen()
        port = tonumber((select(2, closed:getsockname())))
        closed:close()
    end)

    it("keeps the running budget when the new script does not open", function()
        local gw = server.start { conf = conf(port, {}), script = SCRIPT }
        finally(function() gw:stop() end)
        spins(gw)
        gw:write("conf.lua", conf(port, {}, { script = "nope.lua", scripts = { budget_ms = 7 } }))
        local code, body = gw:http("POST", "/reload")
        assert.equal(422, code, body)
        assert.matches("nope.lua", body, 1, true)
        spins(gw)
        -- a reload that works applies the new budget
        gw:write("conf.lua", conf(port, {}, { scripts = { budget_ms = 7 } }))
        code, body = gw:http("POST", "/reload")
        assert.equal(200, code, body)
        code = gw:http("GET", "/spin")
        assert.equal(500, code)
        assert.truthy(gw:wait_log("script budget exceeded"), gw:log_text())
    end)

    it("keeps the running budget when the reload is refused past the upstream name cap", function()
        local many = {}
        for i = 1, 1100 do many[i] = "a" .. i end
        local gw = server.start { conf = conf(port, { "smsc" }), script = SCRIPT }
        finally(function() gw:stop() end)
        gw:write("conf.lua", conf(port, many))
        local code, body = gw:http("POST", "/reload")
        assert.equal(200, code, body)
        gw:write("conf.lua", conf(port, { "smsc" }))
        code, body = gw:http("POST", "/reload")
        assert.equal(200, code, body)
        gw:write("conf.lua", conf(port, { "smsc", "z" }, { scripts = { budget_ms = 7 } }))
        code, body = gw:http("POST", "/reload")
        assert.equal(422, code, body)
        assert.matches("1 name this process has not had", body, 1, true)
        spins(gw)
    end)
end)
