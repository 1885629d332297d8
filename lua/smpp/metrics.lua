-- smpp.metrics -- the statistics in the Prometheus text exposition format
-- (version 0.0.4). The metric names below are stable; docs/http.md lists them.
local concat, format = table.concat, string.format

local M = {}

local function esc(v) return (tostring(v):gsub("\\", "\\\\"):gsub("\n", "\\n"):gsub('"', '\\"')) end

-- The keys of t in order: samples come out in a stable order.
local function sorted_keys(t)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    return keys
end

local function labels(l)
    if not l then return "" end
    local parts = {}
    for _, k in ipairs(sorted_keys(l)) do parts[#parts + 1] = format('%s="%s"', k, esc(l[k])) end
    return "{" .. concat(parts, ",") .. "}"
end

local function num(v)
    if v == math.huge then return "+Inf" end
    if v ~= v then return "NaN" end
    if v == math.floor(v) and math.abs(v) < 1e15 then return format("%d", v) end
    return format("%.9g", v)
end

-- A histogram series of `name` with labels l from non-cumulative bucket
-- counts (the engine's bounds in ms, the last one +Inf) and a sum in ms.
local function histogram(sample, name, l, buckets, bounds_ms, sum_ms)
    local cum = 0
    for i, n in ipairs(buckets) do
        local bound = bounds_ms[i]
        cum = cum + n
        local bl = { le = num(bound and bound / 1000 or math.huge) }
        for k, v in pairs(l) do bl[k] = v end
        sample(name .. "_bucket", bl, cum)
    end
    sample(name .. "_sum", l, (sum_ms or 0) / 1000)
    sample(name .. "_count", l, cum)
end

-- The engine's groups: each account's sessions (side server) and each
-- upstream's binds (side client), their PDUs, responses by status and the
-- time their peer took to answer our requests.
function M.render_groups(t, family, sample)
    local groups = t.groups or {}
    if #groups == 0 then return end
    for _, kind in ipairs { { "server", "account", "ESME accounts" }, { "client", "upstream", "upstream links" } } do
        local side, label, who = kind[1], kind[2], kind[3]
        local mine = {}
        for _, g in ipairs(groups) do if g.side == side then mine[#mine + 1] = g end end
        table.sort(mine, function(a, b) return a.name < b.name end)
        if #mine > 0 then
            local pre = "smppgw_" .. label
            family(pre .. "_pdus_total", "counter", "PDUs received (rx) and sent (tx) by command, per " .. label
                .. " (" .. who .. ").")
            for _, g in ipairs(mine) do
                for _, name in ipairs(sorted_keys(g.commands)) do
                    sample(pre .. "_pdus_total", { [label] = g.name, direction = "rx", command = name }, g.commands[name].rx)
                    sample(pre .. "_pdus_total", { [label] = g.name, direction = "tx", command = name }, g.commands[name].tx)
                end
            end
            family(pre .. "_responses_total", "counter", "Responses received (rx) and sent (tx) by command_status, per "
                .. label .. ".")
            for _, g in ipairs(mine) do
                for _, st in ipairs(sorted_keys(g.statuses)) do
                    sample(pre .. "_responses_total", { [label] = g.name, direction = "rx", status = st }, g.statuses[st].rx)
                    sample(pre .. "_responses_total", { [label] = g.name, direction = "tx", status = st }, g.statuses[st].tx)
                end
            end
            family(pre .. "_response_time_seconds", "histogram", "Time from our request to the " .. label
                .. "'s response" .. (side == "client" and " (submit_sm to submit_sm_resp)." or " (deliver_sm to its response)."))
            for _, g in ipairs(mine) do
                histogram(sample, pre .. "_response_time_seconds", { [label] = g.name }, g.response_time_buckets,
                    t.response_time_bounds_ms, g.response_time_sum_ms)
            end
        end
    end
end

-- The C side's figures of the routes (or accounts) `names` of t: the
-- latency from acceptance to the upstream's answer (message_id "upstream":
-- what the ESME waited), receipts matched by stat, MO per account. Rows
-- without them (the Lua side's "-": no route) are left out.
function M.render_figures(g, label, t, names, family, sample)
    local pre, have = "smppgw_" .. label, {}
    for _, n in ipairs(names) do if t[n].receipts then have[#have + 1] = n end end
    if #have == 0 then return end
    if label == "route" then
        family(pre .. "_latency_seconds", "histogram", "Time from a message's acceptance to the upstream's "
            .. "answer, per route (message_id \"upstream\": the time the ESME waited).")
        for _, n in ipairs(have) do
            histogram(sample, pre .. "_latency_seconds", { route = n }, t[n].latency_buckets, g.latency_bounds_ms,
                t[n].latency_sum_ms)
        end
    end
    family(pre .. "_receipts_total", "counter", "Receipts matched to their messages by stat, per " .. label .. ".")
    for _, n in ipairs(have) do
        for _, st in ipairs(sorted_keys(t[n].receipts)) do
            sample(pre .. "_receipts_total", { [label] = n, stat = st }, t[n].receipts[st])
        end
    end
    if label == "account" then
        family(pre .. "_mo_total", "counter", "MO messages queued for each account (receipts apart).")
        for _, n in ipairs(have) do sample(pre .. "_mo_total", { account = n }, t[n].mo) end
    end
end

-- The gateway's answers to messages, per route and per account.
function M.render_answers(g, family, sample)
    for _, kind in ipairs { { "routes", "route" }, { "accounts", "account" } } do
        local t, label = g[kind[1]] or {}, kind[2]
        local names = sorted_keys(t)
        if #names > 0 then
            family("smppgw_" .. label .. "_submitted_total", "counter", "Messages the gateway routed, per " .. label
                .. (label == "route" and " (\"-\": no route)." or "."))
            for _, n in ipairs(names) do sample("smppgw_" .. label .. "_submitted_total", { [label] = n }, t[n].submitted) end
            family("smppgw_" .. label .. "_answers_total", "counter", "The gateway's answers to those messages by "
                .. "command_status (ESME_ROK: taken), per " .. label .. ".")
            for _, n in ipairs(names) do
                for _, st in ipairs(sorted_keys(t[n].answered)) do
                    sample("smppgw_" .. label .. "_answers_total", { [label] = n, status = st }, t[n].answered[st])
                end
            end
            M.render_figures(g, label, t, names, family, sample)
        end
    end
end

-- render(stats) -> text. stats is smpp.http.stats(): totals, sessions,
-- upstreams, gateway.
function M.render(stats)
    local out = {}
    local function family(name, kind, help)
        out[#out + 1] = format("# HELP %s %s", name, help)
        out[#out + 1] = format("# TYPE %s %s", name, kind)
    end
    local function sample(name, l, v) out[#out + 1] = format("%s%s %s", name, labels(l), num(v or 0)) end
    local t = stats.totals

    family("smppgw_sessions_open", "gauge", "Open SMPP sessions by side (server: peers bound to us) and state.")
    for side, states in pairs(t.open) do
        for state, n in pairs(states) do sample("smppgw_sessions_open", { side = side, state = state }, n) end
    end
    family("smppgw_sessions_opened_total", "counter", "Sessions opened since start.")
    sample("smppgw_sessions_opened_total", nil, t.opened)
    family("smppgw_sessions_closed_total", "counter", "Sessions closed since start.")
    sample("smppgw_sessions_closed_total", nil, t.closed)

    family("smppgw_pdus_total", "counter", "PDUs received (rx) and sent (tx) by command, by side (server: "
        .. "sessions of ESMEs bound to us; client: our binds to upstreams).")
    for _, side in ipairs { "server", "client" } do
        local cmds = t.sides and t.sides[side] and t.sides[side].commands or {}
        for _, name in ipairs(sorted_keys(cmds)) do
            sample("smppgw_pdus_total", { side = side, direction = "rx", command = name }, cmds[name].rx)
            sample("smppgw_pdus_total", { side = side, direction = "tx", command = name }, cmds[name].tx)
        end
    end
    family("smppgw_responses_total", "counter", "Responses received (rx) and sent (tx) by command_status.")
    for _, name in ipairs(sorted_keys(t.statuses)) do
        sample("smppgw_responses_total", { direction = "rx", status = name }, t.statuses[name].rx)
        sample("smppgw_responses_total", { direction = "tx", status = name }, t.statuses[name].tx)
    end
    local counters = {
        { "smppgw_timeouts_total", "timeouts", "Requests we sent that got no response in time." },
        { "smppgw_throttled_total", "throttled", "Peer requests refused with ESME_RTHROTTLED." },
        { "smppgw_malformed_total", "malformed", "Malformed PDUs received." },
        { "smppgw_unmatched_responses_total", "unmatched", "Responses matching no outstanding request." },
        { "smppgw_script_errors_total", "script_errors", "Handler and script failures (answered ESME_RSYSERR)." },
        { "smppgw_script_budget_stops_total", "script_budget_stops", "Runs of script code stopped by the budget." },
        { "smppgw_lua_heap_refused_total", "lua_heap_refused",
          "Allocations refused, and script runs stopped, at the Lua heap's ceiling." },
        { "smppgw_lua_heap_throttled_total", "lua_heap_throttled",
          "Requests answered ESME_RTHROTTLED because the Lua heap was past its ceiling and half its reserve." },
    }
    for _, c in ipairs(counters) do
        family(c[1], "counter", c[3])
        sample(c[1], nil, t[c[2]])
    end
    family("smppgw_http_connections", "gauge", "HTTP API connections open.")
    sample("smppgw_http_connections", nil, t.http_connections)
    family("smppgw_http_events_total", "counter", "HTTP API connections refused at a limit, closed to make "
        .. "room at http.max_connections, cut off by a timeout, and requests refused for the token.")
    sample("smppgw_http_events_total", { event = "refused" }, t.http_refused_connections)
    sample("smppgw_http_events_total", { event = "evicted" }, t.http_evicted_connections)
    sample("smppgw_http_events_total", { event = "timeout" }, t.http_timeouts)
    sample("smppgw_http_events_total", { event = "unauthorized" }, t.http_unauthorized)
    family("smppgw_generic_nacks_total", "counter", "generic_nack received (rx) and sent (tx).")
    sample("smppgw_generic_nacks_total", { direction = "rx" }, t.nacks_rx)
    sample("smppgw_generic_nacks_total", { direction = "tx" }, t.nacks_tx)

    -- response times of the requests we sent, cumulative buckets in seconds;
    -- the bounds are the engine's (the last bucket has none: +Inf)
    family("smppgw_response_time_seconds", "histogram", "Time from sending a request to its response.")
    local cum = 0
    for i, n in ipairs(t.response_time_buckets) do
        local bound = t.response_time_bounds_ms[i]
        cum = cum + n
        sample("smppgw_response_time_seconds_bucket", { le = num(bound and bound / 1000 or math.huge) }, cum)
    end
    sample("smppgw_response_time_seconds_sum", nil, (t.avg_response_ms or 0) * cum / 1000)
    sample("smppgw_response_time_seconds_count", nil, cum)

    M.render_groups(t, family, sample)

    family("smppgw_lua_heap_bytes", "gauge", "Bytes the Lua heap holds (scripts and the runtime's tables).")
    sample("smppgw_lua_heap_bytes", nil, t.lua_heap_bytes)
    family("smppgw_lua_heap_limit_bytes", "gauge", "The Lua heap's ceiling, scripts.memory_mb (0: none).")
    sample("smppgw_lua_heap_limit_bytes", nil, t.lua_heap_limit_bytes)
    family("smppgw_lua_heap_cached_bytes", "gauge",
        "Freed small blocks of the Lua heap kept for reuse, beside the heap's count.")
    sample("smppgw_lua_heap_cached_bytes", nil, t.lua_heap_cached_bytes)
    family("smppgw_lua_heap_cached_limit_bytes", "gauge", "The bound of those kept blocks.")
    sample("smppgw_lua_heap_cached_limit_bytes", nil, t.lua_heap_cached_limit_bytes)

    family("smppgw_uptime_seconds", "gauge", "Seconds since the process started.")
    sample("smppgw_uptime_seconds", nil, t.uptime_s)

    if stats.upstreams and #stats.upstreams > 0 then
        family("smppgw_upstream_binds_up", "gauge", "Bound sessions of each upstream link.")
        for _, u in ipairs(stats.upstreams) do sample("smppgw_upstream_binds_up", { upstream = u.name }, u.binds_up) end
        family("smppgw_upstream_unanswered", "gauge", "1 while the upstream counts as unusable: max_timeouts "
            .. "requests in a row went unanswered (one message at a time tries it).")
        for _, u in ipairs(stats.upstreams) do
            sample("smppgw_upstream_unanswered", { upstream = u.name }, u.unanswered and 1 or 0)
        end
        family("smppgw_upstream_timeouts_in_row", "gauge", "Requests to the upstream timed out since its last answer.")
        for _, u in ipairs(stats.upstreams) do
            sample("smppgw_upstream_timeouts_in_row", { upstream = u.name }, u.timeouts_in_row or 0)
        end
        family("smppgw_upstream_outstanding", "gauge", "Requests waiting for the upstream's response.")
        for _, u in ipairs(stats.upstreams) do sample("smppgw_upstream_outstanding", { upstream = u.name }, u.outstanding) end
        family("smppgw_upstream_messages_total", "counter", "Messages sent to each upstream by outcome.")
        for _, u in ipairs(stats.upstreams) do
            for _, k in ipairs { "ok", "error", "failed", "throttled", "not_sent" } do
                sample("smppgw_upstream_messages_total", { upstream = u.name, result = k }, u[k])
            end
        end
        family("smppgw_upstream_reconnects_total", "counter", "Reconnect attempts of each upstream link.")
        for _, u in ipairs(stats.upstreams) do sample("smppgw_upstream_reconnects_total", { upstream = u.name }, u.reconnects) end
    end
    if stats.gateway then
        local g = stats.gateway
        family("smppgw_gateway_events_total", "counter", "Gateway outcomes: queued, no_route, failed_over, mo, ...")
        for _, k in ipairs(sorted_keys(g)) do
            if type(g[k]) == "number" and k ~= "receipt_origins" then
                sample("smppgw_gateway_events_total", { event = k }, g[k])
            end
        end
        if g.receipt_origins then
            family("smppgw_gateway_receipt_origins", "gauge", "Messages whose ESME session is remembered so "
                .. "that their receipts go back on it (bounded: the newest 131072).")
            sample("smppgw_gateway_receipt_origins", {}, g.receipt_origins)
        end
        if g.queues and next(g.queues) then
            local names = sorted_keys(g.queues)
            family("smppgw_gateway_queue", "gauge", "Messages waiting in each upstream's queue in the store "
                .. "(bounded by store.limits.messages).")
            for _, n in ipairs(names) do sample("smppgw_gateway_queue", { upstream = n }, g.queues[n].queued) end
            family("smppgw_gateway_queue_limit", "gauge", "upstreams[].max_queue of each queue (0: none of its own).")
            for _, n in ipairs(names) do sample("smppgw_gateway_queue_limit", { upstream = n }, g.queues[n].max_queue or 0) end
            family("smppgw_gateway_inflight", "gauge", "Messages sent to each upstream, answer awaited.")
            for _, n in ipairs(names) do sample("smppgw_gateway_inflight", { upstream = n }, g.queues[n].inflight) end
            family("smppgw_gateway_parked", "gauge", "Messages stored by handler runs that have not ended "
                .. "(forwarded once they end well; max_queue counts them).")
            for _, n in ipairs(names) do sample("smppgw_gateway_parked", { upstream = n }, g.queues[n].parked or 0) end
            family("smppgw_gateway_forwarded_total", "counter",
                "Messages forwarded from the queues, by upstream and outcome.")
            for _, n in ipairs(names) do
                for _, k in ipairs { "sent", "accepted", "retried", "throttled", "refused", "expired", "moved" } do
                    sample("smppgw_gateway_forwarded_total", { upstream = n, result = k }, g.queues[n][k])
                end
            end
            family("smppgw_gateway_receipts_total", "counter", "Receipts from each upstream, by outcome.")
            for _, n in ipairs(names) do
                for _, k in ipairs { "receipts", "receipts_early", "receipts_early_matched", "receipts_unmatched",
                                     "receipts_refused", "receipts_repeated" } do
                    sample("smppgw_gateway_receipts_total", { upstream = n, result = k }, g.queues[n][k])
                end
            end
        end
    end
    if stats.gateway and (stats.gateway.routes or stats.gateway.accounts) then
        M.render_answers(stats.gateway, family, sample)
    end
    if stats.store then
        local st = stats.store
        local tables = { "messages", "outbox", "early", "sticky" }
        family("smppgw_store_rows", "gauge", "Rows in each table of the store (messages, outbox, early, "
            .. "sticky: long messages whose parts follow the first one's route).")
        for _, k in ipairs(tables) do if st[k] then sample("smppgw_store_rows", { table = k }, st[k].value) end end
        family("smppgw_store_rows_limit", "gauge", "The configured bound of each table of the store.")
        for _, k in ipairs(tables) do
            if st[k] then sample("smppgw_store_rows_limit", { table = k }, st[k].limit) end
        end
        family("smppgw_store_bytes", "gauge", "Size of the store's database file.")
        sample("smppgw_store_bytes", nil, st.bytes.value)
        family("smppgw_store_bytes_limit", "gauge", "store.limits.size_mb in bytes (0: none).")
        sample("smppgw_store_bytes_limit", nil, st.bytes.limit)
        family("smppgw_store_commits_total", "counter", "Group commits (one per loop turn that wrote).")
        sample("smppgw_store_commits_total", nil, st.commits)
        family("smppgw_store_commit_failures_total", "counter", "Commits that failed (their answers became errors).")
        sample("smppgw_store_commit_failures_total", nil, st.commit_failures)
        family("smppgw_store_lost_writes_total", "counter", "Writes lost with failed commits.")
        sample("smppgw_store_lost_writes_total", nil, st.lost_writes)
        family("smppgw_store_held_answers_total", "counter", "Answers held until their turn's commit.")
        sample("smppgw_store_held_answers_total", nil, st.held_answers)
        family("smppgw_store_commit_seconds", "histogram", "Time one group commit took.")
        local cum = 0
        for i, n in ipairs(st.commit_ms.buckets) do
            local bound = st.commit_ms.bounds[i]
            cum = cum + n
            sample("smppgw_store_commit_seconds_bucket", { le = num(bound and bound / 1000 or math.huge) }, cum)
        end
        sample("smppgw_store_commit_seconds_sum", nil, st.commit_ms.sum / 1000)
        sample("smppgw_store_commit_seconds_count", nil, cum)
        family("smppgw_store_expired_total", "counter",
            "Rows expiry removed: messages (unfinished: never final), outbox (never delivered), early (never matched), "
            .. "sticky (long messages' routes).")
        for _, k in ipairs { "messages", "unfinished", "outbox", "early", "sticky" } do
            if st.expired[k] then sample("smppgw_store_expired_total", { what = k }, st.expired[k]) end
        end
    end
    if stats.outbox then
        family("smppgw_outbox_total", "counter", "Receipts and MO through the accounts' outboxes, by outcome.")
        for _, k in ipairs { "posted", "full", "delivered", "refused", "retried", "undeliverable" } do
            sample("smppgw_outbox_total", { result = k }, stats.outbox[k])
        end
        family("smppgw_outbox_inflight", "gauge", "Receipts and MO sent to receivers, response awaited.")
        sample("smppgw_outbox_inflight", nil, stats.outbox.inflight)
        if stats.outbox.preferred then
            family("smppgw_outbox_preferred", "gauge", "Outbox items to be delivered on a given session (a "
                .. "receipt: the one its message came in on; bounded: the newest 16384).")
            sample("smppgw_outbox_preferred", nil, stats.outbox.preferred)
        end
    end
    if stats.accounts and next(stats.accounts) then
        local names = sorted_keys(stats.accounts)
        family("smppgw_account_sessions", "gauge", "Sessions bound under each account, by bind type.")
        for _, n in ipairs(names) do
            for _, b in ipairs { "transmitter", "receiver", "transceiver" } do
                sample("smppgw_account_sessions", { account = n, bind_type = b }, stats.accounts[n].bound[b])
            end
        end
        family("smppgw_account_outbox", "gauge", "Receipts and MO waiting in each account's outbox.")
        for _, n in ipairs(names) do sample("smppgw_account_outbox", { account = n }, stats.accounts[n].outbox) end
    end
    if stats.webhooks and next(stats.webhooks) then
        local names, w = sorted_keys(stats.webhooks), stats.webhooks
        family("smppgw_webhook_queue", "gauge", "Receipts and MO waiting for each account's webhook (its outbox).")
        for _, n in ipairs(names) do sample("smppgw_webhook_queue", { account = n }, w[n].queue) end
        family("smppgw_webhook_queue_limit", "gauge", "The bound of each webhook's queue (store outbox_per_account).")
        for _, n in ipairs(names) do sample("smppgw_webhook_queue_limit", { account = n }, w[n].limit or 0) end
        family("smppgw_webhook_inflight", "gauge", "Posts to each account's webhook under way.")
        for _, n in ipairs(names) do sample("smppgw_webhook_inflight", { account = n }, w[n].inflight) end
        family("smppgw_webhook_total", "counter",
            "Posts to each account's webhook by outcome (failed: tried again later), and posts refused at the bound.")
        for _, n in ipairs(names) do
            for _, k in ipairs { "delivered", "failed", "refused" } do
                sample("smppgw_webhook_total", { account = n, result = k }, w[n][k])
            end
        end
    end
    family("smppgw_input_pauses_total", "counter", "Times a session stopped being read: its peer did not read its answers.")
    sample("smppgw_input_pauses_total", nil, t.input_pauses)
    if stats.gauges and next(stats.gauges) then
        local names = sorted_keys(stats.gauges)
        family("smppgw_script_gauge", "gauge", "Levels scripts report with smpp.gauge (held receipts, stored messages).")
        for _, k in ipairs(names) do
            if stats.gauges[k].value then sample("smppgw_script_gauge", { name = k }, stats.gauges[k].value) end
        end
        family("smppgw_script_gauge_limit", "gauge", "The configured ceiling of each script gauge.")
        for _, k in ipairs(names) do
            if stats.gauges[k].limit then sample("smppgw_script_gauge_limit", { name = k }, stats.gauges[k].limit) end
        end
    end
    if stats.cluster and stats.cluster.redis then                 -- smpp.cluster
        local r = stats.cluster.redis
        family("smppgw_redis_up", "gauge", "Links to the cluster's Redis that are up (one per process).")
        sample("smppgw_redis_up", nil, r.up)
        family("smppgw_redis_commands_total", "counter", "Commands sent to Redis, answered, failed, refused (link down).")
        for _, k in ipairs { "commands", "replies", "errors", "refused" } do
            sample("smppgw_redis_commands_total", { result = k }, r[k])
        end
        family("smppgw_redis_disconnects_total", "counter", "Times the link to Redis was lost.")
        sample("smppgw_redis_disconnects_total", nil, r.disconnects)
    end
    if stats.workers then                                         -- smpp.workers (the parent)
        local running, restarts = 0, 0
        for _, w in ipairs(stats.workers) do
            running, restarts = running + (w.running and 1 or 0), restarts + w.restarts
        end
        family("smppgw_workers_running", "gauge", "Worker processes running.")
        sample("smppgw_workers_running", nil, running)
        family("smppgw_worker_restarts_total", "counter", "Workers restarted after they exited.")
        sample("smppgw_worker_restarts_total", nil, restarts)
    end
    return concat(out, "\n") .. "\n"
end

return M
