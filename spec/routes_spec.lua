-- routes_spec -- routing keys, hooks, multipart stickiness and the
-- submit_multi split, end to end: two reference SMSCs as upstreams A and
-- B, a gateway in front (its script written by the spec, with hooks), ESMEs
-- speaking hand-built PDUs. Where a message went is read back from the
-- gateway's store (GET /messages/ID: route and upstream).
local wire = require "helpers.wire"
local server = require "helpers.server"
local wait_until = require("helpers.wait").wait_until
local cjson = require "cjson"

local id, RESP = wire.id, wire.RESP
local ROK, RINVDSTADR, RX_P_APPN, RX_R_APPN, RSYSERR = 0, 0x0B, 0x65, 0x66, 0x08
local RINVOPTPARSTREAM = 0xC0

-- A reference SMSC; `reject` its rules for refusing (none: takes all).
local function smsc_conf(reject)
    return server.smsc_conf { accounts = { { system_id = "gw", password = "gwpw" } },
                              smsc = { reject = reject or {}, rules = {} } }
end

local HOOKS = [[
local gw = require("smpp.gateway_script").new(...)
function gw.before_route(m)
    if m.text == "refuse me" then return "ESME_RX_R_APPN" end
    if m.text == "to fr" then return { route = "fr" } end
    if m.text == "rewrite" then m.pdu.short_message = "echo rewritten" end
    if m.text == "boom" then error("hook failed") end
    if m.text == "bad verdict" then return "NOT_A_STATUS" end
    if m.text == "bad route" then return { route = "nowhere" } end
    if m.text == "ok 0" then return 0 end
    if m.text == "ok name" then return "ESME_ROK" end
    if m.text == "ok table" then return { status = 0 } end
end
function gw.after_answer(a)
    if a.kind == "refused" and a.upstream == "A" and a.status == 0x0B then return { upstream = "B" } end
    if a.kind == "refused" and a.upstream == "B" and a.status == 0x0B then return { upstream = "A" } end
    if a.kind == "answer" and a.status == 0x0B then return "ESME_RX_P_APPN" end
end
return gw.handlers
]]

local function gateway_conf(a_port, b_port, dir, message_id)
    return server.lua {
        script = dir .. "/gw.lua",
        log = { level = "info" },
        accounts = { { system_id = "esme1", password = "pw1" } },
        upstreams = {
            { name = "A", port = a_port, system_id = "gw", password = "gwpw", reconnect_min = 0.2, reconnect_max = 0.5 },
            { name = "B", port = b_port, system_id = "gw", password = "gwpw", reconnect_min = 0.2, reconnect_max = 0.5 },
        },
        gateway = {
            message_id = message_id or "own",
            routes = {
                { name = "promo", contains = { "PROMO", "sale" }, to = "B" },
                { name = "code", text_pattern = "^code %d+$", to = "B" },
                { name = "slow", text_pattern = "xy.-code", to = "B" },
                { name = "uk", prefix = "44", to = "A" },
                { name = "fr", prefix = "33", to = "B" },
                { name = "rej", prefix = "000", to = "A" },
                { name = "rr", prefix = "7", to = { "A", "B" }, strategy = "round_robin" },
            },
            mo_routes = { { prefix = "111", account = "esme1" } },
        },
    }
end

local A, B, GW
local function start_all(message_id)
    A = server.start { conf = smsc_conf { { prefix = "000", status = "ESME_RINVDSTADR" } } }
    B = server.start { conf = smsc_conf { { prefix = "0009", status = "ESME_RINVDSTADR" } } }
    local dir = require("helpers.tmp").dir()
    require("helpers.tmp").write(dir .. "/gw.lua", HOOKS)
    GW = server.start { conf = "return " .. gateway_conf(A.port, B.port, dir, message_id) }
    assert(GW:wait_log("upstream A: bind 1 up", 5), GW:log_text())
    assert(GW:wait_log("upstream B: bind 1 up", 5), GW:log_text())
end
local function stop_all()
    for _, s in ipairs { GW, A, B } do
        if s and not s:stop("TERM", 5) then s:kill() end
    end
end

local function esme()
    local c = wire.connect(GW.port)
    assert.equal(ROK, c:bind("transceiver", "esme1", "pw1").status)
    return c
end

local function submit(c, dest, f)
    f = f or {}
    f.destination_addr = dest
    local seq = c:next_seq()
    c:send(wire.submit_sm(seq, f))
    local r = assert(c:expect(function(p) return p.seq == seq and p.id == RESP + id.submit_sm end, 6))
    return r.status, wire.first_cstr(r.body)
end

-- A submit_sm, data_sm and submit_multi whose message_payload came twice
-- (the text routes and the hook would read one text, an upstream maybe the
-- other) are refused ESME_RINVOPTPARSTREAM before anything is stored or
-- routed; a vendor TLV given twice is not read here and passes.
local function refuses_payload_twice()
    local c = esme()
    local before = GW:stats().gateway
    local twice = wire.tlv(0x0424, "Big ") .. wire.tlv(0x0424, "Promo")
    assert.equal(RINVOPTPARSTREAM, (submit(c, "447700900123", { short_message = "", tlvs = twice })))
    local data_sm = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. "\1\1" .. wire.cstr("447700900123")
        .. "\0\0\0" .. twice
    c:send(wire.pdu(id.data_sm, 70, data_sm))
    local r = assert(c:expect(function(p) return p.seq == 70 end, 6))
    assert.same({ RESP + id.data_sm, RINVOPTPARSTREAM }, { r.id, r.status })
    local multi = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(1) .. "\1\1\1" .. wire.cstr("447700900123")
        .. "\0\0\0" .. "\0\0" .. "\0\0\0\0" .. wire.u8(0) .. twice
    c:send(wire.pdu(id.submit_multi, 71, multi))
    r = assert(c:expect(function(p) return p.seq == 71 end, 6))
    assert.same({ RESP + id.submit_multi, RINVOPTPARSTREAM }, { r.id, r.status })
    local after = GW:stats().gateway
    assert.is_number(before.queued)
    assert.equal(before.queued, after.queued)
    local function n(g) return (g.accounts.esme1 or { answered = {} }).answered.ESME_RINVOPTPARSTREAM or 0 end
    assert.equal(n(before) + 3, n(after))
    assert.equal(0, GW:count_log("traceback"), GW:log_text())
    assert.equal(3, GW:count_log("refused: TLV message_payload given more than once"), GW:log_text())
    -- a vendor TLV twice is not the gateway's to read: taken
    local st, mid = submit(c, "447700900123", { short_message = "fine",
                                                tlvs = wire.tlv(0x1401, "a") .. wire.tlv(0x1401, "b") })
    assert.equal(ROK, st, GW:log_text())
    assert.is_string(mid)
    c:close()
end

-- The stored message: its route and upstream (GET /messages/ID).
local function message(mid)
    local code, body = GW:http("GET", "/messages/" .. mid)
    assert.equal(200, code, body)
    return cjson.decode(body)
end

-- A message's upstream once its state is `state` (forwarding is async).
local function settled(mid, state)
    local m
    assert(wait_until(function()
        m = message(mid)
        return m.state == state
    end, 5), "message " .. mid .. " never " .. state .. ": " .. cjson.encode(m or {}))
    return m
end

describe("#integration route keys and hooks", function()
    setup(function() start_all() end)
    teardown(stop_all)

    it("routes on the decoded text: contains (any case) and text_pattern", function()
        local c = esme()
        local st, mid = submit(c, "447700900123", { short_message = "Big Promo today" })
        assert.equal(ROK, st)
        local m = message(mid)
        assert.same({ "promo", "B" }, { m.route, m.upstream })
        -- UCS-2 text is decoded before the keys read it
        st, mid = submit(c, "447700900123", { short_message = "\0S\0A\0L\0E", data_coding = 8 })
        assert.same({ "promo", "B" }, { message(mid).route, message(mid).upstream })
        st, mid = submit(c, "447700900123", { short_message = "code 4711" })
        assert.same({ "code", "B" }, { message(mid).route, message(mid).upstream })
        st, mid = submit(c, "447700900123", { short_message = "code 47x" })
        assert.same({ "uk", "A" }, { message(mid).route, message(mid).upstream })
        c:close()
    end)

    it("refuses a message_payload given twice with ESME_RINVOPTPARSTREAM, before routes or hooks read it",
       refuses_payload_twice)

    it("a text_pattern that backtracks gives up on a long text: the next route takes it, as the dry run says", function()
        local c = esme()
        local long = wire.tlv(0x0424, string.rep("xy", 15000))          -- message_payload, 30 kB
        local st, mid = submit(c, "447700900123", { short_message = "", tlvs = long })
        assert.equal(ROK, st, GW:log_text())
        assert.same({ "uk", "A" }, { message(mid).route, message(mid).upstream })
        assert(GW:wait_log('route "slow": its text_pattern gave up after 250000 steps', 5), GW:log_text())
        assert.is_true(GW:stats().gateway.pattern_gave_up >= 1)      -- counted (smppgw_gateway_events_total)
        -- a short text still takes it
        st, mid = submit(c, "447700900123", { short_message = "xy discount code" })
        assert.same({ "slow", "B" }, { message(mid).route, message(mid).upstream })
        -- the dry run of the same configuration and text gives the same verdict
        local run = require "helpers.run"
        local out, err, rc = run.smppgw { "route", GW.dir .. "/conf.lua", "--to", "447700900123", "--system-id", "esme1",
                                          "--text", string.rep("xy", 15000) }
        assert.equal(0, rc, err)
        assert.matches("route 'slow' +no: text_pattern %(the text_pattern gave up after 250000 steps", out)
        assert.matches("\nroute: uk\n", out)
        c:close()
    end)

    it("before_route refuses with a status, picks a route, or changes the message", function()
        local c = esme()
        assert.equal(RX_R_APPN, (submit(c, "447700900123", { short_message = "refuse me" })))
        local st, mid = submit(c, "447700900123", { short_message = "to fr" })
        assert.equal(ROK, st)
        assert.same({ "fr", "B" }, { message(mid).route, message(mid).upstream })
        -- the upstream echoes "echo ..." back as an MO: it got the rewritten text
        st = submit(c, "447700900123", { short_message = "rewrite", source_addr = "1115" })
        assert.equal(ROK, st, GW:log_text())
        local p = assert(c:expect(function(p) return p.id == id.deliver_sm end, 5))
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        assert.equal("echo rewritten", wire.parse_sm(p.body).short_message)
        c:close()
    end)

    it("a hook's error or a wrong verdict fails that message only, named in the log", function()
        local c = esme()
        assert.equal(RSYSERR, (submit(c, "447700900123", { short_message = "boom" })))
        assert.equal(RSYSERR, (submit(c, "447700900123", { short_message = "bad verdict" })))
        assert.equal(RSYSERR, (submit(c, "447700900123", { short_message = "bad route" })))
        assert(GW:wait_log("hook failed", 5), GW:log_text())
        assert(GW:wait_log('before_route returned NOT_A_STATUS', 5), GW:log_text())
        assert(GW:wait_log("before_route picked route nowhere: no such route", 5), GW:log_text())
        assert.equal(ROK, (submit(c, "447700900123", { short_message = "fine" })))   -- and the gateway goes on
        c:close()
    end)

    it("before_route returning ESME_ROK is the hook's mistake: ESME_RSYSERR, logged, nothing stored", function()
        local c = esme()
        local before = GW:stats().store.messages.value
        for _, t in ipairs { "ok 0", "ok name", "ok table" } do
            assert.equal(RSYSERR, (submit(c, "447700900123", { short_message = t })), t)
        end
        assert(GW:wait_log("before_route returned 0 %(ESME_ROK%): not a refusal", 5), GW:log_text())
        assert(GW:wait_log("before_route returned ESME_ROK %(ESME_ROK%)", 5), GW:log_text())
        assert(GW:wait_log("before_route returned {status = 0} %(ESME_ROK%)", 5), GW:log_text())
        assert.equal(before, GW:stats().store.messages.value)
        c:close()
    end)

    it("after_answer moves a refused message to another upstream", function()
        local c = esme()
        local st, mid = submit(c, "000123", { short_message = "x" })
        assert.equal(ROK, st)
        local m = settled(mid, "ENROUTE")
        assert.same({ "rej", "B" }, { m.route, m.upstream })
        local trace = cjson.encode(m.trace)
        assert.matches("after_answer", trace)
        c:close()
    end)

    it("stops a hook that moves a message back and forth: REJECTED after 10 moves", function()
        local c = esme()
        local st, mid = submit(c, "000912", { short_message = "bounce" })   -- A and B both refuse 0009
        assert.equal(ROK, st)
        local m = settled(mid, "REJECTD")
        local trace = cjson.encode(m.trace)
        local _, moves = trace:gsub("moved to ", "")
        assert.equal(10, moves, trace)
        assert.matches("not moved again %(10 moves%): REJECTED", m.trace[#m.trace].event)
        c:close()
    end)

    it("keeps the parts of one long message on one upstream of a round robin route", function()
        local c = esme()
        local ups = {}
        for ref = 1, 3 do
            for seq = 1, 3 do
                local st, mid = submit(c, "7000" .. ref, { esm_class = 0x40,
                    short_message = string.char(5, 0, 3, ref, 3, seq) .. "part " .. seq })
                assert.equal(ROK, st)
                ups[ref] = ups[ref] or {}
                ups[ref][seq] = message(mid).upstream
            end
        end
        local firsts = {}
        for ref = 1, 3 do
            assert.same({ ups[ref][1], ups[ref][1], ups[ref][1] }, ups[ref])
            firsts[ups[ref][1]] = true
        end
        assert.truthy(firsts.A and firsts.B)         -- the messages themselves still rotate
        -- SAR parts too (reference in sar_msg_ref_num)
        local got = {}
        for seq = 1, 2 do
            local tlvs = wire.tlv(0x020C, wire.u16(77)) .. wire.tlv(0x020E, wire.u8(2)) .. wire.tlv(0x020F, wire.u8(seq))
            local _, mid = submit(c, "70009", { short_message = "sar " .. seq, tlvs = tlvs })
            got[seq] = message(mid).upstream
        end
        assert.equal(got[1], got[2])
        local held = GW:stats().store.sticky            -- held in the store, not in Lua
        assert.truthy(held.value >= 4, held.value)
        assert.equal(10000, held.limit)
        c:close()
    end)

    it("splits a submit_multi by the route of each destination", function()
        local c = esme()
        local body = wire.cstr("") .. "\0\0" .. wire.cstr("1234") .. wire.u8(3)
            .. "\1\1\1" .. wire.cstr("447700900123")          -- uk -> A
            .. "\1\1\1" .. wire.cstr("33612345678")           -- fr -> B
            .. "\1\1\1" .. wire.cstr("5550000")               -- no route
            .. "\0\0\0" .. "\0\0" .. "\0\0\0\0" .. wire.u8(2) .. "hi"
        local before = GW:stats().gateway.routes
        c:send(wire.pdu(id.submit_multi, 40, body))
        local r = assert(c:expect(function(p) return p.seq == 40 end, 6))
        assert.same({ RESP + id.submit_multi, ROK }, { r.id, r.status })
        local m = wire.parse_multi_resp(r.body)
        assert.equal(1, #m.unsuccess)
        assert.same({ "5550000", RINVDSTADR }, { m.unsuccess[1].addr, m.unsuccess[1].status })
        assert.equal("A", message(m.message_id).upstream)
        local after = GW:stats().gateway.routes
        local function n(t, k) return t[k] and t[k].submitted or 0 end
        assert.equal(n(before, "uk") + 1, n(after, "uk"))
        assert.equal(n(before, "fr") + 1, n(after, "fr"))
        c:close()
    end)
end)

describe("#integration long messages across a gateway crash", function()
    setup(function() start_all() end)
    teardown(stop_all)

    local function part(ref, seq)
        return { esm_class = 0x40, short_message = string.char(5, 0, 3, ref, 3, seq) .. "part " .. seq }
    end

    it("sends the later parts to the upstream the first part took, after a SIGKILL and restart", function()
        local c = esme()
        -- round robin starts at A: a whole message takes A's turn, so the
        -- first part goes to B
        local st, mid = submit(c, "7100", { short_message = "whole" })
        assert.equal(ROK, st)
        assert.equal("A", message(mid).upstream)
        st, mid = submit(c, "71001", part(42, 1))
        assert.equal(ROK, st)                         -- answered: its turn (and the held route) committed
        assert.equal("B", message(mid).upstream)
        c:close()
        local conf = GW.dir .. "/conf.lua"
        GW:signal("KILL")
        assert(wait_until(function() return not GW:alive() end, 5), "still alive after SIGKILL")
        -- restarted on the same store; the old bound's key is still accepted
        local f = assert(io.open(conf))
        local text, n = f:read("*a"):gsub("gateway = { ", "gateway = { sticky_max = 5, ")
        f:close()
        assert.equal(1, n)
        require("helpers.tmp").write(conf, text)
        GW = server.start { conf_file = conf }
        assert(GW:wait_log("gateway.sticky_max is no longer used: .* store.limits.sticky", 5), GW:log_text())
        assert(GW:wait_log("upstream A: bind 1 up", 5), GW:log_text())
        assert(GW:wait_log("upstream B: bind 1 up", 5), GW:log_text())
        assert.equal(1, GW:stats().store.sticky.value)
        c = esme()
        st, mid = submit(c, "71001", part(42, 2))
        assert.equal(ROK, st)
        assert.equal("B", message(mid).upstream)
        -- the new process's round robin starts at A again: without the held
        -- route the part above would have gone there
        st, mid = submit(c, "7100", { short_message = "whole" })
        assert.equal("A", message(mid).upstream)
        st, mid = submit(c, "71001", part(42, 3))
        assert.equal(ROK, st)
        assert.equal("B", message(mid).upstream)
        c:close()
    end)
end)

describe("#integration after_answer with upstream ids", function()
    setup(function() start_all("upstream") end)
    teardown(stop_all)

    it("replaces the status the ESME gets for an upstream's answer", function()
        local c = esme()
        assert.equal(RX_P_APPN, (submit(c, "000123", { short_message = "x" })))
        local st, mid = submit(c, "447700900123", { short_message = "fine" })
        assert.equal(ROK, st)
        assert.matches("^%d+$", mid)
        c:close()
    end)

    it("refuses a message_payload given twice with ESME_RINVOPTPARSTREAM, before anything is forwarded",
       refuses_payload_twice)
end)

describe("#integration per-route, per-account and per-upstream metrics", function()
    local prometheus = require "helpers.prometheus"
    setup(function() start_all() end)
    teardown(stop_all)

    -- The value of the sample of `name` whose labels include `want`.
    local function value(fam, name, want)
        local f = assert(fam[name], "no family " .. name)
        for _, s in ipairs(f.samples) do
            local ok = s.name == name or s.name == name .. "_count"
            for k, v in pairs(want) do if s.labels[k] ~= v then ok = false end end
            if ok then return s.value end
        end
        return 0
    end

    it("counts each side, route, account and upstream apart, and parses strictly", function()
        local c = esme()
        for _ = 1, 3 do assert.equal(ROK, (submit(c, "447700900123", { short_message = "hi" }))) end
        assert.equal(ROK, (submit(c, "33612345678", { short_message = "hi" })))
        assert.equal(RINVDSTADR, (submit(c, "5550000", { short_message = "hi" })))
        local fam
        assert(wait_until(function()         -- the forwarder sends in the background
            local code, body = GW:http("GET", "/metrics")
            assert.equal(200, code)
            fam = prometheus.parse(body)
            return value(fam, "smppgw_upstream_response_time_seconds", { upstream = "A" }) >= 3
                and value(fam, "smppgw_upstream_response_time_seconds", { upstream = "B" }) >= 1
        end, 5))
        -- the ESME side and the upstream side apart
        assert.equal(5, value(fam, "smppgw_pdus_total", { side = "server", direction = "rx", command = "submit_sm" }))
        assert.equal(4, value(fam, "smppgw_pdus_total", { side = "client", direction = "tx", command = "submit_sm" }))
        assert.equal(0, value(fam, "smppgw_pdus_total", { side = "client", direction = "rx", command = "submit_sm" }))
        -- per route and account: what the gateway answered
        assert.equal(3, value(fam, "smppgw_route_submitted_total", { route = "uk" }))
        assert.equal(1, value(fam, "smppgw_route_answers_total", { route = "fr", status = "ESME_ROK" }))
        assert.equal(1, value(fam, "smppgw_route_answers_total", { route = "-", status = "ESME_RINVDSTADR" }))
        assert.equal(5, value(fam, "smppgw_account_submitted_total", { account = "esme1" }))
        assert.equal(4, value(fam, "smppgw_account_answers_total", { account = "esme1", status = "ESME_ROK" }))
        -- per account and upstream: the engine's counters of their sessions
        assert.equal(5, value(fam, "smppgw_account_pdus_total", { account = "esme1", direction = "rx", command = "submit_sm" }))
        assert.equal(4, value(fam, "smppgw_account_responses_total", { account = "esme1", direction = "tx", status = "ESME_ROK" }))
        assert.equal(3, value(fam, "smppgw_upstream_pdus_total", { upstream = "A", direction = "tx", command = "submit_sm" }))
        assert.equal(1, value(fam, "smppgw_upstream_pdus_total", { upstream = "B", direction = "tx", command = "submit_sm" }))
        assert.equal(3, value(fam, "smppgw_upstream_responses_total", { upstream = "A", direction = "rx", status = "ESME_ROK" }))
        assert.equal("histogram", fam.smppgw_upstream_response_time_seconds.type)
        assert.equal(1, value(fam, "smppgw_upstream_response_time_seconds", { upstream = "B" }))
        -- /stats holds the same
        local st = GW:stats()
        assert.equal(3, st.gateway.routes.uk.submitted)
        local groups = {}
        for _, g in ipairs(st.totals.groups) do groups[g.side .. ":" .. g.name] = g end
        assert.equal(3, groups["client:A"].commands.submit_sm.tx)
        assert.equal(5, groups["server:esme1"].commands.submit_sm.rx)
        assert.equal(5, st.totals.sides.server.commands.submit_sm.rx)
        c:close()
    end)

    it("writes no PDU trace above log level debug", function()
        assert.is_nil(GW:log_text():find("pdu in ", 1, true))
        assert.is_nil(GW:log_text():find("pdu out ", 1, true))
    end)
end)

describe("#integration the PDU trace at log level debug", function()
    local function traced(format)
        local s = server.start { conf = server.smsc_conf { log = { level = "debug", format = format } } }
        local c = wire.connect(s.port)
        assert.equal(ROK, c:bind("transceiver", "smppclient1", "password").status)
        local seq = c:next_seq()
        c:send(wire.submit_sm(seq, { source_addr = "SRC1", destination_addr = "447700900777", short_message = "trace me" }))
        local r = assert(c:expect(function(p) return p.seq == seq end, 5))
        assert.equal(ROK, r.status)
        return s, seq, wire.first_cstr(r.body), c
    end

    it("logs one line per PDU in and out with its key fields", function()
        local s, seq, mid, c = traced("text")
        local want_in = string.format('pdu in submit_sm seq=%d status=ESME_ROK source_addr="SRC1" '
            .. 'destination_addr="447700900777" esm_class=0 data_coding=0 registered_delivery=0 sm_length=8', seq)
        local want_out = string.format('pdu out submit_sm_resp seq=%d status=ESME_ROK message_id="%s"', seq, mid)
        assert(s:wait_log(want_in:gsub("%p", "%%%0"), 5), s:log_text())
        assert(s:wait_log(want_out:gsub("%p", "%%%0"), 5), s:log_text())
        assert.matches('%[s%d+%] pdu in bind_transceiver seq=%d+ status=ESME_ROK system_id="smppclient1"', s:log_text())
        c:close()
        s:stop("TERM", 5)
    end)

    it("writes the fields as a pdu object in JSON log lines", function()
        local s, seq, mid, c = traced("json")
        local line
        assert(wait_until(function()
            for l in s:log_text():gmatch("[^\n]+") do
                local ok, t = pcall(cjson.decode, l)
                if ok and type(t) == "table" and t.pdu and t.pdu.command == "submit_sm_resp"
                    and t.pdu.sequence_number == seq then line = t return true end
            end
        end, 5), s:log_text())
        assert.same({ "out", "ESME_ROK", mid, "debug" }, { line.pdu.direction, line.pdu.status, line.pdu.message_id, line.level })
        assert.equal("0x80000004", line.pdu.command_id)
        assert.is_number(line.session)
        c:close()
        s:stop("TERM", 5)
    end)
end)
