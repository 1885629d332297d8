-- cli_options_spec -- every verb answers --help with its own usage (exit
-- 0, nothing else done) and refuses an unknown option by name (exit 2).
local run = require "helpers.run"
local security = require "smpp.security"

-- verb -> what its usage starts with
local VERBS = {
    decode = "usage: smppgw decode", encode = "usage: smppgw encode", run = "usage: smppgw %[run%]",
    check = "usage: smppgw check", send = "usage: smppgw send", passwd = "usage: smppgw passwd",
    bench = "usage: smppgw bench", messages = "usage: smppgw messages",
}

describe("smppgw VERB --help", function()
    for verb, usage in pairs(VERBS) do
        it(verb .. " --help prints its usage and exits 0", function()
            local out, err, rc = run.smppgw({ verb, "--help" })
            assert.equal(0, rc, err)
            assert.matches("^" .. usage, out)
            local out2, _, rc2 = run.smppgw({ "help", verb })
            assert.equal(0, rc2)
            assert.equal(out, out2)
        end)
    end

    it("passwd --help hashes nothing (it used to hash the word --help)", function()
        local out, _, rc = run.smppgw({ "passwd", "--help" })
        assert.equal(0, rc)
        assert.is_nil(out:find("pbkdf2", 1, true))
    end)

    it("run's usage also answers a config followed by --help, without starting", function()
        local out, _, rc = run.smppgw({ "conf/smppgw.lua", "--help" })
        assert.equal(0, rc)
        assert.matches("^usage: smppgw %[run%]", out)
    end)
end)

describe("smppgw VERB --unknown", function()
    for verb in pairs(VERBS) do
        it(verb .. " refuses --frobnicate as an unknown option with exit 2, with or without a value", function()
            for _, args in ipairs { { verb, "--frobnicate", "x" }, { verb, "--frobnicate" } } do
                local out, err, rc = run.smppgw(args, "")
                assert.equal(2, rc)
                assert.matches("unknown option %-%-frobnicate", err)
                assert.is_nil(out:find("pbkdf2", 1, true))
            end
        end)
    end

    it("passwd takes a password starting with - after --, and one password only", function()
        local out, err, rc = run.smppgw({ "passwd", "--", "-s3cret" })
        assert.equal(0, rc, err)
        assert.is_true(security.verify(out:match("^(%S+)\n$"), "-s3cret"))
        _, err, rc = run.smppgw({ "passwd", "a", "b" })
        assert.equal(2, rc)
        assert.matches("one password only", err)
        out, _, rc = run.smppgw({ "passwd" }, "from-stdin\n")
        assert.equal(0, rc)
        assert.is_true(security.verify(out:match("^(%S+)\n$"), "from-stdin"))
    end)
end)
