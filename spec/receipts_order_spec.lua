-- receipts_order_spec -- with message_id = "upstream" the ESME's answer
-- waits for the commit that stores the upstream's answer; an upstream that
-- sends each receipt right after its answer had the receipt reach the ESME
-- first, under an id the ESME had not been given yet (smppgw bench --dlr
-- counted every receipt unmatched). On one session the answer now comes
-- first: receipts matched while answers are held go at the turn's end.
-- With several sessions of one ESME a receipt goes back on the session
-- that submitted its message (core/rt_gw_origin.c), so it follows its
-- answer there too; before, it went round robin to any of them, which
-- the ESME may read before the one that got the answer.
local server = require "helpers.server"
local run = require "helpers.run"
local redis = require "helpers.redis"
local gw_store = require "helpers.gw_store"

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- An SMSC that sends each receipt before its answer (the answer waits
-- for the receipt's own answer from the gateway).
local RECEIPT_FIRST = [[
local smpp = require "smpp"
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    local id = tostring(n)
    session:send { command = "deliver_sm", esm_class = 4, receipted_message_id = id, message_state = 2,
        short_message = "id:" .. id .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311200 stat:DELIVRD err:000 text:" }
    return 0, { message_id = id }
end }]]

-- A gateway with account "esme" in front of an SMSC that sends each
-- receipt right after its answer (core/bench/dlr_smsc.lua, or smsc_script);
-- store: helpers.gw_store's (default an SQLite file beside the configuration).
local function gateway(message_id, store, smsc_script)
    local smsc = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
        session = { receive_window = 1000, window = 1000 },
        accounts = { { system_id = 'smppclient1', password = 'password' } } }]],
        script = smsc_script or read(server.root .. "/core/bench/dlr_smsc.lua") }
    store = store or { path = "gw.db" }
    local gw = server.start { conf = "return " .. server.lua(server.merge({
        script = server.root .. "/scripts/gateway.lua",
        session = { receive_window = 1000, window = 1000 },
        accounts = { { system_id = "esme", password = "pw" } },
        upstreams = { { name = "smsc", port = smsc.port, system_id = "smppclient1", password = "password",
                        binds = 2, window = 100 } },
        gateway = { message_id = message_id, routes = { { prefix = "", to = { "smsc" } } } },
    }, gw_store.sections(store))) }
    assert(gw:wait_log("upstream smsc: bind 2 up", 10), gw:log_text())
    gw_store.ready(gw, store)
    return gw
end

local function bench(gw, sessions, count)
    local out, err = run.smppgw { "bench", "--sessions", tostring(sessions), "--window", "100", "--count",
                                  tostring(count), "--dlr", "--system-id", "esme", "--password", "pw",
                                  "127.0.0.1:" .. gw.port }
    return out .. err
end

describe("#integration a receipt sent right after its answer (message_id = \"upstream\")", function()
    it("reaches the ESME after the submit_sm_resp that gave it the id, on the same session", function()
        local out = bench(gateway("upstream"), 1, 3000)
        -- before: receipts 3000 (about 3000 unmatched, ...)
        assert.matches("receipts 3000 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 0 ", out)
    end)

    it("goes back on the session that submitted, after its answer, with 4 sessions of one ESME", function()
        local gw = gateway("upstream")
        local out = bench(gw, 4, 4000)
        -- before: receipts went round robin over the 4 sessions: about 3
        -- in 4 on another session, some read before their answers
        assert.matches("receipts 4000 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 0 %(.-%), on another session than their answer 0\n", out)
        local st = gw:stats()
        assert.equal(0, st.gateway.receipt_origins)       -- each final receipt freed its message's slot
    end)
end)

describe("#integration a receipt that came before its answer (message_id = \"upstream\")", function()
    it("waits in the outbox, then goes on the session that submitted, after its answer", function()
        local gw = gateway("upstream", nil, RECEIPT_FIRST)
        local out = bench(gw, 4, 1000)
        -- before: the outbox's deliverer sent it to any receiver
        assert.matches("receipts 1000 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 0 %(.-%), on another session than their answer 0\n", out)
        local st = gw:stats()
        assert.equal(1000, st.gateway.queues.smsc.receipts_early_matched)   -- each came before its answer
        assert.equal(0, st.outbox.preferred)
    end)
end)

describe("#integration a receipt with the gateway's own ids", function()
    it("goes back on the session that submitted, with 4 sessions of one ESME", function()
        local out = bench(gateway("own"), 4, 4000)
        assert.matches("receipts 4000 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 0 %(.-%), on another session than their answer 0\n", out)
    end)
end)

describe("#integration a receipt with the store in Redis (cluster.store)", function()
    it("goes back on the session that submitted, after its answer, with 4 sessions of one ESME", function()
        local r = redis.start()
        local out = bench(gateway("own", r), 4, 2000)
        -- before: the account's stream went to any receiver of the node
        assert.matches("receipts 2000 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 0 %(.-%), on another session than their answer 0\n", out)
    end)
end)
