-- smpp.router -- routing tables: which upstream (or group of upstreams) a
-- message goes to, matched on destination prefix, source address, the
-- ESME's system_id, service_type, a Lua pattern on the destination, the
-- decoded text (contains, text_pattern) and a time window (days, hours).
-- A router never writes into its routes: what routing learns (round robin
-- turns, failover sets, stuck parts) is kept by its users, by route name.
local cjson = require "cjson.safe"
local config = require "smpp.config"
local text = require "smpp.text"

local floor, format, lower = math.floor, string.format, string.lower

local M = {}

local DAYS = { "mon", "tue", "wed", "thu", "fri", "sat", "sun" }

local route_fields = {
    name = { type = "string" },
    prefix = { type = "string", doc = "destination_addr starts with" },
    source = { type = "string", doc = "source_addr starts with" },
    system_id = { type = "string", doc = "the ESME's account" },
    service_type = { type = "string" },
    pattern = { type = "string", doc = "Lua pattern on destination_addr" },
    contains = { type = "list", of = { type = "string" },
                 doc = "the decoded text holds one of these (any case; a string or a list)" },
    text_pattern = { type = "string", doc = "Lua pattern on the decoded text (the bounded matcher)" },
    days = { type = "list", of = { type = "enum", values = DAYS }, doc = "weekdays, in the router's time zone" },
    hours = { type = "string", doc = "HH:MM-HH:MM, in the router's time zone (may wrap midnight)" },
    to = { type = "list", of = { type = "string" }, doc = "upstream names" },
    strategy = { type = "enum", values = { "failover", "round_robin", "weighted", "least_outstanding" } },
    weights = { type = "list", of = { type = "number", min = 0 } },
    failover_on = { type = "list", of = { type = "string" }, doc = "statuses that move on to the next link" },
    rate = { type = "number", min = 0, doc = "messages per second on this route" },
    burst = { type = "number", min = 0 },
    status = { type = "string", doc = "status when the route's rate is exceeded (default ESME_RTHROTTLED)" },
}
M.route_fields = route_fields

-- The keys a route matches on, in the order they are tried (and explained).
M.keys = { "prefix", "source", "system_id", "service_type", "pattern", "contains", "text_pattern",
           "days", "hours" }

-- -- Time windows ----------------------------------------------------------------------

-- time_zone(s) -> offset in seconds | nil, why. "UTC" (or "Z"), or a fixed
-- offset "+HH:MM" / "-HH:MM". No daylight saving: a zone that has one
-- needs its offset changed (a reload) twice a year.
function M.time_zone(s)
    if s == nil or s == "UTC" or s == "Z" then return 0 end
    local sign, h, m = tostring(s):match("^([+-])(%d%d):?(%d%d)$")
    h, m = tonumber(h), tonumber(m)
    if not sign or h > 14 or m > 59 then
        return nil, format("%q is not a time zone (UTC, or an offset like +02:00)", tostring(s))
    end
    return (sign == "-" and -1 or 1) * (h * 3600 + m * 60)
end

-- hours(s) -> first minute, end minute (of the day) | nil, why.
function M.hours(s)
    local h1, m1, h2, m2 = tostring(s):match("^(%d%d?):(%d%d)%-(%d%d?):(%d%d)$")
    if not h1 then return nil, format("%q is not HH:MM-HH:MM", tostring(s)) end
    local a, b = tonumber(h1) * 60 + tonumber(m1), tonumber(h2) * 60 + tonumber(m2)
    if tonumber(m1) > 59 or tonumber(m2) > 59 or a > 24 * 60 or b > 24 * 60 then
        return nil, format("%q: no such time of day", s)
    end
    if a == b then return nil, format("%q is an empty window", s) end
    return a, b
end

-- The weekday ("mon".."sun") and minute of the day of `now` (seconds since
-- the epoch) at `offset` seconds from UTC. 1970-01-01 was a Thursday.
local function local_time(now, offset)
    local t = floor(now) + offset
    local day = floor(t / 86400)
    return DAYS[(day + 3) % 7 + 1], floor((t - day * 86400) / 60)
end
M.local_time = local_time

-- -- A route's keys ---------------------------------------------------------------------

-- check_keys(r, path) -> list of "path.key: why" for what the schema cannot
-- see (patterns are smpp.config_check's; hours, contains' form).
function M.check_keys(r, path)
    local errs = {}
    if r.hours ~= nil and type(r.hours) == "string" then
        local ok, why = M.hours(r.hours)
        if not ok then errs[#errs + 1] = format("%s.hours: %s", path, why) end
    end
    if type(r.contains) == "table" then
        if next(r.contains) == nil then
            errs[#errs + 1] = format("%s.contains: an empty list (the route would never match)", path)
        end
        for j, c in ipairs(r.contains) do
            if c == "" then errs[#errs + 1] = format("%s.contains[%d]: empty (it would match every text)", path, j) end
        end
    end
    return errs
end

-- A route's name: its own, or "route N" (N: its place in the table).
function M.name_of(r, i) return type(r.name) == "string" and r.name or ("route " .. i) end

-- duplicates(routes, where) -> list of errors: a name given twice (the
-- second is named). What routing learns is kept by route name, and the
-- metrics count by it: two routes of one name would share both.
function M.duplicates(routes, where)
    local seen, errs = {}, {}
    for i, r in ipairs(routes) do
        if type(r) == "table" then
            local name = M.name_of(r, i)
            if seen[name] then
                errs[#errs + 1] = format("%s[%d].name: %q is also %s[%d]'s name (each route needs its own)", where, i,
                    name, where, seen[name])
            else
                seen[name] = i
            end
        end
    end
    return errs
end

-- The route as the router keeps it: a copy with `to` and `contains` as
-- lists, the window parsed, the text keys lowered (never the caller's table).
local function prepare(r, i)
    local copy = {}
    for k, v in pairs(r) do copy[k] = v end
    if type(copy.to) == "string" then copy.to = { copy.to } end
    if type(copy.contains) == "string" then copy.contains = { copy.contains } end
    local path = format("routes[%d]", i)
    local ok, err = config.check_section(copy, route_fields, path)
    if not ok then return nil, err end
    if not copy.to or #copy.to == 0 then return nil, path .. ".to: missing" end
    local errs = M.check_keys(copy, path)
    if #errs > 0 then return nil, errs[1] end
    copy.name = M.name_of(copy, i)
    copy.strategy = copy.strategy or "failover"
    local keys = {}                         -- what match reads: never the route's own fields
    if copy.hours then keys.from_min, keys.to_min = M.hours(copy.hours) end
    if copy.days then
        keys.days = {}
        for _, d in ipairs(copy.days) do keys.days[d] = true end
    end
    if copy.contains then
        keys.contains = {}
        for j, c in ipairs(copy.contains) do keys.contains[j] = lower(c) end
    end
    -- plain: the route reads nothing of match's context (no pattern, text
    -- or time key), so a table of plain routes matches without making one
    keys.plain = not (copy.pattern or copy.contains or copy.text_pattern or copy.days or copy.hours)
    return copy, keys
end

local Router = {}
Router.__index = Router

-- The message's text, decoded once per message (nil when it has none:
-- binary data, an unknown data_coding).
local function text_of(ctx, pdu)
    if ctx.text == nil then
        local t = text.of_pdu(pdu, ctx.alphabet)
        ctx.text = t or false
        ctx.lower = t and lower(t) or false
    end
    return ctx.text or nil
end

-- The steps one pattern key may take on one message: a pattern that reads
-- its subject once takes about one or two per octet (a 64 kB text in well
-- under this), one that backtracks (".-" or ".*" followed by more) takes
-- up to the square of the length. Past it (about 2 ms) the key does not
-- match: the route is counted (router.gave_up[name]), the router's
-- on_give_up is told, and routing goes on to the next route.
M.PATTERN_STEPS = 250000

-- A key whose pattern ran out of steps: count it, tell, explain.
local function gave_up(ctx, r, key)
    local gu = ctx.router.gave_up
    gu[r.name] = (gu[r.name] or 0) + 1
    if ctx.router.on_give_up then ctx.router.on_give_up(r, key) end
    return format("the %s gave up after %d steps (a pattern that backtracks): the route does not match",
                  key, M.PATTERN_STEPS)
end

-- Does route r (with its prepared keys k) match this message from this
-- ESME session? -> true | false, the key that failed and why (the why
-- only when ctx.explain: dry runs pay for the words, messages do not).
-- ctx is nil only for a plain route (k.plain) matched without explaining.
local function matches(r, k, pdu, session, ctx)
    local dest = pdu.destination_addr or ""
    local ex = ctx and ctx.explain
    local prefix = r.prefix
    if prefix and prefix ~= "" and dest:sub(1, #prefix) ~= prefix then
        return false, "prefix", ex and format("destination %q does not start with %q", dest, prefix)
    end
    if r.source and (pdu.source_addr or ""):sub(1, #r.source) ~= r.source then
        return false, "source", ex and format("source %q does not start with %q", pdu.source_addr or "", r.source)
    end
    if r.system_id and (session and session.system_id) ~= r.system_id then
        return false, "system_id", ex and format("system_id %q is not %q", tostring(session and session.system_id), r.system_id)
    end
    if r.service_type and (pdu.service_type or "") ~= r.service_type then
        return false, "service_type", ex and format("service_type %q is not %q", pdu.service_type or "", r.service_type)
    end
    if r.pattern then
        local hit = ctx.find(dest, r.pattern)
        if hit == false then return false, "pattern", gave_up(ctx, r, "pattern") end
        if not hit then
            return false, "pattern", ex and format("destination %q does not match %q", dest, r.pattern)
        end
    end
    if k.contains then
        local t = text_of(ctx, pdu)
        local hit = false
        if t then
            for _, c in ipairs(k.contains) do
                if ctx.lower:find(c, 1, true) then hit = true break end
            end
        end
        if not hit then
            return false, "contains", ex and (t and format("the text holds none of %s", table.concat(r.contains, ", "))
                                               or "the message has no text")
        end
    end
    if r.text_pattern then
        local t = text_of(ctx, pdu)
        local hit = t and ctx.find(t, r.text_pattern)
        if hit == false then return false, "text_pattern", gave_up(ctx, r, "text_pattern") end
        if not hit then
            return false, "text_pattern", ex and (t and format("the text does not match %q", r.text_pattern)
                                                   or "the message has no text")
        end
    end
    if k.days or k.from_min then
        local day, minute = local_time(ctx.now, ctx.offset)
        if k.days and not k.days[day] then
            return false, "days", ex and format("%s is not one of %s", day, table.concat(r.days, ", "))
        end
        if k.from_min then
            local a, b = k.from_min, k.to_min
            local inside = (a < b and minute >= a and minute < b) or (a > b and (minute >= a or minute < b))
            if not inside then
                return false, "hours", ex and format("%02d:%02d is outside %s", floor(minute / 60), minute % 60, r.hours)
            end
        end
    end
    return true
end

-- The routes tried one after the other without a loop, for tables of up
-- to UNROLL routes: a function-entry trace that meets a loop aborts
-- ("inner loop in root trace"), and after a few aborts LuaJIT stops
-- trying, so a loop here kept the gateway's handler, which calls match
-- for every message, in the interpreter. The same calls to matches in
-- the same order as the loop in Router:match (every route for
-- "longest": a key that gives up is counted whichever route wins).
M.UNROLL = 64

local function unroll(routes, keys, mode)
    local n = #routes
    if n == 0 or n > M.UNROLL then return nil end
    local src = { "local matches, routes, keys = ...\nreturn function(pdu, session, ctx)\n" }
    if mode == "first" then
        for i = 1, n do
            src[#src + 1] = format("if matches(routes[%d], keys[%d], pdu, session, ctx) then return routes[%d] end\n",
                                   i, i, i)
        end
        src[#src + 1] = "return nil\nend\n"
    else
        src[#src + 1] = "local best, best_len = nil, -1\n"
        for i = 1, n do
            local r = routes[i]
            src[#src + 1] = format("if matches(routes[%d], keys[%d], pdu, session, ctx) and %d > best_len then "
                .. "best, best_len = routes[%d], %d end\n", i, i, r.prefix and #r.prefix or 0, i,
                r.prefix and #r.prefix or 0)
        end
        src[#src + 1] = "return best\nend\n"
    end
    local chunk = assert(loadstring(table.concat(src), "=router"))
    return chunk(matches, routes, keys)
end

-- new{routes = {...}, match = "first" | "longest", time_zone = "UTC" |
-- "+HH:MM", find_steps = f, on_give_up = f} -> router | nil, err. `to`
-- may be a single name (a string) or a list; `strategy` applies to a list
-- (default failover). Patterns go through find_steps(s, p, steps) (the
-- bounded matcher core.lstring.find_steps: false when it gives up after
-- PATTERN_STEPS), the same in the gateway and in a dry run; without it,
-- string.find. on_give_up(route, key) is called when a key gives up.
function M.new(opts)
    local routes, keys = {}, {}
    for i, r in ipairs(opts.routes or {}) do
        if type(r) ~= "table" then return nil, format("routes[%d]: expected a table, got %s", i, type(r)) end
        local copy, k = prepare(r, i)
        if not copy then return nil, k end
        routes[i], keys[i] = copy, k
    end
    local dup = M.duplicates(routes, "routes")[1]
    if dup then return nil, dup end
    if opts.match and opts.match ~= "first" and opts.match ~= "longest" then
        return nil, "match must be first or longest, got " .. tostring(opts.match)
    end
    local offset, why = M.time_zone(opts.time_zone)
    if not offset then return nil, "time_zone: " .. why end
    local fs, find = opts.find_steps, string.find
    if fs then find = function(s, p) return fs(s, p, M.PATTERN_STEPS) end end
    local plain = true
    for _, k in ipairs(keys) do plain = plain and k.plain end
    -- plain: no route reads match's options (opts.now, opts.alphabet), and
    -- match makes no context for a message
    local mode = opts.match or "first"
    return setmetatable({ routes = routes, keys = keys, mode = mode, offset = offset,
                          time_zone = opts.time_zone or "UTC", find = find, gave_up = {},
                          on_give_up = opts.on_give_up, plain = plain,
                          unrolled = unroll(routes, keys, mode) }, Router)
end

local function context(self, opts)
    opts = opts or {}
    return { now = opts.now or os.time(), offset = self.offset, find = self.find, alphabet = opts.alphabet,
             explain = opts.explain, router = self }
end

-- router:match(pdu, session [, opts]) -> route | nil. "first": the first
-- route that matches; "longest": the matching route with the longest
-- prefix (routes without a prefix count as length 0; ties go to the
-- earlier route). opts.now: the time windows' clock (seconds since the
-- epoch, default now); opts.alphabet: what data_coding 0 means for the
-- text keys (the account's default_alphabet, "gsm" by default).
function Router:match(pdu, session, opts)
    local ctx = not self.plain and context(self, opts) or nil
    if self.unrolled then return self.unrolled(pdu, session, ctx) end
    local best, best_len = nil, -1
    for i, r in ipairs(self.routes) do
        if matches(r, self.keys[i], pdu, session, ctx) then
            if self.mode == "first" then return r end
            local len = r.prefix and #r.prefix or 0
            if len > best_len then best, best_len = r, len end
        end
    end
    return best
end

-- router:explain(pdu, session [, opts]) -> route | nil, steps: what match
-- decides and why; steps = { {route = name, matched = bool, key =, why =} }
-- for every route looked at ("first" stops at the first match).
function Router:explain(pdu, session, opts)
    local ctx = context(self, opts)
    ctx.explain = true
    local steps, best, best_len = {}, nil, -1
    for i, r in ipairs(self.routes) do
        local ok, key, why = matches(r, self.keys[i], pdu, session, ctx)
        steps[#steps + 1] = { route = r.name, matched = ok, key = key, why = why }
        if ok then
            if self.mode == "first" then return r, steps end
            local len = r.prefix and #r.prefix or 0
            if len > best_len then best, best_len = r, len end
        end
    end
    return best, steps
end

-- router:text(pdu [, alphabet]) -> the text the text keys read (nil: none).
function Router:text(pdu, alphabet)
    return text_of({ alphabet = alphabet }, pdu)
end

-- load_json(path) -> routes | nil, err: a JSON file holding an array of
-- routes (the same fields), for routing tables kept outside the config.
-- Anything else names the file: an object (`{"routes": [...]}` is the
-- likely mistake, and cjson reads `{}` as it reads `[]`), and an empty
-- array, which would refuse every message (no route matches anything).
function M.load_json(path)
    local f, err = io.open(path)
    if not f then return nil, err end
    local text = f:read("*a")
    f:close()
    local routes, jerr = cjson.decode(text)
    if routes == nil then return nil, path .. ": " .. tostring(jerr) end
    local first = text:match("^%s*(.)")
    if type(routes) ~= "table" or first ~= "[" then
        return nil, format("%s: expected a JSON array of routes, got %s", path,
            type(routes) == "table" and "an object" or "a " .. type(routes))
    end
    if #routes == 0 then
        return nil, path .. ": no routes (an empty array): every message would be refused with gateway.no_route_status"
    end
    return routes
end

return M
