-- security_spec -- hashed passwords, lockouts, networks, sender ids.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local wait_until = require("helpers.wait").wait_until
local security = require "smpp.security"

local HASH = "pbkdf2-sha256$100000$fecbe3de245f87b33e2f3d1099dfacf7$5e22b07dd06e52fd0fd62ec75b874770ab69800c2d3035579e2ce08844e7cd78"     -- smppgw passwd pw123

describe("smpp.security", function()
    it("matches addresses against IPv4 and IPv6 networks", function()
        assert.is_true(security.in_network("127.0.0.1", "127.0.0.0/8"))
        assert.is_false(security.in_network("10.1.2.3", "127.0.0.0/8"))
        assert.is_true(security.in_network("192.168.1.77", "192.168.1.64/26"))
        assert.is_false(security.in_network("192.168.1.200", "192.168.1.64/26"))
        assert.is_true(security.in_network("::1", "::1/128"))
        assert.is_true(security.in_network("2001:db8::5", "2001:db8::/32"))
        assert.is_false(security.in_network("2001:db9::5", "2001:db8::/32"))
        assert.is_false(security.in_network("not an ip", "0.0.0.0/0"))
    end)
    it("reads the stored hash form strictly (parse_hash)", function()
        local h = assert(security.parse_hash(HASH))
        assert.same({ 100000, "fecbe3de245f87b33e2f3d1099dfacf7" }, { h.iterations, h.salt })
        assert.is_false(security.parse_hash("password"))               -- plain, 8 characters
        for _, bad in ipairs { "pbkdf2-sha256$20000000$00$" .. ("0"):rep(64), "pbkdf2-sha256$0$00$" .. ("0"):rep(64),
                               "pbkdf2-sha256$1000$zz$" .. ("0"):rep(64), "pbkdf2-sha256$1000$0$" .. ("0"):rep(64),
                               "pbkdf2-sha256$1000$00$00", "pbkdf2-sha256$1000$00", "pbkdf2-sha256$x$00$00",
                               "ninechars" } do
            local r, why = security.parse_hash(bad)
            assert.is_nil(r, bad)
            assert.is_string(why)
        end
        assert.has_error(function() security.verify("pbkdf2-sha256$1000$zz$00", "x") end)
    end)

    it("keeps at most max_trusted known clients", function()
        security.configure { max_trusted = 5 }
        finally(function() security.configure {} end)
        for _ = 1, 3 do for i = 1, 4 do security.succeeded("10.0.0." .. i, "a") end end
        assert.equal(5, security.stats().trusted)    -- 4 pairs and the system_id
        for i = 1, 100 do security.succeeded("10.0.1." .. i, "b") end
        assert.equal(5, security.stats().trusted)
    end)

    it("checks sender ids exactly or by pattern", function()
        assert.is_true(security.source_allowed(nil, "x"))
        assert.is_true(security.source_allowed({ "INFO", "^447%d+$" }, "447700900123"))
        assert.is_false(security.source_allowed({ "INFO", "^447%d+$" }, "SPAM"))
    end)
end)

describe("#integration access control", function()
    local function start()
        return server.start { conf = [[return { script = 'script.lua',
            security = { max_failures = 3, lockout = 1, failure_delay = 0 },
            accounts = {
                { system_id = 'hashed', password = ']] .. HASH .. [[', sources = { 'INFO', '^447%d+$' } },
                { system_id = 'faraway', password = 'pw', networks = { '10.0.0.0/8', '2001:db8::/32' } },
                { system_id = 'local', password = 'pw', networks = { '127.0.0.0/8' } },
            } }]], script = "return { submit_sm = function() return 0, { message_id = 'm' } end }" }
    end
    local srv
    setup(function() srv = start() end)

    local function bind(user, pw, on)
        local c = wire.connect((on or srv).port)
        local r = c:bind("transceiver", user, pw)
        return r.status, c
    end

    it("checks a hashed password", function()
        local st, c = bind("hashed", "pw123")
        assert.equal(0, st)
        c:close()
        st, c = bind("hashed", "pw124")
        assert.equal(0x0E, st)
        c:close()
    end)

    it("locks out after repeated failures, then lets the account in again", function()
        local own = start()        -- its own server: the lockout is the address's
        for _ = 1, 3 do                           -- the third one locks the address out
            local st, c = bind("local", "wrong", own)
            assert.equal(0x0E, st)
            c:close()
        end
        local st, c = bind("local", "pw", own)            -- right password, but locked out
        assert.equal(0x0D, st)
        c:close()
        assert.is_true(own:wait_log("bind lockout for 1s"))
        -- refused while it lasts (a refusal does not extend it), then let in
        assert.is_truthy(wait_until(function()
            st, c = bind("local", "pw", own)
            c:close()
            return st ~= 0x0D
        end, 5))
        assert.equal(0, st)
    end)

    it("refuses a bind from outside the account's networks", function()
        local st, c = bind("faraway", "pw")
        assert.equal(0x0D, st)
        c:close()
        assert.is_true(srv:wait_log("address not in the account's networks"), srv:log_text())
    end)

    it("refuses sender ids the account may not use with ESME_RINVSRCADR", function()
        local st, c = bind("hashed", "pw123")
        assert.equal(0, st)
        c:send(wire.submit_sm(10, { source_addr = "INFO" }))
        assert.equal(0, c:read().status)
        c:send(wire.submit_sm(11, { source_addr = "447700900123" }))
        assert.equal(0, c:read().status)
        c:send(wire.submit_sm(12, { source_addr = "SPAM" }))
        assert.equal(0x0A, c:read().status)
        c:close()
    end)

    it("checks sender ids from the reload that gives an account sources, with the new script's handler", function()
        local own = server.start { conf = "return { script = 'script.lua', accounts = { "
            .. "{ system_id = 'a', password = 'pw' } } }",
            script = "return { submit_sm = function() return 0, { message_id = 'first' } end }" }
        local st, c = bind("a", "pw", own)
        assert.equal(0, st)
        c:send(wire.submit_sm(2, { source_addr = "SPAM" }))
        local r = c:read()
        assert.same({ 0, "first" }, { r.status, wire.first_cstr(r.body) })
        own:write("conf.lua", "return { script = 'script.lua', accounts = { "
            .. "{ system_id = 'a', password = 'pw', sources = { 'INFO' } } } }")
        own:write("script.lua", "return { submit_sm = function() return 0, { message_id = 'second' } end }")
        assert.equal(200, (own:http("POST", "/reload")))
        c:send(wire.submit_sm(3, { source_addr = "SPAM" }))
        assert.equal(0x0A, c:read().status)
        c:send(wire.submit_sm(4, { source_addr = "INFO" }))
        r = c:read()
        assert.same({ 0, "second" }, { r.status, wire.first_cstr(r.body) })
        c:close()
    end)

    it("never shows passwords in /stats", function()
        local out = run.sh("curl -s http://127.0.0.1:" .. srv.http_port .. "/stats")
        assert.matches('"totals"', out)
        assert.is_nil(out:find("pbkdf2", 1, true))
        assert.is_nil(out:find('"password"', 1, true))
    end)
end)

describe("smppgw passwd", function()
    it("prints a hash that verifies", function()
        local out, _, rc = run.smppgw({ "passwd", "s3cret" })
        assert.equal(0, rc)
        local h = out:match("^(pbkdf2%-sha256%$%d+%$%x+%$%x+)\n$")
        assert.is_not_nil(h)
        assert.is_true(security.verify(h, "s3cret"))
        assert.is_false(security.verify(h, "s3cre"))
    end)
end)
