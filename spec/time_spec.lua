-- time_spec -- smpp.time: the examples of reference 8, calendar arithmetic
-- for relative times, formatting both ways; none of it may depend on TZ.
local time = require "smpp.time"

-- Unix times written out by hand (checked with an independent timegm).
local T = {
    ["2025-01-31 20:59:59"] = 1738357199,
    ["2025-02-01 00:59:59"] = 1738371599,
    ["2025-06-01 12:00:00"] = 1748779200,
    ["2025-01-31 12:00:00"] = 1738324800,
    ["2025-01-31 00:00:00"] = 1738281600,
    ["2025-02-28 12:00:00"] = 1740744000,
    ["2024-01-31 12:00:00"] = 1706702400,
    ["2024-02-29 12:00:00"] = 1709208000,
    ["2027-08-10 23:34:29"] = 1817940869,
    ["2069-12-31 23:59:59"] = 3155759999,
}

describe("time.parse: reference 8 examples", function()
    it("reads '250131235959012+' as 20:59:59 UTC", function()
        assert.equal(T["2025-01-31 20:59:59"], (time.parse("250131235959012+")))
    end)

    it("reads '250131235959004-' as 1 Feb 2025 00:59:59 UTC", function()
        assert.equal(T["2025-02-01 00:59:59"], (time.parse("250131235959004-")))
    end)

    it("reads '250601120000000+' as 12:00 UTC", function()
        assert.equal(T["2025-06-01 12:00:00"], (time.parse("250601120000000+")))
    end)

    it("adds relative days, hours and minutes to now", function()
        local now = T["2025-01-31 12:00:00"]
        assert.equal(now + 86400, (time.parse("000001000000000R", now)))
        assert.equal(now + 5400, (time.parse("000000013000000R", now)))
        assert.equal(now + 59, (time.parse("000000000059000R", now)))
    end)

    it("adds '020610233429000R' as 2 years, 6 months, 10 days, 23:34:29", function()
        local now = T["2025-01-31 00:00:00"]
        -- 2027-01-31, then 2027-07-31, then 2027-08-10 23:34:29
        assert.equal(T["2027-08-10 23:34:29"], (time.parse("020610233429000R", now)))
    end)

    it("uses the current time for relative values without now", function()
        local before = os.time()
        local t = time.parse("000000010000000R")
        assert.is_true(t >= before + 3600 and t <= os.time() + 3600)
    end)

    it("returns the tenths as a second value", function()
        local t, tenths = time.parse("250131235959712+")
        assert.equal(T["2025-01-31 20:59:59"], t)
        assert.equal(7, tenths)
    end)

    it("reads 12-digit SMSC dates as UTC", function()
        assert.equal(T["2025-01-31 12:00:00"], (time.parse("250131120000")))
    end)

    it("returns false for an empty (NULL) time", function()
        assert.equal(false, time.parse(""))
    end)
end)

describe("time.parse: calendar months", function()
    it("clamps to the end of a shorter month", function()
        assert.equal(T["2025-02-28 12:00:00"], (time.parse("000100000000000R", T["2025-01-31 12:00:00"])))
        assert.equal(T["2024-02-29 12:00:00"], (time.parse("000100000000000R", T["2024-01-31 12:00:00"])))
    end)

    it("adds a year as a calendar year across a leap day", function()
        -- 2024-02-29 + 1 year = 2025-02-28 (clamped), not 365 days later
        assert.equal(T["2025-02-28 12:00:00"], (time.parse("010000000000000R", T["2024-02-29 12:00:00"])))
        -- 2024-01-31 + 1 year is 366 days because of 29 Feb 2024
        assert.equal(T["2024-01-31 12:00:00"] + 366 * 86400,
                     (time.parse("010000000000000R", T["2024-01-31 12:00:00"])))
    end)

    it("carries months into years", function()
        local now = T["2025-06-01 12:00:00"]
        assert.equal(time.timegm(2026, 6, 1, 12, 0, 0), (time.parse("001200000000000R", now)))
        assert.equal(time.timegm(2026, 3, 1, 12, 0, 0), (time.parse("000900000000000R", now)))
        -- 99 months = 8 years 3 months
        assert.equal(time.timegm(2033, 9, 1, 12, 0, 0), (time.parse("009900000000000R", now)))
    end)
end)

describe("time.parse: two-digit years and bad input", function()
    it("puts 00-69 in 20YY and 70-99 in 19YY", function()
        assert.equal(T["2069-12-31 23:59:59"], (time.parse("691231235959000+")))
        assert.equal(0, (time.parse("700101000000000+")))
        assert.equal(time.timegm(1999, 12, 31, 0, 0, 0), (time.parse("991231000000000+")))
    end)

    local bad = {
        { "25013123595901+", "length" },
        { "2501312359590120+", "length" },
        { "250131235959012X", "direction" },
        { "250131235959049+", "offset" },
        { "251331235959000+", "month" },
        { "250230120000000+", "day" },
        { "250229120000000+", "day" },        -- 2025 is not a leap year
        { "250131245959000+", "hour" },
        { "250131236059000+", "minute" },
        { "250131235960000+", "second" },
        { "25013123595a000+", "digits" },
        { "2501311200ab", "digits" },
        { "000000000000", "month" },
    }
    for _, b in ipairs(bad) do
        it(string.format("refuses %q (%s)", b[1], b[2]), function()
            local t, err = time.parse(b[1], 0)
            assert.is_nil(t)
            assert.matches(b[2], err)
        end)
    end

    it("accepts 29 Feb in a leap year", function()
        assert.equal(time.timegm(2024, 2, 29, 12, 0, 0), (time.parse("240229120000000+")))
    end)

    it("raises on wrong argument types", function()
        assert.has_error(function() time.parse(nil) end)
        assert.has_error(function() time.parse("000001000000000R", "now") end)
    end)
end)

describe("time formatting", function()
    it("writes UTC with offset 00 and '+' by default", function()
        assert.equal("250601120000000+", time.format_absolute(T["2025-06-01 12:00:00"]))
    end)

    it("writes the reference examples with their offsets", function()
        assert.equal("250131235959012+", time.format_absolute(T["2025-01-31 20:59:59"], 12))
        assert.equal("250131235959004-", time.format_absolute(T["2025-02-01 00:59:59"], -4))
    end)

    it("raises on a time that is NaN or infinite", function()
        for _, bad in ipairs { 0 / 0, math.huge, -math.huge } do
            assert.has_error(function() time.format_absolute(bad, 0) end,
                "time must be a finite number, got " .. tostring(bad))
        end
    end)

    it("writes tenths from the fraction", function()
        assert.equal("250601120000300+", time.format_absolute(T["2025-06-01 12:00:00"] + 0.3))
    end)

    it("round-trips absolute times at every quarter-hour offset", function()
        local t = T["2024-02-29 12:00:00"] + 12345
        for q = -48, 48 do
            local s = time.format_absolute(t, q)
            assert.equal(16, #s)
            assert.equal(t, (time.parse(s)))
        end
    end)

    it("writes relative times as days, hours, minutes, seconds", function()
        assert.equal("000001000000000R", time.format_relative(86400))
        assert.equal("000000013000000R", time.format_relative(5400))
        assert.equal("000000000000000R", time.format_relative(0))
        assert.equal("000099235959000R", time.format_relative(100 * 86400 - 1))
        local none, err = time.format_relative(100 * 86400)
        assert.is_nil(none)
        assert.matches("too long", err)
    end)

    it("round-trips relative times", function()
        local now = T["2025-01-31 12:00:00"]
        for _, s in ipairs({ 1, 59, 3600, 86399, 86400 * 7 + 3723, 99 * 86400 }) do
            assert.equal(now + s, (time.parse(time.format_relative(s), now)))
        end
    end)

    it("writes receipt dates as YYMMDDhhmm UTC", function()
        assert.equal("2501311200", time.receipt_date(T["2025-01-31 12:00:00"]))
        assert.equal("2501312059", time.receipt_date(T["2025-01-31 20:59:59"]))
    end)

    it("raises on bad arguments", function()
        assert.has_error(function() time.format_absolute("x") end)
        assert.has_error(function() time.format_absolute(0, 49) end)
        assert.has_error(function() time.format_absolute(0, 1.5) end)
        assert.has_error(function() time.format_absolute(T["2069-12-31 23:59:59"] + 1) end)
        assert.has_error(function() time.format_relative(-1) end)
        assert.has_error(function() time.receipt_date(nil) end)
    end)
end)

describe("UTC arithmetic without TZ", function()
    it("agrees with os.date('!*t') over a wide range", function()
        local t = -86400 * 365
        while t < 4102444800 do          -- 2100-01-01
            local ref = os.date("!*t", t)
            local g = time.gmtime(t)
            assert.same({ ref.year, ref.month, ref.day, ref.hour, ref.min, ref.sec },
                         { g.year, g.month, g.day, g.hour, g.min, g.sec })
            assert.equal(t, time.timegm(g.year, g.month, g.day, g.hour, g.min, g.sec))
            t = t + 86400 * 13 + 3599
        end
    end)

    it("handles the Gregorian leap rules", function()
        assert.equal(time.timegm(2000, 3, 1) - time.timegm(2000, 2, 28), 2 * 86400)
        assert.equal(time.timegm(2100, 3, 1) - time.timegm(2100, 2, 28), 86400)
    end)

    it("adds months with add_months and keeps the time of day", function()
        assert.equal(time.timegm(2025, 3, 31, 8, 30, 0), time.add_months(time.timegm(2025, 1, 31, 8, 30, 0), 2))
        assert.equal(time.timegm(2024, 11, 28, 0, 0, 0), time.add_months(time.timegm(2025, 2, 28), -3))
    end)
end)
