-- smpp.script_json -- the `cjson` and `cjson.safe` that scripts require:
-- cjson's encode, decode and null, bounded.
--
-- lua-cjson's encode builds its whole text in one C call, in a buffer
-- outside the Lua heap: 24 strings of 16 MiB in a table made one call of
-- seconds (the watchdog then ended the process) and 384 MiB that
-- scripts.memory_mb did not count. This encode gives the same text (the
-- same defaults: numbers as %.14g, an empty table as {}, a table whose
-- keys are 1..n as an array with null for holes unless it is excessively
-- sparse, 1,000 levels at most, raw reads), but walks the tables here,
-- interpreted (the budget's hook runs in it), hands cjson one string or
-- number at a time, and refuses a text longer than scripts.max_string
-- before building it. decode refuses a text longer than scripts.max_string
-- (one call of cjson's, a few ms a MiB; what it builds is in the heap).
-- Outside the runtime (plain luajit) there is no max_string: no bound.
local cjson = require "cjson"
local core = require "smpp.core"

if jit then jit.off(true, true) end

local M = {}

local encode_value, decode_text = cjson.encode, cjson.decode
local null = cjson.null
local concat = table.concat
local type, next, rawget, floor, huge, tostring = type, next, rawget, math.floor, math.huge, tostring
local format = string.format

local MAX_DEPTH = 1000                  -- cjson's encode_max_depth
local SPARSE_RATIO, SPARSE_SAFE = 2, 10 -- cjson's encode_sparse_ratio and _safe

local function max_string()
    local n = core.lstring.max_string()
    return n > 0 and n or huge
end

-- An encoding in progress: its parts, their length, the bound.
local function fail(msg) error(msg, 0) end

local function add(e, s)
    local n = e.len + #s
    if n > e.max then
        fail(format("cjson.encode: the text would pass scripts.max_string (%d bytes)", e.max))
    end
    e.len = n
    e.n = e.n + 1
    e.parts[e.n] = s
end

-- As lua_array_length of cjson: the largest key when every key is a whole
-- number >= 1 (0: none), -1 when it is an object.
local function array_length(t)
    local max, items = 0, 0
    for k in next, t do
        if type(k) ~= "number" or k < 1 or floor(k) ~= k then return -1 end
        if k > max then max = k end
        items = items + 1
    end
    if max > items * SPARSE_RATIO and max > SPARSE_SAFE then
        fail("Cannot serialise table: excessively sparse array")
    end
    return max
end

local function scalar(e, v)
    local t = type(v)
    if t == "string" then
        if #v + 2 > e.max - e.len then           -- the text is longer than the string
            fail(format("cjson.encode: the text would pass scripts.max_string (%d bytes)", e.max))
        end
        add(e, encode_value(v))
    elseif t == "number" or t == "boolean" or t == "nil" then
        add(e, encode_value(v))
    elseif v == null then
        add(e, "null")
    else
        fail("Cannot serialise " .. t .. ": type not supported")
    end
end

local function value(e, v, depth)
    if type(v) ~= "table" then return scalar(e, v) end
    depth = depth + 1
    if depth > MAX_DEPTH then fail(format("Cannot serialise, excessive nesting (%d)", depth)) end
    local n = array_length(v)
    if n > 0 then
        add(e, "[")
        for i = 1, n do
            if i > 1 then add(e, ",") end
            value(e, rawget(v, i), depth)
        end
        add(e, "]")
        return
    end
    add(e, "{")
    local first = true
    for k, x in next, v do
        if not first then add(e, ",") end
        first = false
        local kt = type(k)
        if kt == "string" then
            scalar(e, k)
        elseif kt == "number" then
            add(e, '"' .. encode_value(k) .. '"')
        else
            fail("Cannot serialise " .. kt .. ": table key must be a number or string")
        end
        add(e, ":")
        value(e, x, depth)
    end
    add(e, "}")
end

local function encode_all(v)
    local e = { parts = {}, n = 0, len = 0, max = max_string() }
    value(e, v, 0)
    return concat(e.parts, "", 1, e.n)
end

local function decode_all(text)
    if type(text) == "string" then
        local max = max_string()
        if #text > max then
            fail(format("cjson.decode: the text is %d bytes, more than scripts.max_string (%d)", #text, max))
        end
    end
    return decode_text(text)
end

-- encode(value) -> JSON text; raises as cjson.encode does (and past
-- scripts.max_string).
function M.encode(v)
    local ok, r = pcall(encode_all, v)
    if not ok then error(tostring(r), 2) end
    return r
end

-- decode(text) -> value; raises as cjson.decode does (and past
-- scripts.max_string).
function M.decode(text)
    local ok, r = pcall(decode_all, text)
    if not ok then error(tostring(r), 2) end
    return r
end

M.null = null

-- cjson.safe: nil, message instead of raising.
M.safe = {
    encode = function(v)
        local ok, r = pcall(encode_all, v)
        if ok then return r end
        return nil, tostring(r)
    end,
    decode = function(text)
        local ok, r = pcall(decode_all, text)
        if ok then return r end
        return nil, tostring(r)
    end,
    null = null,
}

return M
