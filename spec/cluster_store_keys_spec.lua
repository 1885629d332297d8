-- The gateway's Redis store (cluster.store = true) keys receipts as the
-- SQLite store does: under id_format "string" an id is matched as
-- written, so ids that differ only in case or leading zeros are two
-- messages, each with its own receipt, also of two accounts. A mapping
-- written before (the id in lower case, leading zeros dropped) finds its
-- message only when the message's upstream id is the receipt's.
local server = require "helpers.server"
local redis = require "helpers.redis"
local wire = require "helpers.wire"
local wait = require "helpers.wait"
local gwr = require "helpers.gwr"

local id, RESP = wire.id, wire.RESP

local UPSTREAM = require("helpers.upstream_scripts").id_is_text

local function esme(n, port, kind)
    local c = wire.connect(port)
    assert.equal(0, c:bind(kind or "transceiver", "esme" .. n, "pw" .. n).status)
    return c
end

local function submit(c, text)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

local receipts = require("helpers.esme").receipts      -- { { { id, stat }, ... } per ESME }

local function start(r)
    local up = server.start { script = UPSTREAM, conf = "return { script = 'script.lua', store = { path = ':memory:' }, "
        .. "session = { window = 100 }, accounts = { { system_id = 'gw', password = 'gwpw' } } }" }
    local n = gwr.node(r, up.port, { accounts = { { system_id = "esme1", password = "pw1" },
                                                  { system_id = "esme2", password = "pw2" } } })
    gwr.bound_upstream(n)
    return n
end

describe("#integration cluster store receipt keys", function()
    for _, pair in ipairs { { "msg1", "MSG1" }, { "01", "1" } } do
        it(string.format("%s and %s are two messages, each with its own receipt", pair[1], pair[2]), function()
            local r = redis.start()
            local n = start(r)
            local c1, c2 = esme(1, n.port), esme(2, n.port)
            local id1, id2 = submit(c1, pair[1]), submit(c2, pair[2])
            assert.is_true(wait.wait_until(function()
                return r:cmd("GET", "smppgw:{u:U}k:" .. pair[2]) == id2
            end, 10, "the second mapping"))
            submit(esme(1, n.port, "transmitter"), string.format("receipts %s=UNDELIV %s=DELIVRD", pair[2], pair[1]))
            assert.same({ { { id1, "DELIVRD" } }, { { id2, "UNDELIV" } } }, receipts({ c1, c2 }, { 1, 1 }))
        end)
    end

    it("a mapping written under the normalised id reaches only the message whose id the receipt names", function()
        local r = redis.start()
        local n = start(r)
        local c1, c2 = esme(1, n.port), esme(2, n.port)
        submit(c1, "msg1")
        local id2 = submit(c2, "MSG1")
        assert.is_true(wait.wait_until(function()
            return r:cmd("GET", "smppgw:{u:U}k:MSG1") == id2
        end, 10, "the second mapping"))
        -- as the key was before: both ids under "msg1", the newer message's
        r:cmd("DEL", "smppgw:{u:U}k:MSG1")
        r:cmd("SET", "smppgw:{u:U}k:msg1", id2)
        submit(esme(1, n.port, "transmitter"), "receipts msg1=DELIVRD MSG1=UNDELIV")
        -- MSG1's through the old mapping; msg1's names a message that is not
        -- its own: it waits as early (that mapping was lost before)
        assert.same({ {}, { { id2, "UNDELIV" } } }, receipts({ c1, c2 }, { 0, 1 }))
        assert.is_true(wait.wait_until(function()
            return n:stats().cluster.store.receipts_early == 1
        end, 10, "the receipt of msg1 kept as early"))
        assert.equal(1, r:cmd("LLEN", "smppgw:{u:U}e:msg1"))
    end)
end)
