-- http_apps_spec -- applications over HTTP: POST /send as an account with
-- its own token and under its limits, and receipts and MO posted to the
-- account's webhook (retried with backoff, bounded by the account's
-- outbox, never dropped), against a receiver the spec starts.
local server = require "helpers.server"
local webhooks = require "helpers.webhooks"
local prometheus = require "helpers.prometheus"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

-- value(families, name, labels) -> the value of the sample with exactly those labels
local function value(fams, name, labels)
    for _, smp in ipairs((fams[name] or { samples = {} }).samples) do
        local same = true
        for k, v in pairs(labels) do same = same and smp.labels[k] == v end
        for k in pairs(smp.labels) do same = same and labels[k] ~= nil end
        if same then return smp.value end
    end
end

-- json(srv, method, path, value, token) -> status, decoded body
local function json(srv, method, path, value, token)
    local headers = { ["Content-Type"] = "application/json" }
    if token then headers.Authorization = "Bearer " .. token end
    local code, body = srv:http(method, path, value and cjson.encode(value), headers)
    local ok, v = pcall(cjson.decode, body)
    return code, ok and v or body
end

describe("#integration POST /send as an account, through a gateway", function()
    it("routes as the token's account under its limits, and posts the receipts to its webhook", function()
        local hook = webhooks.start("500,200")
        local smsc = server.start { conf = server.smsc_conf() }
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            http = { listen = "127.0.0.1:0", token = "admin-t" },
            accounts = {
                { system_id = "app1", password = "pw", http = { token = "app1-t",
                  webhook = { url = hook:url("/app1"), retry_min = 0.1, retry_max = 0.2 } } },
                { system_id = "app2", password = "pw", sources = { "^1" }, throughput = 0.001, burst = 1,
                  http = { token = "app2-t" } },
                { system_id = "app3", password = "pw", networks = { "10.0.0.0/8" }, http = { token = "app3-t" } },
            },
            upstreams = { { name = "up", port = smsc.port, system_id = "smppclient1", password = "password",
                            reconnect_min = 0.2 } },
            gateway = { routes = { { prefix = "44", to = { "up" } } } },
        } }
        assert.is_true(gw:wait_log("upstream up: bind 1 up", 5))

        -- credentials: none or a wrong one is 401; an account's token opens its own routes only
        assert.equal(401, (json(gw, "POST", "/send", { to = "447700900123", text = "x" })))
        assert.equal(401, (json(gw, "POST", "/send", { to = "447700900123", text = "x" }, "nope")))
        local code, r = json(gw, "GET", "/stats", nil, "app1-t")
        assert.equal(403, code)
        assert.matches("POST /send", r.error)
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", system_id = "app2" }, "app1-t")
        assert.equal(403, code)
        assert.matches("sends as app1, not app2", r.error)

        -- sent as app1: stored under app1, its receipt goes to app1's webhook
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "hello app1" }, "app1-t")
        assert.equal(200, code, cjson.encode(r))
        local id = r.message_ids[1]
        local m
        code, m = json(gw, "GET", "/messages/" .. id, nil, "app1-t")
        assert.equal(200, code)
        assert.equal("app1", m.account)
        assert.equal(404, (json(gw, "GET", "/messages/" .. id, nil, "app2-t")))   -- not app2's message

        local posts = hook:wait_posts(2)
        assert.equal(500, posts[1].status)                  -- the first attempt failed ...
        assert.equal(200, posts[2].status)                  -- ... the second, after the backoff, went through
        for i, p in ipairs(posts) do
            assert.equal("POST /app1", p.request)
            assert.equal("receipt", p.body.type)
            assert.equal("app1", p.body.account)
            assert.equal(id, p.body.message_id)
            assert.equal("DELIVRD", p.body.receipt.stat)
            assert.equal(i, p.body.attempt)
        end
        assert.equal(posts[1].body.id, posts[2].body.id)    -- the same item: a receiver can tell repeats
        local st
        assert.is_truthy(wait_until(function()
            st = select(2, json(gw, "GET", "/stats", nil, "admin-t")).webhooks.app1
            return st.delivered == 1
        end))
        assert.same({ 1, 1, 0, 0 }, { st.delivered, st.failed, st.queue, st.inflight })
        assert.equal(hook:url("/app1"), st.url)
        local _, text = gw:http("GET", "/metrics", nil, { Authorization = "Bearer admin-t" })
        local fams = prometheus.parse(text)
        assert.equal(0, value(fams, "smppgw_webhook_queue", { account = "app1" }))
        assert.equal(1, value(fams, "smppgw_webhook_total", { account = "app1", result = "delivered" }))
        assert.equal(1, value(fams, "smppgw_webhook_total", { account = "app1", result = "failed" }))

        -- the accounts' limits, as for their binds: app3's networks, app2's sources, then one message per 1000 s
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x" }, "app3-t")
        assert.equal(403, code)
        assert.matches("address 127%.0%.0%.1 is not in the networks of app3", r.error)
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", from = "999" }, "app2-t")
        assert.equal(403, code)
        assert.matches("not among the sources of app2", r.error)
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", from = "123" }, "app2-t")
        assert.equal(200, code, cjson.encode(r))
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", from = "123" }, "app2-t")
        assert.equal(429, code)
        assert.matches("throttled", r.error)

        -- the admin token sends as any account, or as @http without one
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", system_id = "app1" }, "admin-t")
        assert.equal(200, code)
        assert.equal("app1", select(2, json(gw, "GET", "/messages/" .. r.message_ids[1], nil, "admin-t")).account)
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x" }, "admin-t")
        assert.equal(200, code)
        assert.equal("@http", select(2, json(gw, "GET", "/messages/" .. r.message_ids[1], nil, "admin-t")).account)
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "x", system_id = "nobody" }, "admin-t")
        assert.equal(404, code)
        assert.matches("no account named nobody", r.error)
    end)
end)

describe("#integration an account's messages over HTTP without an admin token", function()
    it("need the account's token whenever it has one", function()
        local smsc = server.start { conf = server.smsc_conf() }
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            http = { listen = "127.0.0.1:0" },
            accounts = {
                { system_id = "app1", password = "pw", http = { token = "app1-t" } },
                { system_id = "app2", password = "pw", http = { token = "app2-t" } },
                { system_id = "open", password = "pw" },
            },
            upstreams = { { name = "up", port = smsc.port, system_id = "smppclient1", password = "password",
                            reconnect_min = 0.2 } },
            gateway = { routes = { { prefix = "44", to = { "up" } } } },
        } }
        assert.is_true(gw:wait_log("upstream up: bind 1 up", 5))
        local code, r = json(gw, "POST", "/send", { to = "447700900123", text = "secret" }, "app1-t")
        assert.equal(200, code, cjson.encode(r))
        local id = r.message_ids[1]
        code, r = json(gw, "POST", "/send", { to = "447700900123", text = "open", system_id = "open" })
        assert.equal(200, code, cjson.encode(r))
        local open_id = r.message_ids[1]

        -- no token: app1's message and list are closed; an account without a token stays open
        assert.equal(404, (json(gw, "GET", "/messages/" .. id)))
        code, r = json(gw, "GET", "/messages?account=app1")
        assert.equal(401, code)
        assert.matches("messages of app1 need its token", r.error)
        assert.equal(200, (json(gw, "GET", "/messages/" .. open_id)))
        assert.equal(200, (json(gw, "GET", "/messages?account=open")))
        -- its own token reads them; another account's does not
        code, r = json(gw, "GET", "/messages/" .. id, nil, "app1-t")
        assert.equal(200, code)
        assert.equal("app1", r.account)
        code, r = json(gw, "GET", "/messages?account=app1", nil, "app1-t")
        assert.equal(200, code)
        assert.equal(id, r.messages[1].message_id)
        code, r = json(gw, "GET", "/messages", nil, "app1-t")        -- its own account by default
        assert.equal(200, code)
        assert.equal(1, r.count)
        assert.equal(404, (json(gw, "GET", "/messages/" .. id, nil, "app2-t")))
        assert.equal(403, (json(gw, "GET", "/messages?account=app1", nil, "app2-t")))
    end)
end)

describe("#integration webhooks of the reference SMSC", function()
    it("posts an account's MO as JSON", function()
        local hook = webhooks.start("200")
        local srv = server.start { conf = server.smsc_conf {
            accounts = { { system_id = "app", password = "pw", http = { token = "app-t",
                           webhook = { url = hook:url("/mo") } } } } } }
        local code, r = json(srv, "POST", "/send", { to = "1234", from = "447700900999", text = "héllo" }, "app-t")
        assert.equal(202, code, cjson.encode(r))
        assert.equal("app", r.system_id)
        local p = hook:wait_posts(1)[1]
        assert.equal("POST /mo", p.request)
        assert.same({ "mo", "app", "447700900999", "1234", "héllo" },
                    { p.body.type, p.body.account, p.body.from, p.body.to, p.body.text })
        assert.equal("deliver_sm", p.body.command)
    end)

    it("keeps what the webhook refuses in the account's bounded outbox, counting what does not fit", function()
        local hook = webhooks.start("503")
        local srv = server.start { conf = server.smsc_conf {
            store = { path = ":memory:", limits = { outbox_per_account = 2 } },
            accounts = { { system_id = "app", password = "pw", http = { token = "app-t",
                           webhook = { url = hook:url("/mo"), retry_min = 0.05, retry_max = 0.1 } } } } } }
        for i = 1, 2 do
            local code = json(srv, "POST", "/send", { to = "1234", text = "m" .. i }, "app-t")
            assert.equal(202, code)
        end
        local code, r = json(srv, "POST", "/send", { to = "1234", text = "m3" }, "app-t")
        assert.equal(503, code)
        assert.matches("outbox_per_account", r.error)
        hook:wait_posts(4)                                  -- both tried, and tried again
        local st = srv:stats().webhooks.app
        assert.same({ 2, 2, 0, 1 }, { st.queue, st.limit, st.delivered, st.refused })
        assert.is_true(st.failed >= 2)
        assert.is_true(srv:wait_log("webhook of app: http://127%.0%.0%.1:%d+/mo answered 503", 5))
    end)
end)

describe("smppgw check: accounts' http sections", function()
    local run = require "helpers.run"
    local tmp = require "helpers.tmp"
    it("names a bad webhook URL and a token used twice", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/c.lua", "return " .. server.lua {
            script = server.root .. "/scripts/smsc.lua", http = { listen = "127.0.0.1:0", token = "a" },
            accounts = { { system_id = "x", password = "p", http = { token = "a", webhook = { url = "ftp://h/" } } },
                         { system_id = "y", password = "p", http = { token = "b" } },
                         { system_id = "z", password = "p", http = { token = "b" } } } })
        local out, err, rc = run.smppgw { "check", dir .. "/c.lua" }
        assert.are_not.equal(0, rc)
        local all = out .. err
        assert.matches("accounts%[1%]%.http%.token: the same as http%.token", all)
        assert.matches("accounts%[1%]%.http%.webhook%.url: the URL must be http://", all)
        assert.matches("accounts%[3%]%.http%.token: the same as accounts%[2%]%.http%.token", all)
    end)

    it("names a webhook outside http.callback_networks and a network that is not one", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/c.lua", "return " .. server.lua {
            script = server.root .. "/scripts/smsc.lua",
            http = { listen = "127.0.0.1:0", callback_networks = { "10.0.0.0/8", "10.0.0.0/40" } },
            accounts = { { system_id = "x", password = "p", http = { webhook = { url = "http://169.254.169.254/" } } },
                         { system_id = "y", password = "p", http = { webhook = { url = "http://10.2.3.4/" } } } } })
        local out, err, rc = run.smppgw { "check", dir .. "/c.lua" }
        assert.are_not.equal(0, rc)
        local all = out .. err
        assert.matches("accounts%[1%]%.http%.webhook%.url: the URL: 169%.254%.169%.254 is not among http%.callback_networks", all)
        assert.is_nil(all:find("accounts[2]", 1, true), all)
        assert.matches("http%.callback_networks%[2%]: \"10%.0%.0%.0/40\": the prefix is not 0%.%.32", all)
    end)
end)
