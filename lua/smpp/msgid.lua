-- smpp.msgid -- message ids: generators for the ids we hand out, and
-- normalisation so hex and decimal forms of one id can be matched.
local byte, find, format, gsub, lower, rep, sub =
    string.byte, string.find, string.format, string.gsub, string.lower, string.rep, string.sub
local floor, random, tonumber, tostring, type, os_time, os_clock =
    math.floor, math.random, tonumber, tostring, type, os.time, os.clock
local concat, reverse, upper = table.concat, string.reverse, string.upper

local M = {}

local EXACT = 2 ^ 53          -- integers below this are exact in a double
local HEX = "0123456789abcdef"

-- Non-negative integer below 2^53 -> lower-case hex, by exact division
-- (string.format("%x") on doubles is not portable beyond 32 bits).
local function to_hex(n)
    if n == 0 then return "0" end
    local digits = {}
    while n > 0 do
        local d = n % 16
        digits[#digits + 1] = sub(HEX, d + 1, d + 1)
        n = (n - d) / 16
    end
    return reverse(concat(digits))
end

-- Per-process salt: LuaJIT's math.random starts from the same seed in every
-- process, and reseeding the global generator would disturb other users of
-- it, so uuids mix in the start time, CPU time and a table address.
local salt
do
    local addr = tonumber((tostring({}):match("0x(%x+)")) or "0", 16) or 0
    salt = (os_time() * 1000003 + floor(os_clock() * 1e6) + addr) % 2 ^ 32
end
-- Shared by all uuid generators, so uuids never repeat within the process.
local uuid_counter = salt % 2 ^ 24

-- 32 random bits shifted by the salt (addition modulo 2^32 keeps the
-- spread of math.random while making each process's sequence different).
local function random32()
    return (random(0, 0xFFFF) * 0x10000 + random(0, 0xFFFF) + salt) % 2 ^ 32
end

local function new_uuid()
    uuid_counter = uuid_counter + 1
    local a, b, c = random32(), random32(), random32()
    -- Version 4 layout: version nibble 4, variant bits 10; the last 48 bits
    -- carry the process counter, which is what guarantees uniqueness.
    local time_mid = floor(b / 0x10000)
    local version = 0x4000 + b % 0x1000
    local variant = 0x8000 + floor(c / 0x10000) % 0x4000
    local node = to_hex(uuid_counter % 2 ^ 48)
    return format("%08x-%04x-%04x-%04x-%s%s", a, time_mid, version, variant,
                  rep("0", 12 - #node), node)
end

-- Zero-padded number in the given base, at least `width` digits.
local function padded(n, base, width)
    local s = base == 16 and upper(to_hex(n)) or format("%.0f", n)
    if #s < width then s = rep("0", width - #s) .. s end
    return s
end

-- generator(opts) -> function() -> id string. opts.format "decimal"
-- (default, width 10), "hex" (upper case, width 8) or "uuid"; opts.width
-- (minimum digits); opts.start (first counter value, default time-based).
function M.generator(opts)
    opts = opts or {}
    local fmt = opts.format or "decimal"
    if fmt == "uuid" then return new_uuid end
    if fmt ~= "decimal" and fmt ~= "hex" then
        error("unknown id format '" .. tostring(fmt) .. "'", 2)
    end
    local base = fmt == "hex" and 16 or 10
    local width = opts.width or (base == 16 and 8 or 10)
    if type(width) ~= "number" or width < 1 or width > 16 or width ~= floor(width) then
        error("width must be an integer 1..16", 2)
    end
    local counter = opts.start
    if counter == nil then
        -- Seconds since the epoch times 100, inside the width: a restart
        -- continues above the ids of the previous run unless it issued more
        -- than 100 ids a second on average. Ids outgrow the width rather
        -- than wrap, so a generator never repeats itself.
        local space = base ^ width
        counter = (os_time() * 100) % space
    elseif type(counter) ~= "number" or counter < 0 or counter ~= floor(counter)
           or counter >= EXACT then
        error("start must be a non-negative integer below 2^53", 2)
    end
    return function()
        local id = padded(counter, base, width)
        counter = counter + 1
        return id
    end
end

-- normalize(id) -> canonical string: trimmed, lower case, leading zeros
-- stripped ("000" -> "0", "" stays ""). Numbers are written in decimal.
function M.normalize(id)
    if type(id) == "number" then
        id = format("%.0f", id)
    elseif type(id) ~= "string" then
        error("id must be a string or a number, got " .. type(id), 2)
    end
    id = lower((gsub((gsub(id, "^[%s%z]+", "")), "[%s%z]+$", "")))
    local stripped = gsub(id, "^0+", "")
    if stripped == "" and id ~= "" then return "0" end
    return stripped
end

-- Exact value of a digit string in `base`, or nil when it reaches 2^53.
local function value_of(s, base)
    local n = 0
    for i = 1, #s do
        local c = byte(s, i)
        local d = c <= 0x39 and c - 0x30 or c - 0x61 + 10
        n = n * base + d
        if n >= EXACT then return nil end
    end
    return n
end

-- variants(id) -> list of canonical keys for the same message: the
-- normalized id, its hex form when it is decimal digits, and its decimal
-- form when it is hex digits (a decimal string is both). Numeric forms are
-- left out for values of 2^53 and above.
function M.variants(id)
    local n = M.normalize(id)
    local out, seen = { n }, { [n] = true }
    local function add(v)
        if v and not seen[v] then
            seen[v] = true
            out[#out + 1] = v
        end
    end
    if n ~= "" and not find(n, "[^0-9]") then
        local v = value_of(n, 10)
        add(v and to_hex(v))
    end
    if n ~= "" and not find(n, "[^0-9a-f]") then
        local v = value_of(n, 16)
        add(v and format("%.0f", v))
    end
    return out
end

-- Exact values of a normalized id read as decimal and as hex (nil where
-- the digits do not fit the base or the value reaches 2^53).
local function readings(n)
    if n == "" then return nil, nil end
    local dec = not find(n, "[^0-9]") and value_of(n, 10) or nil
    local hex = not find(n, "[^0-9a-f]") and value_of(n, 16) or nil
    return dec, hex
end

-- same(a, b) -> true if the two ids may name the same message: equal when
-- normalized, or one read as decimal equals the other read as hex. Values
-- are compared rather than variant strings, because the string "16" is
-- both a decimal and a hex key and intersecting variants would match
-- "10" (0x10 = 16) with "22" (22 = 0x16).
function M.same(a, b)
    local na, nb = M.normalize(a), M.normalize(b)
    if na == nb then return true end
    local da, ha = readings(na)
    local db, hb = readings(nb)
    return (da ~= nil and da == hb) or (ha ~= nil and ha == db)
end

return M
