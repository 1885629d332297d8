-- gateway_upgrade_spec -- a store written by the schema before the
-- gateway's narrow forwarding rows (5): a message waiting in a forward
-- queue there is moved when the gateway opens the file, goes out, and its
-- answer is read back with the rest of its trace.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait_until = require("helpers.wait").wait_until
local store = require "smpp.store"

local UPSTREAM_CONF = [[return { script = 'script.lua',
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

describe("#integration a store of schema 5", function()
    it("is brought up to date when the gateway opens it, and a message waiting in its queue goes out", function()
        local path = tmp.dir() .. "/old.db"
        local st = assert(store.open { path = path })
        local now = os.time()
        -- as schema 5 kept a queued message: its queue place in messages
        assert(st:put { id = "old-1", account = "esme1", source = "1234", dest = "447700900123",
                        submitted = now, expires = now + 3600, due = now, upstream = "A", route = "all",
                        pdu = wire.submit_sm(1, { short_message = "from schema 5" }),
                        trace = "accepted from esme1 (session 1), route 'all', queued for A" })
        assert(st:commit())
        st:close()
        local rc = os.execute("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "DROP TRIGGER fwd_gone; DROP TABLE fwd; UPDATE meta SET value = 5 WHERE key = 'schema'"))
        assert.is_true(rc == 0 or rc == true, "sqlite3 failed")
        local up = server.start { conf = UPSTREAM_CONF, script = [[
            local smpp = require "smpp"
            return { submit_sm = function(session, pdu)
                smpp.log("info", "took %s", pdu.short_message)
                return 0, { message_id = "u1" }
            end }]] }
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            store = { path = path },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } },
        } }
        assert.truthy(up:wait_log("took from schema 5", 10), gw:log_text())
        assert.truthy(wait_until(function()
            local code, body = gw:http("GET", "/messages/old-1")
            return code == 200 and body:find("accepted as u1", 1, true) ~= nil
        end, 10), gw:log_text())
        gw:stop()
        local reopened = assert(store.open { path = path })
        local m = reopened:get("old-1")
        reopened:close()
        assert.equal(1, m.state)                              -- ENROUTE, from its fwd row
        assert.matches("queued for A\n.* sent to A %(session %d+, attempt 1%): accepted as u1\n$", m.trace)
    end)
end)
