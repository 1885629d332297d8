-- script_limits_spec -- the limits a script cannot pass: the Lua heap
-- ceiling (a run that allocates past scripts.memory_mb is stopped and
-- answered ESME_RSYSERR, the process stays bounded, and a script that
-- keeps the heap at the ceiling leaves binds and /stats working), the size
-- of strings (scripts.max_string), and the last resort: a run nothing can
-- interrupt ends the process with one log line and exit status 3, never a
-- silent hang. Runaway loops are in containment_spec.lua.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"
local run = require "helpers.run"

local scaled = wait.scaled
local ROK, RSYSERR = 0, 0x08

local ACCOUNTS = "accounts = { { system_id = 'smppclient1', password = 'password' } }"

-- submit(c, text [, timeout]) -> the submit_sm_resp, its message_id, and
-- the seconds it took.
local function submit(c, text, timeout)
    local seq = c:next_seq()
    local t0 = wire.gettime()
    c:send(wire.submit_sm(seq, { short_message = text }))
    local p = assert(c:expect(function(r) return r.seq == seq end, timeout or 15))
    return p, wire.first_cstr(p.body) or "", wire.gettime() - t0
end

local function bound(srv)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind("transceiver").status)
    return c
end

-- -- The heap ceiling ------------------------------------------------------------------

local HEAP = [[
local smpp = require "smpp"
local S = smpp.status
local kept = {}
return {
    submit_sm = function(session, pdu)
        local t = pdu.short_message
        if t == "hog" then                    -- 256 MiB at once, kept only by this run
            local parts = {}
            for i = 1, 256 do parts[i] = string.rep(string.char(65 + i % 26), 1024 * 1024) .. i end
        elseif t == "leak" then               -- 4 MiB more kept at each request
            kept[#kept + 1] = string.rep("x", 4 * 1024 * 1024) .. #kept
        elseif t == "free" then
            kept = {}
        elseif t == "rep" then
            local s = string.rep("x", 2 ^ 30)
        elseif t == "concat" then
            local parts = {}
            for i = 1, 40 do parts[i] = string.rep("y", 1024 * 1024) end
            local s = table.concat(parts)
        elseif t == "cjson" or t == "cjson.safe" then   -- 12 MiB of JSON text, in 1 MiB strings
            local parts = {}
            for i = 1, 12 do parts[i] = string.rep("j", 1024 * 1024) end
            local s, err = require(t).encode(parts)
            return S.ESME_ROK, { message_id = s and "encoded " .. #s or err:sub(1, 64) }
        elseif t == "cjson.decode" then
            local s = string.rep(" ", 5 * 1024 * 1024) .. "[" .. string.rep("1,", 2 * 1024 * 1024) .. "1]"
            require("cjson").decode(s)
        end
        return S.ESME_ROK, { message_id = "kept " .. #kept }
    end,
}
]]

-- The resident size of a process in MiB.
local function rss_mb(pid)
    local f = assert(io.open("/proc/" .. pid .. "/status"))
    local kb = f:read("*a"):match("VmRSS:%s*(%d+) kB")
    f:close()
    return tonumber(kb) / 1024
end

describe("#integration the Lua heap ceiling", function()
    local srv, c, bystander
    setup(function()
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { memory_mb = 64, max_string = 8388608, budget_ms = 20000 } }", script = HEAP }
        c, bystander = bound(srv), bound(srv)
    end)

    it("stops a run that allocates past the ceiling: ESME_RSYSERR, and the process serves on", function()
        local r, _, took = submit(c, "hog")
        assert.equal(RSYSERR, r.status)
        assert.is_true(took < scaled(10), "took " .. took .. " s")   -- stopped at 64 MiB, long before 256
        assert.truthy(srv:wait_log("script memory ceiling exceeded: the Lua heap reached scripts.memory_mb %(64 MiB%)"),
            srv:log_text())
        assert.equal(ROK, submit(bystander, "fine").status)
        local totals = srv:stats().totals
        assert.equal(64 * 1024 * 1024, totals.lua_heap_limit_bytes)
        assert.is_true(totals.lua_heap_refused >= 1)
        -- stopped at the instruction after the allocation that passed the
        -- ceiling: past it by what a couple of instructions allocate (the
        -- hog's are 1 MiB strings), never by the reserve (32 MiB)
        assert.is_true(totals.lua_heap_peak_bytes <= (64 + 8) * 1024 * 1024, tostring(totals.lua_heap_peak_bytes))
        assert.equal(64, srv:stats().limits.script_memory_mb)
        -- and in /metrics, which a strict parser accepts
        local _, body = srv:http("GET", "/metrics")
        local fam = require("helpers.prometheus").parse(body)
        assert.equal(64 * 1024 * 1024, fam.smppgw_lua_heap_limit_bytes.samples[1].value)
        -- the freed small blocks kept for reuse: a gauge beside its bound
        assert.equal(4 * 1024 * 1024, totals.lua_heap_cached_limit_bytes)
        assert.is_true(totals.lua_heap_cached_bytes >= 0 and totals.lua_heap_cached_bytes <= 4 * 1024 * 1024)
        assert.equal(totals.lua_heap_cached_limit_bytes, fam.smppgw_lua_heap_cached_limit_bytes.samples[1].value)
        assert.is_true(fam.smppgw_lua_heap_bytes.samples[1].value > 0)
        assert.is_true(fam.smppgw_lua_heap_refused_total.samples[1].value >= 1)
        assert.is_not_nil(fam.smppgw_script_budget_stops_total)
    end)

    it("bounds string.rep and table.concat by scripts.max_string", function()
        local r = submit(c, "rep")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:wait_log("string.rep: the result would be 1073741824 bytes, more than scripts.max_string %(8388608%)"))
        r = submit(c, "concat")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:wait_log("table.concat: the result would be %d+ bytes, more than scripts.max_string"))
    end)

    it("bounds the cjson scripts get by scripts.max_string: encode and decode", function()
        -- lua-cjson's encode built the text in one C call, outside the counted heap
        local r = submit(c, "cjson")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:wait_log("cjson.encode: the text would pass scripts.max_string %(8388608 bytes%)"))
        local _, mid = submit(c, "cjson.safe")
        assert.equal(("cjson.encode: the text would pass scripts.max_string (8388608 bytes)"):sub(1, 64), mid)
        r = submit(c, "cjson.decode")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:wait_log("cjson.decode: the text is %d+ bytes, more than scripts.max_string %(8388608%)"))
    end)

    it("#rss keeps a leaking script's process bounded, and recovers when it lets go", function()
        local statuses, last = {}, nil
        for i = 1, 40 do
            local r, mid = submit(c, "leak")
            statuses[r.status] = (statuses[r.status] or 0) + 1
            if r.status == ROK then last = mid end
        end
        assert.is_true((statuses[ROK] or 0) >= 8, "answered ESME_ROK " .. tostring(statuses[ROK]) .. " times")
        assert.is_true((statuses[RSYSERR] or 0) >= 20, "answered ESME_RSYSERR " .. tostring(statuses[RSYSERR]) .. " times")
        assert.truthy(last)
        -- 64 MiB of heap, 32 MiB of reserve, and the process around them
        assert.is_true(rss_mb(srv.pid) < 200, "RSS " .. rss_mb(srv.pid) .. " MiB")
        assert.equal(ROK, submit(c, "free").status)
        local r, mid = submit(c, "leak")
        assert.equal(ROK, r.status)
        assert.equal("kept 1", mid)
    end)
end)

-- -- A heap kept at the ceiling ---------------------------------------------------------

-- Every submit_sm keeps 20 small tables in a table of the script's: under
-- a flood the heap reaches the ceiling and stays there (what is kept is
-- not garbage), with enough objects that a full collection takes tens of
-- milliseconds. A full collection after every run used to hold the loop:
-- /stats and binds waited tens of seconds (and the process could crash).
local LEAK = [[
local kept, n = {}, 0
return {
    submit_sm = function()
        for i = 1, 20 do
            n = n + 1
            kept[n] = { n, "kept by the script, never released " .. n }
        end
        return 0, { message_id = tostring(n) }
    end,
}
]]

describe("#integration a script that keeps the heap at its ceiling", function()
    it("leaves binds and /stats answering within a second while a flood runs into it", function()
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { memory_mb = 32 } }", script = LEAK }
        local flood = run.spawn(string.format("exec %s bench --sessions 3 --window 50 --duration 60 --quiet "
            .. "127.0.0.1:%d", run.quote(run.bin), srv.port))
        assert.truthy(srv:wait_log("script memory ceiling exceeded", 30), srv:log_text())
        for _ = 1, 3 do
            local t0 = wire.gettime()
            local b = wire.connect(srv.port)
            assert.equal(ROK, b:bind("transceiver").status)
            local took = wire.gettime() - t0
            assert.is_true(took < scaled(1), "bind answered after " .. took .. " s")
            b:close()
            t0 = wire.gettime()
            local totals = srv:stats().totals
            took = wire.gettime() - t0
            assert.is_true(took < scaled(1), "/stats answered after " .. took .. " s")
            assert.is_true(totals.lua_heap_bytes > 28 * 1024 * 1024, tostring(totals.lua_heap_bytes))
            assert.is_true(totals.lua_heap_refused > 0)
        end
        -- the flood is answered too (ESME_RSYSERR once the heap is full)
        assert.is_true(flood:alive())
        flood:finish()
        -- said, but not once per run
        assert.truthy(srv:wait_log("the Lua heap stays at its ceiling: [%d.]+ MiB of scripts.memory_mb %(32 MiB%)"),
            srv:log_text())
        assert.is_true(srv:count_log("stays at its ceiling") <= 3, tostring(srv:count_log("stays at its ceiling")))
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)

    -- "small" keeps 100,000 small tables at each request (about 7 MiB)
    local SMALL = [[
local keep = {}
return {
    submit_sm = function(session, pdu)
        if pdu.short_message == "small" then
            for i = 1, 100000 do keep[#keep + 1] = { i, i + 1 } end
        end
        return 0, { message_id = tostring(#keep) }
    end,
}
]]

    it("after a reload, stops a run past the ceiling as before; a reload then lets the full script go", function()
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", log = { repeat_window = 0 }, scripts = { memory_mb = 16 } }", script = SMALL }
        local c = bound(srv)
        assert.equal(ROK, submit(c, "hello").status)
        -- the first reload: the limits are set again from the reload's task,
        -- whose coroutine is gone by the time the heap reaches the ceiling
        srv:signal("HUP")
        assert.truthy(srv:wait_log("reloaded"), srv:log_text())
        assert.equal(ROK, submit(c, "hello").status)
        local refused = 0
        for _ = 1, 6 do
            if submit(c, "small").status == RSYSERR then refused = refused + 1 end
        end
        assert.is_true(refused >= 3, "runs past 16 MiB stopped: " .. refused)
        assert.is_true(srv:alive(), srv:log_text())
        -- nothing of the script runs now (every run needs its request's table)
        assert.equal(RSYSERR, submit(c, "hello").status)
        -- the second reload lets the old handlers go first, and the new script works
        srv:signal("HUP")
        assert.truthy(srv:wait_log("the running script's handlers and repeating timers are let go before the new one loads"), srv:log_text())
        assert.is_true(wait.wait_until(function() return srv:count_log("reloaded ") >= 2 end, scaled(10)),
            srv:log_text())
        local r, id = submit(c, "hello")
        assert.equal(ROK, r.status)
        assert.equal("0", id)
        assert.is_true(srv:stats().totals.lua_heap_bytes < 8 * 1024 * 1024)
        c:close()
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)
end)

describe("#integration requests that wait in their handlers past the heap's ceiling", function()
    it("are answered ESME_RTHROTTLED once the reserve is half spent, and the process serves on", function()
        -- each request waits 60 s: the runtime's part of it (a coroutine,
        -- the PDU's table) stays in the heap's reserve; ~0.7 KiB each, half
        -- of the 32 MiB reserve is some 23,000 of them
        local srv = server.start { conf = "return { script = 'script.lua', accounts = { { system_id = "
            .. "'smppclient1', password = 'password', max_binds = 61, throughput = 0 } }, "
            .. "session = { receive_window = 1000 }, limits = { max_per_address = 0 }, "
            .. "security = { bind_rate = 0 }, scripts = { memory_mb = 8 } }", script = [[
local smpp = require "smpp"
return { submit_sm = function() smpp.sleep(60) return 0, { message_id = "1" } end }
]] }
        local flood = run.spawn(string.format("exec %s bench --sessions 60 --window 1000 --count 60000 "
            .. "--duration 60 --quiet 127.0.0.1:%d", run.quote(run.bin), srv.port))
        assert.truthy(srv:wait_log("past scripts.memory_mb and half its reserve: requests are answered "
            .. "ESME_RTHROTTLED", 60), srv:log_text())
        assert.is_true(srv:alive(), srv:log_text())
        local totals = srv:stats().totals
        assert.is_true(totals.lua_heap_throttled > 0, tostring(totals.lua_heap_throttled))
        -- the reserve's other half is still there: a bind works (the 61st
        -- of max_binds = 61), and when it closes the runtime's part of its
        -- end runs in the reserve too: counted down, another bind has room
        local c = wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
        c:close()
        local again
        assert.truthy(wait.wait_until(function()
            if again then again:close() end
            again = wire.connect(srv.port)
            return again:bind("transceiver").status == ROK
        end, scaled(5)), srv:log_text())
        again:close()
        assert.equal(0, srv:count_log("down event failed"), srv:log_text())
        flood:kill()
        assert.is_true(srv:stop("TERM", scaled(10)))
        assert.equal(0, srv:wait_exit())
    end)
end)

describe("#integration the runtime's own code past the heap's reserve", function()
    it("is stopped near its end: ESME_RSYSERR or 503, never the process's exit", function()
        -- the API's own routes and the bind check run as the runtime's code,
        -- which the ceiling does not stop; one that kept allocating used the
        -- whole reserve, and the allocator's refusal then came where nothing
        -- caught it (the failed task's message was made outside any run):
        -- "smppgw: not enough memory", exit 1. scripts.allow debug is only
        -- this test's way to run code of its own as the runtime's.
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", http = { listen = '127.0.0.1:0' }, scripts = { memory_mb = 32, allow = { 'debug' } } }", script = [[
local http = require "smpp.http"
local core = debug.getregistry()._LOADED["smpp.core"]
local function hog()
    core.heap_reserve(true)                 -- the runtime's own code from here on
    local parts = {}
    for i = 1, 1e8 do parts[i] = { i } end   -- small blocks: the heap filled to the last few octets
end
http.route("GET", "/hog", function() hog() return 200, "not stopped" end)
return { submit_sm = function() hog() return 0, { message_id = "not stopped" } end }
]] }
        local c = bound(srv)
        for _ = 1, 3 do
            local r = submit(c, "hog")
            assert.equal(RSYSERR, r.status, srv:log_text())
            local code, body, h = srv:http("GET", "/hog")
            assert.equal(503, code, srv:log_text())
            assert.matches("not enough memory", body)
            assert.is_true(srv:alive(), srv:log_text())
        end
        assert.truthy(srv:wait_log("not enough memory: the Lua heap is near the end of its reserve above "
            .. "scripts.memory_mb %(32 MiB%); submit_sm stopped"), srv:log_text())
        -- the reserve is the runtime's again once they are over
        assert.equal(200, (srv:http("GET", "/stats")))
        local again = bound(srv)
        again:close()
        c:close()
        assert.is_true(srv:stop("TERM", scaled(10)))
        assert.equal(0, srv:wait_exit())
    end)
end)

-- -- What nothing can interrupt --------------------------------------------------------

describe("#integration a run nothing can interrupt", function()
    local function stuck(conf_extra, script, text)
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 300" .. conf_extra .. " } }", script = script }
        local c = bound(srv)
        local t0 = wire.gettime()
        c:send(wire.submit_sm(c:next_seq(), { short_message = text }))
        -- budget 300 ms + the grace of max(1 s, budget), + the watchdog's tick
        local code = srv:wait_exit(scaled(5))
        local took = wire.gettime() - t0
        assert.equal(3, code, srv:log_text())
        assert.is_true(took >= 1.2 and took < scaled(4), "exited after " .. took .. " s")
        assert.truthy(srv:log_text():match("script submit_sm has run %d+ ms and cannot be interrupted: exiting so "
            .. "the supervisor restarts it"), srv:log_text())
        assert.equal(1, srv:count_log("cannot be interrupted"))
    end

    it("a C call (scripts.allow ffi) ends the process with a log line, exit status 3", function()
        -- a read of a pipe nobody writes: the watchdog's poke (a signal) restarts it
        stuck(", allow = { 'ffi' }", [[
local ffi = require "ffi"
ffi.cdef "int pipe(int fds[2]); long read(int fd, void *buf, unsigned long n);"
return { submit_sm = function()
    local fds, buf = ffi.new("int[2]"), ffi.new("char[1]")
    assert(ffi.C.pipe(fds) == 0)
    ffi.C.read(fds[0], buf, 1)
    return 0
end }
]], "read")
    end)

    it("a loop the JIT compiled (scripts.jit = true) ends the process the same way", function()
        stuck(", jit = true", "return { submit_sm = function() while true do end end }", "loop")
    end)

    it("a script that removes the hook (scripts.allow debug) is stopped at the budget all the same", function()
        -- the watchdog's poke sets the hook again (it used to end the process)
        local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 300, allow = { 'debug' } } }",
            script = "return { submit_sm = function() debug.sethook() while true do end end }" }
        local c = bound(srv)
        local r, _, took = submit(c, "loop")
        assert.equal(RSYSERR, r.status)
        assert.is_true(took < scaled(1.2), "answered after " .. took .. " s")
        assert.truthy(srv:wait_log("script budget exceeded"), srv:log_text())
        assert.is_true(srv:alive())
        c:close()
        assert.is_true(srv:stop("TERM", 5))
        assert.equal(0, srv:wait_exit())
    end)
end)

-- -- A long hash is not the loop's ----------------------------------------------------

describe("#integration smpp.security.hash and verify in a handler", function()
    local srv
    after_each(function() if srv then srv:stop() end srv = nil end)

    it("hash on the thread pool while the task waits: the budget holds, everyone else is served", function()
        -- 3,000,000 iterations run well past the 200 ms budget on the
        -- loop; on the thread pool the handler only waits
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS
            .. ", scripts = { budget_ms = 200 } }", script = [[
local security = require "smpp.security"
local S = require("smpp").status
return { submit_sm = function(session, pdu)
    if pdu.short_message ~= "hash" then return S.ESME_ROK, { message_id = "quick" } end
    local stored = security.hash("secret", 3000000)
    local ok, bad = security.verify(stored, "secret"), security.verify(stored, "other")
    return S.ESME_ROK, { message_id = (ok and not bad) and "verified" or "wrong" }
end }
]] }
        local c, bystander = bound(srv), bound(srv)
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { short_message = "hash" }))
        local r, id = submit(bystander, "ping")
        assert.equal(ROK, r.status)
        assert.equal("quick", id)
        -- the hasher's answer had not come while the bystander was served
        local p = assert(c:expect(function(x) return x.seq == seq end, scaled(60)))
        assert.equal(ROK, p.status, srv:log_text())
        assert.equal("verified", wire.first_cstr(p.body))
        assert.is_true(srv:alive(), srv:log_text())
        assert.equal(0, srv:count_log("cannot be interrupted"))
    end)

    it("an iteration count out of range is a script error (ESME_RSYSERR), not a crash", function()
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS .. " }", script = [[
local security = require "smpp.security"
return { submit_sm = function() security.hash("x", 1e12) return 0, { message_id = "no" } end }
]] }
        local c = bound(srv)
        local r = submit(c, "x")
        assert.equal(RSYSERR, r.status)
        assert.truthy(srv:log_text():match("iterations not a whole number"), srv:log_text())
        assert.is_true(srv:alive())
    end)
end)

-- -- Timers --------------------------------------------------------------------------

-- Each pending timer is memory outside the Lua heap's count: scripts may
-- keep 100,000, one more raises (the runtime's own are not counted).
describe("#integration the timers a script may keep pending", function()
    it("refuses the 100,001st, counts them in /stats, and takes them again once they are gone", function()
        local srv = server.start { conf = "return { script = 'script.lua', scripts = { budget_ms = 20000 }, "
            .. ACCOUNTS .. " }", script = [[
local smpp = require "smpp"
local ids = {}
return { submit_sm = function(session, pdu)
    if pdu.short_message == "cancel" then
        for i = 1, #ids do smpp.cancel(ids[i]) end
        ids = {}
        return 0, { message_id = "cancelled" }
    end
    for i = 1, 100001 do
        local ok, id = pcall(smpp.after, 3600, function() end)
        if not ok then return 0, { message_id = i .. ":" .. tostring(id):match("%d+ timers are pending") } end
        ids[i] = id
    end
    return 0, { message_id = "all" }
end }]] }
        finally(function() srv:kill(); os.execute("rm -rf " .. srv.dir) end)
        local c = bound(srv)
        local r, mid = submit(c, "many", 60)
        assert.equal(ROK, r.status)
        assert.equal("100001:100000 timers are pending", mid)
        local totals = srv:stats().totals
        assert.equal(100000, totals.script_timers)
        assert.equal(100000, totals.script_timers_limit)
        assert.equal("cancelled", select(2, submit(c, "cancel", 60)))
        assert.equal(0, srv:stats().totals.script_timers)
        c:close()
    end)
end)
