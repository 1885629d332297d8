-- gateway_failover_move_spec -- the queue of an upstream that cannot send
-- moves to a usable upstream of its route as fast as the loop can move it
-- (one batch per turn), not one batch every couple of seconds.
local run = require "helpers.run"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until

local N = 4000          -- at the old pace (500 every 2 s) at least 16 s to move

-- A port nothing listens on now: a server's, once it stopped.
local function closed_port()
    local s = server.start { conf = server.smsc_conf() }
    local port = s.port
    assert(s:stop("TERM", 5))
    return port
end

local function queues(gw) return gw:stats().gateway.queues end

-- A gateway in front of upstreams a and b (ports nothing listens on yet),
-- one failover route { b, a }, with `n` messages queued on b.
local function backlog(n, a_extra)
    local a_port, b_port = closed_port(), closed_port()
    local a_up = { name = "a", port = a_port, system_id = "smppclient1", password = "password", window = 100,
                   reconnect_min = 0.1, reconnect_max = 0.2 }
    for k, v in pairs(a_extra or {}) do a_up[k] = v end
    local gw = server.start { conf = "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        log = { level = "info" },
        store = { path = "gw.db", sync = "normal" },
        accounts = { { system_id = "smppclient1", password = "password" } },
        upstreams = {
            a_up,
            { name = "b", port = b_port, system_id = "smppclient1", password = "password", wait = 0.5,
              reconnect_min = 0.1, reconnect_max = 0.2 },
        },
        gateway = { message_id = "own", routes = { { prefix = "", to = { "b", "a" }, strategy = "failover" } } },
    } }
    -- neither is usable: a failover route queues on its first, b
    local _, err, rc = run.smppgw({ "bench", "--sessions", "2", "--window", "100", "--count", tostring(n),
                                    "--quiet", "127.0.0.1:" .. gw.port })
    assert.equal(0, rc, err)
    assert.equal(n, queues(gw).b.queued)
    return gw, a_port
end

describe("#integration gateway failover of a backlog", function()
    it("moves a stalled queue of thousands well within its old pace", function()
        local gw, a_port = backlog(N)
        -- a comes up; b stays down: after b's wait its queue moves to a
        local a = server.start { conf = server.smsc_conf { smsc = { receipt_delay = 60 } }, port = a_port }
        assert(gw:wait_log("upstream a: bind 1 up", 5), gw:log_text())
        wait_until(function()
            local q = queues(gw)
            return q.b.queued == 0 and q.b.moved == N
        end, 12, "b's queue moved to a")
        wait_until(function() return queues(gw).a.accepted == N end, 20, "a accepting every moved message")
        assert.is_true(gw:stop("TERM", 5))
        assert.is_true(a:stop("TERM", 5))
    end)

    it("moves no more than the target's max_queue holds", function()
        local gw, a_port = backlog(1000, { max_queue = 100 })
        -- a binds and answers nothing: what moves there stays in its queue
        local a = server.start { port = a_port, script = [[
local smpp = require "smpp"
return { submit_sm = function() smpp.sleep(3600) return 0 end }]] }
        assert(gw:wait_log("upstream a: bind 1 up", 5), gw:log_text())
        wait_until(function() return queues(gw).b.moved == 100 end, 10, "100 moved to a")
        local q = queues(gw)
        assert.same({ 100, 900 }, { q.a.queued, q.b.queued })
        a:kill()
    end)
end)
