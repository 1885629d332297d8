-- Redis at its maxmemory (noeviction) on the gateway's Redis store: it
-- still serves reads and takes-over (XREADGROUP, XAUTOCLAIM), but refuses
-- the writes that record an upstream's answer. A forwarder that could not
-- record an answer keeps it and tries again, keeps its claim on the entry
-- alive (no node takes it over and sends it again), and reads nothing more
-- until Redis takes its answers: each message reaches the upstream once.
-- Before: every claim_after the same entries were taken over and sent
-- again, for as long as Redis stayed full.
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

-- how many times the upstream got each text -> { [text] = n }
local function copies(up)
    local n = {}
    for t in up:log_text():gmatch("up got (%S+) as") do n[t] = (n[t] or 0) + 1 end
    return n
end

local function twice(up)
    for t, k in pairs(copies(up)) do
        if k > 1 then return t .. " " .. k .. " times" end
    end
end

describe("cluster store at maxmemory", function()
    it("sends each message once while Redis cannot record the answers, and records them once it can", function()
        local r = redis.start()
        local port, port2 = redis.free_port(), redis.free_port()
        local a = gwr.node(r, port)                 -- its upstream is not there yet: the queue fills
        local b = gwr.node(r, port2)                -- another node, with a bind to U (at another address) later
        local list = gwr.texts("full", 20)          -- a's window: it reads them all at once
        local ids = gwr.submit_all(a, list)
        assert.are.equal("OK", r:cmd("CONFIG", "SET", "maxmemory", "1"))     -- every write that needs memory refused
        local ok, err = pcall(function()
            local up = gwr.upstream(nil, { port = port })
            gwr.bound_upstream(a)
            assert.is_true(gwr.all_arrived(up, list))
            -- b can take a's entries over (XAUTOCLAIM is served at maxmemory) and send them to its U
            local up2 = gwr.upstream(nil, { port = port2 })
            gwr.bound_upstream(b)
            -- claim_after is 1 s: four times over, neither a nor b sends an entry again
            local dup = wait.wait_until(function() return twice(up) or next(copies(up2)) end, 4)
            assert.is_nil(dup, "sent again: " .. tostring(dup))
            assert.are.equal(0, a:stats().cluster.store.claimed + b:stats().cluster.store.claimed)
            -- the answers wait on a, which said so
            assert.are.equal(#list, a:stats().cluster.store.answers_waiting)
            assert.is_true(a:wait_log("Redis does not record the answers of U %(OOM", 5), a:log_text():sub(-2000))
            assert.are.equal("OK", r:cmd("CONFIG", "SET", "maxmemory", "0"))
            assert.is_true(wait.wait_until(function()
                if r:cmd("XLEN", "smppgw:{u:U}q") ~= 0 or r:cmd("XPENDING", "smppgw:{u:U}q", "fwd")[1] ~= 0 then
                    return false
                end
                for i = 1, #list do
                    if r:cmd("HGET", "smppgw:{u:U}m:" .. ids[i], "state") ~= "1" then return false end
                end
                return true
            end, 10), "every answer recorded and acknowledged")
            assert.is_true(gwr.all_arrived(up, list))
            assert.is_nil(twice(up))
            assert.is_nil(next(copies(up2)))
            local st = a:stats().cluster.store
            assert.are.equal(0, st.answers_waiting)
            assert.is_true(st.answers_retried >= #list)
            assert.is_true(a:wait_log("Redis records the answers of U again", 5), a:log_text():sub(-2000))
        end)
        r:cmd("CONFIG", "SET", "maxmemory", "0")
        assert(ok, err)
    end)
end)
