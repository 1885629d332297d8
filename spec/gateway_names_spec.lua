-- gateway_names_spec -- every upstream name a process has had keeps a
-- record in C (about 600 bytes) until a restart: freeing one would need to
-- know that nothing under way still refers to it. A process renamed
-- through name after name by reloads grew without bound; now a reload may
-- bring the records to the names it configures and 1,024 more
-- (smpp.upstream.NAMES_SPARE), and one past that is refused, naming
-- `upstreams`, with the running configuration kept. The gauge
-- upstream_names shows the records beside that limit. 1,500 renames are
-- tried, 100 a reload.
local server = require "helpers.server"
local wire = require "helpers.wire"

local SPARE, BATCH, RELOADS = 1024, 100, 15

-- a configuration whose upstreams are A and `names`, on a port nothing
-- listens on (never bound, nothing queued: what is left of a name removed
-- is its record)
local function conf(port, names)
    local ups = { { name = "A", port = port, reconnect_min = 30, reconnect_max = 60 } }
    for _, n in ipairs(names) do
        ups[#ups + 1] = { name = n, port = port, reconnect_min = 30, reconnect_max = 60 }
    end
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua", store = { path = ":memory:" },
        accounts = { { system_id = "esme1", password = "pw1" } }, upstreams = ups,
        gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } },
    }
end

describe("#integration upstream names a process has had", function()
    it("stay within the configured names and 1,024 more: a reload past that is refused, naming upstreams",
        function()
        local closed = wire.listen()
        local port = tonumber((select(2, closed:getsockname())))
        closed:close()
        local gw = server.start { conf = conf(port, {}) }
        finally(function() gw:stop() end)
        local limit = 1 + BATCH + SPARE                   -- A and a batch configured
        local accepted, refused, last, gauges = 0, 0, nil, {}
        for r = 1, RELOADS do
            local names = {}
            for i = 1, BATCH do names[i] = ("Z%d_%d"):format(r, i) end   -- the last batch renamed
            gw:write("conf.lua", conf(port, names))
            local code, body = gw:http("POST", "/reload")
            if code == 200 then
                accepted = accepted + 1
                last = r
            else
                refused = refused + 1
                assert.equal(422, code, body)
                assert.matches("upstreams: 100 names this process has not had", body, 1, true)
                assert.matches("restart the process to rename further", body, 1, true)
            end
            gauges[r] = gw:stats().gauges.upstream_names or false
        end
        -- 1 + 11 x 100 <= 1,125: eleven batches taken, the other four refused
        assert.equal(11, accepted, "reloads taken")
        assert.equal(RELOADS - 11, refused)
        for r, g in ipairs(gauges) do
            assert.is_table(g, "no gauge upstream_names")
            assert.is_true(g.value <= limit, ("reload %d: %d records, limit %d"):format(r, g.value, limit))
            assert.equal(limit, g.limit)
        end
        assert.equal(1 + 11 * BATCH, gw:gauge("upstream_names"))
        -- the running configuration stayed: the last batch taken is configured, no refused one is
        local q = gw:stats().gateway.queues
        assert.is_true(q[("Z%d_1"):format(last)].configured)
        assert.is_nil(q[("Z%d_1"):format(RELOADS)])
        -- a reload that names nothing new is taken still, and the gauge's limit keeps what there is
        gw:write("conf.lua", conf(port, {}))
        local code, body = gw:http("POST", "/reload")
        assert.equal(200, code, body)
        local g = gw:stats().gauges.upstream_names
        assert.same({ 1 + 11 * BATCH, 1 + 11 * BATCH }, { g.value, g.limit })
    end)
end)
