-- config_check_run_spec -- `check` refuses what `run` refuses or would run
-- in a way nobody wants: two listeners on one address, route weights that
-- do not fit the route, backoffs whose first delay is above their longest,
-- an empty string or a 0 where it means nothing (check, run and a reload
-- share the schema), while a 0 a key documents stays accepted;
-- it has no side effects on the store; `passwd` refuses an overlong
-- password as a usage error; a reload that changes `workers` says it
-- needs a restart.
local run = require "helpers.run"
local server = require "helpers.server"
local tmp = require "helpers.tmp"
local lfs = require "lfs"

local CWD = server.root

local function conf(extra, route, gateway)
    return string.format([[return { script = '%s/scripts/gateway.lua', listen = { '127.0.0.1:23001' },
        http = { listen = '127.0.0.1:23002' }, store = { path = ':memory:' },
        accounts = { { system_id = 'esme', password = 'pw' } },
        upstreams = { { name = 'a', port = 23003, system_id = 'x', password = 'y' %s },
                      { name = 'b', port = 23004, system_id = 'x', password = 'y' } },
        gateway = { routes = { { prefix = '', to = { 'a', 'b' } %s } } %s } %s }]], CWD, extra.upstream or "",
        route or "", gateway or "", extra.top or "")
end

local function check(text)
    local path = tmp.write(tmp.dir() .. "/conf.lua", text)
    local out, err, rc = run.smppgw { "check", path }
    return rc, out .. err
end

describe("#integration check refuses what run refuses", function()
    it("passes the baseline", function()
        local rc, out = check(conf {})
        assert.equal(0, rc, out)
    end)

    local cases = {
        { "listen twice", conf { top = ", listen = { '127.0.0.1:23001', '127.0.0.1:23001' }" },
          "listen: 127.0.0.1:23001 is also listen's" },
        { "listen on http.listen", conf { top = ", listen = { '127.0.0.1:23002' }" },
          "http.listen: 127.0.0.1:23002 is also listen's" },
        { "listen on a wildcard's port", conf { top = ", listen = { '0.0.0.0:23002' }" },
          "http.listen: 127.0.0.1:23002 is also listen's" },
        { "weights fewer than upstreams", conf({}, ", strategy = 'weighted', weights = { 1 }"),
          "gateway.routes[1].weights: 1 weight for 2 upstreams in to" },
        { "weights all 0", conf({}, ", strategy = 'weighted', weights = { 0, 0 }"),
          "gateway.routes[1].weights: all 0" },
        { "reconnect_min above reconnect_max", conf { upstream = ", reconnect_min = 60, reconnect_max = 1" },
          "upstreams[1]: reconnect_min (60) is more than reconnect_max (1)" },
        { "reconnect_max below the default reconnect_min", conf { upstream = ", reconnect_max = 0.5" },
          "upstreams[1]: reconnect_max (0.5) is less than reconnect_min" },
        { "retry_min above retry_max", conf({}, nil, ", retry_min = 100, retry_max = 1"),
          "gateway: retry_min (100) is more than retry_max (1)" },
        { "retry_min above the default retry_max", conf({}, nil, ", retry_min = 100"),
          "gateway: retry_min (100) is more than retry_max (60, the default)" },
        -- 0 and "" where they mean nothing (a key documented with "0 = ..." keeps its 0: below)
        { "early_ttl 0", conf({}, nil, ", early_ttl = 0"), "gateway.early_ttl: 0 is not above 0" },
        { "an upstream's empty host", conf { upstream = ", host = ''" }, "upstreams[1].host: empty" },
        { "an upstream's empty name", conf { upstream = ", name = ''" }, "upstreams[1].name: empty" },
        { "an upstream's empty tls.host", conf { upstream = ", tls = { host = '' }" }, "upstreams[1].tls.host: empty" },
        { "an account's empty system_id", conf { top = ", accounts = { { system_id = '', password = 'pw' } }" },
          "accounts[1].system_id: empty" },
        { "an empty http.token (an open API)", conf { top = ", http = { listen = '127.0.0.1:23002', token = '' }" },
          "http.token: empty" },
        { "an empty script", conf { top = ", script = ''" }, "script: empty" },
        { "an empty store.path", conf { top = ", store = { path = '' }" }, "store.path: empty" },
        { "an empty gateway.routes_file", conf({}, nil, ", routes_file = ''"), "gateway.routes_file: empty" },
        { "an upstream's empty tls.ca", conf { upstream = ", tls = { ca = '' }" }, "upstreams[1].tls.ca: empty" },
    }
    for _, c in ipairs(cases) do
        it("refuses " .. c[1] .. ", naming the key", function()
            local rc, out = check(c[2])
            assert.equal(1, rc, out)
            assert.matches(c[3], out, 1, true)
        end)
    end

    it("takes 0 where the key documents what 0 means", function()
        local rc, out = check(conf({ upstream = ", wait = 0, throttle_backoff = 0",
            top = ", http = { listen = '127.0.0.1:23002', header_timeout = 0, body_timeout = 0, idle_timeout = 0 }, "
                .. "security = { lockout = 0, failure_delay = 0 }" }, nil, ", receipt_wait = 0, max_validity = 0"))
        assert.equal(0, rc, out)
    end)

    it("refuses them at a reload too, and the running configuration stays", function()
        local text = [[return { script = '%s/scripts/gateway.lua', store = { path = ':memory:' },
            upstreams = { { name = 'a', port = 1 %s } }, gateway = { routes = { { prefix = '', to = 'a' } } %s } }]]
        local s = server.start { conf = text:format(CWD, "", "") }
        finally(function() s:stop() end)
        for _, c in ipairs { { ", host = ''", "", "upstreams[1].host: empty" },
                             { "", ", early_ttl = 0", "gateway.early_ttl: 0 is not above 0" } } do
            s:write("conf.lua", text:format(CWD, c[1], c[2]))
            local code, body = s:http("POST", "/reload")
            assert.is_true(code >= 400, body)
            assert.matches(c[3], body, 1, true)
        end
    end)

    it("creates no directory and no database for a store that does not exist", function()
        local d = tmp.dir()
        local path = tmp.write(d .. "/conf.lua", conf {})
        local out, err, rc = run.smppgw { "check", path, "--store", d .. "/no/such/dir/x.db" }
        assert.equal(0, rc, out .. err)
        assert.matches("does not exist yet (run creates it)", out, 1, true)
        assert.is_nil(lfs.attributes(d .. "/no"))
    end)

    it("refuses --store PATH when cluster.store keeps the store in Redis (check, run, messages)", function()
        local d = tmp.dir()
        local path = tmp.write(d .. "/conf.lua", string.format([[return { script = '%s/scripts/gateway.lua',
            listen = { '127.0.0.1:23001' }, http = { listen = '127.0.0.1:23002' },
            cluster = { redis = '127.0.0.1:1', store = true },
            accounts = { { system_id = 'esme', password = 'pw' } },
            upstreams = { { name = 'a', port = 23003, system_id = 'x', password = 'y' } },
            gateway = { routes = { { prefix = '', to = { 'a' } } } } }]], CWD))
        local want = "--store " .. d .. "/x.db: with cluster.store = true the store is in Redis (127.0.0.1:1)"
        for _, args in ipairs { { "check", path, "--store", d .. "/x.db" },
                                { "run", path, "--store", d .. "/x.db" },
                                { "messages", path, "--store", d .. "/x.db", "--account", "esme" },
                                { "messages", path, "--store", d .. "/x.db", "1" } } do
            local out, err, rc = run.smppgw(args)
            assert.is_not.equal(0, rc, args[1] .. ": " .. out .. err)
            assert.matches(want, out .. err, 1, true)
        end
        assert.is_nil(lfs.attributes(d .. "/x.db"))
    end)
end)

describe("#integration passwd", function()
    it("refuses a password over 1024 octets as a usage error", function()
        local out, err, rc = run.smppgw { "passwd", ("x"):rep(100000) }
        assert.equal(2, rc)
        assert.equal("", out)
        assert.matches("at most 1024 are hashed", err, 1, true)
        assert.is_nil(err:find("traceback", 1, true))
        out, err, rc = run.smppgw { "passwd", ("x"):rep(1024) }
        assert.equal(0, rc, err)
        assert.matches("^pbkdf2%-sha256%$", out)
    end)
end)

describe("#integration reload of workers", function()
    it("says that a changed workers applies at a restart, in the log and in POST /reload's answer", function()
        local text = [[return { script = '%s/scripts/smsc.lua', store = { path = ':memory:' }, %s
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]]
        local s = server.start { conf = text:format(CWD, "") }
        s:write("conf.lua", text:format(CWD, "workers = 3,"))
        local code, body = s:http("POST", "/reload")
        assert.equal(200, code, body)
        assert.matches("workers changed (1 -> 3); it applies at a restart", body, 1, true)
        assert.is_true(s:wait_log("reload: workers changed %(1 %-> 3%); it applies at a restart"))
        assert.is_true(s:wait_log("reloaded .*, but for what applies at a restart only"))
    end)
end)
