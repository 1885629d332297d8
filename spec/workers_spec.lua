-- workers = N: the parent starts N workers sharing the listening port
-- (SO_REUSEPORT), restarts one killed, stops them all on SIGTERM, says at a
-- SIGHUP (as at POST /reload) that a changed `workers` needs a restart, sums
-- their statistics in /stats and /metrics, and refuses a shared SQLite file.
local server = require "helpers.server"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local socket = require "socket"

-- a loopback port free now (workers cannot share port 0: each would get its own)
local function free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

local function start(n)
    -- a parent and n workers, each a fresh exec: 30 s to start (one start
    -- under ASan, beside other specs, did not finish in the usual 10 s x 3)
    local srv = server.start { conf = server.smsc_conf { store = { path = ":memory:" }, workers = n },
                               port = free_port(), start_timeout = 30 }
    wait.wait_until(function()
        local st = srv:stats()
        for i = 1, n do
            local w = st.workers[i]
            if not (w and w.running and w.reporting) then return false end
        end
        return #st.workers == n
    end, 30, n .. " workers reporting")
    return srv
end

-- k binds, each on a connection of its own, all answered ESME_ROK
local function bind_many(srv, k)
    for _ = 1, k do
        local c = wire.connect(srv.port)
        local r = assert(c:bind("transceiver"))
        assert.are.equal(0, r.status)
        c:close()
    end
end

local function alive(pid)
    return os.execute("kill -0 " .. pid .. " 2>/dev/null") == 0
end

describe("workers", function()
    it("two workers both accept binds on the one port; /stats and /metrics sum them", function()
        local srv = start(2)
        bind_many(srv, 24)
        local st = wait.wait_until(function()
            local s = srv:stats()
            return s.workers[1].opened + s.workers[2].opened == 24 and s
        end, 5, "both workers' statistics published")
        assert.is_true(st.workers[1].opened > 0, "worker 1 got no connection")
        assert.is_true(st.workers[2].opened > 0, "worker 2 got no connection")
        assert.are_not.equal(st.workers[1].pid, st.workers[2].pid)
        -- each worker's lines say which worker wrote them
        assert.is_true(srv:wait_log("%[w1%] listening on 127%.0%.0%.1:" .. srv.port))
        assert.is_true(srv:wait_log("%[w2%] listening on 127%.0%.0%.1:" .. srv.port))
        assert.are.equal(24, st.totals.opened)
        local code, body = srv:http("GET", "/metrics")
        assert.are.equal(200, code)
        assert.are.equal("24", body:match("\nsmppgw_sessions_opened_total (%d+)"))
        assert.are.equal("2", body:match("\nsmppgw_workers_running (%d+)"))
        -- the parent holds no session: it says so instead of answering empty
        assert.are.equal(501, (srv:http("GET", "/sessions")))
    end)

    it("restarts a worker killed with SIGKILL, which then serves again", function()
        local srv = start(2)
        local before = srv:stats().workers[1]
        os.execute("kill -KILL " .. before.pid)
        assert.is_true(srv:wait_log("worker 1 %(pid " .. before.pid .. "%) exited .- signal Killed%); restarting it in %d+ ms"))
        local w = wait.wait_until(function()
            local x = srv:stats().workers[1]
            return x.pid ~= before.pid and x.running and x.reporting and x
        end, 10, "worker 1 restarted")
        assert.are.equal(1, w.restarts)
        assert.is_false(alive(before.pid))
        bind_many(srv, 24)
        local st = wait.wait_until(function()
            local x = srv:stats()
            return x.workers[1].opened + x.workers[2].opened == 24 and x
        end, 5, "both workers' statistics published")
        assert.is_true(st.workers[1].opened > 0, "the restarted worker got no connection")
    end)

    it("SIGHUP to the parent makes every worker reload", function()
        local srv = start(2)
        srv:signal("HUP")
        assert.is_true(wait.wait_until(function() return srv:count_log("\n[^\n]*reloaded ") == 2 end, 30),
            srv:log_text())
        assert.are.equal(1, srv:count_log("signal 1: the workers reload"))
        -- and they go on serving
        bind_many(srv, 4)
    end)

    it("SIGHUP to the parent says that a changed workers applies at a restart, as POST /reload does", function()
        local srv = start(2)
        srv:write("conf.lua", server.smsc_conf { store = { path = ":memory:" }, workers = 3 })
        srv:signal("HUP")
        assert.is_true(srv:wait_log("reload: workers changed %(2 %-> 3%); it applies at a restart %(the 2 workers "
            .. "stay%)", 30), srv:log_text())
        assert.is_true(wait.wait_until(function() return srv:count_log("\n[^\n]*reloaded ") == 2 end, 30),
            srv:log_text())
        assert.are.equal(1, srv:count_log("the 2 workers stay"))   -- the parent's line, once
    end)

    it("POST /reload at the parent answers what the workers did: 422 with their refusal, 200 once they took it",
        function()
        local closed = wire.listen()
        local up = tonumber((select(2, closed:getsockname())))
        closed:close()
        local function ups(prefix, n)
            local t = { { name = "smsc", port = up, reconnect_min = 30, reconnect_max = 60 } }
            for i = 1, n do t[#t + 1] = { name = prefix .. i, port = up, reconnect_min = 30, reconnect_max = 60 } end
            return t
        end
        local function conf(over)
            over.store, over.workers = { path = ":memory:" }, 2
            return server.smsc_conf(over)
        end
        local srv = start(2)
        -- a script that does not open: every worker refuses it
        srv:write("conf.lua", conf { script = "nope.lua" })
        local code, body = srv:http("POST", "/reload")
        assert.are.equal(422, code, body)
        assert.matches("workers 1, 2: ", body, 1, true)
        assert.matches("nope.lua", body, 1, true)
        -- the upstream name cap, which only the workers know (their records of names)
        srv:write("conf.lua", conf { upstreams = ups("a", 1100) })
        code, body = srv:http("POST", "/reload")
        assert.are.equal(200, code, body)
        srv:write("conf.lua", conf { upstreams = ups("a", 0) })
        code, body = srv:http("POST", "/reload")
        assert.are.equal(200, code, body)
        srv:write("conf.lua", conf { upstreams = ups("z", 1) })
        code, body = srv:http("POST", "/reload")
        assert.are.equal(422, code, body)
        assert.matches("1 name this process has not had", body, 1, true)
        assert.are.equal(1, srv:count_log("reload failed in the workers: workers 1, 2: upstreams: 1 name"))
        bind_many(srv, 4)                                     -- and they go on serving
    end)

    it("SIGTERM to the parent stops every worker, and the parent exits 0", function()
        local srv = start(2)
        local ws = srv:stats().workers
        assert.is_true(srv:stop("TERM", 10))
        assert.are.equal(0, srv:wait_exit(5))
        assert.is_false(alive(ws[1].pid))
        assert.is_false(alive(ws[2].pid))
        assert.are.equal(2, srv:count_log("worker %d %(pid %d+%) stopped %(exit status 0%)"))
    end)

    it("is refused with the embedded store in a file, naming the key and why", function()
        local dir = tmp.dir()
        tmp.write(dir .. "/c.lua", server.smsc_conf { store = { path = dir .. "/x.db" } })
        local _, err, rc = run.smppgw { "run", dir .. "/c.lua", "-w", "2", "-l", "127.0.0.1:" .. free_port() }
        assert.are.equal(2, rc)
        assert.matches("workers = 2: the embedded store %(store.path = [^)]*x.db%) is one SQLite file with one writer",
            err)
        -- and so is port 0, which would give each worker a port of its own
        tmp.write(dir .. "/m.lua", server.smsc_conf { store = { path = ":memory:" }, workers = 3 })
        _, err, rc = run.smppgw { "run", dir .. "/m.lua", "-l", "127.0.0.1:0" }
        assert.are.equal(2, rc)
        assert.matches("workers = 3: listen 127.0.0.1:0 would give each worker a port of its own", err)
        _, err, rc = run.smppgw { "run", dir .. "/m.lua", "-w", "0" }
        assert.are.equal(2, rc)
        assert.matches("%-w needs a number of workers 1..1024", err)
        -- smppgw check finds the configuration's own `workers` with a file store too
        tmp.write(dir .. "/f.lua", server.smsc_conf { store = { path = dir .. "/x.db" }, workers = 2 })
        local out
        out, err, rc = run.smppgw { "check", dir .. "/f.lua" }
        assert.are.equal(1, rc)
        assert.matches("workers = 2: the embedded store", out .. err)
    end)
end)

describe("workers.sum", function()
    local workers = require "smpp.workers"
    it("adds counters, gauges, buckets and named list items; keeps maxima, bounds and limits", function()
        local a = { totals = { opened = 3, uptime_s = 10, lua_heap_peak_bytes = 5, avg_response_ms = 2,
                               response_time_bounds_ms = { 1, 2 }, response_time_buckets = { 1, 0, 4 } },
                    store = { messages = { value = 2, limit = 10 }, commit_ms = { max = 3, sum = 1 } },
                    upstreams = { { name = "up", sent = 5, state = "down" } },
                    limits = { window = 10 } }
        local b = { totals = { opened = 4, uptime_s = 12, lua_heap_peak_bytes = 9, avg_response_ms = 4,
                               response_time_bounds_ms = { 1, 2 }, response_time_buckets = { 0, 2, 1 } },
                    store = { messages = { value = 1, limit = 10 }, commit_ms = { max = 1, sum = 2 } },
                    upstreams = { { name = "up", sent = 1, state = "up" }, { name = "other", sent = 7 } },
                    limits = { window = 10 } }
        local s = workers.sum { a, b }
        assert.are.same({ opened = 7, uptime_s = 12, lua_heap_peak_bytes = 9, avg_response_ms = 3,
                          response_time_bounds_ms = { 1, 2 }, response_time_buckets = { 1, 2, 5 } }, s.totals)
        assert.are.same({ messages = { value = 3, limit = 20 }, commit_ms = { max = 3, sum = 3 } }, s.store)
        assert.are.same({ { name = "up", sent = 6, state = "up" }, { name = "other", sent = 7 } }, s.upstreams)
        assert.are.same({ window = 10 }, s.limits)
    end)
end)
