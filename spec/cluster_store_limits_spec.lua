-- An upstream's limits hold across the nodes of the gateway's Redis store:
-- max_queue counts the upstream's stream in Redis (the accept script
-- refuses past it with ESME_RMSGQFUL, whichever node accepts), `queued`
-- in /stats is that count on every node, and the upstream's throughput is
-- one token bucket in Redis that all its forwarders draw from.
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local ROK, RMSGQFUL = gwr.ROK, gwr.RMSGQFUL

-- submit texts on n -> { [status] = count }
local function submit_count(n, list)
    local c = wire.connect(n.port)
    assert.are.equal(ROK, c:bind("transmitter", "esme1", "pw1").status)
    for _, t in ipairs(list) do
        c:send(wire.submit_sm(c:next_seq(), { source_addr = "1", destination_addr = "447700900123",
                                             short_message = t }))
    end
    local out = {}
    for _ = 1, #list do
        local p = assert(c:read(10))
        out[p.status] = (out[p.status] or 0) + 1
    end
    c:close()
    return out
end

local function queued(n)
    local q = n:stats().gateway.queues.U
    return q and q.queued
end

describe("cluster store limits", function()
    it("holds an upstream's max_queue across nodes and shows the cluster's queue on each", function()
        local r = redis.start()
        local over = { upstreams = { { name = "U", port = redis.free_port(), system_id = "gw", password = "gwpw",
                                       max_queue = 30, reconnect_min = 0.1, reconnect_max = 0.2 } } }
        local a = gwr.node(r, nil, over)                -- nobody forwards: the queue only grows
        local b = gwr.node(r, nil, over)
        assert.are.same({ [ROK] = 20 }, submit_count(a, gwr.texts("a", 20)))
        assert.are.same({ [ROK] = 10, [RMSGQFUL] = 10 }, submit_count(b, gwr.texts("b", 20)))
        assert.are.same({ [RMSGQFUL] = 5 }, submit_count(a, gwr.texts("c", 5)))
        assert.are.equal(30, r:cmd("XLEN", "smppgw:{u:U}q"))
        wait.wait_until(function() return queued(a) == 30 and queued(b) == 30 end, 5,
            "queued 30 on both nodes (sampled from Redis)")
        assert.are.equal(15, a:stats().cluster.store.refused_full + b:stats().cluster.store.refused_full)
    end)

    it("holds an upstream's throughput within 10 % across two forwarding nodes", function()
        local r = redis.start()
        local up = gwr.upstream()
        local over = { upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw", window = 50,
                                       throughput = 100, reconnect_min = 0.1, reconnect_max = 0.2 } } }
        local a = gwr.node(r, nil, over)
        local b = gwr.node(r, nil, over)
        gwr.bound_upstream(a)
        gwr.bound_upstream(b)
        local list = {}
        for k = 1, 2 do                                 -- 400 messages, 100 at a time, on both nodes
            for _, n in ipairs { a, b } do
                local batch = gwr.texts(("t%d%s-"):format(k, n == a and "a" or "b"), 100)
                assert.are.same({ [ROK] = 100 }, submit_count(n, batch))
                for _, t in ipairs(batch) do list[#list + 1] = t end
            end
        end
        assert.is_true(gwr.all_arrived(up, list, 20))
        local times = {}
        for t in up:log_text():gmatch("up got %S+ as u%d+ at ([%d.]+)") do times[#times + 1] = tonumber(t) end
        table.sort(times)
        assert.are.equal(#list, #times)
        -- the bucket's burst (100) goes first: the rate over the rest
        local from, to = 150, #times
        local rate = (to - from) / (times[to] - times[from])
        assert.is_true(rate >= 90 and rate <= 110, ("%.1f messages/s forwarded, not 100 +- 10 %%"):format(rate))
        local sent = { a:stats().cluster.store.sent, b:stats().cluster.store.sent }
        assert.is_true(sent[1] > 0 and sent[2] > 0, "both nodes forwarded: " .. sent[1] .. ", " .. sent[2])
    end)
end)
