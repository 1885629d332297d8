-- fifo_spec -- smpp.fifo, the one bounded queue of the Lua side: its
-- order, its bound, its pruning, and the bounds of the lists built on it
-- (the reassembler's arrival order, the bind checks' tables).
local fifo = require "smpp.fifo"
local split = require "smpp.split"

describe("smpp.fifo", function()
    it("gives items back in the order they came, and refuses a push past its limit", function()
        local q = fifo.new(3)
        assert.is_nil(q:pop())
        assert.is_true(q:push("a"))
        assert.is_true(q:push("b"))
        assert.is_true(q:push("c"))
        assert.is_true(q:full())
        assert.same({ nil, "full" }, { q:push("d") })
        assert.equal(3, q:len())
        assert.equal("a", q:peek())
        assert.equal("a", q:pop())
        assert.is_true(q:push("d"))
        local seen = {}
        for v in q:items() do seen[#seen + 1] = v end
        assert.same({ "b", "c", "d" }, seen)
        assert.same({ "b", "c", "d" }, { q:pop(), q:pop(), q:pop() })
        assert.is_nil(q:pop())
        assert.equal(0, q:len())
    end)

    it("holds its bound over a long run of pushes and pops, and a new limit applies to pushes", function()
        local q = fifo.new(100)
        local pushed, popped, refused = 0, 0, 0
        for i = 1, 100000 do
            if i % 3 == 0 then
                if q:pop() then popped = popped + 1 end
            elseif q:push(i) then
                pushed = pushed + 1
            else
                refused = refused + 1
            end
            assert(q:len() <= 100)
        end
        assert.equal(pushed - popped, q:len())
        assert.is_true(refused > 0)
        q:set_limit(10)
        assert.same({ nil, "full" }, { q:push(0) })
        while q:len() > 9 do q:pop() end
        assert.is_true(q:push(0))
        assert.has_error(function() fifo.new(0) end)
        assert.has_error(function() q:push(nil) end)
    end)

    it("prunes dead items: at the front at once, behind a live head when they outnumber the live", function()
        local q = fifo.new(1000)
        local live = {}
        for i = 1, 200 do
            q:push(i)
            live[i] = true
        end
        local function is_live(v) return live[v] end
        live[1], live[2] = nil, nil
        q:prune(is_live, 198)
        assert.equal(3, q:peek())
        assert.equal(198, q:len())
        for i = 4, 150 do live[i] = nil end      -- 3 stays: a long-lived head
        q:prune(is_live, 51)
        assert.equal(51, q:len())                  -- rebuilt: 51 live, in order
        local seen = {}
        for v in q:items() do seen[#seen + 1] = v end
        assert.same(3, seen[1])
        assert.same(151, seen[2])
        assert.same(200, seen[51])
    end)
end)

describe("lists on smpp.fifo stay within their bounds", function()
    it("the reassembler's arrival order, with a long-lived message and many that complete", function()
        local r = split.reassembler { max_pending = 10, timeout = 1e9 }
        local parts = split.split(("x"):rep(400), { coding = "gsm", ref = 1 })
        assert.is_nil(r:add(parts[1], 0))            -- one message that never completes
        for i = 1, 5000 do
            local p = split.split(("y"):rep(400), { coding = "gsm", ref = 2 + i % 200 })
            for j = 1, #p do
                p[j].source_addr = tostring(i)
                r:add(p[j], 0)
            end
            assert(r.queue:len() <= 2 * 10 + 65, r.queue:len())
        end
        assert.equal(1, r:pending())
    end)

    it("the bind checks' table of known clients and its order", function()
        local security = require "smpp.security"
        security.configure { max_trusted = 20 }
        finally(function() security.configure {} end)
        for i = 1, 3000 do security.succeeded("10.0." .. (i % 7) .. "." .. (i % 250), "acct" .. (i % 3)) end
        assert.equal(20, security.stats().trusted)
    end)
end)
