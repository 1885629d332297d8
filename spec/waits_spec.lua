-- waits_spec -- waits of 0 and waits too long to mean anything. A wait of
-- 0 (smpp.sleep(0), smpp.after(0, fn), the runtime's own pauses) resumes
-- after the loop has polled for I/O: an after(0) that re-arms itself and
-- `while true do smpp.sleep(0) end` leave /stats and enquire_link
-- answering and the process's memory flat (they held the loop in libuv's
-- timer pass, and every released timer waited there for a close callback
-- that never came); work split into slices with smpp.sleep(0) between them
-- lets another session in between the slices; a GET /messages of 10,000
-- pauses for other sessions too. Durations: NaN, infinite and negative
-- ones raise naming the function, huge ones wait (they overflowed to 0).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"
local rawhttp = require "helpers.rawhttp"
local cjson = require "cjson"

local scaled = wait.scaled
local ROK, RSYSERR = 0, 0x08

local ACCOUNTS = "accounts = { { system_id = 'smppclient1', password = 'password' } }"

local function bound(srv)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind("transceiver").status)
    return c
end

-- submit(c, text [, timeout]) -> the submit_sm_resp, its message_id, and
-- the seconds it took.
local function submit(c, text, timeout)
    local seq = c:next_seq()
    local t0 = wire.gettime()
    c:send(wire.submit_sm(seq, { short_message = text }))
    local p = assert(c:expect(function(r) return r.seq == seq end, timeout or 15))
    return p, wire.first_cstr(p.body) or "", wire.gettime() - t0
end

-- enquire(c) -> seconds the enquire_link_resp took (raises after 5 s).
local function enquire(c)
    local seq = c:next_seq()
    local t0 = wire.gettime()
    c:send(wire.pdu(wire.id.enquire_link, seq, ""))
    assert(c:expect(function(p) return p.seq == seq and p.id == wire.RESP + wire.id.enquire_link end, 5),
        "no enquire_link_resp within 5 s")
    return wire.gettime() - t0
end

-- stats(srv) -> GET /stats decoded and the seconds it took; nil, why when
-- it is not answered within 5 s (a held loop answers nothing).
local function stats(srv)
    local t0 = wire.gettime()
    local s = rawhttp.connect(srv.http_port)
    s:send(rawhttp.get("/stats", "Connection: close\r\n"))
    local status, _, body = rawhttp.response(s, 5)
    s:close()
    if status ~= 200 then return nil, "GET /stats: " .. tostring(status) .. " " .. tostring(body) end
    return cjson.decode(body), wire.gettime() - t0
end

local function rss_mb(pid)
    local f = assert(io.open("/proc/" .. pid .. "/status"))
    local kb = f:read("*a"):match("VmRSS:%s*(%d+) kB")
    f:close()
    return tonumber(kb) / 1024
end

local SPIN = [[
local smpp = require "smpp"
local S = smpp.status
local ticks, spins, slices = 0, 0, 0
smpp.gauge("ticks", function() return ticks end)
smpp.gauge("spins", function() return spins end)
local function tick()                       -- an after(0) that re-arms itself
    ticks = ticks + 1
    smpp.after(0, tick)
end
local function busy(ms)                     -- ms of CPU in one run
    local t0 = os.clock()
    while os.clock() - t0 < ms / 1000 do end
end
return {
    submit_sm = function(session, pdu)
        local t = pdu.short_message
        if t == "chain" then smpp.after(0, tick)
        elseif t == "spin" then
            smpp.after(0, function() while true do spins = spins + 1 smpp.sleep(0) end end)
        elseif t == "slices" then           -- 40 slices of 25 ms, a sleep(0) between them
            slices = 0
            for i = 1, 40 do
                busy(25)
                slices = i
                smpp.sleep(0)
            end
            return S.ESME_ROK, { message_id = "slices done" }
        end
        return S.ESME_ROK, { message_id = "slices " .. slices }
    end,
}
]]

describe("#integration waits of 0", function()
    local srv, c
    setup(function()
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS .. " }", script = SPIN }
        c = bound(srv)
    end)

    it("give the loop back: with an after(0) chain and a sleep(0) loop running, /stats and enquire_link "
        .. "answer at once and the memory stays flat #rss", function()
        assert.equal(ROK, (submit(c, "chain")).status)
        assert.equal(ROK, (submit(c, "spin")).status)
        local s, took = stats(srv)
        assert.truthy(s, took)
        assert.is_true(took < scaled(0.5), "GET /stats took " .. took .. " s")
        assert.is_true(enquire(c) < scaled(0.5))
        -- both chains go on: thousands of turns each, the loop served in between
        local rss
        assert.truthy(wait.wait_until(function()
            local g = assert(stats(srv)).gauges
            if g.ticks.value > 20000 and g.spins.value > 20000 then
                rss = rss_mb(srv.pid)
                return true
            end
        end, 10), "the chains did not run")
        local first = assert(stats(srv)).gauges.ticks.value
        assert.truthy(wait.wait_until(function()
            return assert(stats(srv)).gauges.ticks.value > first + 100000
        end, 30), "the chain stalled")
        assert.is_true(enquire(c) < scaled(0.5))
        local grown = rss_mb(srv.pid) - rss
        -- 100,000 more timers made and released: before, each stayed (about 400 MB a second)
        assert.is_true(grown < 32, "RSS grew by " .. grown .. " MiB")
    end)

    it("let another session in between slices of work split with smpp.sleep(0)", function()
        local other = bound(srv)
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { short_message = "slices" }))
        -- the other session is answered while the slices run, not after them
        local done
        for _ = 1, 5 do
            local r, mid = submit(other, "how far")
            assert.equal(ROK, r.status)
            done = tonumber(mid:match("slices (%d+)"))
            if done and done > 0 then break end
        end
        assert.truthy(done and done > 0 and done < 40, "answered after " .. tostring(done) .. " slices of 40")
        local p = assert(c:expect(function(x) return x.seq == seq end, 15))
        assert.equal("slices done", wire.first_cstr(p.body))
    end)

    it("stop with the process: SIGTERM ends it while both chains run", function()
        c:close()
        assert.is_true(srv:stop("TERM", 10), srv:log_text())
        assert.equal(0, srv:wait_exit())
    end)
end)

-- A fan-out: each run re-arms the timer twice, so the pending timers grow
-- to the scripts' cap (100,000) and stay there. Each turn of the loop ran
-- every one of them: 1.4 s between two polls, an enquire_link answered
-- that late. The runs of one turn now take RT_TIMER_TURN_MS (10 ms) at
-- most, the rest the next turn.
local FANOUT = [[
local smpp = require "smpp"
local S = smpp.status
local runs = 0
smpp.gauge("fan_runs", function() return runs end)
local function fan(delay)
    local function tick()
        runs = runs + 1
        pcall(smpp.after, delay, tick)      -- past the cap it raises: the chain goes on with what is pending
        pcall(smpp.after, delay, tick)
    end
    return tick
end
return {
    submit_sm = function(session, pdu)
        smpp.after(0, fan(tonumber(pdu.short_message)))
        return S.ESME_ROK, { message_id = "started" }
    end,
}
]]

describe("#integration a timer fan-out at the scripts' cap of timers", function()
    for _, delay in ipairs { "0", "0.001" } do
        it("leaves enquire_link and /stats answering within about a turn (after(" .. delay .. "))", function()
            local srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS .. " }", script = FANOUT }
            local c = bound(srv)
            assert.equal(ROK, (submit(c, delay)).status)
            assert.truthy(wait.wait_until(function()
                local s = stats(srv)
                return s and s.totals.script_timers >= 99000
            end, scaled(20)), "the fan-out did not reach the cap")
            local worst = 0
            for _ = 1, 10 do worst = math.max(worst, enquire(c)) end
            assert.is_true(worst < scaled(0.25), "an enquire_link took " .. worst .. " s")
            local s, took = stats(srv)
            assert.truthy(s, took)
            assert.is_true(took < scaled(0.5), "GET /stats took " .. took .. " s")
            -- and the timers still run, turn after turn
            local first = s.gauges.fan_runs.value
            assert.truthy(wait.wait_until(function()
                return assert(stats(srv)).gauges.fan_runs.value > first + 10000
            end, scaled(10)), "the fan-out stalled")
            c:close()
            assert.is_true(srv:stop("TERM", scaled(10)), srv:log_text())
            assert.equal(0, srv:wait_exit())
        end)
    end
end)

describe("#integration GET /messages of 10,000", function()
    it("pauses for other sessions between its chunks", function()
        local N = 20000
        local srv = server.start {
            conf = "return { script = 'script.lua', " .. ACCOUNTS .. ", store = { path = 'list.db', sync = 'off' } }",
            script = ([[
                local smpp = require "smpp"
                local store = require "smpp.store"
                return {
                    start = function()
                        smpp.after(0, function()
                            local now, st = smpp.time(), store.current()
                            for i = 1, %d do
                                assert(st:put { id = "m" .. i, account = "acct", source = "s", dest = "d",
                                                submitted = now, final = true, trace = now .. " accepted\n" })
                                if i %% 500 == 0 then st:commit() smpp.sleep(0) end
                            end
                            st:commit()
                            smpp.log("info", "all put")
                        end)
                    end,
                }
            ]]):format(N),
        }
        assert.is_true(srv:wait_log("all put", scaled(60)), srv:log_text())
        local c = bound(srv)
        local best
        for _ = 1, 3 do                     -- the shortest of three: the machine may be busy
            local s = rawhttp.connect(srv.http_port)
            local t0 = wire.gettime()
            s:send(rawhttp.get("/messages?account=acct&limit=10000", "Connection: close\r\n"))
            local e = enquire(c)
            local status, _, body = rawhttp.response(s, 30)
            local took = wire.gettime() - t0
            s:close()
            assert.equal(200, status)
            assert.equal(10000, cjson.decode(body).count)
            -- held for the whole request, the enquire_link was answered with it
            if not best or e / took < best.e / best.took then best = { e = e, took = took } end
        end
        assert.is_true(best.e < best.took / 2,
            string.format("enquire_link took %.3f s of the request's %.3f s", best.e, best.took))
    end)
end)

describe("#integration durations", function()
    local srv, c
    setup(function()
        srv = server.start { conf = "return { script = 'script.lua', " .. ACCOUNTS .. " }", script = [[
local smpp = require "smpp"
local S = smpp.status
local fired = {}
smpp.gauge("fired", function() local n = 0 for _ in pairs(fired) do n = n + 1 end return n end)
local calls = {
    ["sleep huge"] = function() smpp.sleep(1e17) end,
    ["sleep inf"] = function() smpp.sleep(math.huge) end,
    ["sleep nan"] = function() smpp.sleep(0 / 0) end,
    ["sleep negative"] = function() smpp.sleep(-1) end,
    ["after huge"] = function() smpp.after(1e300, function() fired["after huge"] = true end) end,
    ["after inf"] = function() smpp.after(math.huge, function() end) end,
    ["every huge"] = function() smpp.every(1e17, function() fired["every huge"] = true end) end,
    ["every inf"] = function() smpp.every(math.huge, function() end) end,
    ["every negative"] = function() smpp.every(-5, function() end) end,
    ["wait inf"] = function() smpp.wait(function() end, math.huge) end,
    ["wait huge"] = function() return smpp.wait(function() end, 1e17) end,
    -- a register that finds its item there already wakes its own token
    ["wait self"] = function()
        local a, b = smpp.wait(function(t) assert(smpp.wake(t, "now", 7)) end, 5)
        return tostring(a) .. tostring(b)
    end,
    ["wait self fails"] = function() smpp.wait(function(t) smpp.wake(t, 1) error("register fails") end, 5) end,
}
return {
    submit_sm = function(session, pdu)
        local t = pdu.short_message
        if t == "fired" then return S.ESME_ROK, { message_id = tostring(next(fired)) } end
        local ok, err = pcall(calls[t])
        -- the error names the script's line: kept out of the 64 octets of a message_id
        if not ok then assert(tostring(err):find("script.lua:%d+: ")) end
        return S.ESME_ROK, { message_id = ok and (err or "returned") or tostring(err):gsub("^.-:%d+: ", ""):sub(1, 64) }
    end,
}
]] }
        c = bound(srv)
    end)

    for _, case in ipairs { "sleep inf", "sleep nan", "sleep negative", "after inf", "every inf",
                            "every negative", "wait inf" } do
        it("refuses " .. case .. " with an error naming the function", function()
            local r, mid = submit(c, case)
            assert.equal(ROK, r.status)
            local fn = "smpp." .. case:match("^%a+")
            assert.truthy(mid:find(fn .. ": the duration must be a finite number of seconds", 1, true), mid)
        end)
    end

    it("returns at once the values of a wake from the wait's own register (it was lost: a timeout)", function()
        local r, mid, took = submit(c, "wait self")
        assert.same({ ROK, "now7" }, { r.status, mid })
        assert.is_true(took < 2, "took " .. took .. " s")
        r, mid = submit(c, "wait self fails")
        assert.same({ ROK, "register fails" }, { r.status, mid })
    end)

    it("waits for a huge duration instead of returning at once", function()
        -- the handlers wait: their answers do not come while others are served
        local sleeper, waiter = bound(srv), bound(srv)
        local s1, s2 = sleeper:next_seq(), waiter:next_seq()
        sleeper:send(wire.submit_sm(s1, { short_message = "sleep huge" }))
        waiter:send(wire.submit_sm(s2, { short_message = "wait huge" }))
        assert.equal(ROK, (submit(c, "after huge")).status)
        assert.equal(ROK, (submit(c, "every huge")).status)
        -- several loop turns later: nothing fired, nobody answered
        for _ = 1, 20 do assert.equal("nil", select(2, submit(c, "fired"))) end
        assert.is_nil(sleeper:read(0.2))
        assert.is_nil(waiter:read(0.2))
    end)
end)
