-- smpp.sticky -- the parts of one long message stay together: the route
-- and upstream the first part took, kept under the message's reference
-- (UDH concatenation IE or sar_msg_ref_num) with the account, source and
-- destination, so the later parts follow it.
--
-- State choice: a bounded Lua table with a TTL, not the store. An entry
-- lives for the seconds the parts of one message take to arrive (ttl,
-- default 300 s); after a restart the parts still to come are routed on
-- their own keys (usually the same route: only text keys and strategies
-- that rotate can differ). At `limit` entries the oldest is forgotten
-- first; the count is the gauge `sticky_parts` (/stats, /metrics).
local fifo = require "smpp.fifo"
local split = require "smpp.split"

local byte, format = string.byte, string.format

local M = {}

local Sticky = {}
Sticky.__index = Sticky

-- new{limit =, ttl =, clock =} -> an empty table of stuck messages;
-- clock() -> seconds (the loop clock in the runtime).
function M.new(opts)
    opts = opts or {}
    local limit, ttl = opts.limit or 10000, opts.ttl or 300
    assert(type(limit) == "number" and limit >= 1, "sticky limit: a number >= 1")
    assert(type(ttl) == "number" and ttl > 0, "sticky ttl: a number > 0")
    return setmetatable({ limit = limit, ttl = ttl, clock = opts.clock or os.time, entries = {}, n = 0,
                          order = fifo.new(limit) }, Sticky)
end

-- key(account, pdu) -> the key of the long message this PDU is a part
-- of, or nil for a message in one piece (or a UDH that does not parse).
function M.key(account, pdu)
    local ref, total
    if pdu.sar_msg_ref_num then
        ref, total = "s" .. pdu.sar_msg_ref_num, pdu.sar_total_segments
    else
        local data = pdu.short_message
        if (pdu.esm_class or 0) % 128 < 64 or not data or data == "" then return nil end
        if byte(data, 1) == 0 then return nil end
        local rest, ie = split.parse_udh(data)
        if not rest or not ie then return nil end
        ref, total = (ie.kind == 8 and "u" or "U") .. ie.ref, ie.total
    end
    if (tonumber(total) or 0) < 2 then return nil end
    return format("%s\0%s\0%s\0%s", tostring(account), pdu.source_addr or "", pdu.destination_addr or "", ref)
end

-- Forget the entries whose time is up (oldest first: one ttl for all, so
-- the order of arrival is the order of expiry).
function Sticky:expire(now)
    now = now or self.clock()
    while true do
        local item = self.order:peek()
        if not item or item.expires > now then return end
        self.order:pop()
        if self.entries[item.key] == item then
            self.entries[item.key] = nil
            self.n = self.n - 1
        end
    end
end

-- s:get(key) -> route name, upstream | nil.
function Sticky:get(key)
    local e = key and self.entries[key]
    if not e then return nil end
    if e.expires <= self.clock() then
        self:expire()
        return nil
    end
    return e.route, e.upstream
end

-- s:put(key, route name, upstream): the first part's choice; a key held
-- already keeps its first choice. At the limit the oldest entry goes.
function Sticky:put(key, route, upstream)
    if not key or self.entries[key] then return end
    local now = self.clock()
    self:expire(now)
    while self.order:full() do
        local old = self.order:pop()
        if self.entries[old.key] == old then
            self.entries[old.key] = nil
            self.n = self.n - 1
        end
    end
    local e = { key = key, route = route, upstream = upstream, expires = now + self.ttl }
    self.order:push(e)
    self.entries[key] = e
    self.n = self.n + 1
end

-- s:set_bounds(limit, ttl): new bounds (a reload); entries past a smaller
-- limit go, oldest first, as new ones come.
function Sticky:set_bounds(limit, ttl)
    self.limit, self.ttl = limit, ttl
    self.order:set_limit(limit)
end

-- s:count() -> messages held.
function Sticky:count() return self.n end

return M
