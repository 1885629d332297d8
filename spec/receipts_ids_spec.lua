-- receipts_ids_spec -- which message a receipt reaches when upstream ids
-- look alike: under id_format "string" (the default) an id is matched as
-- written, so ids that differ only in case or in leading zeros ("msg1"
-- and "MSG1", "01" and "1") are different messages, each with its own
-- receipt, also when they belong to two accounts; an upstream that
-- numbers again from the start and sends a receipt before its answer
-- does not give it to the older, final message of that id while the
-- answer is awaited: the answer matches it. With either id policy. With
-- message_id "upstream" one id may name messages of two accounts: each
-- ESME's query_sm finds its own.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP

local UPSTREAM = require("helpers.upstream_scripts").id_is_text
local UP_CONF = [[return { script = 'script.lua', session = { window = 100 },
    accounts = { { system_id = 'gw', password = 'gwpw' } } }]]

local function gateway(port, message_id, over)
    return server.start { conf = "return " .. server.lua(server.merge({
        script = server.root .. "/scripts/gateway.lua",
        accounts = { { system_id = "esme1", password = "pw1" }, { system_id = "esme2", password = "pw2" } },
        upstreams = { { name = "U", port = port, system_id = "gw", password = "gwpw" } },
        gateway = { message_id = message_id, routes = { { name = "all", prefix = "", to = { "U" } } } },
    }, over or {})) }
end

-- esme<n> bound as a transceiver (or kind)
local function esme(gw, n, kind)
    local c = wire.connect(gw.port)
    assert.equal(0, c:bind(kind or "transceiver", "esme" .. n, "pw" .. n).status)
    return c
end

-- text submitted asking for a receipt (from source, default 1234) -> the
-- id the ESME was given
local function submit(c, text, source)
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, { registered_delivery = 1, short_message = text, source_addr = source }))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 5))
    assert.equal(0, r.status)
    return wire.first_cstr(r.body)
end

local receipts = require("helpers.esme").receipts      -- { { { id, stat }, ... } per ESME }

describe("#integration receipts of string ids that differ in case or leading zeros", function()
    for _, policy in ipairs { "own", "upstream" } do
        for _, pair in ipairs { { "msg1", "MSG1" }, { "01", "1" } } do
            it(string.format("reach each its own account's message: %s and %s (message_id %s)", pair[1], pair[2],
                policy), function()
                local up = server.start { conf = UP_CONF, script = UPSTREAM }
                local gw = gateway(up.port, policy)
                assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
                local c1, c2 = esme(gw, 1), esme(gw, 2)
                local id1 = submit(c1, pair[1])
                local id2 = submit(c2, pair[2])
                -- the older message's receipt last: under one key both went to the newer
                -- (from a transmitter: with message_id "upstream" its answer comes after them)
                submit(esme(gw, 1, "transmitter"), string.format("receipts %s=UNDELIV %s=DELIVRD", pair[2], pair[1]))
                local got = receipts({ c1, c2 }, 1)
                assert.same({ { { id1, "DELIVRD" } }, { { id2, "UNDELIV" } } }, got)
                local q = gw:stats().gateway.queues.U
                assert.equal(0, q.receipts_early)
            end)
        end
    end
end)

describe("#integration a receipt before its answer, for an id an older final message has", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("waits for the answer and reaches the new message, not the old one (message_id " .. policy .. ")",
            function()
            local up = server.start { conf = UP_CONF, script = require("helpers.upstream_scripts").renumbering }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c1, c2 = esme(gw, 1), esme(gw, 2)
            local id1 = submit(c1, "first")
            assert.same({ { { id1, "DELIVRD" } }, {} }, receipts({ c1, c2 }, { 1, 0 }))
            submit(esme(gw, 1, "transmitter"), "start again")
            -- its receipt comes while its answer is awaited: id 1, whose
            -- message (esme1's) is final (sent from a transmitter: with
            -- message_id "upstream" the receipt may come before the answer)
            local id2 = submit(esme(gw, 2, "transmitter"), "early second")
            assert.same({ {}, { { id2, "UNDELIV" } } }, receipts({ c1, c2 }, { 0, 1 }))
            local q = gw:stats().gateway.queues.U
            assert.equal(1, q.receipts_early)
            assert.equal(1, q.receipts_early_matched)
        end)
    end
end)

-- A submit_multi is accepted as "mm"; "hold" is answered after 3 s;
-- "receipts N" posts N receipts (DELIVRD) for "mm", one per destination
-- (its source_addr), 0.5 s apart (the message is final after the first).
local MULTI = [[
    local smpp = require "smpp"
    return {
        submit_multi = function() return 0, { message_id = "mm" } end,
        submit_sm = function(session, pdu)
            local text = pdu.short_message
            smpp.log("info", "took %s", text)
            if text == "hold" then smpp.sleep(3) return 0, { message_id = "h" } end
            for i = 1, tonumber(text:match("^receipts (%d+)") or 0) do
                smpp.post(session.system_id, { esm_class = 4, source_addr = "44770090" .. i, destination_addr = "1",
                    receipted_message_id = "mm", message_state = 2,
                    short_message = "id:mm sub:001 dlvrd:001 submit date:2501311200 "
                        .. "done date:2501311201 stat:DELIVRD err:000 text:" }, { delay = (i - 1) * 0.5 })
            end
            return 0, { message_id = text }
        end }]]

describe("#integration the receipts of a submit_multi, one per destination", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("all reach it while the link awaits answers (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = MULTI }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = esme(gw, 1)
            local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(2)
                .. "\1\1\1" .. wire.cstr("447700901") .. "\1\1\1" .. wire.cstr("447700902")
                .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"
            local seq = c:next_seq()
            c:send(wire.pdu(id.submit_multi, seq, body))
            local r = assert(c:expect(function(p) return p.seq == seq end, 5))
            assert.same({ RESP + id.submit_multi, 0 }, { r.id, r.status })
            local mid = wire.first_cstr(r.body)
            -- a message the upstream answers late: a request awaits its answer meanwhile
            local held = esme(gw, 1, "transmitter")
            held:send(wire.submit_sm(held:next_seq(), { short_message = "hold" }))
            assert.truthy(up:wait_log("took hold", 5), gw:log_text())
            submit(esme(gw, 1, "transmitter"), "receipts 2")
            assert.same({ { { mid, "DELIVRD" }, { mid, "DELIVRD" } } }, receipts({ c }, 2))
            assert.equal(0, gw:stats().gateway.queues.U.receipts_early)
        end)
    end
end)

-- Answers a submit_multi "mm" and sends a receipt (DELIVRD) for each of
-- its destinations; "start again" is answered "x" (a restart that lost its
-- counter); any other text (esme2's) is given "mm" as well, its receipt
-- (UNDELIV, about its own destination) sent first, its answer 0.3 s after.
local MULTI_AGAIN = [[
    local smpp = require "smpp"
    local function receipt(session, dest, stat, delay)
        smpp.post(session.system_id, { esm_class = 4, source_addr = dest, destination_addr = "1234",
            receipted_message_id = "mm", message_state = stat == "DELIVRD" and 2 or 5,
            short_message = "id:mm sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:" .. stat .. " err:000 text:" }, { delay = delay })
    end
    return {
        submit_multi = function(session)
            receipt(session, "447700901", "DELIVRD", 0.05)
            receipt(session, "447700902", "DELIVRD", 0.1)
            return 0, { message_id = "mm" }
        end,
        submit_sm = function(session, pdu)
            if pdu.short_message == "start again" then return 0, { message_id = "x" } end
            receipt(session, pdu.destination_addr, "UNDELIV", 0)
            smpp.sleep(0.3)
            return 0, { message_id = "mm" }
        end }]]

describe("#integration a receipt before its answer, for the id of an older submit_multi", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("about none of its destinations, waits for the answer (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = MULTI_AGAIN }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c1, c2 = esme(gw, 1), esme(gw, 2)
            local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(2)
                .. "\1\1\1" .. wire.cstr("447700901") .. "\1\1\1" .. wire.cstr("447700902")
                .. "\0\0\0" .. "\0\0" .. "\1\0\0\0" .. wire.u8(2) .. "hi"
            local seq = c1:next_seq()
            c1:send(wire.pdu(id.submit_multi, seq, body))
            local r = assert(c1:expect(function(p) return p.seq == seq end, 5))
            assert.same({ RESP + id.submit_multi, 0 }, { r.id, r.status })
            local mid = wire.first_cstr(r.body)
            assert.same({ { { mid, "DELIVRD" }, { mid, "DELIVRD" } }, {} }, receipts({ c1, c2 }, { 2, 0 }))
            submit(esme(gw, 1, "transmitter"), "start again")
            local id2 = submit(esme(gw, 2, "transmitter"), "second")
            assert.same({ {}, { { id2, "UNDELIV" } } }, receipts({ c1, c2 }, { 0, 1 }))
            local q = gw:stats().gateway.queues.U
            assert.equal(1, q.receipts_early_matched)
        end)
    end
end)

-- Accepts "slow" after 3 s; any other text as itself, with a receipt
-- ACCEPTD, then DELIVRD 0.5 s later (both final states; SMPP receipts may
-- follow ACCEPTD).
local TWO_FINAL = [[
    local smpp = require "smpp"
    local function receipt(session, rid, stat, delay)
        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
            receipted_message_id = rid, message_state = stat == "DELIVRD" and 2 or 6,
            short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:" .. stat .. " err:000 text:" }, { delay = delay })
    end
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        smpp.log("info", "took %s", text)
        if text == "slow" then smpp.sleep(3) return 0, { message_id = "s" } end
        receipt(session, text, "ACCEPTD", 0.05)
        receipt(session, text, "DELIVRD", 0.5)
        return 0, { message_id = text }
    end }]]

describe("#integration a receipt after ACCEPTD while the link awaits answers", function()
    for _, policy in ipairs { "own", "upstream" } do
        it("reaches the message (message_id " .. policy .. ")", function()
            local up = server.start { conf = UP_CONF, script = TWO_FINAL }
            local gw = gateway(up.port, policy)
            assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
            local c = esme(gw, 1)
            local slow = esme(gw, 1, "transmitter")
            slow:send(wire.submit_sm(slow:next_seq(), { short_message = "slow" }))
            assert.truthy(up:wait_log("took slow", 5), gw:log_text())
            local mid = submit(esme(gw, 1, "transmitter"), "m1")
            assert.same({ { { mid, "ACCEPTD" }, { mid, "DELIVRD" } } }, receipts({ c }, 2))
            assert.equal(0, gw:stats().gateway.queues.U.receipts_early)
        end)
    end
end)

-- "slow" is answered after 5 s; "first" as f1, its receipt after; "repeats
-- N" posts N repeats of f1's receipt; "early" has its receipt (e1) sent
-- first and is answered e1 0.3 s after.
local HELD_FULL = [[
    local smpp = require "smpp"
    local function receipt(session, rid, delay)
        smpp.post(session.system_id, { esm_class = 4, source_addr = "1", destination_addr = "2",
            receipted_message_id = rid, message_state = 2,
            short_message = "id:" .. rid .. " sub:001 dlvrd:001 submit date:2501311200 "
                .. "done date:2501311201 stat:DELIVRD err:000 text:" }, { delay = delay })
    end
    return { submit_sm = function(session, pdu)
        local text = pdu.short_message
        smpp.log("info", "took %s", text)
        if text == "slow" then smpp.sleep(5) return 0, { message_id = "s" } end
        if text == "first" then receipt(session, "f1", 0.05) return 0, { message_id = "f1" } end
        if text == "early" then
            receipt(session, "e1", 0)
            smpp.sleep(0.3)
            return 0, { message_id = "e1" }
        end
        for _ = 1, tonumber(text:match("^repeats (%d+)")) do receipt(session, "f1", 0) end
        return 0, { message_id = "r" }
    end }]]

describe("#integration repeats of a final message's receipt held while the link awaits answers", function()
    it("take at most half of the early table: a receipt before its answer still finds room", function()
        local up = server.start { conf = UP_CONF, script = HELD_FULL }
        local gw = gateway(up.port, "own", { store = { path = "gw.db", limits = { early = 4 } } })
        assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
        local c = esme(gw, 1)
        local f1 = submit(c, "first")
        assert.same({ { { f1, "DELIVRD" } } }, receipts({ c }, 1))
        local slow = esme(gw, 1, "transmitter")
        slow:send(wire.submit_sm(slow:next_seq(), { short_message = "slow" }))
        assert.truthy(up:wait_log("took slow", 5), gw:log_text())
        submit(esme(gw, 1, "transmitter"), "repeats 4")
        assert.truthy(gw:wait_log("held as a likely repeat", 5), gw:log_text())
        assert.equal(2, gw:stats().gateway.queues.U.receipts_early)
        local e1 = submit(esme(gw, 1, "transmitter"), "early")
        assert.same({ { { e1, "DELIVRD" } } }, receipts({ c }, 1))
        assert.equal(1, gw:stats().gateway.queues.U.receipts_early_matched)
    end)
end)

-- query_sm for mid from source -> status, message_state
local function query(c, mid, source)
    local seq = c:next_seq()
    c:send(wire.pdu(id.query_sm, seq, wire.cstr(mid) .. wire.u8(0) .. wire.u8(0) .. wire.cstr(source)))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.query_sm end, 5))
    return r.status, r.status == 0 and wire.parse_query_resp(r.body).message_state or nil
end

describe("#integration query_sm for an upstream id two accounts' messages share (message_id upstream)", function()
    it("finds each account's own message", function()
        local up = server.start { conf = UP_CONF, script = UPSTREAM }
        local gw = gateway(up.port, "upstream")
        assert.truthy(gw:wait_log("upstream U: bind 1 up", 10), gw:log_text())
        local c1, c2 = esme(gw, 1), esme(gw, 2)
        assert.equal("7", submit(c1, "7", "1001"))
        assert.equal("7", submit(c2, "7", "2002"))
        -- the newer one (esme2's) delivered, esme1's still ENROUTE
        submit(esme(gw, 1, "transmitter"), "receipts 7=DELIVRD")
        assert.same({ {}, { { "7", "DELIVRD" } } }, receipts({ c1, c2 }, { 0, 1 }))
        assert.same({ 0, 1 }, { query(c1, "7", "1001") })
        assert.same({ 0, 2 }, { query(c2, "7", "2002") })
        assert.same({ 0, 2 }, { query(c2, "7", "") })
        -- the other account's source: not the originator of esme2's message
        assert.same({ 0x67 }, { query(c2, "7", "1001") })
        assert.same({ 0x67 }, { query(c1, "7", "2002") })
        assert.same({ 0x67 }, { query(c1, "8", "") })
    end)
end)
