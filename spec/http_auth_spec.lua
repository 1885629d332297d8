-- http_auth_spec -- who a request of the HTTP API is: one credential per
-- request (the Authorization header when there is one, else ?token=), an
-- invalid one is 401 whatever else the request carries, and an account's
-- token is never the admin's. A wrong header with an account's token in
-- the query once opened /stats, /reload, other accounts' messages and
-- /send as another account.
local server = require "helpers.server"
local cjson = require "cjson"

-- A script whose http_send tells what it was given.
local SCRIPT = [[
return {
    http_send = function(d, req)
        return 202, { system_id = d.system_id or "", account = req.account or "", admin = req.admin }
    end,
}
]]

local function start(http)
    return server.start { script = SCRIPT, conf = "return " .. server.lua {
        script = "script.lua", store = { path = ":memory:" }, http = http,
        accounts = {
            { system_id = "u1", password = "pw", http = { token = "acct1tok" } },
            { system_id = "u2", password = "pw" },                              -- no token of its own
            { system_id = "u3", password = "pw", http = { token = "acct3tok" } },
        },
    } }
end

-- call(srv, method, path, header, query, body) -> status, decoded body.
-- header: the Bearer token (nil: no Authorization header); query: the
-- ?token= value (nil: none).
local function call(srv, method, path, header, query, body)
    local headers = { ["Content-Type"] = "application/json" }
    if header then headers.Authorization = "Bearer " .. header end
    if query then path = path .. (path:find("?", 1, true) and "&" or "?") .. "token=" .. query end
    local code, text = srv:http(method, path, body and cjson.encode(body), headers)
    local ok, v = pcall(cjson.decode, text)
    return code, ok and v or text
end

-- The credentials of the matrix: nil is "none".
local CREDS = { { "admin", "admintok" }, { "account", "acct1tok" }, { "junk", "junk" }, { "absent", nil } }

-- The role the request has: the header's credential when there is one, else the query's.
local function role_of(header, query, admin_set)
    local cred = header or query
    if cred == nil then return admin_set and "invalid" or "anon" end
    if cred == "admintok" and admin_set then return "admin" end
    if cred == "acct1tok" then return "account" end
    return "invalid"
end

describe("#integration HTTP credentials", function()
    it("with an admin token: one credential per request, the header's when it has one", function()
        local srv = start { listen = "127.0.0.1:0", token = "admintok" }
        for _, h in ipairs(CREDS) do
            for _, q in ipairs(CREDS) do
                local header, query = h[2], q[2]
                local what = "header " .. h[1] .. ", query " .. q[1]
                local role = role_of(header, query, true)
                local admin_only = ({ admin = 200, account = 403, invalid = 401 })[role]
                -- the admin's routes
                assert.equal(admin_only, (call(srv, "GET", "/stats", header, query)), "GET /stats, " .. what)
                assert.equal(admin_only, (call(srv, "GET", "/sessions", header, query)), "GET /sessions, " .. what)
                assert.equal(admin_only, (call(srv, "POST", "/reload", header, query)),
                    "POST /reload, " .. what)
                -- another account's messages, with and without a token of its own
                assert.equal(admin_only, (call(srv, "GET", "/messages?account=u2", header, query)),
                    "GET /messages?account=u2, " .. what)
                assert.equal(admin_only, (call(srv, "GET", "/messages?account=u3", header, query)),
                    "GET /messages?account=u3, " .. what)
                -- its own messages
                assert.equal(({ admin = 200, account = 200, invalid = 401 })[role],
                    (call(srv, "GET", "/messages?account=u1", header, query)), "GET /messages?account=u1, " .. what)
                -- sending as another account, and as its own
                local code, r = call(srv, "POST", "/send", header, query, { to = "1", text = "x", system_id = "u2" })
                assert.equal(({ admin = 202, account = 403, invalid = 401 })[role], code, "POST /send as u2, " .. what)
                if code == 202 then assert.same({ system_id = "u2", account = "", admin = true }, r) end
                code, r = call(srv, "POST", "/send", header, query, { to = "1", text = "x" })
                assert.equal(({ admin = 202, account = 202, invalid = 401 })[role], code, "POST /send, " .. what)
                if role == "account" then assert.same({ system_id = "u1", account = "u1", admin = false }, r) end
                if role == "admin" then assert.same({ system_id = "", account = "", admin = true }, r) end
            end
        end
        -- another scheme in the header is a credential too: not the admin's, whatever the query says
        local code, r = srv:http("GET", "/stats?token=admintok", nil, { Authorization = "Basic admintok" })
        assert.equal(401, code)
        assert.matches("missing or wrong token", r)
        -- two token parameters: refused, neither is taken
        assert.equal(401, (srv:http("GET", "/stats?token=admintok&token=acct1tok")))
        assert.equal(401, (srv:http("GET", "/stats?token=acct1tok&token=admintok")))
    end)

    it("without an admin token: none is anonymous, a wrong one is 401, an account's is that account", function()
        local srv = start { listen = "127.0.0.1:0" }
        for _, h in ipairs(CREDS) do
            for _, q in ipairs(CREDS) do
                local header, query = h[2], q[2]
                local what = "header " .. h[1] .. ", query " .. q[1]
                local role = role_of(header, query, false)
                assert.equal(({ anon = 200, account = 403, invalid = 401 })[role],
                    (call(srv, "GET", "/stats", header, query)), "GET /stats, " .. what)
                -- an account with a token needs it; one without is open to anonymous requests only
                assert.equal(({ anon = 200, account = 403, invalid = 401 })[role],
                    (call(srv, "GET", "/messages?account=u2", header, query)), "GET /messages?account=u2, " .. what)
                assert.equal(({ anon = 401, account = 403, invalid = 401 })[role],
                    (call(srv, "GET", "/messages?account=u3", header, query)), "GET /messages?account=u3, " .. what)
                local code, r = call(srv, "POST", "/send", header, query, { to = "1", text = "x", system_id = "u2" })
                assert.equal(({ anon = 202, account = 403, invalid = 401 })[role], code, "POST /send as u2, " .. what)
                if code == 202 then assert.same({ system_id = "u2", account = "", admin = false }, r) end
                code = call(srv, "POST", "/send", header, query, { to = "1", text = "x", system_id = "u3" })
                assert.equal(({ anon = 401, account = 403, invalid = 401 })[role], code, "POST /send as u3, " .. what)
            end
        end
    end)

    it("an account's token follows a reload: a removed one is refused, a new one is its account", function()
        local srv = start { listen = "127.0.0.1:0", token = "admintok" }
        assert.equal(202, (call(srv, "POST", "/send", "acct1tok", nil, { to = "1", text = "x" })))
        srv:write("conf.lua", "return " .. server.lua {
            script = "script.lua", store = { path = ":memory:" }, http = { listen = "127.0.0.1:0", token = "admintok" },
            accounts = { { system_id = "u9", password = "pw", http = { token = "acct9tok" } } },
        })
        assert.equal(200, (call(srv, "POST", "/reload", "admintok")))
        assert.equal(401, (call(srv, "POST", "/send", "acct1tok", nil, { to = "1", text = "x" })))
        local code, r = call(srv, "POST", "/send", nil, "acct9tok", { to = "1", text = "x" })
        assert.equal(202, code)
        assert.equal("u9", r.account)
    end)
end)
