-- smpp.smsc_rules -- the reference SMSC's options, its random numbers, the
-- message as its hooks see it, and its default hooks (the rules of
-- conf.smsc: reject, final states, echo). smpp.smsc (lua/smpp/smsc.lua)
-- owns the store, the scheduler and the handlers, and uses these.
local bit = require "bit"
local smpp = require "smpp"
local config = require "smpp.config"
local receipt = require "smpp.receipt"
local server = require "smpp.server"
local store = require "smpp.store"
local text = require "smpp.text"

local S, ST = smpp.status, store.state
local band, bxor, lshift, rshift, tobit = bit.band, bit.bxor, bit.lshift, bit.rshift, bit.tobit
local byte, find, lower = string.byte, string.find, string.lower
local floor = math.floor
local ipairs, pairs, rawget, rawset, setmetatable, tostring, type =
    ipairs, pairs, rawget, rawset, setmetatable, tostring, type

local M = {}

-- -- Options (conf.smsc) ---------------------------------------------------------

M.defaults = {
    message_id = "decimal",        -- decimal | hex | uuid (smpp.msgid.keyed)
    receipt_delay = 1,             -- seconds from accept to the final state
    default_validity = 172800,     -- seconds a message lives when validity_period is empty
    rules = {},                    -- final state rules, first match wins; else DELIVRD
    reject = {},                   -- submits refused at once, first match wins
    distribution_lists = {},       -- name -> { addresses } for submit_multi
    receipt_queue_ttl = 3600,      -- seconds a receipt or MO waits in the store for a receiver
    max_backlog = 10000,           -- receipts an account's outbox may hold before its submits asking
                                   -- for one are answered ESME_RMSGQFUL (push-back)
    echo = "keyword",              -- off | keyword (text "echo ...") | all: MO back to the sender
    mo = nil,                      -- { every =, system_id =, from =, to =, text = }: periodic MO
    seed = nil,                    -- the random rules' seed; default: one per process
    params = {},                   -- the script's own values, read by its hooks (not checked)
}

local rule_fields = {
    prefix = { type = "string" }, source = { type = "string" }, pattern = { type = "string" },
    percent = { type = "number", min = 0, max = 100 },
    state = { type = "enum", values = { "DELIVRD", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "ACCEPTD", "UNKNOWN" } },
    err = { type = "integer", min = 0, max = 65535 },
    delay = { type = "number", min = 0 },
    status = { type = "string" },
}
M.fields = {
    message_id = { type = "enum", values = { "decimal", "hex", "uuid" } },
    receipt_delay = { type = "number", min = 0 },
    default_validity = { type = "number", min = 1 },
    rules = { type = "list", of = { type = "table", fields = rule_fields } },
    reject = { type = "list", of = { type = "table", fields = rule_fields } },
    distribution_lists = { type = "table", free = true },
    max_messages = { type = "integer", min = 1 },     -- no longer used: store.limits.messages
    receipt_queue_ttl = { type = "number", min = 1 },
    max_backlog = { type = "integer", min = 1 },
    echo = { type = "enum", values = { "off", "keyword", "all" } },
    mo = { type = "table", fields = {
        every = { type = "number", min = 0.001 }, system_id = { type = "string" },
        from = { type = "string" }, to = { type = "string" }, text = { type = "string" },
    } },
    seed = { type = "number" },
    params = { type = "table", free = true },
}

-- options(section) -> the options with defaults | raises naming what is wrong
local function options(section)
    assert(config.check_section(section or {}, M.fields, "smsc"))
    local opt = {}
    for k, v in pairs(M.defaults) do opt[k] = v end
    for k, v in pairs(section or {}) do opt[k] = v end
    for _, r in ipairs(opt.reject) do
        if r.status ~= nil and not S[r.status] then error("smsc.reject: unknown status " .. tostring(r.status), 0) end
    end
    for _, r in ipairs(opt.rules) do
        if r.status ~= nil then error("smsc.rules: a rule sets state and err, not status", 0) end
    end
    return opt
end

-- -- Random numbers ---------------------------------------------------------------
-- A generator of its own (xorshift128 on 32-bit words, shifts and xors
-- only, so exact in LuaJIT's bit operations; seeded through exact 32-bit
-- products): math.random is shared with every script and starts from the
-- same seed in every process.

-- The seed becomes the state through a mixer (MurmurHash3's finalizer),
-- each word of the state depending on every bit of the seed: its low and
-- high 32 bits and its fraction. (The high word went into one word of
-- the state unmixed, and xorshift spreads a small difference slowly:
-- seeds 2^32 apart gave streams equal to 5 decimals; the fraction was
-- dropped.) Products exact: 16 bits by 32 at a time.
local function mul32(a, b)
    local ub = b % 4294967296
    return tobit(tobit(rshift(a, 16) * ub) * 65536 + band(a, 0xffff) * ub)
end

local function mix32(h)
    h = mul32(bxor(h, rshift(h, 16)), 0x85ebca6b)
    h = mul32(bxor(h, rshift(h, 13)), 0xc2b2ae35)
    return bxor(h, rshift(h, 16))
end

-- random(seed) -> function() -> a number in [0, 1); the same seed gives
-- the same numbers, any two seeds (finite numbers) different ones.
function M.random(seed)
    if type(seed) ~= "number" or seed ~= seed or seed == math.huge or seed == -math.huge then
        error("smsc.seed: a finite number, not " .. tostring(seed), 2)
    end
    local whole = floor(seed)
    local lo = tobit(whole % 4294967296)
    local hi = tobit(floor(whole / 4294967296) % 4294967296)
    local frac = tobit(floor((seed - whole) * 4294967296))
    local a = mix32(bxor(lo, 0x243f6a88))
    local b = mix32(bxor(bxor(hi, 0x85a308d3), a))
    local c = mix32(bxor(bxor(frac, 0x13198a2e), b))
    local d = mix32(bxor(c, 0x03707344))
    a = mix32(bxor(a, d))
    if a == 0 and b == 0 and c == 0 and d == 0 then d = 1 end     -- xorshift's one state to avoid
    return function()
        local t = bxor(a, lshift(a, 11))
        a, b, c = b, c, d
        d = bxor(bxor(d, rshift(d, 19)), bxor(t, rshift(t, 8)))
        return (d % 4294967296) / 4294967296
    end
end

-- -- The message as hooks see it -----------------------------------------------------
-- m.session, m.pdu (the request as a table), m.source, m.dest (this
-- destination), m.dest_ton, m.dest_npi, m.part (0.. in a submit_multi);
-- read on first use: m.command, m.account (the session's system_id),
-- m.service_type, m.registered_delivery, m.text and m.coding (text.of_pdu:
-- "" and "binary" for a binary message); once accepted, m.id and m.key.
-- The default hooks need none of it: m is made only for a hook of the
-- script's.

local lazy = {
    command = function(m) return m.pdu.command end,
    account = function(m) return m.session.system_id end,
    service_type = function(m) return m.pdu.service_type or "" end,
    registered_delivery = function(m) return m.pdu.registered_delivery or 0 end,
    text = function(m)
        local t, coding = text.of_pdu(m.pdu, server.alphabet(m.session.system_id))
        rawset(m, "coding", coding)
        return t or ""
    end,
    coding = function(m)
        local _ = m.text
        return rawget(m, "coding")
    end,
}

local Message = {
    __index = function(m, k)
        local f = lazy[k]
        if not f then return nil end
        local v = f(m)
        rawset(m, k, v)
        return v
    end,
}

local function message(session, pdu, dest, ton, npi, part)
    return setmetatable({ session = session, pdu = pdu, source = pdu.source_addr or "", dest = dest,
                          dest_ton = ton, dest_npi = npi, part = part }, Message)
end

-- -- Rules: the default hooks -------------------------------------------------------------
-- Each default hook is a function of m calling one of the SMSC's own
-- (s._reject, s._final, s._echo) that the accept path calls directly
-- while the hook is the default.

-- Does dest start with prefix? (Octet by octet: no string made, and no
-- call out of compiled code.)
local function starts(dest, prefix)
    local n = #prefix
    if #dest < n then return false end
    for i = 1, n do
        if byte(dest, i) ~= byte(prefix, i) then return false end
    end
    return true
end

-- Does rule r match a message to dest from source?
local function matches(random, r, dest, source)
    if r.prefix and not starts(dest, r.prefix) then return false end
    if r.source and source ~= r.source then return false end
    if r.pattern and not find(dest, r.pattern) then return false end
    if r.percent and random() * 100 >= r.percent then return false end
    return true
end

-- reject(dest, source) -> the status of the first reject rule that matches, or nil
local function rejecter(s)
    local reject, random = s.opt.reject, s.random
    return function(dest, source)
        for i = 1, #reject do
            local r = reject[i]
            if matches(random, r, dest, source) then return S[r.status or "ESME_RSUBMITFAIL"] end
        end
    end
end

-- final(dest, source) -> stat, err, delay of the first rule that matches
-- (DELIVRD); the states as message_state numbers
local function finisher(s)
    local rules, delay, random = s.opt.rules, s.opt.receipt_delay, s.random
    local states = {}
    for i, r in ipairs(rules) do states[i] = receipt.state_of(r.state or "UNDELIV") end
    return function(dest, source)
        for i = 1, #rules do
            local r = rules[i]
            if matches(random, r, dest, source) then return states[i], r.err or 0, r.delay or delay end
        end
        return ST.DELIVERED, 0, delay
    end
end

-- echo(pdu, dest, ton, npi, m) -> the MO that echoes the message back from
-- its destination (the same octets), for every message ("all") or those
-- whose text starts "echo ", or nil
local function echoer(s)
    local echo = s.opt.echo
    return function(session, pdu, dest, ton, npi, m)
        if echo == "off" then return nil end
        local raw = text.payload(pdu)
        local udhi = (pdu.esm_class or 0) % 128 >= 64
        if echo == "keyword" then
            -- "echo " has the same octets in GSM 7-bit, ASCII and Latin-1:
            -- look at the first one before decoding (this runs for every message)
            local c = byte(raw, 1)
            if (pdu.data_coding or 0) ~= 8 and not udhi and c ~= 101 and c ~= 69 then return nil end
            m = m or message(session, pdu, dest, ton, npi)
            if not find(lower(m.text), "^echo ") then return nil end
        end
        return { source_addr_ton = ton, source_addr_npi = npi, source_addr = dest,
                 dest_addr_ton = pdu.source_addr_ton, dest_addr_npi = pdu.source_addr_npi,
                 destination_addr = pdu.source_addr, data_coding = pdu.data_coding,
                 short_message = pdu.short_message, message_payload = pdu.message_payload,
                 esm_class = udhi and 0x40 or 0 }
    end
end

M.options, M.message = options, message
M.rejecter, M.finisher, M.echoer = rejecter, finisher, echoer

return M
