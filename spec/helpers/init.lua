-- helpers.init -- loaded by busted before any spec file (.busted names it):
-- the cleanup scopes then span every file of the run, and os.tmpname()
-- makes its files under the run's temporary root (helpers.tmp), removed
-- when the test that asked for one ends, so a forgotten os.remove leaves
-- nothing behind in /tmp.
require "helpers.cleanup"
os.tmpname = require("helpers.tmp").name
