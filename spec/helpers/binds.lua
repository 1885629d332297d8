-- helpers.binds -- what the bind specs share: clients bound to a given
-- loopback source address, a bind's status, /stats, a server with a
-- security section and accounts (stopped with exit 0 required, its log
-- on standard error when not), and password hashes made once.
local wire = require "helpers.wire"
local cleanup = require "helpers.cleanup"
local server = require "helpers.server"
local security = require "smpp.security"
local socket = require "socket"
local cjson = require "cjson"

local M = {}

M.RINVPASWD, M.RINVSYSID, M.RBINDFAIL = 0x0E, 0x0F, 0x0D

M.HASH = security.hash("pw123", 100000)     -- as smppgw passwd makes it (~50 ms to verify)
-- pw123 at 1,000,000 iterations, ~0.4 s a hash (made once with security.hash, not per run): holds its
-- slot long enough that what a test sends meanwhile finds it taken, however slow the machine
M.SLOW = "pbkdf2-sha256$1000000$6773a145563760dccc91c6dced899761$"
    .. "5b03ceecfda2792cd1832dfb331c871d8122ca8e451c7c7c06542978d225efa7"
-- pw123 at 2,500,000 iterations, ~1 s: holds the one slot while a test fills the queue
M.BLOCKER = "pbkdf2-sha256$2500000$0e1fe8118d1c1caad63cb7e1fcb44ff3$"
    .. "df034e3108a7ceb8e16c0774fd86669433cc324a3507d6a6e77ce1b295510e1c"

-- A client connected from a given loopback address (closed when the test ends).
function M.connect_from(port, from)
    local s = assert(socket.tcp())
    assert(s:bind(from or "127.0.0.1", 0))
    s:settimeout(require("helpers.wait").scaled(30))   -- a bound on a hashed bind behind slow hashes on a loaded machine
    assert(s:connect("127.0.0.1", port))
    s:setoption("tcp-nodelay", true)
    cleanup.defer(function() s:close() end, "client from " .. tostring(from))
    return setmetatable({ sock = s, buf = "", seq = 0 }, getmetatable(wire.connect(port)))
end

function M.bind_status(srv, from, user, pw, kind)
    local c = M.connect_from(srv.port, from)
    local r = assert(c:bind(kind or "transceiver", user, pw, 30))   -- behind slow hashes on a loaded machine
    c:close()
    return r.status
end

function M.stats(srv)
    local http = require "socket.http"
    local body = assert(http.request("http://127.0.0.1:" .. srv.http_port .. "/stats"))
    return cjson.decode(body)
end

-- start(security_conf, accounts) -> a server with that security section
-- and those accounts (Lua text). The spec stops it with M.stop in a
-- `finally` (busted's, which only a spec file sees).
function M.start(security_conf, accounts)
    return server.start { conf = "return { script = 'script.lua', security = " .. security_conf
        .. ", accounts = " .. accounts .. " }", script = "return {}" }
end

-- stop(srv): stop it, requiring exit 0 (binds that hash or wait for a
-- slot at shutdown end cleanly too); its log goes to standard error (TAP
-- comments) when not, even if the test failed first.
function M.stop(srv)
    local stopped = srv:stop("TERM", require("helpers.wait").scaled(30))   -- binds hashing finish first
    if not stopped then srv:kill() end
    local code = srv:wait_exit(5)
    if not (stopped and code == 0) then
        io.stderr:write(("smppgw did not stop cleanly (exit %s); its log ends:\n%s\n"):format(tostring(code),
            srv:log_text():sub(-3000)))
    end
    os.execute("rm -rf " .. srv.dir)
    assert(stopped and code == 0, "smppgw did not stop cleanly (exit " .. tostring(code) .. ")")
end

return M
