-- smpp.split -- long messages: splitting text into submit_sm parts (UDH,
-- SAR TLVs or message_payload) and reassembling received parts.
local text = require "smpp.text"
local fifo = require "smpp.fifo"
local bit = require "bit"

local band = bit.band
local byte, char, format, sub = string.byte, string.char, string.format, string.sub
local concat, floor = table.concat, math.floor
local type, tostring, tonumber, os_time = type, tostring, tonumber, os.time

local M = {}

local UDHI = 0x40
local IEI_CONCAT8, IEI_CONCAT16 = 0x00, 0x08
local PAYLOAD_MAX = 65535

-- Limits from reference 10.5, in the coding's own units (septets, octets,
-- UTF-16 units); `unit` is the octets per unit in short_message (GSM is
-- sent unpacked, one septet per octet). SAR parts are sized for the UDH the
-- SMSC will add (reference 11.2), like udh8.
local LIMITS = {
    gsm   = { single = 160, udh8 = 153, udh16 = 152, sar = 153, unit = 1 },
    octet = { single = 140, udh8 = 134, udh16 = 133, sar = 134, unit = 1 },
    ucs2  = { single = 70,  udh8 = 67,  udh16 = 66,  sar = 67,  unit = 2 },
}
local LIMIT_CLASS = {
    gsm = "gsm", latin1 = "octet", ascii = "octet", binary = "octet", ucs2 = "ucs2",
}
local METHODS = { udh8 = true, udh16 = true, sar = true, payload = true }

-- The default reference starts somewhere time-dependent so that a restart
-- does not reuse the references of the messages sent just before it.
local next_ref = os_time() % 0x10000

-- Length in octets of the indivisible unit at byte i of encoded text: an
-- escape pair in GSM, a surrogate pair in UCS-2, otherwise one unit.
local function chunk_len(wire, i, coding)
    local c = byte(wire, i)
    if coding == "gsm" then
        return c == 0x1B and 2 or 1
    elseif coding == "ucs2" then
        return (c >= 0xD8 and c <= 0xDB) and 4 or 2
    end
    return 1
end

-- Cut encoded text into pieces of at most `limit` octets, never inside a
-- chunk.
local function cut(wire, coding, limit)
    local pieces, start, i, len = {}, 1, 1, #wire
    while i <= len do
        local l = chunk_len(wire, i, coding)
        if i + l - start > limit then
            pieces[#pieces + 1] = sub(wire, start, i - 1)
            start = i
        end
        i = i + l
    end
    pieces[#pieces + 1] = sub(wire, start)
    return pieces
end

local function check_int(v, name, lo, hi)
    if type(v) ~= "number" or v ~= floor(v) or v < lo or v > hi then
        error(format("%s must be an integer %d..%d, got %s", name, lo, hi, tostring(v)), 3)
    end
end

-- split(utf8, opts) -> list of submit_sm field tables | nil, err, bad.
-- opts: coding (gsm/latin1/ascii/ucs2/binary; default text.choose(utf8,
-- opts)), data_coding (override), method (udh8|udh16|sar|payload), ref,
-- max_parts (1..255, default 255), part_limit (units per part, overrides
-- the reference limit), replace (passed to text.encode).
function M.split(utf8, opts)
    if type(utf8) ~= "string" then
        error("text must be a string, got " .. type(utf8), 2)
    end
    opts = opts or {}
    local method = opts.method or "udh8"
    if not METHODS[method] then
        error("unknown method '" .. tostring(method) .. "'", 2)
    end
    local coding, data_coding = opts.coding, nil
    if coding == nil then
        -- choose only fails on invalid UTF-8; its message is the error.
        coding, data_coding = text.choose(utf8, opts)
        if not coding then return nil, data_coding end
    elseif not LIMIT_CLASS[coding] then
        error("coding '" .. tostring(coding) .. "' cannot be split", 2)
    else
        data_coding = coding == "gsm" and (opts.gsm_data_coding or 0)
                      or text.data_coding_of(coding)
    end
    data_coding = opts.data_coding or data_coding
    local limits = LIMITS[LIMIT_CLASS[coding]]
    local unit = limits.unit
    -- Options are checked up front, so a bad one fails even on short texts.
    local max_parts = opts.max_parts or 255
    check_int(max_parts, "max_parts", 1, 255)
    local per_part = opts.part_limit or limits[method]
    if method ~= "payload" then
        -- Two units is the least that holds an escape pair or a surrogate pair.
        check_int(per_part, "part_limit", 2, limits.single)
    end
    local ref = opts.ref
    local ref_max = method == "udh8" and 0xFF or 0xFFFF
    if ref ~= nil then check_int(ref, "ref", 0, ref_max) end

    local wire, err, bad = text.encode(utf8, coding, { replace = opts.replace })
    if not wire then return nil, err, bad end

    if #wire <= limits.single * unit then
        return { { short_message = wire, data_coding = data_coding, esm_class = 0 } }
    end
    if method == "payload" then
        if #wire > PAYLOAD_MAX then
            return nil, format("message too long for message_payload (%d octets)", #wire)
        end
        return { { short_message = "", message_payload = wire,
                   data_coding = data_coding, esm_class = 0 } }
    end

    -- Parts are never fuller than per_part, so this many octets cannot fit.
    if #wire > max_parts * per_part * unit then
        return nil, format("message needs more than %d parts", max_parts)
    end
    local pieces = cut(wire, coding, per_part * unit)
    local total = #pieces
    if total > max_parts then
        return nil, format("message needs %d parts, more than %d", total, max_parts)
    end

    if ref == nil then
        ref = next_ref % (ref_max + 1)
        next_ref = (next_ref + 1) % 0x10000
    end

    local parts = {}
    for seq = 1, total do
        local piece = pieces[seq]
        if method == "sar" then
            parts[seq] = {
                short_message = piece, data_coding = data_coding, esm_class = 0,
                sar_msg_ref_num = ref, sar_total_segments = total,
                sar_segment_seqnum = seq,
            }
        else
            local udh
            if method == "udh8" then
                udh = char(5, IEI_CONCAT8, 3, ref, total, seq)
            else
                udh = char(6, IEI_CONCAT16, 4, floor(ref / 0x100), ref % 0x100, total, seq)
            end
            parts[seq] = { short_message = udh .. piece, data_coding = data_coding,
                           esm_class = UDHI }
        end
    end
    return parts
end

-- Read the UDH at the start of `data`: returns the user data after the
-- UDH, the concatenation IE ({kind, ref, total, seq}, or false when there
-- is none) and the other IEs; or nil, err for a UDH that overruns the data.
local function parse_udh(data)
    local udhl = byte(data, 1)
    if not udhl or 1 + udhl > #data then
        return nil, "udh longer than the message"
    end
    local concat_ie, others = false, {}
    local i, stop = 2, 1 + udhl
    while i <= stop do
        local iei, iedl = byte(data, i, i + 1)
        if not iedl or i + 1 + iedl > stop then
            return nil, "udh information element overruns the header"
        end
        local ie = sub(data, i + 2, i + 1 + iedl)
        if not concat_ie and iei == IEI_CONCAT8 and iedl == 3 then
            concat_ie = { kind = 8, ref = byte(ie, 1), total = byte(ie, 2), seq = byte(ie, 3) }
        elseif not concat_ie and iei == IEI_CONCAT16 and iedl == 4 then
            local hi, lo, total, seq = byte(ie, 1, 4)
            concat_ie = { kind = 16, ref = hi * 0x100 + lo, total = total, seq = seq }
        else
            others[#others + 1] = { iei = iei, data = ie }
        end
        i = i + 2 + iedl
    end
    return sub(data, stop + 1), concat_ie, others
end

-- parse_udh(data) -> the user data after the UDH, the concatenation IE
-- ({kind, ref, total, seq} or false) and the other IEs | nil, err.
M.parse_udh = parse_udh

-- part_key(account, pdu) -> the key of the long message this PDU is a
-- part of: account, source, destination and the message's reference (UDH
-- concatenation IE, 8 or 16 bit, or sar_msg_ref_num), NUL-separated; nil
-- for a message in one piece (or a UDH that does not parse). The gateway
-- holds the first part's route in the store under it (st:sticky_put).
function M.part_key(account, pdu)
    local ref, total
    if pdu.sar_msg_ref_num then
        -- given more than once (an array): no one reference to follow
        if type(pdu.sar_msg_ref_num) ~= "number" then return nil end
        ref, total = "s" .. pdu.sar_msg_ref_num, pdu.sar_total_segments
    else
        local data = pdu.short_message
        if band(pdu.esm_class or 0, UDHI) == 0 or not data or data == "" then return nil end
        if byte(data, 1) == 0 then return nil end
        local rest, ie = parse_udh(data)
        if not rest or not ie then return nil end
        ref, total = (ie.kind == 8 and "u" or "U") .. ie.ref, ie.total
    end
    if (tonumber(total) or 0) < 2 then return nil end
    return format("%s\0%s\0%s\0%s", tostring(account), pdu.source_addr or "", pdu.destination_addr or "", ref)
end

local Reassembler = {}
Reassembler.__index = Reassembler

-- reassembler(opts) -> object; opts.timeout (seconds from the first part,
-- default 60), opts.max_pending (incomplete messages kept, default 1000).
function M.reassembler(opts)
    opts = opts or {}
    local timeout = opts.timeout or 60
    local max_pending = opts.max_pending or 1000
    if type(timeout) ~= "number" or timeout <= 0 then
        error("timeout must be a positive number", 2)
    end
    check_int(max_pending, "max_pending", 1, 2 ^ 31)
    return setmetatable({
        timeout = timeout, max_pending = max_pending,
        entries = {},           -- key -> entry
        count = 0,
        -- Entries in arrival order, so both eviction of the oldest and
        -- expiry walk from the head; finished entries are skipped lazily
        -- (fifo's prune keeps them under 2 x max_pending + 64).
        queue = fifo.new(2 * max_pending + 66),
        -- Evicted/replaced messages waiting for expire(); capped so a caller
        -- that never calls expire() does not leak, the rest only counted.
        dropped = {}, unreported = 0,
    }, Reassembler)
end

local function report(entry, reason)
    return {
        ref = entry.ref, total = entry.total, received = entry.received,
        parts = entry.parts, source_addr = entry.source_addr,
        destination_addr = entry.destination_addr,
        data_coding = entry.data_coding, reason = reason,
    }
end

-- Remember a message that was dropped outside expire(), for its report.
function Reassembler:_drop(entry, reason)
    if #self.dropped < self.max_pending then
        self.dropped[#self.dropped + 1] = report(entry, reason)
    else
        self.unreported = self.unreported + 1
    end
end

function Reassembler:_remove(entry)
    self.entries[entry.key] = nil
    entry.live = false
    self.count = self.count - 1
end

local function is_live(entry) return entry.live end

-- Drop dead entries from the head of the queue, and rebuild the queue when
-- dead entries pile up behind a long-lived head.
function Reassembler:_tidy()
    self.queue:prune(is_live, self.count)
end

-- :add(pdu_fields, now) -> message, info | nil (part kept, or duplicate) |
-- nil, err (malformed). message is the user data of all parts in order,
-- without UDHs; info = {total=, ref=, data_coding=, ies=}. A PDU that is
-- not part of a concatenated message comes back at once with total = 1.
function Reassembler:add(pdu, now)
    if type(pdu) ~= "table" then
        error("pdu fields must be a table, got " .. type(pdu), 2)
    end
    now = now or os_time()
    -- The UDH may travel in message_payload (reference 11.1).
    local data = text.payload(pdu)
    local kind, ref, total, seq, ies
    if band(pdu.esm_class or 0, UDHI) ~= 0 then
        local user_data, ie, others = parse_udh(data)
        if not user_data then return nil, ie end
        data, ies = user_data, others
        if ie then kind, ref, total, seq = ie.kind, ie.ref, ie.total, ie.seq end
    end
    if not kind and pdu.sar_msg_ref_num and pdu.sar_total_segments
       and pdu.sar_segment_seqnum then
        kind, ref = "sar", pdu.sar_msg_ref_num
        total, seq = pdu.sar_total_segments, pdu.sar_segment_seqnum
    end
    if not kind or total == 1 then
        return data, { total = 1, ref = ref, data_coding = pdu.data_coding, ies = ies }
    end
    if type(total) ~= "number" or type(seq) ~= "number" then
        return nil, "bad sar fields"
    end
    if total < 1 or seq < 1 or seq > total then
        return nil, format("bad segment %d of %d", seq, total)
    end

    local key = concat({ tostring(pdu.source_addr or ""),
                         tostring(pdu.destination_addr or ""),
                         tostring(kind), tostring(ref) }, "\0")
    local entry = self.entries[key]
    -- A stale entry, or one with another total, is a different message that
    -- reused the reference: report the old one and start again.
    if entry and (now - entry.created >= self.timeout or entry.total ~= total) then
        self:_remove(entry)
        self:_drop(entry, entry.total ~= total and "replaced" or "timeout")
        entry = nil
    end
    if not entry then
        if self.count >= self.max_pending then
            self:_tidy()
            local oldest = self.queue:peek()
            self:_remove(oldest)
            self:_drop(oldest, "evicted")
        end
        entry = {
            key = key, ref = ref, total = total, received = 0, parts = {},
            created = now, live = true, source_addr = pdu.source_addr,
            destination_addr = pdu.destination_addr,
        }
        self.entries[key] = entry
        self.count = self.count + 1
        assert(self.queue:push(entry))       -- _tidy keeps the queue below its limit
        self:_tidy()
    end
    if entry.parts[seq] then return nil end
    entry.parts[seq] = data
    entry.received = entry.received + 1
    if seq == 1 or entry.data_coding == nil then
        entry.data_coding = pdu.data_coding
        if seq == 1 then entry.ies = ies end
    end
    if entry.received < total then return nil end
    self:_remove(entry)
    self:_tidy()
    return concat(entry.parts, "", 1, total),
           { total = total, ref = ref, data_coding = entry.data_coding, ies = entry.ies }
end

-- :expire(now) -> list of {ref=, total=, received=, parts=, reason=, ...}
-- for messages that timed out, plus those evicted or replaced since the
-- last call (at most max_pending of those), and the number of dropped
-- messages left out of the list; all of them are forgotten.
function Reassembler:expire(now)
    now = now or os_time()
    local out, unreported = self.dropped, self.unreported
    self.dropped, self.unreported = {}, 0
    -- The queue is in arrival order, so the first young entry ends the walk.
    for entry in self.queue:items() do
        if entry.live then
            if now - entry.created < self.timeout then break end
            self:_remove(entry)
            out[#out + 1] = report(entry, "timeout")
        end
    end
    self:_tidy()
    return out, unreported
end

-- :pending() -> number of incomplete messages held.
function Reassembler:pending()
    return self.count
end

return M
