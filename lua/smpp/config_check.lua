-- smpp.config_check -- what the schema of smpp.config cannot see: one key
-- against another (a route to an upstream that does not exist, two
-- accounts with one system_id), strings that are code or addresses (Lua
-- patterns, networks, password hashes) and status names. Both `smppgw
-- check` and `run` (and a reload) go through it (smpp.server.prepare), so
-- a mistake that would refuse every bind or fail every submit at run time
-- is an error at load naming the key. It also prints check's summary.
--
-- The route fields come from smpp.router (route_fields), the status names
-- from smpp.status, the hash form and networks from smpp.security: each
-- rule is read from where it is defined.
local smpp = require "smpp"
local config = require "smpp.config"
local router = require "smpp.router"
local security = require "smpp.security"
local bind_types = require("smpp.session").bind_types     -- the one vocabulary: tx -> transmitter

local M = {}

local S = smpp.status
local format = string.format

local function show(v)
    if type(v) == "string" then return format("%q", v) end
    return tostring(v)
end

-- -- Lua patterns -------------------------------------------------------------------
-- Lua checks a pattern only as far as a match reads it, so a malformed one
-- can pass a test and fail on the first message that gets that far. This
-- reads it the way lstrlib.c does, to its end.

-- The index of the "]" that closes the set opening at p[i] ("["), or nil.
local function set_end(p, i)
    local j, n = i + 1, #p
    if p:sub(j, j) == "^" then j = j + 1 end
    repeat                                  -- the first character may be "]" itself
        if j > n then return nil end
        if p:sub(j, j) == "%" then
            if j + 1 > n then return nil end
            j = j + 2
        else
            j = j + 1
        end
    until p:sub(j, j) == "]"
    return j
end

-- pattern(p) -> true | nil, why: p is a Lua pattern no match can raise on.
function M.pattern(p)
    if type(p) ~= "string" then return nil, "not a string" end
    local i, n = p:sub(1, 1) == "^" and 2 or 1, #p
    local open, closed, count = {}, {}, 0
    while i <= n do
        local c = p:sub(i, i)
        if c == "(" then
            count = count + 1
            if count > 32 then return nil, "more than 32 captures" end
            open[#open + 1] = count
            i = i + 1
        elseif c == ")" then
            if #open == 0 then return nil, "a ')' closes no capture" end
            closed[table.remove(open)] = true
            i = i + 1
        elseif c == "[" then
            local j = set_end(p, i)
            if not j then return nil, "a '[' is never closed" end
            i = j + 1
        elseif c == "%" then
            local d = p:sub(i + 1, i + 1)
            if d == "" then return nil, "it ends with '%'" end
            if d == "b" then
                if i + 3 > n then return nil, "'%b' needs two characters after it" end
                i = i + 4
            elseif d == "f" then
                local j = p:sub(i + 2, i + 2) == "[" and set_end(p, i + 2)
                if not j then return nil, "'%f' needs a closed set [...] after it" end
                i = j + 1
            elseif d:match("%d") then
                if not closed[tonumber(d)] then return nil, "'%" .. d .. "' names no closed capture" end
                i = i + 2
            else
                i = i + 2
            end
        else
            i = i + 1
        end
    end
    if #open > 0 then return nil, "a '(' is never closed" end
    return true
end

-- The items of a valid pattern: { class = "." / "%d" / "[...]" / "a",
-- rep = "*" / "+" / "-" / "?" / nil }; captures, anchors, %b, %f and
-- back references are not classes (their rep is nil, class false).
local function items(p)
    local out, i, n = {}, p:sub(1, 1) == "^" and 2 or 1, #p
    while i <= n do
        local c, j = p:sub(i, i), i
        if c == "(" or c == ")" then
            i = i + 1
        elseif c == "%" and p:sub(i + 1, i + 1) == "b" then
            out[#out + 1] = { class = false }
            i = i + 4
        elseif c == "%" and p:sub(i + 1, i + 1) == "f" then
            i = (set_end(p, i + 2) or n) + 1
        elseif c == "%" and p:sub(i + 1, i + 1):match("%d") then
            out[#out + 1] = { class = false }
            i = i + 2
        elseif c == "$" and i == n then
            i = i + 1
        else
            if c == "[" then j = set_end(p, i) or n elseif c == "%" then j = i + 1 end
            local rep = p:sub(j + 1, j + 1)
            rep = (rep == "*" or rep == "+" or rep == "-" or rep == "?") and rep or nil
            out[#out + 1] = { class = p:sub(i, j), rep = rep }
            i = j + 1 + (rep and 1 or 0)
        end
    end
    return out
end

-- backtracks(p) -> nil | why: a valid pattern whose matching can take the
-- square of the text's length (or worse): ".-" / ".*" / ".+" followed by
-- more pattern, or a repeated item followed by another repetition of the
-- same item ("a*a*"). Such a route key may give up on a long text
-- (smpp.router.PATTERN_STEPS) and then not match. A cheap reading, not a
-- proof: other patterns can backtrack too, and the bound holds for all.
function M.backtracks(p)
    local it = items(p)
    for k, item in ipairs(it) do
        local var = item.rep == "*" or item.rep == "+" or item.rep == "-"
        if var and item.class == "." and k < #it then
            return format("'%s%s' followed by more pattern backtracks over the text", item.class, item.rep)
        end
        local nxt = it[k + 1]
        if var and nxt and nxt.class == item.class and (nxt.rep == "*" or nxt.rep == "+" or nxt.rep == "-") then
            return format("'%s%s%s%s' repeats one item twice in a row: it backtracks over the text", item.class,
                item.rep, nxt.class, nxt.rep)
        end
    end
    return nil
end

-- -- Status names ---------------------------------------------------------------------

-- The edit distance of a and b, up to limit + 1.
local function distance(a, b, limit)
    if math.abs(#a - #b) > limit then return limit + 1 end
    local prev = {}
    for j = 0, #b do prev[j] = j end
    for i = 1, #a do
        local cur = { [0] = i }
        for j = 1, #b do
            cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a:byte(i) == b:byte(j) and 0 or 1))
        end
        prev = cur
    end
    return prev[#b]
end

-- status(name) -> true | nil, why (with the nearest name when one is close).
function M.status(name)
    if type(name) ~= "string" then return nil, "not a status name" end
    if S[name] then return true end
    local best, best_d = nil, 3
    for known in pairs(S) do
        local d = distance(name:upper(), known, 2)
        if d < best_d or (d == best_d and best and known < best) then best, best_d = known, d end
    end
    return nil, format("%s is not a status name%s", show(name), best and format(" (did you mean %s?)", best) or "")
end

-- -- The checks ------------------------------------------------------------------------

local function list_of(v)
    if type(v) == "string" then return { v } end
    return type(v) == "table" and v or {}
end

-- names(list, section, key, errs) -> { name = index }: the items of a
-- list by their `key`; a name given twice is an error on the second (it
-- would replace the first)
local function names(list, section, key, errs)
    local seen = {}
    for i, item in ipairs(list or {}) do
        local name = item[key]
        if name ~= nil then
            if seen[name] then
                errs[#errs + 1] = format("%s[%d].%s: %s is also %s[%d]'s (the second would replace the first)",
                    section, i, key, show(name), section, seen[name])
            else
                seen[name] = i
            end
        end
    end
    return seen
end

-- An account's http section: a token no other account (nor the API)
-- has, a webhook URL the client can post to.
local function check_account_http(conf, a, path, tokens, errs)
    local h = type(a.http) == "table" and a.http or {}
    if type(h.token) == "string" then
        if h.token == "" then
            errs[#errs + 1] = format("%s.http.token: empty (leave it out for no token)", path)
        elseif tokens[h.token] then
            errs[#errs + 1] = format("%s.http.token: the same as %s (each token names one account)", path,
                tokens[h.token])
        elseif conf.http and h.token == conf.http.token then
            errs[#errs + 1] = format("%s.http.token: the same as http.token (the admin's)", path)
        end
        tokens[h.token] = tokens[h.token] or path .. ".http.token"
    end
    local w = type(h.webhook) == "table" and h.webhook or {}
    if type(w.url) == "string" then
        local ok, parse_url = pcall(function() return require("smpp.http").parse_url end)
        local host, why = true, nil
        if ok then host, why = parse_url(w.url, type(conf.http) == "table" and conf.http.callback_networks or nil) end
        if not host then
            errs[#errs + 1] = format("%s.http.webhook.url: %s", path, (why:gsub("^callback_url", "the URL")))
        end
    end
    if type(w.retry_min) == "number" and type(w.retry_max) == "number" and w.retry_min > w.retry_max then
        errs[#errs + 1] = format("%s.http.webhook: retry_min (%s) is more than retry_max (%s)", path, w.retry_min,
            w.retry_max)
    end
end

local function check_accounts(conf, errs)
    local seen = names(conf.accounts, "accounts", "system_id", errs)
    local tokens = {}
    for i, a in ipairs(conf.accounts or {}) do
        local path = format("accounts[%d]", i)
        check_account_http(conf, a, path, tokens, errs)
        if type(a.password) == "string" then
            local h, why = security.parse_hash(a.password)
            if h == nil then errs[#errs + 1] = format("%s.password: %s", path, why) end
        end
        for j, net in ipairs(type(a.networks) == "table" and a.networks or {}) do
            local ok, why = security.parse_network(net)
            if not ok then
                errs[#errs + 1] = format("%s.networks[%d]: %s: %s (no bind could come from it)", path, j, show(net), why)
            end
        end
        for j, src in ipairs(type(a.sources) == "table" and a.sources or {}) do
            if type(src) == "string" and src:sub(1, 1) == "^" then
                local ok, why = M.pattern(src)
                if not ok then
                    errs[#errs + 1] = format("%s.sources[%d]: %s is not a valid Lua pattern: %s", path, j, show(src), why)
                end
            end
        end
    end
    return seen
end


-- One route at `path` (its fields per smpp.router.route_fields, `to` a
-- name or a list of names of upstreams in `upstreams`).
local RX = { receiver = true, rx = true }

local function check_route(r, path, upstreams, errs, list)
    if type(r) ~= "table" then
        errs[#errs + 1] = format("%s: expected a table, got %s", path, type(r))
        return
    end
    local copy = {}
    for k, v in pairs(r) do copy[k] = v end
    if type(copy.to) == "string" then copy.to = { copy.to } end
    if type(copy.contains) == "string" then copy.contains = { copy.contains } end
    config.check_into(copy, { type = "table", fields = router.route_fields }, path, errs)
    for _, e in ipairs(router.check_keys(copy, path)) do errs[#errs + 1] = e end
    if copy.to == nil or (type(copy.to) == "table" and #copy.to == 0) then
        errs[#errs + 1] = format("%s.to: missing (the upstreams this route sends to)", path)
    end
    for j, name in ipairs(type(copy.to) == "table" and copy.to or {}) do
        if type(name) == "string" and not upstreams[name] then
            errs[#errs + 1] = format("%s.to[%d]: no upstream named %s", path, j, show(name))
        end
    end
    -- a receiver link sends nothing: a route whose every upstream is one
    -- would queue its messages (answered ESME_ROK) until their validity
    local rx, named = {}, 0
    for _, name in ipairs(type(copy.to) == "table" and copy.to or {}) do
        local u = type(name) == "string" and list and list[upstreams[name] or 0]
        if type(u) == "table" then
            named = named + 1
            if RX[u.bind] then rx[#rx + 1] = show(name) end
        end
    end
    if named > 0 and #rx == named then
        errs[#errs + 1] = format("%s.to: route %s sends only to %s, which %s as a receiver and can send no "
            .. "message: name an upstream that binds as a transmitter or transceiver", path, show(r.name),
            table.concat(rx, ", "), #rx == 1 and "binds" or "bind")
    end
    -- weights: one per upstream of `to`, and some of them above 0 (else
    -- the pick falls on the last upstream every time)
    if type(copy.weights) == "table" and type(copy.to) == "table" then
        local w, any = copy.weights, false
        for _, x in ipairs(w) do any = any or (type(x) == "number" and x > 0) end
        if #w ~= #copy.to then
            errs[#errs + 1] = format("%s.weights: %d weight%s for %d upstream%s in to (give one per upstream)", path,
                #w, #w == 1 and "" or "s", #copy.to, #copy.to == 1 and "" or "s")
        elseif #w > 0 and not any then
            errs[#errs + 1] = format("%s.weights: all 0 (at least one upstream needs a weight above 0)", path)
        end
    end
    for _, k in ipairs { "pattern", "text_pattern" } do
        if type(r[k]) == "string" then
            local ok, why = M.pattern(r[k])
            if not ok then errs[#errs + 1] = format("%s.%s: %s is not a valid Lua pattern: %s", path, k, show(r[k]), why) end
        end
    end
    for j, st in ipairs(type(r.failover_on) == "table" and r.failover_on or {}) do
        local ok, why = M.status(st)
        if not ok then errs[#errs + 1] = format("%s.failover_on[%d]: %s", path, j, why) end
    end
    if r.status ~= nil then
        local ok, why = M.status(r.status)
        if not ok then errs[#errs + 1] = format("%s.status: %s", path, why) end
    end
end

-- The routes of the gateway section: its own, or its routes_file's.
local function gateway_routes(g, conf_path, errs)
    if g.routes_file == nil then return g.routes, "gateway.routes" end
    if type(g.routes_file) ~= "string" then return nil end
    if g.routes_file == "" then
        errs[#errs + 1] = "gateway.routes_file: empty (a JSON file of routes, relative to the configuration)"
        return nil
    end
    local routes, why = router.load_json(config.resolve(conf_path or "./", g.routes_file))
    if not routes then
        errs[#errs + 1] = format("gateway.routes_file: %s", why)
        return nil
    end
    return routes, format("gateway.routes_file (%s)", g.routes_file)
end

local function check_gateway(conf, conf_path, accounts, upstreams, errs)
    local g = conf.gateway
    if type(g) ~= "table" then return end
    local routes, where = gateway_routes(g, conf_path, errs)
    if type(routes) == "table" then
        local list = type(conf.upstreams) == "table" and conf.upstreams or {}
        for i, r in ipairs(routes) do check_route(r, format("%s[%d]", where, i), upstreams, errs, list) end
        for _, e in ipairs(router.duplicates(routes, where)) do errs[#errs + 1] = e end
    end
    local rmin, rmax = tonumber(g.retry_min) or 1, tonumber(g.retry_max) or 60   -- smpp.gateway's defaults
    -- compared only when both are finite: NaN and infinities are the
    -- gateway section's schema's to refuse, naming the key, once this passes
    local function finite(x) return x == x and x ~= math.huge and x ~= -math.huge end
    if finite(rmin) and finite(rmax) and rmin > rmax then
        errs[#errs + 1] = format("gateway: retry_min (%s%s) is more than retry_max (%s%s)", rmin,
            g.retry_min == nil and ", the default" or "", rmax, g.retry_max == nil and ", the default" or "")
    end
    if g.time_zone ~= nil then
        local ok, why = router.time_zone(g.time_zone)
        if not ok then errs[#errs + 1] = "gateway.time_zone: " .. why end
    end
    if g.no_route_status ~= nil then
        local ok, why = M.status(g.no_route_status)
        if not ok then errs[#errs + 1] = "gateway.no_route_status: " .. why end
    end
    for i, m in ipairs(type(g.mo_routes) == "table" and g.mo_routes or {}) do
        local path = format("gateway.mo_routes[%d]", i)
        if type(m) == "table" then
            if type(m.account) == "string" and not accounts[m.account] then
                errs[#errs + 1] = format("%s.account: no account with system_id %s", path, show(m.account))
            end
            if type(m.upstream) == "string" and not upstreams[m.upstream] then
                errs[#errs + 1] = format("%s.upstream: no upstream named %s", path, show(m.upstream))
            end
        end
    end
end

-- receipts_for: another upstream's name, one that sends (not a receiver
-- link) and whose own receipts are its (no chain).
local function check_receipts_for(conf, upstreams, errs)
    local list = type(conf.upstreams) == "table" and conf.upstreams or {}
    for i, u in ipairs(list) do
        local to = type(u) == "table" and u.receipts_for
        if type(to) == "string" then
            local path, t = format("upstreams[%d].receipts_for", i), list[upstreams[to] or 0]
            if not upstreams[to] then
                errs[#errs + 1] = format("%s: no upstream named %s", path, show(to))
            elseif to == u.name then
                errs[#errs + 1] = format("%s: names this upstream itself", path)
            elseif RX[t.bind] then
                errs[#errs + 1] = format("%s: %s binds as a receiver: it sends no messages whose receipts "
                    .. "these could be", path, show(to))
            elseif t.receipts_for ~= nil then
                errs[#errs + 1] = format("%s: %s has receipts_for itself (name the upstream that sends)", path,
                    show(to))
            end
        end
    end
end

-- The receipt groups (config.receipt_groups: the entries of one SMSC
-- account match each other's receipts): a receipt's id is read in the
-- id_format of the entry it arrives on and looked up among the messages
-- of all, so their formats must be one.
local function id_formats(u)
    local f = type(u.id_format) == "table" and u.id_format or {}
    local resp = f.resp or "string"
    return format("resp %s, receipt %s, tlv %s", resp, f.receipt or resp, f.tlv or resp)
end

local function check_receipt_groups(conf, errs)
    local list = type(conf.upstreams) == "table" and conf.upstreams or {}
    for i, u in ipairs(list) do
        if type(u) == "table" and type(u.reconnect_min) == "number" and u.reconnect_min > (tonumber(u.reconnect_max)
                or config.default("upstreams.reconnect_max")) then
            errs[#errs + 1] = format("upstreams[%d]: reconnect_min (%s) is more than reconnect_max (%s)", i,
                u.reconnect_min, u.reconnect_max or config.default("upstreams.reconnect_max"))
        elseif type(u) == "table" and type(u.reconnect_max) == "number"
                and u.reconnect_max < config.default("upstreams.reconnect_min") and u.reconnect_min == nil then
            errs[#errs + 1] = format("upstreams[%d]: reconnect_max (%s) is less than reconnect_min (%s, the default)",
                i, u.reconnect_max, config.default("upstreams.reconnect_min"))
        end
        if type(u) == "table" and u.smsc_account == "" then
            errs[#errs + 1] = format("upstreams[%d].smsc_account: empty (name the SMSC account, or leave it out)", i)
        end
    end
    -- former_names: names no entry has now, each named once
    local names, formers = {}, {}
    for _, u in ipairs(list) do if type(u) == "table" and type(u.name) == "string" then names[u.name] = true end end
    for i, u in ipairs(list) do
        for j, f in ipairs(type(u) == "table" and type(u.former_names) == "table" and u.former_names or {}) do
            if f == "" then
                errs[#errs + 1] = format("upstreams[%d].former_names[%d]: empty", i, j)
            elseif names[f] then
                errs[#errs + 1] = format("upstreams[%d].former_names[%d]: %s is the name of a configured upstream "
                    .. "(a former name is one no entry has now)", i, j, show(f))
            elseif formers[f] then
                errs[#errs + 1] = format("upstreams[%d].former_names[%d]: %s is a former name of upstreams[%d] "
                    .. "already (one entry takes its receipts)", i, j, show(f), formers[f])
            else
                formers[f] = i
            end
        end
    end
    for _, g in ipairs(config.receipt_groups(list)) do
        local first = list[g[1]]
        for k = 2, #g do
            local u = list[g[k]]
            if id_formats(u) ~= id_formats(first) then
                errs[#errs + 1] = format("upstreams[%d].id_format: %s (%s) shares receipts with upstreams[%d] %s "
                    .. "(%s), one SMSC account (same smsc_account, or host, port and system_id): a receipt is "
                    .. "matched among the messages of both, so give them one id_format", g[k], show(u.name),
                    id_formats(u), g[1], show(first.name), id_formats(first))
            end
        end
    end
end

-- check(conf, conf_path) -> true | nil, list of "path: what is wrong"
-- (sorted by path). conf has passed smpp.config's schema.
-- workers_refusal(n, store_section, listen) -> nil | message: why this
-- configuration cannot run with n workers (smpp.workers): one SQLite file
-- has one writer; a listener on port 0 would give each worker its own port.
function M.workers_refusal(n, section, listen)
    if n <= 1 then return nil end
    if not (section and (section.path == ":memory:" or section.redis)) then
        return format("workers = %d: the embedded store (store.path = %s) is one SQLite file with one writer, "
            .. "which %d processes cannot share; run one worker, or give each worker a store of its own "
            .. "(store.path = \":memory:\", nothing shared between them)", n,
            section and section.path or "beside the configuration", n)
    end
    for _, l in ipairs(listen or {}) do
        if l.port == 0 then
            return format("workers = %d: listen %s:0 would give each worker a port of its own; name the port", n, l.host)
        end
    end
    return nil
end

local function check_workers(conf, errs)
    local listen = {}
    for _, a in ipairs(conf.listen or {}) do
        local host, port = tostring(a):match("^(.*):(%d+)$")
        if host then listen[#listen + 1] = { host = host, port = tonumber(port) } end
    end
    local store = conf.store
    if require("smpp.store").redis_of(conf) then store = { redis = true } end
    local why = M.workers_refusal(conf.workers or 1, store, listen)
    if why then errs[#errs + 1] = why end
end

-- The store in Redis (store.redis, or its alias cluster.store = true):
-- the process has one link to Redis, so store.redis and cluster.redis
-- name the same server and database; what still cannot work there is
-- refused, naming the key.
local function check_redis_store(conf, errs)
    local s, c = type(conf.store) == "table" and conf.store, type(conf.cluster) == "table" and conf.cluster
    if s and s.path and s.redis then
        errs[#errs + 1] = "store.path, store.redis: give one of them (an SQLite file, or a Redis server)"
    elseif s and not s.path and not s.redis then
        errs[#errs + 1] = "store: store.path (an SQLite file) or store.redis (a Redis server) is required"
    end
    if s and s.redis and c then
        if s.redis ~= c.redis or (s.db or 0) ~= (c.db or 0) or s.password ~= c.password then
            errs[#errs + 1] = format("store.redis (%s db %d) and cluster.redis (%s db %d): the process has one link "
                .. "to Redis, so both name the same server, database and password", tostring(s.redis), s.db or 0,
                tostring(c.redis), c.db or 0)
        end
    end
    -- what a listener may say (port 0: any) a client of Redis may not; and
    -- keys of the SQLite store that mean nothing on Redis are refused
    -- rather than silently ignored
    for key, sec in pairs { ["store"] = s, ["cluster"] = c } do
        if sec and type(sec.redis) == "string" and sec.redis:match(":0+$") then
            errs[#errs + 1] = key .. ".redis: port 0 is no Redis server's port (" .. sec.redis .. ")"
        end
        if sec and sec.redis and sec.prefix == "" then
            errs[#errs + 1] = key .. ".prefix: empty; the keys would sit at the top of the shared database "
                .. "(give a prefix such as \"smppgw:\")"
        end
    end
    if s and s.redis then
        for _, k in ipairs { "sync", "busy_timeout" } do
            if s[k] ~= nil then
                errs[#errs + 1] = "store." .. k .. ": a setting of the SQLite file store; with store.redis "
                    .. "durability is Redis' own (appendonly, appendfsync: docs/store.md)"
            end
        end
    end
    local r = require("smpp.store").redis_of(conf)
    if not r then return end
    if r.from == "cluster.store" and s and s.path and s.path ~= ":memory:" then
        errs[#errs + 1] = format("store.path: with cluster.store = true the store is in Redis; the local "
            .. "file (%s) would hold nothing: leave store.path out, or use store.redis", tostring(s.path))
    end
    -- an account's webhooks read the store's outbox, which receipts and MO
    -- do not pass through on Redis (they go to the account's stream): they
    -- would never fire
    for i, a in ipairs(type(conf.accounts) == "table" and conf.accounts or {}) do
        if type(a) == "table" and type(a.http) == "table" and a.http.webhook ~= nil then
            errs[#errs + 1] = format("accounts[%d].http.webhook: not served with the store in Redis (%s): receipts "
                .. "and MO go to the account's stream for its receivers; use an SQLite store, or a receiver",
                i, r.from)
        end
    end
    local g = conf.gateway
    if type(g) == "table" and g.message_id == "upstream" then
        errs[#errs + 1] = r.from .. ": gateway.message_id = \"upstream\" is not served with the store in Redis "
            .. "(the gateway's C path keeps its records there by our own ids): use message_id = \"own\", "
            .. "or an SQLite store (store.path)"
    end
end

-- A store call that waits for another process's lock waits inside the
-- script run that made it, in C: past scripts.budget_ms nothing can stop
-- it and the watchdog ends the process. The wait must end first (the
-- write then fails: ESME_RMSGQFUL).
-- lock_wait_bound(conf) -> seconds, budget_ms: half of the script budget
-- in force (0 = its maximum, 60,000 ms), what store.busy_timeout must stay
-- under (server.open_store keeps the default under it).
function M.lock_wait_bound(conf)
    local sc = config.with_defaults("scripts", type(conf.scripts) == "table" and conf.scripts or {})
    local budget = (sc.budget_ms and sc.budget_ms > 0) and sc.budget_ms or 60000
    return budget / 2000, budget
end

local function check_busy_timeout(conf, errs)
    local s = type(conf.store) == "table" and conf.store or {}
    local bt = s.busy_timeout               -- given: the default is kept under it (server.open_store)
    local bound, budget = M.lock_wait_bound(conf)
    if s.redis == nil and type(bt) == "number" and bt >= bound then
        errs[#errs + 1] = format("store.busy_timeout: %g s is not under half of scripts.budget_ms (%g ms): a store "
            .. "call waiting that long for another process's lock inside a script run would pass its budget, and "
            .. "a wait in C cannot be stopped (the watchdog ends the process)", bt, budget)
    end
end

function M.check(conf, conf_path)
    local errs = {}
    check_redis_store(conf, errs)
    check_busy_timeout(conf, errs)
    check_workers(conf, errs)
    local accounts = check_accounts(conf, errs)
    local upstreams = names(conf.upstreams, "upstreams", "name", errs)
    check_receipts_for(conf, upstreams, errs)
    check_receipt_groups(conf, errs)
    check_gateway(conf, conf_path, accounts, upstreams, errs)
    local cb = type(conf.http) == "table" and type(conf.http.callback_networks) == "table" and conf.http.callback_networks
    for j, net in ipairs(cb or {}) do
        local ok, why = security.parse_network(net)
        if not ok then errs[#errs + 1] = format("http.callback_networks[%d]: %s: %s", j, show(net), why) end
    end
    return config.verdict(errs)
end

-- warnings(conf, conf_path) -> list of "path: why": what runs but may
-- not do what was meant (check prints them; run does not refuse them).
function M.warnings(conf, conf_path)
    local out = {}
    local g = type(conf.gateway) == "table" and conf.gateway or nil
    local routes, where
    if g then routes, where = gateway_routes(g, conf_path, {}) end
    for i, r in ipairs(type(routes) == "table" and routes or {}) do
        for _, k in ipairs { "pattern", "text_pattern" } do
            local why = type(r) == "table" and type(r[k]) == "string" and M.pattern(r[k]) and M.backtracks(r[k])
            if why then
                out[#out + 1] = format("%s[%d].%s: %s %s: on a long text it gives up after %d steps and the "
                    .. "route does not match", where, i, k, show(r[k]), why, router.PATTERN_STEPS)
            end
        end
    end
    -- a gateway's receiver link gets receipts for the messages another
    -- link sends: without receipts_for they are matched against its own
    -- (none), wait as early and expire
    for i, u in ipairs(g and type(conf.upstreams) == "table" and conf.upstreams or {}) do
        if type(u) == "table" and RX[u.bind] and u.receipts_for == nil and u.smsc_account == nil then
            out[#out + 1] = format("upstreams[%d].bind: %s binds as a receiver without receipts_for: its receipts "
                .. "are matched against the messages it sent, and it sends none; name the upstream that sends "
                .. "them (its transmitter link) in receipts_for", i, show(u.name))
        elseif type(u) == "table" and u.receipts_for ~= nil and not RX[u.bind] then
            out[#out + 1] = format("upstreams[%d].receipts_for: %s also sends (bind %s): the receipts of its own "
                .. "messages are not matched, since every receipt it gets is taken as %s's", i, show(u.name),
                tostring(u.bind or "transceiver"), show(u.receipts_for))
        end
    end
    return out
end

-- -- The summary of `smppgw check` -----------------------------------------------------

local SHOWN = 8             -- entries of a list shown; the rest are counted

local function listing(items, fn)
    local out = {}
    for i = 1, math.min(#items, SHOWN) do out[#out + 1] = fn(items[i], i) end
    if #items > SHOWN then out[#out + 1] = format("and %d more", #items - SHOWN) end
    return table.concat(out, "; ")
end

-- summary(conf, listen, conf_path) -> lines: listeners, HTTP, accounts,
-- upstreams, routes and MO routes, a line each (at most SHOWN entries of
-- each list): one screen however large the configuration. No secrets.
function M.summary(conf, listen, conf_path)
    local lines = {}
    local function add(label, text) lines[#lines + 1] = format("  %-10s %s", label, text) end
    add("listen", listing(listen, function(l)
        return l.host .. ":" .. l.port .. (l.tls and " (TLS)" or "") .. (l.side == "outbind" and " (outbind)" or "")
    end))
    if conf.http and conf.http.listen then
        add("http", conf.http.listen .. (conf.http.token and " (token)" or " (no token)"))
    end
    if (conf.workers or 1) > 1 then add("workers", tostring(conf.workers)) end
    if type(conf.cluster) == "table" then
        add("cluster", format("redis %s, db %d, prefix %s%s%s", tostring(conf.cluster.redis), conf.cluster.db or 0,
            conf.cluster.prefix or "smppgw:", conf.cluster.password and " (password)" or "",
            conf.cluster.store and ", the store in Redis (cluster.store)" or ""))
    end
    local accounts = conf.accounts or {}
    add("accounts", #accounts .. (#accounts > 0 and ": " or "") .. listing(accounts, function(a)
        local h = type(a.password) == "string" and security.parse_hash(a.password)
        local bits = { h and "hashed password" or "plain password" }
        if a.bind_types then bits[#bits + 1] = table.concat(a.bind_types, "/") end
        if a.max_binds and a.max_binds > 0 then bits[#bits + 1] = "max_binds " .. a.max_binds end
        if a.throughput and a.throughput > 0 then bits[#bits + 1] = a.throughput .. "/s" end
        if a.networks then bits[#bits + 1] = "from " .. table.concat(a.networks, ", ") end
        return format("%s (%s)", tostring(a.system_id), table.concat(bits, ", "))
    end))
    local ups = conf.upstreams or {}
    if #ups > 0 then
        add("upstreams", #ups .. ": " .. listing(ups, function(given)
            local u = config.with_defaults("upstreams", given)
            local where = u.outbind_listen and ("outbind on " .. u.outbind_listen)
                or (tostring(u.host) .. ":" .. tostring(u.port))
            return format("%s %s %s x%d%s", tostring(u.name), where, bind_types[u.bind] or tostring(u.bind), u.binds,
                          u.tls and " TLS" or "")
        end))
    end
    local g = type(conf.gateway) == "table" and conf.gateway or nil
    if g then
        local routes = gateway_routes(g, conf_path, {})
        if type(routes) == "table" then
            add("routes", format("%d (match %s): ", #routes, g.match or "first") .. listing(routes, function(r, i)
                local keys = {}
                for _, k in ipairs(router.keys) do
                    local v = r[k]
                    if type(v) == "table" then v = table.concat(v, "/") end
                    if v and v ~= "" then keys[#keys + 1] = k .. " " .. tostring(v) end
                end
                return format("%s [%s] -> %s%s", tostring(r.name or ("route " .. i)),
                    #keys > 0 and table.concat(keys, ", ") or "any",
                    table.concat(list_of(r.to), ", "), #list_of(r.to) > 1 and " (" .. (r.strategy or "failover") .. ")" or "")
            end))
        end
        local mo = type(g.mo_routes) == "table" and g.mo_routes or {}
        if #mo > 0 then
            add("mo_routes", #mo .. ": " .. listing(mo, function(m)
                return format("%s%s -> %s", m.prefix and m.prefix ~= "" and m.prefix or "any",
                    m.upstream and (" from " .. m.upstream) or "", tostring(m.account))
            end))
        end
    end
    return lines
end

return M
