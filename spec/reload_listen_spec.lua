-- reload_listen_spec -- a reload's listeners: an address that cannot be
-- bound refuses the reload and the old listeners stay; TLS files that do
-- not load refuse it too (and `check` refuses them as `run` does); a
-- certificate rotated in place is served to new connections after SIGHUP.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"
local socket = require "socket"

local CWD = server.root
local dir

local function sh(cmd)
    local out, err, rc = run.sh("cd " .. dir .. " && " .. cmd)
    assert(rc == 0, cmd .. ": " .. err)
    return out
end

local EC = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"

setup(function()
    dir = tmp.dir()
    sh("openssl req -x509 " .. EC .. " -keyout a.key -out a.pem -days 2 -subj /CN=first-cert 2>/dev/null")
    sh("openssl req -x509 " .. EC .. " -keyout b.key -out b.pem -days 2 -subj /CN=rotated-cert 2>/dev/null")
    sh("printf 'not a certificate\\n' > garbage.pem")
end)

-- a port held by another socket of this process (released when the test ends)
local function held_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    return tonumber(port), s
end

local function post_reload(http_port)
    local http, ltn12 = require "socket.http", require "ltn12"
    local out = {}
    local _, code = http.request { url = "http://127.0.0.1:" .. http_port .. "/reload", method = "POST",
                                   sink = ltn12.sink.table(out), headers = { ["content-length"] = "0" } }
    return code, table.concat(out)
end

local function subject(port)
    local out = run.sh(string.format("echo | timeout 5 openssl s_client -connect 127.0.0.1:%d 2>&1", port))
    return out:match("subject=[^\n]*CN%s*=%s*([%w%-]+)") or out
end

describe("#integration reload of listen", function()
    it("refuses a reload whose listen address cannot be bound and keeps the old listener", function()
        local d = tmp.dir()
        local busy, holder = held_port()
        finally(function() holder:close() end)
        local function conf(addr)
            tmp.write(d .. "/gw.lua", string.format([[return { script = '%s/scripts/smsc.lua',
                listen = { '%s' }, http = { listen = '127.0.0.1:0' }, store = { path = ':memory:' },
                accounts = { { system_id = 'smppclient1', password = 'password' } } }]], CWD, addr))
        end
        conf("127.0.0.1:0")
        local p = run.spawn("cd " .. run.quote(d) .. " && exec " .. run.quote(run.bin) .. " run gw.lua", { dir = d })
        p.dir = d
        local port, api
        assert.is_true(wait.wait_until(function()
            local t = p:log_text()
            port = tonumber(t:match("listening on 127%.0%.0%.1:(%d+)"))
            api = tonumber(t:match("HTTP API and dashboard on http://127%.0%.0%.1:(%d+)/"))
            return port ~= nil and api ~= nil
        end, 10), p:log_text())
        conf("127.0.0.1:" .. busy)
        local code, body = post_reload(api)
        assert.equal(422, code, body)
        assert.matches("listen: cannot listen on 127.0.0.1:" .. busy, body, 1, true)
        assert.is_nil(p:log_text():find("stopped listening", 1, true))
        local c = wire.connect(port)               -- the old listener still serves
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        c:close()
        -- an address that is not this host's, by SIGHUP: the same
        conf("192.0.2.1:" .. port)
        p:signal("HUP")
        assert.is_true(wait.wait_until(function()
            return p:log_text():find("reload failed, the running configuration stays: listen: cannot listen on "
                .. "192.0.2.1:" .. port, 1, true) ~= nil
        end, 5), p:log_text())
        c = wire.connect(port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        c:close()
        assert.is_nil(p:log_text():find("stopped listening", 1, true))
        -- a free address: the new listener opens, then the old one closes
        local free, h2 = held_port()
        h2:close()
        conf("127.0.0.1:" .. free)
        code, body = post_reload(api)
        assert.equal(200, code, body)
        assert.is_truthy(p:log_text():find("stopped listening on 127.0.0.1:" .. port, 1, true))
        c = wire.connect(free)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        c:close()
    end)
end)

describe("#integration reload of TLS listeners", function()
    local function tls_conf(cert, key, extra)
        return string.format([[return { script = '%s/scripts/smsc.lua',
            accounts = { { system_id = 'gw', password = 'gwpw' } }, %s
            tls_listen = { { listen = '127.0.0.1:0', cert = '%s', key = '%s' } } }]], CWD, extra or "", cert, key)
    end
    local function start(cert, key)
        local s = server.start { conf = tls_conf(cert, key) }
        assert.is_true(s:wait_log("listening on 127%.0%.0%.1:%d+ %(TLS%)"))
        s.tls_port = tonumber(s:log_text():match("listening on 127%.0%.0%.1:(%d+) %(TLS%)"))
        return s
    end

    it("serves a certificate rotated in place to new connections after SIGHUP", function()
        local d = tmp.dir()
        sh("cp a.pem " .. d .. "/cert.pem && cp a.key " .. d .. "/cert.key")
        local s = start(d .. "/cert.pem", d .. "/cert.key")
        assert.equal("first-cert", subject(s.tls_port))
        sh("cp b.pem " .. d .. "/cert.pem && cp b.key " .. d .. "/cert.key")
        s:signal("HUP")
        assert.is_true(s:wait_log("reloaded", 5), s:log_text())
        assert.equal("rotated-cert", subject(s.tls_port))
    end)

    it("refuses a reload to a missing, garbage or mismatched certificate, naming the key", function()
        local s = start(dir .. "/a.pem", dir .. "/a.key")
        for _, case in ipairs { { dir .. "/nosuch.pem", dir .. "/a.key" }, { dir .. "/garbage.pem", dir .. "/a.key" },
                                { dir .. "/a.pem", dir .. "/b.key" } } do
            s:write("conf.lua", tls_conf(case[1], case[2]))
            local code, body = s:http("POST", "/reload")
            assert.equal(422, code, body)
            assert.matches("tls_listen[1] (127.0.0.1:0): TLS: ", body, 1, true)
        end
        assert.equal(0, s:count_log("reloaded"))
        assert.equal("first-cert", subject(s.tls_port))
    end)

    it("is refused by check as by run", function()
        local cfg = tmp.name() .. ".lua"
        finally(function() tmp.remove(cfg) end)
        for _, case in ipairs { { dir .. "/nosuch.pem", dir .. "/a.key" }, { dir .. "/garbage.pem", dir .. "/a.key" },
                                { dir .. "/a.pem", dir .. "/b.key" } } do
            tmp.write(cfg, tls_conf(case[1], case[2], "store = { path = ':memory:' },"))
            local out, err, rc = run.smppgw { "check", cfg }
            assert.equal(1, rc, out .. err)
            assert.matches("tls_listen[1] (127.0.0.1:0): TLS: ", err, 1, true)
        end
    end)
end)
