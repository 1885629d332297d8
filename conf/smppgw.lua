-- conf/smppgw.lua -- the default configuration: the reference SMSC on
-- loopback. Every key is listed in lua/smpp/config.lua; `smppgw check
-- conf/smppgw.lua` names any wrong one.
return {
    listen = { "127.0.0.1:2775" },     -- -l HOST:PORT on the command line overrides
    system_id = "smppgw",              -- our name in bind responses
    script = "../scripts/smsc.lua",    -- relative to this file

    http = {                           -- the HTTP API and the dashboard (--http HOST:PORT overrides)
        listen = "127.0.0.1:8775",
        -- token = "secret",           -- then requests need "Authorization: Bearer secret"
    },

    log = {
        level = "info",                -- error, warn, info, debug
        format = "text",               -- or "json": one JSON object per line
    },

    -- Messages, receipts waiting for a receiver and id counters live here
    -- (docs/store.md): var/ at the top of the tree, created on start.
    store = {
        path = "../var/smppgw.db",     -- relative to this file; ":memory:" keeps it in memory only
        sync = "normal",               -- normal: survives a crash of the process; full: a power loss too
    },

    session = {
        window = 10,                   -- requests we keep outstanding (receipts, MO)
        receive_window = 100,          -- peer requests handled at once; past it ESME_RTHROTTLED
        response_timeout = 30,         -- seconds before a request we sent fails with "timeout"
        enquire_link_interval = 30,    -- idle seconds before we send enquire_link
        enquire_link_misses = 3,       -- unanswered enquire_links: the peer is dead
        init_timeout = 30,             -- seconds to bind after connecting
        inactivity_timeout = 0,        -- close after this many silent seconds (0 = never)
        unbind_timeout = 10,           -- longest graceful unbind
    },

    -- Who may bind. Wrong password -> ESME_RINVPASWD, unknown system_id ->
    -- ESME_RINVSYSID, bind type not allowed or too many binds -> ESME_RBINDFAIL.
    accounts = {
        {
            system_id = "smppclient1",
            password = "password",
            bind_types = { "transmitter", "receiver", "transceiver" },
            max_binds = 10,
            throughput = 0,            -- submits per second, 0 = unlimited (excess: ESME_RTHROTTLED)
            default_alphabet = "gsm",  -- what data_coding 0 means from this peer: gsm, latin1 or ascii
            burst = 0,                 -- token bucket size (0: same as throughput)
        },
    },

    -- The reference SMSC's behaviour (scripts/smsc.lua reads this section).
    -- Its messages stay in the store for query_sm / cancel_sm / replace_sm
    -- (store.trace_ttl after their final state, store.limits.messages).
    smsc = {
        message_id = "decimal",        -- message id format: decimal, hex or uuid
        receipt_delay = 1,             -- seconds from submit to the final state (and its receipt)
        default_validity = 172800,     -- seconds a message lives when validity_period is empty
        -- Final states: the first rule that matches decides (prefix of the
        -- destination, exact source, Lua pattern, percentage of messages);
        -- no match -> DELIVRD. err is the receipt's err: value, delay its
        -- own receipt_delay.
        rules = {
            { prefix = "999", state = "UNDELIV", err = 1 },  -- a failing destination to test with
            -- { percent = 10, state = "EXPIRED", delay = 30 },
            -- { pattern = "^44770090", state = "REJECTD", err = 11 },
        },
        -- Submits refused at once with a status (submit_multi: per destination).
        reject = {
            { prefix = "000", status = "ESME_RINVDSTADR" },
        },
        distribution_lists = {         -- dl_name -> destinations, for submit_multi
            friends = { "447700900001", "447700900002" },
        },
        -- seed = 42,                  -- the percentage rules' random numbers (default: new each start)
        receipt_queue_ttl = 3600,      -- seconds a receipt waits in the store for a receiver of its
                                       -- account (store.limits.outbox_per_account bounds how many)
        echo = "keyword",              -- off | keyword: a text starting "echo " comes back as MO | all
        -- mo = { every = 30, system_id = "smppclient1", from = "447700900123", to = "1234", text = "hi" },
    },
}
