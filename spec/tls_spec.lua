-- tls_spec -- TLS listeners and TLS upstream links, with certificates made
-- at test time by the openssl command.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"

local CWD = server.root

local dir
local function sh(cmd)
    local out, err, rc = run.sh("cd " .. dir .. " && " .. cmd)
    assert(rc == 0, cmd .. ": " .. err)
    return out
end

setup(function()
    dir = tmp.dir()                    -- removed when the file ends
    local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
    sh("openssl req -x509 " .. ec .. " -keyout ca.key -out ca.pem -days 2 -subj /CN=smppgw-test-ca 2>/dev/null")
    sh("openssl req -x509 " .. ec .. " -keyout other.key -out other.pem -days 2 -subj /CN=other-ca 2>/dev/null")
    sh("openssl req " .. ec .. " -keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null")
    sh("printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
        .. "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 "
        .. "-extfile san.ext 2>/dev/null")
end)

local function smsc()
    local s = server.start { conf = string.format([[return { script = '%s/scripts/smsc.lua',
        accounts = { { system_id = 'gw', password = 'gwpw' } }, smsc = { receipt_delay = 0.1 },
        tls_listen = { { listen = '127.0.0.1:0', cert = '%s/srv.pem', key = '%s/srv.key' } } }]], CWD, dir, dir) }
    assert.is_true(s:wait_log("listening on 127%.0%.0%.1:%d+ %(TLS%)"))
    s.tls_port = tonumber(s:log_text():match("listening on 127%.0%.0%.1:(%d+) %(TLS%)"))
    return s
end

local function gateway(tls_port, ca)
    return server.start { conf = string.format([[return { script = '%s/scripts/gateway.lua',
        accounts = { { system_id = 'esme', password = 'pw' } },
        upstreams = { { name = 'secure', port = %d, system_id = 'gw', password = 'gwpw', reconnect_min = 0.3,
                        tls = { ca = '%s/%s', host = 'localhost' } } },
        gateway = { routes = { { prefix = '', to = { 'secure' } } } } }]], CWD, tls_port, dir, ca) }
end

describe("#integration TLS", function()
    it("binds over TLS to a TLS listener and carries traffic", function()
        local s = smsc()
        local gw = gateway(s.tls_port, "ca.pem")
        assert.is_true(gw:wait_log("upstream secure: bind 1 up", 5))
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme", "pw").status)
        c:send(wire.submit_sm(2, { registered_delivery = 1 }))
        local r = assert(c:read())
        assert.equal(0, r.status)
        local d = assert(c:expect(function(p) return p.id == wire.id.deliver_sm end, 5))  -- the receipt, over TLS
        assert.matches("stat:DELIVRD", wire.parse_sm(d.body).short_message)
    end)

    it("refuses a server certificate from an unknown CA", function()
        local s = smsc()
        local gw = gateway(s.tls_port, "other.pem")
        assert.is_true(gw:wait_log("TLS handshake failed: certificate: ", 5), gw:log_text())
        assert.equal(0, gw:count_log("bind 1 up"))
    end)

    it("rejects a plaintext client on the TLS port cleanly", function()
        local s = smsc()
        local c = wire.connect(s.tls_port)
        c:send(wire.bind("transceiver", 1, "gw", "gwpw"))
        assert.is_true(c:closed(3))
        assert.is_true(s:wait_log("TLS handshake failed"))
        -- the server is fine: openssl's own client completes a handshake
        local out = run.sh(string.format("echo | timeout 5 openssl s_client -connect 127.0.0.1:%d -CAfile %s/ca.pem "
            .. "-servername localhost 2>&1", s.tls_port, dir))
        assert.matches("Verify return code: 0 %(ok%)", out)
    end)
end)

describe("#integration TLS client certificates", function()
    it("requires a client certificate signed by the CA when verify_client is on", function()
        -- a client certificate from the same CA
        sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cli.key -out cli.csr "
            .. "-subj /CN=gateway 2>/dev/null && openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
            .. "-CAcreateserial -out cli.pem -days 2 2>/dev/null")
        local s = server.start { conf = string.format([[return { script = '%s/scripts/smsc.lua',
            accounts = { { system_id = 'gw', password = 'gwpw' } }, smsc = { receipt_delay = 0.1 },
            tls_listen = { { listen = '127.0.0.1:0', cert = '%s/srv.pem', key = '%s/srv.key',
                             ca = '%s/ca.pem', verify_client = true, min_version = 'TLSv1.2' } } }]],
            CWD, dir, dir, dir) }
        assert.is_true(s:wait_log("%(TLS%)"))
        local port = tonumber(s:log_text():match("listening on 127%.0%.0%.1:(%d+) %(TLS%)"))
        local function gw(with_cert)
            return server.start { conf = string.format([[return { script = '%s/scripts/gateway.lua',
                upstreams = { { name = 'secure', port = %d, system_id = 'gw', password = 'gwpw', reconnect_min = 0.3,
                                tls = { ca = '%s/ca.pem', host = 'localhost' %s } } },
                gateway = { routes = { { prefix = '', to = { 'secure' } } } } }]], CWD, port, dir,
                with_cert and string.format(", cert = '%s/cli.pem', key = '%s/cli.key'", dir, dir) or "") }
        end
        local without = gw(false)
        assert.is_true(s:wait_log("TLS handshake failed", 5))
        assert.equal(0, without:count_log("bind 1 up"))
        without:stop("TERM", 5)
        local with = gw(true)
        assert.is_true(with:wait_log("upstream secure: bind 1 up", 5))
    end)
end)

describe("#integration smpp.connect over TLS", function()
    -- A script whose submit_sm connects to the server's own TLS listener with
    -- the tls table named by destination_addr and answers with the outcome.
    local function connector(silent_port)
        local script = string.format([[
local smpp = require "smpp"
local D = %q
local T = {
    rightca = { ca = D .. "/ca.pem", host = "localhost" },
    wrongca = { ca = D .. "/other.pem", host = "localhost" },
    wronghost = { ca = D .. "/ca.pem", host = "evil.example" },
    noverify = { ca = D .. "/other.pem", host = "localhost", verify = false },
    yes = true,
    typo = { cafile = D .. "/other.pem", host = "localhost" },
    missingca = { ca = "/missing/file", host = "localhost" },
    dirca = { ca = D, host = "localhost" },
}
-- DEST, or DEST_nobind: connect only (bind = false)
return { submit_sm = function(_, p)
    local name = p.destination_addr:gsub("_nobind$", "")
    local nobind = name ~= p.destination_addr
    -- plain: the server's own plaintext port; silent: a port that never answers
    local port = name == "plain" and P_PLAIN or name:match("^silent") and P_SILENT or PORT
    local ok, s, e, detail = pcall(smpp.connect, { host = "127.0.0.1", port = port, system_id = "smppclient1",
        password = "password", tls = T[name] or T.rightca, bind = not nobind and nil,
        session = name == "silent" and { init_timeout = 0.5 }
            or name == "silent_rt" and { init_timeout = 0, response_timeout = 0.5 } or nil })
    if not ok then return 0, { message_id = ("raised " .. tostring(s)):sub(1, 64) } end
    smpp.log("info", "connect %%s: %%s, %%s", p.destination_addr, tostring(e), tostring(detail))
    if s and nobind then
        local open = s.state
        s:close()
        return 0, { message_id = "open " .. tostring(open) }
    end
    if s then s:unbind() end
    return 0, { message_id = (s and "bound" or tostring(e)):sub(1, 64) }
end }]], dir)
        local s = server.start { script = script:gsub("PORT", "TLSPORT"), conf = string.format([[return {
            script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } },
            tls_listen = { { listen = '127.0.0.1:0', cert = '%s/srv.pem', key = '%s/srv.key' } } }]], dir, dir) }
        assert.is_true(s:wait_log("listening on 127%.0%.0%.1:%d+ %(TLS%)"))
        local tls_port = s:log_text():match("listening on 127%.0%.0%.1:(%d+) %(TLS%)")
        s:write("script.lua", (script:gsub("PORT", tls_port):gsub("P_PLAIN", tostring(s.port))
            :gsub("P_SILENT", tostring(silent_port or 1))))
        s:signal("HUP")
        assert.is_true(s:wait_log("reloaded"), s:log_text())
        return s
    end
    local function try(c, dest)
        c:send(wire.submit_sm(c:next_seq(), { destination_addr = dest }))
        local r = assert(c:read(10))
        return wire.first_cstr(r.body)
    end

    it("verifies the chain and the host name when a CA is given; refuses tls = true and unknown keys", function()
        local s = connector()
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        assert.equal("bound", try(c, "rightca"))
        assert.equal("tls", try(c, "wrongca"))
        assert.equal("tls", try(c, "wronghost"))
        assert.equal("bound", try(c, "noverify"))     -- verify = false: turned off on purpose
        assert.matches("^raised .*tls must be a table", try(c, "yes"))
        assert.matches("^raised .*tls%.cafile is not a key of tls", try(c, "typo"))   -- not unverified by surprise
    end)

    it("gives smpp.E.TLS with the reason for a CA file that does not load, as for a failed handshake", function()
        local s = connector()
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        assert.equal("tls", try(c, "missingca"))
        assert.is_true(s:wait_log("connect missingca: tls, TLS: /missing/file: .*No such file"))
        assert.equal("tls", try(c, "dirca"))
        assert.is_true(s:wait_log("connect dirca: tls, TLS: " .. dir:gsub("%p", "%%%0")))
        assert.equal("tls", try(c, "missingca_nobind"))
        -- the handshake's reason comes third too
        assert.equal("tls", try(c, "wrongca"))
        assert.is_true(s:wait_log("connect wrongca: tls, TLS handshake failed: certificate: "))
    end)

    it("with bind = false, finishes the handshake and the verification before it returns", function()
        local s = connector()
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        assert.equal("tls", try(c, "wrongca_nobind"))
        assert.is_true(s:wait_log("connect wrongca_nobind: tls, TLS handshake failed: certificate: "))
        assert.equal("tls", try(c, "wronghost_nobind"))
        assert.is_true(s:wait_log("connect wronghost_nobind: tls, TLS handshake failed: certificate: "))
        assert.equal("open OPEN", try(c, "rightca_nobind"))
        assert.equal("open OPEN", try(c, "noverify_nobind"))
        assert.equal("bound", try(c, "rightca"))          -- and binds as before
        assert.is_true(s:alive())
    end)

    it("with bind = false, gives smpp.E.TLS when the handshake does not finish", function()
        local socket = require "socket"
        local quiet = assert(socket.bind("127.0.0.1", 0))   -- takes the connection, never answers
        finally(function() quiet:close() end)
        local s = connector(select(2, quiet:getsockname()))
        local c = wire.connect(s.port)
        assert.equal(0, c:bind("transceiver", "smppclient1", "password").status)
        -- a plaintext SMPP port: what it answers is no TLS
        assert.equal("tls", try(c, "plain_nobind"))
        assert.is_true(s:wait_log("connect plain_nobind: tls, TLS handshake "))
        -- no answer at all: the session's init_timeout ends it
        assert.equal("tls", try(c, "silent_nobind"))
        assert.is_true(s:wait_log("connect silent_nobind: tls, TLS handshake did not finish: not bound within"))
        assert.equal("tls", try(c, "silent"))
        -- without an init_timeout, the response_timeout a request has
        assert.equal("tls", try(c, "silent_rt_nobind"))
        assert.is_true(s:wait_log("connect silent_rt_nobind: tls, TLS handshake did not finish within the "
            .. "session's response_timeout"))
    end)
end)
