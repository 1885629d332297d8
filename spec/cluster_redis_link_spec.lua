-- The link to Redis notices a Redis that died at once, also when the
-- kernel resets the connection (Redis died with commands of ours unread in
-- its socket: under load, nearly always), not only after cluster.timeout.
-- libuv reports the reset as a poll error, which hiredis 0.14's libuv
-- adapter drops: core/redis.c polls the socket itself. A stopped Redis
-- (SIGSTOP) with our commands waiting in its socket, then killed, makes
-- the reset every time.
--
-- A Redis that lost its data (FLUSHALL, a restart without its file) has
-- its counters back at zero: a node started since takes node ids and key
-- blocks that live nodes hold. Each live node notices (the epoch token in
-- Redis is gone, or a counter went back) and takes a new node id and key
-- block, raising the counters to what it held first.
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

-- the node and key of a gateway id (8 hex digits each)
local function parts(id)
    return tonumber(id:sub(1, 8), 16), tonumber(id:sub(9, 16), 16)
end

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

    it("gives a live node a new node id and key block when Redis lost its data", function()
        local r = redis.start()
        local up = gwr.upstream()
        local a = gwr.node(r, up.port)
        local before = gwr.submit_all(a, { "before-loss" })[1]
        local node_a, key_a = parts(before)
        assert.are.equal(node_a, a:stats().cluster.store.node_id)
        -- forwarded before the loss (a FLUSHALL takes a message still queued with it)
        assert.is_true(gwr.all_arrived(up, { "before-loss" }))
        r:cmd("FLUSHALL")
        local b = gwr.node(r, up.port)                  -- started after the loss: the counters from zero
        assert.is_true(wait.wait_until(function()
            local sa, sb = a:stats().cluster.store, b:stats().cluster.store
            return sa.node_id > 0 and sa.ids_left > 0 and sa.node_id ~= sb.node_id and sa.consumer ~= sb.consumer
        end, 5), "a and b on one node id: " .. a:log_text():sub(-1500))
        assert.is_true(a:wait_log("Redis lost its data %(", 5), a:log_text():sub(-1500))
        local ida = gwr.submit_all(a, { "after-loss-a" })[1]
        local idb = gwr.submit_all(b, { "after-loss-b" })[1]
        assert.are_not.equal(ida, idb)
        assert.are_not.equal(before, ida)
        local na, ka = parts(ida)
        assert.are_not.equal(node_a, na, "a kept its node id")
        assert.is_true(ka > key_a, "a's keys went back")
        assert.is_true(gwr.all_arrived(up, { "before-loss", "after-loss-a", "after-loss-b" }))
        -- a Redis that kept its data (a restart with its file, here: nothing lost) changes nothing
        local now_a = a:stats().cluster.store.node_id
        assert.is_false(a:wait_log("Redis lost its data.*Redis lost its data", 1.5))
        assert.are.equal(now_a, a:stats().cluster.store.node_id)
    end)
end)
