-- smpp.http -- the HTTP API and dashboard: /stats, /metrics (Prometheus),
-- /send, /messages (the store's messages and their traces), /reload, the
-- page at /, and routes scripts add.
-- Every request runs in a task of its own, so a slow one never holds up
-- SMPP traffic.
local core = require "smpp.core"
local cjson = require "cjson.safe"
local json_encode = require("smpp.json").encode   -- empty lists stay [] (cjson writes {})
local json_printable = require("smpp.json").printable
local smpp = require "smpp"
local metrics = require "smpp.metrics"
local text = require "smpp.text"
local store = require "smpp.store"
local messages = require "smpp.messages"
local address = require "smpp.address"
local config = require "smpp.config"

local M = {}

local routes = {}          -- { method, pattern, fn, own } in the order added
local staged               -- the routes of a script being loaded (script_routes_begin), or nil
local loading = true       -- the routes added while this file loads are the API's own
local send_fn              -- the running script's http_send, if any
local server               -- the running server's reload() and limits() (smpp.server gives them)
local accounts = {}        -- system_id -> the account (smpp.server.accounts), with its http section

-- What a request authorised by an account's own token may use: sending as
-- that account and reading its own messages.
local ACCOUNT_ROUTES = { ["POST /send"] = true, ["GET /messages/([^/]+)"] = true, ["GET /messages"] = true }

-- The most body each of the API's own routes takes (core/http_auth.c
-- refuses a larger one with 413 at the head, before reading any of it):
-- a message for /send -- 255 parts of text, every character written as
-- a JSON escape, fit -- and next to nothing where no body is read. Script
-- routes take up to http.max_body.
local NO_BODY = 1024
local ROUTE_BODIES = {
    ["POST /send"] = 262144, ["POST /reload"] = NO_BODY,
    ["GET /"] = NO_BODY, ["GET /stats"] = NO_BODY, ["GET /sessions"] = NO_BODY, ["GET /metrics"] = NO_BODY,
    ["GET /messages"] = NO_BODY, ["GET /messages/*"] = NO_BODY,
}

local function json(status, value)
    return status, "application/json", json_encode(value)
end
M.json = json

-- an error's text is always a JSON string, whatever octets it echoes
local error_text = require("smpp.json").text
local function err(status, msg) return json(status, { error = error_text(tostring(msg)) }) end
M.error = err

local function unescape(s)
    return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- decode_path(raw) -> the path percent-decoded | nil, why. Routes are
-- matched on it, so /x/%41 reaches a route for /x/A and captures come
-- decoded; "+" is itself in a path. An escape that is not % and two hex
-- digits, and a decoded NUL, are refused (400): no route would be found
-- for the one, and the other would end the text at a C string's end.
local function decode_path(raw)
    local bad = raw:match("%%%x?[^%x]") or raw:match("%%%x?$")
    if bad then return nil, "malformed percent escape in the path: " .. bad end
    local path = raw:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    if path:find("\0", 1, true) then return nil, "the path holds a NUL octet (%00)" end
    return path
end
M.decode_path = decode_path

-- "a=1&b=x%20y" -> { a = "1", b = "x y" }
local function decode_form(s)
    local t = {}
    for k, v in s:gmatch("([^&=]+)=?([^&]*)") do t[unescape(k)] = unescape(v) end
    return t
end

-- route(method, pattern, fn): fn(req) -> status, body (table: JSON; string)
-- [, content type]. pattern is a Lua pattern anchored on the whole path
-- (a leading ^ and a trailing $ are taken off, so "^/x$" is "/x"); its
-- captures are req.params. Scripts add routes with this (e.g. /inject).
-- What fn returns is checked before it is sent (core/http_head.c,
-- http_answer_check): a status that is not a whole number 200..599, a
-- body that is neither a string nor a table, or a content type that is
-- not a plain "type/subtype[; params]" of at most 255 printable characters
-- becomes a 500 with a JSON error and a log line naming the route.
function M.route(method, pattern, fn)
    if type(method) ~= "string" or type(pattern) ~= "string" or type(fn) ~= "function" then
        error("http.route(method, pattern, fn): a string, a string and a function", 2)
    end
    -- the runtime anchors the pattern on the whole path: an anchor the
    -- script wrote itself ("^/x$", as Lua patterns usually are) is taken
    -- off, not matched as a literal ^ or $ (a silent 404); "%$" stays
    local body = pattern:gsub("^%^", "")
    local dollars = body:match("(%%*)%$$")
    if dollars and #dollars % 2 == 0 then body = body:sub(1, -2) end
    local anchored = "^" .. body .. "$"
    for _, r in ipairs(routes) do
        -- the API's own paths are not a script's, whatever the method: a
        -- script's GET /stats replaced the API's (and outlived reloads)
        if r.own and not loading and r.pattern == anchored then
            error(string.format("http.route: %s is the API's own path (%s): give the route another path",
                pattern, r.name), 2)
        end
    end
    local list = not loading and staged or routes
    for _, r in ipairs(list) do
        if r.method == method and r.pattern == anchored then   -- the same route again
            r.fn, r.own = fn, loading
            return
        end
    end
    list[#list + 1] = { method = method, pattern = anchored, fn = fn, own = loading,
                        name = method .. " " .. pattern }
end

-- The routes of a script being loaded are staged, and replace the running
-- script's only when the load has worked: a script's route stayed after a
-- reload to a script that no longer has it (answering with the old
-- script's function, and keeping its heap alive), and one the new script
-- re-registered took the new function even when its load then failed.
-- script_routes_begin(): the routes added from now on are staged.
-- script_routes_end(ok): ok, the staged ones are the scripts' routes from
-- now on (the others are dropped); not ok, they are dropped. Routes a
-- script adds later (its start, a handler) are added at once. The
-- runtime's (smpp.server, around a script's load); not for scripts.
function M.script_routes_begin()
    staged = {}
end

function M.script_routes_end(ok)
    local new = staged
    staged = nil
    if not ok then return end
    local kept = {}
    for _, r in ipairs(routes) do
        if r.own then kept[#kept + 1] = r end
    end
    for _, r in ipairs(new) do kept[#kept + 1] = r end
    routes = kept
end

-- replace(method, pattern, fn): the runtime's own route there answers with
-- fn from now on (the workers' parent, which holds no sessions or
-- messages, answers 501); not for scripts (smpp.sandbox hides it).
function M.replace(method, pattern, fn)
    -- the runtime anchors the pattern on the whole path: an anchor the
    -- script wrote itself ("^/x$", as Lua patterns usually are) is taken
    -- off, not matched as a literal ^ or $ (a silent 404); "%$" stays
    local body = pattern:gsub("^%^", "")
    local dollars = body:match("(%%*)%$$")
    if dollars and #dollars % 2 == 0 then body = body:sub(1, -2) end
    local anchored = "^" .. body .. "$"
    for _, r in ipairs(routes) do
        if r.own and r.method == method and r.pattern == anchored then
            r.fn = fn
            return
        end
    end
    error("http.replace: no route " .. method .. " " .. pattern .. " of the API's own", 2)
end

-- -- Input ---------------------------------------------------------------------------

local CODINGS = { auto = true, gsm = true, ucs2 = true, latin1 = true, ascii = true }

-- check_message(d) -> d | nil, status, error: the one check of a message
-- given to the API (POST /send, and script routes such as /inject): `to`
-- and `text` present, `text` valid UTF-8, `coding` a known name ("auto" or
-- absent: chosen from the text), `from`, `system_id` and `callback_url`
-- of the right kind and size, no NUL in `to` or `from`. d.coding "auto" becomes nil. Scripts answer
-- `status, { error = error }` when it fails.
function M.check_message(d)
    if type(d) ~= "table" then return nil, 400, "send a JSON object or a form" end
    for _, k in ipairs { "to", "text" } do
        if d[k] == nil or d[k] == "" then return nil, 400, k .. " is missing" end
        if type(d[k]) ~= "string" then return nil, 400, k .. " must be a string, got " .. type(d[k]) end
    end
    if #d.to > 20 then return nil, 400, "to is longer than 20 characters" end
    if d.from ~= nil and (type(d.from) ~= "string" or #d.from > 20) then
        return nil, 400, "from must be a string of at most 20 characters"
    end
    -- addresses are C-Octet Strings on the wire: a NUL would end them
    if d.to:find("\0", 1, true) then return nil, 400, "to holds a NUL octet" end
    if d.from and d.from:find("\0", 1, true) then return nil, 400, "from holds a NUL octet" end
    if d.system_id ~= nil and (type(d.system_id) ~= "string" or #d.system_id > 15) then
        return nil, 400, "system_id must be a string of at most 15 characters"
    end
    if d.coding ~= nil and not CODINGS[d.coding] then
        return nil, 400, "coding must be auto, gsm, ucs2, latin1 or ascii, not " .. tostring(d.coding)
    end
    if d.coding == "auto" then d.coding = nil end
    local ok, why = text.codepoints(d.text)
    if not ok then return nil, 400, "text is not valid UTF-8 (" .. why .. ")" end
    if d.callback_url ~= nil then
        local host, why = M.parse_url(d.callback_url)
        if not host then return nil, 400, why end
    end
    return d
end

-- -- Sending as an account ------------------------------------------------------------

-- send_as(req, d) -> d, nil, nil, account | nil, status, error: which
-- account a checked message is sent as, and its limits. An account's own
-- token sends as that account (another system_id: 403); the admin token
-- (or no token at all, when the API has none) as d.system_id, except that
-- an account with a token of its own needs that token or the admin's
-- (401). Then, as for a bind of the account: the request's address in its
-- `networks` (403), `from` among its `sources` (403), one token of its
-- `throughput` bucket, shared with its SMPP sessions (429). d.system_id is
-- set to the account; without one (admin, no system_id) it stays nil.
function M.send_as(req, d)
    local name = d.system_id
    if req.account then
        if name and name ~= req.account then
            return nil, 403, "this token sends as " .. req.account .. ", not " .. name
        end
        name = req.account
    end
    if name == nil then return d end
    local a = accounts[name]
    if not a then return nil, 404, "no account named " .. name end
    if not req.account and not req.admin and a.http and a.http.token then
        return nil, 401, "sending as " .. name .. " needs its token (Authorization: Bearer ...)"
    end
    local security = require "smpp.security"
    if a.networks then
        local ok = false
        for _, net in ipairs(a.networks) do ok = ok or security.in_network(req.remote or "", net) end
        if not ok then return nil, 403, "address " .. tostring(req.remote) .. " is not in the networks of " .. name end
    end
    if a.sources and not security.source_allowed(a.sources, d.from or "") then
        return nil, 403, "from '" .. tostring(d.from or "") .. "' is not among the sources of " .. name
    end
    if (a.throughput or 0) > 0 and not core.throttle_take("account:" .. name, a.throughput, a.burst or 0) then
        return nil, 429, "throttled: " .. name .. " may send " .. a.throughput .. " messages a second"
    end
    d.system_id = name
    return d, nil, nil, a
end

-- set_accounts(list): the accounts in force (smpp.server.accounts of the
-- configuration's list, by system_id; again after a reload): their HTTP
-- tokens open /send as that account (core/http_auth.c tells which account
-- a request's token is), their webhooks take their receipts and MO.
function M.set_accounts(by_id)
    accounts = by_id or {}
    local ids = {}
    for id, a in pairs(accounts) do
        if a.http and a.http.token then ids[#ids + 1] = id end
    end
    table.sort(ids)
    local tokens = {}
    for i, id in ipairs(ids) do tokens[i] = accounts[id].http.token end
    core.http_tokens(tokens, ids)
end

-- may_read(req, name) -> true | nil, status, why: the messages of account
-- `name` are read with its token or the admin token whenever it has a
-- token of its own, whether or not the API has an admin token (sending as
-- it needs the same); an account's token reads no other account's.
local function may_read(req, name)
    if req.admin then return true end
    if req.account then
        if req.account == name then return true end
        return nil, 403, "this token reads the messages of " .. req.account .. " only"
    end
    local a = accounts[name]
    if a and a.http and a.http.token then
        return nil, 401, "the messages of " .. name .. " need its token (Authorization: Bearer ...)"
    end
    return true
end

-- -- Built-in routes ---------------------------------------------------------------

local dashboard_html
local function dashboard()
    if not dashboard_html then               -- lua/smpp/dashboard.html, found like a module
        for p in package.path:gmatch("[^;]+") do
            local f = io.open((p:gsub("%?", "smpp/dashboard"):gsub("%.lua$", ".html")))
            if f then
                dashboard_html = f:read("*a")
                f:close()
                break
            end
        end
    end
    if not dashboard_html then return 500, { error = "dashboard.html not found" } end
    return 200, dashboard_html, "text/html; charset=utf-8"
end

local PAGE_MAX = 1000

-- sessions_page(query) -> { total =, offset =, limit =, sessions = {...} }
-- or nil, message: one page of the live sessions' statistics, newest
-- first (offset, limit: at most 1000, default 100), or the bound sessions
-- of one account (system_id). Costs the page, not the number of sessions.
function M.sessions_page(q)
    local offset, limit = tonumber(q.offset or 0), tonumber(q.limit or 100)
    if not offset or offset < 0 or offset % 1 ~= 0 then return nil, "offset must be a whole number >= 0" end
    if not limit or limit < 0 or limit > PAGE_MAX or limit % 1 ~= 0 then
        return nil, "limit must be a whole number 0.." .. PAGE_MAX
    end
    local page, total
    if q.system_id then
        local all = core.bound_sessions(q.system_id)
        page, total = {}, #all
        for i = offset + 1, math.min(offset + limit, total) do page[#page + 1] = core.session_stats(all[i]) end
    else
        page, total = core.sessions_page(offset, limit)
    end
    return { total = total, offset = offset, limit = limit, sessions = page }
end

-- stats([query]) -> the statistics as one table: totals (with sessions
-- open by side and state), accounts (bound sessions by bind type, outbox,
-- deliveries), the outbox deliverers, the store, upstream links, gateway,
-- bind checks (security), script gauges, limits; sessions only when query.sessions is "1" (a page,
-- see sessions_page). Built from counters the C side keeps: its cost does
-- not grow with the number of sessions.
function M.stats(q)
    local out = { totals = core.stats(), accounts = core.accounts(), outbox = core.outbox_stats(),
                  store = core.store_stats() }
    if q and q.sessions == "1" then
        local page, why = M.sessions_page(q)
        if not page then return nil, why end
        out.sessions, out.sessions_total = page.sessions, page.total
    end
    local ok, upstream = pcall(require, "smpp.upstream")
    if ok then out.upstreams = upstream.stats() end
    if package.loaded["smpp.gateway"] then out.gateway = package.loaded["smpp.gateway"].stats() end
    if package.loaded["smpp.security"] then out.security = package.loaded["smpp.security"].stats() end
    if package.loaded["smpp.cluster"] then out.cluster = package.loaded["smpp.cluster"].stats() end
    -- the store in Redis: its levels as its expiry timer last read them
    -- (each second) and the link's state; /stats never waits for Redis
    local rs = package.loaded["smpp.server"] and package.loaded["smpp.server"].redis_store
    if rs then out.store_redis = rs:levels() end
    local hooks = package.loaded["smpp.webhook"] and package.loaded["smpp.webhook"].stats()
    if hooks and next(hooks) then out.webhooks = hooks end
    out.gauges = require("smpp.session").gauge_values()
    out.limits = server and server.limits() or {}
    out.now_ms = core.now()
    return out
end

M.route("GET", "/", function() return dashboard() end)
M.route("GET", "/stats", function(req)
    local s, why = M.stats(req.query)
    if not s then return 400, { error = why } end
    return 200, s
end)
M.route("GET", "/sessions", function(req)
    local page, why = M.sessions_page(req.query)
    if not page then return 400, { error = why } end
    return 200, page
end)
M.route("GET", "/metrics", function()
    return 200, metrics.render(M.stats()), "text/plain; version=0.0.4"
end)
M.route("POST", "/reload", function()
    local ok, why, status = server.reload()
    if ok then return 200, { reloaded = true, restart_needed = why } end   -- (a list, when there is one)
    return status or 422, { reloaded = false, error = why }      -- 504: workers that did not answer (smpp.workers)
end)
M.route("POST", "/send", function(req)
    local d, status, why = M.check_message(req.data)
    if not d then return status, { error = why } end
    d, status, why = M.send_as(req, d)
    if not d then return status, { error = why } end
    if not send_fn then return 501, { error = "this configuration's script has no http_send handler" } end
    core.heap_reserve(false)                              -- the script's code from here on
    return send_fn(d, req)
end)
-- "Where is my message?": one message and its trace, or a list by
-- account, state and time (smpp.messages).
-- With the store in Redis a gateway's messages are records of their own
-- (smpp.cluster.message): one is read where it is, on any node; lists of
-- them are refused (messages.gateway_in_redis).
local function gateway_records()
    local c = package.loaded["smpp.cluster"]
    return c and c.stores_messages() and c.message or nil
end

M.route("GET", "/messages/([^/]+)", function(req)
    -- percent-decoded ("+" is itself in a path): an upstream's id may hold a space, "/" or any octet
    local mid = req.params[1]
    local m, err = messages.find(store.current(), mid, gateway_records())
    if err then return 503, { error = err } end
    if not m or not may_read(req, m.account) then
        -- the id as text: octets that are not printable shown as \xNN, so the
        -- error stays a string (JSON writes other bytes as {"hex": ...})
        local shown = json_printable(mid) and mid
            or mid:gsub("[^\32-\126]", function(c) return string.format("\\x%02X", c:byte()) end)
        return 404, { error = "no message " .. shown .. " in the store" }
    end
    return 200, m
end)
-- Matched on the path decoded but for %2F and %25, its capture then decoded:
-- an id may hold "/", sent as %2F, which the decoded path would split (the
-- one route matched so; every other, the API's and the scripts', on the
-- decoded path).
routes[#routes].raw = true
-- Lists of messages being made at once. A list is made in chunks with a
-- pause between them, so lists made at once each hold what they have made
-- so far: 256 clients asking for 10,000 messages each filled the heap's
-- reserve and ended the process. Past http.max_lists the answer is 503
-- (with Retry-After), and a list stops with 503 when the Lua heap is past
-- its ceiling (scripts.memory_mb) as it goes on: the runtime's reserve
-- above the ceiling is for answering, not for lists.
local lists_max = config.schema.fields.http.fields.max_lists.default
local listing = setmetatable({}, { __mode = "k" })    -- the task's coroutine -> true while it makes a list
local SHORT = "the Lua heap is past its ceiling (scripts.memory_mb): the list was not made; try again in a moment"

local function lists_in_progress()
    local n = 0
    for co in pairs(listing) do
        -- a task that raised (its run stopped) is dead: its list is over
        if coroutine.status(co) == "dead" then listing[co] = nil else n = n + 1 end
    end
    return n
end

local function heap_short()
    local h = core.heap()
    return h.hard and h.limit > 0 and h.used > h.limit
end

local function list_messages(st, req)
    -- in chunks with a pause between them: a long list never holds the
    -- loop; each view written out as JSON as it is made (none is kept)
    local parts, n = {}, 0
    local out, why = messages.list(st, req.query, smpp.time(), 120, function()
        smpp.sleep(0)
        if heap_short() then return nil, SHORT end
    end, function(v)
        n = n + 1
        parts[n] = json_encode(v)
    end)
    if not out then
        return (why:find("^the store cannot answer") or why == SHORT) and 503 or 400, { error = why }
    end
    return 200, '{"messages":[' .. table.concat(parts, ",") .. '],"count":' .. out.count
        .. (out.next and ',"next":' .. string.format("%d", out.next) or "") .. "}", "application/json"
end

M.route("GET", "/messages", function(req)
    if server and messages.gateway_in_redis(server.conf or {}) then return 400, { error = messages.NO_LISTS } end
    local st = store.current()
    if not st then return 404, { error = "no store in use" } end
    if req.account and not req.query.account then req.query.account = req.account end
    local ok, status, why0 = may_read(req, req.query.account)
    if not ok then return status, { error = why0 } end
    if lists_in_progress() >= lists_max then
        return 503, { error = "busy: " .. lists_max .. " lists of messages are being made (http.max_lists); "
            .. "try again in a moment" }
    end
    if heap_short() then return 503, { error = SHORT } end
    local co = coroutine.running()
    listing[co] = true
    local done, a, b, c = pcall(list_messages, st, req)
    listing[co] = nil
    if not done then error(a, 0) end
    return a, b, c
end)

-- -- Dispatch -------------------------------------------------------------------------

-- The runtime's own code (core.heap_reserve): a script's route runs as
-- script code.
local handle = core.heap_reserve(function(method, url, body, content_type, _, remote, role, account)
    local raw_path, query = url:match("^([^?]*)%??(.*)$")
    local path, kept = raw_path, raw_path
    if raw_path:find("%", 1, true) then
        local bad
        path, bad = decode_path(raw_path)
        if not path then return err(400, bad) end
        -- for GET /messages/ID: decoded but for %2F and %25 (a "/" and a "%" of the id)
        kept = raw_path:gsub("%%(%x%x)", function(h)
            local c = tonumber(h, 16)
            if c == 0x2F or c == 0x25 then return "%" .. h end
            return string.char(c)
        end)
    end
    local q = decode_form(query or "")
    -- who the request is was decided once, from its one credential, when
    -- its head arrived (core/http_auth.c; a wrong token never gets here):
    -- the admin token, an account's (which opens that account's routes
    -- only), or none where none is needed
    local admin = role == "admin"
    account = role == "account" and account ~= "" and account or nil
    local req = { method = method, path = path, raw_path = raw_path, query = q, body = body,
                  content_type = content_type, remote = remote, account = account, admin = admin }
    if body ~= "" then
        -- the media type exactly (case aside), then nothing or its parameters:
        -- application/jsonx is not JSON
        local media = content_type:match("^%s*([^;%s]*)"):lower()
        if media == "application/json" then
            local v, jerr = cjson.decode(body)
            if v == nil then return err(400, "invalid JSON: " .. tostring(jerr)) end
            req.data = v
        elseif media == "application/x-www-form-urlencoded" then
            req.data = decode_form(body)
        else
            return err(415, "send application/json or application/x-www-form-urlencoded")
        end
    end
    local allowed = {}
    for _, r in ipairs(routes) do
        local caps = { (r.raw and kept or path):match(r.pattern) }
        if r.raw and caps[1] ~= nil then
            for i, c in ipairs(caps) do
                if type(c) == "string" then caps[i] = decode_path(c) end   -- the whole path decoded: no refusal
            end
        end
        if caps[1] ~= nil then
            if r.method == method then
                if account and not ACCOUNT_ROUTES[r.name] then
                    return err(403, "an account's token may use POST /send and GET /messages only")
                end
                req.params = caps
                -- the API's own routes may use the heap's reserve: /stats
                -- answers even when a script filled the heap to its ceiling
                if not r.own then core.heap_reserve(false) end
                -- the route's name goes with the answer: core/rt_http.c
                -- names it in the log when the answer is not fit to send
                local status, out, ctype = r.fn(req)
                if type(out) == "table" and type(out.error) == "string" and type(status) == "number"
                    and status >= 400 then
                    out.error = error_text(out.error)      -- {"error": "<string>"}, never {"hex": ...}
                end
                if type(out) == "table" then
                    local ok, body = pcall(json_encode, out)
                    if not ok then
                        smpp.log("error", "HTTP route %s: answer refused: its table is not JSON: %s", r.name,
                            tostring(body))
                        local _, ct, b = err(500, "internal error: the route's answer is invalid (see the log)")
                        return 500, ct, b, r.name
                    end
                    return status, "application/json", body, r.name
                end
                return status, ctype or "text/plain; charset=utf-8", out, r.name
            end
            if not allowed[r.method] then                  -- each method once: "use GET", not "use GET, GET"
                allowed[r.method] = true
                allowed[#allowed + 1] = r.method
            end
        end
    end
    if #allowed > 0 then return err(405, method .. " not allowed here (use " .. table.concat(allowed, ", ") .. ")") end
    return err(404, "no such path: " .. path)
end)

-- parse_url(url [, networks]) -> host, port, path | nil, why: a callback
-- URL, http://HOST[:PORT][/PATH] with HOST an IPv4 address, [IPv6] or
-- localhost, PORT 1..65535 (default 80), PATH printable ASCII without
-- spaces; at most 2048 characters. Nothing in it can end a header line of
-- the request (core/http_client.c refuses such a path too). HOST must be
-- where callbacks may go: among `networks` when given (a configuration
-- being checked), else among http.callback_networks in force (by default
-- any address but link-local and 0.0.0.0/8; core/http_nets.c, which
-- checks again the address it connects to).
function M.parse_url(url, networks)
    local bad = "callback_url must be http://ADDRESS[:PORT]/PATH (an IP address or localhost, "
        .. "printable characters, no spaces, at most 2048)"
    if type(url) ~= "string" or #url > 2048 then return nil, bad end
    local authority, path = url:match("^http://([^/]*)(.*)$")
    if not authority then return nil, bad end
    local host, port = address.parse(authority, 80)
    if not (host and (host:find(":", 1, true) or host:match("^%d+%.%d+%.%d+%.%d+$") or host == "localhost")) then
        return nil, bad
    end
    if path == "" then path = "/" end
    if port < 1 or path:find("[%z\1-\32\127-\255]") then return nil, bad end
    if not core.http_callback_allowed(host, networks) then
        return nil, "callback_url: " .. host .. " is not among http.callback_networks (by default any address "
            .. "but link-local, 169.254.0.0/16 and fe80::/10, and 0.0.0.0/8)"
    end
    return host, port, path
end

-- post(url, value) -> HTTP status | nil, err: POST value as JSON to an
-- http://host:port/path URL (callbacks). Waits, so call it from a task.
function M.post(url, value)
    local host, port, path = M.parse_url(url)
    if not host then return nil, port end
    return core.http_post(host, port, path, "application/json", json_encode(value))
end

-- start(http_conf, handlers, srv) -> bound port | nil, err: listen with the
-- section's token and limits over the schema's defaults (core/http.c
-- enforces them); handlers.http_send serves /send; srv.reload() serves
-- /reload and srv.limits() the limits of /stats.
function M.start(conf, handlers, srv)
    server = srv
    send_fn = handlers and handlers.http_send
    local o = config.with_defaults("http", conf)
    lists_max = o.max_lists
    local host, port = address.parse(conf.listen)
    core.http_route_bodies(ROUTE_BODIES)
    local bound, e = core.http_listen(host, port, handle, o)
    if not bound then smpp.log("error", "%s", e) end
    return bound, e
end

-- callback_networks(list | nil) -> true | nil, why: where callbacks and
-- webhooks may go (http.callback_networks; nil: the default rule).
function M.callback_networks(list) return core.http_callback_networks(list) end

-- set_send(fn): the /send handler of a reloaded script.
function M.set_send(fn) send_fn = fn end

loading = false
return M
