-- smpp.http -- the HTTP API and dashboard: /stats, /metrics (Prometheus),
-- /send, /messages/ID, /reload, the page at /, and routes scripts add.
-- Every request runs in a task of its own, so a slow one never holds up
-- SMPP traffic.
local core = require "smpp.core"
local cjson = require "cjson.safe"
local json_encode = require("smpp.json").encode   -- empty lists stay [] (cjson writes {})
local smpp = require "smpp"
local metrics = require "smpp.metrics"

local M = {}

local routes = {}          -- { method, pattern, fn } in the order added
local token                -- required bearer token, or nil
local send_fn              -- the running script's http_send, if any
local server               -- the running server's reload() and limits() (smpp.server gives them)
local messages = {}        -- message_id -> record of messages sent through /send
local message_order, message_first = {}, 1
local MAX_MESSAGES = 100000

local function json(status, value)
    return status, "application/json", json_encode(value)
end
M.json = json

local function err(status, msg) return json(status, { error = msg }) end
M.error = err

local function unescape(s)
    return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- "a=1&b=x%20y" -> { a = "1", b = "x y" }
local function decode_form(s)
    local t = {}
    for k, v in s:gmatch("([^&=]+)=?([^&]*)") do t[unescape(k)] = unescape(v) end
    return t
end

-- route(method, pattern, fn): fn(req) -> status, body (table: JSON; string)
-- [, content type]. pattern is a Lua pattern anchored on the path; its
-- captures are req.params. Scripts add routes with this (e.g. /inject).
function M.route(method, pattern, fn)
    local anchored = "^" .. pattern .. "$"
    for _, r in ipairs(routes) do
        if r.method == method and r.pattern == anchored then   -- a reloaded script's route
            r.fn = fn
            return
        end
    end
    routes[#routes + 1] = { method = method, pattern = anchored, fn = fn }
end

-- Remember a message sent through /send, for GET /messages/ID.
function M.remember(id, record)
    if not messages[id] then
        message_order[#message_order + 1] = id
        if #message_order - message_first + 1 > MAX_MESSAGES then
            messages[message_order[message_first]] = nil
            message_order[message_first] = nil
            message_first = message_first + 1
        end
    end
    messages[id] = record
end

function M.message(id) return messages[id] end

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

-- The statistics as one table: totals, sessions, upstream links, gateway,
-- script gauges, limits.
function M.stats()
    local out = { totals = core.stats(), sessions = {} }
    for _, s in ipairs(core.sessions()) do
        local st = core.session_stats(s)
        if st then out.sessions[#out.sessions + 1] = st end
    end
    local ok, upstream = pcall(require, "smpp.upstream")
    if ok then out.upstreams = upstream.stats() end
    if package.loaded["smpp.gateway"] then out.gateway = package.loaded["smpp.gateway"].stats end
    out.gauges = require("smpp.session").gauge_values()
    out.store = core.store_stats()
    out.limits = server and server.limits() or {}
    out.now_ms = core.now()
    return out
end

M.route("GET", "/", function() return dashboard() end)
M.route("GET", "/stats", function() return 200, M.stats() end)
M.route("GET", "/metrics", function()
    return 200, metrics.render(M.stats()), "text/plain; version=0.0.4"
end)
M.route("POST", "/reload", function()
    local ok, why = server.reload()
    if ok then return 200, { reloaded = true } end
    return 422, { reloaded = false, error = why }
end)
M.route("POST", "/send", function(req)
    local d = req.data
    if type(d) ~= "table" then return 400, { error = "send a JSON object or a form" } end
    for _, k in ipairs { "to", "text" } do
        if type(d[k]) ~= "string" or d[k] == "" then return 400, { error = k .. " is missing" } end
    end
    if d.from ~= nil and type(d.from) ~= "string" then return 400, { error = "from must be a string" } end
    if d.callback_url ~= nil and (type(d.callback_url) ~= "string" or not d.callback_url:match("^http://")) then
        return 400, { error = "callback_url must be an http:// URL" }
    end
    if not send_fn then return 501, { error = "this configuration's script has no http_send handler" } end
    return send_fn(d)
end)
M.route("GET", "/messages/([^/]+)", function(req)
    local m = messages[req.params[1]]
    if not m then return 404, { error = "no message " .. req.params[1] .. " was sent through /send" } end
    return 200, m
end)

-- -- Dispatch -------------------------------------------------------------------------

local function handle(method, url, body, content_type, authorization)
    local path, query = url:match("^([^?]*)%??(.*)$")
    local q = decode_form(query or "")
    if token and authorization ~= "Bearer " .. token and q.token ~= token then
        return err(401, "missing or wrong token (Authorization: Bearer ... or ?token=...)")
    end
    local req = { method = method, path = path, query = q, body = body, content_type = content_type }
    if body ~= "" then
        if content_type:match("^application/json") then
            local v, jerr = cjson.decode(body)
            if v == nil then return err(400, "invalid JSON: " .. tostring(jerr)) end
            req.data = v
        elseif content_type:match("^application/x%-www%-form%-urlencoded") then
            req.data = decode_form(body)
        else
            return err(415, "send application/json or application/x-www-form-urlencoded")
        end
    end
    local allowed = {}
    for _, r in ipairs(routes) do
        local caps = { path:match(r.pattern) }
        if caps[1] ~= nil then
            if r.method == method then
                req.params = caps
                local status, out, ctype = r.fn(req)
                if type(out) == "table" then return json(status, out) end
                return status, ctype or "text/plain; charset=utf-8", out or ""
            end
            allowed[#allowed + 1] = r.method
        end
    end
    if #allowed > 0 then return err(405, method .. " not allowed here (use " .. table.concat(allowed, ", ") .. ")") end
    return err(404, "no such path: " .. path)
end

-- post(url, value) -> HTTP status | nil, err: POST value as JSON to an
-- http://host:port/path URL (callbacks). Waits, so call it from a task.
function M.post(url, value)
    local host, port, path = url:match("^http://%[?([^%]/:]+)%]?:?(%d*)(/?.*)$")
    if not host then return nil, "not an http:// URL: " .. tostring(url) end
    return core.http_post(host, tonumber(port) or 80, path ~= "" and path or "/",
                          "application/json", json_encode(value))
end

-- start(http_conf, handlers, srv): listen; handlers.http_send serves /send;
-- srv.reload() serves /reload and srv.limits() the limits of /stats.
function M.start(conf, handlers, srv)
    token = conf.token
    server = srv
    send_fn = handlers and handlers.http_send
    local host, port = conf.listen:match("^%[?([^%]]+)%]?:(%d+)$")
    local bound, e = core.http_listen(host, tonumber(port), handle)
    if not bound then smpp.log("error", "%s", e) end
    return bound, e
end

-- set_send(fn): the /send handler of a reloaded script.
function M.set_send(fn) send_fn = fn end

return M
