-- workers_sum_spec -- the parent's /stats with workers on one store in
-- Redis: what each worker does is added up, but the shared store's levels
-- and limits are one store's (not one per worker), and the workers' node
-- ids are numbers, not amounts.
local workers = require "smpp.workers"

local function worker(node_id, oom, submits)
    return {
        totals = { submit_sm = submits },
        store_redis = { messages = { value = 9960, limit = 1000000 }, outbox = { value = 3, limit = 100000 },
                        expired = 120, refused_oom = oom, link = "up" },
        gauges = { smsc_stored_messages = { value = 9960, limit = 1000000 },
                   smsc_receipts_deferred = { value = 2 } },
        cluster = { store = { node_id = node_id, appended = 10 } },
    }
end

describe("workers' statistics summed by the parent", function()
    it("adds up what each worker did, and shows the shared store once", function()
        local s = workers.sum { worker(2, 1, 5000), worker(3, 4, 4960) }
        assert.are.equal(9960, s.totals.submit_sm)
        assert.are.same({ value = 9960, limit = 1000000 }, s.store_redis.messages)
        assert.are.same({ value = 3, limit = 100000 }, s.store_redis.outbox)
        assert.are.equal(120, s.store_redis.expired)
        assert.are.equal(5, s.store_redis.refused_oom)          -- each worker's own refusals
        assert.are.equal("up", s.store_redis.link)
        assert.are.same({ value = 9960, limit = 1000000 }, s.gauges.smsc_stored_messages)
        assert.are.equal(4, s.gauges.smsc_receipts_deferred.value)
        assert.are.equal(2, s.cluster.store.node_id)
        assert.are.equal(20, s.cluster.store.appended)
    end)

    it("leaves one worker's statistics as they are", function()
        local s = workers.sum { worker(7, 1, 10) }
        assert.are.equal(7, s.cluster.store.node_id)
        assert.are.same({ value = 9960, limit = 1000000 }, s.store_redis.messages)
    end)
end)
