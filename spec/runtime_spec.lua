-- runtime_spec -- the Lua runtime's contracts with scripts, against the
-- real smppgw binary: waits register and yield in one step (a script that
-- calls a wait primitive of smpp.core and returns cannot leave a wait
-- behind), and a handler's bad return value is answered ESME_RSYSERR with
-- the reason logged.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP
local ROK, RSYSERR = 0, 0x08

-- The script reaches the runtime's own module beneath the sandbox (what
-- this spec tests): scripts.allow = { "debug" } opens the registry to it.
local SCRIPT = [[
local smpp = require "smpp"
local core = debug.getregistry()._LOADED["smpp.core"]
local S = smpp.status
local deliver = { command = "deliver_sm", source_addr = "1", destination_addr = "2", short_message = "raw" }

-- what a wait primitive does when it cannot yield (called through a C function)
local function through_c(fn)
    local ok, err = pcall(string.gsub, "x", "x", fn)
    if ok then return "no error" end
    return tostring(err):match("cannot wait here") and "refused" or tostring(err):sub(1, 60)
end

local returns = {
    ["table then string"] = function() return {}, "x" end,
    ["nil then error"] = function() return nil, "no route" end,
    ["a boolean"] = function() return true end,
    ["a negative status"] = function() return -1 end,
    ["a fractional status"] = function() return 1.5 end,
    ["an unknown status name"] = function() return "ESME_RNOSUCH" end,
    ["status then string"] = function() return S.ESME_ROK, "x" end,
    ["three values"] = function() return S.ESME_ROK, { message_id = "x" }, 1 end,
}

return {
    submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text == "raw send" then
            -- a wait primitive called and the handler returns, no yield of its own
            core.send(session, deliver)
            return S.ESME_ROK, { message_id = "after raw send" }
        elseif text == "raw send result" then
            local r = core.send(session, deliver)
            return S.ESME_ROK, { message_id = "answered " .. tostring(r and r.command_status) }
        elseif text == "raw sleep" then
            core.sleep(10)
            return S.ESME_ROK, { message_id = "slept" }
        elseif text == "raw wait" then
            local a, b = core.suspend(function(token) smpp.after(0.01, function() smpp.wake(token, "woken") end) end)
            local c, d = core.suspend(nil, 10)
            return S.ESME_ROK, { message_id = tostring(a) .. "," .. tostring(b) .. "," .. tostring(c) .. "," .. tostring(d) }
        elseif text == "send in gsub" then
            return S.ESME_ROK, { message_id = through_c(function() core.send(session, deliver) end) }
        elseif text == "sleep in gsub" then
            return S.ESME_ROK, { message_id = through_c(function() core.sleep(10) end) }
        elseif text == "wait in gsub" then
            return S.ESME_ROK, { message_id = through_c(function() smpp.wait(function() end, 0.01) end) }
        elseif text == "status name" then
            return "ESME_RTHROTTLED"
        elseif returns[text] then
            return returns[text]()
        end
        return S.ESME_ROK, { message_id = "ok" }
    end,
    deliver_sm = function() return S.ESME_ROK end,
}
]]

local CONF = [[return { script = 'script.lua', scripts = { allow = { "debug" } },
    accounts = { { system_id = 'smppclient1', password = 'password' } } }]]

local function start()
    return server.start { conf = CONF, script = SCRIPT }
end

local function stop(srv)
    if not srv then return end
    if not srv:stop("TERM", 5) then srv:kill() end
    os.execute("rm -rf '" .. srv.dir .. "'")
end

local function bound(srv)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind("transceiver").status)
    return c
end

-- submit_sm with this text; answers every deliver_sm on the way (counted)
local function submit(c, text)
    local seq = c:next_seq()
    local delivered = 0
    c:send(wire.submit_sm(seq, { short_message = text }))
    while true do
        local p = assert(c:read())
        if p.id == id.deliver_sm then
            delivered = delivered + 1
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        elseif p.id == RESP + id.submit_sm and p.seq == seq then
            return p, wire.first_cstr(p.body) or "", delivered
        end
    end
end

describe("#integration waits yield from C", function()
    it("a handler calling smpp.core's send and returning gets the response, and the process keeps serving", function()
        local srv = start()
        finally(function() stop(srv) end)
        local c = bound(srv)
        for i = 1, 20 do
            local r, mid, delivered = submit(c, "raw send")
            assert.equal(ROK, r.status)
            assert.equal("after raw send", mid)
            assert.equal(1, delivered)
            r, mid = submit(c, "plain " .. i)
            assert.equal(ROK, r.status)
            assert.equal("ok", mid)
        end
        c:close()
        assert.is_true(srv:stop("TERM", 5))
        assert.truthy(srv:wait_log("exit=0", 5))
    end)

    it("send, sleep and wait of smpp.core suspend the handler and return what it waited for", function()
        local srv = start()
        finally(function() stop(srv) end)
        local c = bound(srv)
        local _, mid, delivered = submit(c, "raw send result")
        assert.equal("answered 0", mid)
        assert.equal(1, delivered)
        _, mid = submit(c, "raw sleep")
        assert.equal("slept", mid)
        _, mid = submit(c, "raw wait")
        assert.equal("woken,nil,nil,timeout", mid)
        c:close()
    end)

    it("a wait called through a C function is refused before anything is registered", function()
        local srv = start()
        finally(function() stop(srv) end)
        local c = bound(srv)
        for _, what in ipairs { "send in gsub", "sleep in gsub", "wait in gsub" } do
            local r, mid, delivered = submit(c, what)
            assert.equal(ROK, r.status)
            assert.equal("refused", mid, what)
            assert.equal(0, delivered, what)      -- nothing was sent
        end
        local r, mid = submit(c, "after the refusals")
        assert.equal(ROK, r.status)
        assert.equal("ok", mid)
        c:close()
        assert.is_true(srv:stop("TERM", 5))
        assert.truthy(srv:wait_log("exit=0", 5))
    end)
end)

describe("#integration handler return values", function()
    local srv, c
    setup(function()
        srv = start()
        c = bound(srv)
    end)
    teardown(function()
        if c then c:close() end
        stop(srv)
    end)

    local bad = { "table then string", "nil then error", "a boolean", "a negative status",
                  "a fractional status", "an unknown status name", "status then string", "three values" }
    for _, what in ipairs(bad) do
        it("answers ESME_RSYSERR for " .. what .. ", with the reason logged", function()
            local before = srv:count_log("bad return value")
            local r = submit(c, what)
            assert.equal(RSYSERR, r.status)
            assert.equal(16, r.len)
            assert.truthy(srv:wait_log("submit_sm failed: bad return value", 5))
            assert.equal(before + 1, srv:count_log("bad return value"))
        end)
    end

    it("names the values in the log line", function()
        submit(c, "table then string")
        assert.truthy(srv:wait_log('bad return value %(table, "x"%)', 5))
        submit(c, "nil then error")
        assert.truthy(srv:wait_log('bad return value %(nil, "no route"%)', 5))
    end)

    it("still takes a status name, and a status with fields", function()
        local r = submit(c, "status name")
        assert.equal(0x58, r.status)
        local r2, mid = submit(c, "plain")
        assert.equal(ROK, r2.status)
        assert.equal("ok", mid)
    end)
end)

describe("#integration the end of the loop", function()
    it("exits 0 with every handle closed after sessions, listeners, HTTP, timers and waits were used", function()
        local http = require "socket.http"
        local srv = server.start { script = [[
local smpp = require "smpp"
local S = smpp.status
local ticks = 0
return {
    start = function()
        smpp.every(0.02, function() ticks = ticks + 1 end)      -- a repeating timer
        smpp.after(3600, function() end)                         -- one that never fires
        smpp.after(0, function() smpp.sleep(3600) end)           -- a task asleep at the end
        smpp.after(0, function() smpp.wait(function() end) end)  -- one waiting for nobody
        smpp.after(0, function() smpp.wait(function() end, 3600) end)
    end,
    submit_sm = function(session, pdu)
        smpp.sleep(0.01)
        return S.ESME_ROK, { message_id = "t" .. ticks }
    end,
}
]] }
        finally(function() stop(srv) end)
        local a, b = bound(srv), bound(srv)
        for i = 1, 5 do
            local r = submit(a, "m" .. i)
            assert.equal(ROK, r.status)
        end
        b:close()                                  -- one session gone before the end
        for _, path in ipairs { "/stats", "/metrics", "/nosuch" } do
            local body, code = http.request("http://127.0.0.1:" .. srv.http_port .. path)
            assert.truthy(body, path)
            assert.truthy(code == 200 or code == 404, path)
        end
        os.execute("kill -TERM " .. srv.pid)
        local u = assert(a:expect(function(p) return p.id == id.unbind end))   -- `a` is still bound
        a:send(wire.pdu(RESP + id.unbind, u.seq))
        assert.truthy(srv:wait_log("exit=%d+", 10), srv:log_text())
        assert.equal(0, srv:exit_code())
        local log = srv:log_text()
        assert.truthy(log:match("totals: "))
        assert.is_nil(log:match("still open"), log)
        assert.is_nil(log:match("did not close"), log)
        a:close()
    end)
end)

describe("#integration upstream host names", function()
    -- names this machine maps to 127.0.0.1 in /etc/hosts, besides localhost
    local function local_names()
        local names = {}
        local f = io.open("/etc/hosts")
        if not f then return names end
        for line in f:lines() do
            local addr, rest = line:match("^%s*(127%.0%.0%.1)%s+([^#]+)")
            if addr then
                for name in rest:gmatch("%S+") do
                    if name ~= "localhost" then names[#names + 1] = name end
                end
            end
        end
        f:close()
        return names
    end

    it("resolves names at connect (localhost and /etc/hosts names), and names one that does not resolve", function()
        local smsc = start()
        local names = { "localhost" }
        for _, n in ipairs(local_names()) do names[#names + 1] = n end
        names[#names + 1] = "nosuch.invalid"
        local quoted = {}
        for i, n in ipairs(names) do quoted[i] = string.format("%q", n) end
        local gw
        finally(function()
            stop(gw)
            stop(smsc)
        end)
        gw = server.start {
            conf = "return { script = 'script.lua', smsc = { port = " .. smsc.port .. ", names = { "
                .. table.concat(quoted, ", ") .. " } } }",
            script = [[
local smpp = require "smpp"
local conf = ...
return {
    start = function()
        for _, name in ipairs(conf.smsc.names) do
            local s, err, detail = smpp.connect { host = name, port = conf.smsc.port, system_id = "smppclient1",
                                          password = "password", bind = "tx" }
            if s then
                smpp.log("info", "connect %s: bound to %s", name, s.remote)
                s:unbind()
            else
                smpp.log("warn", "connect %s: failed: %s (%s)", name, tostring(err), tostring(detail))
            end
        end
        smpp.log("info", "connects done")
    end,
}
]] }
        assert.truthy(gw:wait_log("connects done", 15), gw:log_text())
        local log = gw:log_text()
        for i = 1, #names - 1 do
            assert.truthy(log:find("connect " .. names[i] .. ": bound to 127.0.0.1:" .. smsc.port, 1, true),
                names[i] .. "\n" .. log)
        end
        assert.truthy(log:find("connect nosuch.invalid: failed: resolve (cannot resolve host 'nosuch.invalid'", 1, true), log)
        -- identical lines of other sessions are counted: the count comes out at exit
        assert.is_true(smsc:stop("TERM", 5))
        local binds = 0
        for line in smsc:log_text():gmatch("[^\n]+") do
            if line:find("bound smppclient1 as BOUND_TX", 1, true) then
                binds = binds + tonumber(line:match("repeated (%d+) more times") or 1)
            end
        end
        assert.equal(#names - 1, binds)
    end)
end)
