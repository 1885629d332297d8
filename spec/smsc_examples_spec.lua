-- smsc_examples_spec -- the test SMSCs of scripts/examples/, each a few
-- lines over smpp.smsc: one account throttled past a rate, a share of
-- failures with delayed receipts and MO replies, a keyword refused.
local wire = require "helpers.wire"
local server = require "helpers.server"

local id, RESP = wire.id, wire.RESP
local ROK, RTHROTTLED, RSUBMITFAIL, RQUERYFAIL = 0, 0x58, 0x45, 0x67

local function example(name, over)
    return server.start { conf = server.smsc_conf(server.merge({
        script = server.root .. "/scripts/examples/" .. name .. ".lua",
        accounts = { { system_id = "smppclient1", password = "password" },
                     { system_id = "slow", password = "password" } },
        store = { path = ":memory:" },
        session = { receive_window = 1000 },
    }, over)) }
end

local function bound(srv, system_id, kind)
    local c = wire.connect(srv.port)
    assert.equal(ROK, c:bind(kind or "transceiver", system_id).status)
    return c
end

-- n submits in one write; the statuses in order, and the ids of those accepted.
local function submits(c, n, f)
    local batch, first = {}, c.seq + 1
    for i = 1, n do batch[i] = wire.submit_sm(c:next_seq(), f) end
    c:send(table.concat(batch))
    local statuses, ids = {}, {}
    while #statuses < n do
        local p = assert(c:expect(function(p) return p.id == RESP + id.submit_sm end))
        statuses[p.seq - first + 1] = p.status
        if p.status == ROK then ids[#ids + 1] = wire.first_cstr(p.body) end
    end
    return statuses, ids
end

local function tally(list)
    local t = {}
    for _, v in ipairs(list) do t[v] = (t[v] or 0) + 1 end
    return t
end

-- deliver_sm PDUs on c (answered) until n of them came: their fields.
local function delivers(c, n, timeout)
    local out = {}
    while #out < n do
        local p = assert(c:expect(function(p) return p.id == id.deliver_sm end, timeout))
        c:send(wire.pdu(RESP + id.deliver_sm, p.seq, "\0"))
        out[#out + 1] = wire.parse_sm(p.body)
    end
    return out
end

describe("#integration the example test SMSCs", function()
    it("throttle_account: ESME_RTHROTTLED past the rate for that account only", function()
        local srv = example("throttle_account", { smsc = { params = { account = "slow", rate = 2 } } })
        local slow, other = bound(srv, "slow"), bound(srv)
        local t = tally((submits(slow, 30, {})))
        assert.is_true((t[ROK] or 0) >= 2 and (t[ROK] or 0) <= 10, "accepted " .. tostring(t[ROK]))
        assert.equal(30 - t[ROK], t[RTHROTTLED])
        assert.same({ [ROK] = 30 }, tally((submits(other, 30, {}))))
    end)

    it("flaky: a seeded share fails, receipts after the delay, an MO reply to each", function()
        local function run(seed)
            local srv = example("flaky", { smsc = { seed = seed, params = { fail = 0.3, delay = 0.2 } } })
            local c = bound(srv)
            local t0 = wire.gettime()
            local _, ids = submits(c, 40, { registered_delivery = 1, short_message = "hi there" })
            assert.equal(40, #ids)
            local state, mo = {}, 0
            for _, d in ipairs(delivers(c, 80, 10)) do
                if d.esm_class == 4 then
                    state[d.tlvs[0x001E]:sub(1, -2)] = d.short_message:match("stat:(%u+)")
                else
                    assert.equal("Got: hi there", d.short_message)
                    mo = mo + 1
                end
            end
            assert.equal(40, mo)
            assert.is_true(wire.gettime() - t0 >= 0.2)           -- receipts wait for the delay
            local pattern = {}
            for i, mid in ipairs(ids) do pattern[i] = state[mid] == "UNDELIV" and "x" or "." end
            c:close()
            srv:stop()
            return table.concat(pattern)
        end
        local a, b, other = run(7), run(7), run(8)
        assert.equal(a, b)                                          -- the same seed, the same failures
        assert.is_true(a ~= other)
        local failed = select(2, a:gsub("x", ""))
        assert.is_true(failed >= 4 and failed <= 24, "failed " .. failed .. " of 40")
    end)

    it("keyword: refuses the keyword in any case; query_sm answers for the others", function()
        local srv = example("keyword", { smsc = { receipt_delay = 0.2, params = { keyword = "Blocked" } } })
        local c = bound(srv)
        local statuses = submits(c, 1, { short_message = "this is BLOCKED text" })
        assert.same({ RSUBMITFAIL }, statuses)
        local _, ids = submits(c, 1, { short_message = "a fine text" })
        local mid = ids[1]
        local function query(m)
            local seq = c:next_seq()
            c:send(wire.pdu(id.query_sm, seq, wire.cstr(m) .. "\0\0" .. wire.cstr("1234")))
            local r = assert(c:expect(function(p) return p.seq == seq end))
            return r.status, r.status == ROK and wire.parse_query_resp(r.body).message_state
        end
        assert.same({ ROK, 1 }, { query(mid) })                   -- ENROUTE
        assert.is_truthy(require("helpers.wait").wait_until(function() return select(2, query(mid)) == 2 end))
        assert.equal(RQUERYFAIL, (query("00000000000000000001")))
    end)
end)
