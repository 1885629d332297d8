-- smsc_module_spec -- smpp.smsc without a server: message ids made from a
-- node id and a key and read back, the seeded random numbers (every bit
-- of the seed counts), the options it refuses, the hooks a script
-- replaces, and the scheduler's calls on the store (the runtime's timers
-- and outbox stubbed).
local smsc = require "smpp.smsc"
local msgid = require "smpp.msgid"

describe("smpp.smsc", function()
    it("makes message ids from the node id and the key, and reads them back", function()
        local node = 4000000001
        for name, len in pairs { decimal = 20, hex = 16, uuid = 36 } do
            local f = msgid.keyed[name]
            for _, key in ipairs { 1, 999, 2 ^ 31 + 7, 4294967295 } do
                local id = f.make(node, key)
                assert.equal(len, #id, name .. " " .. id)
                assert.same({ node, key }, { f.read(id) })
            end
            assert.same({ node, 2 ^ 40 }, { f.read(f.make(node, 2 ^ 40)) })   -- longer past the width
            assert.is_nil((f.read("nonsense")))
        end
        assert.equal("40000000010000000042", msgid.keyed.decimal.make(node, 42))
        assert.equal("EE6B28010000002A", msgid.keyed.hex.make(node, 42))
        assert.equal("ee6b2801-0000-4000-8000-00000000002a", msgid.keyed.uuid.make(node, 42))
        -- either case reads back; the fixed fields of the layout are checked
        assert.same({ node, 42 }, { msgid.keyed.hex.read("ee6b28010000002a") })
        assert.is_nil((msgid.keyed.uuid.read("ee6b2801-0000-4001-8000-00000000002a")))
        assert.is_true(msgid.keyed.decimal.make(node, 1) ~= msgid.keyed.decimal.make(node + 1, 1))
    end)

    it("draws the same numbers from the same seed, in [0, 1)", function()
        local a, b, c = smsc.random(42), smsc.random(42), smsc.random(43)
        local sum, same, other = 0, true, false
        for _ = 1, 10000 do
            local x = a()
            assert.is_true(x >= 0 and x < 1)
            sum = sum + x
            if b() ~= x then same = false end
            if c() ~= x then other = true end
        end
        assert.is_true(same)
        assert.is_true(other)
        assert.is_true(math.abs(sum / 10000 - 0.5) < 0.02)
    end)

    it("gives different streams for seeds that differ only above bit 32 or in their fraction", function()
        -- draws of two streams closer than 0.01 (about 2 in 100 by chance)
        local function close(s1, s2)
            local a, b, n = smsc.random(s1), smsc.random(s2), 0
            for _ = 1, 200 do if math.abs(a() - b()) < 0.01 then n = n + 1 end end
            return n
        end
        local seed = 20384283310432
        for _, pair in ipairs { { seed, seed + 2 ^ 32 }, { 7, 7 + 2 ^ 40 }, { 0, 0.5 }, { 1, 1.25 },
                                { 3, 3 + 2 ^ -20 }, { 0, 1 }, { 0, -1 } } do
            assert.is_true(close(pair[1], pair[2]) < 20, string.format("%.17g and %.17g", pair[1], pair[2]))
        end
        assert.equal(200, close(seed + 0.5, seed + 0.5))
        for _, bad in ipairs { 0 / 0, math.huge, -math.huge } do
            local ok, err = pcall(smsc.random, bad)
            assert.is_false(ok)
            assert.matches("smsc%.seed: a finite number, not", err)
        end
    end)

    it("seeds from smsc.seed, else differently in each instance", function()
        local function first(conf) local s = smsc.new(conf); return s.random(), s.random() end
        assert.same({ first { smsc = { seed = 9 } } }, { first { smsc = { seed = 9 } } })
        assert.are_not.same({ first {} }, { first {} })
    end)

    it("refuses options it does not know, naming them", function()
        assert.has_error(function() smsc.new { smsc = { reciept_delay = 1 } } end)
        local ok, err = pcall(smsc.new, { smsc = { reciept_delay = 1 } })
        assert.is_false(ok)
        assert.matches("smsc.reciept_delay: unknown key", err)
        ok, err = pcall(smsc.new, { smsc = { reject = { { prefix = "1", status = "ESME_NOPE" } } } })
        assert.matches("unknown status ESME_NOPE", err)
        ok, err = pcall(smsc.new, { smsc = { rules = { { prefix = "1", state = "LOST" } } } })
        assert.matches("smsc.rules%[1%].state", err)
    end)

    it("hands out its defaults as hooks, and handlers for the runtime", function()
        local s = smsc.new { smsc = { reject = { { prefix = "000", status = "ESME_RINVDSTADR" } },
                                      rules = { { prefix = "999", state = "UNDELIV", err = 7, delay = 3 } },
                                      receipt_delay = 2, params = { mine = 1 } } }
        local function m(dest) return { dest = dest, source = "1234" } end
        assert.equal(0x0B, s.on_submit(m("000123")))
        assert.is_nil(s.on_submit(m("447700900123")))
        assert.same({ 5, 7, 3 }, { s.final_state(m("999")) })                -- UNDELIVERABLE
        assert.same({ 2, 0, 2 }, { s.final_state(m("447700900123")) })      -- DELIVERED
        assert.equal(1, s.params.mine)
        for _, name in ipairs { "submit_sm", "data_sm", "submit_multi", "query_sm", "cancel_sm", "replace_sm",
                                "http_send", "start" } do
            assert.is_function(s.handlers[name], name)
        end
    end)

    it("clears each due row by its key once its receipt is posted, with no search of the due index", function()
        local smpp, store = require "smpp", require "smpp.store"
        local real = assert(store.open { path = ":memory:" })
        local calls, posted = {}, {}
        local methods = {}
        for _, name in ipairs(store.methods) do methods[name] = true end
        local counted = setmetatable({}, { __index = function(_, name)
            if not methods[name] then return nil end
            return function(_, ...)
                calls[name] = (calls[name] or 0) + 1
                return real[name](real, ...)
            end
        end })
        local saved = { after = smpp.after, cancel = smpp.cancel, post = smpp.post, log = smpp.log }
        finally(function()
            for k, v in pairs(saved) do smpp[k] = v end
            store.use(nil)
            real:close()
        end)
        smpp.after = function() return {} end
        smpp.cancel = function() end
        smpp.log = function() end
        smpp.post = function(account, pdu) posted[#posted + 1] = account return true end
        store.use(counted)
        local now = smpp.time()
        for i = 1, 5 do
            assert(real:put { account = "a" .. i, source = "1", dest = "2", submitted = now - 2, state = 2,
                              final = true, done = now - 1, due = now - 1 + i / 100, registered_delivery = 1 })
        end
        local s = smsc.new {}
        smsc.active = s
        finally(function() smsc.active = nil end)
        s._run()
        assert.same({ "a1", "a2", "a3", "a4", "a5" }, posted)
        assert.is_nil(calls.take_due)
        assert.equal(5, calls.update)
        assert.same({}, real:due(now + 10, 10))
    end)

    it("echoes a message whose message_payload came twice (an array) without raising", function()
        local s = smsc.new { smsc = { echo = "keyword" } }
        local session = { system_id = "smppclient1" }
        local pdu = { command = "submit_sm", source_addr = "5555", short_message = "",
                      message_payload = { "echo ", "hi" } }
        local mo = s._echo(session, pdu, "447700900777", 1, 1)
        assert.equal("447700900777", mo.source_addr)
        assert.same({ "echo ", "hi" }, mo.message_payload)
        pdu.message_payload = { "no", "echo" }
        assert.is_nil(s._echo(session, pdu, "447700900777", 1, 1))
    end)
end)
