-- receipts_repeat_spec -- a final receipt after the final one: of a
-- message (in a state other than ACCEPTD), or of one destination of a
-- submit_multi. On a link that awaits no answer no other message can have
-- that id: it is a repeat of a receipt the ESME had, answered ESME_ROK,
-- dropped and counted (receipts_repeated), never relayed again. While the
-- link awaits answers it is held as early like any receipt for a final
-- message (an upstream that numbers again from the start may have given
-- that id to one of those: spec/receipts_ids_spec.lua). The first final
-- receipt of each of a multi's destinations still reaches it, busy or
-- not. With either id policy.
local wire = require "helpers.wire"
local esme_wire = require "helpers.esme"
local server = require "helpers.server"
local wait = require "helpers.wait"

local id, RESP = wire.id, wire.RESP

local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local UPSTREAM = require("helpers.upstream_scripts").receipts_at_dest

local function gateway(port, policy)
    return server.start { conf = "return " .. server.lua {
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw" } },
        gateway = { message_id = policy, routes = { { name = "all", prefix = "", to = { "U" } } } },
    } }
end

local esme, submit, submit_multi = esme_wire.bind, esme_wire.submit, esme_wire.submit_multi

-- The receipts c gets (each answered), until it has `want` and then until
-- `quiet` seconds pass without another -> { "ID DEST STAT", ... }
local function receipts(c, want, quiet)
    local got, deadline = {}, wire.gettime() + wait.scaled(10)
    while wire.gettime() < deadline do
        local p = c:expect(function(q) return q.id == id.deliver_sm end, #got < want and 0.05 or quiet)
        if p then
            c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
            local d = wire.parse_sm(p.body)
            got[#got + 1] = table.concat({ (d.tlvs[0x001E] or ""):gsub("%z$", ""), d.source_addr,
                                           d.short_message:match("stat:(%u+)") }, " ")
        elseif #got >= want then
            break
        end
    end
    return got
end

local function queue(gw) return gw:stats().gateway.queues.U end

describe("#integration a final receipt after the final one, on a link that awaits no answer", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("of a message: answered, dropped and counted, not relayed (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = UPSTREAM }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = esme(gw)
            local m1 = submit(c, "m1", 1)
            submit(esme(gw, "transmitter"), "receipts m1@1234=DELIVRD")
            assert.same({ m1 .. " 1234 DELIVRD" }, receipts(c, 1, 0))
            local m2 = submit(c, "m2", 1)
            -- the repeats, then m2's receipt: the first the ESME gets
            submit(esme(gw, "transmitter"), "receipts m1@1234=UNDELIV m1@1234=DELIVRD m2@1234=DELIVRD")
            assert.same({ m2 .. " 1234 DELIVRD" }, receipts(c, 1, 0.3))
            assert.truthy(gw:wait_log("a repeat of its final receipt", 5), gw:log_text())
            assert.equal(2, queue(gw).receipts_repeated)
            assert.equal(0, queue(gw).receipts_early)
        end)

        it("of one destination of a submit_multi: dropped; the other's first reaches it (message_id " .. policy
            .. ")", function()
            local up = server.start { conf = UP_CONF, script = UPSTREAM }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = esme(gw)
            local mid = submit_multi(c)
            submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD")
            assert.same({ mid .. " 447700901 DELIVRD" }, receipts(c, 1, 0))
            submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD mm@447700902=UNDELIV")
            assert.same({ mid .. " 447700902 UNDELIV" }, receipts(c, 1, 0))
            local m2 = submit(c, "m2", 1)
            submit(esme(gw, "transmitter"), "receipts mm@447700901=UNDELIV mm@447700902=DELIVRD m2@1234=DELIVRD")
            assert.same({ m2 .. " 1234 DELIVRD" }, receipts(c, 1, 0.3))
            assert.equal(3, queue(gw).receipts_repeated)
            assert.equal(0, queue(gw).receipts_early)
        end)
    end
end)

describe("#integration a final receipt after a destination's final one, while the link awaits answers", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("is held as early like a message's repeat (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = UPSTREAM }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = esme(gw)
            local mid = submit_multi(c)
            -- a message the upstream answers late: a request awaits its answer meanwhile
            local held = esme(gw, "transmitter")
            held:send(wire.submit_sm(held:next_seq(), { short_message = "hold" }))
            assert.truthy(up:wait_log("took hold", 5), gw:log_text())
            submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD mm@447700902=DELIVRD")
            assert.same({ mid .. " 447700901 DELIVRD", mid .. " 447700902 DELIVRD" }, receipts(c, 2, 0))
            local m2 = submit(c, "m2", 1)
            submit(esme(gw, "transmitter"), "receipts mm@447700901=DELIVRD m2@1234=DELIVRD")
            assert.same({ m2 .. " 1234 DELIVRD" }, receipts(c, 1, 0.3))
            assert.equal(1, queue(gw).receipts_early)
            assert.equal(0, queue(gw).receipts_repeated)
        end)
    end
end)
