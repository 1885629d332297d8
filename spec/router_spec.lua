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
        r, err = router.new { routes = { { name = "a", to = "A" }, { name = "a", prefix = "4", to = "B" } } }
        assert.is_nil(r)
        assert.matches('routes%[2%]%.name: "a" is also routes%[1%]\'s name', err)
        r, err = router.new { routes = { { to = "A" }, { name = "route 1", to = "B" } } }
        assert.matches('routes%[2%]%.name: "route 1" is also routes%[1%]\'s name', err)
        r, err = router.new { routes = { { contains = {}, to = "A" } } }
        assert.matches("routes%[1%]%.contains: an empty list %(the route would never match%)", err)
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
        -- only an array of routes, and not an empty one: each of these would refuse every message
        for text, want in pairs {
            ['{"routes":[{"name":"a","to":["A"]}]}'] = "expected a JSON array of routes, got an object",
            ['{"name":"a","to":["A"]}'] = "expected a JSON array of routes, got an object",
            [' {}'] = "expected a JSON array of routes, got an object",
            ['"routes"'] = "expected a JSON array of routes, got a string",
            ['[]'] = "no routes %(an empty array%): every message would be refused",
        } do
            f = assert(io.open(path, "w"))
            f:write(text)
            f:close()
            routes, err = router.load_json(path)
            assert.is_nil(routes, text)
            assert.matches("^" .. path:gsub("%p", "%%%0") .. ": " .. want, err)
        end
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

describe("smpp.router text keys and time windows", function()
    local core = require "smpp.core"
    -- 2026-12-07 is a Monday: 16:00 UTC
    local MON_16 = os.time { year = 2026, month = 12, day = 7, hour = 16 } - os.time { year = 1970, month = 1, day = 1, hour = 0 }
    local routes = {
        { name = "kw", contains = { "stop", "Promo" }, to = "A" },
        { name = "code", text_pattern = "^code %d+$", to = "B" },
        { name = "night", hours = "22:00-06:00", to = "C" },
        { name = "weekend", days = { "sat", "sun" }, to = "D" },
        { name = "office", days = { "mon", "tue", "wed", "thu", "fri" }, hours = "09:00-17:00", to = "E" },
        { name = "rest", to = "F" },
    }

    local function name(r, pdu, now) return r:match(pdu, nil, { now = now }).name end

    it("reads the weekday and minute at an offset from UTC", function()
        assert.same({ "mon", 16 * 60 }, { router.local_time(MON_16, 0) })
        assert.same({ "mon", 18 * 60 }, { router.local_time(MON_16, 7200) })
        assert.same({ "tue", 60 }, { router.local_time(MON_16, 9 * 3600) })
        assert.same({ "sun", 23 * 60 }, { router.local_time(MON_16, -17 * 3600) })
        assert.equal(7200, router.time_zone("+02:00"))
        assert.equal(-5 * 3600 - 1800, router.time_zone("-05:30"))
        assert.is_nil(router.time_zone("CET"))
    end)

    it("matches contains in any case and text_pattern on the decoded text", function()
        local r = assert(router.new { routes = routes, find_steps = core.lstring.find_steps })
        assert.equal("kw", name(r, { short_message = "please STOP" }, MON_16))
        assert.equal("kw", name(r, { short_message = "\0P\0R\0O\0M\0O", data_coding = 8 }, MON_16))
        assert.equal("code", name(r, { short_message = "code 123" }, MON_16))
        -- the UDH is not text: a part of a long message is read after it
        assert.equal("code", name(r, { esm_class = 0x40, short_message = "\5\0\3\1\2\1code 9" }, MON_16))
        assert.equal("office", name(r, { short_message = "code 12a" }, MON_16))
        -- binary data has no text: text keys never match it
        assert.equal("office", name(r, { short_message = "stop", data_coding = 4 }, MON_16))
    end)

    it("reads a message_payload that came twice (an array) as its values joined, never raising", function()
        local r = assert(router.new { routes = routes, find_steps = core.lstring.find_steps })
        assert.equal("kw", name(r, { short_message = "", message_payload = { "please ", "stop" } }, MON_16))
        assert.equal("code", name(r, { short_message = "", message_payload = { "code ", "42" } }, MON_16))
        assert.equal("office", name(r, { short_message = "", message_payload = { "a", "b" } }, MON_16))
    end)

    it("matches days and hours, windows across midnight, in the router's time zone", function()
        local r = assert(router.new { routes = routes })
        assert.equal("office", name(r, {}, MON_16))
        assert.equal("rest", name(r, {}, MON_16 + 3600 * 2))                 -- 18:00 Monday
        assert.equal("night", name(r, {}, MON_16 + 3600 * 7))                -- 23:00
        assert.equal("night", name(r, {}, MON_16 + 3600 * 13))               -- 05:00 Tuesday
        assert.equal("office", name(r, {}, MON_16 + 3600 * 17))              -- 09:00 Tuesday
        assert.equal("weekend", name(r, {}, MON_16 + 86400 * 5))             -- Saturday 16:00
        local plus2 = assert(router.new { routes = routes, time_zone = "+02:00" })
        assert.equal("rest", name(plus2, {}, MON_16))                        -- 18:00 there
        assert.equal("night", name(plus2, {}, MON_16 + 3600 * 6))            -- 00:00 there
    end)

    it("reads days and a window across midnight at one moment (docs/gateway.md)", function()
        local r = assert(router.new { routes = {
            { name = "mon night", days = { "mon" }, hours = "22:00-02:00", to = "A" },
            { name = "from mon", days = { "mon" }, hours = "22:00-24:00", to = "A" },
            { name = "into tue", days = { "tue" }, hours = "00:00-02:00", to = "A" },
        } })
        local MON_0 = MON_16 - 16 * 3600
        local function names(now)
            local out = {}
            for _, s in ipairs(select(2, r:explain({}, nil, { now = now }))) do
                if s.matched then out[#out + 1] = s.route end
            end
            return table.concat(out, ",")
        end
        assert.equal("mon night", r:match({}, nil, { now = MON_0 + 30 * 60 }).name)    -- Monday 00:30
        assert.equal("mon night", r:match({}, nil, { now = MON_0 + 22.5 * 3600 }).name) -- Monday 22:30
        assert.equal("into tue", r:match({}, nil, { now = MON_0 + 24.5 * 3600 }).name)  -- Tuesday 00:30
        assert.equal("mon night", names(MON_0 + 30 * 60))
        assert.equal("into tue", names(MON_0 + 24.5 * 3600))
    end)

    it("explains which keys failed for each route looked at", function()
        local r = assert(router.new { routes = routes, find_steps = core.lstring.find_steps })
        local route, steps = r:explain({ short_message = "hello" }, nil, { now = MON_16 + 3600 * 2 })
        assert.equal("rest", route.name)
        local keys = {}
        for _, s in ipairs(steps) do keys[#keys + 1] = s.matched and "matched" or s.key end
        assert.same({ "contains", "text_pattern", "hours", "days", "hours", "matched" }, keys)
        assert.matches("18:00 is outside 09:00%-17:00", steps[5].why)
        assert.matches("none of stop, Promo", steps[1].why)
    end)

    it("text_pattern goes through the bounded matcher it is given, with the router's steps", function()
        local calls = 0
        local r = assert(router.new { routes = routes, find_steps = function(s, p, steps)
            calls = calls + 1
            assert.equal(router.PATTERN_STEPS, steps)
            return core.lstring.find_steps(s, p, steps)
        end })
        name(r, { short_message = "nothing" }, MON_16)
        assert.equal(1, calls)
    end)

    it("a pattern that runs out of steps does not match: counted, told, explained, next route", function()
        local told = {}
        local r = assert(router.new { find_steps = core.lstring.find_steps,
            on_give_up = function(route, key) told[#told + 1] = route.name .. " " .. key end,
            routes = {
                { name = "slow", text_pattern = "promo.-code", to = "A" },
                { name = "dest", pattern = "^(.-)-(.-)x$", to = "A" },
                { name = "rest", to = "B" },
            } })
        local long = { destination_addr = "44", message_payload = string.rep("promo", 12000) }
        assert.equal("rest", r:match(long).name)
        assert.same({ "slow text_pattern" }, told)
        assert.same({ slow = 1 }, r.gave_up)
        local route, steps = r:explain(long)
        assert.equal("rest", route.name)
        assert.equal("text_pattern", steps[1].key)
        assert.matches("the text_pattern gave up after " .. router.PATTERN_STEPS .. " steps", steps[1].why)
        assert.same({ slow = 2 }, r.gave_up)
        -- a short text still matches the same route
        assert.equal("slow", r:match({ destination_addr = "44", short_message = "promo with a code" }).name)
    end)

    it("refuses a bad window and time zone, naming the key", function()
        local _, err = router.new { routes = { { hours = "9-17", to = "A" } } }
        assert.matches("routes%[1%]%.hours", err)
        _, err = router.new { routes = { { hours = "10:00-10:00", to = "A" } } }
        assert.matches("empty window", err)
        _, err = router.new { routes = { { days = { "monday" }, to = "A" } } }
        assert.matches("days", err)
        _, err = router.new { routes = { { to = "A" } }, time_zone = "Europe/Paris" }
        assert.matches("time_zone", err)
    end)

    it("never writes into the route tables it was given", function()
        local given = {
            { name = "f", prefix = "44", to = { "A", "B" }, failover_on = { "ESME_RTHROTTLED" }, contains = "x" },
            { name = "rr", to = { "A", "B" }, strategy = "round_robin", rate = 1000, hours = "00:00-23:59" },
        }
        local function deep(t)
            local c = {}
            for k, v in pairs(t) do c[k] = type(v) == "table" and deep(v) or v end
            return c
        end
        local before = deep(given)
        local r = assert(router.new { routes = given })
        local gateway = require "smpp.gateway"
        for i = 1, 10 do
            r:match({ destination_addr = "44" .. i, short_message = "x" })
            r:explain({ destination_addr = "1" })
            for _, route in ipairs(r.routes) do gateway.candidates(route) end
        end
        assert.same(before, given)
        -- nor into its own copies (a reload re-validates them)
        for i, route in ipairs(r.routes) do
            for k in pairs(route) do
                assert.is_true(before[i][k] ~= nil or k == "strategy", "a key of its own: " .. k)
            end
        end
    end)
end)
