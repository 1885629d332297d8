-- gateway_stop_spec -- SIGTERM ends a gateway even when a link would come
-- back meanwhile: once shutdown has started, no upstream link reconnects
-- or binds again, so the last session to go (an ESME that never answers
-- unbind, closed after unbind_timeout) lets the process exit.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id = wire.id

describe("#integration gateway shutdown", function()
    it("exits on SIGTERM while an ESME ignores unbind, without binding its link again", function()
        local up = server.start { conf = server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } } } }
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            session = { unbind_timeout = 1 },
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw",
                            reconnect_min = 0.2, reconnect_max = 0.2 } },
            gateway = { routes = { { prefix = "", to = { "U" } } } },
        } }
        assert(gw:wait_log("upstream U: bind 1 up", 5), gw:log_text())
        local c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        gw:signal("TERM")
        -- the gateway asks the ESME to unbind; the ESME never answers
        assert(c:expect(function(p) return p.id == id.unbind end, 5), "no unbind from the gateway")
        local code = gw:wait_exit(8)
        assert.is_not_nil(code, "the gateway is still running:\n" .. gw:log_text())
        assert.equal(0, code)
        local after = gw:log_text():match("signal 15.*$")
        assert.is_nil(after:match("upstream U: bind 1 up"), "the link bound again after SIGTERM:\n" .. after)
        c:close()
    end)
end)
