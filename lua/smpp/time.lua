-- smpp.time -- SMPP time strings (reference 8): absolute "YYMMDDhhmmsstnnp",
-- relative "...R", 12-digit SMSC dates, and receipt dates, all in UTC.
local floor, format, tonumber, type = math.floor, string.format, tonumber, type
local sub, os_time = string.sub, os.time

local M = {}

-- Two-digit years: 70-99 are 19YY, 00-69 are 20YY (the window puts the
-- Unix epoch and every current date in range).
local PIVOT = 70

-- Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
-- days_from_civil). Used instead of os.time, which reads tables as local
-- time and so depends on TZ.
local function days_from_civil(y, m, d)
    if m <= 2 then y = y - 1 end
    local era = floor(y / 400)
    local yoe = y - era * 400
    local mp = m > 2 and m - 3 or m + 9
    local doy = floor((153 * mp + 2) / 5) + d - 1
    local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
    return era * 146097 + doe - 719468
end

-- Inverse of days_from_civil: day number -> year, month, day.
local function civil_from_days(z)
    z = z + 719468
    local era = floor(z / 146097)
    local doe = z - era * 146097
    local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
    local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
    local mp = floor((5 * doy + 2) / 153)
    local d = doy - floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    local y = yoe + era * 400
    if m <= 2 then y = y + 1 end
    return y, m, d
end

local function is_leap(y)
    return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end

local MONTH_DAYS = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

local function days_in_month(y, m)
    if m == 2 and is_leap(y) then return 29 end
    return MONTH_DAYS[m]
end

-- timegm(year, month, day, hour, min, sec) -> unix seconds of that UTC time.
function M.timegm(y, m, d, hh, mm, ss)
    return days_from_civil(y, m, d) * 86400 + (hh or 0) * 3600 + (mm or 0) * 60 + (ss or 0)
end

-- gmtime(unix) -> {year=, month=, day=, hour=, min=, sec=} in UTC (whole seconds).
function M.gmtime(unix)
    if type(unix) ~= "number" then
        error("time must be a number, got " .. type(unix), 2)
    end
    local t = floor(unix)
    local days = floor(t / 86400)
    local secs = t - days * 86400
    local y, m, d = civil_from_days(days)
    return { year = y, month = m, day = d, hour = floor(secs / 3600),
             min = floor(secs / 60) % 60, sec = secs % 60 }
end

local function year_of(yy)
    return yy < PIVOT and 2000 + yy or 1900 + yy
end

-- Validated absolute fields -> unix seconds, or nil, err.
local function absolute(s)
    local yy, mo, dd = tonumber(sub(s, 1, 2)), tonumber(sub(s, 3, 4)), tonumber(sub(s, 5, 6))
    local hh, mi, ss = tonumber(sub(s, 7, 8)), tonumber(sub(s, 9, 10)), tonumber(sub(s, 11, 12))
    local y = year_of(yy)
    if mo < 1 or mo > 12 then return nil, "bad month" end
    if dd < 1 or dd > days_in_month(y, mo) then return nil, "bad day" end
    if hh > 23 then return nil, "bad hour" end
    if mi > 59 then return nil, "bad minute" end
    if ss > 59 then return nil, "bad second" end
    return M.timegm(y, mo, dd, hh, mi, ss)
end

-- add_months(unix, months) -> unix: calendar months added to the UTC date;
-- a day past the end of the new month is clamped to its last day (31 Jan
-- + 1 month = 28/29 Feb), the time of day is kept.
function M.add_months(unix, months)
    local t = M.gmtime(unix)
    local total = t.year * 12 + (t.month - 1) + months
    local y = floor(total / 12)
    local m = total - y * 12 + 1
    local d = t.day
    local last = days_in_month(y, m)
    if d > last then d = last end
    return M.timegm(y, m, d, t.hour, t.min, t.sec) + (unix - floor(unix))
end

-- parse(s, now) -> unix seconds, tenths | false (empty: not set) |
-- nil, err. Absolute times are converted to UTC with their quarter-hour
-- offset; relative ones ("R") are added to now (default os.time()) with
-- years and months as calendar steps (add_months), then days, hours,
-- minutes, seconds; 12 digits "YYMMDDhhmmss" are read as UTC.
function M.parse(s, now)
    if type(s) ~= "string" then
        error("time must be a string, got " .. type(s), 2)
    end
    if now ~= nil and type(now) ~= "number" then
        error("now must be a number, got " .. type(now), 2)
    end
    if s == "" then return false end
    if #s == 12 then
        if s:find("%D") then return nil, "bad time: not digits" end
        local t, err = absolute(s)
        if not t then return nil, err end
        return t, 0
    end
    if #s ~= 16 then
        return nil, format("bad time length %d (want 16)", #s)
    end
    if sub(s, 1, 15):find("%D") then return nil, "bad time: not digits" end
    local p = sub(s, 16)
    if p == "R" then
        now = now or os_time()
        local n = function(a) return tonumber(sub(s, a, a + 1)) end
        local t = M.add_months(now, n(1) * 12 + n(3))
        return t + n(5) * 86400 + n(7) * 3600 + n(9) * 60 + n(11), 0
    end
    if p ~= "+" and p ~= "-" then
        return nil, "bad time direction '" .. p .. "'"
    end
    local t, err = absolute(s)
    if not t then return nil, err end
    local nn = tonumber(sub(s, 14, 15))
    if nn > 48 then return nil, "bad utc offset" end
    -- The fields are local time: "+" means local is ahead of UTC.
    local offset = nn * 900
    if p == "+" then t = t - offset else t = t + offset end
    return t, tonumber(sub(s, 13, 13))
end

local function check_unix(unix, level)
    if type(unix) ~= "number" then
        error("time must be a number, got " .. type(unix), level + 1)
    end
    if unix ~= unix or unix == math.huge or unix == -math.huge then
        error("time must be a finite number, got " .. tostring(unix), level + 1)
    end
end

-- Two-digit year, refusing years the YY window would read back wrongly.
local function yy_of(year, level)
    if year < 1900 + PIVOT or year >= 2000 + PIVOT then
        error(format("year %d cannot be written with two digits", year), level + 1)
    end
    return year % 100
end

-- format_absolute(unix, quarters) -> "YYMMDDhhmmsstnn+" (or "-"): the UTC
-- time shown as local time at `quarters` quarter hours from UTC (-48..48,
-- default 0); tenths come from the fraction of unix.
function M.format_absolute(unix, quarters)
    check_unix(unix, 2)
    quarters = quarters or 0
    if type(quarters) ~= "number" or quarters ~= floor(quarters)
       or quarters < -48 or quarters > 48 then
        error("quarters must be an integer -48..48", 2)
    end
    -- A hair of slack: 0.3 is stored as 0.29999... and must still give 3.
    local tenths = floor((unix - floor(unix)) * 10 + 1e-4)
    local t = M.gmtime(unix + quarters * 900)
    return format("%02d%02d%02d%02d%02d%02d%d%02d%s", yy_of(t.year, 2), t.month, t.day,
                  t.hour, t.min, t.sec, tenths, quarters < 0 and -quarters or quarters,
                  quarters < 0 and "-" or "+")
end

-- format_relative(seconds) -> "000DDhhmmss000R" style string with years
-- and months 00 | nil, err when the days do not fit in two digits.
function M.format_relative(seconds)
    if type(seconds) ~= "number" or seconds < 0 then
        error("seconds must be a non-negative number", 2)
    end
    seconds = floor(seconds)
    local days = floor(seconds / 86400)
    if days > 99 then
        return nil, "relative time too long (more than 99 days)"
    end
    local rest = seconds - days * 86400
    return format("0000%02d%02d%02d%02d000R", days, floor(rest / 3600),
                  floor(rest / 60) % 60, rest % 60)
end

-- receipt_date(unix) -> "YYMMDDhhmm" in UTC (receipt text, reference 9.2).
function M.receipt_date(unix)
    check_unix(unix, 2)
    local t = M.gmtime(unix)
    return format("%02d%02d%02d%02d%02d", yy_of(t.year, 2), t.month, t.day, t.hour, t.min)
end

return M
