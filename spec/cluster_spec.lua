-- Nodes sharing one Redis (the `cluster` section): an account's max_binds,
-- bind lockouts and throughput hold across the nodes (and the workers of
-- one node); with Redis gone, binds are refused and limited submits
-- throttled, and everything resumes when it is back.
local server = require "helpers.server"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local cjson = require "cjson"

local ROK, RBINDFAIL, RTHROTTLED = 0, 0x0D, 0x58

-- conf(r, over) -> config text: the reference SMSC with account "acct"
-- (and over's keys), its store in memory, its cluster on Redis r
local function conf(r, over)
    return server.smsc_conf(server.merge({
        store = { path = ":memory:" },
        cluster = { redis = r.address, bind_ttl = 1.5 },
        accounts = { { system_id = "acct", password = "pw", max_binds = 2 } },
    }, over))
end

local function node(r, over, extra)
    local n = server.start(server.merge({ conf = conf(r, over) }, extra))
    wait.wait_until(function()
        local c = n:stats().cluster
        return c and c.redis.state == "up"
    end, 10, "the node's link to Redis")
    return n
end

-- a bound client (kept open), or the bind's status (account "acct", or
-- "free" with the password "pw2")
local function bind(n, kind, pw)
    local c = wire.connect(n.port)
    local r = assert(c:bind(kind or "transmitter", pw == "pw2" and "free" or "acct", pw or "pw"))
    if r.status ~= ROK then c:close() end
    return r.status, c
end

local function submit(c)
    c:send(wire.submit_sm(c:next_seq(), { source_addr = "1", destination_addr = "447700900123",
                                         short_message = "hi" }))
    return assert(c:read()).status
end

describe("cluster", function()
    it("max_binds counts the binds of every node, frees an unbind's, and a dead node's after bind_ttl", function()
        local r = redis.start()
        local a, b = node(r), node(r)
        local s1, c1 = bind(a)
        local s2 = bind(b)
        assert.are.equal(ROK, s1)
        assert.are.equal(ROK, s2)
        assert.are.equal(RBINDFAIL, (bind(a)))          -- two bound, one on each node
        assert.are.equal(RBINDFAIL, (bind(b)))
        assert.is_true(b:wait_log("refused: max_binds %(2%) reached across the cluster"))
        -- live binds are renewed (every bind_ttl / 3): past bind_ttl they still count
        local first = r:cmd("ZRANGE", "smppgw:binds:{acct}", 0, -1, "WITHSCORES")
        assert.are.equal(4, #first)
        wait.wait_until(function()
            local now = r:cmd("ZRANGE", "smppgw:binds:{acct}", 0, -1, "WITHSCORES")
            return #now == 4 and tonumber(now[2]) > tonumber(first[4]) + 1500
        end, 10, "both claims renewed past bind_ttl")
        assert.are.equal(RBINDFAIL, (bind(a)))
        c1:close()
        assert.are.equal(ROK, wait.wait_until(function()
            local s = bind(b)
            return s == ROK and s
        end, 5, "the unbound claim released"))
        -- b now holds both; SIGKILL it: its claims expire after bind_ttl (1.5 s)
        b:kill()
        assert.are.equal(ROK, wait.wait_until(function()
            local s = bind(a)
            return s == ROK and s
        end, 10, "the dead node's claims expired"))
    end)

    it("a lockout started by failures on one node holds on the others", function()
        local r = redis.start()
        local over = { security = { max_failures = 2, lockout = 60, failure_delay = 0 } }
        local a, b = node(r, over), node(r, over)
        assert.are_not.equal(ROK, (bind(a, "transmitter", "wrong")))
        assert.are_not.equal(ROK, (bind(b, "transmitter", "wrong")))   -- the second failure, on b
        assert.is_true(b:wait_log("bind lockout for 60s across the cluster: 2 failed binds of 'acct' from 127.0.0.1"))
        -- a counted only one failure itself: the lock is the cluster's
        assert.are.equal(RBINDFAIL, (bind(a)))
        assert.is_true(a:wait_log("refused: locked out until"))
        assert.are.equal(1, #r:cmd("KEYS", "smppgw:lock:{127.0.0.1}acct"))
    end)

    it("holds an account's throughput within 10 % across three nodes", function()
        local r = redis.start()
        local over = { accounts = { { system_id = "acct", password = "pw", throughput = 200, burst = 20 } } }
        local nodes = { node(r, over), node(r, over), node(r, over) }
        local dir = tmp.dir()
        local cmds = {}
        for i, n in ipairs(nodes) do
            cmds[i] = ("%s bench --json --quiet --duration 4 --rate 400 --system-id acct --password pw "
                .. "127.0.0.1:%d > %s/%d.json"):format(run.quote(run.bin), n.port, dir, i)
        end
        local _, err, rc = run.sh(table.concat(cmds, " & ") .. " & wait")
        assert.are.equal(0, rc, err)
        local ok, seconds = 0, 0
        for i = 1, 3 do
            local res = cjson.decode(tmp.read(dir .. "/" .. i .. ".json"))
            assert.is_true(res.ok > 0, "node " .. i .. " accepted nothing")
            assert.is_true((res.failed_by.ESME_RTHROTTLED or 0) > 0, "node " .. i .. " throttled nothing")
            ok, seconds = ok + res.ok, math.max(seconds, res.seconds)
        end
        local rate = (ok - 20) / seconds                 -- the burst came first
        assert.is_true(rate >= 180 and rate <= 220, ("%d accepted in %.2f s: %.1f/s, not 200 +- 10 %%")
            :format(ok, seconds, rate))
    end)

    it("drops a link whose Redis stopped answering, refusing meanwhile, and reconnects", function()
        local r = redis.start()
        local a = node(r, { cluster = { redis = r.address, timeout = 0.5 } })
        r:pause()
        local ok, err = pcall(function()
            -- the bind waits for the claim; the watchdog ends the wait after 0.5 s
            assert.are.equal(RBINDFAIL, (bind(a)))
            assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: no answer for 0%.5 s to %d+ commands; dropping the link"))
            assert.is_true(a:wait_log("the cluster's lockouts are unavailable %(closed%), this node's hold"))
            assert.is_true(a:wait_log("refused: the cluster's state is unavailable %(unavailable%)"))
        end)
        -- still paused: the reconnection's handshake gets no answer either
        -- and is dropped in turn (its pending PING answered "closed" while
        -- the context is freed: that crashed the process)
        local ok2, err2 = pcall(function()
            assert.is_true(wait.wait_until(function()
                local st = a:stats().cluster
                return st and tostring(st.redis.last_error):match("no connection within 0%.5 s") ~= nil
            end, wait.scaled(10), "a reconnection dropped by the watchdog"))
        end)
        r:resume()
        assert(ok, err)
        assert(ok2, err2)
        assert.is_true(a:alive(), a:log_text())
        assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: up again", 10))
        assert.are.equal(ROK, (bind(a)))
    end)

    it("a handshake step Redis refuses (SELECT of a db it lacks) is a failed connection, not up", function()
        local r = redis.start()
        local a = server.start { conf = conf(r, { cluster = { redis = r.address, db = 99 } }) }
        assert.is_true(wait.wait_until(function()
            local st = a:stats().cluster
            return st and st.redis.errors >= 3 and st.redis.last_error:match("^SELECT: ERR") ~= nil
        end, wait.scaled(10), "three refused handshakes, the reason kept"), a:log_text())
        local st = a:stats().cluster.redis
        assert.are.equal(0, st.connects, a:log_text())
        assert.are_not.equal("up", st.state)
        assert.is_nil(a:log_text():match("redis 127%.0%.0%.1:%d+: up"), a:log_text())
    end)

    it("smppgw check shows the cluster and the workers", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/c.lua", conf({ address = "127.0.0.1:6390" }, { workers = 3 }))
        local out, err, rc = run.smppgw { "check", dir .. "/c.lua", "-l", "127.0.0.1:2775" }
        assert.are.equal(0, rc, err)
        assert.matches("\n  workers +3\n", out)
        assert.matches("\n  cluster +redis 127%.0%.0%.1:6390, db 0, prefix smppgw:\n", out)
    end)

    it("max_binds holds across the workers of one node", function()
        local r = redis.start()
        local n = server.start { conf = conf(r, { workers = 2, accounts = { { system_id = "acct", password = "pw",
                                                                              max_binds = 1 } } }),
                                 port = redis.free_port() }
        wait.wait_until(function()
            local st = n:stats()
            return #st.workers == 2 and st.workers[1].reporting and st.workers[2].reporting
        end, 10, "two workers reporting")
        local s, c = bind(n)
        assert.are.equal(ROK, s)
        for _ = 1, 8 do assert.are.equal(RBINDFAIL, (bind(n))) end     -- whichever worker takes it
        c:close()
    end)

    it("refuses binds and throttles limited submits while Redis is down, and resumes when it is back", function()
        local r = redis.start()
        -- 20/s: batches of one token, so the node holds at most two when Redis goes
        local over = { accounts = { { system_id = "acct", password = "pw", max_binds = 5, throughput = 20 },
                                    { system_id = "free", password = "pw2" } } }
        local a = node(r, over)
        local s, c = bind(a)
        assert.are.equal(ROK, s)
        assert.are.equal(ROK, submit(c))
        r:stop()
        wait.wait_until(function() return a:stats().cluster.redis.state ~= "up" end, 10, "the link down")
        assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: link lost"))
        assert.are.equal(RBINDFAIL, (bind(a)))           -- max_binds cannot be counted
        assert.is_true(a:wait_log("refused: the cluster's state is unavailable %(unavailable%)"))
        -- an account without max_binds binds: lockouts fall back to this node's own
        local free_status, free = bind(a, "transmitter", "pw2")
        assert.are.equal(ROK, free_status)
        free:close()
        -- what the node held of the bucket goes, then nothing more is granted
        local sent = 0
        assert.are.equal(RTHROTTLED, wait.wait_until(function()
            local st = submit(c)
            sent = sent + 1
            return st == RTHROTTLED and st
        end, 10, "submits throttled"))
        assert.is_true(sent <= 3, sent .. " submits accepted with Redis down")
        r:start()
        assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: up again", 10))
        assert.are.equal(ROK, wait.wait_until(function()
            local st = submit(c)
            return st == ROK and st
        end, 10, "submits accepted again"))
        assert.are.equal(ROK, (bind(a)))
        local st = a:stats().cluster.redis
        assert.are.equal("up", st.state)
        assert.is_true(st.disconnects >= 1)
        local _, metrics = a:http("GET", "/metrics")
        assert.are.equal("1", metrics:match("\nsmppgw_redis_up (%d+)"))
        assert.is_true(tonumber(metrics:match('\nsmppgw_redis_disconnects_total (%d+)')) >= 1)
        c:close()
    end)
end)
