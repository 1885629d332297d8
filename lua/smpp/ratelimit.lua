-- smpp.ratelimit -- token buckets for throttling submits, alone or one per
-- key (system_id, destination, ...), with an injectable clock.
local floor, huge, max = math.floor, math.huge, math.max
local pairs, setmetatable, type, tostring, tonumber, os_time = pairs, setmetatable, type, tostring, tonumber, os.time

local M = {}

-- Default clock: monotonic seconds with sub-second resolution. Inside the
-- runtime it is the event loop's clock (smpp.clock: the loop's cached
-- time, from CLOCK_MONOTONIC); outside it (a tool, a spec) the same clock
-- read directly. Never wall time: whole-second steps refill a bucket in
-- bursts, and NTP steps it. os.clock would be CPU time, which barely moves
-- while a server waits on sockets. os.time is the last resort, where the
-- FFI cannot read the clock.
local monotonic
do
    local ok, ffi = pcall(require, "ffi")
    -- declared once per VM: a second load of this file finds the type
    if ok and ffi.os ~= "Windows" and (pcall(ffi.typeof, "struct sg_ratelimit_timespec") or pcall(ffi.cdef, [[
        struct sg_ratelimit_timespec { long tv_sec; long tv_nsec; };
        int clock_gettime(int clk_id, struct sg_ratelimit_timespec *tp);
    ]])) then
        local ts = ffi.new("struct sg_ratelimit_timespec")
        local CLOCK_MONOTONIC = 1
        monotonic = function()
            ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
            return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
        end
    end
end
local function default_clock()
    local core = package.loaded["smpp.core"]
    local t = core and core.clock and core.clock()
    if t and t > 0 then return t end           -- the loop runs
    if monotonic then return monotonic() end
    return os_time()
end
M.default_clock = default_clock

local function check_rate(rate, burst, clock, level)
    if type(rate) ~= "number" or rate < 0 or rate ~= rate or rate == huge then
        error("rate must be a finite number >= 0, got " .. tostring(rate), level + 1)
    end
    if burst ~= nil and (type(burst) ~= "number" or burst <= 0 or burst == huge) then
        error("burst must be a finite number > 0, got " .. tostring(burst), level + 1)
    end
    if clock ~= nil and type(clock) ~= "function" then
        error("clock must be a function", level + 1)
    end
end

local Bucket = {}
Bucket.__index = Bucket

-- Add the tokens earned since the last look. A clock that steps backwards
-- (wall time adjusted) earns nothing rather than a negative amount.
local function refill(b, now)
    local dt = now - b.last
    if dt > 0 then
        local t = b.tokens + dt * b.rate
        b.tokens = t < b.burst and t or b.burst
    end
    b.last = now
end

-- A bucket created full at time `now`: nothing is throttled at start.
local function new_bucket(rate, burst, now)
    burst = burst or max(1, rate)
    return setmetatable({ rate = rate, burst = burst, tokens = burst, last = now }, Bucket)
end

-- bucket(rate, burst, clock) -> bucket. rate in tokens per second (0 =
-- unlimited), burst = capacity (default max(1, rate)), clock() -> seconds
-- (default: the loop's monotonic clock, sub-second; default_clock above).
function M.bucket(rate, burst, clock)
    check_rate(rate, burst, clock, 2)
    clock = clock or default_clock
    local b = new_bucket(rate, burst, clock())
    b.clock = clock
    return b
end

local function check_n(n, level)
    if type(n) ~= "number" or n <= 0 or n ~= n then
        error("n must be a positive number, got " .. tostring(n), level + 1)
    end
end

-- Take n tokens at time `now` from bucket b.
local function take(b, n, now)
    if b.rate == 0 then return true end
    refill(b, now)
    if b.tokens >= n then
        b.tokens = b.tokens - n
        return true
    end
    -- More than the bucket holds can never be granted: say so with an
    -- infinite wait instead of a wait that would fail again.
    if n > b.burst then return false, huge end
    return false, (n - b.tokens) / b.rate
end

-- :take(n) -> true | false, seconds to wait before n (default 1) tokens are there.
function Bucket:take(n)
    n = n or 1
    check_n(n, 2)
    return take(self, n, self.clock())
end

-- :available() -> tokens in the bucket now (math.huge when unlimited).
function Bucket:available()
    if self.rate == 0 then return huge end
    refill(self, self.clock())
    return self.tokens
end

local Keyed = {}
Keyed.__index = Keyed

-- keyed(opts) -> object with one bucket per key; opts.rate, opts.burst,
-- opts.clock as for bucket(), opts.max_keys (default 10000).
function M.keyed(opts)
    opts = opts or {}
    local rate = opts.rate or 0
    check_rate(rate, opts.burst, opts.clock, 2)
    local max_keys = opts.max_keys or 10000
    if type(max_keys) ~= "number" or max_keys < 1 or max_keys ~= floor(max_keys) then
        error("max_keys must be a positive integer", 2)
    end
    return setmetatable({
        rate = rate, burst = opts.burst, clock = opts.clock or default_clock,
        max_keys = max_keys, buckets = {}, count = 0,
    }, Keyed)
end

-- Make room for one more key. Buckets that have refilled completely are
-- exactly like new ones, so dropping them loses nothing; if none has, the
-- least recently used one goes (its key starts again with a full burst,
-- which is the price of bounded memory).
function Keyed:_evict(now)
    local lru_key, lru_time
    for key, b in pairs(self.buckets) do
        refill(b, now)
        if b.tokens >= b.burst then
            self.buckets[key] = nil
            self.count = self.count - 1
        elseif lru_time == nil or b.used < lru_time then
            lru_key, lru_time = key, b.used
        end
    end
    if self.count >= self.max_keys and lru_key ~= nil then
        self.buckets[lru_key] = nil
        self.count = self.count - 1
    end
end

-- :take(key, n) -> true | false, wait_seconds, from key's own bucket.
function Keyed:take(key, n)
    if key == nil then error("key must not be nil", 2) end
    n = n or 1
    check_n(n, 2)
    if self.rate == 0 then return true end
    local now = self.clock()
    local b = self.buckets[key]
    if not b then
        if self.count >= self.max_keys then self:_evict(now) end
        -- No clock of its own: the keyed clock is read once per take.
        b = new_bucket(self.rate, self.burst, now)
        self.buckets[key] = b
        self.count = self.count + 1
    end
    b.used = now
    return take(b, n, now)
end

-- :size() -> number of keys holding a bucket.
function Keyed:size()
    return self.count
end

return M
