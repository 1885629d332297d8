-- smpp.text -- character sets for short messages: UTF-8 <-> GSM 03.38
-- (unpacked and 7-bit packed), Latin-1, IA5/ASCII, UCS-2 (UTF-16BE), binary.
local bit = require "bit"

local band, bor, lshift, rshift = bit.band, bit.bor, bit.lshift, bit.rshift
local byte, char, format = string.byte, string.char, string.format
local concat, floor, type, tostring = table.concat, math.floor, type, tostring

local M = {}

local REPLACEMENT_CHAR = 0xFFFD
local ESC = 0x1B

-- GSM 03.38 basic table (reference 10.1), indexed by septet. 0x1B is the
-- escape to the extension table, not a character, hence false.
local GSM_BASIC = {
    [0] = 0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC,
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5,
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, false, 0x00C6, 0x00E6, 0x00DF, 0x00C9,
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027,
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037,
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F,
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F,
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057,
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067,
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F,
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
}

-- GSM 03.38 extension table (reference 10.2): septet after 0x1B -> code point.
local GSM_EXT = {
    [0x0A] = 0x000C, [0x14] = 0x005E, [0x28] = 0x007B, [0x29] = 0x007D,
    [0x2F] = 0x005C, [0x3C] = 0x005B, [0x3D] = 0x007E, [0x3E] = 0x005D,
    [0x40] = 0x007C, [0x65] = 0x20AC,
}

-- Code point -> wire bytes for GSM (one or two septets, one per octet).
local GSM_FROM_CP = {}
for septet = 0, 127 do
    local cp = GSM_BASIC[septet]
    if cp then GSM_FROM_CP[cp] = char(septet) end
end
for septet, cp in pairs(GSM_EXT) do
    GSM_FROM_CP[cp] = char(ESC, septet)
end
-- Some senders use small c-cedilla for 0x09 (reference 10.1 note); accept it
-- on input, but decode 0x09 to the capital letter as the table says.
GSM_FROM_CP[0x00E7] = char(0x09)

-- utf8_char(code_point) -> the UTF-8 bytes of that character.
local function utf8_char(cp)
    if cp < 0x80 then
        return char(cp)
    elseif cp < 0x800 then
        return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40)
    elseif cp < 0x10000 then
        return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40,
                    0x80 + cp % 0x40)
    end
    return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
                0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end
M.utf8_char = utf8_char

-- UTF-8 of each basic septet, cached because decoding is per character.
local GSM_DEC = {}
for septet = 0, 127 do
    local cp = GSM_BASIC[septet]
    if cp then GSM_DEC[septet] = utf8_char(cp) end
end
local GSM_EXT_DEC = {}
for septet, cp in pairs(GSM_EXT) do GSM_EXT_DEC[septet] = utf8_char(cp) end
local UTF8_REPLACEMENT = utf8_char(REPLACEMENT_CHAR)

-- Strict UTF-8 decoding: overlong forms, surrogates and values past
-- U+10FFFF are rejected so that no coding ever sees a code point that
-- UTF-8 itself forbids. Returns the list of code points, or nil and the
-- 1-based offset of the first byte of the bad sequence.
local function codepoints(s)
    local cps, n, i, len = {}, 0, 1, #s
    while i <= len do
        local c = byte(s, i)
        local cp, need, min
        if c < 0x80 then
            cp, need = c, 0
        elseif c >= 0xC2 and c <= 0xDF then
            cp, need, min = c - 0xC0, 1, 0x80
        elseif c >= 0xE0 and c <= 0xEF then
            cp, need, min = c - 0xE0, 2, 0x800
        elseif c >= 0xF0 and c <= 0xF4 then
            cp, need, min = c - 0xF0, 3, 0x10000
        else
            return nil, i
        end
        for k = 1, need do
            local cc = byte(s, i + k)
            if not cc or cc < 0x80 or cc > 0xBF then return nil, i end
            cp = cp * 0x40 + (cc - 0x80)
        end
        if need > 0 and (cp < min or cp > 0x10FFFF
                         or (cp >= 0xD800 and cp <= 0xDFFF)) then
            return nil, i
        end
        n = n + 1
        cps[n] = cp
        i = i + need + 1
    end
    return cps
end

-- utf8_arg(utf8) -> code points | nil, "invalid utf-8 at byte N": the
-- argument check of the public functions below; a non-string raises an
-- error naming their caller.
local function utf8_arg(utf8)
    if type(utf8) ~= "string" then
        error("text must be a string, got " .. type(utf8), 3)
    end
    local cps, at = codepoints(utf8)
    if not cps then return nil, "invalid utf-8 at byte " .. at end
    return cps
end

-- codepoints(utf8) -> list of code points | nil, "invalid utf-8 at byte N"
function M.codepoints(utf8) return utf8_arg(utf8) end

-- Per-character encoders: code point -> wire bytes, or nil if the coding
-- has no such character.
local encoders = {
    gsm = function(cp) return GSM_FROM_CP[cp] end,
    latin1 = function(cp) if cp <= 0xFF then return char(cp) end end,
    ascii = function(cp) if cp <= 0x7F then return char(cp) end end,
    ucs2 = function(cp)
        if cp < 0x10000 then
            return char(floor(cp / 0x100), cp % 0x100)
        end
        -- Outside the BMP: a UTF-16 surrogate pair, as every handset expects.
        local v = cp - 0x10000
        local hi, lo = 0xD800 + floor(v / 0x400), 0xDC00 + v % 0x400
        return char(floor(hi / 0x100), hi % 0x100, floor(lo / 0x100), lo % 0x100)
    end,
}
encoders.gsm_packed = encoders.gsm

-- pack7(septets, fill_bits) -> octets: septet i starts at bit fill+7*i,
-- counting from the least significant bit of octet 0 (reference 10.3);
-- no septets give no octets, whatever the fill.
function M.pack7(septets, fill_bits)
    if type(septets) ~= "string" then
        error("septets must be a string, got " .. type(septets), 2)
    end
    fill_bits = fill_bits or 0
    if type(fill_bits) ~= "number" or fill_bits < 0 or fill_bits > 6
       or fill_bits ~= floor(fill_bits) then
        error("fill_bits must be an integer 0..6", 2)
    end
    if #septets == 0 then return "" end
    local out, n = {}, 0
    local acc, nbits = 0, fill_bits
    for i = 1, #septets do
        local s = byte(septets, i)
        if s > 0x7F then
            error(format("septet %d is 0x%02X, more than 7 bits", i, s), 2)
        end
        acc = bor(acc, lshift(s, nbits))
        nbits = nbits + 7
        while nbits >= 8 do
            n = n + 1
            out[n] = char(band(acc, 0xFF))
            acc = rshift(acc, 8)
            nbits = nbits - 8
        end
    end
    if nbits > 0 then
        n = n + 1
        out[n] = char(acc)
    end
    return concat(out)
end

-- unpack7(octets, nseptets, fill_bits) -> septets | nil, err. Without
-- nseptets, every whole septet in the octets is returned (which reads
-- trailing padding as "@" when 7*n % 8 leaves 7 spare bits; reference 10.3).
function M.unpack7(octets, nseptets, fill_bits)
    if type(octets) ~= "string" then
        error("octets must be a string, got " .. type(octets), 2)
    end
    fill_bits = fill_bits or 0
    if type(fill_bits) ~= "number" or fill_bits < 0 or fill_bits > 6
       or fill_bits ~= floor(fill_bits) then
        error("fill_bits must be an integer 0..6", 2)
    end
    local avail = #octets * 8 - fill_bits
    if avail < 0 then avail = 0 end
    if nseptets == nil then
        nseptets = floor(avail / 7)
    elseif type(nseptets) ~= "number" or nseptets < 0
           or nseptets ~= floor(nseptets) then
        error("nseptets must be a non-negative integer", 2)
    elseif nseptets * 7 > avail then
        return nil, format("%d octets hold fewer than %d septets", #octets, nseptets)
    end
    local out = {}
    for i = 0, nseptets - 1 do
        local pos = fill_bits + 7 * i
        local idx, shift = floor(pos / 8) + 1, pos % 8
        local v = rshift(byte(octets, idx), shift)
        if shift > 1 then
            v = bor(v, lshift(byte(octets, idx + 1), 8 - shift))
        end
        out[i + 1] = char(band(v, 0x7F))
    end
    return concat(out)
end

-- "U+20AC, U+1F600 (and 3 more)": enough to find the culprit in a log line.
local function describe_bad(bad)
    local shown = {}
    for i = 1, math.min(#bad, 5) do shown[i] = format("U+%04X", bad[i]) end
    local s = concat(shown, ", ")
    if #bad > 5 then s = s .. format(" (and %d more)", #bad - 5) end
    return s
end

local function check_coding(coding, level)
    if coding ~= "binary" and not encoders[coding] then
        error("unknown coding '" .. tostring(coding) .. "'", level + 1)
    end
end

-- encode(utf8, coding, opts) -> bytes | nil, err, bad_code_points.
-- opts.replace: string put in place of unrepresentable characters;
-- opts.fill_bits: for gsm_packed. "binary" passes the bytes through.
function M.encode(utf8, coding, opts)
    if type(utf8) ~= "string" then
        error("text must be a string, got " .. type(utf8), 2)
    end
    check_coding(coding, 2)
    opts = opts or {}
    if coding == "binary" then return utf8 end
    local cps, err = utf8_arg(utf8)
    if not cps then return nil, err end
    local enc = encoders[coding]
    local replacement = opts.replace
    if replacement ~= nil then
        if type(replacement) ~= "string" then
            error("opts.replace must be a string", 2)
        end
        -- The replacement is itself text: encode it once, without packing,
        -- so it can be spliced in like any other character.
        local raw = coding == "gsm_packed" and "gsm" or coding
        local r = M.encode(replacement, raw)
        if not r then
            error("opts.replace cannot be represented in " .. coding, 2)
        end
        replacement = r
    end
    local out, bad, seen = {}, nil, nil
    for i = 1, #cps do
        local b = enc(cps[i])
        if not b then
            if replacement then
                b = replacement
            else
                bad, seen = bad or {}, seen or {}
                if not seen[cps[i]] then
                    seen[cps[i]] = true
                    bad[#bad + 1] = cps[i]
                end
                b = ""
            end
        end
        out[i] = b
    end
    if bad then
        return nil, "cannot represent " .. describe_bad(bad) .. " in " .. coding, bad
    end
    local bytes = concat(out)
    if coding == "gsm_packed" then
        bytes = M.pack7(bytes, opts.fill_bits or 0)
    end
    return bytes
end

-- Unpacked GSM septets -> UTF-8. A lone 0x1B and 0x1B 0x1B (escape to a
-- table that does not exist yet) show as a space; an unknown 0x1B xx shows
-- the basic character of xx, as 3GPP 23.038 asks; octets above 0x7F are
-- not septets and become U+FFFD.
local function decode_gsm(s)
    local out, n, i, len = {}, 0, 1, #s
    while i <= len do
        local c = byte(s, i)
        local u
        if c == ESC then
            local nx = byte(s, i + 1)
            if nx == nil or nx > 0x7F then
                u = " "
            elseif nx == ESC then
                u = " "
                i = i + 1
            else
                u = GSM_EXT_DEC[nx] or GSM_DEC[nx]
                i = i + 1
            end
        elseif c <= 0x7F then
            u = GSM_DEC[c]
        else
            u = UTF8_REPLACEMENT
        end
        n = n + 1
        out[n] = u
        i = i + 1
    end
    return concat(out)
end

-- UTF-16BE -> UTF-8; unpaired surrogates and a dangling odd octet become
-- U+FFFD rather than failing, because received text must still be shown.
local function decode_ucs2(s)
    local out, n, i, len = {}, 0, 1, #s
    while i + 1 <= len do
        local hi1, lo1 = byte(s, i, i + 1)
        local u = hi1 * 0x100 + lo1
        local cp
        i = i + 2
        if u >= 0xD800 and u <= 0xDBFF then
            local hi2, lo2 = byte(s, i, i + 1)
            local v = hi2 and lo2 and hi2 * 0x100 + lo2
            if v and v >= 0xDC00 and v <= 0xDFFF then
                cp = 0x10000 + (u - 0xD800) * 0x400 + (v - 0xDC00)
                i = i + 2
            else
                cp = REPLACEMENT_CHAR
            end
        elseif u >= 0xDC00 and u <= 0xDFFF then
            cp = REPLACEMENT_CHAR
        else
            cp = u
        end
        n = n + 1
        out[n] = utf8_char(cp)
    end
    if i == len then
        n = n + 1
        out[n] = UTF8_REPLACEMENT
    end
    return concat(out)
end

local function decode_octets(s, max)
    local out = {}
    for i = 1, #s do
        local c = byte(s, i)
        out[i] = c <= max and utf8_char(c) or UTF8_REPLACEMENT
    end
    return concat(out)
end

-- decode(bytes, coding, opts) -> utf8. Never fails on data: what cannot be
-- read becomes U+FFFD. gsm_packed reads opts.septets (default: as many as
-- fit) after opts.fill_bits; "binary" returns the bytes unchanged.
function M.decode(bytes, coding, opts)
    if type(bytes) ~= "string" then
        error("bytes must be a string, got " .. type(bytes), 2)
    end
    check_coding(coding, 2)
    opts = opts or {}
    if coding == "gsm" then
        return decode_gsm(bytes)
    elseif coding == "gsm_packed" then
        local septets, err = M.unpack7(bytes, opts.septets, opts.fill_bits or 0)
        if not septets then
            -- Fewer octets than the stated count: show what is there.
            septets = M.unpack7(bytes, nil, opts.fill_bits or 0)
        end
        return decode_gsm(septets), err
    elseif coding == "latin1" then
        return decode_octets(bytes, 0xFF)
    elseif coding == "ascii" then
        return decode_octets(bytes, 0x7F)
    elseif coding == "ucs2" then
        return decode_ucs2(bytes)
    end
    return bytes
end

-- septets(utf8) -> septet count in GSM 7-bit (extension characters count
-- 2) | nil if a character is not in GSM (nil, err for invalid UTF-8).
function M.septets(utf8)
    local cps, err = utf8_arg(utf8)
    if not cps then return nil, err end
    local n = 0
    for i = 1, #cps do
        local b = GSM_FROM_CP[cps[i]]
        if not b then return nil end
        n = n + #b
    end
    return n
end

-- choose(utf8, opts) -> coding, data_coding | nil, err. GSM if every
-- character fits (data_coding opts.gsm_data_coding or 0), else Latin-1
-- (3) if opts.allow_latin1 and it fits, else UCS-2 (8).
function M.choose(utf8, opts)
    local cps, err = utf8_arg(utf8)
    if not cps then return nil, err end
    opts = opts or {}
    local gsm, latin1 = true, opts.allow_latin1 and true or false
    for i = 1, #cps do
        local cp = cps[i]
        if gsm and not GSM_FROM_CP[cp] then gsm = false end
        if latin1 and cp > 0xFF then latin1 = false end
        if not gsm and not latin1 then break end
    end
    if gsm then return "gsm", opts.gsm_data_coding or 0 end
    if latin1 then return "latin1", 3 end
    return "ucs2", 8
end

local DATA_CODING = {
    gsm = 0, gsm_packed = 0, ascii = 1, latin1 = 3, ucs2 = 8, binary = 4,
}

-- data_coding_of(coding) -> data_coding number | nil for an unknown coding.
function M.data_coding_of(coding)
    return DATA_CODING[coding]
end

-- coding_of(data_coding, default_alphabet) -> coding name | nil. 0 is the
-- SMSC default alphabet, which only the connection's agreement can name
-- (reference 10.4), so the caller may say what it is.
function M.coding_of(data_coding, default_alphabet)
    if type(data_coding) ~= "number" then
        error("data_coding must be a number, got " .. type(data_coding), 2)
    end
    if data_coding == 0 then return default_alphabet or "gsm" end
    if data_coding == 1 then return "ascii" end
    if data_coding == 3 then return "latin1" end
    if data_coding == 8 then return "ucs2" end
    if data_coding == 2 or data_coding == 4 then return "binary" end
    if data_coding >= 0xF0 and data_coding <= 0xF3 then return "gsm" end
    -- message waiting indication groups: the text is GSM 7-bit (reference 7.3)
    if data_coding >= 0xC0 and data_coding <= 0xDF then return "gsm" end
    if data_coding >= 0xF4 and data_coding <= 0xF7 then return "binary" end
    return nil
end

-- payload(pdu) -> the octets that carry a submit_sm, deliver_sm or data_sm
-- table's message: short_message, or message_payload when short_message
-- is empty or absent; "" when neither has any. A message_payload that came
-- more than once (the codec gives an array of its values) reads as its
-- values joined in their order; anything else that is not a string reads
-- as "". Never raises on what a peer sent.
function M.payload(pdu)
    local data = pdu.short_message
    if type(data) == "string" and data ~= "" then return data end
    data = pdu.message_payload
    if type(data) == "string" then return data end
    if type(data) ~= "table" then return "" end
    local parts = {}
    for i = 1, #data do
        if type(data[i]) == "string" then parts[#parts + 1] = data[i] end
    end
    return concat(parts)
end

-- of_pdu(pdu [, alphabet]) -> utf8, coding | nil, coding: the text of a
-- submit_sm, deliver_sm or data_sm table as UTF-8, whatever carries it
-- (payload above): short_message, or message_payload when short_message
-- is empty (one given twice: its values joined); the
-- user data header left out when esm_class has UDHI (0x40); decoded by
-- data_coding, where 0 means `alphabet` (the account's default_alphabet:
-- "gsm" unless given). A data_coding without text (binary 2 and 4, or
-- one this module does not know) gives nil and "binary" or "unknown".
-- Never fails on the octets themselves: what cannot be read is U+FFFD.
function M.of_pdu(pdu, alphabet)
    if type(pdu) ~= "table" then
        error("pdu must be a table, got " .. type(pdu), 2)
    end
    local data = M.payload(pdu)
    local esm = pdu.esm_class or 0
    if esm % 128 >= 64 and #data > 0 then data = data:sub(byte(data, 1) + 2) end
    local coding = M.coding_of(pdu.data_coding or 0, alphabet)
    if coding == nil then return nil, "unknown" end
    if coding == "binary" then return nil, "binary" end
    return (M.decode(data, coding)), coding
end

return M
