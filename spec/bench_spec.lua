-- bench_spec -- smppgw bench against a running smppgw: its counts must match
-- what the server saw.
local run = require "helpers.run"
local server = require "helpers.server"
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
        assert.matches("throughput %d+ round trips/s", out)
        assert.matches("latency us: min %d+  p50 %d+  p90 %d+  p99 %d+  p99%.9 %d+  max %d+", out)
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
    end)

    it("fails (exit 1) when nothing binds", function()
        local _, err, rc = run.smppgw({ "bench", "--count", "5", "--quiet", "127.0.0.1:1" })
        assert.equal(1, rc)
        assert.matches("connect", err)
    end)
end)
