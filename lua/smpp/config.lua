-- smpp.config -- load a configuration file (Lua returning a table) and
-- check it against the schema below, naming every wrong key by its path.
local address = require "smpp.address"

local M = {}

local levels = { "error", "warn", "info", "debug" }

-- The schema: one place that lists every key a configuration may hold,
-- and every default (`default =`; `derived` says how a default that
-- depends on other values or on the machine is worked out, by the code
-- that reads the key). The code reads defaults from here (defaults,
-- with_defaults, default below); the C side gets the session and HTTP
-- ones from headers the build generates from this table
-- (core/gen/defaults.lua), so a default changes here and nowhere else.
local session_fields = {
    window = { type = "integer", min = 1, max = 100000, default = 10, doc = "requests we may have outstanding" },
    receive_window = { type = "integer", min = 1, max = 100000, default = 100, doc = "peer requests handled at once" },
    response_timeout = { type = "number", min = 0.001, default = 30, doc = "seconds to wait for a response" },
    enquire_link_interval = { type = "number", min = 0, default = 30,
                              doc = "idle seconds before enquire_link (0 = never)" },
    enquire_link_misses = { type = "integer", min = 1, default = 3,
                            doc = "unanswered enquire_links before the peer is dead" },
    init_timeout = { type = "number", min = 0, default = 30,
                     doc = "seconds to bind before the connection closes (0 = never)" },
    inactivity_timeout = { type = "number", min = 0, default = 0, doc = "seconds without a PDU before closing (0 = never)" },
    unbind_timeout = { type = "number", min = 0.001, default = 10, doc = "longest graceful close, seconds" },
    max_pdu = { type = "integer", min = 64, max = 16777216, default = 65552,
                doc = "command_length cap, octets, once bound (before a bind: 1024 at most)" },
    max_output = { type = "integer", min = 1024, default = 1048576, doc = "unsent output per session before reading pauses" },
}

-- The TLS keys of listeners and upstream links, with those of each side.
local function tls_fields(own)
    local t = {
        cert = { type = "string", nonempty = "a PEM file", doc = "PEM certificate chain, relative to the config file" },
        key = { type = "string", nonempty = "a PEM file", doc = "PEM private key" },
        ca = { type = "string", nonempty = "a PEM file", doc = "PEM CA file that verifies the peer" },
        min_version = { type = "enum", values = { "TLSv1.2", "TLSv1.3" }, default = "TLSv1.2",
                        doc = "the oldest TLS version accepted" },
    }
    for k, v in pairs(own) do t[k] = v end
    return t
end

local schema = {
    type = "table",
    fields = {
        listen = { type = "list", of = { type = "address" }, default = { "127.0.0.1:2775" },
                   doc = "host:port to listen on" },
        tls_listen = { type = "list", of = { type = "table", fields = tls_fields {
            listen = { type = "address", required = true, doc = "host:port to listen on with TLS" },
            verify_client = { type = "boolean", doc = "require a client certificate signed by ca" },
        } }, doc = "TLS listeners" },
        outbind_listen = { type = "list", of = { type = "address" },
                           doc = "host:port where SMSCs connect to send outbind (ESME side)" },
        system_id = { type = "string", max = 15, default = "smppgw", doc = "our system_id in bind responses" },
        cluster = { type = "table", doc = "what the workers and nodes of one cluster share through Redis: "
                       .. "account throughput, max_binds and bind lockouts (docs/cluster.md)", fields = {
            redis = { type = "address", required = true, doc = "host:port of the Redis server" },
            password = { type = "string", doc = "AUTH password (no TLS: Debian's hiredis 0.14 has none)" },
            db = { type = "integer", min = 0, default = 0, doc = "SELECT this database" },
            prefix = { type = "string", default = "smppgw:", doc = "of every key, so clusters can share a Redis" },
            timeout = { type = "number", min = 0.01, default = 2,
                        doc = "seconds to connect, and the longest wait for an answer before the link is dropped" },
            bind_ttl = { type = "number", min = 1, default = 15,
                         doc = "seconds a node's binds count after it stopped saying they live (a dead node)" },
            store = { type = "boolean", default = false,
                      doc = "the same as store.redis naming this Redis (kept as an alias): messages, queues, "
                         .. "id mappings and receipts live there, shared by the nodes (docs/cluster.md)" },
            claim_after = { type = "number", min = 1, default = 30,
                            doc = "seconds a message may wait taken by a node that answers nothing for it "
                               .. "before another node takes it over (cluster.store)" },
            node_id = { type = "integer", min = 1, max = 4294967295,
                        doc = "this node's id in the message ids (cluster.store); without it, or in workers, "
                           .. "each process takes one from a counter in Redis" },
            trace_ttl = { type = "number", min = 1, default = 86400,
                          doc = "seconds message records and id mappings are kept in Redis (cluster.store)" },
        } },
        workers = { type = "integer", min = 1, max = 1024, default = 1,
                    doc = "processes sharing the listening ports (SO_REUSEPORT), each with its own loop and "
                       .. "Lua state, supervised by the parent, which serves the HTTP API (docs/gateway.md)" },
        script = { type = "string", nonempty = "the behaviour script's path; leave it out for none",
                   doc = "behaviour script, relative to the config file" },
        log = { type = "table", doc = "log lines (standard error)", fields = {
            level = { type = "enum", values = levels, default = "info", doc = "the least important level logged (debug adds one line per PDU in and out: docs/gateway.md, PDU trace)" },
            format = { type = "enum", values = { "text", "json" }, default = "text",
                       doc = "text lines, or one JSON object per line" },
            repeat_window = { type = "number", min = 0, default = 10,
                              doc = "seconds an identical line (a warning: identical but for its numbers) is counted, not "
                                  .. "printed, and a session's warnings past 20 are counted (0 = print all; "
                                  .. "docs/protocol.md)" },
        } },
        session = { type = "table", doc = "SMPP session options (upstream links set their window, response_timeout "
                        .. "and enquire_link keys in upstreams[])",
                    fields = session_fields },
        accounts = { type = "list", doc = "the ESMEs that may bind to us", of = { type = "table", fields = {
            system_id = { type = "string", max = 15, required = true, nonempty = "the system_id it binds with",
                          doc = "the system_id it binds with" },
            password = { type = "string", max = 200, default = "",
                         doc = "up to 8 characters, or the hash printed by smppgw passwd" },
            bind_types = { type = "list", of = { type = "enum", values = { "transmitter", "receiver", "transceiver" } },
                           default = { "transmitter", "receiver", "transceiver" }, doc = "the binds it may make" },
            max_binds = { type = "integer", min = 0, default = 0, doc = "binds at once (0 = no limit)" },
            throughput = { type = "number", min = 0, default = 0,
                           doc = "submit_sm/submit_multi/data_sm per second, 0 = unlimited" },
            burst = { type = "number", min = 0, derived = "throughput", doc = "token bucket size" },
            default_alphabet = { type = "enum", values = { "gsm", "latin1", "ascii" }, default = "gsm",
                                 doc = "what data_coding 0 means for this peer" },
            networks = { type = "list", of = { type = "string" }, doc = "CIDRs the account may bind from" },
            sources = { type = "list", of = { type = "string" },
                        doc = "allowed source_addr (exact, or a Lua pattern starting with ^)" },
            http = { type = "table", doc = "the account's applications over HTTP (docs/http.md)", fields = {
                token = { type = "string", max = 255,
                          doc = "POST /send as this account, and read its messages, with Authorization: Bearer TOKEN "
                             .. "(or ?token= without that header); never the admin's routes" },
                webhook = { type = "table", doc = "receipts and MO for this account POSTed as JSON", fields = {
                    url = { type = "string", required = true, doc = "http://ADDRESS[:PORT]/PATH" },
                    retry_min = { type = "number", min = 0.01, doc = "first delay after a failed post, seconds (1)" },
                    retry_max = { type = "number", min = 0.01, doc = "longest delay between attempts (60)" },
                    concurrency = { type = "integer", min = 1, max = 1000, doc = "posts under way at once (4)" },
                } },
            } },
        } } },
        upstreams = { type = "list", doc = "the SMSCs we bind to (gateway)", of = { type = "table", fields = {
            name = { type = "string", required = true, nonempty = "the name routes use", doc = "the name routes use" },
            host = { type = "string", default = "127.0.0.1", nonempty = "the SMSC's address or host name; leave it "
                        .. "out for 127.0.0.1",
                     doc = "an IP address or a host name (resolved at every connect)" },
            port = { type = "integer", min = 1, max = 65535, default = 2775, doc = "the SMSC's port" },
            system_id = { type = "string", max = 15, default = "", doc = "the system_id we bind with" },
            password = { type = "string", max = 8, default = "", doc = "the password we bind with" },
            system_type = { type = "string", max = 12, default = "", doc = "system_type in our binds" },
            bind = { type = "enum", values = { "transmitter", "receiver", "transceiver", "tx", "rx", "trx" },
                     default = "transceiver", doc = "transmitter, receiver or transceiver binds (tx, rx, trx accepted)" },
            binds = { type = "integer", min = 1, max = 100, default = 1, doc = "parallel binds of this link" },
            receipts_for = { type = "string",
                             doc = "the upstream whose messages this link's receipts are about (a receiver link "
                                .. "beside a transmitter link to the same SMSC: name the transmitter)" },
            smsc_account = { type = "string", max = 64,
                             doc = "the SMSC account this entry binds to, named as you like: entries naming one "
                                .. "match each other's receipts (as sending entries with the same host, port and "
                                .. "system_id do without it; docs/gateway.md)" },
            former_names = { type = "list", of = { type = "string" },
                             doc = "names this entry had before (renamed, or entries merged into it): they join "
                                .. "its receipt group, so receipts still due for messages sent under them match "
                                .. "(docs/gateway.md)" },
            window = { type = "integer", min = 1, default = session_fields.window.default,
                       doc = "requests outstanding per bind" },
            response_timeout = { type = "number", min = 0.001, default = session_fields.response_timeout.default,
                                 doc = "seconds to wait for a response" },
            throughput = { type = "number", min = 0, default = 0,
                           doc = "messages per second to this link, 0 = unlimited" },
            enquire_link_interval = { type = "number", min = 0, default = session_fields.enquire_link_interval.default,
                                      doc = "idle seconds before enquire_link (0 = never)" },
            enquire_link_misses = { type = "integer", min = 1, default = session_fields.enquire_link_misses.default,
                                    doc = "unanswered enquire_links before the link is dead" },
            reconnect_min = { type = "number", min = 0.01, default = 1, doc = "first reconnect delay, seconds" },
            reconnect_max = { type = "number", min = 0.01, default = 30, doc = "longest reconnect delay, seconds" },
            bind_refused_delay = { type = "number", min = 0.01, default = 60, doc = "delay after a refused bind, seconds" },
            throttle_backoff = { type = "number", min = 0, default = 1,
                                 doc = "seconds the link pauses after ESME_RTHROTTLED/ESME_RMSGQFUL (0 = no pause)" },
            throttle_retries = { type = "integer", min = 0, default = 3,
                                 doc = "throttle answers before a route's failover_on may move the message" },
            wait = { type = "number", min = 0, default = 5,
                     doc = "seconds the link may be unusable before its queued messages "
                        .. "fail over to another upstream of their route (0 = at once)" },
            max_timeouts = { type = "integer", min = 0, default = 3,
                             doc = "requests in a row with no answer within response_timeout before the link "
                                .. "counts as unusable (one message at a time tries it until it answers; 0 = never)" },
            max_errors = { type = "integer", min = 0, default = 0,
                           doc = "requests in a row answered ESME_RSYSERR/ESME_RINVBNDSTS before the link counts as "
                              .. "unusable, as after max_timeouts (0 = never: one account's messages can draw "
                              .. "such answers on purpose; docs/gateway.md)" },
            max_queue = { type = "integer", min = 0, default = 0,
                          doc = "messages waiting in this link's queue in the store; past it new ones go "
                             .. "to another upstream of their route with room, else get ESME_RMSGQFUL "
                             .. "(0: only store.limits.messages bounds it)" },
            outbind_listen = { type = "address", doc = "wait for the SMSC's outbind here instead of connecting" },
            id_format = { type = "table", fields = {
                resp = { type = "enum", values = { "string", "decimal", "hex", "normalized" }, default = "string",
                         doc = "how message ids in submit_sm_resp are written (string: matched as written, "
                            .. "case and leading zeros included; normalized: in any case, leading zeros dropped)" },
                receipt = { type = "enum", values = { "string", "decimal", "hex", "normalized" }, derived = "resp",
                            doc = "the id: field of receipt texts" },
                tlv = { type = "enum", values = { "string", "decimal", "hex", "normalized" }, derived = "resp",
                        doc = "receipted_message_id in receipts" },
            }, doc = "declared id formats; hex and decimal ids are related only when declared" },
            tls = { type = "table", doc = "connect with TLS", fields = tls_fields {
                verify = { type = "boolean", derived = "true when ca is set", doc = "verify the server" },
                host = { type = "string", derived = "the link's host", doc = "name expected in the server's certificate",
                         nonempty = "the name expected in the certificate; leave it out for the link's host" },
            } },
        } } },
        limits = { type = "table", doc = "SMPP connections", fields = {
            max_connections = { type = "integer", min = 0,
                                derived = "the open-files limit less room for the listeners, upstream binds, "
                                   .. "the HTTP API and 128 more",
                                doc = "accepted connections at once (0 = no limit)" },
            max_per_address = { type = "integer", min = 0, default = 256,
                                doc = "connections from one address (0 = no limit): room for many binds behind "
                                    .. "one NAT, yet one address cannot take the descriptors (0 behind a load balancer)" },
        } },
        security = { type = "table", doc = "bind checks: pace, lockouts, password hashing", fields = {
            max_failures = { type = "integer", min = 1, default = 5,
                             doc = "failed binds of one system_id from one address before they are locked out" },
            max_address_failures = { type = "integer", min = 1, derived = "4 x max_failures",
                                     doc = "failed binds from one address before it is locked out" },
            lockout = { type = "number", min = 0, default = 300,
                        doc = "seconds a lockout lasts and failures are remembered (0 = no lockout)" },
            failure_delay = { type = "number", min = 0, default = 1,
                              doc = "seconds added to each refusal after the first (at most 5 s in all; 0 = none)" },
            max_tracked = { type = "integer", min = 1, default = 10000,
                            doc = "address and (address, system_id) entries kept, oldest evicted" },
            bind_rate = { type = "number", min = 0, default = 100,
                          doc = "binds a second from one address; more wait their turn, 0 = no limit" },
            bind_burst = { type = "integer", min = 1, derived = "bind_rate",
                           doc = "binds from one address at once before bind_rate applies" },
            hash_concurrency = { type = "integer", min = 1, derived = "half the CPUs, at least 1",
                                 doc = "password hashes at once on the thread pool" },
            hash_queue = { type = "integer", min = 0, default = 64,
                           doc = "binds waiting for a password hash; past it ESME_RBINDFAIL" },
            hash_reserved = { type = "integer", min = 0, derived = "hash_queue / 4",
                              doc = "places of hash_queue strangers cannot take, for binds of a known "
                                 .. "(address, system_id) pair and again for a known system_id" },
            hash_per_address = { type = "integer", min = 1, default = 4,
                                 doc = "places in the hash queue one address holds, unless its pair is known" },
            hash_per_account = { type = "integer", min = 1, derived = "hash_queue / 4, at least 1",
                                 doc = "places in the hash queue one system_id holds from addresses it has not "
                                    .. "bound from" },
            trust_ttl = { type = "number", min = 0, default = 86400,
                          doc = "seconds a successful bind makes its pair and system_id known, 0 = never" },
            max_trusted = { type = "integer", min = 1, default = 10000, doc = "known pairs and system_ids kept" },
            verify_cache_ttl = { type = "number", min = 0, default = 300,
                                 doc = "seconds a verified password is remembered, 0 = never" },
            verify_cache_size = { type = "integer", min = 0, default = 1000, doc = "verified passwords remembered" },
        } },
        scripts = { type = "table", doc = "what a script run may use", fields = {
            budget_ms = { type = "number", min = 0, max = 60000, default = 1000,
                          doc = "longest run of script code without waiting, ms (0 = the maximum, 60000)" },
            budget_instructions = { type = "number", min = 0, default = 0, doc = "VM instructions per run (0 = none)" },
            memory_mb = { type = "number", min = 0, default = 1024,
                          doc = "hard ceiling of the Lua heap, MiB (0 = none)" },
            max_string = { type = "integer", min = 1024, max = 1073741824, default = 16777216,
                           doc = "longest string string.rep, table.concat, string.gsub and a script's cjson.encode "
                              .. "build (and cjson.decode reads), bytes" },
            max_gauges = { type = "integer", min = 1, max = 10000, default = 1000,
                           doc = "names scripts' smpp.gauge may register (each is read at every /stats and "
                              .. "/metrics: about 10 us a gauge; the runtime's own are not counted)" },
            jit = { type = "boolean", default = false,
                    doc = "compile script code too (a loop the JIT compiled cannot be interrupted: "
                       .. "the watchdog then ends the process)" },
            allow = { type = "list", of = { type = "enum", values = { "io", "os", "debug", "files", "ffi" } },
                      doc = "capabilities beyond the sandbox (each one can break the containment)" },
        } },
        http = { type = "table", doc = "the HTTP API and dashboard", fields = {
            listen = { type = "address", doc = "host:port of the HTTP API and dashboard (none: no API)" },
            token = { type = "string", max = 255, nonempty = "leave it out for no token",
                      doc = "the admin token: if set, a request needs it or an account's token "
                         .. "(Authorization: Bearer TOKEN, or ?token= without that header)" },
            max_connections = { type = "integer", min = 1, default = 256, doc = "HTTP connections open at once" },
            max_per_address = { type = "integer", min = 0, default = 32,
                                doc = "HTTP connections from one address (0 = no limit)" },
            max_body = { type = "integer", min = 1024, max = 1073741824, default = 1048576,
                         doc = "request body octets" },
            max_lists = { type = "integer", min = 1, max = 1000, default = 4,
                          doc = "lists of messages (GET /messages) made at once; more are answered 503 "
                             .. "(each holds the part it has made on the Lua heap)" },
            header_timeout = { type = "number", min = 0, default = 10, doc = "seconds for a request head (0 = no limit)" },
            body_timeout = { type = "number", min = 0, default = 30, doc = "seconds for a request body (0 = no limit)" },
            idle_timeout = { type = "number", min = 0, default = 60,
                             doc = "seconds a connection waits for its next request (0 = no limit)" },
            callback_networks = { type = "list", of = { type = "string" },
                                  doc = "CIDRs a callback_url or an account's webhook may be POSTed to, checked "
                                     .. "on the address connected to (none: any address but link-local, "
                                     .. "169.254.0.0/16 and fe80::/10, and 0.0.0.0/8)" },
        } },
        -- the embedded store (docs/store.md)
        store = { type = "table", doc = "where messages, queues and id counters are kept; without this "
                     .. "section a configuration CONF.lua stores in CONF.db beside it (sync normal)", fields = {
            path = { type = "string", nonempty = "an SQLite file or \":memory:\"",
                     doc = "SQLite file, relative to this config file (its directory is created); "
                        .. "\":memory:\" keeps the store in memory, off the Lua heap, until exit "
                        .. "(path or redis, not both)" },
            redis = { type = "address",
                      doc = "host:port of a Redis server that keeps the store instead, shared by every "
                         .. "node and worker on it (docs/store.md, \"The Redis backend\"); path or redis" },
            password = { type = "string", doc = "AUTH password of store.redis" },
            db = { type = "integer", min = 0, default = 0, doc = "SELECT this database (store.redis)" },
            prefix = { type = "string", default = "smppgw:",
                       doc = "of every key of store.redis, so that stores can share one Redis" },
            sync = { type = "enum", values = { "normal", "full", "off" }, default = "normal",
                     doc = "what a commit survives: normal a crash of the process, full also a power "
                        .. "loss (fsync per commit), off neither (tests)" },
            busy_timeout = { type = "number", min = 0, default = 0.1,
                             doc = "seconds a write waits while another process holds the file's lock (the "
                                .. "loop waits with it), then fails: ESME_RMSGQFUL; under half of "
                                .. "scripts.budget_ms (0 = fail at once)" },
            trace_ttl = { type = "number", min = 0, default = 86400,
                          doc = "seconds a message (record and trace) is kept after its final state, "
                             .. "or after its validity ends if it never reaches one (0 = until the next "
                             .. "expiry pass, about a second)" },
            lease = { type = "number", min = 0.001, default = 60,
                      doc = "seconds a taken outbox item stays hidden before it is offered again" },
            outbox_ttl = { type = "number", min = 1, default = 86400,
                           doc = "seconds a receipt or MO posted for an account (smpp.post) waits for a "
                              .. "receiver before it expires (counted and logged)" },
            limits = { type = "table", default = {}, doc = "every table's bound (its level and limit are in stats)",
                       fields = {
                messages = { type = "integer", min = 1, default = 1000000,
                             doc = "messages kept; when full, the finished one kept longest makes room, "
                                .. "and a new message is refused only if none is finished" },
                outbox = { type = "integer", min = 1, default = 100000,
                           doc = "receipts and MO waiting for a receiver, all accounts" },
                outbox_per_account = { type = "integer", min = 1, default = 100000,
                                       doc = "receipts and MO waiting for one account's receiver" },
                early = { type = "integer", min = 1, default = 10000,
                          doc = "receipts that arrived before the submit_sm_resp naming their message" },
                sticky = { type = "integer", min = 1, default = 10000,
                           doc = "long messages whose later parts follow the first part's route and upstream "
                              .. "(gateway.sticky_ttl); when full, the one that expires first makes room" },
                size_mb = { type = "integer", min = 0, default = 0,
                            doc = "largest database file in MiB (0 = no limit); past it writes fail as on a full disk, "
                               .. "but new messages, outbox items and early receipts are refused a tenth short of it "
                               .. "(at least 1 MiB, at most a quarter), so answers, retries and expiry still have "
                               .. "room and a full store drains on its own; the write-ahead log beside it is kept to "
                               .. "about a quarter of it" },
            } },
        } },
        -- free-form sections read by the scripts, which check them
        smsc = { type = "table", free = true,
                 doc = "the reference SMSC's options (smpp.smsc checks them: docs/scripting.md)" },
        gateway = { type = "table", free = true,
                    doc = "the gateway's routes and options (scripts/gateway.lua checks them: docs/gateway.md)" },
    },
}
M.schema = schema

-- The field specs of a section: a table's ("session", "store"), or those
-- of each item of a list ("upstreams", "accounts").
local function fields_of(section, level)
    local f = schema.fields[section]
    if f and f.type == "list" then f = f.of end
    if not (f and f.fields) then error("config: the schema has no section '" .. tostring(section) .. "'", level + 1) end
    return f.fields
end

local function copy(v)
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do out[k] = copy(x) end
    return out
end

-- given over the defaults of fields, and so in the nested tables given
-- (or defaulting to {}: a table that is absent stays absent otherwise, as
-- an upstream's tls, whose presence means TLS)
local function merged(fields, given)
    local out = {}
    for k, v in pairs(given or {}) do out[k] = v end
    for k, f in pairs(fields) do
        if out[k] == nil and f.default ~= nil then out[k] = copy(f.default) end
        if f.type == "table" and f.fields and type(out[k]) == "table" then out[k] = merged(f.fields, out[k]) end
    end
    return out
end

-- defaults(section) -> { key = default } of a section of the schema
-- ("session", "security", "http", "store", "upstreams"...): the values used
-- when a key is absent (nested tables included). Keys whose default is
-- `derived` are absent: the code that reads them works them out.
function M.defaults(section)
    return merged(fields_of(section, 2), nil)
end

-- with_defaults(section, given) -> a copy of the section `given` with every
-- default filled in (nested tables too).
function M.with_defaults(section, given)
    return merged(fields_of(section, 2), given)
end

-- default(path) -> the default of one key ("system_id", "listen",
-- "http.max_connections"; an item of a list by the list's name).
function M.default(path)
    local spec = schema
    for name in path:gmatch("[^.]+") do
        if spec.type == "list" then spec = spec.of end
        spec = spec.fields and spec.fields[name]
        if not spec then error("config: the schema has no key '" .. path .. "'", 2) end
    end
    return copy(spec.default)
end

local function show(v)
    if type(v) == "string" then return string.format("%q", v) end
    return tostring(v)
end

local check

local checkers = {
    string = function(v, spec, path, errs)
        if type(v) ~= "string" then return false end
        if spec.max and #v > spec.max then
            errs[#errs + 1] = string.format("%s: %s is longer than %d characters", path, show(v), spec.max)
        end
        if spec.nonempty and v == "" then        -- nonempty: what the key is, said in the message
            errs[#errs + 1] = string.format("%s: empty (%s)", path, spec.nonempty)
        end
        return true
    end,
    number = function(v, spec, path, errs)
        if type(v) ~= "number" then return false end
        -- NaN compares false with every bound (0/0 passed any range), and
        -- an infinity is finite nowhere a number key means a time or a rate
        if v ~= v then
            errs[#errs + 1] = string.format("%s: expected a number, got NaN", path)
            return true
        end
        if (v == math.huge or v == -math.huge) and not spec.inf then
            errs[#errs + 1] = string.format("%s: expected a finite number, got %s", path, show(v))
            return true
        end
        if (spec.min and v < spec.min) or (spec.max and v > spec.max) then
            errs[#errs + 1] = string.format("%s: %s is outside %s..%s", path, show(v),
                tostring(spec.min or "-inf"), tostring(spec.max or "inf"))
        elseif spec.above and v <= spec.above then   -- above: the bound itself has no meaning
            errs[#errs + 1] = string.format("%s: %s is not above %s", path, show(v), tostring(spec.above))
        end
        return true
    end,
    enum = function(v, spec, path, errs)
        for _, ok in ipairs(spec.values) do if v == ok then return true end end
        errs[#errs + 1] = string.format("%s: %s is not one of %s", path, show(v), table.concat(spec.values, ", "))
        return true
    end,
    address = function(v, spec, path, errs)
        if type(v) ~= "string" then return false end
        local host, why = address.parse(v)
        if not host then
            errs[#errs + 1] = string.format("%s: %s is not host:port (%s)", path, show(v), why)
        end
        return true
    end,
    list = function(v, spec, path, errs)
        if type(v) ~= "table" then return false end
        for k, item in pairs(v) do
            if type(k) ~= "number" then
                errs[#errs + 1] = string.format("%s: unexpected key %s in a list", path, show(k))
            else
                check(item, spec.of, string.format("%s[%d]", path, k), errs)
            end
        end
        return true
    end,
    table = function(v, spec, path, errs)
        if type(v) ~= "table" then return false end
        if spec.free then return true end
        for k, item in pairs(v) do
            local f = spec.fields[k]
            local p = path == "" and tostring(k) or path .. "." .. tostring(k)
            if not f then
                errs[#errs + 1] = string.format("%s: unknown key (value %s)", p, show(item))
            else
                check(item, f, p, errs)
            end
        end
        for k, f in pairs(spec.fields) do
            if f.required and v[k] == nil then
                errs[#errs + 1] = string.format("%s: missing", path == "" and k or path .. "." .. k)
            end
        end
        return true
    end,
}
checkers.boolean = function(v) return type(v) == "boolean" end
checkers.integer = function(v, spec, path, errs)
    if type(v) ~= "number" or v ~= math.floor(v) then return false end
    return checkers.number(v, spec, path, errs)
end

check = function(v, spec, path, errs)
    if not checkers[spec.type](v, spec, path, errs) then
        errs[#errs + 1] = string.format("%s: expected %s, got %s %s", path == "" and "config" or path,
            spec.type == "list" and "a list" or spec.type == "table" and "a table"
                or (spec.type:match("^[aeiou]") and "an " or "a ") .. spec.type,
            type(v), show(v))
    end
end

-- verdict(errs) -> true when errs (messages "path: what is wrong") is
-- empty, else nil and errs sorted by path: the answer of every check that
-- gathers all the errors of a configuration.
function M.verdict(errs)
    if #errs == 0 then return true end
    table.sort(errs)
    return nil, errs
end

-- validate(conf) -> true | nil, list of messages "path: what is wrong".
function M.validate(conf)
    local errs = {}
    check(conf, schema, "", errs)
    return M.verdict(errs)
end

-- check_into(value, spec, path, errs): check a value against one spec of
-- the schema's form, appending "path: what is wrong" messages to errs (for
-- checks that gather every error of a configuration: smpp.config_check).
function M.check_into(value, spec, path, errs)
    check(value, spec, path, errs)
end

-- check_section(value, fields, path) -> true | nil, message: check a
-- free-form section (a script's own options) against a table of field
-- specs in the same form as the schema above, naming each wrong key.
function M.check_section(value, fields, path)
    local errs = {}
    check(value, { type = "table", fields = fields }, path, errs)
    if #errs > 0 then
        table.sort(errs)
        return nil, table.concat(errs, "; ")
    end
    return true
end

-- receipt_groups(upstreams) -> { { i, j, ... }, ... }: the receipt groups
-- of a config's upstreams list (indices, in list order; groups of two or
-- more, ordered by their first entry). Entries join one group when they
-- name one smsc_account, or when both send (not a receiver bind, not an
-- outbind_listen) with the same host, port and system_id; both relations
-- chain (docs/gateway.md, "One SMSC account, several upstream entries").
local RX = { receiver = true, rx = true }
function M.receipt_groups(list)
    local parent, by_key = {}, {}
    local function root(i)
        while parent[i] ~= i do i = parent[i] end
        return i
    end
    local function join(i, key)
        local j = by_key[key]
        if not j then by_key[key] = i return end
        local a, b = root(i), root(j)
        if a ~= b then parent[math.max(a, b)] = math.min(a, b) end
    end
    for i, u in ipairs(type(list) == "table" and list or {}) do
        parent[i] = i
        if type(u) == "table" then
            if type(u.smsc_account) == "string" then join(i, "=" .. u.smsc_account) end
            if not RX[u.bind] and u.outbind_listen == nil then
                join(i, string.format("%s\0%s\0%s", tostring(u.host or "127.0.0.1"), tostring(u.port or 2775),
                                      tostring(u.system_id or "")))
            end
        end
    end
    local groups, of = {}, {}
    for i = 1, #parent do
        local r = root(i)
        if not of[r] then
            of[r] = {}
            groups[#groups + 1] = of[r]
        end
        local g = of[r]
        g[#g + 1] = i
    end
    local out = {}
    for _, g in ipairs(groups) do if #g > 1 then out[#out + 1] = g end end
    return out
end

-- The directory of a path ("conf/smppgw.lua" -> "conf/").
function M.dir_of(path)
    return path:match("^(.*/)") or "./"
end

-- resolve(base_file, path): a relative path is relative to base_file's directory.
function M.resolve(base, path)
    if path:sub(1, 1) == "/" then return path end
    return M.dir_of(base) .. path
end

-- load(path) -> conf | nil, message. The file runs with the standard
-- library and must return a table.
function M.load(path)
    local chunk, err = loadfile(path)
    if not chunk then return nil, err end
    local ok, conf = pcall(chunk)
    if not ok then return nil, path .. ": " .. tostring(conf) end
    if type(conf) ~= "table" then return nil, path .. ": must return a table, returned " .. type(conf) end
    local valid, errs = M.validate(conf)
    if not valid then
        return nil, path .. ":\n  " .. table.concat(errs, "\n  ")
    end
    return conf
end

return M
