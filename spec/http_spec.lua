-- http_spec -- the HTTP API and the dashboard of a running smppgw.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local prometheus = require "helpers.prometheus"
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"

local function request(port, method, path, body, headers)
    local out = {}
    headers = headers or {}
    if body then headers["Content-Length"] = #body end
    local _, code, h = http.request {
        url = "http://127.0.0.1:" .. port .. path, method = method, headers = headers,
        source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out),
    }
    return code, table.concat(out), h
end

local function json_request(port, method, path, value, headers)
    headers = headers or {}
    headers["Content-Type"] = "application/json"
    local code, body = request(port, method, path, value and cjson.encode(value), headers)
    return code, cjson.decode(body)
end

describe("#integration HTTP API (reference SMSC)", function()
    -- a fresh SMSC for each test: counts and gauges start at zero
    local srv
    local function smsc() srv = server.start { conf = server.smsc_conf() } end

    it("GET /stats has the totals and accounts, and the live sessions only when asked, a page at a time", function()
        smsc()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(2))
        c:read()
        local others = {}
        for i = 1, 3 do others[i] = wire.connect(srv.port) end   -- open, not bound
        assert.is_truthy(wait_until(function() return srv:sessions_open() == 4 end))
        local code, body = request(srv.http_port, "GET", "/stats")
        assert.equal(200, code)
        local s = cjson.decode(body)
        assert.equal(1, s.totals.open.server.BOUND_TRX)
        assert.equal(3, s.totals.open.server.OPEN)
        assert.is_nil(s.sessions)                                 -- a summary by default
        assert.same({ transmitter = 0, receiver = 0, transceiver = 1 }, s.accounts.smppclient1.bound)
        assert.equal(1, s.accounts.smppclient1.receivers)
        assert.equal(1, s.totals.commands.submit_sm.rx)
        s = cjson.decode((select(2, request(srv.http_port, "GET", "/stats?sessions=1"))))
        assert.equal(4, #s.sessions)
        assert.equal(4, s.sessions_total)
        local bound
        for _, x in ipairs(s.sessions) do if x.system_id == "smppclient1" then bound = x end end
        assert.equal(2, bound.rx_requests)
        -- pages, newest first; one account's bound sessions
        local p1 = cjson.decode((select(2, request(srv.http_port, "GET", "/sessions?offset=0&limit=3"))))
        local p2 = cjson.decode((select(2, request(srv.http_port, "GET", "/sessions?offset=3&limit=3"))))
        assert.same({ 4, 0, 3 }, { p1.total, p1.offset, p1.limit })
        assert.equal(3, #p1.sessions)
        assert.equal(1, #p2.sessions)
        assert.equal(bound.id, p2.sessions[1].id)                 -- the oldest is last
        assert.is_true(p1.sessions[1].id > p1.sessions[3].id)
        local mine = cjson.decode((select(2, request(srv.http_port, "GET", "/sessions?system_id=smppclient1"))))
        assert.equal(1, mine.total)
        assert.equal(bound.id, mine.sessions[1].id)
        code, body = request(srv.http_port, "GET", "/sessions?limit=100000")
        assert.equal(400, code)
        assert.matches("limit must be", body)
        c:close()
    end)

    it("GET /metrics is valid Prometheus text with the documented names", function()
        smsc()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(2))
        assert.equal(0, c:read().status)
        local code, body, h = request(srv.http_port, "GET", "/metrics")
        assert.equal(200, code)
        assert.matches("^text/plain; version=0.0.4", h["content-type"])
        local fam = prometheus.parse(body)
        for _, name in ipairs { "smppgw_sessions_open", "smppgw_sessions_opened_total", "smppgw_pdus_total",
                                "smppgw_responses_total", "smppgw_timeouts_total", "smppgw_throttled_total",
                                "smppgw_script_errors_total", "smppgw_response_time_seconds",
                                "smppgw_generic_nacks_total", "smppgw_uptime_seconds", "smppgw_store_rows",
                                "smppgw_store_rows_limit", "smppgw_store_bytes", "smppgw_store_commits_total",
                                "smppgw_store_commit_failures_total", "smppgw_store_commit_seconds",
                                "smppgw_store_expired_total", "smppgw_outbox_total", "smppgw_outbox_inflight",
                                "smppgw_account_sessions", "smppgw_account_outbox", "smppgw_input_pauses_total",
                                "smppgw_http_connections", "smppgw_http_events_total" } do
            assert.is_not_nil(fam[name], name)
        end
        local rx_submit
        for _, s in ipairs(fam.smppgw_pdus_total.samples) do
            if s.labels.command == "submit_sm" and s.labels.direction == "rx" then rx_submit = s.value end
        end
        assert.is_true(rx_submit >= 1)
        assert.equal("histogram", fam.smppgw_response_time_seconds.type)
    end)

    it("the strict parser refuses malformed exposition", function()
        assert.has_error(function() prometheus.parse("x 1\n") end)
        assert.has_error(function() prometheus.parse("# HELP x y\n# TYPE x counter\nx{a=b} 1\n") end)
        assert.has_error(function() prometheus.parse("# HELP x y\n# TYPE x counter\nx 1") end)
        -- a histogram per label set: each series is checked on its own
        local two = "# HELP h y\n# TYPE h histogram\n"
            .. 'h_bucket{u="a",le="1"} 1\nh_bucket{u="a",le="+Inf"} 2\nh_sum{u="a"} 1\nh_count{u="a"} 2\n'
            .. 'h_bucket{u="b",le="1"} 0\nh_bucket{u="b",le="+Inf"} 1\nh_sum{u="b"} 1\nh_count{u="b"} 1\n'
        assert.equal(4, #prometheus.parse(two).h.samples / 2)
        assert.has_error(function() prometheus.parse(two:gsub('h_count{u="b"} 1', 'h_count{u="b"} 2')) end)
        assert.has_error(function() prometheus.parse(two:gsub('h_bucket{u="b",le="%+Inf"} 1\n', '')) end)
    end)

    it("POST /send delivers an MO to a bound receiver (JSON and form)", function()
        smsc()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("receiver").status)
        local code, r = json_request(srv.http_port, "POST", "/send", { to = "1234", from = "447700900999", text = "hi from http" })
        assert.equal(202, code)
        assert.is_true(r.queued)
        local p = assert(c:expect(function(x) return x.id == wire.id.deliver_sm end))
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        local d = wire.parse_sm(p.body)
        assert.equal("hi from http", d.short_message)
        assert.equal("447700900999", d.source_addr)
        -- the same as a form
        local body
        code, body = request(srv.http_port, "POST", "/send", "to=1234&text=form+text",
                             { ["Content-Type"] = "application/x-www-form-urlencoded" })
        assert.equal(202, code, body)
        p = assert(c:expect(function(x) return x.id == wire.id.deliver_sm end))
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        assert.equal("form text", wire.parse_sm(p.body).short_message)
        c:close()
    end)

    it("a script's own route: GET /inject", function()
        smsc()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("receiver").status)
        local code, body = request(srv.http_port, "GET", "/inject?to=555&text=injected")
        assert.equal(202, code, body)
        local p = assert(c:expect(function(x) return x.id == wire.id.deliver_sm end))
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        assert.equal("injected", wire.parse_sm(p.body).short_message)
        c:close()
    end)

    it("answers bad requests with 4xx and a JSON error naming the problem", function()
        smsc()
        local code, r = json_request(srv.http_port, "POST", "/send", { text = "x" })
        assert.equal(400, code)
        assert.matches("to is missing", r.error)
        local body
        code, body = request(srv.http_port, "POST", "/send", "{not json", { ["Content-Type"] = "application/json" })
        assert.equal(400, code)
        assert.matches("invalid JSON", cjson.decode(body).error)
        code, body = request(srv.http_port, "POST", "/send", "x", { ["Content-Type"] = "text/csv" })
        assert.equal(415, code)
        code = request(srv.http_port, "GET", "/nope")
        assert.equal(404, code)
        code, body = request(srv.http_port, "GET", "/send")
        assert.equal(405, code)
        assert.matches("POST", cjson.decode(body).error)
        code = request(srv.http_port, "GET", "/messages/nosuch")
        assert.equal(404, code)
        code, body = request(srv.http_port, "GET", "/messages/no%20such%2Fid+%E2%98%83")   -- the id percent-decoded
        assert.equal(404, code)
        assert.equal("no message no such/id+\226\152\131 in the store", cjson.decode(body).error)
        code, body = request(srv.http_port, "GET", "/messages/a%01b%FF")   -- octets that are no text
        assert.equal(404, code)
        assert.equal("no message a\\x01b\\xFF in the store", cjson.decode(body).error)
        code, body = request(srv.http_port, "GET", "/messages/a%00b")      -- a NUL: no id holds one
        assert.equal(400, code)
        assert.equal("the path holds a NUL octet (%00)", cjson.decode(body).error)
        code = request(srv.http_port, "POST", "/send", ("x"):rep(1100000), { ["Content-Type"] = "application/json" })
        assert.equal(413, code)
        code, r = json_request(srv.http_port, "POST", "/send", { to = "1", text = "x", system_id = "nobody" })
        assert.equal(404, code)
        assert.matches("no account named nobody", r.error)
        code, r = json_request(srv.http_port, "POST", "/send", { to = "1", text = "x", system_id = "smppclient1" })
        assert.equal(409, code)
        assert.matches("no receiver", r.error)
    end)

    it("an error is always a JSON string, and only HTTP/1.x is answered (a later minor as 1.1)", function()
        smsc()
        -- a refusal that echoes octets that are no text: a string, not {"hex": ...}
        local code, body = request(srv.http_port, "GET", "/messages?account=smppclient1&state=%ff")
        assert.equal(400, code)
        assert.equal("string", type(cjson.decode(body).error), body)
        assert.matches("\\xFF", cjson.decode(body).error, 1, true)
        local raw = require "helpers.rawhttp"
        for line, want in pairs { ["GET /stats HTTP/2.0"] = 505, ["GET /stats HTTP/3.0"] = 505, ["GET /stats"] = 400 } do
            local s = raw.connect(srv.http_port)
            s:send(line .. "\r\nHost: x\r\n\r\n")
            local status, h, b = raw.response(s)
            assert.equal(want, status, line)
            assert.equal("application/json", h["content-type"])
            assert.equal("string", type(cjson.decode(b).error), b)
        end
        for _, line in ipairs { "GET /stats HTTP/1.0", "GET /stats HTTP/1.2" } do
            local s = raw.connect(srv.http_port)
            s:send(line .. "\r\nHost: x\r\n\r\n")
            assert.equal(200, (raw.response(s)), line)
        end
    end)

    it("POST /reload reloads and reports failures", function()
        smsc()
        local code, r = json_request(srv.http_port, "POST", "/reload")
        assert.equal(200, code)
        assert.is_true(r.reloaded)
        assert.equal(0, srv:count_log("section changed"))
        -- a store section that changed is said to apply at a restart only
        local f = assert(io.open(srv.dir .. "/conf.lua", "w"))
        f:write(server.smsc_conf { store = { path = "other.db" } })
        f:close()
        code, r = json_request(srv.http_port, "POST", "/reload")
        assert.equal(200, code)
        assert.is_true(srv:wait_log("reload: the store section changed; it applies at a restart", 5), srv:log_text())
    end)

    it("serves the dashboard page, self-contained", function()
        smsc()
        local code, body, h = request(srv.http_port, "GET", "/")
        assert.equal(200, code)
        assert.matches("^text/html", h["content-type"])
        assert.matches('id="sessions"', body)
        assert.is_nil(body:match("https?://"))            -- nothing loaded from elsewhere
    end)

    it("shows receipts waiting in the store's outbox and the stored messages beside their limits", function()
        smsc()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transmitter").status)      -- no receiver: the receipt waits in the outbox
        c:send(wire.submit_sm(2, { registered_delivery = 1 }))
        assert.equal(0, c:read().status)
        assert.is_truthy(wait_until(function() return srv:stats().store.outbox.value == 1 end))
        local code, body = request(srv.http_port, "GET", "/stats")
        assert.equal(200, code)
        local s = cjson.decode(body)
        assert.same({ value = 1, limit = 100000 }, s.store.outbox)
        assert.equal(1, s.accounts.smppclient1.outbox)
        assert.equal(1, s.outbox.posted)
        local g = s.gauges
        assert.is_true(g.smsc_stored_messages.value >= 1)
        assert.equal(s.store.messages.limit, g.smsc_stored_messages.limit)   -- the store's messages
        local fam = prometheus.parse(select(2, request(srv.http_port, "GET", "/metrics")))
        local rows, limits = {}, {}
        for _, smp in ipairs(fam.smppgw_store_rows.samples) do rows[smp.labels.table] = smp.value end
        for _, smp in ipairs(fam.smppgw_store_rows_limit.samples) do limits[smp.labels.table] = smp.value end
        assert.equal(1, rows.outbox)
        assert.equal(100000, limits.outbox)
        assert.equal(1, fam.smppgw_account_outbox.samples[1].value)
        assert.is_not_nil(fam.smppgw_script_gauge_limit)
        c:close()
        -- a receiver of the account takes the receipt: the level drops
        local r = wire.connect(srv.port)
        assert.equal(0, r:bind("receiver").status)
        local d = assert(r:expect(function(p) return p.id == wire.id.deliver_sm end, 5))
        r:send(wire.pdu(wire.RESP + wire.id.deliver_sm, d.seq, "\0"))
        assert.is_truthy(wait_until(function() return srv:stats().store.outbox.value == 0 end))
        assert.equal(1, srv:stats().outbox.delivered)
        r:close()
    end)
end)

describe("#integration HTTP API token", function()
    it("refuses requests without the token", function()
        local srv = server.start { conf = [[return { script = 'script.lua', http = { listen = '127.0.0.1:0', token = 's3cret' } }]],
                                   script = "return {}" }
        local code = request(srv.http_port, "GET", "/stats")
        assert.equal(401, code)
        code = request(srv.http_port, "GET", "/stats", nil, { Authorization = "Bearer s3cret" })
        assert.equal(200, code)
        code = request(srv.http_port, "GET", "/stats?token=s3cret")
        assert.equal(200, code)
    end)
end)

describe("#integration HTTP /send through a gateway", function()
    it("routes the text, returns the ids and records the receipt", function()
        local cwd = server.root
        local smsc = server.start { conf = server.smsc_conf() }
        local gw = server.start { conf = string.format([[return { script = '%s/scripts/gateway.lua',
            accounts = { { system_id = 'esme', password = 'pw' } },
            upstreams = { { name = 'up', port = %d, system_id = 'smppclient1', password = 'password', reconnect_min = 0.2 } },
            gateway = { routes = { { prefix = '44', to = { 'up' } } } } }]], cwd, smsc.port) }
        assert.is_true(gw:wait_log("upstream up: bind 1 up", 5))
        local code, r = json_request(gw.http_port, "POST", "/send", { to = "447700900123", text = ("long "):rep(50) })
        assert.equal(200, code, require("cjson").encode(r))
        assert.equal(2, #r.message_ids)
        local id = r.message_ids[1]
        local m
        wait_until(function()
            code, m = json_request(gw.http_port, "GET", "/messages/" .. id)
            return m.state == "DELIVRD"
        end)
        assert.equal(200, code)
        assert.equal("DELIVRD", m.state)
        assert.equal("stat:DELIVRD err:000", m.receipt)
        assert.is_true(m.final)
        assert.equal("accepted from @http (POST /send), route 'route 1', queued for up", m.trace[1].event)
        assert.matches("^sent to up %(session %d+, attempt 1%): accepted as %d+$", m.trace[2].event)
        assert.equal("receipt from up: stat:DELIVRD err:000", m.trace[#m.trace].event)
        local st = select(2, json_request(gw.http_port, "GET", "/stats"))
        local q = st.gateway.queues.up
        assert.is_true(q.accepted >= 2)                            -- both parts went up ...
        assert.is_true(q.receipts >= 1)                            -- ... and receipts found them in the store
        assert.equal(0, q.queued)
        assert.is_true(st.store.messages.value >= 2)               -- the /send records live in the store
        code, r = json_request(gw.http_port, "POST", "/send", { to = "3312345", text = "x" })
        assert.equal(404, code)
        assert.matches("no route", r.error)
        assert.is_nil(r.message_ids)                               -- an error names no id
        -- the receipt posted to a callback URL
        local listener, cport = wire.listen()
        code, r = json_request(gw.http_port, "POST", "/send", { to = "447700900123", text = "call me back",
            callback_url = "http://127.0.0.1:" .. cport .. "/receipts" })
        assert.equal(200, code)
        listener:settimeout(5)
        local conn = assert(listener:accept())
        conn:settimeout(5)
        local request_line = conn:receive("*l")
        assert.equal("POST /receipts HTTP/1.1", request_line)
        local len
        repeat
            local h = conn:receive("*l")
            len = len or tonumber(h:match("^[Cc]ontent%-[Ll]ength: (%d+)"))
        until h == ""
        local raw, rerr, part = conn:receive(len)
        assert.is_not_nil(raw, tostring(rerr) .. " len " .. tostring(len) .. " got " .. tostring(part))
        local posted = cjson.decode(raw)
        conn:send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        conn:close()
        assert.equal(r.message_ids[1], posted.message_id)
        assert.equal("DELIVRD", posted.state)
        code, r = json_request(gw.http_port, "POST", "/send", { to = "44", text = "x", callback_url = "ftp://x" })
        assert.equal(400, code)
    end)
end)
