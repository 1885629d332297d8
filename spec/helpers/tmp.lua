-- helpers.tmp -- temporary directories and files for specs: all under one
-- root per busted process ($TMPDIR, else /tmp), each removed when the test
-- or describe that made it ends (helpers.cleanup), the root when busted
-- exits. `make test` points TMPDIR at a directory it checks is empty after.
local cleanup = require "helpers.cleanup"
local ffi = require "ffi"
local lfs = require "lfs"

ffi.cdef [[
char *mkdtemp(char *template);
int mkstemp(char *template);
int close(int fd);
]]

local M = {}

-- A fresh name from a "...XXXXXX" template, made by mkdtemp or mkstemp.
local function make(template, dir)
    local buf = ffi.new("char[?]", #template + 1)
    ffi.copy(buf, template)
    if dir then
        assert(ffi.C.mkdtemp(buf) ~= nil, "mkdtemp " .. template .. " failed")
    else
        local fd = ffi.C.mkstemp(buf)
        assert(fd >= 0, "mkstemp " .. template .. " failed")
        ffi.C.close(fd)
    end
    return ffi.string(buf)
end

-- remove(path): delete a file, or a directory and everything under it.
function M.remove(path)
    local attr = lfs.symlinkattributes(path)
    if not attr then return end
    if attr.mode == "directory" then
        for name in lfs.dir(path) do
            if name ~= "." and name ~= ".." then M.remove(path .. "/" .. name) end
        end
        lfs.rmdir(path)
    else
        os.remove(path)
    end
end

local root
local function the_root()
    if not root then
        local base = os.getenv("TMPDIR")
        if not base or base == "" then base = "/tmp" end
        root = make(base .. "/smppgw-spec-XXXXXX", true)
        local mine = root
        -- whatever a spec left in the root goes with it when the run ends
        cleanup.at_exit(function() M.remove(mine) end, "temporary root " .. mine)
    end
    return root
end

-- dir() -> path of a new empty directory, removed at the end of the scope.
function M.dir()
    local d = make(the_root() .. "/d-XXXXXX", true)
    cleanup.defer(function() M.remove(d) end, "temporary directory " .. d)
    return d
end

-- name() -> path of a new empty file, removed at the end of the scope
-- (os.tmpname's contract; spec/helpers/init.lua installs it as os.tmpname).
function M.name()
    local f = make(the_root() .. "/f-XXXXXX", false)
    cleanup.defer(function() M.remove(f) end, "temporary file " .. f)
    return f
end

-- write(path, text): create or replace a file with text.
function M.write(path, text)
    local f = assert(io.open(path, "wb"))
    f:write(text)
    f:close()
    return path
end

-- read(path) -> its content, or "" if it does not exist.
function M.read(path)
    local f = io.open(path, "rb")
    if not f then return "" end
    local s = f:read("*a")
    f:close()
    return s
end

return M
