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
        local profile = tmp.dir()
        local dom = run.sh(string.format("timeout 60 %s --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
            .. "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
            .. "--user-data-dir=%s --virtual-time-budget=6000 --dump-dom http://127.0.0.1:%d/",
            CHROMIUM, profile, srv.http_port))
        -- the sessions table has the bench's bound session
        local row = dom:match('<tr data%-id="%d+">(.-)</tr>')
        assert.is_not_nil(row, dom:sub(1, 2000))
        assert.matches(">smppclient1<", row)
        assert.matches(">transceiver<", row)
        -- the chart got points from /stats and shows the traffic rate
        local points, rate = dom:match('data%-points="(%d+)" data%-last%-rate="(%d+)"')
        assert.is_true(tonumber(points) >= 2, "points " .. tostring(points))
        assert.is_true(tonumber(rate) >= 1000 and tonumber(rate) <= 5000, "rate " .. tostring(rate))
        assert.matches('id="open">1<', dom)
        assert.matches('id="error"></div>', dom)        -- no error reading /stats
    end)
end)
