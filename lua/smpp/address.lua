-- smpp.address -- "host:port", read and written one way everywhere: the
-- configuration's listen addresses, upstream outbind addresses, the HTTP
-- API's listen address and callback URLs, smppgw send's HOST:PORT, and the
-- session addresses the runtime reports (session.remote, session.local).
-- An IPv6 literal goes in brackets ("[::1]:2775"), as in URLs; the C side
-- writes session addresses so (core/net.c) and smppgw bench reads its
-- HOST:PORT by the same rules (core/load_opts.c).
local M = {}

-- parse(s [, default_port]) -> host, port | nil, why
-- s is "HOST:PORT": HOST an IPv4 literal or a host name (letters, digits,
-- '.', '-', '_'), or an IPv6 literal in brackets (a zone after '%'
-- allowed); PORT 0..65535 (0: any free port, where one listens). With
-- default_port, ":PORT" may be left out. The host comes back without its
-- brackets; `why` says what is wrong, without repeating s.
function M.parse(s, default_port)
    if type(s) ~= "string" then return nil, "expected a string HOST:PORT, got " .. type(s) end
    local host, rest = s:match("^%[([^%]]*)%](.*)$")
    if host then
        if not (host:find(":", 1, true) and host:match("^[%x:.]+$") or host:match("^[%x:.]+%%[%w._-]+$")) then
            return nil, "only an IPv6 address goes in brackets"
        end
    else
        host, rest = s:match("^([^:]*)(.*)$")
        if rest:find(":", 2, true) then
            return nil, "an IPv6 address goes in brackets, as in [::1]:2775"
        end
        if host == "" then return nil, "the host is missing" end
        if not host:match("^[%w._-]+$") then return nil, "the host holds a character no address has" end
    end
    local port
    if rest == "" and default_port then
        port = default_port
    else
        port = rest:match("^:(%d+)$")
        if not port then
            return nil, rest == "" and "the port is missing" or "the port is not a number"
        end
        port = tonumber(port)
    end
    if port > 65535 then return nil, "the port is above 65535" end
    return host, port
end

-- format(host, port) -> "host:port", an IPv6 host in brackets: what
-- parse reads back.
function M.format(host, port)
    if host:find(":", 1, true) then return "[" .. host .. "]:" .. tostring(port) end
    return host .. ":" .. tostring(port)
end

return M
