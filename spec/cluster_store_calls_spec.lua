-- What a message costs Redis on the gateway's Redis store: one script call
-- to accept, one for the upstream's answer (the forward path: two calls,
-- pipelined with the others of their loop turn), and with a receipt one to
-- match it, one append, one to write its state once it is appended, one
-- acknowledgement and one trace note; the
-- gateway counts its commands and round trips in /stats; scripts Redis lost
-- (SCRIPT FLUSH, a restart) are loaded again without losing a message.
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local ROK = gwr.ROK

-- Redis' own count of calls of one command (inner calls of scripts are
-- counted under their own names, not under evalsha)
local function calls(r, cmd)
    return tonumber(r:cmd("INFO", "commandstats"):match("cmdstat_" .. cmd .. ":calls=(%d+)")) or 0
end

-- the script calls of the Lua store in the same Redis (store.redis and
-- cluster.store are one store): its expiry and its levels, two calls each
-- second (smpp.server), and the sweep of the upstream's early receipts
-- (every claim_after / 3 s, at most once a second), whatever the traffic;
-- since the wall time t0
local function periodic(t0)
    return 3 * (math.ceil(wait.gettime() - t0) + 1)
end

local function settled(r)
    return wait.wait_until(function()
        return r:cmd("XLEN", "smppgw:{u:U}q") == 0 and r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")[1] == 0
    end, 15, "every message answered and acknowledged")
end

describe("cluster store calls", function()
    it("forwards a message in two script calls and fewer than two round trips", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        gwr.submit_all(a, gwr.texts("warm", 5), 0)              -- the scripts loaded (NOSCRIPT once each)
        assert.is_true(gwr.all_arrived(up, gwr.texts("warm", 5)))
        settled(r)
        r:cmd("CONFIG", "RESETSTAT")
        local t0 = wait.gettime()
        local before = a:stats().cluster.redis
        assert.is_number(before.round_trips)
        local list = {}
        for k = 1, 3 do                                         -- 100 at a time: the ESME's receive_window
            local batch = gwr.texts("fwd" .. k .. "-", 100)
            gwr.submit_all(a, batch, 0)
            for _, t in ipairs(batch) do list[#list + 1] = t end
        end
        assert.is_true(gwr.all_arrived(up, list))
        settled(r)
        local after = a:stats().cluster.redis
        -- accept + answer, nothing else per message (the rest: the three binds' claims, their renewals)
        local scripts = calls(r, "evalsha")
        local bound = 2 * #list + 6 + periodic(t0)
        assert.is_true(scripts >= 2 * #list and scripts <= bound,
            ("script calls: %d (at most %d)"):format(scripts, bound))
        assert.are.equal(0, calls(r, "eval"))
        assert.are.equal(#list, calls(r, "xadd"))               -- inside the accept script
        assert.are.equal(#list, calls(r, "xack"))               -- inside the answer's
        local cmds = (after.commands - before.commands) / #list
        local trips = (after.round_trips - before.round_trips) / #list
        assert.is_true(cmds >= 2 and cmds < 2.5, "commands per message: " .. cmds)
        assert.is_true(trips > 0 and trips <= 2, "round trips per message: " .. trips)
    end)

    it("a message with a receipt delivered costs six script calls and one append", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local rx = wire.connect(a.port)
        assert.are.equal(ROK, rx:bind("receiver", "esme1", "pw1").status)
        local function deliver(n)
            for _ = 1, n do
                local p = assert(rx:expect(function(p) return p.id == wire.id.deliver_sm end, 10))
                rx:send(wire.pdu(wire.id.deliver_sm + wire.RESP, p.seq, "\0"))
            end
        end
        local function acked(n)
            wait.wait_until(function()
                return a:stats().cluster.store.rx_acked == n and r:cmd("XLEN", "smppgw:{a:esme1}r") == 0
            end, 10, "every receipt acknowledged")
        end
        gwr.submit_all(a, gwr.texts("rcpt-warm", 3))
        deliver(3)
        acked(3)
        settled(r)
        r:cmd("CONFIG", "RESETSTAT")
        local t0 = wait.gettime()
        local before = a:stats().cluster.redis
        local early = a:stats().cluster.store.receipts_early_matched
        local list = gwr.texts("rcpt", 100)
        gwr.submit_all(a, list)
        deliver(#list)
        acked(3 + #list)
        settled(r)
        local after = a:stats().cluster.redis
        -- accept, answer, match, the receipt's state (once appended), delivery ack, delivery note;
        -- the append is a plain XADD (a receipt that came before the answer is matched twice:
        -- kept, then matched)
        early = a:stats().cluster.store.receipts_early_matched - early
        local scripts = calls(r, "evalsha") - early
        local bound = 6 * #list + 4 + periodic(t0)
        assert.is_true(scripts >= 6 * #list and scripts <= bound,
            ("script calls: %d (at most %d)"):format(scripts, bound))
        assert.are.equal(2 * #list, calls(r, "xadd"))          -- the queue entry (in accept) and the append
        local cmds = (after.commands - before.commands) / #list
        assert.is_true(cmds >= 7 and cmds < 8, "commands per message with a receipt: " .. cmds)
    end)

    it("loads the scripts again when Redis has lost them, losing no message", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        gwr.bound_upstream(a)
        local first = gwr.texts("before", 20)
        gwr.submit_all(a, first)
        assert.is_true(gwr.all_arrived(up, first))
        settled(r)
        r:cmd("SCRIPT", "FLUSH")
        r:cmd("CONFIG", "RESETSTAT")
        local list = gwr.texts("after", 50)
        local ids = gwr.submit_all(a, list)
        assert.is_true(gwr.all_arrived(up, list))
        settled(r)
        assert.is_true(calls(r, "eval") >= 1)                  -- NOSCRIPT answered with the text
        for i = 1, #list do assert.are.equal("1", r:cmd("HGET", "smppgw:{u:U}m:" .. ids[i], "state")) end
    end)
end)
