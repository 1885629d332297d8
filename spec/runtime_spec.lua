-- runtime_spec -- the Lua runtime's contracts with scripts, against the
-- real smppgw binary: waits register and yield in one step (a script that
-- calls a wait primitive of smpp.core and returns cannot leave a wait
-- behind), and a handler's bad return value is answered ESME_RSYSERR with
-- the reason logged.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP
local ROK, RSYSERR = 0, 0x08

local SCRIPT = [[
local smpp = require "smpp"
local core = require "smpp.core"
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

local function start()
    return server.start { script = SCRIPT }
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
