-- conf/cluster/smsc.lua -- `make cluster`: the reference SMSC the two
-- gateway nodes forward to, with one account per node (a node's receipts
-- come back on its own binds: the nodes share account limits through
-- Redis, not messages; docs/cluster.md).
return {
    listen = { "127.0.0.1:2776" },
    system_id = "smsc",
    script = "../../scripts/smsc.lua",
    http = { listen = "127.0.0.1:8776" },
    log = { level = "info" },
    store = { path = "../../var/cluster/smsc.db" },
    accounts = {
        { system_id = "node-a", password = "password" },
        { system_id = "node-b", password = "password" },
    },
    smsc = { receipt_delay = 1 },
}
