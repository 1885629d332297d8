-- receipts_group_reuse_spec -- one SMSC account bound by two upstream
-- entries A and B (a receipt group) that numbers again from the start (a
-- restart): A's message and then B's get the same id, and the receipt
-- comes on A's session. It is the newest message's with that id, B's,
-- whichever member the receipt came on, as within one entry: it reaches
-- B's message (not A's older one), and when A's had its final receipt
-- already, B's first final receipt is not taken for a repeat of A's and
-- dropped. Then a reload that renames A (to C, the same account) or
-- removes B while an early receipt waits under it: its messages'
-- receipts, arriving on B or C, still reach them (the old name stays a
-- member of the group, gauged as upstreams_former), the early one is taken
-- by A's answer, and after a restart the names in former_names match as
-- well. With the SQLite store and with the cluster's (Redis). `smppgw
-- check` refuses a former name that is configured or named twice.
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait = require "helpers.wait"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local gw_store = require "helpers.gw_store"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' }, { system_id = 'gw2', password = 'gwpw' } } }]]

-- Accepts each message under the id its text is; a text "receipts
-- ID=STAT ..." is accepted as "r", then a receipt for each follows on the
-- session it came on.
-- Accepts each message under the id its text is; a text "receipts
-- ID=STAT ..." is accepted as "r", then a receipt for each follows on the
-- session it came on; a text "slow:ID" sends ID's receipt on another
-- session first, and is accepted as ID once a text "go:ID" came.
local UPSTREAM = [[
    local smpp = require "smpp"
    local go = {}
    local function receipt(rid, stat, pdu)
        return { command = "deliver_sm", esm_class = 4, source_addr = pdu.destination_addr,
            destination_addr = pdu.source_addr, receipted_message_id = rid,
            message_state = stat == "DELIVRD" and 2 or 5,
            short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:" .. stat .. " err:000 text:" }
    end
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        if text:find("^go:") then
            go[text:sub(4)] = true
            return 0, { message_id = "r" }
        end
        if text:find("^slow:") then
            local rid = text:sub(6)
            for _, s in ipairs(smpp.sessions { side = "server", bound = true }) do
                if s.id ~= session.id and s:can_receive() then assert(s:send(receipt(rid, "DELIVRD", pdu))) break end
            end
            for _ = 1, 400 do
                if go[rid] then break end
                smpp.sleep(0.025)
            end
            return 0, { message_id = rid }
        end
        local list = {}
        for rid, stat in text:gmatch("([^%s=]+)=(%u+)") do list[#list + 1] = { rid, stat } end
        if #list == 0 then return 0, { message_id = text } end
        smpp.respond(0, { message_id = "r" })
        for _, r in ipairs(list) do
            smpp.sleep(0.05)
            assert(session:send(receipt(r[1], r[2], pdu)))
        end
    end }]]

-- messages to 1... go through the first upstream, to 2... through the second
-- (store: helpers.gw_store's, SQLite or the cluster's on a Redis of the test's own)
local function gateway_conf(store, port, names, extra)
    local ups = {}
    for i, n in ipairs(names) do
        ups[i] = { name = n, port = port, system_id = "gw", password = "gwpw" }
        for k, v in pairs(extra and extra[n] or {}) do ups[i][k] = v end
    end
    return "return " .. server.lua(server.merge({
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = ups,
        gateway = { message_id = "own", routes = { { name = "a", prefix = "1", to = { names[1] } },
                                                   { name = "b", prefix = "2", to = { names[2] or names[1] } } } },
    }, gw_store.sections(store)))
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

-- wait until the message our_id has its upstream's answer (its upstream id) in the store
local function answered(gw, our_id)
    assert.truthy(wait.wait_until(function()
        local code, body = gw:http("GET", "/messages/" .. our_id)
        return code == 200 and (require("cjson").decode(body).upstream_id or "") ~= ""
    end, 10), "no answer for " .. our_id .. "\n" .. gw:log_text())
end

-- the next receipt rx gets (answered) -> our message id, stat
local function receipt(rx, timeout)
    local p = rx:expect(function(q) return q.id == id.deliver_sm end, timeout or 5)
    if not p then return nil end
    rx:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
    local d = wire.parse_sm(p.body)
    return (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.short_message:match("stat:(%u+)")
end

local function esmes(gw)
    local rx = wire.connect(gw.port)
    assert.equal(0, rx:bind("receiver", "esme1", "pw1").status)
    local tx = wire.connect(gw.port)
    assert.equal(0, tx:bind("transmitter", "esme1", "pw1").status)
    return rx, tx
end

-- the gateway (again: up, the upstream it binds to) on store
local function gateway(store, up, names, extra)
    local gw = server.start { conf = gateway_conf(store, up.port, names, extra) }
    bound(gw, names)
    gw_store.ready(gw, store)
    return gw
end

local function start(store, names, extra)
    local up = server.start { conf = UP_CONF, script = UPSTREAM }
    local gw = gateway(store, up, names, extra)
    local rx, tx = esmes(gw)
    return up, gw, rx, tx
end

-- a reload to the entries names (extra: their settings beyond the usual)
local function reload(gw, store, up, names, extra)
    gw:write("conf.lua", gateway_conf(store, up.port, names, extra))
    local n = gw:count_log("reloaded")
    gw:signal("HUP")
    assert.truthy(wait.wait_until(function() return gw:count_log("reloaded") > n end, 10), gw:log_text())
    bound(gw, names)
end

for _, kind in ipairs { "sqlite", "redis" } do
describe("#integration receipts of a group whose SMSC numbers again (" .. kind .. " store)", function()
    local function store() return gw_store.new(kind) end

    it("go to the newest message with the id, sent by another member than the one they come on", function()
        local up, gw, rx, tx = start(store(), { "A", "B" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local old = submit(tx, "100", "7")           -- through A: id 7, never a receipt
        answered(gw, old)
        local new = submit(tx, "200", "7")           -- through B, after the SMSC's restart: id 7 again
        answered(gw, new)
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
        answered(gw, new)
        submit(tx, "101", "8=UNDELIV", 0)            -- on A's session: B's message's, not a repeat of A's
        local rid, stat = receipt(rx)
        assert.equal(new, rid, gw:log_text())
        assert.equal("UNDELIV", stat)
        local q = gw:stats().gateway.queues
        assert.equal(0, q.A.receipts_repeated + q.B.receipts_repeated)
        assert.equal(1, q.B.receipts)
    end)

    it("match messages of an entry a reload renamed or removed, on the members that remain", function()
        local st = store()
        local up, gw, rx, tx = start(st, { "A", "B" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local m5, m6 = submit(tx, "100", "5"), submit(tx, "100", "6")     -- through A
        answered(gw, m5)
        answered(gw, m6)
        reload(gw, st, up, { "C", "B" })             -- A renamed C: the same account
        submit(tx, "200", "5=DELIVRD", 0)            -- on B's session
        submit(tx, "100", "6=UNDELIV", 0)            -- on C's
        local got = {}
        for _ = 1, 2 do
            local rid, stat = receipt(rx)
            assert.is_not_nil(rid, gw:log_text())
            got[rid] = stat
        end
        assert.same({ [m5] = "DELIVRD", [m6] = "UNDELIV" }, got)
        assert.truthy(wait.wait_until(function() return gw:stats().gateway.queues.A.receipts == 2 end, 5),
            "counted under A")
        assert.equal(1, gw:gauge("upstreams_former"))      -- A, kept as a member of the group
    end)

    it("show the 256 newest names reloads removed in /stats, and no older idle one", function()
        -- every removed name stayed in gateway.queues: /stats grew with each name a process had
        local st = store()
        local up, gw, rx, tx = start(st, { "A" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local closed = wire.listen()
        local port = tonumber((select(2, closed:getsockname())))
        closed:close()
        local names, extra = { "A" }, {}
        for i = 1, 260 do                            -- nothing listens for them: never bound, nothing queued
            names[#names + 1] = "Z" .. i
            extra["Z" .. i] = { port = port, reconnect_min = 30, reconnect_max = 60 }
        end
        local function reload_to(list)
            gw:write("conf.lua", gateway_conf(st, up.port, list, extra))
            local n = gw:count_log("reloaded")
            gw:signal("HUP")
            assert.truthy(wait.wait_until(function() return gw:count_log("reloaded") > n end, 10), gw:log_text())
        end
        reload_to(names)
        reload_to({ "A" })                           -- 260 removed: the 256 newest kept
        local q, n = gw:stats().gateway.queues, 0
        for _ in pairs(q) do n = n + 1 end
        assert.equal(256, gw:gauge("upstreams_former"))
        assert.equal(1 + 256, n)
        assert.is_true(q.A.configured)
    end)

    it("take an early receipt kept under an entry a reload removed when another member's answer comes",
        function()
        local st = store()
        local up, gw, rx, tx = start(st, { "A", "B" })
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        local mine = submit(tx, "100", "slow:4")     -- through A; its receipt comes on B's session first
        assert.truthy(wait.wait_until(function() return gw:stats().gateway.queues.B.receipts_early == 1 end, 10),
            gw:log_text())
        reload(gw, st, up, { "A" })                  -- B removed
        submit(tx, "100", "go:4", 0)                 -- A's answer comes now
        local rid, stat = receipt(rx)
        assert.equal(mine, rid, gw:log_text())
        assert.equal("DELIVRD", stat)
    end)

    it("match messages of an entry named in former_names after a restart", function()
        local st = store()
        local up, gw, rx, tx = start(st, { "A", "B" })
        local m7 = submit(tx, "100", "7")            -- through A
        answered(gw, m7)
        rx:close()
        tx:close()
        gw:stop()
        gw = gateway(st, up, { "C", "B" }, { C = { former_names = { "A" } } })
        rx, tx = esmes(gw)
        finally(function() rx:close() tx:close() gw:stop() up:stop() end)
        submit(tx, "200", "7=DELIVRD", 0)            -- on B's session
        local rid, stat = receipt(rx)
        assert.equal(m7, rid, gw:log_text())
        assert.equal("DELIVRD", stat)
    end)
end)
end

describe("#integration smppgw check and former_names", function()
    local function check(upstreams)
        local conf = tmp.write(tmp.dir() .. "/conf.lua", "return " .. server.lua {
            script = server.root .. "/scripts/gateway.lua", store = { path = ":memory:" },
            upstreams = upstreams, gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } } })
        local out, err, rc = run.smppgw { "check", conf }
        return out .. err, rc
    end

    it("takes names no entry has, and refuses a configured one or one named twice", function()
        local out, rc = check { { name = "A", port = 2, former_names = { "old1", "old2" } }, { name = "B", port = 3 } }
        assert.equal(0, rc, out)
        out, rc = check { { name = "A", port = 2, former_names = { "B" } }, { name = "B", port = 3 } }
        assert.are_not.equal(0, rc)
        assert.matches("upstreams%[1%]%.former_names%[1%]: \"B\" is the name of a configured upstream", out)
        out, rc = check { { name = "A", port = 2, former_names = { "x" } },
                          { name = "B", port = 3, former_names = { "x" } } }
        assert.are_not.equal(0, rc)
        assert.matches("upstreams%[2%]%.former_names%[1%]: \"x\" is a former name of upstreams%[1%] already", out)
        out, rc = check { { name = "A", port = 2, former_names = { "" } } }
        assert.are_not.equal(0, rc)
        assert.matches("upstreams%[1%]%.former_names%[1%]: empty", out)
    end)
end)
