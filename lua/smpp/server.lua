-- smpp.server -- runs a configuration: loads the behaviour script, checks
-- binds against the accounts of the config, and serves until a signal.
local core = require "smpp.core"
local codec = require "smpp.codec"
local smpp = require "smpp"
local config = require "smpp.config"
local config_check = require "smpp.config_check"
local address = require "smpp.address"
local http = require "smpp.http"
local security = require "smpp.security"
local store = require "smpp.store"
local upstream = require "smpp.upstream"
local sandbox = require "smpp.sandbox"
local workers = require "smpp.workers"
local cluster = require "smpp.cluster"
local webhook = require "smpp.webhook"

local S = smpp.status

local M = {}

local bind_types = { bind_transmitter = "transmitter", bind_receiver = "receiver",
                     bind_transceiver = "transceiver" }

-- The names a script may define: every request command, "bind" for the
-- three binds, and the events.
local handler_names = { bind = true, connect = true, up = true, down = true, start = true, stop = true,
                        http_send = true }
-- (outbind is a request command: an ESME-side script handles it by binding)
for _, c in ipairs(codec.commands) do
    if c.id < 0x80000000 then handler_names[c.name] = true end
end

-- accounts(list) -> table by system_id with the live bind count.
function M.accounts(list)
    local accts = {}
    for _, given in ipairs(list or {}) do
        local a, types = config.with_defaults("accounts", given), {}
        for _, t in ipairs(a.bind_types) do types[t] = true end
        accts[a.system_id] = {
            system_id = a.system_id, password = a.password, types = types,
            max_binds = a.max_binds, throughput = a.throughput, burst = a.burst or 0,   -- 0: the throughput
            default_alphabet = a.default_alphabet, binds = 0,
            networks = a.networks, sources = a.sources, http = a.http,
        }
    end
    return accts
end

-- check_bind(session, pdu) -> status, fields: the default bind decision,
-- which a script that handles bind may call. In this order, cheapest
-- first: past security.bind_rate from this address the bind waits its
-- turn; a locked-out address or (address, system_id) -> ESME_RBINDFAIL;
-- unknown system_id -> ESME_RINVSYSID; address outside the account's
-- networks, bind type not allowed, or max_binds reached -> ESME_RBINDFAIL;
-- only then the password (a hashed one is verified on the thread pool
-- while this task waits; when the queue for a hash has no place for this
-- bind -> ESME_RBINDFAIL at once, and the address is paced: see
-- smpp.security) -> ESME_RINVPASWD if wrong, unless other binds locked
-- the address or the pair out while it was checked (ESME_RBINDFAIL then,
-- so exactly max_failures wrong passwords are told before a lockout).
-- Unknown system_id, networks and wrong password count as failures
-- towards a lockout. On success the account's throughput limit applies
-- to the session. (One bind at a time per connection: core/sess.c answers
-- ESME_RALYBND to a bind while another is checked.)
function M.check_bind(sess, pdu)
    local ip = address.parse(sess.remote or "")
    local who = string.format("bind of '%s' from %s", pdu.system_id, tostring(ip))
    local wait = security.pace(ip)
    if wait > 0 then
        smpp.sleep(wait)                              -- this address binds faster than bind_rate
        if sess.closed then return S.ESME_RBINDFAIL end
    end
    local left = security.locked(ip, pdu.system_id)
    if not left and cluster.on then
        local cerr
        left, cerr = cluster.locked(tostring(ip), pdu.system_id)
        -- Redis cannot say: this process's own lockouts (above) still hold
        if cerr then sess:log("warn", "%s: the cluster's lockouts are unavailable (%s), this node's hold", who, cerr) end
    end
    if left then
        -- the same words for every attempt of one lockout: a flood of them is counted, not printed
        sess:log("warn", "%s refused: locked out until %s", who, os.date("!%Y-%m-%dT%H:%M:%SZ",
                 math.ceil(smpp.time() + left)))
        return S.ESME_RBINDFAIL
    end
    local function refuse(status, why)
        local delay = security.failed(ip, pdu.system_id)
        if cluster.on then cluster.failed(tostring(ip), pdu.system_id, security.lockout()) end
        sess:log("warn", "%s refused: %s", who, why)
        if delay > 0 then smpp.sleep(delay) end       -- slow down password guessing
        return status
    end
    local function full(a) return a.max_binds > 0 and a.binds >= a.max_binds end
    local a = M.active_accounts and M.active_accounts[pdu.system_id]
    if not a then return refuse(S.ESME_RINVSYSID, "unknown system_id") end
    if a.networks then
        local ok = false
        for _, net in ipairs(a.networks) do ok = ok or security.in_network(ip or "", net) end
        if not ok then return refuse(S.ESME_RBINDFAIL, "address not in the account's networks") end
    end
    if not a.types[bind_types[pdu.command]] then
        sess:log("info", "%s refused: %s not allowed for the account", who, bind_types[pdu.command])
        return S.ESME_RBINDFAIL
    end
    if full(a) then
        sess:log("info", "%s refused: max_binds (%d) reached", who, a.max_binds)
        return S.ESME_RBINDFAIL
    end
    local ok, err = security.check_password(a.password, pdu.password,
        { ip = ip, system_id = pdu.system_id, still_wanted = function() return not sess.closed end })
    if ok == nil then
        local busy = { ["busy"] = "too many binds waiting for a password check",
                       ["address busy"] = "this address has security.hash_per_address binds waiting for a password check",
                       ["account busy"] = "this system_id has security.hash_per_account binds from new addresses "
                           .. "waiting for a password check" }
        if busy[err] then
            security.busy(ip)                         -- its next bind waits longer
            sess:log("warn", "%s refused: %s", who, busy[err])
        else
            sess:log("warn", "%s refused: %s", who, tostring(err))
        end
        return S.ESME_RBINDFAIL
    end
    -- binds checked beside this one (other connections of the address,
    -- each waiting for its hash) may have locked it out meanwhile: a verdict
    -- reached after that is not told, so that no more than max_failures
    -- guesses of a pair are ever answered before its lockout
    left = security.locked(ip, pdu.system_id)
    if left then
        sess:log("warn", "%s refused: locked out until %s (while its password was checked)", who,
                 os.date("!%Y-%m-%dT%H:%M:%SZ", math.ceil(smpp.time() + left)))
        return S.ESME_RBINDFAIL
    end
    if not ok then return refuse(S.ESME_RINVPASWD, "wrong password") end
    -- the account may have changed while the hash ran (a reload, other binds)
    a = M.active_accounts[pdu.system_id]
    if not a or full(a) then return S.ESME_RBINDFAIL end
    local claimed, why = cluster.claim_bind(a, sess)     -- max_binds across the cluster
    if not claimed then
        sess:log("info", "%s refused: %s", who, why)
        return S.ESME_RBINDFAIL
    end
    security.succeeded(ip, pdu.system_id)
    cluster.succeeded(tostring(ip), pdu.system_id)
    if not cluster.await_ids(2, sess) then
        sess:log("warn", "%s bound before this node has message ids from Redis: its submits get ESME_RMSGQFUL "
            .. "until they come", who)
    end
    if a.throughput > 0 and cluster.on then
        cluster.throttle(sess, a)
    elseif a.throughput > 0 then
        core.throttle(sess, "account:" .. a.system_id, a.throughput, a.burst)
    end
    return S.ESME_ROK, { system_id = M.our_system_id or config.default("system_id"), sc_interface_version = 0x34 }
end

-- alphabet(system_id) -> what data_coding 0 means for this account's peer.
function M.alphabet(system_id)
    local a = M.active_accounts and M.active_accounts[system_id]
    return a and a.default_alphabet or config.default("accounts.default_alphabet")
end

-- load_script(path, conf, conf_path) -> handlers | nil, message. The
-- script receives (conf, conf_path) as `...` and runs in the environment
-- of smpp.sandbox, under the script budget.
function M.load_script(path, conf, conf_path)
    M.loading = true                 -- smpp.store refuses calls meanwhile, on every backend
    local ok, handlers, err = pcall(sandbox.load, path, conf, conf_path)
    M.loading = false
    if not ok then error(handlers, 0) end
    if handlers == nil and err then return nil, err end
    if type(handlers) ~= "table" then
        return nil, path .. ": must return a table of handlers, returned " .. type(handlers)
    end
    for k, v in pairs(handlers) do
        if not handler_names[k] then
            return nil, string.format("%s: unknown handler '%s' (handlers are named after commands: "
                .. "submit_sm, deliver_sm, ..., or bind, connect, up, down, start, stop)", path, tostring(k))
        end
        if type(v) ~= "function" then
            return nil, string.format("%s: handler '%s' must be a function, got %s", path, k, type(v))
        end
    end
    return handlers
end

-- address("host:port") -> host, port | nil, why (smpp.address.parse)
M.address = address.parse

-- store_path(conf, path): conf's store section made to use the file at
-- path (--store PATH of run, check and messages), which is relative to
-- the working directory, not to the configuration; its other keys stay.
-- -> true | nil, message: refused when the configuration keeps its store
-- in Redis through cluster.store = true (the file would hold nothing and
-- be read by no one, as a store.path beside cluster.store is refused).
function M.store_path(conf, path)
    local c = type(conf.cluster) == "table" and conf.cluster
    if c and c.store and c.redis then
        return nil, ("--store %s: with cluster.store = true the store is in Redis (%s); the file would hold "
            .. "nothing and be read by no one: leave --store out, or turn cluster.store off"):format(path,
            tostring(c.redis))
    end
    if path ~= ":memory:" and path:sub(1, 1) ~= "/" then path = (os.getenv("PWD") or ".") .. "/" .. path end
    local section = {}
    for k, v in pairs(conf.store or {}) do section[k] = v end
    section.path, section.redis = path, nil     -- a file named on the command line wins
    conf.store = section
    return true
end

-- prepare(conf_path, overrides [, first]) -> conf, handlers, listen | nil,
-- message. first (run and check, not a reload): the log section applies
-- before the script loads, so every line is in the configured format.
-- The HTTP routes and gauges the script registers as it loads replace the
-- running script's only when all of it has worked (smpp.http,
-- smpp.session: script_routes_begin/end, script_gauges_begin/end): a
-- reload drops the routes and gauges the new script no longer has, and a
-- failed one changes none.
-- commit (a reload's): called with (conf, listen) once all that worked,
-- -> true | nil, message: its failure is the reload's, and changes no
-- route or gauge either.
local prepare
-- the `scripts` limits in force (defaults filled in): a reload's load runs
-- under the new ones, and a refused reload puts these back (set_limits)
local limits_now
local function set_limits(sc)
    core.set_limits(sc)
    require("smpp.session").set_max_gauges(sc.max_gauges)
    limits_now = sc
end
function M.prepare(conf_path, overrides, first, commit)
    local session = require "smpp.session"
    http.script_routes_begin()
    session.script_gauges_begin()
    local ok, conf, handlers, listen = pcall(prepare, conf_path, overrides, first)
    if ok and conf ~= nil and commit then
        local cok, done, why = pcall(commit, conf, listen)
        if not cok then ok, conf = false, done
        elseif not done then conf, handlers = nil, why end
    end
    local worked = ok and conf ~= nil
    http.script_routes_end(worked)
    session.script_gauges_end(worked)
    if not ok then error(conf, 0) end
    return conf, handlers, listen
end

function prepare(conf_path, overrides, first)
    local conf, err = config.load(conf_path)
    if not conf then return nil, err end
    local checked, errs = config_check.check(conf, conf_path)    -- keys against each other
    if not checked then return nil, conf_path .. ":\n  " .. table.concat(errs, "\n  ") end
    if first then                       -- what the script logs as it loads is in the configured format
        local log = config.with_defaults("log", conf.log)
        core.log_config(log.level, log.format, log.repeat_window)
    end
    -- the limits of every run of script code, its load included (a
    -- reload applies the new ones; reload_now puts the old ones back if
    -- anything refuses it, this load, a later check or its commit)
    set_limits(config.with_defaults("scripts", conf.scripts))
    local handlers = {}
    if conf.script then
        handlers, err = M.load_script(config.resolve(conf_path, conf.script), conf, conf_path)
        if not handlers then return nil, err end
    end
    local listen = {}
    if overrides and overrides.http then
        conf.http = conf.http or {}
        conf.http.listen = overrides.http
    end
    if overrides and overrides.store then
        local ok, why = M.store_path(conf, overrides.store)
        if not ok then return nil, why end
    end
    for _, a in ipairs(overrides and overrides.listen or conf.listen or config.default("listen")) do
        local host, port = address.parse(a)
        if not host then return nil, "listen address " .. a .. " is not host:port (" .. port .. ")" end
        listen[#listen + 1] = { host = host, port = port, key = overrides and overrides.listen and "-l" or "listen" }
    end
    for i, given in ipairs(conf.tls_listen or {}) do
        local t = config.with_defaults("tls_listen", given)
        local host, port = address.parse(t.listen)
        local tls = { cert = t.cert and config.resolve(conf_path, t.cert), key = t.key and config.resolve(conf_path, t.key),
                      ca = t.ca and config.resolve(conf_path, t.ca), verify = t.verify_client, min_version = t.min_version }
        listen[#listen + 1] = { host = host, port = port, tls = tls, key = ("tls_listen[%d]"):format(i) }
    end
    for _, u in ipairs(conf.upstreams or {}) do       -- TLS files are relative to the config too
        if u.tls then
            for _, k in ipairs { "cert", "key", "ca" } do
                if u.tls[k] then u.tls[k] = config.resolve(conf_path, u.tls[k]) end
            end
        end
    end
    for _, a in ipairs(conf.outbind_listen or {}) do
        local host, port = address.parse(a)
        listen[#listen + 1] = { host = host, port = port, side = "outbind", key = "outbind_listen" }
    end
    local ok, why = M.check_listen(conf, listen)
    if not ok then return nil, conf_path .. ":\n  " .. why end
    return conf, handlers, listen
end

-- check_listen(conf, listen) -> true | nil, message naming the key: what
-- `run` would refuse at start, found before (check) or instead of (a
-- reload) that: two listeners on one address (the SMPP ones and
-- http.listen), TLS files that do not load (a listener's or an upstream
-- link's: missing, not PEM, a key that does not match its certificate).
local function wildcard(host) return host == "0.0.0.0" or host == "::" or host == "[::]" end
function M.check_listen(conf, listen)
    local seen = {}
    local all = {}
    for _, l in ipairs(listen) do all[#all + 1] = l end
    if conf.http and type(conf.http.listen) == "string" then
        local host, port = address.parse(conf.http.listen)
        if host then all[#all + 1] = { host = host, port = port, key = "http.listen" } end
    end
    for _, l in ipairs(all) do
        if l.port ~= 0 then
            for _, o in ipairs(seen) do
                if o.port == l.port and (o.host == l.host or wildcard(o.host) or wildcard(l.host)) then
                    return nil, ("%s: %s:%d is also %s's (one address, one listener)"):format(l.key, l.host, l.port,
                        o.key)
                end
            end
            seen[#seen + 1] = l
        end
    end
    for _, l in ipairs(listen) do
        if l.tls then
            local ok, why = core.tls_check(l.tls)
            if not ok then return nil, ("%s (%s:%d): %s"):format(l.key, l.host, l.port, why) end
        end
    end
    for i, u in ipairs(conf.upstreams or {}) do
        if type(u.tls) == "table" and (u.tls.cert or u.tls.key or u.tls.ca) then
            local ok, why = core.tls_check({ cert = u.tls.cert, key = u.tls.key, ca = u.tls.ca,
                                             min_version = u.tls.min_version }, true)
            if not ok then return nil, ("upstreams[%d].tls: %s"):format(i, why) end
        end
    end
    return true
end

-- The runtime's own store (core.serve{store =}) is an SQLite one: with the
-- store in Redis it is ":memory:" and holds nothing shared (the C paths
-- that reach Redis do so themselves, core/rt_gwr*.c); scripts get the
-- Redis store. Expiry of the Redis store runs from a timer here: each
-- second, batches while the store says there is `more`, up to
-- EXPIRE_TURNS of them (so up to 50,000 messages a second per process,
-- whatever the number of processes; each batch is one script call the task
-- waits for, so the loop serves everyone else between batches).
local EXPIRE_EVERY, EXPIRE_BATCH, EXPIRE_TURNS = 1, 1000, 50
local expiring = false

local function expire_batches(st)
    local unfinished, outbox = 0, 0
    for _ = 1, EXPIRE_TURNS do
        local r = st:expire(smpp.time(), EXPIRE_BATCH)
        if not r then break end                  -- Redis unreachable: next time
        unfinished, outbox = unfinished + #r.unfinished, outbox + #r.outbox
        if not r.more then break end
    end
    st:stats()                                   -- the levels /stats shows
    if unfinished > 0 then
        smpp.log("warn", "store: %d messages expired before reaching a final state", unfinished)
    end
    if outbox > 0 then smpp.log("warn", "store: %d outbox items expired undelivered", outbox) end
end

local function expire_redis(st)
    if expiring then return end                  -- the last second's batches are still going
    expiring = true
    local ok, err = pcall(expire_batches, st)
    expiring = false
    if not ok then smpp.log("error", "store: expiry failed: %s", tostring(err)) end
end

-- The runtime's own handlers around the script's: the default bind, the
-- bind count of each account for max_binds, and the upstream links' down
-- events. Called again at every reload, after M.active_accounts is set.
local runtime_down   -- below: the runtime's part of a session's end

local function wrap(handlers)
    local h = {}
    for k, v in pairs(handlers) do h[k] = v end
    -- accounts with allowed sender ids: checked before the script sees a
    -- submit; without such an account the script's handler is called as
    -- it is (no call more per message)
    local sources = false
    for _, a in pairs(M.active_accounts or {}) do sources = sources or a.sources ~= nil end
    for _, name in ipairs { "submit_sm", "submit_multi", "data_sm" } do
        local inner = h[name]
        if inner and sources then
            h[name] = function(sess, pdu)
                local a = sess.side == "server" and M.active_accounts[sess.system_id]
                if a and a.sources and not security.source_allowed(a.sources, pdu.source_addr or "") then
                    sess:log("info", "%s from %s refused: source_addr '%s' not allowed", name, sess.system_id,
                        tostring(pdu.source_addr))
                    return S.ESME_RINVSRCADR
                end
                return inner(sess, pdu)
            end
        end
    end
    if not (h.bind or h.bind_transmitter or h.bind_receiver or h.bind_transceiver) then
        -- the runtime's own code: a heap a script filled to its ceiling
        -- does not stop it (core.heap_reserve)
        h.bind = core.heap_reserve(function(sess, pdu) return M.check_bind(sess, pdu) end)
    end
    h.up = function(sess)
        local a = sess.side == "server" and M.active_accounts[sess.system_id]
        if a then a.binds = a.binds + 1 end
        if handlers.up then return handlers.up(sess) end
    end
    h.down = function(sess, reason)
        -- the runtime's own part in the heap's reserve: a script that
        -- filled the heap must not leave a bind claimed or an upstream
        -- link waiting for a session that is gone
        local was = core.heap_reserve(true)
        local ok, err = pcall(runtime_down, sess, reason)
        core.heap_reserve(was)
        if not ok then smpp.log("error", "down: %s", tostring(err)) end
        if handlers.down then return handlers.down(sess, reason) end
    end
    h.start = function()
        if not cluster.on and not cluster.linked then
            cluster.configure(M.conf.cluster, store.redis_of(M.conf), M.conf.store)
        end
        if M.redis_store and not M.expiry then
            local rs = M.redis_store
            M.expiry = core.after(EXPIRE_EVERY * 1000, function() expire_redis(rs) end, true, true)   -- kept at reloads
        end
        upstream.configure(M.conf.upstreams)
        M.configure_apps(M.conf)
        webhook.start()
        if core.worker() then
            workers.publish(http.stats)             -- the parent serves the API
        elseif M.conf.http and M.conf.http.listen then
            -- an API that cannot listen is a start-up error, not a process without its API
            if not http.start(M.conf.http, handlers, M) then
                M.exit_code = 1
                core.shutdown()
                return
            end
        end
        if handlers.start then return handlers.start() end
    end
    return h
end

-- same_value(a, b) -> true when two configuration values are equal, tables
-- key by key
local function same_value(a, b)
    if type(a) ~= "table" or type(b) ~= "table" then return a == b end
    for k, v in pairs(a) do if not same_value(v, b[k]) then return false end end
    for k in pairs(b) do if a[k] == nil then return false end end
    return true
end

-- What the runtime does when a bound session closes, before the script's
-- down handler (wrap's h.down runs it in the heap's reserve).
function runtime_down(sess, reason)
    local a = sess.side == "server" and M.active_accounts[sess.system_id]
    if a then a.binds = a.binds - 1 end
    cluster.release_bind(sess)
    upstream.on_down(sess, reason)
end

local function addr_key(l) return l.host .. " " .. l.port .. " " .. (l.side or "server") .. (l.tls and " tls" or "") end

-- A script that filled the Lua heap to scripts.memory_mb has every run
-- stopped (each needs its request's table), and a reload could not load
-- the new script beside it: its handlers are let go first and the
-- collector takes what only they kept. The runtime's own work, in the
-- heap's reserve; the new script then loads under the ceiling as always.
local function let_go_if_full()
    local h = core.heap()
    if not h.limit or h.limit == 0 or h.used < h.limit * 0.9 then return end
    collectgarbage("collect")             -- garbage is not what the script keeps
    h = core.heap()
    if h.used < h.limit * 0.9 then return end
    smpp.log("warn", "reload: the Lua heap holds %.1f MiB of scripts.memory_mb (%.0f MiB): the running script's "
        .. "handlers and repeating timers are let go before the new one loads", h.used / 1048576, h.limit / 1048576)
    core.set_handlers(wrap({}))
    core.timers_cancel(core.timers_generation(core.timers_generation() + 1))
    collectgarbage("collect")
    smpp.log("info", "reload: the Lua heap holds %.1f MiB now", core.heap().used / 1048576)
end

-- apply_listen(conf, listen) -> true | nil, message naming the key: the
-- listeners follow a reload's `listen`. The new addresses are bound first
-- (an old listener on the same host and port, plain then TLS or the other
-- way round, closes just before); if one cannot be, those just bound close,
-- those just closed listen again, and the reload is refused. TLS listeners
-- that stay take a context made from their files now (a rotated
-- certificate: new connections get it, accepted ones keep theirs). Only
-- then the listeners no longer wanted close.
function M.apply_listen(_, listen)
    local was, now = {}, {}
    for _, l in ipairs(M.listen) do was[addr_key(l)] = l end
    for _, l in ipairs(listen) do now[addr_key(l)] = l end
    local opened, reopen = {}, {}
    local function undo()
        for _, l in ipairs(opened) do core.unlisten(l.host, l.bound) end
        for _, l in ipairs(reopen) do l.bound = core.listen(l.host, l.bound or l.port, l.side or "server", l.tls) end
    end
    for _, l in ipairs(listen) do
        local k = addr_key(l)
        if was[k] then
            l.bound = was[k].bound
        else
            for ok, o in pairs(was) do
                if not now[ok] and not o.closed and o.host == l.host and (o.bound or o.port) == l.port then
                    core.unlisten(o.host, o.bound or o.port)
                    o.closed = true
                    reopen[#reopen + 1] = o
                end
            end
            local bound, err = core.listen(l.host, l.port, l.side or "server", l.tls)
            if not bound then
                undo()
                for _, o in ipairs(reopen) do o.closed = nil end
                return nil, ("%s: %s"):format(l.key or "listen", err)
            end
            l.bound = bound
            opened[#opened + 1] = l
        end
    end
    for _, l in ipairs(listen) do
        if l.tls and was[addr_key(l)] then
            local ok, err = core.listen_tls(l.host, l.bound or l.port, l.tls)
            if not ok then
                undo()
                return nil, ("%s: %s"):format(l.key or "tls_listen", err)
            end
        end
    end
    for k, l in pairs(was) do
        if not now[k] and not l.closed then core.unlisten(l.host, l.bound or l.port) end
        l.closed = nil
    end
    return true
end

-- reload() -> true [, list of what changed but applies at a restart only]
-- | nil, message: load the configuration and its script
-- again. If either fails, everything keeps running as it was and the error
-- is logged (but for a script that had filled the heap: let_go_if_full).
-- Otherwise new requests go to the new handlers (requests in flight finish
-- on the old ones), accounts and upstream links follow the new config
-- (links added, removed or rebound), and so do listeners.
local reload_now
function M.reload()
    local was = core.heap_reserve(true)
    let_go_if_full()
    core.heap_reserve(false)
    local ok, err = reload_now()
    core.heap_reserve(was)
    return ok, err
end

function reload_now()
    -- timers the new script makes (its load, its start) are the new
    -- generation's; the old one's repeating timers end once it has loaded
    local was = core.timers_generation()
    local gen = core.timers_generation(was + 1)
    local limits_was = limits_now
    local pok, conf, handlers, listen = pcall(M.prepare, M.conf_path, M.overrides, false, function(c, l)
        local ok, why = upstream.room(c.upstreams)    -- the names a process may have had (smpp.upstream)
        if not ok then return nil, why end
        return M.apply_listen(c, l)
    end)
    if not pok then
        -- raised, not returned: the new script's load filled the heap to its
        -- ceiling (what it made is garbage now: collected first, in the
        -- heap's reserve), or its error could not be made a string. The
        -- reload failed (422); the running script stays.
        local was = core.heap_reserve(true)
        collectgarbage("collect")
        conf, handlers = nil, sandbox.error_text(conf)
        core.heap_reserve(was)
    end
    if not conf then
        if limits_was then set_limits(limits_was) end   -- the running configuration's, as the log says
        core.timers_cancel(gen, true)     -- what the failed load made
        core.timers_generation(was)       -- the running script's again
        smpp.log("error", "reload failed, the running configuration stays: %s", handlers)
        return nil, handlers
    end
    -- the store and the cluster link stay as they were opened: say so when
    -- the new configuration asks for others (they apply at a restart)
    local later = {}                      -- what changed and applies at a restart only
    for _, key in ipairs { "store", "cluster" } do
        local before = key == "store" and M.store_section(M.conf or {}, M.conf_path) or (M.conf or {}).cluster
        local after = key == "store" and M.store_section(conf, M.conf_path) or conf.cluster
        if not same_value(before, after) then
            later[#later + 1] = ("the %s section changed; it applies at a restart (the open %s stays)"):format(key,
                key == "store" and "store" or "Redis link")
        end
    end
    -- the number of processes and the API's address are a start's
    local n_was, n_now = workers.count(M.conf or {}, M.overrides), workers.count(conf, M.overrides)
    if n_was ~= n_now then
        later[#later + 1] = ("workers changed (%d -> %d); it applies at a restart (the running %s stay%s)"):format(
            n_was, n_now, n_was == 1 and "process" or "processes", n_was == 1 and "s" or "")
    end
    local h_was, h_now = ((M.conf or {}).http or {}).listen, (conf.http or {}).listen
    if h_was ~= h_now then
        later[#later + 1] = ("http.listen changed (%s -> %s); it applies at a restart (the API stays on %s)"):format(
            tostring(h_was), tostring(h_now), tostring(h_was))
    end
    for _, line in ipairs(later) do smpp.log("warn", "reload: %s", line) end
    local old = M.active_accounts
    M.active_accounts = M.accounts(conf.accounts)
    for id, a in pairs(M.active_accounts) do
        if old[id] then a.binds = old[id].binds end
    end
    M.conf = conf
    M.our_system_id = conf.system_id or config.default("system_id")
    security.configure(conf.security)
    core.set_handlers(wrap(handlers))
    M.listen = listen
    upstream.configure(conf.upstreams)
    M.configure_apps(conf)
    webhook.start()
    http.set_send(handlers.http_send)
    local cancelled = core.timers_cancel(gen)
    if cancelled > 0 then
        smpp.log("info", "reload: %d repeating timer%s of the previous script cancelled (its start makes them again)",
                 cancelled, cancelled == 1 and "" or "s")
    end
    if handlers.start then smpp.after(0, handlers.start) end
    if #later > 0 then
        smpp.log("warn", "reloaded %s, but for what applies at a restart only (%d change%s above)", M.conf_path,
            #later, #later == 1 and "" or "s")
        return true, later
    end
    smpp.log("info", "reloaded %s", M.conf_path)
    return true
end

-- configure_apps(conf): the accounts' HTTP side, from conf.accounts:
-- their tokens for POST /send, their webhooks (bounded by the store's
-- outbox_per_account); where callbacks and webhooks may go
-- (http.callback_networks).
function M.configure_apps(conf)
    http.set_accounts(M.active_accounts)
    local ok, why = http.callback_networks(conf.http and conf.http.callback_networks)
    if not ok then smpp.log("error", "%s", why) end
    local lim = conf.store and conf.store.limits and conf.store.limits.outbox_per_account
    webhook.configure(conf.accounts, lim or config.schema.fields.store.fields.limits.fields.outbox_per_account.default)
end

-- Descriptors kept free beside the SMPP connections and everything else
-- counted below: the store, callbacks, logs, the odd file a script opens.
local FD_MARGIN = 128

-- connection_limits(conf, listeners) -> max_connections, max_per_address,
-- room (what the open-files limit leaves, nil if unlimited).
-- The default max_connections is what the open-files limit leaves after
-- the listeners, the upstream binds, the HTTP API's connections and
-- FD_MARGIN (at least 16): past it connections are refused and counted
-- (refused_connections) instead of failing to be accepted at all.
function M.connection_limits(conf, listeners)
    local lim, api_conf = config.with_defaults("limits", conf.limits), config.with_defaults("http", conf.http)
    local fds, room = core.fd_limit(), nil
    if fds then
        local binds = 0
        for _, u in ipairs(conf.upstreams or {}) do binds = binds + config.with_defaults("upstreams", u).binds end
        local api = api_conf.listen and api_conf.max_connections + 1 or 0
        room = math.max(16, fds - (listeners or 1) - binds - api - FD_MARGIN)
    end
    return lim.max_connections or room or 0, lim.max_per_address, room
end

-- store_section(conf, conf_path) -> the store section in force: the
-- configuration's `store`, or, when it has none, a file beside the
-- configuration named after it (conf/x.lua -> conf/x.db), sync "normal":
-- durable by default, with nothing to set up.
function M.store_section(conf, conf_path)
    local r = store.redis_of(conf)
    if r then                               -- the store is in Redis (store.redis, or cluster.store)
        local section = {}
        for k, v in pairs(conf.store or {}) do if k ~= "path" then section[k] = v end end
        for _, k in ipairs { "redis", "password", "db", "prefix" } do section[k] = r[k] end
        return section
    end
    if conf.store then return conf.store end
    local name = (conf_path:match("([^/]+)$") or "smppgw"):gsub("%.lua$", "")
    return { path = name .. ".db" }
end

-- open_store(conf, conf_path [, extra]) -> st | nil, message naming the
-- path and the reason (extra: open options such as quick_check).
function M.open_store(conf, conf_path, extra)
    local section = M.store_section(conf, conf_path)
    if section.redis then
        extra = { post_key = function(account) return cluster.rx_key(section.prefix, account) end }
    elseif section.busy_timeout == nil then
        -- the default wait for another process's lock stays under half of
        -- the script budget (config_check refuses a longer one given)
        local copy = {}
        for k, v in pairs(section) do copy[k] = v end
        copy.busy_timeout = math.min(config.default("store.busy_timeout"), config_check.lock_wait_bound(conf))
        section = copy
    end
    return store.from_config(section, conf_path, extra)
end

-- with_store(conf, conf_path, fn) -> what fn(st) returns | nil, message:
-- a tool's use of the store (smppgw messages). A store in Redis is called
-- from a task, over a link of its own: fn runs in the start task of a loop
-- that serves nothing and ends when fn returns.
function M.with_store(conf, conf_path, fn)
    local st, serr = M.open_store(conf, conf_path)
    if not st then return nil, serr end
    local section = M.store_section(conf, conf_path)
    if not section.redis then
        local a, b = fn(st)
        st:close()
        return a, b
    end
    local host, port = address.parse(section.redis)
    local out = {}
    core.log_config("warn", "text", 10)          -- a tool: the link's comings and goings are not news
    local ok, err = core.serve { handlers = {}, listen = {}, start = function()
        core.redis_open { host = host, port = port, password = section.password, db = section.db or 0, timeout = 2 }
        local done, a, b = pcall(fn, st)
        out = done and { a, b } or { nil, tostring(a) }
        core.shutdown()
    end }
    if not ok then return nil, err end
    return out[1], out[2]
end

-- limits() -> the limits in force, for /stats (no secrets).
function M.limits()
    local c = M.conf or {}
    local sess, sc, sec = config.with_defaults("session", c.session), config.with_defaults("scripts", c.scripts),
                          config.with_defaults("security", c.security)
    local max_connections, max_per_address = M.connection_limits(c, M.listen and #M.listen)
    local binds = {}
    for id, a in pairs(M.active_accounts or {}) do binds[id] = { max_binds = a.max_binds, binds = a.binds,
        throughput = a.throughput } end
    return {
        max_connections = max_connections, max_per_address = max_per_address,
        max_pdu = sess.max_pdu, max_output = sess.max_output,
        init_timeout = sess.init_timeout, window = sess.window,
        receive_window = sess.receive_window,
        script_budget_ms = sc.budget_ms, script_budget_instructions = sc.budget_instructions,
        script_memory_mb = sc.memory_mb, script_max_string = sc.max_string,
        bind_max_failures = sec.max_failures, bind_lockout = sec.lockout,
        accounts = binds,
    }
end

-- run(conf_path, overrides) -> exit code. Serves until SIGINT/SIGTERM;
-- SIGHUP reloads.
function M.run(conf_path, overrides)
    local conf, handlers, listen = M.prepare(conf_path, overrides, true)
    if not conf then
        io.stderr:write("smppgw: ", handlers, "\n")
        return 2
    end
    -- workers = N: this process supervises N copies of itself (smpp.workers),
    -- unless it is one of them
    local me = core.worker()
    local n = workers.count(conf, overrides)
    local refused = workers.refusal(n, M.store_section(conf, conf_path), listen)
    if refused then
        io.stderr:write("smppgw: ", refused, "\n")
        return 2
    end
    if n > 1 and not me then return workers.supervise(conf, conf_path, overrides, n) end
    M.conf, M.conf_path, M.overrides, M.listen = conf, conf_path, overrides, listen
    M.active_accounts = M.accounts(conf.accounts)
    M.our_system_id = conf.system_id or config.default("system_id")
    security.configure(conf.security)
    -- the store opens before anything listens: a store that cannot be
    -- opened is a start-up error naming the path and the reason
    local section = M.store_section(conf, conf_path)
    -- one serving process per file; a file of up to 64 MiB has its pages
    -- checked as `check` does (a larger one: `check` before `run`)
    local st, serr = M.open_store(conf, conf_path, { lock = true, quick_check = "small" })
    if not st then
        io.stderr:write("smppgw: ", serr, "\n")
        return 1
    end
    local full = config.with_defaults("store", section)
    local scripts_st = st
    if section.redis then
        st, serr = store.open { path = ":memory:", limits = full.limits, trace_ttl = full.trace_ttl,
                                lease = full.lease, outbox_ttl = full.outbox_ttl }
        if not st then
            io.stderr:write("smppgw: ", serr, "\n")
            return 1
        end
        M.redis_store = scripts_st
        smpp.log("info", "store redis %s db %d prefix %s (%s)", section.redis, section.db or 0, section.prefix,
            store.redis_of(conf).from)
    else
        smpp.log("info", "store %s (sync %s)", section.path == ":memory:" and ":memory:"
            or config.resolve(conf_path, section.path), full.sync)
    end
    store.use_runtime(scripts_st)
    local h = wrap(handlers)
    local max_connections, max_per_address, room = M.connection_limits(conf, #listen)
    if room and (max_connections == 0 or max_connections > room) then
        smpp.log("warn", "limits.max_connections (%s) is more than the open-files limit (%d) leaves room for (%d): "
            .. "past that, connections fail to be accepted instead of being refused",
            max_connections == 0 and "0: no limit" or tostring(max_connections), core.fd_limit(), room)
    end
    local args = { handlers = h, listen = listen, session = conf.session, start = h.start,
                   limits = { max_connections = max_connections, max_per_address = max_per_address },
                   reload = core.heap_reserve(function()
                       local ok, err = M.reload()
                       if core.worker() then workers.reloaded(ok, err) end   -- the parent's POST /reload waits for it
                   end),
                   store = st, outbox_ttl = full.outbox_ttl, reuseport = me ~= nil }
    -- this frame lives as long as the loop: it keeps nothing of the script
    -- (core.serve takes the handlers out of args), so that a reload lets
    -- the first script's functions and all they keep be collected
    h, handlers = nil, nil
    local ok, err = core.serve(args)
    store.use_runtime(nil)
    local committed, cerr = st:close()
    if not committed then smpp.log("error", "store: the last commit failed: %s", tostring(cerr)) end
    if not ok then
        io.stderr:write("smppgw: ", err, "\n")
        return 1
    end
    return M.exit_code or 0
end

return M
