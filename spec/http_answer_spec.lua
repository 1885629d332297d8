-- http_answer_spec -- what a script's HTTP route returns is checked before
-- any of it reaches the wire: a long content type once sent raw stack
-- memory (and 3,000,000 characters crashed the process), a CR LF in it
-- added headers, a status of 1e10 was cast to int. Each bad answer is a
-- 500 with a JSON error and a log line naming the route; the process and
-- the connection go on.
local server = require "helpers.server"
local raw = require "helpers.rawhttp"
local cjson = require "cjson"

local SCRIPT = [==[
local http = require "smpp.http"
-- GET /answer/KIND: the route returns what KIND names
local answers = {
    ctype300 = function() return 200, "body", string.rep("a", 300) end,
    ctype3m = function() return 200, "body", string.rep("a", 3000000) end,
    crlf = function() return 200, "x", "text/plain\r\nSet-Cookie: a=b" end,
    lf = function() return 200, "x", "text/plain\nX-Evil: 1" end,
    nul = function() return 200, "x", "text/plain\0junk" end,
    noslash = function() return 200, "x", "textplain" end,
    latin1 = function() return 200, "x", "text/plain; name=\233" end,
    status_big = function() return 1e10, "x" end,
    status_neg = function() return -200, "x" end,
    status_99 = function() return 99, "x" end,
    status_100 = function() return 100, "x" end,         -- a 1xx is never a final answer
    status_600 = function() return 600, "x" end,
    status_frac = function() return 200.5, "x" end,
    status_nan = function() return 0/0, "x" end,
    status_str = function() return "abc", "x" end,
    status_nil = function() return nil, "x" end,
    body_fn = function() return 200, function() end end,
    body_bool = function() return 200, true end,
    cycle = function() local t = {} t.t = t return 200, t end,
    mixed = function() return 200, { 1, 2, nil, 4, a = 1 } end,    -- JSON has no such value: refused, not cut
    sparse = function() return 200, { 1, [100000] = 2 } end,
    ctype_tbl = function() return 200, "x", {} end,
    -- fit to send
    csv = function() return 201, "a,b\n", "text/csv; charset=utf-8" end,
    json = function() return 200, { ok = true } end,
    nobody = function() return 204 end,
    ctype255 = function() return 200, "y", "application/" .. string.rep("b", 243) end,
}
http.route("GET", "/answer/([%w_]+)", function(req) return answers[req.params[1]]() end)
return {}
]==]

local BAD = { "ctype300", "ctype3m", "crlf", "lf", "nul", "noslash", "latin1", "status_big", "status_neg",
              "status_99", "status_100", "status_600", "status_frac", "status_nan", "status_str", "status_nil", "body_fn",
              "body_bool", "cycle", "ctype_tbl", "mixed", "sparse" }

describe("#integration HTTP answers of script routes", function()
    local srv
    setup(function()
        srv = server.start { conf = [[return { script = 'script.lua', http = { listen = '127.0.0.1:0' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = SCRIPT }
    end)

    for _, kind in ipairs(BAD) do
        it(kind .. ": a 500 with a JSON error, the head as we wrote it, the connection kept", function()
            local s = raw.connect(srv.http_port)
            s:send(raw.get("/answer/" .. kind))
            local status, h, body, head = raw.response(s)
            assert.equal(500, status)
            assert.equal("application/json", h["content-type"])
            assert.matches("the route's answer is invalid", cjson.decode(body).error, 1, true)
            -- exactly our head lines: nothing a script wrote, no stray octets
            assert.same({ "HTTP/1.1 500 Internal Server Error", "Content-Type: application/json",
                          "Content-Length: " .. #body, "Cache-Control: no-store" }, head)
            assert.is_nil(h["set-cookie"])
            -- the same connection answers the next request
            s:send(raw.get("/answer/csv"))
            assert.equal(201, (raw.response(s)))
        end)
    end

    it("logs each refusal naming the route", function()
        local function logged(why)
            return srv:wait_log(("HTTP route GET /answer/([%w_]+): answer refused: " .. why):gsub("[%p]", "%%%0"))
        end
        assert.is_true(logged("the status is not a whole number 200..599 (a 1xx is never a final answer)"))
        assert.is_true(logged("the status is not a number"))
        assert.is_true(logged("the content type is not type/subtype"))
        assert.is_true(logged("the content type holds a control character"))
        assert.is_true(logged("the content type holds a NUL octet"))
        assert.is_true(logged("the content type is not a string"))
        assert.is_true(logged("the content type is empty or longer than 255"))
        assert.is_true(logged("the body is not a string"))
        assert.is_true(logged("its table is not JSON"))
        assert.is_true(logged("its table is not JSON: a table mixes list entries and other keys (a)"))
        assert.is_true(logged("its table is not JSON: a sparse list (100000 slots for 2 entries)"))
        assert.is_true(srv:alive())
    end)

    it("sends answers that are fit as they are", function()
        local s = raw.connect(srv.http_port)
        s:send(raw.get("/answer/csv") .. raw.get("/answer/json") .. raw.get("/answer/nobody")
            .. raw.get("/answer/ctype255"))
        local status, h, body = raw.response(s)
        assert.same({ 201, "text/csv; charset=utf-8", "a,b\n" }, { status, h["content-type"], body })
        status, h, body = raw.response(s)
        assert.same({ 200, "application/json", { ok = true } }, { status, h["content-type"], cjson.decode(body) })
        status, h, body = raw.response(s)
        assert.same({ 204, "" }, { status, body })
        status, h = raw.response(s)
        assert.same({ 200, "application/" .. ("b"):rep(243) }, { status, h["content-type"] })
    end)
end)

describe("callback URLs (smpp.http.parse_url)", function()
    local http = require "smpp.http"
    it("takes http://ADDRESS[:PORT][/PATH] and nothing that could end a header line", function()
        assert.same({ "127.0.0.1", 8080, "/cb?x=1" }, { http.parse_url("http://127.0.0.1:8080/cb?x=1") })
        assert.same({ "::1", 80, "/" }, { http.parse_url("http://[::1]") })
        assert.same({ "localhost", 9, "/a" }, { http.parse_url("http://localhost:9/a") })
        for _, bad in ipairs { "http://127.0.0.1/a\r\nX-Evil: 1", "http://127.0.0.1/a b", "http://127.0.0.1:0/",
                               "http://127.0.0.1:65536/", "http://example.com/", "https://127.0.0.1/",
                               "http://127.0.0.1" .. ("/a"):rep(1100), "http://127.0.0.1/\128", 42 } do
            local host, why = http.parse_url(bad)
            assert.is_nil(host, tostring(bad))
            assert.matches("callback_url must be", why)
        end
    end)

    it("refuses link-local and 0.0.0.0/8 however spelt, and what http.callback_networks leaves out", function()
        local core = require "smpp.core"
        for _, bad in ipairs { "http://169.254.169.254/latest", "http://[::ffff:169.254.169.254]/",
                               "http://[fe80::1]:8080/", "http://0.0.0.0/", "http://0.1.2.3:9/" } do
            local host, why = http.parse_url(bad)
            assert.is_nil(host, bad)
            assert.matches("is not among http%.callback_networks", why)
        end
        assert.equal("10.1.2.3", (http.parse_url("http://10.1.2.3/")))
        -- a list given (a configuration being checked): only its networks, link-local when named
        assert.is_nil((http.parse_url("http://127.0.0.1/", { "10.0.0.0/8" })))
        assert.equal("10.1.2.3", (http.parse_url("http://10.1.2.3/", { "10.0.0.0/8" })))
        assert.equal("169.254.169.254", (http.parse_url("http://169.254.169.254/", { "169.254.0.0/16" })))
        -- the list in force (http.callback_networks of the running configuration)
        finally(function() assert.is_true(http.callback_networks(nil)) end)
        assert.is_true(http.callback_networks { "10.0.0.0/8", "::1" })
        assert.is_nil((http.parse_url("http://localhost:9/")))           -- 127.0.0.1
        assert.equal("::1", (http.parse_url("http://[::1]:9/")))
        local ok, why = http.callback_networks { "10.0.0.0/33" }
        assert.is_nil(ok)
        assert.matches("callback_networks%[1%] is not an address", why)
        assert.equal("::1", (http.parse_url("http://[::1]:9/")))        -- the list in force stays
        assert.is_false(core.http_callback_allowed("127.0.0.1"))
    end)
end)

describe("script routes on the API's own paths", function()
    local run = require "helpers.run"
    local tmp = require "helpers.tmp"
    local wire = require "helpers.wire"

    it("are refused with an error naming the path, when the script loads", function()
        for _, c in ipairs {
            { 'http.route("GET", "/stats", function() return 200, { hijacked = true } end)', "/stats", "GET /stats" },
            { 'http.route("POST", "/reload", function() while true do end end)', "/reload", "POST /reload" },
            { 'http.route("DELETE", "/metrics", function() return 200, "" end)', "/metrics", "GET /metrics" },
            { 'http.route("GET", "/messages/([^/]+)", function() return 200, {} end)', "/messages/([^/]+)",
              "GET /messages/([^/]+)" },
        } do
            local dir = tmp.dir()
            tmp.write(dir .. "/script.lua", 'local http = require "smpp.http"\n' .. c[1] .. "\nreturn {}")
            tmp.write(dir .. "/conf.lua", "return { script = 'script.lua' }")
            local out, err, rc = run.smppgw { "check", dir .. "/conf.lua" }
            assert.equal(1, rc, out .. err)
            assert.matches("script.lua:2: http.route: " .. c[2] .. " is the API's own path (" .. c[3] .. ")", err, 1, true)
        end
    end)

    it("are refused from a handler too, and the API's own route answers on", function()
        local srv = server.start { script = [[
local http = require "smpp.http"
http.route("GET", "/mine", function() return 200, { mine = true } end)
return {
    submit_sm = function()
        local ok, err = pcall(http.route, "GET", "/stats", function() return 200, { hijacked = true } end)
        return 0, { message_id = tostring(ok) .. " " .. err:match("is the API's own path") }
    end,
}
]] }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        c:send(wire.submit_sm(1, { short_message = "hijack" }))
        local r = assert(c:read(5))
        assert.equal("false is the API's own path", wire.first_cstr(r.body))
        local code, body = srv:http("GET", "/stats")
        assert.equal(200, code)
        assert.is_nil(cjson.decode(body).hijacked)
        assert.is_table(cjson.decode(body).totals)
        code, body = srv:http("GET", "/mine")
        assert.equal(200, code)
        assert.is_true(cjson.decode(body).mine)
    end)
end)

describe("#integration script route patterns", function()
    it("match the whole path, with or without the script's own ^ and $", function()
        local srv = server.start { script = [[
local http = require "smpp.http"
http.route("GET", "^/a$", function() return 200, { r = "a" } end)
http.route("GET", "^/b/(%d+)", function(req) return 200, { r = "b" .. req.params[1] } end)
http.route("GET", "/c%$", function() return 200, { r = "c$" } end)
return {}
]] }
        local function get(path)
            local code, body = srv:http("GET", path)
            return code, code == 200 and cjson.decode(body).r or body
        end
        assert.same({ 200, "a" }, { get("/a") })
        assert.same({ 200, "b12" }, { get("/b/12") })
        assert.equal(404, (get("/b/12/x")))
        assert.same({ 200, "c$" }, { get("/c$") })
    end)
end)

describe("#integration script routes and gauges across a reload", function()
    it("are the new script's alone: the old ones are gone, and a failed reload changes none", function()
        local srv = server.start { conf = "return { script = 'script.lua', scripts = { max_gauges = 3 } }",
            script = [[
local smpp, http = require "smpp", require "smpp.http"
http.route("GET", "/v1", function() return 200, { v = 1 } end)
http.route("GET", "/.*", function() return 200, { v = "1 catch-all" } end)
smpp.gauge("v1_level", function() return 1 end)
return {}
]] }
        local function get(path)
            local code, body = srv:http("GET", path)
            return code, cjson.decode(body)
        end
        local function gauges() return cjson.decode((select(2, srv:http("GET", "/stats")))).gauges end
        assert.same({ 200, { v = 1 } }, { get("/v1") })
        assert.same({ 200, { v = "1 catch-all" } }, { get("/xyz") })
        assert.equal(1, gauges().v1_level.value)
        -- a reload whose script re-registers /v1 and then fails to load: nothing changes
        srv:write("script.lua", [[
local smpp, http = require "smpp", require "smpp.http"
http.route("GET", "/v1", function() return 200, { v = "failed" } end)
smpp.gauge("v1_level", function() return 99 end)
error("this load fails")
]])
        local code = srv:http("POST", "/reload")
        assert.equal(422, code)
        assert.same({ 200, { v = 1 } }, { get("/v1") })
        assert.equal(1, gauges().v1_level.value)
        -- a script with no routes and other gauges: the old ones are gone
        -- (the API's own routes, and the runtime's own gauges, stay); its
        -- three gauges fit scripts.max_gauges = 3 beside the runtime's own
        srv:write("script.lua", [[
local smpp = require "smpp"
for i = 1, 3 do smpp.gauge("v2_" .. i, function() return i end) end
local long = pcall(smpp.gauge, string.rep("n", 65), function() return 0 end)
smpp.gauge("v2_long_name_refused", function() return long and 1 or 0 end)
return {}
]])
        code = srv:http("POST", "/reload")
        assert.equal(422, code)                                   -- a fourth gauge: past max_gauges
        srv:write("script.lua", [[
local smpp = require "smpp"
for i = 1, 2 do smpp.gauge("v2_" .. i, function() return i end) end
local ok, err = pcall(smpp.gauge, string.rep("n", 65), function() return 0 end)
smpp.gauge("v2_long", function() return (not ok and err:find("65 octets long, more than 64", 1, true)) and 1 or 0 end)
return {}
]])
        code = srv:http("POST", "/reload")
        assert.equal(200, code, srv:log_text())
        assert.equal(404, (get("/v1")))
        assert.equal(404, (get("/xyz")))
        assert.equal(200, (get("/stats")))
        local g = gauges()
        assert.is_nil(g.v1_level)
        assert.equal(2, g.v2_2.value)
        assert.equal(1, g.v2_long.value)                          -- the 65-octet name was refused
        assert.is_table(g.bind_tracked)                           -- the runtime's own, not counted
        -- and a wrong method names each allowed one once
        local c2, b2 = srv:http("POST", "/stats")
        assert.equal(405, c2)
        assert.matches("(use GET)", b2, 1, true)
    end)
end)

describe("#integration POST /reload of a script that fails to load", function()
    local run = require "helpers.run"

    it("is a 422 for a load past the heap's ceiling and for an error whose __tostring raises", function()
        local srv = server.start { conf = "return { script = 'script.lua', scripts = { memory_mb = 32 } }",
            script = "return { submit_sm = function() return 0 end }" }
        srv:write("script.lua", "local t = {}\nfor i = 1, 1e9 do t[i] = { i } end\nreturn {}\n")
        local code, body = srv:http("POST", "/reload")
        assert.equal(422, code, body)
        local b = cjson.decode(body)
        assert.same({ false, "string" }, { b.reloaded, type(b.error) })
        assert.matches("memory", b.error)
        srv:write("script.lua", 'error(setmetatable({}, { __tostring = function() error("x") end }))\n')
        code, body = srv:http("POST", "/reload")
        assert.equal(422, code, body)
        assert.matches("__tostring", cjson.decode(body).error)
        code = srv:http("GET", "/stats")                         -- the running script serves on
        assert.equal(200, code)
        local out, err, rc = run.smppgw { "check", srv.dir .. "/conf.lua" }
        assert.equal(1, rc, out .. err)
        assert.matches("__tostring", err)
        assert.is_nil(err:find("traceback", 1, true), err)
    end)
end)
