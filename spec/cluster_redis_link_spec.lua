-- The link to Redis notices a Redis that died at once, also when the
-- kernel resets the connection (Redis died with commands of ours unread in
-- its socket: under load, nearly always), not only after cluster.timeout.
-- libuv reports the reset as a poll error, which hiredis 0.14's libuv
-- adapter drops: core/redis.c polls the socket itself. A stopped Redis
-- (SIGSTOP) with our commands waiting in its socket, then killed, makes
-- the reset every time.
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

describe("cluster redis link", function()
    it("notices a Redis killed with commands unread at once, not after cluster.timeout", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port, { cluster = { timeout = 10 } })
        gwr.bound_upstream(a)                       -- its forwarder asks Redis every 50 ms
        r:pause()
        assert.is_true(wait.wait_until(function()
            return a:stats().cluster.redis.pending >= 3
        end, 5), "commands waiting in Redis' socket")
        local t0 = wait.gettime()
        r.proc:signal("KILL")
        assert.is_true(a:wait_log("redis 127%.0%.0%.1:%d+: link lost", 5), a:log_text():sub(-2000))
        local took = wait.gettime() - t0
        assert.is_true(took < wait.scaled(1.5), ("noticed after %.2f s"):format(took))
        assert.is_nil(a:log_text():match("no answer for 10 s"))
        assert.are_not.equal("up", a:stats().cluster.redis.state)
    end)
end)
