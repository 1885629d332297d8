-- helpers.rawhttp -- HTTP/1.1 by hand on a LuaSocket connection, for specs
-- that need what a polite client library hides: pipelined requests, a head
-- sent in halves, the exact bytes of an answer's head. Every connection is
-- closed when the test (or describe) that opened it ends (helpers.cleanup).
local socket = require "socket"
local cleanup = require "helpers.cleanup"
local scaled = require("helpers.wait").scaled

local M = {}

-- connect(port [, from]) -> a connected socket (from: the local address to
-- bind first, e.g. "127.0.0.2"), 5 s timeout.
function M.connect(port, from)
    local s = assert(socket.tcp())
    if from then assert(s:bind(from, 0)) end
    s:settimeout(scaled(5))
    assert(s:connect("127.0.0.1", port))
    cleanup.defer(function() s:close() end, "HTTP connection")
    return s
end

-- response(s [, timeout]) -> status, headers (lower-case names), body,
-- head (the head's lines as received); or nil, err.
function M.response(s, timeout)
    s:settimeout(scaled(timeout or 5))
    local line, err = s:receive("*l")
    if not line then return nil, err end
    local status = tonumber(line:match("^HTTP/1%.1 (%d+)"))
    local h, head = {}, { line }
    while true do
        local l = assert(s:receive("*l"))
        if l == "" then break end
        head[#head + 1] = l
        local k, v = l:match("^([^:]+):%s*(.*)$")
        if k then h[k:lower()] = v end
    end
    local body = ""
    local n = tonumber(h["content-length"] or 0)
    if n > 0 then body = assert(s:receive(n)) end
    return status, h, body, head
end

function M.get(path, extra)
    return "GET " .. path .. " HTTP/1.1\r\nHost: t\r\n" .. (extra or "") .. "\r\n"
end

function M.post(path, body, extra)
    return "POST " .. path .. " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: "
        .. #body .. "\r\n" .. (extra or "") .. "\r\n" .. body
end

-- closed_by_server(s [, timeout]) -> true once the server has closed s
-- (reads return "closed"), false if it is still open after timeout.
function M.closed_by_server(s, timeout)
    local deadline = socket.gettime() + scaled(timeout or 5)
    while socket.gettime() < deadline do
        s:settimeout(deadline - socket.gettime())
        local _, err = s:receive(1)
        if err == "closed" then return true end
        if err == "timeout" then return false end
    end
    return false
end

return M
