-- sandbox_upstream_spec -- what a script gets from smpp.upstream: get(name)
-- and link_of(session) give a read-only description of the link (name,
-- state, binds, binds_up, outstanding, window, paused, usable, removed,
-- last_error) and its send, never the link the gateway sends through. A
-- script that wrote its slots away (or called its internal methods)
-- stopped every message of that upstream; the runtime's handlers of the
-- link (on_down, on_outbind, configure) are not the script's to call.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
local UPSTREAM = [[
    local smpp = require "smpp"
    return { submit_sm = function(_, pdu)
        smpp.log("info", "took %s", pdu.short_message)
        return 0, { message_id = pdu.short_message }
    end }]]

-- The gateway's script, with a before_route hook that, for the text
-- "poke", tries to break link U through what smpp.upstream gives it and
-- refuses that message with ESME_RX_R_APPN, logging what it found.
local SCRIPT = [[
local gw = require("smpp.gateway_script").new(...)
local smpp = require "smpp"
local upstream = require "smpp.upstream"
local function tried(f) return (pcall(f)) and "worked" or "refused" end
function gw.before_route(m)
    if m.pdu.short_message == "sends" then
        -- only the requests about messages go through a link's view
        local l = upstream.get("U")
        for _, p in ipairs { { command = "unbind" }, { command = "generic_nack" }, { command_id = 6 },
                             { command = "enquire_link" }, { command = "submit_sm_resp", message_id = "1" },
                             { command = "bind_transceiver", system_id = "x", password = "y" },
                             { command = "submit_sm", command_id = 6, short_message = "x" } } do
            local ok, err = pcall(l.send, l, p)
            smpp.log("info", "send %s=%s", tostring(p.command or p.command_id), ok and "sent" or tostring(err))
        end
        local resp = l:send { command = "submit_sm", destination_addr = "1", short_message = "through the view" }
        smpp.log("info", "sends: through the view submit_sm=%s", tostring(resp and resp.command_status))
        return "ESME_RX_R_APPN"
    end
    if m.pdu.short_message ~= "poke" then return nil end
    local l = upstream.get("U")
    local out = { "view=" .. table.concat({ tostring(l.name), tostring(l.state), tostring(l.binds),
        tostring(l.binds_up), tostring(l.window), tostring(l.usable), tostring(l.removed), tostring(l.outstanding) }, "/"),
        "slots=" .. tried(function() l.slots = nil end),
        "state=" .. tried(function() l.state = "up" end),
        "send=" .. tried(function() l.send = nil end),
        "rawset=" .. tried(function() rawset(l, "slots", false) end),
        "maintain=" .. tostring(l.maintain), "remove=" .. tostring(l.remove), "conf=" .. tostring(l.conf),
        "on_down=" .. tried(function() upstream.on_down(m.session or {}, "x") end),
        "configure=" .. tried(function() upstream.configure({}) end),
        "fresh=" .. tostring(upstream.get("U").slots) .. "/" .. tostring(upstream.get("nope")),
    }
    smpp.log("info", "poked: %s", table.concat(out, " "))
    return "ESME_RX_R_APPN"
end
return gw.handlers
]]

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { short_message = text }))
    return assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 10))
end

describe("#integration smpp.upstream in a script", function()
    for _, policy in ipairs { "upstream", "own" } do
        it("gives a read-only description of a link; the link stays whole (message_id " .. policy .. ")",
            function()
            local up = server.start { conf = UP_CONF, script = UPSTREAM }
            local gw = server.start { conf = "return " .. server.lua {
                script = "script.lua",
                accounts = { { system_id = "esme1", password = "pw1" } },
                upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw", window = 7 } },
                gateway = { message_id = policy, routes = { { name = "all", prefix = "", to = { "U" } } } },
            }, script = SCRIPT }
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = wire.connect(gw.port)
            assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
            assert.equal(0x66, submit(c, "poke").status)          -- ESME_RX_R_APPN
            local line = gw:wait_log("poked: ", 5)
            assert.truthy(line, gw:log_text())
            local text = gw:log_text()
            assert.matches("view=U/up/1/1/7/true/false/0 slots=refused state=refused send=refused rawset=refused "
                .. "maintain=nil remove=nil conf=nil on_down=refused configure=refused "
                .. "fresh=nil/nil", text, 1, true)
            -- the link still sends
            for i = 1, 3 do
                assert.equal(0, submit(c, "after " .. i).status)
                assert.truthy(up:wait_log("took after " .. i, 5), gw:log_text())
            end
            local st = gw:stats()
            local u
            for _, x in ipairs(st.upstreams) do if x.name == "U" then u = x end end
            assert.equal("up", u.state)
        end)
    end

    it("sends only the requests about messages through a link's view; others raise", function()
        local up = server.start { conf = UP_CONF, script = UPSTREAM }
        local gw = server.start { conf = "return " .. server.lua {
            script = "script.lua",
            accounts = { { system_id = "esme1", password = "pw1" } },
            upstreams = { { name = "U", port = up.port, system_id = "gw", password = "gwpw" } },
            gateway = { routes = { { name = "all", prefix = "", to = { "U" } } } },
        }, script = SCRIPT }
        local c
        finally(function() if c then c:close() end gw:stop() up:stop() end)
        assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
        c = wire.connect(gw.port)
        assert.equal(0, c:bind("transceiver", "esme1", "pw1").status)
        assert.equal(0x66, submit(c, "sends").status)
        local line = gw:wait_log("sends: ", 5)
        assert.truthy(line, gw:log_text())
        local text = gw:log_text()
        for _, cmd in ipairs { "unbind", "generic_nack", "6", "enquire_link", "submit_sm_resp", "bind_transceiver",
                               "submit_sm" } do                 -- the last: command and command_id disagree
            assert.matches("send " .. cmd .. "=[^\n]*a link's send takes submit_sm, data_sm, query_sm, cancel_sm, "
                .. "replace_sm or submit_multi, not " .. cmd .. "\n", text)
        end
        assert.matches("sends: through the view submit_sm=0", text)
        assert.truthy(up:wait_log("took through the view", 5))
        -- the link was neither unbound nor rebound: it still sends on its first bind
        assert.equal(0, submit(c, "after").status)
        assert.truthy(up:wait_log("took after", 5), gw:log_text())
        assert.is_nil(gw:log_text():find("upstream U: bind 2 up", 1, true), gw:log_text())
        assert.is_nil(up:log_text():find("unbind", 1, true), up:log_text())
    end)
end)
