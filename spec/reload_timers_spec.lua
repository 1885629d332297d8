-- reload_timers_spec -- a reload that works cancels the previous script's
-- repeating timers (smpp.every): its start makes them again, so they
-- never run twice side by side, and what only they keep is freed (a heap
-- filled from a timer's closure no longer needs a restart). A reload
-- that fails leaves the running script's timers alone and cancels what
-- the failed load made.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local scaled = wait.scaled
local ROK, RSYSERR = 0, 0x08
local CONF = "return { script = 'script.lua', log = { repeat_window = 0 }, "
    .. "accounts = { { system_id = 'smppclient1', password = 'password' } }%s }"

-- a script whose start ticks every 20 ms, each line naming its version
local function ticking(v)
    return string.format([[
local smpp = require "smpp"
return {
    start = function() smpp.every(0.02, function() smpp.log("info", "tick %s") end) end,
    submit_sm = function() return 0, { message_id = "%s" } end,
}
]], v, v)
end

-- the versions that ticked in the log after its first `from` octets
local function ticked_after(srv, from)
    local seen = {}
    for v in srv:log_text():sub(from + 1):gmatch("tick (v%d+)") do seen[v] = (seen[v] or 0) + 1 end
    return seen
end

local function reload(srv, n)
    srv:signal("HUP")
    assert.is_true(wait.wait_until(function() return srv:count_log("reloaded ") >= n end, scaled(10)),
        srv:log_text())
end

describe("#integration a reload and the script's timers", function()
    it("cancels the previous script's smpp.every timers: one runs after each reload", function()
        local srv = server.start { conf = CONF:format(""), script = ticking("v1") }
        assert.truthy(srv:wait_log("tick v1"), srv:log_text())
        for n, v in ipairs { "v2", "v3" } do
            srv:write("script.lua", ticking(v))
            reload(srv, n)
            assert.truthy(srv:wait_log("tick " .. v), srv:log_text())
        end
        assert.equal(2, srv:count_log("reload: 1 repeating timer of the previous script cancelled"))
        -- from v3's first tick on, ten ticks of v3 and none of another version
        local from = srv:log_text():find("tick v3", 1, true)
        assert.is_true(wait.wait_until(function() return (ticked_after(srv, from).v3 or 0) >= 10 end, scaled(10)))
        local seen = ticked_after(srv, from)
        assert.is_nil(seen.v1)
        assert.is_nil(seen.v2)
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)

    it("refuses a repeating timer to the old script's code still running after the reload", function()
        -- a task of the old script that goes on after the reload (a loop,
        -- a request waiting): each 20 ms it makes an smpp.every and cancels it
        local srv = server.start { conf = CONF:format(""), script = [[
local smpp = require "smpp"
return {
    start = function()
        smpp.after(0, function()
            local made = 0
            while true do
                local t, err = smpp.every(10, function() end)
                if not t then
                    smpp.log("info", "old code after %d: smpp.every -> %s", made, tostring(err))
                    return
                end
                made = made + 1
                if made == 3 then smpp.log("info", "old code made 3") end
                smpp.cancel(t)
                smpp.sleep(0.02)
            end
        end)
    end,
}
]] }
        assert.truthy(srv:wait_log("old code made 3"), srv:log_text())
        srv:write("script.lua", ticking("v2"))
        reload(srv, 1)
        assert.truthy(srv:wait_log("old code after %d+: smpp.every %-> reloaded"), srv:log_text())
        -- the new script's own are made as always
        assert.truthy(srv:wait_log("tick v2"), srv:log_text())
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)

    it("a failed reload leaves the running script's timer and cancels the one its load made", function()
        local srv = server.start { conf = CONF:format(""), script = ticking("v1") }
        assert.truthy(srv:wait_log("tick v1"), srv:log_text())
        srv:write("script.lua", [[
local smpp = require "smpp"
smpp.every(0.01, function() smpp.log("info", "tick v9") end)
error("this script does not load")
]])
        srv:signal("HUP")
        assert.truthy(srv:wait_log("reload failed"), srv:log_text())
        local from = #srv:log_text()
        assert.is_true(wait.wait_until(function() return (ticked_after(srv, from).v1 or 0) >= 10 end, scaled(10)),
            srv:log_text())
        assert.equal(0, srv:count_log("tick v9"))
        assert.equal(0, srv:count_log("repeating timer"))
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)

    it("a heap filled through a timer's closure is freed by a reload to a script that works", function()
        local srv = server.start { conf = CONF:format(", scripts = { memory_mb = 16 }"), script = [[
local smpp = require "smpp"
local keep = {}
return {
    start = function() smpp.every(0.2, function() keep[#keep + 1] = #keep end) end,
    submit_sm = function(session, pdu)
        for i = 1, 100000 do keep[#keep + 1] = { i, i + 1 } end
        return 0, { message_id = tostring(#keep) }
    end,
}
]] }
        local c = wire.connect(srv.port)
        assert.equal(ROK, c:bind("transceiver").status)
        local function submit()
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { short_message = "x" }))
            local p = assert(c:expect(function(r) return r.seq == seq end, 15))
            return p.status, wire.first_cstr(p.body) or ""
        end
        local refused = 0
        for _ = 1, 8 do
            if submit() == RSYSERR then refused = refused + 1 end
        end
        assert.is_true(refused >= 3, "runs past 16 MiB stopped: " .. refused)
        srv:write("script.lua", "return { submit_sm = function() return 0, { message_id = 'v2' } end }")
        srv:signal("HUP")
        assert.truthy(srv:wait_log("handlers and repeating timers are let go before the new one loads"),
            srv:log_text())
        assert.truthy(srv:wait_log("reloaded "), srv:log_text())
        local status, id = submit()
        assert.equal(ROK, status)
        assert.equal("v2", id)
        assert.is_true(srv:stats().totals.lua_heap_bytes < 8 * 1024 * 1024)
        c:close()
        assert.is_true(srv:stop("TERM", scaled(5)))
        assert.equal(0, srv:wait_exit())
    end)
end)
