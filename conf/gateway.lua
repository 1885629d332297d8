-- conf/gateway.lua -- smppgw as a gateway: ESMEs bind here (127.0.0.1:2775)
-- and every message goes to the upstream SMSC at 127.0.0.1:2776. A second
-- smppgw on the default config is a ready upstream:
--     build/smppgw run conf/smppgw.lua -l 127.0.0.1:2776
--     build/smppgw run conf/gateway.lua
return {
    listen = { "127.0.0.1:2775" },
    system_id = "smppgw",
    script = "../scripts/gateway.lua",
    log = { level = "info", format = "text" },
    store = { path = "../var/gateway.db", sync = "normal" },   -- see conf/smppgw.lua and docs/store.md

    session = {                        -- ESME-facing sessions (see conf/smppgw.lua)
        window = 10, receive_window = 100, response_timeout = 30,
        enquire_link_interval = 30, init_timeout = 30,
    },

    accounts = {
        { system_id = "smppclient1", password = "password", max_binds = 10, throughput = 0 },
    },

    -- Upstream SMSCs we keep bound. A refused bind backs off
    -- bind_refused_delay; a lost one reconnects after reconnect_min,
    -- doubling up to reconnect_max (with +-25 % jitter).
    upstreams = {
        {
            name = "smsc",
            host = "127.0.0.1", port = 2776,
            system_id = "smppclient1", password = "password", system_type = "",
            bind = "trx",              -- tx, rx or trx (an rx link beside a tx one names it:
                                       -- receipts_for = "smsc", docs/gateway.md)
            binds = 1,                 -- parallel binds
            window = 50,               -- requests outstanding per bind
            response_timeout = 30,
            throughput = 0,            -- messages per second to this link, 0 = unlimited
            enquire_link_interval = 30,
            reconnect_min = 1, reconnect_max = 30, bind_refused_delay = 60,
            throttle_backoff = 1,      -- pause after ESME_RTHROTTLED / ESME_RMSGQFUL ...
            throttle_retries = 3,      -- ... and send again this many times
            wait = 5,                  -- seconds a message waits for the link (down, window full)
        },
    },

    -- Store and forward (docs/gateway.md): a message is stored in the queue
    -- of its upstream and the ESME answered with our id once it is stored;
    -- the forwarder sends it, retries, fails over, and brings its receipt
    -- back. Its life is kept in the store (GET /messages/ID, smppgw messages).
    gateway = {
        message_id = "own",            -- "own": our own ids, store and forward (default); "upstream": the
                                       -- ESME waits and gets the upstream's id (see docs/gateway.md)
        own_id_format = "hex",         -- hex | decimal | uuid: the store's node id and a persisted counter
        validity = 172800,             -- seconds a message may wait to be forwarded (without validity_period)
        early_ttl = 60,                -- a receipt may arrive this long before its submit_sm_resp
        queue_ttl = 3600,              -- seconds receipts/MO wait in the store for an ESME's receiver
        receipt_wait = 2,              -- seconds a relayed receipt waits for the ESME before the outbox
                                       -- (store.limits.outbox_per_account bounds how many)
        retry_min = 1, retry_max = 60, -- backoff after a timeout or a lost connection (doubling)
        match = "first",               -- first matching route, or "longest" prefix
        no_route_status = "ESME_RINVDSTADR",
        time_zone = "UTC",             -- routes' days/hours: UTC, or a fixed offset such as "+02:00"
        sticky_ttl = 300,              -- seconds the parts of one long message stick to one upstream
                                       -- (how many at once: store.limits.sticky)
        -- Routes: prefix / source / system_id / service_type / pattern
        -- (destination), contains / text_pattern (the decoded text), days /
        -- hours (a time window) select messages; `to` names upstreams tried by `strategy` (failover,
        -- round_robin, weighted with `weights`, least_outstanding);
        -- `failover_on` lists statuses that move on to the next upstream;
        -- `rate`/`burst` limit the route (excess: `status`, default ESME_RTHROTTLED).
        routes = {
            { name = "all", prefix = "", to = { "smsc" } },
        },
        -- routes_file = "routes.json",  -- the same routes as a JSON array, beside this file
        mo_routes = {                  -- MO from upstreams: destination prefix -> account
            { prefix = "", account = "smppclient1" },
        },
    },
}
