-- scripts_spec -- scripts that misbehave: runaway loops stopped by the
-- budget, the Lua heap ceiling, the sandbox, accidental globals. Every way
-- out and every runaway kind is in containment_spec.lua and sandbox_spec.lua.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local scaled = require("helpers.wait").scaled

local id, RESP = wire.id, wire.RESP

local SCRIPT = [[
local smpp = require "smpp"
leaked = 1                                   -- an accidental global
return {
    submit_sm = function(session, pdu)
        local t = pdu.short_message
        if t == "loop" then while true do end end
        if t == "count" then local x = 0 for i = 1, 1e9 do x = x + i end end
        if t == "memory" then
            local hog = {}
            for i = 1, 1e7 do hog[i] = tostring(i) .. "........................................" end
        end
        return 0, { message_id = "ok" }
    end,
}
]]

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = text }))
    return assert(c:expect(function(p) return p.seq == seq end, 10))
end

describe("#integration script budget", function()
    it("stops a handler that loops forever, answers ESME_RSYSERR and serves on", function()
        local srv = server.start { conf = [[return { script = 'script.lua',
            accounts = { { system_id = 'smppclient1', password = 'password' } },
            scripts = { budget_ms = 200, memory_mb = 256 } }]], script = SCRIPT }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        local other = wire.connect(srv.port)
        assert.equal(0, other:bind("transceiver").status)
        local t0 = wire.gettime()
        assert.equal(0x08, submit(c, "loop").status)             -- ESME_RSYSERR
        assert.is_true(wire.gettime() - t0 < scaled(2))
        assert.equal(0, submit(other, "fine").status)            -- another session still served
        assert.equal(0, submit(c, "fine").status)                -- and this one goes on
        assert.is_true(srv:wait_log("script budget exceeded: ran longer than 200 ms"), srv:log_text())
        assert.is_true(srv:wait_log("script%.lua:2 sets the global 'leaked'"))
        c:close()
        other:close()
        assert.is_true(srv:stop("TERM", 5))
    end)

    it("fails a handler that passes the Lua heap ceiling, not the process", function()
        local srv = server.start { conf = [[return { script = 'script.lua',
            accounts = { { system_id = 'smppclient1', password = 'password' } },
            scripts = { budget_ms = 0, memory_mb = 16 } }]], script = SCRIPT }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        assert.equal(0x08, submit(c, "memory").status)
        assert.equal(0, submit(c, "fine").status)
        assert.is_true(srv:wait_log("memory ceiling exceeded: the Lua heap reached scripts.memory_mb %(16 MiB%)"),
            srv:log_text())
    end)

    it("stops a handler past its instruction budget", function()
        local srv = server.start { conf = [[return { script = 'script.lua',
            accounts = { { system_id = 'smppclient1', password = 'password' } },
            scripts = { budget_ms = 0, budget_instructions = 1e6 } }]], script = SCRIPT }
        local c = wire.connect(srv.port)
        assert.equal(0, c:bind("transceiver").status)
        assert.equal(0x08, submit(c, "count").status)
        assert.equal(0, submit(c, "fine").status)
        assert.is_true(srv:wait_log("more than 1000000 instructions"))
    end)
end)

describe("#integration script sandbox", function()
    local function check(script, conf_extra)
        local dir = tmp.dir()
        tmp.write(dir .. "/script.lua", script)
        tmp.write(dir .. "/conf.lua", "return { script = 'script.lua' " .. (conf_extra or "") .. " }")
        return run.smppgw({ "check", dir .. "/conf.lua" })
    end

    it("has no io, os.execute, debug or loadfile unless allowed", function()
        local _, err, rc = check("io.open('/etc/passwd') return {}")
        assert.equal(1, rc)
        assert.matches("undeclared global 'io'", err)
        _, err, rc = check("os.execute('true') return {}")
        assert.equal(1, rc)
        assert.matches("os.execute is not available to scripts", err)
        _, err, rc = check("local d = require 'debug' return {}")
        assert.equal(1, rc)
        assert.matches("not allowed in scripts", err)
        _, err, rc = check("assert(loadfile, 'no loadfile') return {}")
        assert.equal(1, rc)
        assert.matches("undeclared global 'loadfile'", err)
        local _, err2, rc2 = check("assert(io.open) return {}", ", scripts = { allow = { 'io' } }")
        assert.equal(0, rc2, err2)
        _, err, rc = check("return { submit_sm = function() return os.time() end }")
        assert.equal(0, rc, err)                             -- the safe half of os stays
    end)
end)
