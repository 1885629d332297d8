-- conf/bench.lua -- the peer of `make bench` (core/bench/sessions.sh): a
-- minimal SMSC on loopback for measuring the gateway's session throughput.
return {
    listen = { "127.0.0.1:2775" },     -- the bench overrides it with -l 127.0.0.1:0
    system_id = "smppgw",
    script = "../scripts/bench.lua",   -- relative to this file

    log = {
        level = "warn",                -- no per-connection lines during the runs
        format = "text",
    },

    store = { path = "../var/bench.db" },   -- the bench script stores nothing: opened, never written

    session = {
        receive_window = 1000,         -- above any window the load generator keeps
    },

    limits = {
        max_per_address = 0,           -- the memory test binds 10,000 from 127.0.0.1
    },

    security = {
        bind_rate = 0,                 -- ... and as fast as it can
    },

    accounts = {
        {
            system_id = "smppclient1",
            password = "password",
            bind_types = { "transceiver" },
            max_binds = 0,             -- unlimited: the memory test binds 10,000
            throughput = 0,            -- no throttling
        },
    },
}
