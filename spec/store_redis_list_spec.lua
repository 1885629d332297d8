-- store_redis_list_spec -- the Redis store's list (GET /messages) in short
-- script calls: a list of thousands of rows is many calls of at most 500
-- rows each, so it never holds the Redis every node shares for long; a
-- cursor past the last key lists nothing (it does not wrap to the first).
-- (The process and Redis are stopped by the helpers when the test ends,
-- whatever its asserts did.)
local server = require "helpers.server"
local redis = require "helpers.redis"
local wait = require "helpers.wait"
local cjson = require "cjson"

local N = 5000

local function evalsha_calls(r)
    return tonumber(r:cmd("INFO", "commandstats"):match("cmdstat_evalsha:calls=(%d+)")) or 0
end

describe("#integration list on the Redis store", function()
    it("reads thousands of rows in calls of a few hundred, and a cursor past the end lists nothing", function()
        local r = redis.start()
        local n = server.start {
            conf = "return { script = 'script.lua', accounts = { { system_id = 'smppclient1', password = 'password' } }, "
                .. "store = { redis = '" .. r.address .. "', prefix = 'ls:' } }",
            script = ([[
                local smpp = require "smpp"
                local store = require "smpp.store"
                return {
                    start = function()
                        smpp.after(0, function()
                            local now = smpp.time()
                            local put = store.current():putter { "id", "account", "source", "dest", "submitted", "final" }
                            for i = 1, %d do assert(put("m" .. i, "acct", "s", "d", now, true)) end
                            smpp.log("info", "all put")
                        end)
                    end,
                }
            ]]):format(N),
        }
        assert.is_true(n:wait_log("all put", wait.scaled(60)), n:log_text())
        local before = evalsha_calls(r)
        local code, body = n:http("GET", "/messages?account=acct&limit=10000")
        local calls = evalsha_calls(r) - before
        assert.are.equal(200, code, body)
        assert.are.equal(N, cjson.decode(body).count)
        assert.is_true(calls >= N / 500, calls .. " script calls for " .. N .. " rows")
        -- a cursor beyond every key (and beyond 2^53) lists nothing
        code, body = n:http("GET", "/messages?account=acct&after=99999999")
        assert.are.equal(200, code, body)
        assert.are.equal(0, cjson.decode(body).count)
        code, body = n:http("GET", "/messages?account=acct&after=99999999999999999999999")
        assert.are.equal(400, code, body)
    end)
end)
