-- api.lua - the wrk script of the sipward benchmark; the modes and their
-- arguments are described in common.lua, next to this file.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local M = dofile(here .. "common.lua")
setup = M.setup
init = M.init
request = M.request
done = M.done
