-- smpp.msgid -- message ids: the ids we issue from a store's node id and a
-- message's key (read back without an index), generators for scripts that
-- keep no store, and the keys by which an upstream's ids are matched
-- (normalised, and read in the base the upstream declares).
local format, rep, sub = string.format, string.rep, string.sub
local floor, random, tonumber, tostring, type, os_time, os_clock =
    math.floor, math.random, tonumber, tostring, type, os.time, os.clock
local concat, reverse, upper = table.concat, string.reverse, string.upper
local codec = require "smpp.codec"
local msgid_key = codec.msgid_key

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

-- -- Ids made from a node id and a key ------------------------------------------
-- The ids the reference SMSC and the gateway issue: made from a store's
-- node id (1 .. 2^32-1, random, made with the store) and a message's key
-- (the store's counter, never handed out twice), read back into both
-- without an index. One implementation, core/msgid.c (through smpp.codec),
-- one set of formats:
--   decimal  20 digits and more: the node in 10, the key in 10 (more past
--            9,999,999,999); a string, larger than a 64-bit integer
--   hex      16 upper-case hex digits and more: node 8, key 8 (more past 2^32)
--   uuid     36 characters, lower case, version 4 layout: the node in the
--            first 8 hex digits, key bits 48-63 in the next 4, "4000-8000",
--            key bits 0-47 in the last 12
-- Reading takes either case and nothing else make would not write.

local codec_make, codec_read = codec.msgid_make, codec.msgid_read

-- make(format, node, key) -> id; raises on a bad format, node or key.
M.make = codec_make

-- read(id [, format]) -> node, key, format | nil: in the format given, or
-- in the first of uuid, hex, decimal that reads it (no id of one format
-- reads as another's of the same node, so a caller that checks the node
-- is never misled).
function M.read(id, fmt)
    if type(id) ~= "string" then return nil end
    if fmt then
        local node, key = codec_read(fmt, id)
        if node then return node, key, fmt end
        return nil
    end
    for _, f in ipairs(M.keyed_formats) do
        local node, key = codec_read(f, id)
        if node then return node, key, f end
    end
    return nil
end

M.keyed_formats = { "uuid", "hex", "decimal" }

-- code[format] -> the number a store row keeps in id_format (its id is
-- then made from its key by the store, and read back by it: get(id)).
M.code = codec.msgid_formats

-- keyed[format] = { make = function(node, key) -> id, read = function(id)
-- -> node, key | nil }: the same, one format.
M.keyed = {}
for _, f in ipairs(M.keyed_formats) do
    M.keyed[f] = {
        make = function(node, key) return codec_make(f, node, key) end,
        read = function(id) return codec_read(f, id) end,
    }
end

-- normalize(id) -> canonical string: trimmed, lower case, leading zeros
-- stripped ("000" -> "0", "" stays ""). Numbers are written in decimal.
-- The key of the declared format "normalized".
function M.normalize(id) return msgid_key(id, "normalized") end

-- The id formats an upstream may declare (config upstreams[].id_format).
M.formats = { string = true, decimal = true, hex = true, normalized = true }

-- key(id, format) -> the key an id is matched by, within one upstream.
-- format "string" (the default) is the id as written, trimmed: case and
-- leading zeros count ("msg1" and "MSG1", "01" and "1" are four ids);
-- "decimal" and "hex" read an id that is a number of that base as that
-- number and give its decimal value, so "00123", decimal "123" and hex
-- "7B" share the key "123" (an id that is no number of its declared base
-- is matched as written); "normalized" is normalize(id). No guess is ever
-- made between bases: only the format the upstream declares for this
-- place is read. The rule is core/msgid.c's, which the gateway's receipt
-- matching uses too.
function M.key(id, fmt) return msgid_key(id, fmt) end

return M
