-- smpp.fifo -- a bounded first-in first-out queue: the one written for
-- every queue the Lua side keeps (tasks waiting for a window slot or a
-- password hash, the order in which bounded tables forget their oldest
-- entries, long messages waiting for their parts). O(1) push and pop with
-- a head index (thousands may wait), and a bound: push refuses past it.
local floor = math.floor

local M = {}

local Fifo = {}
Fifo.__index = Fifo

local function check_limit(limit, level)
    if type(limit) ~= "number" or limit < 1 or limit ~= floor(limit) then
        error("fifo limit must be a whole number >= 1, got " .. tostring(limit), level + 1)
    end
end

-- new(limit) -> an empty queue holding at most `limit` items.
function M.new(limit)
    check_limit(limit, 2)
    return setmetatable({ head = 1, tail = 0, limit = limit }, Fifo)
end

-- q:len() -> items held.
function Fifo:len() return self.tail - self.head + 1 end

-- q:full() -> true when a push would be refused.
function Fifo:full() return self.tail - self.head + 1 >= self.limit end

-- q:set_limit(limit): a new bound (a reload); items already held stay,
-- pushes are refused until the queue is below it.
function Fifo:set_limit(limit)
    check_limit(limit, 2)
    self.limit = limit
end

-- q:push(item) -> true | nil, "full". item must not be nil.
function Fifo:push(item)
    if item == nil then error("fifo: cannot push nil", 2) end
    local tail = self.tail
    if tail - self.head + 1 >= self.limit then return nil, "full" end
    tail = tail + 1
    self[tail] = item
    self.tail = tail
    return true
end

-- q:peek() -> the oldest item, or nil when empty.
function Fifo:peek()
    if self.head <= self.tail then return self[self.head] end
    return nil
end

-- q:pop() -> the oldest item, removed; nil when empty.
function Fifo:pop()
    local head = self.head
    if head > self.tail then return nil end
    local item = self[head]
    self[head] = nil
    if head == self.tail then
        self.head, self.tail = 1, 0          -- empty: the indices start again
    else
        self.head = head + 1
    end
    return item
end

-- q:items() -> an iterator over the items, oldest first (the queue must
-- not change while it runs).
function Fifo:items()
    local i, tail = self.head - 1, self.tail
    return function()
        i = i + 1
        if i <= tail then return self[i] end
    end
end

-- q:prune(live, n_live): for a queue that keeps the order of a table's
-- entries and leaves an entry in it when the table drops it: dead items
-- (live(item) false) at the front go, and when the queue holds more than
-- twice n_live + 64 items it is rebuilt with the live ones only, in order.
-- So such a queue stays within 2 x n_live + 64 + 1 items.
function Fifo:prune(live, n_live)
    while self.head <= self.tail and not live(self[self.head]) do self:pop() end
    local n = self.tail - self.head + 1
    if n > 2 * n_live + 64 then
        local kept = 0
        for i = self.head, self.tail do
            local item = self[i]
            self[i] = nil
            if live(item) then
                kept = kept + 1
                self[kept] = item
            end
        end
        self.head, self.tail = 1, kept
    end
end

return M
