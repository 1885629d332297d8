-- smpp.receipt -- delivery receipt text (reference 9): formatting the
-- Appendix B layout and tolerant, label-based parsing of what SMSCs send.
local byte, find, format, upper, sub = string.byte, string.find, string.format, string.upper, string.sub
local floor, tonumber, type, os_time = math.floor, tonumber, type, os.time

local stime = require "smpp.time"

local M = {}

-- The stat words and states (core/dlr.h, the one table the gateway's C
-- receipt matching reads too): STAT_OF, message_state -> the standard
-- 7-letter word (0 and 9, 5.0 states, have none); STATE_OF, upper-case
-- word -> message_state, the state names some SMSCs write included;
-- FINAL, the states after which no further receipt is expected.
local codec = require "smpp.codec"
local STAT_OF, STATE_OF, FINAL = {}, {}, {}
for _, r in ipairs(codec.receipt_states) do
    STATE_OF[r.word] = r.state
    if r.standard then STAT_OF[r.state] = r.word end
    if r.final then FINAL[r.state] = true end
end
local receipt_fields = codec.receipt_fields

-- is_receipt(pdu) -> true when a deliver_sm or data_sm table is a receipt:
-- esm_class message type 0x04 (SMSC delivery receipt) or 0x20
-- (intermediate notification), whatever its other bits (UDHI...). The
-- rule of core/dlr.h, which the gateway's receipt matching and smppgw
-- bench use too; a receipted_message_id alone does not make one.
function M.is_receipt(pdu)
    local esm = pdu.esm_class
    return type(esm) == "number" and codec.receipt_is(esm)
end

-- stat_of(message_state) -> stat word ("DELIVRD", ...) | nil if it has none.
function M.stat_of(state)
    return STAT_OF[state]
end

-- state_of(stat_word) -> message_state number | nil; case-insensitive.
function M.state_of(word)
    if type(word) ~= "string" then return nil end
    return STATE_OF[upper(word)]
end

-- is_final(state) -> true if state (number or stat word) is final.
function M.is_final(state)
    if type(state) == "string" then state = M.state_of(state) end
    return FINAL[state] == true
end

-- unix seconds -> "YYMMDDhhmm" in UTC (smpp.time has the calendar code).
local receipt_date = stime.receipt_date

local MONTH_DAYS = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- Fields -> unix seconds UTC, or nil if they are not a real date/time.
local function to_unix(y, mo, d, h, mi, s)
    if mo < 1 or mo > 12 or d < 1 or d > MONTH_DAYS[mo] or h > 23 or mi > 59 or s > 59 then
        return nil
    end
    local t = stime.timegm(y, mo, d, h, mi, s)
    -- 29 Feb in a common year would silently become 1 Mar: refuse it.
    if stime.gmtime(t).month ~= mo then return nil end
    return t
end

local function yy(n) return n < 70 and 2000 + n or 1900 + n end

-- Receipt date string -> unix seconds UTC, or nil. 10 digits YYMMDDhhmm;
-- 12 digits are YYMMDDhhmmss unless that is no date, then YYYYMMDDhhmm;
-- 14 digits YYYYMMDDhhmmss.
local function date_to_unix(s)
    if find(s, "%D") then return nil end
    local n = function(a, b) return tonumber(sub(s, a, b)) end
    if #s == 10 then
        return to_unix(yy(n(1, 2)), n(3, 4), n(5, 6), n(7, 8), n(9, 10), 0)
    elseif #s == 12 then
        return to_unix(yy(n(1, 2)), n(3, 4), n(5, 6), n(7, 8), n(9, 10), n(11, 12))
            or to_unix(n(1, 4), n(5, 6), n(7, 8), n(9, 10), n(11, 12), 0)
    elseif #s == 14 then
        return to_unix(n(1, 4), n(5, 6), n(7, 8), n(9, 10), n(11, 12), n(13, 14))
    end
    return nil
end

-- First `n` characters of UTF-8 text (bytes if it is not valid UTF-8 in a
-- way that matters: continuation bytes never start a character).
local function utf8_prefix(s, n)
    local count, i, len = 0, 1, #s
    while i <= len do
        local c = byte(s, i)
        if c < 0x80 or c >= 0xC0 then
            count = count + 1
            if count > n then return sub(s, 1, i - 1) end
        end
        i = i + 1
    end
    return s
end

local function finite(v, name)
    if v ~= v or v == math.huge or v == -math.huge then
        error(format("%s must be a finite number (%s)", name, tostring(v)), 4)
    end
end

local function date_field(v, name)
    if v == nil then return receipt_date(os_time()) end
    if type(v) == "number" then
        finite(v, name)
        return receipt_date(v)
    end
    if type(v) == "string" then return v end
    error(name .. " must be unix seconds or a string", 3)
end

local function number_field(v, name)
    if type(v) == "number" then
        finite(v, name)
        if v < 0 or v % 1 ~= 0 then error(format("%s must be an integer 0 or more (%s)", name, tostring(v)), 3) end
        return format("%03d", v)
    end
    if type(v) == "string" then return v end
    error(name .. " must be a number or a string", 3)
end

-- format(r) -> receipt text. r = {id=, sub=1, dlvrd= (sub if DELIVRD else
-- 0), submit_date=, done_date= (unix seconds or strings; default now),
-- stat= (word or message_state), err=0, text=""}.
function M.format(r)
    if type(r) ~= "table" then
        error("receipt must be a table, got " .. type(r), 2)
    end
    local id = r.id
    if type(id) == "number" then
        if id ~= id or id == math.huge or id == -math.huge then error("receipt id must be a finite number", 2) end
        id = format("%.0f", id)
    elseif type(id) ~= "string" then
        error("receipt id must be a string or a number", 2)
    end
    local stat, state = r.stat, nil
    if type(stat) == "number" then
        state = stat
        stat = STAT_OF[stat]
        if not stat then error("no stat word for message_state " .. state, 2) end
    elseif type(stat) == "string" then
        state = M.state_of(stat)
        -- "delivered" and friends are written as the standard 7-letter word.
        stat = state and STAT_OF[state] or stat
    else
        error("receipt stat must be a word or a message_state number", 2)
    end
    local sub_n = r.sub or 1
    local dlvrd = r.dlvrd
    if dlvrd == nil then dlvrd = state == 2 and sub_n or 0 end
    local text = r.text or ""
    if type(text) ~= "string" then error("receipt text must be a string", 2) end
    return format("id:%s sub:%s dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s",
                  id, number_field(sub_n, "sub"), number_field(dlvrd, "dlvrd"),
                  date_field(r.submit_date, "submit_date"),
                  date_field(r.done_date, "done_date"), stat,
                  number_field(r.err or 0, "err"), utf8_prefix(text, 20))
end

-- The first 20 characters of UTF-8 text as printable ASCII for the text:
-- field ("?" for each other character), as most ESMEs expect.
local function preview(utf8)
    return (utf8:gsub("[\192-\247][\128-\191]*", "?"):gsub("[^\32-\126]", "?"):sub(1, 20))
end

-- pdu(m) -> the deliver_sm table (esm_class 0x04) that carries the
-- receipt of message m, ready for smpp.post or smpp.deliver:
--   id        the message id (receipted_message_id, and "id:" in the text)
--   source, dest   the message's own addresses: the receipt goes from dest
--             to source; source_ton, source_npi, dest_ton, dest_npi (0)
--   state     its final state: a message_state number or a stat word
--             ("DELIVRD", ...; stat = is read too)
--   err       network error code (0): "err:", and network_error_code
--             (GSM, 3 octets) when not 0
--   submitted, done   seconds since the epoch (default: now)
--   text      the message's text (UTF-8): its first 20 characters go in
--             "text:", as ASCII
--   sub, dlvrd   as in format() (1; dlvrd 1 when DELIVRD)
-- The text's layout is format()'s (reference 9, Appendix B).
function M.pdu(m)
    if type(m) ~= "table" then
        error("receipt.pdu expects a table, got " .. type(m), 2)
    end
    local id = m.id
    if type(id) == "number" then id = format("%.0f", id) end
    if type(id) ~= "string" then error("receipt.pdu: id must be a string", 2) end
    local state = m.state or m.stat
    if type(state) == "string" then state = STATE_OF[upper(state)] end
    if type(state) ~= "number" or not STAT_OF[state] then
        error("receipt.pdu: state must be a message_state (1..8) or a stat word, got " .. tostring(m.state or m.stat), 2)
    end
    local err = m.err or 0
    if type(err) ~= "number" or err < 0 or err > 0xFFFF or err ~= floor(err) then
        error("receipt.pdu: err must be an integer 0..65535", 2)
    end
    local text = m.text or ""
    if type(text) ~= "string" then error("receipt.pdu: text must be a string", 2) end
    local pdu = {
        command = "deliver_sm",
        source_addr_ton = m.dest_ton or 0, source_addr_npi = m.dest_npi or 0, source_addr = m.dest or "",
        dest_addr_ton = m.source_ton or 0, dest_addr_npi = m.source_npi or 0, destination_addr = m.source or "",
        esm_class = 0x04,
        short_message = M.format { id = id, sub = m.sub or 1, dlvrd = m.dlvrd, submit_date = m.submitted,
                                   done_date = m.done, stat = state, err = err, text = preview(text) },
        receipted_message_id = id,
        message_state = state,
    }
    if err ~= 0 then pdu.network_error_code = string.char(3, floor(err / 256), err % 256) end
    return pdu
end

-- Decimal digits become a number; anything else stays as it came.
local function number_or_string(v)
    if v and find(v, "^%d+$") then return tonumber(v, 10) end
    return v
end

local KNOWN = { id = true, sub = true, dlvrd = true, submitdate = true,
                donedate = true, stat = true, err = true }

-- parse(text) -> receipt table | nil, err. Fields found by label, in any
-- case and order: id (string as sent), sub, dlvrd, err (numbers when
-- decimal, else strings), submit_date, done_date (strings as sent) with
-- submit_time, done_time (unix seconds UTC, when the date is readable),
-- stat (upper case), state (message_state or nil), text (absent if no
-- "text:" label), extra (other "label:value" pairs, labels lower case).
function M.parse(s)
    if type(s) ~= "string" then
        error("receipt text must be a string, got " .. type(s), 2)
    end
    -- the text split into labelled fields by core/dlr.c (the rules are
    -- there): known labels keep their first value, others their last
    local fields, extra = {}, {}
    local list, text = receipt_fields(s)
    for i = 1, #list, 2 do
        local label, value = list[i], list[i + 1]
        if KNOWN[label] then
            if fields[label] == nil then fields[label] = value end
        else
            extra[label] = value
        end
    end

    if fields.id == nil and fields.stat == nil then
        return nil, "not a delivery receipt"
    end
    local r = {
        id = fields.id,
        sub = number_or_string(fields.sub),
        dlvrd = number_or_string(fields.dlvrd),
        err = number_or_string(fields.err),
        submit_date = fields.submitdate,
        done_date = fields.donedate,
        text = text,
        extra = extra,
    }
    if r.submit_date then r.submit_time = date_to_unix(r.submit_date) end
    if r.done_date then r.done_time = date_to_unix(r.done_date) end
    if fields.stat then
        r.stat = upper(fields.stat)
        r.state = STATE_OF[r.stat]
    end
    return r
end

return M
