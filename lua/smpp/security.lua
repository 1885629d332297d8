-- smpp.security -- who may bind: hashed passwords (constant-time checks),
-- delays and lockouts after repeated failures, and address filters (CIDR
-- for peers, sender ids for submits).
local core = require "smpp.core"

local M = {}

local opt = { max_failures = 5, lockout = 300, failure_delay = 1 }

-- configure(security_section)
function M.configure(o)
    for k, v in pairs(o or {}) do if opt[k] ~= nil then opt[k] = v end end
end

-- -- Passwords -----------------------------------------------------------------------
-- Stored as "pbkdf2-sha256$ITERATIONS$SALT$HEX" (PBKDF2-HMAC-SHA256, 32
-- octets, SALT in hex); anything else is a plain password.

-- hash(password [, iterations]) -> the stored form
function M.hash(password, iterations)
    iterations = iterations or 100000
    local salt = core.random_hex(16)
    return string.format("pbkdf2-sha256$%d$%s$%s", iterations, salt, core.pbkdf2(password, salt, iterations))
end

-- verify(stored, given) -> true when the password matches (constant time
-- in the compared octets).
function M.verify(stored, given)
    local iter, salt, hex = stored:match("^pbkdf2%-sha256%$(%d+)%$(%x+)%$(%x+)$")
    if iter then return core.same_secret(hex, core.pbkdf2(given, salt, tonumber(iter))) end
    return core.same_secret(stored, given)
end

-- -- Failures and lockouts -------------------------------------------------------------

local failures = {}    -- "ip:X" / "id:Y" -> { count, locked_until }

local now = core.clock

-- locked(ip, system_id) -> nil | seconds left of a lockout
function M.locked(ip, system_id)
    local t = now()
    for _, k in ipairs { "ip:" .. tostring(ip), "id:" .. tostring(system_id) } do
        local f = failures[k]
        if f and f.locked_until and f.locked_until > t then return f.locked_until - t end
    end
end

-- failed(ip, system_id) -> seconds to delay the refusal. After
-- max_failures in a row (for the address or the system_id) both are locked
-- out for `lockout` seconds.
function M.failed(ip, system_id)
    local delay = 0
    for _, k in ipairs { "ip:" .. tostring(ip), "id:" .. tostring(system_id) } do
        local f = failures[k] or { count = 0 }
        failures[k] = f
        f.count = f.count + 1
        if f.count >= opt.max_failures then
            f.locked_until = now() + opt.lockout
            f.count = 0
            require("smpp").log("warn", "bind lockout for %gs: %d failed binds for %s", opt.lockout,
                opt.max_failures, k)
        end
        delay = math.max(delay, math.min(5, opt.failure_delay * (f.count - 1)))
    end
    return delay
end

-- succeeded(ip, system_id): forget their failures.
function M.succeeded(ip, system_id)
    failures["ip:" .. tostring(ip)] = nil
    failures["id:" .. tostring(system_id)] = nil
end

-- -- Addresses -------------------------------------------------------------------------

-- IPv4 "a.b.c.d" or IPv6 text -> list of 16 octets (IPv4 as ::ffff:a.b.c.d), or nil
local function octets(ip)
    local a, b, c, d = ip:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
    if a then
        local v4 = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
        for _, x in ipairs(v4) do if x > 255 then return nil end end
        return { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, v4[1], v4[2], v4[3], v4[4] }, 96
    end
    if not ip:find(":") then return nil end
    local head, tail = ip:match("^(.-)::(.*)$")
    local function groups(s)
        local g = {}
        for x in s:gmatch("[^:]+") do g[#g + 1] = tonumber(x, 16) end
        return g
    end
    local h, t = groups(head or ip), head and groups(tail) or {}
    local all = {}
    for _, x in ipairs(h) do all[#all + 1] = x end
    for _ = 1, 8 - #h - #t do all[#all + 1] = 0 end
    for _, x in ipairs(t) do all[#all + 1] = x end
    if #all ~= 8 then return nil end
    local o = {}
    for _, x in ipairs(all) do
        if not x or x > 0xFFFF then return nil end
        o[#o + 1] = math.floor(x / 256)
        o[#o + 1] = x % 256
    end
    return o, 0
end

-- in_network(ip, cidr) -> true if the address is in "net/bits" (IPv4 or IPv6).
function M.in_network(ip, cidr)
    local net, bits = cidr:match("^(.-)/(%d+)$")
    net = net or cidr
    local a, offset = octets(ip)
    local n, noffset = octets(net)
    if not a or not n then return false end
    bits = tonumber(bits) or (128 - noffset)
    bits = bits + noffset                     -- IPv4 prefixes count from the mapped part
    for i = 1, 16 do                          -- compare the first `bits` bits
        local take = math.min(8, math.max(0, bits - (i - 1) * 8))
        if take == 0 then break end
        local unit = 2 ^ (8 - take)
        if a[i] - a[i] % unit ~= n[i] - n[i] % unit then return false end
    end
    return offset ~= nil
end

-- source_allowed(list, source_addr) -> true when list is empty or an entry
-- equals it (or, starting with "^", matches it as a Lua pattern).
function M.source_allowed(list, source)
    if not list or #list == 0 then return true end
    for _, s in ipairs(list) do
        if s == source or (s:sub(1, 1) == "^" and source:match(s)) then return true end
    end
    return false
end

return M
