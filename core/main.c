/* main.c -- the smppgw program: sets up LuaJIT with the smpp library and
 * hands the command line to lua/smpp/cli.lua, which owns the verbs.
 */
#define _DEFAULT_SOURCE                   /* realpath */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include "lbridge.h"
#include "load.h"
#include "lstore.h"
#include "lstring.h"
#include "rt_heap.h"
#include "rt_serve.h"

/* Where lua/ lives: $SMPPGW_LUA_DIR, else ../lua beside the binary (the
 * build tree: build/smppgw -> lua/), ../../lua (a build of its own inside
 * it: build/asan-suite/smppgw), else the installed share directory. */
static void lua_dir(char *out, size_t n)
{
    const char *env = getenv("SMPPGW_LUA_DIR");
    char exe[PATH_MAX];
    ssize_t len;
    if (env && *env) {
        snprintf(out, n, "%s", env);
        return;
    }
    len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        char *slash;
        exe[len] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL) *slash = '\0';
        if ((size_t)snprintf(out, n, "%s/../lua", exe) < n && access(out, R_OK) == 0) return;
        if ((size_t)snprintf(out, n, "%s/../../lua", exe) < n && access(out, R_OK) == 0) return;
        if ((size_t)snprintf(out, n, "%s/../share/smppgw/lua", exe) < n && access(out, R_OK) == 0)
            return;
    }
    snprintf(out, n, "lua");
}

/* package[field] = prefix .. the absolute entries of what it was: the
 * defaults begin with ./?.lua and ./?.so (and LUA_PATH may add relative
 * ones), so a cjson.lua in the working directory was loaded as the module,
 * outside the sandbox, by the runtime or a script's require. */
static void absolute_only(lua_State *L, const char *field, const char *prefix)
{
    luaL_Buffer b;
    const char *p, *end;
    lua_getfield(L, -1, field);
    p = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    luaL_buffinit(L, &b);
    luaL_addstring(&b, prefix);
    for (; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ';');
        if (!end) end = p + strlen(p);
        if (*p != '/' || end == p) continue;
        if (b.p > b.buffer || b.lvl > 0) luaL_addchar(&b, ';');
        luaL_addlstring(&b, p, (size_t)(end - p));
    }
    luaL_pushresult(&b);
    lua_setfield(L, -3, field);
    lua_pop(L, 1);
}

static int traceback(lua_State *L)
{
    lua_getfield(L, LUA_GLOBALSINDEX, "debug");
    lua_getfield(L, -1, "traceback");
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 2);
    lua_call(L, 2, 1);
    return 1;
}

int main(int argc, char **argv)
{
    char dir[PATH_MAX], real[PATH_MAX], path[PATH_MAX * 2 + 64];
    lua_State *L = rt_heap_newstate();   /* the allocator that holds scripts.memory_mb */
    int i, rc;

    /* the load generator is C on the session engine: no Lua needed (and
     * `smppgw help bench` is its --help) */
    if (argc > 1 && strcmp(argv[1], "bench") == 0) {
        if (L) lua_close(L);
        return load_main(argc - 1, argv + 1);
    }
    if (argc == 3 && strcmp(argv[1], "help") == 0 && strcmp(argv[2], "bench") == 0) {
        char *help[] = {argv[2], (char *)"--help", NULL};
        if (L) lua_close(L);
        return load_main(2, help);
    }
    if (!L) {
        fprintf(stderr, "smppgw: cannot create the Lua state\n");
        return 1;
    }
    /* a file size limit (ulimit -f) fails a write (EFBIG), as a full disk
     * does: from the start, so that opening a store under it is answered
     * too, never the process killed */
    signal(SIGXFSZ, SIG_IGN);
    luaL_openlibs(L);
    lstring_install(L);                  /* patterns that a script budget can stop */

    /* package.path gets lua/ first (absolute), then the absolute entries
     * of LuaJIT's (the system's lua-cjson); package.cpath the absolute
     * entries alone: nothing from the working directory. smpp.core,
     * smpp.codec and the store are linked in, not loaded. */
    lua_dir(dir, sizeof dir);
    if (realpath(dir, real)) snprintf(dir, sizeof dir, "%s", real);
    snprintf(path, sizeof path, "%s/?.lua;%s/?/init.lua", dir, dir);
    lua_getglobal(L, "package");
    absolute_only(L, "path", path);
    absolute_only(L, "cpath", "");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_smpp_core);
    lua_setfield(L, -2, "smpp.core");
    lua_pushcfunction(L, luaopen_smpp_store_sqlite);
    lua_setfield(L, -2, "smpp.store_sqlite");
    lua_pushcfunction(L, luaopen_smpp_codec);
    lua_setfield(L, -2, "smpp.codec");
    lua_pop(L, 2);

    /* rc = require("smpp.cli").main({argv...}) */
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "smpp.cli");
    if (lua_pcall(L, 1, 1, 1) != 0) {
        fprintf(stderr, "smppgw: %s\n(lua dir: %s; set SMPPGW_LUA_DIR)\n", lua_tostring(L, -1), dir);
        return 1;
    }
    lua_getfield(L, -1, "main");
    lua_createtable(L, argc, 0);
    for (i = 1; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i);
    }
    if (lua_pcall(L, 1, 1, 1) != 0) {
        /* an error raised on a task's coroutine outside any protected call
         * arrives here without its message (nothing on this stack) */
        const char *msg = lua_tostring(L, -1);
        if (msg) fprintf(stderr, "smppgw: %s\n", msg);
        else fprintf(stderr, "smppgw: an error outside any protected call (no message: most likely the Lua "
                             "heap's ceiling and reserve were exhausted, scripts.memory_mb)\n");
        return 1;
    }
    rc = (int)lua_tointeger(L, -1);
    lua_close(L);
    return rc;
}
