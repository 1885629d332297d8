-- bench_store.lua -- what the store costs a script (make bench): put, get
-- and update through smpp.store from luajit, one commit per 1000 calls,
-- beside the C calls of bench_store.c. Usage: luajit bench_store.lua DIR
local store = require "smpp.store"
local socket = require "socket"

local dir = arg[1] or "build/bench-store"
os.execute("mkdir -p '" .. dir .. "'")
local N = 100000
local pdu = ("x"):rep(120)

-- case(what, path [, setup], fn): fn(st) -> operations, timed after setup(st)
local function case(what, path, setup, fn)
    if not fn then setup, fn = nil, setup end
    os.remove(path)
    os.remove(path .. "-wal")
    local st = assert(store.open { path = path, sync = "normal" })
    if setup then
        setup(st)
        st:commit()
    end
    local t0, c0 = socket.gettime(), os.clock()
    local n = fn(st)
    st:commit()
    local t, c = socket.gettime() - t0, os.clock() - c0
    io.write(string.format("  %-50s %8.0f ops/s  %6.2f us CPU each  (%d in %.2f s)\n", what, n / t,
        c * 1e6 / n, n, t))
    st:close()
    os.remove(path)
    os.remove(path .. "-wal")
end

local function fill(st, upstream)
    for i = 1, N do
        local ok, err = st:put {
            id = string.format("%08x", i), account = "smppclient1", source = "447700900123",
            dest = "447700900456", service_type = "", submitted = 1.7e9 + i * 1e-4,
            expires = 1.7e9 + 172800, due = 1.7e9 + 1, registered_delivery = 1, pdu = pdu,
            upstream = upstream, upstream_key = upstream and string.format("%012d", i),
        }
        if not ok then error(err) end
        if i % 1000 == 0 then st:commit() end
    end
    return N
end

io.write("store through Lua (smpp.store), files in ", dir, "\n")
for _, path in ipairs { dir .. "/lua.db", ":memory:" } do
    local where = path == ":memory:" and ":memory:" or "sync normal"
    case("put, commit every 1000, " .. where, path, fill)
    case("get by id, any order, " .. where, path, fill, function(st)
        for i = 1, N do assert(st:get(string.format("%08x", (i * 40503) % N + 1))) end
        return N
    end)
end
case("receipt: by_upstream + update, in order, sync normal", dir .. "/lua.db",
     function(st) fill(st, "smsc1") end, function(st)
    for i = 1, N do
        local rec = st:by_upstream("smsc1", string.format("%012d", i))
        st:update(rec.id, { state = store.state.DELIVERED, final = true, done = 1.7e9 + 5,
                            trace = "receipt DELIVRD", at = 1.7e9 + 5 })
        if i % 1000 == 0 then st:commit() end
    end
    return N
end)

-- What the reference SMSC writes for a message that asks for no receipt:
-- a keyed row, final, nothing due; from a record table (false for the
-- values it lacks), and through a putter of its columns.
local function keyed_record(st)
    local rec = { account = "smppclient1", source = "447700900123", dest = "447700900456", state = 2,
                  final = true, err = false, pdu = false, due = false }
    for i = 1, N do
        rec.submitted, rec.done = 1.7e9 + i * 1e-4, 1.7e9 + i * 1e-4 + 1
        assert(st:put(rec))
        if i % 100 == 0 then st:commit() end
    end
    return N
end
local function keyed_putter(st)
    local put = st:putter { "account", "source", "dest", "submitted", "state", "done", "final" }
    for i = 1, N do
        local t = 1.7e9 + i * 1e-4
        assert(put("smppclient1", "447700900123", "447700900456", t, 2, t + 1, true))
        if i % 100 == 0 then st:commit() end
    end
    return N
end
case("put keyed, record table, commit every 100, sync normal", dir .. "/lua.db", keyed_record)
case("put keyed, putter, commit every 100, sync normal", dir .. "/lua.db", keyed_putter)
