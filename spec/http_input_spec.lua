-- http_input_spec -- every bad input to the HTTP API gets a 4xx with a
-- JSON error naming the problem (it was 500 with a traceback in the log
-- for an unknown coding, invalid UTF-8 or a missing text on /send and on
-- the reference SMSC's /inject route); good input still goes through.
local wire = require "helpers.wire"
local server = require "helpers.server"
local cjson = require "cjson"
local http = require "socket.http"
local ltn12 = require "ltn12"

local function request(port, method, path, body, ctype)
    local out = {}
    local _, code = http.request {
        url = "http://127.0.0.1:" .. port .. path, method = method,
        headers = body and { ["Content-Type"] = ctype or "application/json", ["Content-Length"] = #body } or {},
        source = body and ltn12.source.string(body) or nil, sink = ltn12.sink.table(out),
    }
    local text = table.concat(out)
    local ok, value = pcall(cjson.decode, text)
    return code, ok and value or text
end

describe("#integration HTTP API input", function()
    local srv
    setup(function() srv = server.start { conf_file = "conf/smppgw.lua" } end)
    teardown(function() if not srv:stop("TERM", 5) then srv:kill() end end)

    local BAD = {
        { "POST /send, unknown coding", "POST", "/send", '{"to":"1234","text":"hi","coding":"klingon"}', "coding must be" },
        { "POST /send, invalid UTF-8 (form)", "POST", "/send", "to=1234&text=%FF%FE", "not valid UTF%-8",
          "application/x-www-form-urlencoded" },
        { "POST /send, invalid UTF-8 (JSON)", "POST", "/send", '{"to":"1234","text":"a\255b"}', "not valid UTF%-8" },
        { "POST /send, missing text", "POST", "/send", '{"to":"1234"}', "text is missing" },
        { "POST /send, text not a string", "POST", "/send", '{"to":"1234","text":42}', "text must be a string" },
        { "POST /send, to too long", "POST", "/send", '{"to":"123456789012345678901","text":"x"}', "to is longer" },
        { "POST /send, from not a string", "POST", "/send", '{"to":"1","text":"x","from":{}}', "from must be" },
        { "POST /send, a JSON array", "POST", "/send", '[1,2]', "to is missing" },
        { "POST /send, callback_url with CR LF", "POST", "/send",
          '{"to":"1","text":"x","callback_url":"http://127.0.0.1:9/a\\r\\nX-Evil: 1"}', "callback_url must be" },
        { "POST /send, callback_url with a space", "POST", "/send",
          '{"to":"1","text":"x","callback_url":"http://127.0.0.1:9/a b"}', "callback_url must be" },
        { "POST /send, callback_url port 70000", "POST", "/send",
          '{"to":"1","text":"x","callback_url":"http://127.0.0.1:70000/"}', "callback_url must be" },
        { "POST /send, callback_url not http", "POST", "/send",
          '{"to":"1","text":"x","callback_url":"ftp://127.0.0.1/"}', "callback_url must be" },
        { "POST /send, callback_url link-local (cloud metadata)", "POST", "/send",
          '{"to":"1","text":"x","callback_url":"http://169.254.169.254/latest"}', "not among http%.callback_networks" },
        { "GET /inject, unknown coding", "GET", "/inject?to=1&text=x&coding=klingon", nil, "coding must be" },
        { "GET /inject, invalid UTF-8", "GET", "/inject?to=1&text=%C3%28", nil, "not valid UTF%-8" },
        { "GET /inject, missing text", "GET", "/inject?to=1", nil, "text is missing" },
        { "GET /inject, missing to", "GET", "/inject?text=x", nil, "to is missing" },
        -- addresses are C-Octet Strings: a NUL is refused naming the field
        { "GET /inject, NUL in to", "GET", "/inject?to=1%00&text=x", nil, "^to holds a NUL octet" },
        { "GET /inject, NUL in from", "GET", "/inject?to=1&from=a%00b&text=x", nil, "^from holds a NUL octet" },
        { "POST /send, NUL in to", "POST", "/send", '{"to":"1\\u0000","text":"x"}', "^to holds a NUL octet" },
        { "POST /send, NUL in from", "POST", "/send", '{"to":"1","from":"a\\u0000b","text":"x"}',
          "^from holds a NUL octet" },
    }
    -- each case twice: with no receiver bound, and with one (the MO is
    -- then built and posted: a NUL there was a 500)
    for _, bound in ipairs { false, true } do
        for _, case in ipairs(BAD) do
            it(case[1] .. (bound and ", a receiver bound" or "") .. ": 400 with the reason", function()
                local c
                if bound then
                    c = wire.connect(srv.port)
                    assert.equal(0, c:bind("receiver").status)
                end
                local code, r = request(srv.http_port, case[2], case[3], case[4], case[6])
                assert.equal(400, code)
                assert.equal("table", type(r))
                assert.matches(case[5], r.error)
                if c then c:close() end
            end)
        end
    end

    it("GET /inject: 404 for an account the configuration does not have, 409 for one with no receiver", function()
        local code, r = request(srv.http_port, "GET", "/inject?to=1&text=x&system_id=nobody")
        assert.equal(404, code)
        assert.equal("no account named nobody", r.error)
        code, r = request(srv.http_port, "POST", "/send", '{"to":"1","text":"x","system_id":"nobody"}')
        assert.equal(404, code)
        assert.equal("no account named nobody", r.error)
        code, r = request(srv.http_port, "GET", "/inject?to=1&text=x&system_id=smppclient1")
        assert.equal(409, code)
        assert.equal("no receiver bound for smppclient1", r.error)
    end)

    it("logged no script failure for any of them", function()
        assert.equal(0, srv:count_log("failed:"))
        assert.equal(0, srv:count_log("stack traceback"))
    end)

    it("still delivers good input, coding auto included", function()
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("receiver").status)
        local code, r = request(srv.http_port, "POST", "/send", '{"to":"1234","text":"héllo","coding":"auto"}')
        assert.equal(202, code, cjson.encode(r))
        local p = assert(c:expect(function(x) return x.id == wire.id.deliver_sm end))
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        code = request(srv.http_port, "GET", "/inject?to=1&text=ok&coding=ucs2")
        assert.equal(202, code)
        p = assert(c:expect(function(x) return x.id == wire.id.deliver_sm end))
        c:send(wire.pdu(wire.RESP + wire.id.deliver_sm, p.seq, "\0"))
        assert.equal(8, wire.parse_sm(p.body).data_coding)
        -- text that the coding cannot hold is a 422 naming the characters
        code, r = request(srv.http_port, "POST", "/send", '{"to":"1234","text":"\\u20ac\\u4e2d","coding":"latin1"}')
        assert.equal(422, code)
        assert.matches("cannot represent", r.error)
        c:close()
    end)
end)

describe("#integration HTTP API heads and media types", function()
    local raw = require "helpers.rawhttp"

    -- status line, decoded body of a request written by hand
    local function ask(srv, text)
        local s = raw.connect(srv.http_port)
        s:send(text)
        local status, _, body, head = raw.response(s)
        s:close()
        local ok, v = pcall(cjson.decode, body or "")
        return head and head[1], ok and v or body, status
    end

    it("sends each status with its reason phrase (403 and 429 were '403 Status')", function()
        local srv = server.start { script = "return { http_send = function() return 202, { queued = true } end }",
            conf = "return " .. server.lua {
                script = "script.lua", http = { listen = "127.0.0.1:0", token = "admin-t" },
                accounts = { { system_id = "app", password = "pw", throughput = 0.001, burst = 1,
                               http = { token = "app-t" } } } } }
        local auth = "Authorization: Bearer app-t\r\n"
        assert.equal("HTTP/1.1 403 Forbidden", (ask(srv, raw.get("/stats", auth))))
        assert.equal("HTTP/1.1 202 Accepted", (ask(srv, raw.post("/send", '{"to":"1","text":"x"}', auth))))
        assert.equal("HTTP/1.1 429 Too Many Requests", (ask(srv, raw.post("/send", '{"to":"1","text":"x"}', auth))))
        assert.equal("HTTP/1.1 401 Unauthorized", (ask(srv, raw.get("/stats"))))
        assert.equal("HTTP/1.1 404 Not Found", (ask(srv, raw.get("/nope", "Authorization: Bearer admin-t\r\n"))))
    end)

    it("takes JSON and forms by their media type exactly; names an overflowing chunk size", function()
        local srv = server.start { script = [[local http = require "smpp.http"
            http.route("POST", "/echo", function(req) return 200, { got = req.data } end)
            return {}]] }
        local function with_type(ctype)
            return "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: " .. ctype .. "\r\nContent-Length: 7\r\n\r\n{\"a\":1}"
        end
        local line, r = ask(srv, with_type("application/jsonx"))
        assert.equal("HTTP/1.1 415 Unsupported Media Type", line)
        assert.matches("send application/json", r.error)
        line = ask(srv, with_type("application/json-seq"))
        assert.equal("HTTP/1.1 415 Unsupported Media Type", line)
        for _, ctype in ipairs { "application/json", "application/json; charset=utf-8", "Application/JSON",
                                 "application/json;charset=utf-8" } do
            line, r = ask(srv, with_type(ctype))
            assert.equal("HTTP/1.1 200 OK", line, ctype)
            assert.equal(1, r.got.a, ctype)
        end
        line, r = ask(srv, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencodedx\r\n"
            .. "Content-Length: 3\r\n\r\na=1")
        assert.equal("HTTP/1.1 415 Unsupported Media Type", line)
        line, r = ask(srv, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            .. "Transfer-Encoding: chunked\r\n\r\n" .. ("f"):rep(20) .. "\r\n")
        assert.equal("HTTP/1.1 400 Bad Request", line)
        assert.equal("invalid chunk size", r.error)
    end)
end)
