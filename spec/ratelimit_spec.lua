-- ratelimit_spec -- smpp.ratelimit: token buckets driven by a fake clock,
-- single and keyed, including eviction when the key table is full.
local ratelimit = require "smpp.ratelimit"

-- A clock the test moves by hand.
local function fake_clock(start)
    local c = { now = start or 1000 }
    c.fn = function() return c.now end
    return c
end

describe("ratelimit.bucket", function()
    it("grants the burst at once, then refuses with the wait", function()
        local c = fake_clock()
        local b = ratelimit.bucket(10, 5, c.fn)
        for _ = 1, 5 do assert.is_true(b:take()) end
        local ok, wait = b:take()
        assert.is_false(ok)
        assert.near(0.1, wait, 1e-9)
    end)

    it("refills at the rate and never beyond the burst", function()
        local c = fake_clock()
        local b = ratelimit.bucket(2, 4, c.fn)
        assert.is_true(b:take(4))
        assert.is_false(b:take())
        c.now = c.now + 0.5
        assert.is_true(b:take())
        assert.is_false(b:take())
        c.now = c.now + 3600
        assert.near(4, b:available(), 1e-9)
        assert.is_true(b:take(4))
        assert.is_false(b:take())
    end)

    it("reports the wait for n tokens and grants them after it", function()
        local c = fake_clock()
        local b = ratelimit.bucket(4, 8, c.fn)
        assert.is_true(b:take(8))
        local ok, wait = b:take(3)
        assert.is_false(ok)
        assert.near(0.75, wait, 1e-9)
        c.now = c.now + wait
        assert.is_true(b:take(3))
    end)

    it("does not take tokens on a refusal", function()
        local c = fake_clock()
        local b = ratelimit.bucket(1, 3, c.fn)
        assert.is_true(b:take(2))
        assert.is_false(b:take(2))
        assert.is_true(b:take(1))
    end)

    it("never grants more than the burst, and says so", function()
        local b = ratelimit.bucket(10, 5, fake_clock().fn)
        local ok, wait = b:take(6)
        assert.is_false(ok)
        assert.equal(math.huge, wait)
    end)

    it("defaults the burst to max(1, rate)", function()
        local c = fake_clock()
        local b = ratelimit.bucket(3, nil, c.fn)
        assert.is_true(b:take(3))
        assert.is_false(b:take())
        local slow = ratelimit.bucket(0.5, nil, c.fn)
        assert.is_true(slow:take())
        local ok, wait = slow:take()
        assert.is_false(ok)
        assert.near(2, wait, 1e-9)
    end)

    it("is unlimited at rate 0", function()
        local b = ratelimit.bucket(0, nil, fake_clock().fn)
        for _ = 1, 10000 do assert.is_true(b:take()) end
        assert.is_true(b:take(1e9))
    end)

    it("earns nothing when the clock goes backwards", function()
        local c = fake_clock(1000)
        local b = ratelimit.bucket(1, 1, c.fn)
        assert.is_true(b:take())
        c.now = 500
        assert.is_false(b:take())
        c.now = 500.5
        assert.is_false(b:take())
        c.now = 501
        assert.is_true(b:take())
    end)

    it("works with the default wall clock", function()
        local b = ratelimit.bucket(1, 2)
        assert.is_true(b:take())
        assert.is_true(b:take())
        local ok, wait = b:take()
        -- A second may tick between the calls; either way the answer is sane.
        assert.is_true(ok or (wait > 0 and wait <= 1))
    end)

    it("raises on bad arguments", function()
        assert.has_error(function() ratelimit.bucket(-1) end)
        assert.has_error(function() ratelimit.bucket("10") end)
        assert.has_error(function() ratelimit.bucket(1, 0) end)
        assert.has_error(function() ratelimit.bucket(1, 1, 42) end)
        local b = ratelimit.bucket(1, 1, fake_clock().fn)
        assert.has_error(function() b:take(0) end)
        assert.has_error(function() b:take("1") end)
    end)
end)

describe("ratelimit.keyed", function()
    it("keeps one bucket per key", function()
        local c = fake_clock()
        local k = ratelimit.keyed({ rate = 1, burst = 2, clock = c.fn })
        assert.is_true(k:take("a"))
        assert.is_true(k:take("a"))
        local ok, wait = k:take("a")
        assert.is_false(ok)
        assert.near(1, wait, 1e-9)
        assert.is_true(k:take("b"))
        assert.equal(2, k:size())
        c.now = c.now + 1
        assert.is_true(k:take("a"))
        assert.is_false(k:take("a"))
    end)

    it("evicts buckets that have refilled when the table is full", function()
        local c = fake_clock()
        local k = ratelimit.keyed({ rate = 1, burst = 1, clock = c.fn, max_keys = 3 })
        assert.is_true(k:take("a"))
        assert.is_true(k:take("b"))
        assert.is_true(k:take("c"))
        assert.equal(3, k:size())
        c.now = c.now + 10         -- all three are full again
        assert.is_true(k:take("d"))
        assert.equal(1, k:size())
        -- "a" was forgotten, but a full bucket is what it had anyway.
        assert.is_true(k:take("a"))
        assert.is_false(k:take("a"))
    end)

    it("evicts the least recently used bucket when none is full", function()
        local c = fake_clock()
        local k = ratelimit.keyed({ rate = 0.001, burst = 1, clock = c.fn, max_keys = 2 })
        assert.is_true(k:take("a"))
        c.now = c.now + 1
        assert.is_true(k:take("b"))
        c.now = c.now + 1
        assert.is_false(k:take("a"))   -- "a" is now the most recent user
        assert.is_true(k:take("c"))    -- "b" goes
        assert.equal(2, k:size())
        assert.is_false(k:take("a"))   -- "a" kept its empty bucket
        assert.is_false(k:take("c"))
        assert.is_true(k:take("b"))    -- "b" starts again full
    end)

    it("never holds more than max_keys buckets", function()
        local c = fake_clock()
        local k = ratelimit.keyed({ rate = 1, burst = 5, clock = c.fn, max_keys = 100 })
        for i = 1, 1000 do
            k:take(i)
            assert.is_true(k:size() <= 100)
        end
        assert.equal(100, k:size())
    end)

    it("is unlimited and keeps nothing at rate 0", function()
        local k = ratelimit.keyed({ rate = 0 })
        for i = 1, 100 do assert.is_true(k:take(i, 50)) end
        assert.equal(0, k:size())
    end)

    it("raises on bad arguments", function()
        assert.has_error(function() ratelimit.keyed({ rate = -1 }) end)
        assert.has_error(function() ratelimit.keyed({ rate = 1, max_keys = 0 }) end)
        local k = ratelimit.keyed({ rate = 1, clock = fake_clock().fn })
        assert.has_error(function() k:take(nil) end)
        assert.has_error(function() k:take("a", -2) end)
    end)
end)

describe("ratelimit's default clock", function()
    it("is monotonic seconds with sub-second resolution, not whole wall seconds", function()
        local clock = ratelimit.default_clock
        local t0 = clock()
        assert.is_true(math.abs(t0 - os.time()) > 1)        -- not the wall clock
        -- a reading that is not a whole second comes before long (a whole-second
        -- clock would never give one)
        local fraction = false
        for _ = 1, 1000000 do
            local t = clock()
            assert.is_true(t >= t0)                          -- never backwards
            t0 = t
            if t % 1 ~= 0 then fraction = true break end
        end
        assert.is_true(fraction)
    end)

    it("refills a bucket made without a clock by fractions of a token", function()
        local b = ratelimit.bucket(1, 1)
        assert.is_true(b:take())
        local t0 = ratelimit.default_clock()
        while ratelimit.default_clock() - t0 < 0.02 do end  -- 20 ms of its clock (no sleep in a spec)
        local got = b:available()
        assert.is_true(got > 0 and got < 1, tostring(got))  -- whole seconds would give 0 or 1
    end)
end)
