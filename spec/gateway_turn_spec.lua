-- gateway_turn_spec -- under a load that has thousands of handler runs
-- store a message in one loop turn (smppgw bench, 16 sessions with 1,000
-- outstanding each), a run that fails after storing (in the same turn, or
-- after a wait: parked) never has its message forwarded, and every other
-- message is forwarded exactly once: the upstream's counts are exact.
-- The upstream is a second smppgw whose script counts what it gets by the
-- destination's last digit (odd: the runs that fail).
local server = require "helpers.server"
local run = require "helpers.run"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

local SESSIONS, WINDOW, COUNT = 16, 1000, 40000

local UPSTREAM = [[
local smpp = require "smpp"
local odd, even, n = 0, 0, 0
smpp.gauge("odd", function() return odd end)
smpp.gauge("even", function() return even end)
return { submit_sm = function(session, pdu)
    if tonumber(pdu.destination_addr:sub(-1)) % 2 == 1 then odd = odd + 1 else even = even + 1 end
    n = n + 1
    return 0, { message_id = tostring(n) }
end }]]

local UPSTREAM_CONF = [[return { script = 'script.lua', session = { window = 1000, receive_window = 1000 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

-- The gateway's script: an odd last digit of the destination stores the
-- message and then fails, at once (same turn) or after a wait (parked).
local SCRIPT = [[
local smpp = require "smpp"
local gw = require("smpp.gateway_script").new(...)
local submit = gw.handlers.submit_sm
local WAIT = WAITS
gw.handlers.submit_sm = function(session, pdu)
    local status, resp = submit(session, pdu)
    local odd = tonumber(pdu.destination_addr:sub(-1)) % 2 == 1
    if WAIT then smpp.sleep(0.05) end
    if odd then error("a mistake after storing") end
    return status, resp
end
return gw.handlers
]]

local function gateway_conf(dir, port, waits)
    local f = assert(io.open(dir .. "/gw.lua", "w"))
    f:write((SCRIPT:gsub("WAITS", tostring(waits))))
    f:close()
    return "return " .. server.lua {
        script = dir .. "/gw.lua",
        session = { receive_window = WINDOW, window = 1000 },
        store = { path = "gw.db" },
        accounts = { { system_id = "smppclient1", password = "password", max_binds = SESSIONS } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw", binds = 2, window = 1000,
                        reconnect_min = 0.1, reconnect_max = 0.2 } },
        gateway = { routes = { { name = "all", prefix = "", to = { "U" } } } },
    }
end

local function load_with(waits)
    local dir = require("helpers.tmp").dir()
    local up = server.start { conf = UPSTREAM_CONF, script = UPSTREAM }
    local gw
    local ok, err = pcall(function()
        gw = server.start { conf = gateway_conf(dir, up.port, waits) }
        assert(gw:wait_log("upstream U: bind 2 up", 10), "the upstream's binds: " .. gw:log_text():sub(-2000))
        local out, stderr, rc = run.smppgw { "bench", "--sessions", tostring(SESSIONS), "--window", tostring(WINDOW),
            "--count", tostring(COUNT), "--to-range", "447700900000-447700900999", "--json", "--quiet",
            "127.0.0.1:" .. gw.port }
        assert(rc == 0, "bench: " .. tostring(stderr))
        local b = cjson.decode(out)
        assert.equal(COUNT / 2, b.ok)
        assert.equal(COUNT / 2, b.failed_by.ESME_RSYSERR)
        assert(wait_until(function()
            local q = gw:stats().gateway.queues.U
            return q.queued == 0 and q.inflight == 0 and q.parked == 0
        end, 60), "the queue does not drain: " .. cjson.encode(gw:stats().gateway.queues.U))
        assert.equal(0, up:gauge("odd"))                -- none of the failed runs' messages
        assert.equal(COUNT / 2, up:gauge("even"))       -- all of the others, exactly once
        local st = gw:stats().gateway
        local q = st.queues.U
        assert.equal(COUNT / 2, q.sent)                 -- each once: no retries
        assert.equal(COUNT / 2, q.accepted)
        assert.equal(COUNT / 2, q.refused)              -- the failed runs' messages, ended REJECTED
        assert.equal(COUNT, q.queued_total)
        assert.is_true(st.turn_rows > 8192, "the load did not put more than 8,192 entries in one turn: "
            .. tostring(st.turn_rows))
    end)
    if gw then assert.is_true(gw:stop("TERM", 20)) end
    assert.is_true(up:stop("TERM", 10))
    assert(ok, err)
end

describe("#integration gateway under a turn of thousands of runs", function()
    it("forwards no message of a run that failed in the same turn, and every other one once", function()
        load_with(false)
    end)

    it("forwards no message of a run that failed after waiting (parked), and every other one once", function()
        load_with(true)
    end)
end)
