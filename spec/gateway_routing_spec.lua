-- gateway_routing_spec -- the gateway's router tries the routes of a
-- table of up to router.UNROLL routes without a loop (so that the JIT
-- compiles the handler's path through it): it must pick what the loop
-- picks, in both modes, and count the same pattern keys that gave up.
-- Random tables and messages, each matched by an unrolled router and by
-- the same router made to take the loop. And the order in which a
-- route's upstreams are tried (smpp.gateway.candidates) by their load.
local router = require "smpp.router"

local PREFIXES = { "", "44", "447", "4477", "1", "33" }
local SOURCES = { "", "44", "SHOP", "9" }
local DESTS = { "447700900123", "4412", "331234", "1555", "", "4477" }

-- A find_steps that gives up on the pattern "GIVE UP" (as the bounded
-- matcher does on one that backtracks too long), string.find otherwise.
local function find_steps(s, p)
    if p == "GIVE UP" then return false end
    return s:find(p)
end

local function pick(rng, list) return list[rng(#list)] end

local function random_routes(rng, n)
    local routes = {}
    for i = 1, n do
        local r = { name = "r" .. i, to = { "A" } }
        if rng(3) > 1 then r.prefix = pick(rng, PREFIXES) end
        if rng(4) == 1 then r.source = pick(rng, SOURCES) end
        if rng(5) == 1 then r.system_id = pick(rng, { "esme1", "esme2" }) end
        if rng(6) == 1 then r.pattern = pick(rng, { "^44", "3$", "GIVE UP" }) end
        if rng(8) == 1 then r.service_type = pick(rng, { "", "CMT" }) end
        routes[i] = r
    end
    return routes
end

-- The loop's answer: the same router without its unrolled function.
local function both(routes, mode)
    local a = assert(router.new { routes = routes, match = mode, find_steps = find_steps })
    local b = assert(router.new { routes = routes, match = mode, find_steps = find_steps })
    b.unrolled = nil
    return a, b
end

describe("the gateway's router without a loop", function()
    it("unrolls tables up to router.UNROLL routes, and no more", function()
        local small, big = {}, {}
        for i = 1, router.UNROLL + 1 do
            big[i] = { name = "r" .. i, prefix = string.format("%03d", i), to = { "A" } }
            if i <= router.UNROLL then small[i] = big[i] end
        end
        assert.is_function(assert(router.new { routes = small }).unrolled)
        local r = assert(router.new { routes = big })
        assert.is_nil(r.unrolled)
        assert.equal(big[router.UNROLL + 1].name,
                     r:match({ destination_addr = string.format("%03d", router.UNROLL + 1) }, nil).name)
    end)

    it("orders a least_outstanding route's upstreams by their load, asked once each per message", function()
        local core = require "smpp.core"
        local gateway = require "smpp.gateway"
        local real, loads, asked = core.gw_load, { a = 5, b = 1, c = 3 }, {}
        core.gw_load = function(name)
            asked[name] = (asked[name] or 0) + 1
            return loads[name]
        end
        local ok, err = pcall(function()
            local route = { name = "r", to = { "a", "b", "c" }, strategy = "least_outstanding" }
            assert.same({ "b", "c", "a" }, gateway.candidates(route))
            assert.same({ a = 1, b = 1, c = 1 }, asked)
            loads.a, loads.c = 0, 9
            assert.same({ "a", "b", "c" }, gateway.candidates(route))
            assert.same({ "a", "b", "c" }, route.to)          -- the route's own list is not sorted
        end)
        core.gw_load = real
        assert(ok, err)
    end)

    for _, mode in ipairs { "first", "longest" } do
        it("picks what the loop picks and counts the same give-ups (" .. mode .. ")", function()
            local seed = 1234
            local function rng(n)
                seed = (seed * 1103515245 + 12345) % 2147483648
                return seed % n + 1
            end
            local compared, matched = 0, 0
            for _ = 1, 200 do
                local routes = random_routes(rng, rng(8))
                local a, b = both(routes, mode)
                assert.is_function(a.unrolled)
                for _ = 1, 20 do
                    local pdu = { destination_addr = pick(rng, DESTS), source_addr = pick(rng, SOURCES),
                                  service_type = pick(rng, { "", "CMT" }) }
                    local session = { system_id = pick(rng, { "esme1", "esme2" }) }
                    local ra, rb = a:match(pdu, session), b:match(pdu, session)
                    assert.equal(rb and rb.name, ra and ra.name)
                    compared = compared + 1
                    if ra then matched = matched + 1 end
                end
                assert.same(b.gave_up, a.gave_up)
            end
            -- the tables and messages were not all matches or all misses
            assert.is_true(matched > compared / 10 and matched < compared)
        end)
    end
end)
