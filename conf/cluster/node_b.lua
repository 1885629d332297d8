-- conf/cluster/node_b.lua -- `make cluster`: gateway node B (SMPP 2785, HTTP
-- 8785). Both nodes share the account's max_binds, throughput and bind
-- lockouts through the Redis at 127.0.0.1:6390 (the `cluster` section);
-- each has its own store and its own account at the SMSC.
return {
    listen = { "127.0.0.1:2785" },
    system_id = "smppgw",
    script = "../../scripts/gateway.lua",
    http = { listen = "127.0.0.1:8785" },
    log = { level = "info" },
    store = { path = "../../var/cluster/node_b.db" },
    cluster = { redis = "127.0.0.1:6390", bind_ttl = 15 },
    accounts = {
        -- at most 2 binds and 50 submit_sm/s, over both nodes together
        { system_id = "smppclient1", password = "password", max_binds = 2, throughput = 50 },
    },
    upstreams = {
        { name = "smsc", host = "127.0.0.1", port = 2776, system_id = "node-b", password = "password",
          bind = "trx", binds = 1, window = 50 },
    },
    gateway = {
        routes = { { name = "all", prefix = "", to = { "smsc" } } },
        mo_routes = { { prefix = "", account = "smppclient1" } },
    },
}
