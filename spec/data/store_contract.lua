-- spec/data/store_contract.lua -- the contract of smpp.store, as a
-- behaviour script: its start handler runs every case against the store
-- the runtime opened (SQLite or Redis: spec/store_contract_spec.lua runs
-- it on both) and logs "CASE ok NAME" or "CASE FAIL NAME: why", then
-- "CASES DONE n". Times are offsets from the time it starts (the
-- runtime's own expiry must not reach the rows), passed to every method:
-- the cases drive the store's clock themselves. MODE (replaced by the
-- spec) picks the cases: "contract", "bounds" (small store.limits) or
-- "ids" (next_id values for a uniqueness check across processes).
local smpp = require "smpp"
local store = require "smpp.store"

local MODE = "@MODE@"
local S = store.state
local TTL = 86400

local function show(v)
    if type(v) ~= "table" then return tostring(v) end
    local keys, out = {}, {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do out[#out + 1] = tostring(k) .. "=" .. show(v[k]) end
    return "{" .. table.concat(out, ", ") .. "}"
end

local function same(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, v in pairs(a) do if not same(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

local function eq(want, got, what)
    if not same(want, got) then error((what or "value") .. ": want " .. show(want) .. ", got " .. show(got), 2) end
end

local function raises(fn, pattern)
    local ok, err = pcall(fn)
    if ok then error("no error raised (want " .. pattern .. ")", 2) end
    if not tostring(err):find(pattern, 1, true) then
        error("error '" .. tostring(err) .. "' lacks '" .. pattern .. "'", 2)
    end
end

local function ids(list, field)
    local out = {}
    for i, r in ipairs(list) do out[i] = r[field or "id"] end
    return out
end

local cases = {}
local function case(name, fn) cases[#cases + 1] = { name = name, fn = fn } end

-- T: now, when the cases start; each case uses accounts and ids of its own
local T

local function msg(acct, id, t)
    local rec = { id = id, account = acct, source = "src", dest = "4477", submitted = T,
                  pdu = "\0\0\0\16\0\0\0\4\0\0\0\0\0\0\0\1" }
    for k, v in pairs(t or {}) do rec[k] = v end
    return rec
end

-- -- The contract ----------------------------------------------------------------------

case("put and get: a record, binary PDU and trace", function(st)
    local pdu = "\0\1\2\0\255"
    local key = st:put(msg("a1", "m1", { pdu = pdu, registered_delivery = 1, expires = T + 5000,
                                         trace = "accepted from a1" }))
    eq("number", type(key), "key")
    local r = st:get("m1")
    eq(pdu, r.pdu, "pdu")
    eq(key, r.key, "key")
    eq(0, r.part, "part")
    eq(1, r.registered_delivery, "registered_delivery")
    eq(S.SCHEDULED, r.state, "state")
    eq(false, r.final, "final")
    eq(T + 5000, r.expires, "expires")
    eq(string.format("%.3f accepted from a1\n", T), r.trace, "trace")
    eq(nil, r.due, "due")
    eq(T + 5000 + TTL, r.keep_until, "keep_until")
    eq(key, st:get(key).key, "get by key")
    eq(nil, st:get("m1-none"), "unknown id")
end)

case("put: a second put of the same id and part is refused", function(st)
    eq("number", type(st:put(msg("a2", "dup"))))
    local ok, err, detail = st:put(msg("a2", "dup"))
    eq(nil, ok)
    eq("exists", err)
    if not tostring(detail):find("dup", 1, true) then error("detail: " .. tostring(detail)) end
    eq("number", type(st:put(msg("a2", "dup", { part = 1 }))))
end)

case("parts of one id, updated one or all, pending only", function(st)
    for p = 0, 2 do st:put(msg("a3", "mm", { part = p, dest = "44" .. p })) end
    eq({ 0, 1, 2 }, ids(st:parts("mm"), "part"))
    eq(3, st:update("mm", { state = S.ENROUTE, trace = "forwarded", at = T + 1 }))
    eq(1, st:update("mm", { state = S.DELIVERED, final = true, done = T + 2 }, { part = 1 }))
    eq(S.DELIVERED, st:get("mm", 1).state)
    eq(S.ENROUTE, st:get("mm", 2).state)
    eq(string.format("%.3f forwarded\n", T + 1), st:get("mm", 2).trace)
    eq(2, st:update("mm", { state = S.DELETED, final = true, done = T + 3 }, { pending = true }))
    eq(S.DELIVERED, st:get("mm", 1).state)
    eq(S.DELETED, st:get("mm", 0).state)
    eq(T + 3 + TTL, st:get("mm", 0).keep_until, "keep_until follows done")
    eq(0, st:update("nothing-here", { state = S.ENROUTE }))
end)

case("a caller's mistake raises, naming the field", function(st)
    raises(function() st:put(msg("a4", "x", { acount = "a" })) end, "unknown field 'acount'")
    raises(function() st:put(msg("a4", "x", { dest = 4477 })) end, "field 'dest' must be a string, got number")
    raises(function() st:put(msg("a4", "x", { keep_until = 1 })) end, "keep_until is computed by the store")
    st:put(msg("a4", "y"))
    raises(function() st:update("y", { id = "z" }) end, "id cannot be changed")
    raises(function() st:update("y", { trace = "t" }) end, "needs its time")
    raises(function() st:find { account = "a4", source = "src", dest = "4477", pending = false } end, "pending")
end)

case("a time that is not a finite number raises, naming the field", function(st)
    raises(function() st:put(msg("a4n", "n1", { expires = 0 / 0 })) end, "field 'expires' must be a finite number")
    raises(function() st:put(msg("a4n", "n2", { submitted = 1 / 0 })) end, "field 'submitted' must be a finite number")
    raises(function() st:put(msg("a4n", "n3", { due = -1 / 0 })) end, "field 'due' must be a finite number")
    eq(nil, st:get("n1"))
    st:put(msg("a4n", "n4"))
    raises(function() st:update("n4", { done = 1 / 0 }) end, "update: field 'done' must be a finite number")
    raises(function() st:update("n4", { trace = "t", at = 0 / 0 }) end, "update: field 'at' must be a finite number")
    eq(nil, st:get("n4").done)
end)

case("a key that is not a whole number in range raises with the same words", function(st)
    raises(function() st:get(2 ^ 63) end, "get: key must be an integer")
    raises(function() st:get(1 / 0) end, "get: key must be an integer")
    raises(function() st:get(1.5) end, "get: key must be an integer")
    raises(function() st:get(0) end, "get: key must be > 0")
    raises(function() st:update(-1, { state = S.ENROUTE }) end, "update: key must be > 0")
end)

case("find: NULs in the fields, rows in an upstream's queue", function(st)
    st:put(msg("a\0b", "nul1", { source = "s\0\n\r", dest = "d\0", service_type = "\0" }))
    eq({ "nul1" }, ids(st:find { account = "a\0b", source = "s\0\n\r", dest = "d\0", service_type = "\0" }))
    eq({ "nul1" }, ids(st:recent { account = "a\0b", source = "s\0\n\r", dest = "d\0", since = T - 1 }))
    -- fields whose NULs would join into another's account, dest and source
    st:put(msg("c\0d", "nul2", { dest = "e", source = "s" }))
    eq({}, st:find { account = "c", dest = "d\0e", source = "s" })
    eq({}, st:recent { account = "c", dest = "d\0e", source = "s", since = T - 1 })
    eq({ "nul2" }, ids(st:find { account = "c\0d", dest = "e", source = "s" }))
    -- a message in an upstream's queue is the gateway's, not found by address
    st:put(msg("a5u", "up1", { upstream = "smsc1", due = T + 100 }))
    eq({}, st:find { account = "a5u", source = "src", dest = "4477" })
end)

case("find: pending by account, destination and source", function(st)
    st:put(msg("a5", "fa"))
    st:put(msg("a5", "fb", { service_type = "CMT" }))
    st:put(msg("a5", "fc", { source = "other" }))
    st:put(msg("a5", "fd"))
    st:update("fd", { final = true, done = T + 1, state = S.DELIVERED })
    eq({ "fa", "fb" }, ids(st:find { account = "a5", source = "src", dest = "4477" }))
    eq({ "fb" }, ids(st:find { account = "a5", source = "src", dest = "4477", service_type = "CMT" }))
    eq({ "fa" }, ids(st:find { account = "a5", source = "src", dest = "4477", limit = 1, pending = true }))
    eq({}, st:find { account = "a5-none", source = "src", dest = "4477" })
end)

case("due, per upstream, with a lease; take_due and next_due", function(st)
    st:put(msg("a6", "l1", { due = T + 30, upstream = "u6" }))
    st:put(msg("a6", "l2", { due = T + 10, upstream = "u6" }))
    st:put(msg("a6", "q1", { due = T + 20, upstream = "u6b" }))
    eq({ "l2", "l1" }, ids(st:due(T + 100, 10, "u6")))
    eq({ "q1" }, ids(st:due(T + 100, 10, "u6b")))
    eq({}, ids(st:due(T + 5, 10, "u6")))
    local leased = st:due(T + 100, 1, "u6", 60)
    eq({ "l2" }, ids(leased))
    eq(T + 160, leased[1].due)
    eq({ "l1" }, ids(st:due(T + 100, 10, "u6")), "l2 hidden until T + 160")
    eq({ "l1", "l2" }, ids(st:due(T + 160, 10, "u6")))
    eq(T + 20, st:next_due("u6b"))
    eq({}, st:take_due(T + 19, 10, "u6b"))
    eq({ "q1" }, ids(st:take_due(T + 20, 10, "u6b")))
    eq({}, st:take_due(T + 20, 10, "u6b"))
    eq(nil, st:next_due("u6b"))
    eq(nil, st:get("q1").due)
end)

case("by_upstream: the newest record with that key", function(st)
    st:put(msg("a7", "g1", { upstream = "up7", upstream_id = "0A", upstream_key = "10" }))
    st:put(msg("a7", "g2", { upstream = "up7", upstream_id = "00A", upstream_key = "10" }))
    st:put(msg("a7", "g3", { upstream = "up7b", upstream_key = "10" }))
    eq("g2", st:by_upstream("up7", "10").id)
    eq("g3", st:by_upstream("up7b", "10").id)
    eq(nil, st:by_upstream("up7", "11"))
end)

case("list: an account's messages by time and state, in pages", function(st)
    for i = 1, 5 do st:put(msg("a8", "t" .. i, { submitted = T + i })) end
    st:update("t4", { state = S.DELIVERED, final = true, done = T + 100 })
    local rows, nxt = st:list { account = "a8", since = T + 2, limit = 2 }
    eq({ "t2", "t3" }, ids(rows))
    eq({ "t4", "t5" }, ids((st:list { account = "a8", after = nxt })))
    eq({ "t1", "t2" }, ids((st:list { account = "a8", ["until"] = T + 3 })))
    eq({ "t4" }, ids((st:list { account = "a8", state = S.DELIVERED })))
    eq({}, st:list { account = "a8-none" })
    -- a walk looks at `scan` rows at most (SQLite: of every account) and
    -- says where to go on: walked to its end, it gives every row in order
    local all, after, calls = {}, nil, 0
    repeat
        rows, after = st:list { account = "a8", scan = 2, after = after }
        if #rows > 2 then error("more rows than scan looked at") end
        for _, r in ipairs(rows) do all[#all + 1] = r.id end
        calls = calls + 1
    until not after or calls > 1000
    eq({ "t1", "t2", "t3", "t4", "t5" }, all, "the pages")
end)

case("outbox: take leases, ack removes, retry offers again", function(st)
    local r1 = assert(st:outbox_push("A9", "pdu1", { ref = "m1" }))
    local r2 = assert(st:outbox_push("A9", "pdu2", { ref = "m2", due = T + 50, expires = T + 500 }))
    assert(st:outbox_push("B9", "pdu3"))
    eq(2, st:outbox_count("A9"))
    local got = st:outbox_take("A9", 10, T + 10, 30)
    eq(1, #got)
    eq({ rowid = r1, account = "A9", ref = "m1", pdu = "pdu1", due = T + 40, attempts = 1 }, got[1])
    eq({}, st:outbox_take("A9", 10, T + 20), "leased")
    got = st:outbox_take("A9", 10, T + 60)
    eq({ r1, r2 }, ids(got, "rowid"))
    eq(T + 120, got[1].due, "the configured lease")
    eq(2, got[1].attempts)
    eq(T + 500, got[2].expires)
    eq(true, st:outbox_ack(r1))
    eq(false, st:outbox_ack(r1))
    eq(true, st:outbox_retry(r2, T + 200))
    eq({}, st:outbox_take("A9", 10, T + 199))
    eq("pdu2", st:outbox_take("A9", 10, T + 200)[1].pdu)
    eq(1, st:outbox_count("A9"))
    eq(0, st:outbox_count("C9"))
end)

case("early receipts: taken once, since a time", function(st)
    eq(true, st:early_put("up10", "10", "r1", T + 100, T + 1))
    eq(true, st:early_put("up10", "10", "r2", T + 100, T + 2))
    eq(true, st:early_put("up10", "11", "r3", T + 100))
    eq(true, st:early_put("up10", "12", "r4", T + 100, T + 1))
    eq(true, st:early_put("up10", "12", "r5", T + 100, T + 5))
    local got = st:early_take("up10", "10")
    eq({ "r1", "r2" }, ids(got, "pdu"))
    eq(T + 1, got[1].at)
    eq({}, st:early_take("up10", "10"))
    eq(1, #st:early_take("up10", "11"))
    eq({ "r5" }, ids(st:early_take("up10", "12", T + 3), "pdu"), "only those since T + 3")
    eq({ "r4" }, ids(st:early_take("up10", "12"), "pdu"), "the older one stays")
end)

case("sticky: held until its time, the first part's choice stays", function(st)
    eq(true, st:sticky_put("k11", "r1", "u1", 300, T))
    eq(false, st:sticky_put("k11", "r2", "u2", 300, T + 1))
    local route, up = st:sticky_get("k11", T + 10)
    eq({ "r1", "u1" }, { route, up })
    eq(nil, st:sticky_get("k11", T + 300), "its time is up")
    eq(true, st:sticky_put("k11", "r3", nil, 300, T + 300), "an expired hold is replaced")
    route, up = st:sticky_get("k11", T + 301)
    eq({ "r3" }, { route, up })
    eq(nil, st:sticky_get("k11-none", T))
end)

case("keyed records: no text id, parts put one after the other, recent, due", function(st)
    local function keyed(t)
        local rec = { account = "a12", source = "src", dest = "4477", submitted = T, final = true,
                      state = S.DELIVERED, done = T + 1 }
        for k, v in pairs(t or {}) do rec[k] = v end
        return assert(st:put(rec))
    end
    local k1 = keyed()
    local k2 = keyed { submitted = T + 1 }
    keyed { submitted = T + 1, part = 1, dest = "4478" }
    local k3 = keyed { submitted = T + 2, due = T + 10, upstream = "u12" }
    local r = st:get(k1)
    eq(k1, r.key)
    eq(nil, r.id)
    eq(true, r.final)
    eq(false, r.lasting)
    eq({ "4477", "4478" }, ids(st:parts(k2), "dest"))
    local p1 = st:parts(k2)[2].key
    eq({}, st:parts(p1), "not a part 0")
    eq(1, st:update(p1, { state = S.DELETED, done = T + 3 }))
    eq(S.DELETED, st:get(p1).state)
    eq(S.DELIVERED, st:get(k2).state)
    eq({ k3, k2 }, ids(st:recent { account = "a12", source = "src", dest = "4477", since = T + 1 }, "key"))
    eq({ k3 }, ids(st:recent { account = "a12", source = "src", dest = "4477", since = T + 1, limit = 1 }, "key"))
    eq({}, st:recent { account = "a12", source = "src", dest = "4477", since = T + 3 })
    eq({ k3 }, ids(st:take_due(T + 10, 10, "u12"), "key"))
end)

case("a due cleared by key (update's false), a row removed for good", function(st)
    local function keyed(t)
        local rec = { account = "a13", source = "src", dest = "4477", submitted = T }
        for k, v in pairs(t or {}) do rec[k] = v end
        return assert(st:put(rec))
    end
    local k1 = keyed { due = T + 5 }
    local k2 = keyed { due = T + 6 }
    local k3 = keyed { due = T + 7, state = S.ENROUTE }
    eq(1, st:update(k2, { due = false }))
    eq(nil, st:get(k2).due)
    eq({ k1, k3 }, ids(st:due(T + 10, 10), "key"))
    raises(function() st:update(k2, { state = false }) end, "state")
    raises(function() st:update(k2, { due = true }) end, "due")
    eq(1, st:remove(k3))
    eq(nil, st:get(k3))
    eq(0, st:remove(k3))
    eq({ k1 }, ids(st:due(T + 10, 10), "key"))
    eq(1, st:update(k1, { due = false }))
    eq(nil, st:next_due())
    raises(function() st:remove(0) end, "key must be > 0")
end)

case("ids made from keys: read back by get, parts and update", function(st)
    local code = require("smpp.msgid").code.hex
    local k = assert(st:put { account = "a13", source = "s", dest = "d", submitted = T, id_format = code })
    local kp = assert(st:put { account = "a13", source = "s", dest = "e", submitted = T, id_format = code, part = 1 })
    local id = st:get(k).id
    eq("string", type(id), "a made id")
    eq(id, st:get(kp).id, "the parts share the id of part 0")
    eq(k, st:get(id).key)
    eq(kp, st:get(id, 1).key)
    eq({ k, kp }, ids(st:parts(id), "key"))
    eq(2, st:update(id, { state = S.ENROUTE }))
    eq(S.ENROUTE, st:get(kp).state)
end)

case("putter: the same columns again and again, values in order", function(st)
    local put = st:putter { "account", "source", "dest", "submitted", "final", "err", "due", "upstream" }
    local k1 = assert(put("a14", "src", "4477", T, true, false, nil, nil))
    local k2 = assert(put("a14", "src", "4478", T + 1, false, 7, T + 5, "u14"))
    local r1, r2 = st:get(k1), st:get(k2)
    eq({ "4477", true, 0 }, { r1.dest, r1.final, r1.err })
    eq(nil, r1.due)
    eq({ "4478", false, 7, T + 5 }, { r2.dest, r2.final, r2.err, r2.due })
    raises(function() put("a14", "src", 4479, T) end, "put: field 'dest' must be a string, got number")
    raises(function() st:putter { "acount" } end, "putter: unknown field 'acount'")
    raises(function() st:putter { "keep_until" } end, "putter: keep_until cannot be given to a putter")
    local rec = { account = "a14", submitted = T + 3, err = false, pdu = false, final = false }
    local r = st:get(assert(st:put(rec)))
    eq({ 0, false }, { r.err, r.final })
    eq(nil, r.pdu)
end)

case("next_id increases per name; node_id is a 32-bit number", function(st)
    local a, b, c = st:next_id("c15"), st:next_id("c15"), st:next_id("c15")
    eq(true, a < b and b < c, "increasing")
    local node = st:node_id()
    eq(true, node >= 1 and node < 2 ^ 32 and node == math.floor(node), "node id " .. tostring(node))
    eq(node, st:node_id(), "the same node id")
end)

case("stats: levels and limits", function(st)
    local s = st:stats()
    for _, k in ipairs { "messages", "outbox", "early", "sticky" } do
        eq("number", type(s[k].value), k)
        eq("number", type(s[k].limit), k .. " limit")
    end
    for _, k in ipairs { "evicted", "expired", "sticky_evicted", "commits", "lost" } do eq("number", type(s[k]), k) end
    eq(true, st:check())
end)

-- the last case: its clock runs far ahead, past every other case's rows
case("expire: in bounded batches on the caller's clock, reporting what was lost", function(st)
    local F = T + 10 * TTL
    for i = 1, 5 do
        st:put(msg("a16", "f" .. i, { submitted = F, final = true, done = F + i, state = S.DELIVERED }))
    end
    local stuck = st:put(msg("a16", "stuck", { submitted = F }))
    local long = st:put(msg("a16", "long", { submitted = F, expires = F + 5000 }))
    local ob = st:outbox_push("A16", "held", { ref = "f1", expires = F + 2000 })
    st:early_put("up16", "k", "early", F + 2000)
    local function drain(now)
        local out = { messages = 0, unfinished = {}, outbox = {}, early = {} }
        for _ = 1, 100 do
            local r = st:expire(now, 2)
            out.messages = out.messages + r.messages
            for _, k in ipairs { "unfinished", "outbox", "early" } do
                for _, v in ipairs(r[k]) do         -- this case's rows
                    if v.account == "a16" or v.account == "A16" or v.upstream == "up16" then
                        out[k][#out[k] + 1] = v
                    end
                end
            end
            if r.messages > 2 or #r.outbox > 2 then error("a batch of 2 removed more") end
            if not r.more then return out end
        end
        error("expire never finished")
    end
    local x = drain(F + 2000)
    eq({ { rowid = ob, account = "A16", ref = "f1" } }, x.outbox)
    eq("k", x.early[1] and x.early[1].key, "the early receipt")
    eq("f1", st:get("f1").id, "not before its time")
    local before = st:stats().expired
    x = drain(F + 5 + TTL)
    eq(6, x.messages, "f1..f5 and stuck")
    eq({ { id = "stuck", key = stuck, part = 0, account = "a16", state = 0 } }, x.unfinished)
    eq("long", st:get("long").id, "long is kept until its validity ends + trace_ttl")
    x = drain(F + 5000 + TTL)
    eq({ { id = "long", key = long, part = 0, account = "a16", state = 0 } }, x.unfinished)
    eq(nil, st:get("long"))
    eq(0, st:outbox_count("A16"))
    eq(before + 7, st:stats().expired, "expired counted")
end)

-- -- Bounds (store.limits: messages 3, outbox 3, outbox_per_account 2, early 1, sticky 2) -

local bounds = {}
local function bcase(name, fn) bounds[#bounds + 1] = { name = name, fn = fn } end

bcase("messages: full, a finished one makes room", function(st)
    assert(st:put(msg("b1", "a")))
    assert(st:put(msg("b1", "b")))
    assert(st:put(msg("b1", "c")))
    local ok, err, detail = st:put(msg("b1", "d"))
    eq({ nil, "full" }, { ok, err })
    if not tostring(detail):find("limits.messages", 1, true) then error("detail: " .. tostring(detail)) end
    st:update("a", { final = true, done = T + 1 })
    assert(st:put(msg("b1", "d")))
    eq(nil, st:get("a"), "evicted")
    local s = st:stats()
    eq(1, s.evicted)
    eq({ value = 3, limit = 3 }, s.messages)
end)

bcase("outbox and outbox_per_account: full, naming the limit", function(st)
    assert(st:outbox_push("A", "1"))
    assert(st:outbox_push("A", "2"))
    local ok, err, detail = st:outbox_push("A", "3")
    eq({ nil, "full" }, { ok, err })
    if not tostring(detail):find("outbox_per_account", 1, true) then error("detail: " .. tostring(detail)) end
    assert(st:outbox_push("B", "3"))
    ok, err, detail = st:outbox_push("B", "4")
    eq({ nil, "full" }, { ok, err })
    if not tostring(detail):find("limits.outbox", 1, true) then error("detail: " .. tostring(detail)) end
    eq({ value = 3, limit = 3 }, st:stats().outbox)
end)

bcase("early: full", function(st)
    eq(true, st:early_put("u", "k", "r", T + 10))
    local ok, err = st:early_put("u", "k2", "r", T + 10)
    eq({ nil, "full" }, { ok, err })
    eq({ value = 1, limit = 1 }, st:stats().early)
end)

bcase("sticky: the hold that expires first makes room, never full", function(st)
    eq(true, st:sticky_put("s1", "r", "u", 100, T))
    eq(true, st:sticky_put("s2", "r", "u", 200, T))
    eq(true, st:sticky_put("s3", "r", "u", 300, T))
    eq(nil, st:sticky_get("s1", T + 1), "s1 made room")
    eq("r", st:sticky_get("s3", T + 1))
    local s = st:stats()
    eq(1, s.sticky_evicted)
    eq({ value = 2, limit = 2 }, s.sticky)
end)

-- -- Running -------------------------------------------------------------------------------

local function run_ids(st)
    local out = {}
    for i = 1, 1500 do
        out[#out + 1] = assert(st:next_id("shared"))
        if #out == 100 or i == 1500 then
            smpp.log("info", "IDS %s", table.concat(out, ","))
            out = {}
        end
    end
end

return {
    start = function()
        T = math.floor(smpp.time())
        local st = store.current()
        if MODE == "ids" then
            run_ids(st)
            smpp.log("info", "CASES DONE 0")
            return
        end
        local list = MODE == "bounds" and bounds or cases
        for _, c in ipairs(list) do
            local ok, err = pcall(c.fn, st)
            smpp.log("info", "CASE %s %s%s", ok and "ok" or "FAIL", c.name, ok and "" or (": " .. tostring(err)))
        end
        smpp.log("info", "CASES DONE %d", #list)
    end,
}
