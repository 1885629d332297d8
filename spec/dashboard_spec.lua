-- dashboard_spec -- the dashboard in a real browser (headless Chromium from
-- Debian, installed by `make test`): with traffic running, the page must
-- show the live session and a chart fed by /stats.
local server = require "helpers.server"
local run = require "helpers.run"

local CHROMIUM = "/usr/bin/chromium"

describe("#integration dashboard in a browser", function()
    it("shows the live sessions table and throughput chart", function()
        local srv = server.start { conf_file = "conf/smppgw.lua" }
        -- traffic while the page loads: 2000 submit_sm/s for a while
        os.execute(string.format("%s bench --quiet --rate 2000 --duration 15 127.0.0.1:%d > /dev/null 2>&1 &",
            run.bin, srv.port))
        require("socket").sleep(1.5)
        local profile = os.tmpname()
        os.remove(profile)
        local dom = run.sh(string.format("timeout 60 %s --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
            .. "--disable-background-networking --disable-component-update --disable-sync --no-first-run "
            .. "--user-data-dir=%s --virtual-time-budget=6000 --dump-dom http://127.0.0.1:%d/",
            CHROMIUM, profile, srv.http_port))
        os.execute("rm -rf " .. profile)
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
        srv:stop("TERM", 5)
    end)
end)
