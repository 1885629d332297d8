-- receipts_group_reuse_spec -- one SMSC account bound by two upstream
-- entries A and B (a receipt group) that numbers again from the start (a
-- restart): A's message and then B's get the same id, and the receipt
-- comes on A's session. It is the newest message's with that id, B's,
-- whichever member the receipt came on, as within one entry: it reaches
-- B's message (not A's older one), and when A's had its final receipt
-- already, B's first final receipt is not taken for a repeat of A's and
-- dropped. Then a reload that renames A (to C, the same account) or
-- removes it: its messages' receipts, arriving on B or C, still reach
-- them (the old name stays a member of the group), and so do those named
-- in former_names after a restart.
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

-- Accepts each message under the id its text is; a text "receipts
-- ID=STAT ..." is accepted as "r", then a receipt for each follows on the
-- session it came on.
local UPSTREAM = [[
    local smpp = require "smpp"
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        local list = {}
        for rid, stat in text:gmatch("([^%s=]+)=(%u+)") do list[#list + 1] = { rid, stat } end
        if #list == 0 then return 0, { message_id = text } end
        smpp.respond(0, { message_id = "r" })
        for _, r in ipairs(list) do
            smpp.sleep(0.05)
            assert(session:send { command = "deliver_sm", esm_class = 4, source_addr = pdu.destination_addr,
                destination_addr = pdu.source_addr, receipted_message_id = r[1],
                message_state = r[2] == "DELIVRD" and 2 or 5,
                short_message = "id:" .. r[1] .. " sub:001 dlvrd:001 submit date:2501311200 "
                    .. "done date:2501311201 stat:" .. r[2] .. " err:000 text:" })
        end
    end }]]

-- messages to 1... go through the first upstream, to 2... through the second
-- (store: "sqlite", or "redis": the cluster's store on a Redis of the test's own)
local function gateway_conf(store, port, names, extra)
    local ups = {}
    for i, n in ipairs(names) do
        ups[i] = { name = n, port = port, system_id = "gw", password = "gwpw" }
        for k, v in pairs(extra and extra[n] or {}) do ups[i][k] = v end
    end
    return "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        store = store == "sqlite" and { path = "gw.db" } or nil,
        cluster = store ~= "sqlite" and { redis = store.address, store = true, claim_after = 1 } or nil,
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = ups,
        gateway = { message_id = "own", routes = { { name = "a", prefix = "1", to = { names[1] } },
                                                   { name = "b", prefix = "2", to = { names[2] or names[1] } } } },
    }
end

local function bound(gw, names)
    for _, n in ipairs(names) do
        assert.truthy(gw:wait_log("upstream " .. n .. ": bind 1 up", 10), gw:log_text())
    end
end

local function submit(c, dest, text, rd)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = rd or 1, destination_addr = dest, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

-- the next receipt rx gets (answered) -> our message id, stat
local function receipt(rx, timeout)
    local p = rx:expect(function(q) return q.id == id.deliver_sm end, timeout or 5)
    if not p then return nil end
    rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    return (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message:match("stat:(%u+)")
end

local function start(store, names, extra)
    local up = server.start { conf = UP_CONF, script = UPSTREAM }
    local gw = server.start { conf = gateway_conf(store, up.port, names, extra) }
    bound(gw, names)
    if store ~= "sqlite" then
        assert.truthy(wait.wait_until(function()
            local c = gw:stats().cluster
            return c and c.redis.state == "up" and c.store and c.store.ids_left > 0
        end, 10), gw:log_text())
    end
    local rx = wire.connect(gw.port)
    assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
    local tx = wire.connect(gw.port)
    assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
    return up, gw, rx, tx
end

for _, kind in ipairs { "sqlite", "redis" } do
describe("#integration receipts of a group whose SMSC numbers again (" .. kind .. " store)", function()
    local function store() return kind == "sqlite" and kind or redis.start() end

    it("go to the newest message with the id, sent by another member than the one they come on", function()
        local up, gw, rx, tx = start(store(), { "A", "B" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local old = submit(tx, "100", "7")           -- through A: id 7, never a receipt
        local new = submit(tx, "200", "7")           -- through B, after the SMSC's restart: id 7 again
        assert.are_not.equal(old, new)
        submit(tx, "101", "7=DELIVRD", 0)            -- its receipt comes on A's session
        local rid, stat = receipt(rx)
        assert.equal(new, rid, gw:log_text())
        assert.equal("DELIVRD", stat)
        local q = gw:stats().gateway.queues
        assert.equal(1, q.B.receipts)
        assert.equal(0, q.A.receipts)
        assert.is_nil((receipt(rx, 0.3)))
    end)

    it("give the newest message its first final receipt when an older one of another member had its own",
        function()
        local up, gw, rx, tx = start(store(), { "A", "B" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local old = submit(tx, "100", "8")           -- through A: id 8, which gets its final receipt
        submit(tx, "101", "8=DELIVRD", 0)
        assert.equal(old, (receipt(rx)))
        local new = submit(tx, "200", "8")           -- through B: id 8 again
        submit(tx, "101", "8=UNDELIV", 0)            -- on A's session: B's message's, not a repeat of A's
        local rid, stat = receipt(rx)
        assert.equal(new, rid, gw:log_text())
        assert.equal("UNDELIV", stat)
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.receipts_repeated + q.B.receipts_repeated)
        assert.equal(1, q.B.receipts)
    end)
end)
end
