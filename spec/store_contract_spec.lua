-- store_contract_spec -- the contract of smpp.store (spec/data/store_contract.lua)
-- run by the real runtime on both backends: the SQLite store and the Redis
-- store (a redis-server of the spec's own). Bounds with small limits; ids
-- from two processes on one Redis never repeat; a script that calls the
-- Redis store while it loads gets a clear error, not a hang.
local server = require "helpers.server"
local redis = require "helpers.redis"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait = require "helpers.wait"

local CONTRACT = assert(tmp.read(server.root .. "/spec/data/store_contract.lua"))

local function conf(store_section)
    return "return " .. server.lua {
        script = "script.lua", store = store_section,
        accounts = { { system_id = "smppclient1", password = "password" } },
    }
end

-- run the cases of mode on a store section -> the CASE lines, the count run
local function cases(mode, store_section)
    local s = server.start { script = (CONTRACT:gsub("@MODE@", mode)), conf = conf(store_section) }
    assert.is_true(wait.wait_until(function() return s:log_text():match("CASES DONE") ~= nil end,
        wait.scaled(30)), "the cases did not finish:\n" .. s:log_text())
    local text = s:log_text()
    s:stop()
    local lines, failed = {}, {}
    for ok, name in text:gmatch("CASE (%S+) ([^\n]*)") do
        lines[#lines + 1] = name
        if ok ~= "ok" then failed[#failed + 1] = name end
    end
    return lines, failed, tonumber(text:match("CASES DONE (%d+)")), text
end

local function check(mode, section)
    local lines, failed, n, text = cases(mode, section)
    assert.are.same({}, failed, text)
    assert.are.equal(n, #lines)
    return n
end

describe("the store contract", function()
    it("holds on the SQLite store", function()
        assert.is_true(check("contract", { path = ":memory:" }) >= 15)
    end)

    it("holds on the Redis store", function()
        local r = redis.start()
        assert.is_true(check("contract", { redis = r.address, prefix = "c:" }) >= 15)
        -- every key of the store is under its prefix and hash tag; the
        -- runtime's own (the gateway's C path: an account's stream, the id
        -- counters and the epoch token beside them) are under theirs
        for _, k in ipairs(r:cmd("KEYS", "c:*")) do
            assert.truthy(k:find("^c:{s}:") or k:find("^c:{a:[^}]+}r$") or k == "c:{c}ids" or k == "c:{c}nodes"
                or k == "c:{c}epoch", k)
        end
    end)

    it("holds its bounds on both backends, nil, 'full' naming the limit", function()
        local limits = { messages = 3, outbox = 3, outbox_per_account = 2, early = 1, sticky = 2 }
        assert.are.equal(4, check("bounds", { path = ":memory:", limits = limits }))
        local r = redis.start()
        assert.are.equal(4, check("bounds", { redis = r.address, limits = limits }))
    end)

    it("never hands out an id twice across two processes on one Redis", function()
        local r = redis.start()
        local section = { redis = r.address, prefix = "ids:" }
        local a = server.start { script = (CONTRACT:gsub("@MODE@", "ids")), conf = conf(section) }
        local b = server.start { script = (CONTRACT:gsub("@MODE@", "ids")), conf = conf(section) }
        local seen, n = {}, 0
        for _, s in ipairs { a, b } do
            assert.is_true(s:wait_log("CASES DONE", wait.scaled(30)), s:log_text())
            local last = 0
            for list in s:log_text():gmatch("IDS ([%d,]+)") do
                for v in list:gmatch("%d+") do
                    v = tonumber(v)
                    assert.is_nil(seen[v], "id " .. v .. " twice")
                    assert.is_true(v > last, "increasing in one process")
                    seen[v], last, n = true, v, n + 1
                end
            end
        end
        assert.are.equal(3000, n)
    end)

    it("is configured by store.redis: check names the keys that do not fit together", function()
        local dir = tmp.dir()
        local function check_conf(over)
            local c = { script = server.root .. "/scripts/smsc.lua", listen = { "127.0.0.1:2775" },
                        accounts = { { system_id = "smppclient1", password = "password" } } }
            for k, v in pairs(over) do c[k] = v end
            tmp.write(dir .. "/c.lua", "return " .. server.lua(c))
            local out, err, rc = run.smppgw { "check", dir .. "/c.lua" }
            return rc, out .. err
        end
        local rc, out = check_conf { store = { redis = "127.0.0.1:6390" }, workers = 2 }
        assert.are.equal(0, rc, out)
        assert.matches("store: redis 127.0.0.1:6390 db 0 prefix smppgw:", out, 1, true)
        rc, out = check_conf { store = { redis = "127.0.0.1:6390", path = "x.db" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.path, store.redis: give one of them", out, 1, true)
        rc, out = check_conf { store = { sync = "off" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.path (an SQLite file) or store.redis (a Redis server) is required", out, 1, true)
        rc, out = check_conf { store = { redis = "127.0.0.1:6390" }, cluster = { redis = "127.0.0.1:6391" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.redis (127.0.0.1:6390 db 0) and cluster.redis (127.0.0.1:6391 db 0)", out, 1, true)
        rc, out = check_conf { store = { redis = "127.0.0.1:6390", db = 1 }, cluster = { redis = "127.0.0.1:6390" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.redis (127.0.0.1:6390 db 1) and cluster.redis", out, 1, true)
        rc, out = check_conf { store = { redis = "127.0.0.1:6390" }, cluster = { redis = "127.0.0.1:6390" } }
        assert.are.equal(0, rc, out)
        -- keys that mean nothing on Redis, a port no server has, an empty prefix
        rc, out = check_conf { store = { redis = "127.0.0.1:6390", sync = "full" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.sync: a setting of the SQLite file store", out, 1, true)
        rc, out = check_conf { store = { redis = "127.0.0.1:0" } }
        assert.are_not.equal(0, rc)
        assert.matches("store.redis: port 0 is no Redis server's port", out, 1, true)
        rc, out = check_conf { cluster = { redis = "127.0.0.1:6390", prefix = "" } }
        assert.are_not.equal(0, rc)
        assert.matches("cluster.prefix: empty", out, 1, true)
        rc, out = check_conf { store = { redis = 6390 } }
        assert.are_not.equal(0, rc)
        assert.matches("store.redis: expected an address, got number 6390", out, 1, true)
        -- an account's webhooks would never fire on Redis: refused, naming the key
        rc, out = check_conf { store = { redis = "127.0.0.1:6390" },
                               accounts = { { system_id = "smppclient1", password = "password",
                                              http = { token = "t", webhook = { url = "http://10.0.0.7:9000/sms" } } } } }
        assert.are_not.equal(0, rc)
        assert.matches("accounts[1].http.webhook: not served with the store in Redis", out, 1, true)
    end)

    it("refuses a Redis store call made while the script loads, with a clear error", function()
        local r = redis.start()
        local dir = tmp.dir()
        local load_time = [[
local store = require "smpp.store"
store.get(1)
return {}
]]
        tmp.write(dir .. "/script.lua", load_time)
        tmp.write(dir .. "/conf.lua", conf { redis = r.address })
        local out, err, rc = run.smppgw { "run", dir .. "/conf.lua", "-l", "127.0.0.1:0" }
        assert.are_not.equal(0, rc)
        assert.matches("smpp.store.get: called while a script loads", out .. err, 1, true)
        -- a reload loads the script while the Redis store is in use: the
        -- call raises at once, and the running configuration stays
        local s = server.start { script = "return {}", conf = conf { redis = r.address } }
        s:write("script.lua", load_time)
        s:signal("HUP")
        assert.is_true(s:wait_log("reload failed", wait.scaled(10)), s:log_text())
        assert.matches("called from handlers, timers and tasks only", s:log_text(), 1, true)
        assert.is_true(s:alive())
    end)
end)
