-- receipts_order_spec -- with message_id = "upstream" the ESME's answer
-- waits for the commit that stores the upstream's answer; an upstream that
-- sends each receipt right after its answer had the receipt reach the ESME
-- first, under an id the ESME had not been given yet (smppgw bench --dlr
-- counted every receipt unmatched). On one session the answer now comes
-- first: receipts matched while answers are held go at the turn's end.
local server = require "helpers.server"
local run = require "helpers.run"

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

describe("#integration a receipt sent right after its answer (message_id = \"upstream\")", function()
    it("reaches the ESME after the submit_sm_resp that gave it the id, on the same session", function()
        local smsc = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            session = { receive_window = 1000, window = 1000 },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]],
            script = read(server.root .. "/core/bench/dlr_smsc.lua") }
        local gw = server.start { conf = "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua",
            store = { path = "gw.db" },
            session = { receive_window = 1000, window = 1000 },
            accounts = { { system_id = "esme", password = "pw" } },
            upstreams = { { name = "smsc", port = smsc.port, system_id = "smppclient1", password = "password",
                            binds = 2, window = 100 } },
            gateway = { message_id = "upstream", routes = { { prefix = "", to = { "smsc" } } } },
        } }
        assert(gw:wait_log("upstream smsc: bind 2 up", 10), gw:log_text())
        local out, err = run.smppgw { "bench", "--sessions", "1", "--window", "100", "--count", "3000", "--dlr",
                                      "--system-id", "esme", "--password", "pw", "127.0.0.1:" .. gw.port }
        -- before: receipts 3000 (about 3000 unmatched, ...)
        assert.matches("receipts 3000 %(0 unmatched, 0 missing%)", out .. err)
    end)
end)
