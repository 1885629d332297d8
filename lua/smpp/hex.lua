-- smpp.hex -- bytes <-> hexadecimal text.
local byte, char, format, gsub = string.byte, string.char, string.format, string.gsub

local M = {}

-- "00 00 00 10 ..." (any white space, optional 0x prefixes) -> bytes, or
-- nil and what is wrong.
function M.to_bytes(text)
    local clean = gsub(gsub(text, "0[xX](%x)", "%1"), "%s+", "")
    if clean:find("[^%x]") then
        return nil, "not hexadecimal: '" .. clean:match("[^%x]") .. "'"
    end
    if #clean % 2 == 1 then
        return nil, "odd number of hex digits (" .. #clean .. ")"
    end
    return (gsub(clean, "%x%x", function(h) return char(tonumber(h, 16)) end))
end

-- bytes -> upper-case hex without spaces.
function M.from_bytes(s)
    return (gsub(s, ".", function(c) return format("%02X", byte(c)) end))
end

return M
