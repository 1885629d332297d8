-- conf/smppgw.lua -- the default configuration: the reference SMSC on
-- loopback. Every key is listed in lua/smpp/config.lua; `smppgw check
-- conf/smppgw.lua` names any wrong one.
return {
    listen = { "127.0.0.1:2775" },     -- -l HOST:PORT on the command line overrides
    system_id = "smppgw",              -- our name in bind responses
    script = "../scripts/smsc.lua",    -- relative to this file

    log = {
        level = "info",                -- error, warn, info, debug
        format = "text",               -- or "json": one JSON object per line
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
            burst = 0,                 -- token bucket size (0: same as throughput)
        },
    },
}
