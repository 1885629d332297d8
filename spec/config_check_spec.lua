-- config_check_spec -- `smppgw check` (and `run`) catch what the schema
-- cannot see: keys against each other (routes to upstreams that do not
-- exist, two accounts or upstreams with one name, mo_routes' accounts),
-- status names, password hashes, networks and Lua patterns. Each of these
-- once passed check with exit 0 and failed at run time (every bind
-- refused, every matching submit answered ESME_RSYSERR, a status silently
-- replaced). And check's summary of what the configuration runs.
local run = require "helpers.run"
local server = require "helpers.server"
local tmp = require "helpers.tmp"
local check = require "smpp.config_check"
local security = require "smpp.security"

local GOOD_HASH = security.hash("pw123", 1000)

-- write(conf_text) -> the path of a configuration in a fresh directory
local function write(text)
    return tmp.write(tmp.dir() .. "/conf.lua", text)
end

local function smppgw_check(text)
    return run.smppgw({ "check", write(text) })
end

describe("Lua patterns read to their end (config_check.pattern)", function()
    -- each of these raises only when a match reads far enough
    local BAD = { "a%", "[a", "[%", "[^]", "(a", "a)", "%b(", "%f", "%fa", "%f[a", "(a)%2", "(a%1)", "%0",
                  "^44(%d", ("()"):rep(33) }
    local GOOD = { "^44%d+$", "[]]", "[^]]", "[%]]", "%b()", "%f[%w]%w+", "(a)%1", "()", "a-b*c?d+", "^$", "[%a_][%w_]*",
                   "%%", ("()"):rep(32), "x^y$z" }

    it("refuses what a match could raise on, naming why", function()
        for _, p in ipairs(BAD) do
            local ok, why = check.pattern(p)
            assert.is_nil(ok, p)
            assert.is_string(why)
            -- and Lua does raise on it, given a subject that reads that far
            local raised = false
            for _, subject in ipairs { "", "a", "aa", "44", "441", "a)", "(((a" } do
                if not pcall(string.match, subject, p) then raised = true end
            end
            assert.is_true(raised, "Lua takes " .. p)
        end
    end)

    it("takes valid patterns, and Lua matches them without raising", function()
        for _, p in ipairs(GOOD) do
            assert.is_true(check.pattern(p), p)
            for _, subject in ipairs { "", "a", "aa", "44", "441", "a)", "()", "]" } do
                assert.is_true(pcall(string.match, subject, p), p .. " on " .. subject)
            end
        end
    end)
end)

describe("patterns that backtrack (config_check.backtracks)", function()
    it("names .- / .* followed by more, and one item repeated twice in a row", function()
        for _, p in ipairs { "promo.-code", "a*a*a*a*a*a*a*a*a*b", ".*x$", "a.+b", "(%d+)(.-)z", "[ab]+[ab]*c" } do
            assert.is_string(check.backtracks(p), p)
        end
        for _, p in ipairs { "^%d+$", "promo%d+", "^44.*", "hello.*", "^.-$", "%b()x", "(%d+)-(%d+)", "^code %d+$" } do
            assert.is_nil(check.backtracks(p), p)
        end
    end)

    it("#integration makes smppgw check warn (exit 0), naming the route key", function()
        local out, err, rc = smppgw_check([[return {
            script = "]] .. server.root .. [[/scripts/gateway.lua", store = { path = ":memory:" },
            upstreams = { { name = "smsc", host = "127.0.0.1", port = 2776 } },
            gateway = { routes = { { name = "p", text_pattern = "promo.-code", to = "smsc" },
                                   { name = "q", text_pattern = "^code %d+$", to = "smsc" },
                                   { name = "r", pattern = "a*a*b", to = "smsc" } } } }]])
        assert.equal(0, rc, err)
        assert.matches('\nwarning: gateway.routes%[1%]%.text_pattern: "promo.%-code" \'.%-\' followed by more', out)
        assert.matches("gives up after 250000 steps and the route does not match", out)
        assert.matches('\nwarning: gateway.routes%[3%]%.pattern: "a%*a%*b"', out)
        assert.is_nil(out:find("routes[2]", 1, true))
    end)
end)

describe("status names (config_check.status)", function()
    it("knows smpp.status and suggests the nearest name", function()
        assert.is_true(check.status("ESME_RTHROTTLED"))
        local ok, why = check.status("ESME_RTHROTLED")
        assert.is_nil(ok)
        assert.matches("did you mean ESME_RTHROTTLED", why)
        ok, why = check.status("THROTTLED")
        assert.is_nil(ok)
        assert.equal('"THROTTLED" is not a status name', why)
    end)
end)

describe("#integration smppgw check: cross references", function()
    local BAD = [[return {
  script = "]] .. server.root .. [[/scripts/gateway.lua",
  store = { path = ":memory:" },
  accounts = {
    { system_id = "a", password = "pbkdf2-sha256$20000000$00$00" },
    { system_id = "a", password = "pbkdf2-sha256$1000$zz$00" },
    { system_id = "b", password = "x", networks = { "127.0.0.0/33", "::1/128" }, sources = { "^44[", "^44%d+$" } },
    { system_id = "c", password = "twelve chars" },
  },
  upstreams = { { name = "smsc", host = "127.0.0.1", port = 1 }, { name = "smsc", host = "127.0.0.1", port = 2 },
                { name = "other", host = "127.0.0.1", port = 3 } },
  gateway = {
    no_route_status = "ESME_RINVDSTADDR",
    routes = {
      { prefix = "44", to = { "smsc", "other" }, failover_on = { "ESME_RTHROTLED", "ESME_RMSGQFUL" }, status = "THROTTLED" },
      { pattern = "^44(%d", to = { "smsc2" } },
      { prefix = "1", to = "smsc", pattern = "a%" },
      { prefix = "9" },
      { prefix = "8", to = { "other" }, strategy = "random" },
      { contains = { "ok", "" }, text_pattern = "code (%d", hours = "18:00-25:00", days = { "monday" }, to = "other" },
      { name = "route 1", prefix = "7", to = "other" },
      { name = "x", contains = {}, to = "other" },
      { name = "x", prefix = "5", to = "other" },
    },
    time_zone = "CET",
    mo_routes = { { account = "nobody", upstream = "smsc9" }, { account = "b", upstream = "other" } },
  },
}]]

    local WANT = {
        'accounts[1].password: hash iterations 20000000 outside 1..10000000',
        "accounts[2].password: the hash's salt is not 2 to 1024 hex digits",
        'accounts[2].system_id: "a" is also accounts[1]\'s',
        'accounts[3].networks[1]: "127.0.0.0/33": the prefix is not 0..32',
        'accounts[3].sources[1]: "^44[" is not a valid Lua pattern',
        'accounts[4].password: longer than the 8 characters of an SMPP password, and not a hash',
        'gateway.mo_routes[1].account: no account with system_id "nobody"',
        'gateway.mo_routes[1].upstream: no upstream named "smsc9"',
        'gateway.no_route_status: "ESME_RINVDSTADDR" is not a status name (did you mean ESME_RINVDSTADR?)',
        'gateway.routes[1].failover_on[1]: "ESME_RTHROTLED" is not a status name',
        'gateway.routes[1].status: "THROTTLED" is not a status name',
        'gateway.routes[2].pattern: "^44(%d" is not a valid Lua pattern',
        'gateway.routes[2].to[1]: no upstream named "smsc2"',
        'gateway.routes[3].pattern: "a%" is not a valid Lua pattern',
        'gateway.routes[4].to: missing',
        'gateway.routes[5].strategy: "random" is not one of',
        'gateway.routes[6].contains[2]: empty',
        'gateway.routes[6].days[1]: "monday" is not one of',
        'gateway.routes[6].hours: "18:00-25:00": no such time of day',
        'gateway.routes[6].text_pattern: "code (%d" is not a valid Lua pattern',
        'gateway.routes[7].name: "route 1" is also gateway.routes[1]\'s name (each route needs its own)',
        'gateway.routes[8].contains: an empty list (the route would never match)',
        'gateway.routes[9].name: "x" is also gateway.routes[8]\'s name',
        'gateway.time_zone: "CET" is not a time zone',
        'upstreams[2].name: "smsc" is also upstreams[1]\'s',
    }

    it("names every mistake by its key path, exit 1, and nothing that is right", function()
        local out, err, rc = smppgw_check(BAD)
        assert.equal(1, rc, out)
        local lines = {}
        for l in err:gmatch("\n  ([^\n]+)") do lines[#lines + 1] = l end
        assert.equal(#WANT, #lines, err)
        for i, want in ipairs(WANT) do
            assert.equal(1, select(2, lines[i]:find(want, 1, true)) and 1 or 0, "line " .. i .. ": " .. lines[i])
        end
        -- the secrets stay out of it
        assert.is_nil(err:find("twelve chars", 1, true))
    end)

    it("stops `run` the same way before anything listens", function()
        local path = write(BAD)
        local _, err, rc = run.smppgw({ "run", path, "-l", "127.0.0.1:0" })
        assert.equal(2, rc)
        assert.matches("gateway.routes[2].to[1]: no upstream named \"smsc2\"", err, 1, true)
    end)

    it("checks a routes_file's routes the same way", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/routes.json", '[{"prefix":"44","to":["smsc"]},{"prefix":"1","to":["nowhere"],"failover_on":["NOPE"]}]')
        tmp.write(dir .. "/conf.lua", [[return { store = { path = ":memory:" },
            upstreams = { { name = "smsc", host = "127.0.0.1", port = 1 } },
            gateway = { routes_file = "routes.json" } }]])
        local _, err, rc = run.smppgw({ "check", dir .. "/conf.lua" })
        assert.equal(1, rc)
        assert.matches('gateway.routes_file (routes.json)[2].to[1]: no upstream named "nowhere"', err, 1, true)
        assert.matches('gateway.routes_file (routes.json)[2].failover_on[1]: "NOPE" is not a status name', err, 1, true)
        tmp.write(dir .. "/conf.lua", [[return { store = { path = ":memory:" }, gateway = { routes_file = "missing.json" } }]])
        _, err, rc = run.smppgw({ "check", dir .. "/conf.lua" })
        assert.equal(1, rc)
        assert.matches("gateway.routes_file: .*missing.json", err)
        -- an object (the list wrapped in {"routes": ...}) or an empty list: an error, not 0 routes
        tmp.write(dir .. "/routes.json", '{"routes":[{"prefix":"44","to":["smsc"]}]}')
        tmp.write(dir .. "/conf.lua", [[return { store = { path = ":memory:" },
            upstreams = { { name = "smsc", host = "127.0.0.1", port = 1 } },
            gateway = { routes_file = "routes.json" } }]])
        _, err, rc = run.smppgw({ "check", dir .. "/conf.lua" })
        assert.equal(1, rc)
        assert.matches("gateway.routes_file: .*routes.json: expected a JSON array of routes, got an object", err)
        tmp.write(dir .. "/routes.json", '[]')
        _, err, rc = run.smppgw({ "check", dir .. "/conf.lua" })
        assert.equal(1, rc)
        assert.matches("gateway.routes_file: .*routes.json: no routes", err)
    end)
end)

describe("#integration smppgw check: a route that only receiver links could serve", function()
    it("refuses a route whose every upstream binds as a receiver, naming the route and the links", function()
        local conf = [[return { store = { path = ":memory:" },
            upstreams = { { name = "U1rx", host = "127.0.0.1", port = 1, bind = "rx", receipts_for = "U1" },
                          { name = "U2rx", host = "127.0.0.1", port = 2, bind = "receiver", receipts_for = "U1" },
                          { name = "U1", host = "127.0.0.1", port = 1, bind = "tx" } },
            gateway = { routes = { { name = "only rx", prefix = "44", to = { "U1rx" } },
                                   { name = "both rx", prefix = "33", to = { "U1rx", "U2rx" } },
                                   { name = "mixed", prefix = "1", to = { "U1rx", "U1" }, strategy = "failover" },
                                   { name = "tx", prefix = "", to = "U1" } } } }]]
        local _, err, rc = smppgw_check(conf)
        assert.equal(1, rc, err)
        assert.matches('gateway.routes[1].to: route "only rx" sends only to "U1rx", which binds as a receiver',
            err, 1, true)
        assert.matches('gateway.routes[2].to: route "both rx" sends only to "U1rx", "U2rx", which bind as a receiver',
            err, 1, true)
        assert.is_nil(err:find("gateway.routes[3]", 1, true), err)
        assert.is_nil(err:find("gateway.routes[4]", 1, true), err)
    end)
end)

describe("#integration smppgw check: two upstreams on one SMSC account", function()
    local UPSTREAMS = [[
            upstreams = { { name = "nodeA", host = "127.0.0.1", port = 2776, system_id = "acct" },
                          { name = "nodeB", host = "127.0.0.1", port = 2776, system_id = "acct", bind = "trx" },
                          { name = "other", host = "127.0.0.1", port = 2776, system_id = "acct2" },
                          { name = "tx", host = "127.0.0.1", port = 2777, system_id = "acct", bind = "tx" },
                          { name = "rx", host = "127.0.0.1", port = 2777, system_id = "acct", bind = "rx",
                            receipts_for = "tx" } },
            gateway = { routes = { { prefix = "", to = { "nodeA", "nodeB", "other", "tx" },
                                     strategy = "round_robin" } } } }]]

    it("takes two sending links that share host, port and system_id: they match each other's receipts", function()
        local out, err, rc = smppgw_check([[return { store = { path = ":memory:" },]] .. UPSTREAMS)
        assert.equal(0, rc, err)
        assert.is_nil(out:find("warning", 1, true), out)
    end)

    it("takes them on the Redis store too, which looks a receipt up under each entry of the group", function()
        local out, err, rc = smppgw_check([[return { store = { redis = "127.0.0.1:6399" },]] .. UPSTREAMS)
        assert.equal(0, rc, err)
        assert.is_nil(out:find("warning", 1, true), out)
    end)
end)

describe("#integration smppgw check: the store's lock wait against the script budget", function()
    it("refuses a busy_timeout of half of scripts.budget_ms or more, naming both keys; the default stays under", function()
        local out, err, rc = smppgw_check([[return {
            store = { path = ":memory:", busy_timeout = 5 }, scripts = { budget_ms = 1000 } }]])
        assert.equal(1, rc, out)
        assert.matches("store.busy_timeout: 5 s is not under half of scripts.budget_ms (1000 ms)", err, 1, true)
        out, err, rc = smppgw_check([[return { store = { path = ":memory:", busy_timeout = 0.4 } }]])
        assert.equal(0, rc, err)
        out, err, rc = smppgw_check([[return { store = { path = ":memory:" }, scripts = { budget_ms = 50 } }]])
        assert.equal(0, rc, err)
    end)
end)

describe("#integration smppgw check: the summary", function()
    it("shows listeners, HTTP, accounts, upstreams and routes on one screen", function()
        local accounts = {}
        for i = 1, 40 do accounts[i] = string.format("{ system_id = 'acct%02d', password = 'pw' }", i) end
        accounts[1] = "{ system_id = 'acct01', password = '" .. GOOD_HASH .. "', bind_types = { 'transceiver' }, "
            .. "max_binds = 2, networks = { '10.0.0.0/8' } }"
        local out, err, rc = smppgw_check([[return {
            script = "]] .. server.root .. [[/scripts/gateway.lua",
            store = { path = ":memory:" }, listen = { "127.0.0.1:2775" },
            http = { listen = "127.0.0.1:8775", token = "s3cret" },
            accounts = { ]] .. table.concat(accounts, ", ") .. [[ },
            upstreams = { { name = "smsc", host = "127.0.0.1", port = 2776, binds = 2 },
                          { name = "backup", host = "127.0.0.1", port = 2777, bind = "tx" } },
            gateway = { routes = { { name = "uk", prefix = "44", to = { "smsc", "backup" } },
                                   { name = "rest", to = "backup" } },
                        mo_routes = { { prefix = "", account = "acct02" } } } }]])
        assert.equal(0, rc, err)
        assert.matches("ok %(listen 127.0.0.1:2775; 40 accounts;", out)
        assert.matches("\n  listen +127.0.0.1:2775\n", out)
        assert.matches("\n  http +127.0.0.1:8775 %(token%)\n", out)
        assert.matches("\n  accounts +40: acct01 %(hashed password, transceiver, max_binds 2, from 10.0.0.0/8%); "
            .. "acct02 %(plain password%);.* and 32 more\n", out)
        -- bind = "tx" on input, the one vocabulary in the summary
        assert.matches("\n  upstreams +2: smsc 127.0.0.1:2776 transceiver x2; backup 127.0.0.1:2777 transmitter x1\n", out)
        assert.matches("\n  routes +2 %(match first%): uk %[prefix 44%] %-> smsc, backup %(failover%); "
            .. "rest %[any%] %-> backup\n", out)
        assert.matches("\n  mo_routes +1: any %-> acct02\n", out)
        assert.is_nil(out:find("s3cret", 1, true))
        assert.is_nil(out:find(GOOD_HASH, 1, true))
        local lines = select(2, out:gsub("\n", ""))
        assert.is_true(lines <= 10, lines .. " lines")
    end)
end)

describe("#integration smppgw check and numbers that are no numbers", function()
    -- NaN passes every range test (each comparison is false), and an
    -- infinity passes every key without a max: 0/0 as an account's
    -- throughput made it unlimited and broke GET /stats; as an upstream's
    -- response_timeout every submit timed out at once
    local CONF = [[return { script = '%s/scripts/gateway.lua',
        session = { response_timeout = %s, enquire_link_interval = %s },
        accounts = { { system_id = 'esme1', password = 'pw1', throughput = %s } },
        upstreams = { { name = 'a', port = 2775, system_id = 'gw', password = 'pw', wait = %s,
                        response_timeout = %s, throughput = %s, window = 10 } },
        gateway = { message_id = 'own', validity = %s, retry_max = %s, sticky_ttl = %s,
                    routes = { { prefix = '', to = { 'a' } } } } }]]
    local KEYS = { "session.response_timeout", "session.enquire_link_interval", "accounts[1].throughput",
                   "upstreams[1].wait", "upstreams[1].response_timeout", "upstreams[1].throughput" }
    -- the gateway section's keys are its script's: checked once the rest passes
    local GW_KEYS = { "gateway.validity", "gateway.retry_max", "gateway.sticky_ttl" }

    -- conf(v, gw) -> the config with v for each of KEYS (or 30), gw for each of GW_KEYS (or 30)
    local function conf(v, gw)
        local vals = {}
        for i = 1, #KEYS do vals[i] = v or "30" end
        for i = 1, #GW_KEYS do vals[#KEYS + i] = gw or "30" end
        return string.format(CONF, server.root, unpack(vals))
    end

    local function refused(text, keys, what)
        local out, err, rc = smppgw_check(text)
        assert.equal(1, rc, out)
        for _, k in ipairs(keys) do assert.matches(k .. ": " .. what, err, 1, true) end
    end

    it("refuses NaN for every number key, naming the key", function()
        refused(conf("0/0"), KEYS, "expected a number, got NaN")
        refused(conf(nil, "0/0"), GW_KEYS, "expected a number, got NaN")
    end)

    it("refuses an infinity where a finite number is meant", function()
        for _, v in ipairs { "math.huge", "-math.huge" } do
            refused(conf(v), KEYS, "expected a finite number, got")
            refused(conf(nil, v), GW_KEYS, "expected a finite number, got")
        end
    end)

    it("takes the same keys with finite values", function()
        local out, err, rc = smppgw_check(conf())
        assert.equal(0, rc, out .. err)
    end)
end)
