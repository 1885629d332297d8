-- dashboard_spec -- the dashboard in a real browser (headless Chromium from
-- Debian, installed by `make test`): with traffic running, the page must
-- show the live session and a chart fed by /stats.
local server = require "helpers.server"
local run = require "helpers.run"
local tmp = require "helpers.tmp"
local wait_until = require("helpers.wait").wait_until

local CHROMIUM = "/usr/bin/chromium"

describe("#integration dashboard in a browser", function()
    it("shows the live sessions table and throughput chart", function()
        local srv = server.start { conf = server.smsc_conf() }
        -- traffic while the page loads: 2000 submit_sm/s until the test ends
        run.spawn(string.format("exec %s bench --quiet --rate 2000 --duration 120 127.0.0.1:%d",
            run.quote(run.bin), srv.port))
        assert.is_truthy(wait_until(function()
            local sm = srv:stats().totals.commands.submit_sm
            return sm and sm.rx >= 1000
        end, 10), "the bench's traffic did not arrive")
        -- Headless Chromium runs the page in virtual time: its polls of
        -- /stats would be milliseconds apart in real time, too short a
        -- window to measure a rate in. Through a proxy that holds each
        -- request 0.1 s they are 0.1 s apart.
        local proxy = run.spawn(string.format("exec luajit spec/helpers/delay_proxy.lua %d 0.1", srv.http_port))
        local via = wait_until(function() return proxy:log_text():match("listening on (%d+)") end)
        assert.is_not_nil(via, proxy:log_text())
        -- the rate the server sees while the page runs: the chart must show
        -- it (the bench asks 2000/s; a busy machine may give it less)
        local function pdus_in()
            local st = srv:stats()
            return st.totals.rx_pdus, st.now_ms
        end
        local p0, t0 = pdus_in()
        local profile = tmp.dir()
        local dom = run.sh(string.format("timeout 60 %s --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
            .. "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
            .. "--user-data-dir=%s --virtual-time-budget=6000 --dump-dom http://127.0.0.1:%d/",
            CHROMIUM, profile, via))
        local p1, t1 = pdus_in()
        local seen = (p1 - p0) / ((t1 - t0) / 1000)
        assert.is_true(seen > 0, "no traffic while the page ran")
        -- the sessions table has the bench's bound session
        local row = dom:match('<tr data%-id="%d+">(.-)</tr>')
        assert.is_not_nil(row, dom:sub(1, 2000))
        assert.matches(">smppclient1<", row)
        assert.matches(">transceiver<", row)
        -- the chart got points from /stats and shows the traffic rate
        local points, rate = dom:match('data%-points="(%d+)" data%-last%-rate="(%d+)"')
        assert.is_true(tonumber(points) >= 2, "points " .. tostring(points))
        assert.is_true(tonumber(rate) >= 0.5 * seen and tonumber(rate) <= 2.5 * seen,
            ("chart %s/s, server %d/s"):format(tostring(rate), seen))
        -- the accounts table: the bench's account, bound once as a transceiver
        local acct = dom:match('<tr data%-account="smppclient1">(.-)</tr>')
        assert.is_not_nil(acct, dom:sub(1, 2000))
        assert.matches("^<td[^>]*>smppclient1</td><td>0</td><td>0</td><td>1</td>", acct)
        assert.matches('sessions%-shown">%(newest 1 of 1%)<', dom)
        assert.matches('id="open">1<', dom)
        assert.matches('id="error"></div>', dom)        -- no error reading /stats
    end)
end)
