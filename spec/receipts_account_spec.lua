-- receipts_account_spec -- one SMSC account bound by two upstream entries,
-- whose SMSC delivers every receipt on the other entry's session: the
-- entries form one receipt group (automatically when they share host, port
-- and system_id; by naming one smsc_account otherwise), so each receipt
-- reaches the ESME with its message's id and state, also one that comes
-- before its message's answer, counted under the entry that sent the
-- message. Entries of different accounts still do not cross. `smppgw
-- check` refuses a group whose id formats differ.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local scripts = require "helpers.upstream_scripts"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' }, { system_id = 'gw2', password = 'gwpw' } } }]]

-- upstreams A ... B (or C); messages to 1... go through A, to 2... through the last one
local function gateway_conf(policy, upstreams)
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = upstreams,
        gateway = { message_id = policy, routes = { { name = "a", prefix = "1", to = { "A" } },
                                                    { name = "b", prefix = "2", to = { upstreams[#upstreams].name } } } },
    }
end

local function submit(c, dest, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, destination_addr = dest, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

local function start(policy, upstreams)
    local up = server.start { conf = UP_CONF, script = scripts.other_session }
    for _, u in ipairs(upstreams) do u.port, u.password = up.port, "gwpw" end
    local gw = server.start { conf = gateway_conf(policy, upstreams) }
    for _, u in ipairs(upstreams) do
        assert.truthy(gw:wait_log("upstream " .. u.name .. ": bind 1 up", 10), gw:log_text())
    end
    local rx = wire.connect(gw.port)
    assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
    local tx = wire.connect(gw.port)
    assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
    return up, gw, rx, tx
end

describe("#integration receipts of one SMSC account bound by two upstream entries", function()
    local cases = {
        { "same host, port and system_id", "own",
          { { name = "A", system_id = "gw" }, { name = "B", system_id = "gw" } } },
        { "one smsc_account named", "upstream", { { name = "A", system_id = "gw", smsc_account = "acct" },
                                                  { name = "B", system_id = "gw2", smsc_account = "acct" } } },
        -- B's receipts come on Arx, whose receipts_for names A: looked up under A, then B
        { "a receiver link's receipts_for naming one of them", "own",
          { { name = "A", system_id = "gw", bind = "tx" },
            { name = "Arx", system_id = "gw", bind = "rx", receipts_for = "A" },
            { name = "B", system_id = "gw" } } },
    }
    for _, case in ipairs(cases) do
        local what, policy, upstreams = case[1], case[2], case[3]
        it("reach the ESME when each comes on the other entry's session (" .. what .. ", message_id "
            .. policy .. ")", function()
            local up, gw, rx, tx = start(policy, upstreams)
            finally(function() rx:close() tx:close() gw:stop() up:stop() end)
            local want = {}
            for _, m in ipairs { { "100", "a1" }, { "101", "early a2 undeliv" }, { "200", "b1 undeliv" },
                                 { "201", "early b2" } } do
                want[submit(tx, m[1], m[2])] = m[2]
            end
            for _ = 1, 4 do
                local p = assert(rx:expect(function(q) return q.id == id.deliver_sm end, 10), "a receipt is missing")
                rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
                local d = wire.parse_sm(p.body)
                local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
                local text = want[rid]
                assert.is_not_nil(text, "a receipt for " .. rid)
                assert.matches("^id:" .. rid:gsub("%p", "%%%0") .. " ", d.short_message)
                local undeliv = text:find("undeliv", 1, true) ~= nil
                assert.matches(undeliv and "stat:UNDELIV" or "stat:DELIVRD", d.short_message)
                assert.equal(undeliv and "\5" or "\2", d.tlvs[0x0427])
                want[rid] = nil
            end
            assert.is_nil(next(want))
            local q = gw:stats().gateway.queues
            assert.equal(2, q.A.receipts)           -- under the entry that sent the message
            assert.equal(2, q.B.receipts)
            assert.equal(1, q.A.receipts_early_matched)
            assert.equal(1, q.B.receipts_early_matched)
            assert.equal(0, q.A.receipts_unmatched + q.B.receipts_unmatched)
            assert.equal(0, gw:stats().store.early.value)
        end)
    end

    it("do not cross to an entry of another account", function()
        local up, gw, rx, tx = start("own", { { name = "A", system_id = "gw" }, { name = "C", system_id = "gw2" } })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        submit(tx, "100", "a1")
        -- its receipt comes on C's session: C waits for a message of its own with that id
        assert.truthy(require("helpers.wait").wait_until(function()
            return gw:stats().gateway.queues.C.receipts_early == 1
        end, 10), gw:log_text())
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.receipts)
        assert.equal(0, q.C.receipts)
        assert.equal(1, gw:stats().store.early.value)
        assert.is_nil(rx:expect(function(p) return p.id == id.deliver_sm end, 0.3))
    end)
end)

describe("#integration smppgw check and receipt groups", function()
    local function conf(upstreams, store)
        return tmp.write(tmp.dir() .. "/conf.lua", "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", store = store or { path = ":memory:" },
            upstreams = upstreams, gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } } })
    end

    it("takes two entries of one account, and refuses them with different id formats", function()
        local out, err, rc = run.smppgw { "check", conf {
            { name = "A", port = 2, system_id = "x" }, { name = "B", port = 2, system_id = "x" } } }
        assert.equal(0, rc, out .. err)
        assert.is_nil(out:find("warning", 1, true), out)
        out, err, rc = run.smppgw { "check", conf {
            { name = "A", port = 2, system_id = "x", smsc_account = "acct" },
            { name = "C", port = 3, system_id = "y" },
            { name = "B", port = 4, system_id = "z", smsc_account = "acct", id_format = { resp = "hex" } } } }
        assert.are_not.equal(0, rc, out .. err)
        assert.matches('upstreams%[3%]%.id_format: "B" %(resp hex, receipt hex, tlv hex%) shares receipts with '
            .. 'upstreams%[1%] "A" %(resp string', out .. err)
        assert.is_nil((out .. err):find("upstreams[2].id_format", 1, true), out .. err)
        out, err, rc = run.smppgw { "check", conf { { name = "A", port = 2, smsc_account = "" } } }
        assert.are_not.equal(0, rc, out .. err)
        assert.matches("upstreams%[1%]%.smsc_account: empty", out .. err)
    end)
end)
