-- http_path_spec -- routes are matched on the percent-decoded path: a
-- script's route for /x/A was not reached by /x/%41, and its captures came
-- as sent (%41). A malformed escape (%4, %zz) and a decoded NUL are 400
-- with a JSON error; the API's own routes go by the same path.
local server = require "helpers.server"
local raw = require "helpers.rawhttp"
local cjson = require "cjson"

local SCRIPT = [==[
local http = require "smpp.http"
local function show(req)
    return 200, { params = req.params, path = req.path, raw_path = req.raw_path, n = #req.params }
end
http.route("GET", "/x/A", show)
http.route("GET", "/w/(%w+)/(%w+)", show)
http.route("GET", "/any/(.+)", show)
return {}
]==]

describe("#integration HTTP routes on the percent-decoded path", function()
    local srv
    setup(function()
        srv = server.start { conf = [[return { script = 'script.lua', http = { listen = '127.0.0.1:0' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = SCRIPT }
    end)

    local function get(path, extra)
        local s = raw.connect(srv.http_port)
        s:send(raw.get(path, extra))
        local status, h, body = raw.response(s)
        return status, h["content-type"] == "application/json" and cjson.decode(body) or body
    end

    it("reaches a script's route by an escaped path, its captures decoded", function()
        local status, r = get("/x/%41")
        assert.equal(200, status)
        assert.same({ "/x/A", "/x/%41" }, { r.path, r.raw_path })
        status, r = get("/%78/A")
        assert.equal(200, status)
        status, r = get("/w/%41b/c%64")
        assert.equal(200, status)
        assert.same({ "Ab", "cd" }, r.params)
        -- a capture holds what the decoded path holds: a space, UTF-8, "+" as it is, %2F as "/"
        status, r = get("/any/a%20b+%E2%98%83%2Fc%25")
        assert.equal(200, status)
        assert.same({ "a b+\226\152\131/c%" }, r.params)
        -- decoded once: %2541 is "%41", not "A"
        status, r = get("/x/%2541")
        assert.equal(404, status)
        assert.equal("no such path: /x/%41", r.error)
        -- the query is not the path
        status, r = get("/x/%41?q=%zz")
        assert.equal(200, status)
    end)

    it("refuses a malformed escape and a decoded NUL with 400 and a JSON error", function()
        for path, why in pairs {
            ["/x/%4"] = "malformed percent escape in the path: %4",
            ["/x/%zz"] = "malformed percent escape in the path: %z",
            ["/x/%4g"] = "malformed percent escape in the path: %4g",
            ["/x/%"] = "malformed percent escape in the path: %",
            ["/stats%"] = "malformed percent escape in the path: %",
            ["/any/a%00b"] = "the path holds a NUL octet (%00)",
            ["/messages/a%00"] = "the path holds a NUL octet (%00)",
        } do
            local status, r = get(path)
            assert.equal(400, status, path)
            assert.equal(why, r.error, path)
        end
        assert.is_true(srv:alive())
    end)

    it("matches the API's own routes on the same path", function()
        local status, r = get("/stat%73")
        assert.equal(200, status)
        assert.is_table(r.totals or r)
        status = get("/%6Detrics")
        assert.equal(200, status)
        -- /messages/ID: the id decoded once, %2F in it a "/" of the id
        status, r = get("/messages/no%20such%2Fid+%E2%98%83")
        assert.equal(404, status)
        assert.equal("no message no such/id+\226\152\131 in the store", r.error)
        status, r = get("/%6Dessages/%41")
        assert.equal(404, status)
        assert.equal("no message A in the store", r.error)
        -- a body larger than the route takes is refused at the head, however the path is spelt
        local s = raw.connect(srv.http_port)
        s:send("GET /stat%73 HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
        assert.equal(413, (raw.response(s)))
    end)
end)
