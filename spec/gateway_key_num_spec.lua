-- gateway_key_num_spec -- receipts find their message by the number of
-- the upstream's id (fwd.key_num: its value as hex digits, else a hash),
-- then by the upstream and the id beside it in the index: with numbers of
-- no bits (SMPPGW_STORE_KEY_BITS=0, the store's test hook) every key
-- shares one, and each receipt still reaches its own message, a receipt
-- for an id no message has matches none, and of two messages the upstream
-- gave the same id the newer gets its receipt, as without the hook; the
-- queues of two upstreams, whose numbers (q) are the same then too, each
-- send their own messages.
local wire = require "helpers.wire"
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"

local id, RESP = wire.id, wire.RESP

-- Accepts each message with the id its text names ("u1: ..." -> u1); the
-- text "receipts a=STAT b=STAT ..." posts a receipt for each id a, b ...
-- with that stat, in that order, and is accepted as "r".
local UPSTREAM = [[
    local smpp = require "smpp"
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        smpp.log("info", "took %s", text:match("^%w+") or "")
        if text:find("^receipts ") then
            for rid, stat in text:gmatch("(%w+)=(%u+)") do
                smpp.post(session.system_id, { esm_class = 4, source_addr = pdu.destination_addr,
                    destination_addr = pdu.source_addr, receipted_message_id = rid,
                    message_state = stat == "DELIVRD" and 2 or 5,
                    short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                        .. "done date:2501311201 stat:" .. stat .. " err:000 text:" })
            end
            return 0, { message_id = "r" }
        end
        return 0, { message_id = text:match("^(%w+):") }
    end }]]

describe("#integration receipts matched by a number that every key shares", function()
    it("each reaches its own message, none a message of another id", function()
        local path = tmp.dir() .. "/gw.db"
        local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
        local up = server.start { conf = UP_CONF, script = UPSTREAM }
        local b = server.start { conf = UP_CONF, script = UPSTREAM }      -- its queue shares A's number too
        local gw = server.start {
            env = { SMPPGW_STORE_KEY_BITS = "0" },
            conf = "return " .. server.lua {
                script = server.root .. "/scripts/gateway.lua",
                store = { path = path },
                accounts = { { system_id = "esme1", password = "pw1" } },
                upstreams = { { name = "A", port = up.port, system_id = "gw", password = "gwpw" },
                              { name = "B", port = b.port, system_id = "gw", password = "gwpw" } },
                gateway = { routes = { { name = "b", prefix = "9", to = { "B" } },
                                       { name = "all", prefix = "", to = { "A" } } } },
            } }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        assert.truthy(gw:wait_log("upstream B: bind 1 up", 10), gw:log_text())
        local c = require("helpers.park").esme(gw)
        local ours = {}                                  -- gateway id -> the upstream's
        local function submit(text, dest)
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text, destination_addr = dest }))
            local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
            assert.equal(0, r.status)
            return wire.first_cstr(r.body)
        end
        submit("b1: to B", "9123")
        ours[submit("u1: one")] = "u1"
        submit("b2: to B", "9124")
        ours[submit("u2: two")] = "u2"
        ours[submit("u3: three")] = "u3"
        local old = submit("u4: the older of two u4")
        ours[submit("u4: the newer of two u4")] = "u4"
        local stat = { u1 = "DELIVRD", u2 = "UNDELIV", u3 = "EXPIRED", u4 = "DELIVRD" }
        submit("receipts u9=DELIVRD u2=UNDELIV u1=DELIVRD u3=EXPIRED u4=DELIVRD")
        local got, n = {}, 0
        while n < 4 do
            local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 10), "a receipt is missing")
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local d = wire.parse_sm(p.body)
            local rid = (d.tlvs[0x001E] or ""):gsub("%z$", "")
            assert.is_nil(got[rid], "a second receipt for " .. rid)
            assert.is_not_nil(ours[rid], "a receipt for a message it is not about: " .. rid)
            got[rid] = d.short_message:match("stat:(%u+)")
            assert.equal(stat[ours[rid]], got[rid], "the receipt of " .. ours[rid])
            n = n + 1
        end
        assert.is_nil(got[old])
        -- each queue sent its own messages, and those alone
        assert.truthy(b:wait_log("took b2", 10), b:log_text())
        assert.truthy(b:log_text():find("took b1", 1, true), b:log_text())
        assert.falsy(b:log_text():find("took u", 1, true), b:log_text())
        assert.falsy(up:log_text():find("took b", 1, true), up:log_text())
        c:close()
        gw:stop()
        -- the hook made every key's number the same
        local out = io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "SELECT count(*), count(DISTINCT key_num), min(key_num) FROM fwd WHERE upstream_key IS NOT NULL")):read("*a")
        assert.equal("8|1|0\n", out)                 -- u1, u2, u3, u4 twice, r, b1, b2
        out = io.popen("sqlite3 " .. run.quote(path) .. " " .. run.quote(
            "SELECT count(DISTINCT upstream), count(DISTINCT q), min(q) FROM fwd")):read("*a")
        assert.equal("2|1|0\n", out)
    end)

    it("queues that share a number each send their own messages when read back from the store", function()
        local path = tmp.dir() .. "/gw.db"
        local function conf(port_a, port_b)
            return "return " .. server.lua {
                script = server.root .. "/scripts/gateway.lua",
                store = { path = path },
                accounts = { { system_id = "esme1", password = "pw1" } },
                upstreams = { { name = "A", port = port_a, system_id = "gw", password = "gwpw", reconnect_min = 0.2 },
                              { name = "B", port = port_b, system_id = "gw", password = "gwpw", reconnect_min = 0.2 } },
                gateway = { routes = { { name = "b", prefix = "9", to = { "B" } },
                                       { name = "all", prefix = "", to = { "A" } } } },
            }
        end
        -- no upstream yet (nothing listens on port 1): the messages wait in their queues
        local gw = server.start { env = { SMPPGW_STORE_KEY_BITS = "0" }, conf = conf(1, 1) }
        local c = require("helpers.park").esme(gw)
        for i, dest in ipairs { "9123", "447700900123", "9124", "447700900124", "9125" } do
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { short_message = (dest:sub(1, 1) == "9" and "b" or "u") .. i .. ": x",
                                         destination_addr = dest }))
            local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
            assert.equal(0, r.status)
        end
        c:close()
        gw:stop()
        -- then both: each reads its queue from the store
        local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]]
        local a = server.start { conf = UP_CONF, script = UPSTREAM }
        local b = server.start { conf = UP_CONF, script = UPSTREAM }
        gw = server.start { env = { SMPPGW_STORE_KEY_BITS = "0" }, conf = conf(a.port, b.port) }
        for _, w in ipairs { { a, "took u2" }, { a, "took u4" }, { b, "took b1" }, { b, "took b3" }, { b, "took b5" } } do
            assert.truthy(w[1]:wait_log(w[2], 10), w[2] .. "\n" .. gw:log_text())
        end
        assert.falsy(a:log_text():find("took b", 1, true), a:log_text())
        assert.falsy(b:log_text():find("took u", 1, true), b:log_text())
        gw:stop()
    end)
end)

describe("#integration the numbers a store was made with", function()
    it("stay the file's: restarted without SMPPGW_STORE_KEY_BITS, receipts of messages sent before still match", function()
        local path = tmp.dir() .. "/gw.db"
        local a = server.start { conf = [[return { script = 'script.lua', session = { window = 100 },
            accounts = { { system_id = 'gw', password = 'gwpw' } } }]], script = [[
            local smpp = require "smpp"
            return { submit_sm = function(session, pdu)
                local t = pdu.short_message
                smpp.log("info", "took %s", t)
                if t == "now" then
                    for _, rid in ipairs { "u1", "abc", "ff17" } do
                        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
                            receipted_message_id = rid, message_state = 2,
                            short_message = "id:" .. rid .. " stat:DELIVRD err:000 text:x" })
                    end
                    return 0, { message_id = "R" }
                end
                return 0, { message_id = t }
            end }]] }
        local function conf() return "return " .. server.lua {
                script = server.root .. "/scripts/gateway.lua", store = { path = path },
                accounts = { { system_id = "esme1", password = "pw1" } },
                upstreams = { { name = "A", port = a.port, system_id = "gw", password = "gwpw" } },
                gateway = { routes = { { name = "all", prefix = "", to = { "A" } } } } } end
        local gw = server.start { env = { SMPPGW_STORE_KEY_BITS = "4" }, conf = conf() }
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        local c = require("helpers.park").esme(gw)
        local function submit(text)
            local seq = c:next_seq()
            c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
            local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
            assert.equal(0, r.status)
            return wire.first_cstr(r.body)
        end
        local ours = {}
        for _, t in ipairs { "u1", "abc", "ff17" } do ours[submit(t)] = t end
        assert.truthy(a:wait_log("took ff17", 10), gw:log_text())
        assert.truthy(require("helpers.wait").wait_until(function()
            local out = run.sh("sqlite3 " .. run.quote(path) .. " 'SELECT count(*) FROM fwd WHERE key_num IS NOT NULL'")
            return tonumber(out) == 3
        end, 10), "the answers stored")
        c:close()
        gw:stop()
        gw = server.start { conf = conf() }                          -- without the variable now
        assert.truthy(gw:wait_log("upstream A: bind 1 up", 10), gw:log_text())
        c = require("helpers.park").esme(gw)
        submit("now")
        local got = {}
        for _ = 1, 3 do
            local p = assert(c:expect(function(q) return q.id == id.deliver_sm end, 10), "a receipt is missing")
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local d = wire.parse_sm(p.body)
            got[#got + 1] = ours[d.short_message:match("^id:(%S+)")]
        end
        table.sort(got)
        assert.same({ "abc", "ff17", "u1" }, got)
        local bits = run.sh("sqlite3 " .. run.quote(path) .. " \"SELECT value FROM meta WHERE key = 'key_bits'\"")
        assert.equal(4, tonumber(bits))
    end)
end)
