-- cli_bench_spec -- smppgw bench against a running smppgw: its counts must
-- match what the server saw, and its messages carry the addresses asked for.
local run = require "helpers.run"
local server = require "helpers.server"
local recorder = require "helpers.recorder"
local cjson = require "cjson"

local RECEIPT_DELAY = 0.2          -- the SMSC's, seconds
local function smsc()
    return server.start { conf = server.smsc_conf { smsc = { receipt_delay = RECEIPT_DELAY } } }
end

describe("#integration smppgw bench", function()
    it("sends, counts acknowledgements and receipts, and the server agrees", function()
        local srv = smsc()
        local out, err, rc = run.smppgw({ "bench", "--sessions", "2", "--window", "10", "--count", "300",
                                          "--dlr", "--json", "--quiet", "127.0.0.1:" .. srv.port })
        assert.equal(0, rc, err)
        local r = cjson.decode(out)
        assert.same({ 300, 300, 0, 0, 300, 0 }, { r.sent, r.ok, r.failed, r.timeouts, r.receipts, r.receipts_unmatched })
        assert.is_true(r.throughput > 0)
        assert.is_true(r.p50_us > 0 and r.p99_us >= r.p50_us)
        assert.is_true(r.receipt_p50_us >= 1000000 * RECEIPT_DELAY * 0.9, r.receipt_p50_us)
        assert.is_true(srv:stop("TERM", 5))
        -- the server's totals: 300 submit_sm in, 300 receipts out
        local totals = srv:log_text():match("totals: [^\n]*")
        assert.matches(" submit_sm 300/0 ", totals)
        assert.matches(" deliver_sm 0/300 ", totals)
    end)

    it("binds as a transmitter and sends data_sm", function()
        local srv = smsc()
        local out, err, rc = run.smppgw({ "bench", "--bind", "tx", "--data-sm", "--coding", "8", "--count", "50",
                                          "--json", "--quiet", "127.0.0.1:" .. srv.port })
        assert.equal(0, rc, err)
        local r = cjson.decode(out)
        assert.same({ 50, 50 }, { r.sent, r.ok })
        assert.is_true(srv:stop("TERM", 5))
        assert.matches(" data_sm 50/0 ", srv:log_text():match("totals: [^\n]*"))
        assert.matches(" bind_transmitter 1/0 ", srv:log_text():match("totals: [^\n]*"))
    end)

    it("prints a progress line and the summary", function()
        local srv = smsc()
        local out, err, rc = run.smppgw({ "bench", "--duration", "1.5", "127.0.0.1:" .. srv.port })
        assert.equal(0, rc)
        assert.matches("sent %d+  rate %d+/s  outstanding %d+", err)      -- progress, on stderr
        assert.matches("from Bench to 447700900123\n", err)
        assert.matches("throughput %d+ round trips/s", out)
        assert.matches("latency us: min %d+  p50 %d+  p90 %d+  p99 %d+  p99%.9 %d+  max %d+", out)
    end)

    it("sends from --from to every number of --to-range in turn", function()
        local srv = recorder.start()
        local out, err, rc = run.smppgw({ "bench", "--sessions", "2", "--window", "4", "--count", "30",
                                          "--from", "4412345", "--to-range", "447700900100-447700900109",
                                          "127.0.0.1:" .. srv.port })
        assert.equal(0, rc, err)
        assert.matches("from 4412345 to 447700900100%-447700900109 %(10 destinations%)\n", out)
        assert.matches("sent 30  ok 30 ", out)
        assert.matches("from 4412345 to 447700900100%-447700900109", err)   -- the progress line
        local seen, n = {}, 0
        for _, p in ipairs(recorder.wait_for(srv, 30)) do
            assert.same({ "4412345", 1, 1, 1, 1 }, { p.source_addr, p.source_addr_ton, p.source_addr_npi,
                                                   p.dest_addr_ton, p.dest_addr_npi })
            if not seen[p.destination_addr] then n = n + 1 end
            seen[p.destination_addr] = (seen[p.destination_addr] or 0) + 1
        end
        assert.equal(10, n)
        for i = 100, 109 do assert.equal(3, seen["447700900" .. i], "447700900" .. i) end
    end)

    it("keeps FIRST's zero padding, names a sender TON 5, and reports the addresses in JSON", function()
        local srv = recorder.start()
        local out, err, rc = run.smppgw({ "bench", "--count", "6", "--data-sm", "--from", "Shop",
                                          "--to-range", "007-010", "--json", "--quiet",
                                          "127.0.0.1:" .. srv.port })
        assert.equal(0, rc, err)
        local r = cjson.decode(out)
        assert.same({ "Shop", "007-010", 4, 6 }, { r.from, r.to, r.destinations, r.ok })
        local dests = {}
        for _, p in ipairs(recorder.wait_for(srv, 6)) do
            assert.same({ "data_sm", "Shop", 5, 0 }, { p.command, p.source_addr, p.source_addr_ton, p.source_addr_npi })
            dests[p.destination_addr] = true
        end
        assert.same({ ["007"] = true, ["008"] = true, ["009"] = true, ["010"] = true }, dests)
        out = run.smppgw({ "bench", "--count", "2", "--to", '447700900555', "--json", "--quiet",
                           "127.0.0.1:" .. srv.port })
        assert.same({ "Bench", "447700900555", 1 }, { cjson.decode(out).from, cjson.decode(out).to,
                                                     cjson.decode(out).destinations })
        assert.equal("447700900555", recorder.wait_for(srv, 8)[8].destination_addr)
    end)

    it("refuses bad options with exit code 2", function()
        local _, err, rc = run.smppgw({ "bench", "--bind", "rx" })
        assert.equal(2, rc)
        assert.matches("%-%-bind takes trx or tx", err)
        _, err, rc = run.smppgw({ "bench", "--dlr", "--bind", "tx" })
        assert.equal(2, rc)
        assert.matches("needs %-%-bind trx", err)
        _, err, rc = run.smppgw({ "bench", "--window", "0" })
        assert.equal(2, rc)
        assert.matches("bad value for %-%-window: 0", err)
        for _, case in ipairs {
            { { "--frobnicate" }, "unknown option %-%-frobnicate" },        -- last, without a value
            { { "--to" }, "%-%-to needs a value" },
            { { "--to-range", "9-1" }, "%-%-to%-range takes FIRST%-LAST" },
            { { "--to-range", "12345678901234567890-12345678901234567899" }, "%-%-to%-range takes FIRST%-LAST" },
            { { "--to-range", "1-x" }, "%-%-to%-range takes FIRST%-LAST" },
            { { "--to", "1", "--to-range", "1-2" }, "one of %-%-to and %-%-to%-range" },
            { { "--from", ("1"):rep(21) }, "source_addr is 21 characters, at most 20 allowed" },
            { { "--to-range", "1-123456789012345678901" }, "%-%-to%-range takes" },
        } do
            local args = { "bench" }
            for _, a in ipairs(case[1]) do args[#args + 1] = a end
            _, err, rc = run.smppgw(args)
            assert.equal(2, rc, err)
            assert.matches(case[2], err)
        end
    end)

    it("holds a receipt that comes before its answer and matches it when the answer comes", function()
        -- an SMSC that sends each receipt first, the answer after the
        -- receipt's own answer: every receipt is before its answer
        local srv = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = [[
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    local id = tostring(n)
    session:send { command = "deliver_sm", esm_class = 4, receipted_message_id = id, message_state = 2,
        short_message = "id:" .. id .. " sub:001 dlvrd:001 submit date:2501311200 done date:2501311200 stat:DELIVRD err:000 text:" }
    return 0, { message_id = id }
end }]] }
        local out, err, rc = run.smppgw({ "bench", "--sessions", "2", "--window", "10", "--count", "200",
                                          "--dlr", "--json", "--quiet", "127.0.0.1:" .. srv.port })
        assert.equal(0, rc, err)
        local r = cjson.decode(out)
        -- before: all 200 counted unmatched, and 200 missing (10 s waited)
        assert.same({ 200, 200, 0, 200, 0 }, { r.sent, r.ok, r.receipts_unmatched, r.receipts_before_answer,
                                               r.receipts_other_session })
        out = run.smppgw({ "bench", "--count", "20", "--dlr", "127.0.0.1:" .. srv.port })
        assert.matches("receipts 20 %(0 unmatched, 0 missing%)", out)
        assert.matches("receipts before their answer 20 %(held, matched when it came%), on another session "
                       .. "than their answer 0\n", out)
    end)

    it("counts a receipt no answer claims as unmatched", function()
        -- receipts for ids no answer gives (each answer an error)
        local srv = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = [[
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    session:send { command = "deliver_sm", esm_class = 4, receipted_message_id = tostring(n), message_state = 2 }
    return 0x45
end }]] }
        local out, err, rc = run.smppgw({ "bench", "--count", "5", "--dlr", "--json", "--quiet",
                                          "127.0.0.1:" .. srv.port })
        local r = cjson.decode(out)
        assert.equal(1, rc, err)                          -- nothing was accepted
        assert.same({ 5, 5, 5, 0 }, { r.failed, r.receipts, r.receipts_unmatched, r.receipts_before_answer })
    end)

    it("counts receipts that never came in --json as the text does (receipts_missing)", function()
        local srv = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = [[
local n = 0
return { submit_sm = function(session, pdu)
    n = n + 1
    return 0, { message_id = tostring(n) }
end }]] }
        finally(function() srv:stop() end)
        local args = { "bench", "--count", "3", "--dlr", "--quiet", "127.0.0.1:" .. srv.port }
        local text, err = run.smppgw(args)
        assert.matches("receipts 0 %(0 unmatched, 3 missing%)", text .. err)
        args[#args + 1] = "--json"
        local out
        out, err = run.smppgw(args)
        local r = cjson.decode(out)
        assert.same({ 3, 3, 0, 0, 3 }, { r.sent, r.ok, r.receipts, r.receipts_unmatched, r.receipts_missing })
        assert.equal(0, r.receipt_max_us)
    end)

    it("fails (exit 1) when nothing binds", function()
        local _, err, rc = run.smppgw({ "bench", "--count", "5", "--quiet", "127.0.0.1:1" })
        assert.equal(1, rc)
        assert.matches("connect", err)
    end)

    it("fails (exit 1) saying how many bound when not every session did", function()
        local srv = server.start { conf = server.smsc_conf { limits = { max_per_address = 2 } } }
        local out, err, rc = run.smppgw({ "bench", "--sessions", "4", "--duration", "0.5", "--quiet",
                                          "127.0.0.1:" .. srv.port })
        assert.equal(1, rc, out .. err)
        assert.matches("2 of 4 sessions bound", out)
        assert.matches("smppgw bench: only 2 of 4 sessions bound", err, 1, true)
    end)

    it("waits --timeout for each response, the bind's included, and counts the rest as timeouts", function()
        -- submits are never answered; a bench without --timeout would wait 30 s for them
        local srv = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = [[
local smpp = require "smpp"
return { submit_sm = function() smpp.sleep(3600) return 0 end }]] }
        local t0 = require("helpers.wait").gettime()
        local out, err, rc = run.smppgw({ "bench", "--count", "3", "--window", "3", "--timeout", "0.5", "--json",
                                          "--quiet", "127.0.0.1:" .. srv.port })
        assert.equal(1, rc, out .. err)                   -- nothing was acknowledged
        local r = cjson.decode(out)
        assert.same({ 1, 3, 0, 3 }, { r.bound, r.sent, r.ok, r.timeouts })
        assert.is_true(require("helpers.wait").gettime() - t0 < 20)
        -- a bind that is never answered: the session does not bind, bench stops
        local mute = server.start { conf = [[return { script = 'script.lua', store = { path = ':memory:' },
            accounts = { { system_id = 'smppclient1', password = 'password' } } }]], script = [[
local smpp = require "smpp"
return { bind = function() smpp.sleep(3600) return 0 end }]] }
        out, err, rc = run.smppgw({ "bench", "--count", "3", "--timeout", "0.5", "--quiet", "127.0.0.1:" .. mute.port })
        assert.equal(1, rc, out .. err)
        assert.matches("no session bound", err)
        for _, bad in ipairs { "0", "-1", "x", "nan" } do
            _, err, rc = run.smppgw({ "bench", "--timeout", bad, "127.0.0.1:" .. srv.port })
            assert.equal(2, rc, bad)
            assert.matches("bad value for --timeout", err, 1, true)
        end
    end)
end)
