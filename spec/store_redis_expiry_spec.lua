-- store_redis_expiry_spec -- expiry of the Redis store keeps up with the
-- load: a process removes batches while the store says there is more
-- (bounded per second), not one batch a second, so thousands of messages
-- past their trace_ttl are gone within a few seconds. (The process and
-- Redis are stopped by the helpers when the test ends, whatever its
-- asserts did.)
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local socket = require "socket"

local N = 8000

describe("#integration expiry of the Redis store", function()
    it("removes thousands of messages past their time within a few seconds", function()
        local r = redis.start()
        local n = server.start {
            conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } }, "
                .. "store = { redis = '" .. r.address .. "', prefix = 'ex:', trace_ttl = 1 } }",
            script = ([[
                local smpp = require "smpp"
                local store = require "smpp.store"
                return {
                    start = function()
                        smpp.after(0, function()
                            local old = smpp.time() - 100     -- final long ago: past trace_ttl at once
                            local put = store.current():putter { "account", "source", "dest", "submitted", "done", "final" }
                            for i = 1, %d do assert(put("a", "s", "d" .. i, old, old, true)) end
                            smpp.log("info", "all put")
                        end)
                    end,
                }
            ]]):format(N),
        }
        assert.is_true(n:wait_log("all put", wait.scaled(60)), n:log_text())
        local left = r:cmd("ZCARD", "ex:{s}:keep")
        local t0 = socket.gettime()
        -- one batch of 500 a second would need N / 500 s; batches while
        -- there is more take well under a second for what is left
        local gone = wait.wait_until(function() return r:cmd("ZCARD", "ex:{s}:keep") == 0 end, 4)
        assert.is_truthy(gone, ("%d of %d left after %.1f s"):format(r:cmd("ZCARD", "ex:{s}:keep"), left,
            socket.gettime() - t0))
        assert.are.same({}, r:cmd("KEYS", "ex:{s}:m:*"))
        assert.are.same({}, r:cmd("KEYS", "ex:{s}:l:*"))
        assert.is_true(n:alive())
    end)
end)
