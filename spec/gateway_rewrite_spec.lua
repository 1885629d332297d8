-- gateway_rewrite_spec -- a submit_sm whose table a script changed is
-- stored and forwarded as changed, whichever field it changed and however
-- (before_route, or a handler of its own around the gateway's): only a
-- table that still says exactly what the ESME sent is stored as the
-- octets it came in (core.gw_queue compares the two field by field and
-- counts its keys). One message per change; the spec plays the upstream
-- and reads what reaches it, and reads the store file.
local wire = require "helpers.wire"
local park = require "helpers.park"
local server = require "helpers.server"
local store = require "smpp.store"
local codec = require "smpp.codec"

local id, RESP = wire.id, wire.RESP
local ROK = 0

-- Each body field of submit_sm, a value that differs from what the ESME
-- sends, the same as the script below sets (by the message's text).
local CHANGES = {
    service_type = "CMT", source_addr_ton = 5, source_addr_npi = 9, source_addr = "4479",
    dest_addr_ton = 2, dest_addr_npi = 8, destination_addr = "447700900999", esm_class = 1,
    protocol_id = 7, priority_flag = 2, schedule_delivery_time = "000001000000000R",
    validity_period = "000002000000000R", registered_delivery = 1, replace_if_present_flag = 1,
    data_coding = 3, sm_default_msg_id = 4, short_message = "changed by the script",
}

local SCRIPT = [[
local gw = require("smpp.gateway_script").new(...)
local changes = {
    service_type = "CMT", source_addr_ton = 5, source_addr_npi = 9, source_addr = "4479",
    dest_addr_ton = 2, dest_addr_npi = 8, destination_addr = "447700900999", esm_class = 1,
    protocol_id = 7, priority_flag = 2, schedule_delivery_time = "000001000000000R",
    validity_period = "000002000000000R", registered_delivery = 1, replace_if_present_flag = 1,
    data_coding = 3, sm_default_msg_id = 4, short_message = "changed by the script",
}
function gw.before_route(m)
    local what = m.pdu.short_message:match("^set (.+)$")
    if what == "a tlv" then
        m.pdu.user_message_reference = 77                -- a key added
    elseif what == "a tlv for a field" then
        m.pdu.protocol_id = nil                          -- as many keys as before, one of them new
        m.pdu.user_message_reference = 78
    elseif what then
        m.pdu[what] = changes[what]
    end
end
local submit = gw.handlers.submit_sm
gw.handlers.submit_sm = function(session, pdu)           -- a change before the gateway's handler
    if pdu.short_message == "wrapped" then pdu.source_addr = "4400" end
    return submit(session, pdu)
end
return gw.handlers
]]

-- The fields of a submit_sm as the ESME sends it below (wire.submit_sm's
-- defaults), with one field changed.
local function expected(text, field, value)
    local f = { service_type = "", source_addr_ton = 0, source_addr_npi = 0, source_addr = "1234",
                dest_addr_ton = 1, dest_addr_npi = 1, destination_addr = "447700900123", esm_class = 0,
                protocol_id = 0, priority_flag = 0, schedule_delivery_time = "", validity_period = "",
                registered_delivery = 0, replace_if_present_flag = 0, data_coding = 0, sm_default_msg_id = 0,
                short_message = text }
    if field then f[field] = value end
    f.sm_length = #f.short_message
    return f
end

describe("#integration a submit_sm the script changed", function()
    it("is stored and forwarded as changed, for every field, a key added, and a change before the handler",
        function()
        -- the cases: text sent, field changed to value (nil: none), TLV expected
        local cases = { { text = "as sent" }, { text = "wrapped", field = "source_addr", value = "4400" } }
        local names = {}
        for name in pairs(CHANGES) do names[#names + 1] = name end
        table.sort(names)
        for _, name in ipairs(names) do
            local text = "set " .. name
            cases[#cases + 1] = { text = text, field = name, value = CHANGES[name] }
        end
        cases[#cases + 1] = { text = "set a tlv", tlv = 77 }
        cases[#cases + 1] = { text = "set a tlv for a field", tlv = 78 }

        local l, port = wire.listen()
        l:settimeout(10)
        local gw = server.start {
            script = SCRIPT,
            conf = "return " .. server.lua {
                script = "script.lua", store = { path = "gw.db" },
                accounts = { { system_id = "esme1", password = "pw1" } },
                upstreams = { { name = "A", port = port, system_id = "gw", password = "gwpw" } },
                gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } },
            },
        }
        local up = park.accept_bind(l)
        local c = park.esme(gw)
        for i, case in ipairs(cases) do
            c:send(wire.submit_sm(100 + i, { short_message = case.text }))
            local r = assert(c:expect(function(p) return p.seq == 100 + i and p.id == RESP + id.submit_sm end, 5))
            assert.equal(ROK, r.status, case.text)
        end
        -- what reached the upstream, by the text it was sent with
        local sent = {}
        for i = 1, #cases do
            local p = assert(up:expect(function(q) return q.id == id.submit_sm end, 10), "not forwarded")
            up:send(wire.pdu(RESP + id.submit_sm, p.seq, wire.cstr("u" .. i)))
            local d = assert(codec.decode(wire.pdu(id.submit_sm, p.seq, p.body)))
            sent[#sent + 1] = d
        end
        local st = assert(store.open { path = gw.dir .. "/gw.db" })
        local ok, list = pcall(st.list, st, { account = "esme1", limit = 100 })
        st:close()
        assert(ok, list)
        assert.equal(#cases, #list)

        local function find(t, case)
            local want = expected(case.text, case.field, case.value)
            for _, d in ipairs(t) do
                local same = true
                for k, v in pairs(want) do
                    if d[k] ~= v then same = false break end
                end
                if same and d.user_message_reference == case.tlv then return d end
            end
        end
        local stored = {}
        for i, r in ipairs(list) do stored[i] = assert(codec.decode(r.pdu)) end
        for _, case in ipairs(cases) do
            assert(find(stored, case), "not stored as changed: " .. case.text)
            assert(find(sent, case), "not forwarded as changed: " .. case.text)
        end
        -- only the message no one changed went as the octets it came in
        assert.equal(1, gw:stats().gateway.stored_as_received)
    end)
end)
