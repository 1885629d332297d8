-- router_spec -- routing tables and the order a route's strategy tries its
-- upstreams in.
local router = require "smpp.router"

describe("smpp.router", function()
    local routes = {
        { name = "uk-mobile", prefix = "447", to = "A" },
        { name = "uk", prefix = "44", to = { "B" } },
        { name = "vip", system_id = "vip", to = { "C" } },
        { name = "cmt", service_type = "CMT", to = { "D" } },
        { name = "short", pattern = "^%d%d%d%d$", to = { "E" } },
        { name = "alerts", source = "ALERT", to = { "F" } },
        { name = "rest", to = { "G" } },
    }

    it("takes the first matching route", function()
        local r = assert(router.new { routes = routes })
        assert.equal("uk-mobile", r:match({ destination_addr = "447700900123" }).name)
        assert.equal("uk", r:match({ destination_addr = "442071234567" }).name)
        assert.equal("vip", r:match({ destination_addr = "33" }, { system_id = "vip" }).name)
        assert.equal("cmt", r:match({ destination_addr = "33", service_type = "CMT" }).name)
        assert.equal("short", r:match({ destination_addr = "1234" }).name)
        assert.equal("alerts", r:match({ destination_addr = "33", source_addr = "ALERTS" }).name)
        assert.equal("rest", r:match({ destination_addr = "33" }).name)
    end)

    it("takes the longest prefix in longest mode", function()
        local r = assert(router.new { match = "longest", routes = {
            { name = "any", to = { "G" } }, { name = "44", prefix = "44", to = { "B" } },
            { name = "4477", prefix = "4477", to = { "A" } } } })
        assert.equal("4477", r:match({ destination_addr = "447700900123" }).name)
        assert.equal("44", r:match({ destination_addr = "4420" }).name)
        assert.equal("any", r:match({ destination_addr = "33" }).name)
    end)

    it("returns nil when nothing matches", function()
        local r = assert(router.new { routes = { { prefix = "44", to = "A" } } })
        assert.is_nil(r:match({ destination_addr = "33" }))
    end)

    it("names a wrong key of a route", function()
        local r, err = router.new { routes = { { prefx = "44", to = "A" } } }
        assert.is_nil(r)
        assert.matches("routes%[1%]%.prefx: unknown key", err)
        r, err = router.new { routes = { { prefix = "44" } } }
        assert.matches("routes%[1%]%.to: missing", err)
        r, err = router.new { routes = { { to = "A", strategy = "random" } } }
        assert.matches("strategy", err)
    end)

    it("loads routes from a JSON file", function()
        local path = require("helpers.tmp").name()
        local f = assert(io.open(path, "w"))
        f:write('[{"name": "j", "prefix": "49", "to": ["A", "B"], "strategy": "round_robin"}]')
        f:close()
        local r = assert(router.new { routes = assert(router.load_json(path)) })
        assert.equal("j", r:match({ destination_addr = "4930" }).name)
        f = assert(io.open(path, "w"))
        f:write("{not json")
        f:close()
        local routes, err = router.load_json(path)
        assert.is_nil(routes)
        assert.is_string(err)
    end)
end)

describe("smpp.gateway strategies", function()
    local gateway = require "smpp.gateway"

    it("failover keeps the order given", function()
        assert.same({ "A", "B", "C" }, gateway.candidates { name = "f", to = { "A", "B", "C" }, strategy = "failover" })
    end)

    it("round robin starts one further each time", function()
        local route = { name = "rr", to = { "A", "B", "C" }, strategy = "round_robin" }
        assert.same({ "A", "B", "C" }, gateway.candidates(route))
        assert.same({ "B", "C", "A" }, gateway.candidates(route))
        assert.same({ "C", "A", "B" }, gateway.candidates(route))
        assert.same({ "A", "B", "C" }, gateway.candidates(route))
    end)

    it("weighted picks the first link in proportion to its weight", function()
        math.randomseed(7)
        local route = { name = "w", to = { "A", "B" }, strategy = "weighted", weights = { 3, 1 } }
        local first = { A = 0, B = 0 }
        for _ = 1, 4000 do
            local order = gateway.candidates(route)
            first[order[1]] = first[order[1]] + 1
            assert.equal(2, #order)
        end
        assert.is_true(first.A > 2700 and first.A < 3300, "A first " .. first.A .. " times")
    end)
end)
