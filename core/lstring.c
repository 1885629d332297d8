/* lstring.c -- Lua patterns that ask the script budget as they work, and
 * string results bounded in size (see lstring.h).
 *
 * The matcher follows the pattern rules of the Lua 5.1 manual (section
 * 5.4.1) as LuaJIT 2.1 applies them: a pattern ends at its first NUL; the
 * character classes are ASCII; `%f` (frontier) is supported; `^` anchors
 * find, match and gsub but is an ordinary character in gmatch; %g (the
 * printable characters but space) is a class; at most 32
 * captures and 200 nested steps ("pattern too complex"), as in LuaJIT.
 */
#include <math.h>
#include <setjmp.h>
#include <string.h>

#include <lauxlib.h>

#include "lstring.h"

#define PAT_ESC        '%'
#define PAT_SPECIALS   "^$*+?.([%-"    /* a find without them is a plain search */
#define PAT_MAXCAPS    32
#define PAT_MAXDEPTH   200
#define CAP_UNFINISHED (-1)
#define CAP_POSITION   (-2)

static struct {
    size_t           max_string;   /* 0: no bound */
    lstring_check_fn check;        /* NULL: no budget */
} limits;

void lstring_set_limits(size_t max_string, lstring_check_fn check)
{
    limits.max_string = max_string;
    limits.check = check;
}

/* -- The matcher -------------------------------------------------------------- */

typedef struct pat_s {
    lua_State  *L;
    const char *src, *src_end;     /* the subject */
    int         level;             /* captures opened so far */
    int         depth;             /* nested match calls */
    unsigned    steps;             /* left until the next budget check */
    lua_Integer limit, used;       /* find_steps: its own bound (0: none) */
    jmp_buf    *out;               /* where find_steps gives up */
    struct {
        const char *init;
        ptrdiff_t   len;           /* or CAP_UNFINISHED, CAP_POSITION */
    } cap[PAT_MAXCAPS];
} pat_t;

static const char *pat_match(pat_t *m, const char *s, const char *p);

/* One unit of work: every LSTRING_CHECK_STEPS of them, ask the budget. */
static void pat_step(pat_t *m)
{
    if (m->limit && ++m->used > m->limit) longjmp(*m->out, 1);
    if (--m->steps == 0) {
        m->steps = LSTRING_CHECK_STEPS;
        if (limits.check) limits.check(m->L);
    }
}

static int is_upper(int c) { return c >= 'A' && c <= 'Z'; }
static int is_lower(int c) { return c >= 'a' && c <= 'z'; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Does character c belong to class letter cl (%a, %D...)? ASCII only, as
 * LuaJIT; a letter that names no class, or any other character, stands
 * for itself (%. is a dot). */
static int pat_class(int c, int cl)
{
    int in;
    switch (is_upper(cl) ? cl + ('a' - 'A') : cl) {
    case 'a': in = is_upper(c) || is_lower(c); break;
    case 'd': in = is_digit(c); break;
    case 'l': in = is_lower(c); break;
    case 'u': in = is_upper(c); break;
    case 's': in = c == ' ' || (c >= '\t' && c <= '\r'); break;
    case 'c': in = c < 32 || c == 127; break;
    case 'g': in = c > 32 && c < 127; break;     /* printable but space (LuaJIT has it) */
    case 'p': in = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96)
                   || (c >= 123 && c <= 126); break;
    case 'w': in = is_upper(c) || is_lower(c) || is_digit(c); break;
    case 'x': in = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); break;
    case 'z': in = c == 0; break;
    default: return cl == c;
    }
    return is_upper(cl) ? !in : in;
}

/* The end of the single-character class that starts at p (after `%x`,
 * `[set]` or one character). */
static const char *pat_class_end(pat_t *m, const char *p)
{
    char c = *p++;
    if (c == PAT_ESC) {
        if (*p == '\0') luaL_error(m->L, "malformed pattern (ends with '%%')");
        return p + 1;
    }
    if (c == '[') {
        if (*p == '^') p++;
        /* the first character of a set is never its end: `[]]` holds `]` */
        do {
            if (*p == '\0') luaL_error(m->L, "malformed pattern (missing ']')");
            if (*p++ == PAT_ESC && *p != '\0') p++;
        } while (*p != ']');
        return p + 1;
    }
    return p;
}

/* Is c in the set [...] that starts at p ('[') and ends at last (']')? */
static int pat_set(int c, const char *p, const char *last)
{
    int want = 1;
    if (p[1] == '^') {
        want = 0;
        p++;
    }
    for (p++; p < last; p++) {
        if (*p == PAT_ESC) {
            p++;
            if (pat_class(c, (unsigned char)*p)) return want;
        } else if (p[1] == '-' && p + 2 < last) {
            if ((unsigned char)p[0] <= c && c <= (unsigned char)p[2]) return want;
            p += 2;
        } else if ((unsigned char)*p == c) {
            return want;
        }
    }
    return !want;
}

/* Does the character at s match the class p..ep (ep: its end)? */
static int pat_single(pat_t *m, const char *s, const char *p, const char *ep)
{
    int c;
    if (s >= m->src_end) return 0;
    c = (unsigned char)*s;
    switch (*p) {
    case '.': return 1;
    case PAT_ESC: return pat_class(c, (unsigned char)p[1]);
    case '[': return pat_set(c, p, ep - 1);
    default: return (unsigned char)*p == c;
    }
}

/* x*: the longest run first, then shorter ones. */
static const char *pat_longest(pat_t *m, const char *s, const char *p, const char *ep)
{
    ptrdiff_t n = 0;
    while (pat_single(m, s + n, p, ep)) {
        n++;
        pat_step(m);
    }
    for (; n >= 0; n--) {
        const char *e = pat_match(m, s + n, ep + 1);
        if (e) return e;
    }
    return NULL;
}

/* x-: the shortest run first, then longer ones. */
static const char *pat_shortest(pat_t *m, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *e = pat_match(m, s, ep + 1);
        if (e) return e;
        if (!pat_single(m, s, p, ep)) return NULL;
        s++;
    }
}

static const char *pat_open(pat_t *m, const char *s, const char *p, ptrdiff_t what)
{
    const char *e;
    if (m->level >= PAT_MAXCAPS) luaL_error(m->L, "too many captures");
    m->cap[m->level].init = s;
    m->cap[m->level].len = what;
    m->level++;
    if ((e = pat_match(m, s, p)) == NULL) m->level--;
    return e;
}

static const char *pat_close(pat_t *m, const char *s, const char *p)
{
    const char *e;
    int i;
    for (i = m->level - 1; i >= 0 && m->cap[i].len != CAP_UNFINISHED; i--) {}
    if (i < 0) luaL_error(m->L, "invalid pattern capture");
    m->cap[i].len = s - m->cap[i].init;
    if ((e = pat_match(m, s, p)) == NULL) m->cap[i].len = CAP_UNFINISHED;
    return e;
}

/* %1..%9: the text of an earlier capture again. */
static const char *pat_backref(pat_t *m, const char *s, int digit)
{
    int i = digit - '1';
    size_t len;
    if (i < 0 || i >= m->level || m->cap[i].len == CAP_UNFINISHED)
        luaL_error(m->L, "invalid capture index");
    len = (size_t)m->cap[i].len;       /* a position capture's never fits */
    if ((size_t)(m->src_end - s) >= len && memcmp(m->cap[i].init, s, len) == 0) return s + len;
    return NULL;
}

/* %bxy at s: x, then anything with x and y balanced, then y. */
static const char *pat_balance(pat_t *m, const char *s, const char *p)
{
    int open, close, depth = 1;
    if (p[0] == '\0' || p[1] == '\0') luaL_error(m->L, "unbalanced pattern");
    if (s >= m->src_end || *s != p[0]) return NULL;
    open = p[0];
    close = p[1];
    while (++s < m->src_end) {
        pat_step(m);
        if (*s == close) {
            if (--depth == 0) return s + 1;
        } else if (*s == open) {
            depth++;
        }
    }
    return NULL;
}

/* Match pattern p at s: the end of the match, or NULL. Simple steps loop
 * here; repetitions and captures recurse (bounded by PAT_MAXDEPTH). */
static const char *pat_match(pat_t *m, const char *s, const char *p)
{
    const char *ep;
    if (++m->depth > PAT_MAXDEPTH) luaL_error(m->L, "pattern too complex");
    for (;;) {
        pat_step(m);
        switch (*p) {
        case '\0':                                  /* the whole pattern matched */
            goto done;
        case '(':
            s = p[1] == ')' ? pat_open(m, s, p + 2, CAP_POSITION) : pat_open(m, s, p + 1, CAP_UNFINISHED);
            goto done;
        case ')':
            s = pat_close(m, s, p + 1);
            goto done;
        case '$':
            if (p[1] != '\0') break;                /* not the last: an ordinary character */
            if (s != m->src_end) s = NULL;
            goto done;
        case PAT_ESC:
            if (p[1] == 'b') {
                if ((s = pat_balance(m, s, p + 2)) == NULL) goto done;
                p += 4;
                continue;
            }
            if (p[1] == 'f') {
                int before;
                p += 2;
                if (*p != '[') luaL_error(m->L, "missing '[' after '%%f' in pattern");
                ep = pat_class_end(m, p);
                before = s == m->src ? '\0' : (unsigned char)s[-1];
                if (pat_set(before, p, ep - 1)
                    || !pat_set(s < m->src_end ? (unsigned char)*s : '\0', p, ep - 1)) {
                    s = NULL;
                    goto done;
                }
                p = ep;
                continue;
            }
            if (is_digit((unsigned char)p[1])) {
                if ((s = pat_backref(m, s, (unsigned char)p[1])) == NULL) goto done;
                p += 2;
                continue;
            }
            break;                                  /* %x: a class */
        default:
            break;
        }
        /* a single-character class, maybe followed by a repetition */
        ep = pat_class_end(m, p);
        switch (*ep) {
        case '?': {
            const char *e;
            if (pat_single(m, s, p, ep) && (e = pat_match(m, s + 1, ep + 1)) != NULL) {
                s = e;
                goto done;
            }
            p = ep + 1;
            continue;
        }
        case '*':
            s = pat_longest(m, s, p, ep);
            goto done;
        case '+':
            s = pat_single(m, s, p, ep) ? pat_longest(m, s + 1, p, ep) : NULL;
            goto done;
        case '-':
            s = pat_shortest(m, s, p, ep);
            goto done;
        default:
            if (!pat_single(m, s, p, ep)) {
                s = NULL;
                goto done;
            }
            s++;
            p = ep;
            continue;
        }
    }
done:
    m->depth--;
    return s;
}

/* -- Captures ------------------------------------------------------------------ */

/* Push capture i; with no captures at all, i == 0 is the whole match s..e. */
static void pat_push_one(pat_t *m, int i, const char *s, const char *e)
{
    if (i >= m->level) {
        if (i != 0) luaL_error(m->L, "invalid capture index");
        lua_pushlstring(m->L, s, (size_t)(e - s));
        return;
    }
    if (m->cap[i].len == CAP_UNFINISHED) luaL_error(m->L, "unfinished capture");
    if (m->cap[i].len == CAP_POSITION)
        lua_pushinteger(m->L, (lua_Integer)(m->cap[i].init - m->src + 1));
    else
        lua_pushlstring(m->L, m->cap[i].init, (size_t)m->cap[i].len);
}

/* Push every capture (or the whole match when there is none and s is
 * given); returns how many. */
static int pat_push_all(pat_t *m, const char *s, const char *e)
{
    int i, n = m->level == 0 && s ? 1 : m->level;
    luaL_checkstack(m->L, n, "too many captures");
    for (i = 0; i < n; i++) pat_push_one(m, i, s, e);
    return n;
}

static void pat_init(pat_t *m, lua_State *L, const char *s, size_t len)
{
    m->L = L;
    m->src = s;
    m->src_end = s + len;
    m->level = m->depth = 0;
    m->steps = LSTRING_CHECK_STEPS;
    m->limit = m->used = 0;
    m->out = NULL;
}

/* -- find, match, gmatch, gsub -------------------------------------------------- */

/* The first occurrence of p (plen bytes) in s (slen bytes), or NULL. */
static const char *plain_find(const char *s, size_t slen, const char *p, size_t plen)
{
    const char *last;
    if (plen == 0) return s;
    if (plen > slen) return NULL;
    last = s + (slen - plen);
    for (; s <= last; s++) {
        s = memchr(s, p[0], (size_t)(last - s) + 1);
        if (!s) return NULL;
        if (memcmp(s, p, plen) == 0) return s;
    }
    return NULL;
}

static int has_specials(const char *p, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (p[i] != '\0' && strchr(PAT_SPECIALS, p[i])) return 1;
    return 0;
}

/* find (find = 1) and match (0): the same search, different results;
 * with out, at most limit steps, then a longjmp to out. */
static int find_run(lua_State *L, int find, lua_Integer limit, jmp_buf *out)
{
    size_t slen, plen;
    const char *s = luaL_checklstring(L, 1, &slen);
    const char *p = luaL_checklstring(L, 2, &plen);
    lua_Integer init = luaL_optinteger(L, 3, 1);
    const char *at;
    pat_t m;
    int anchor = 0;
    if (init < 0) init += (lua_Integer)slen;
    else init--;
    if (init < 0) init = 0;
    if ((size_t)init > slen) init = (lua_Integer)slen;
    if (find && (lua_toboolean(L, 4) || !has_specials(p, plen))) {
        const char *q = plain_find(s + init, slen - (size_t)init, p, plen);
        if (!q) {
            lua_pushnil(L);
            return 1;
        }
        lua_pushinteger(L, (lua_Integer)(q - s) + 1);
        lua_pushinteger(L, (lua_Integer)(q - s + (ptrdiff_t)plen));
        return 2;
    }
    if (*p == '^') {
        anchor = 1;
        p++;
    }
    pat_init(&m, L, s, slen);
    m.limit = out ? limit : 0;
    m.out = out;
    at = s + init;
    do {
        const char *e;
        m.level = m.depth = 0;
        if ((e = pat_match(&m, at, p)) != NULL) {
            if (!find) return pat_push_all(&m, at, e);
            lua_pushinteger(L, (lua_Integer)(at - s) + 1);
            lua_pushinteger(L, (lua_Integer)(e - s));
            return pat_push_all(&m, NULL, NULL) + 2;
        }
    } while (at++ < m.src_end && !anchor);
    lua_pushnil(L);
    return 1;
}

static int l_find(lua_State *L) { return find_run(L, 1, 0, NULL); }
static int l_match(lua_State *L) { return find_run(L, 0, 0, NULL); }

/* find_steps(s, p, limit) -> as find(s, p) | false after limit steps.
 * The router's keys use it: a route's pattern gets its own bound, the
 * same in the gateway and in a dry run, far below the script budget
 * (which still applies). Nothing is on the stack but the arguments while
 * the matcher runs, so giving up is a longjmp. */
static int l_find_steps(lua_State *L)
{
    jmp_buf out;
    lua_Integer limit = luaL_checkinteger(L, 3);
    luaL_argcheck(L, limit > 0, 3, "a positive number of steps");
    lua_settop(L, 2);
    if (setjmp(out)) {
        lua_settop(L, 2);
        lua_pushboolean(L, 0);
        return 1;
    }
    return find_run(L, 1, limit, &out);
}

/* The iterator of gmatch: upvalues subject, pattern, next start offset. */
static int gmatch_next(lua_State *L)
{
    size_t slen;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &slen);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    const char *at = s + (size_t)lua_tointeger(L, lua_upvalueindex(3));
    pat_t m;
    pat_init(&m, L, s, slen);
    for (; at <= m.src_end; at++) {
        const char *e;
        m.level = m.depth = 0;
        if ((e = pat_match(&m, at, p)) != NULL) {
            /* an empty match moves on by one, or it would be found forever */
            lua_pushinteger(L, (lua_Integer)(e - s) + (e == at));
            lua_replace(L, lua_upvalueindex(3));
            return pat_push_all(&m, at, e);
        }
    }
    return 0;
}

static int l_gmatch(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_next, 3);
    return 1;
}

/* A gsub result in the making, and its size so far (for max_string). */
typedef struct gsub_out_s {
    luaL_Buffer b;
    size_t      len;
} gsub_out_t;

static void out_grow(lua_State *L, gsub_out_t *o, size_t n)
{
    o->len += n;
    if (limits.max_string && o->len > limits.max_string)
        luaL_error(L, "string.gsub: the result is longer than scripts.max_string (%d bytes)",
                   (int)limits.max_string);
}

static void out_add(lua_State *L, gsub_out_t *o, const char *s, size_t n)
{
    out_grow(L, o, n);
    luaL_addlstring(&o->b, s, n);
}

/* The replacement string (argument 3) for the match s..e: %0 the match,
 * %1..%9 captures, % before anything else that character. */
static void gsub_string(pat_t *m, gsub_out_t *o, const char *s, const char *e)
{
    size_t len, i;
    const char *r = lua_tolstring(m->L, 3, &len);
    for (i = 0; i < len; i++) {
        size_t n;
        if (r[i] != PAT_ESC) {
            out_grow(m->L, o, 1);
            luaL_addchar(&o->b, r[i]);
            continue;
        }
        i++;                            /* r[len] is the string's NUL */
        if (!is_digit((unsigned char)r[i])) {
            out_grow(m->L, o, 1);
            luaL_addchar(&o->b, r[i]);
        } else if (r[i] == '0') {
            out_add(m->L, o, s, (size_t)(e - s));
        } else {
            pat_push_one(m, r[i] - '1', s, e);
            lua_tolstring(m->L, -1, &n);
            out_grow(m->L, o, n);
            luaL_addvalue(&o->b);
        }
    }
}

/* Add the replacement of the match s..e: from the string, the table or
 * the function given; false or nil keeps the match. */
static void gsub_value(pat_t *m, gsub_out_t *o, const char *s, const char *e)
{
    lua_State *L = m->L;
    size_t n;
    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        gsub_string(m, o, s, e);
        return;
    case LUA_TFUNCTION:
        if (limits.check) limits.check(L);     /* the callback may nest: ask before each */
        lua_pushvalue(L, 3);
        lua_call(L, pat_push_all(m, s, e), 1);
        break;
    default:                            /* a table, whose __index may nest */
        if (limits.check) limits.check(L);
        pat_push_one(m, 0, s, e);
        lua_gettable(L, 3);
        break;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    lua_tolstring(L, -1, &n);
    out_grow(L, o, n);
    luaL_addvalue(&o->b);
}

static int l_gsub(lua_State *L)
{
    size_t slen;
    const char *s = luaL_checklstring(L, 1, &slen);
    const char *p = luaL_checkstring(L, 2);
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)slen + 1), n = 0;
    int anchor = 0;
    gsub_out_t o;
    pat_t m;
    if (type != LUA_TNUMBER && type != LUA_TSTRING && type != LUA_TFUNCTION && type != LUA_TTABLE)
        luaL_argerror(L, 3, "string/function/table expected");
    if (*p == '^') {
        anchor = 1;
        p++;
    }
    o.len = 0;
    luaL_buffinit(L, &o.b);
    pat_init(&m, L, s, slen);
    while (n < max) {
        const char *e;
        m.level = m.depth = 0;
        if ((e = pat_match(&m, s, p)) != NULL) {
            n++;
            gsub_value(&m, &o, s, e);
        }
        if (e && e > s) {
            s = e;
        } else if (s < m.src_end) {
            out_grow(L, &o, 1);
            luaL_addchar(&o.b, *s++);
        } else {
            break;
        }
        if (anchor) break;
    }
    out_add(L, &o, s, (size_t)(m.src_end - s));
    luaL_pushresult(&o.b);
    lua_pushinteger(L, n);
    return 2;
}

/* -- Bounded results ------------------------------------------------------------- */

/* The longest string LuaJIT makes (LJ_MAX_STR): the bound without a
 * max_string (plain luajit, the command-line verbs). */
#define LSTRING_MAX_STR 0x7fffff00

static void check_size(lua_State *L, const char *fn, double bytes)
{
    if (limits.max_string && bytes > (double)limits.max_string)
        luaL_error(L, "%s: the result would be %.0f bytes, more than scripts.max_string (%d)", fn, bytes,
                   (int)limits.max_string);
    if (bytes > (double)LSTRING_MAX_STR)
        luaL_error(L, "%s: the result would be %.0f bytes, more than a Lua string holds", fn, bytes);
}

/* string.rep(s, n [, sep]): the result is written once, in a block of its
 * size (a luaL_Buffer of one-byte pieces made twenty times the result in
 * intermediate strings, and ten milliseconds for a MiB): one unit (s, sep),
 * then the part written so far copied after itself until it is whole. */
static int l_rep(lua_State *L)
{
    size_t len, seplen = 0, unit, total, done;
    const char *s = luaL_checklstring(L, 1, &len);
    double want = luaL_checknumber(L, 2);
    const char *sep = luaL_optlstring(L, 3, NULL, &seplen);
    char *out;
    want = want >= 0 ? floor(want) : 0;    /* a count, truncated as LuaJIT does */
    if (!(want >= 1) || (len == 0 && seplen == 0)) {
        lua_pushliteral(L, "");
        return 1;
    }
    check_size(L, "string.rep", (double)len * want + (double)seplen * (want - 1));
    unit = len + seplen;
    total = unit * ((size_t)want - 1) + len;   /* the last s has no sep after it */
    out = lua_newuserdata(L, total > unit ? total : unit);
    memcpy(out, s, len);
    if (seplen) memcpy(out + len, sep, seplen);
    for (done = unit < total ? unit : total; done < total; done += done < total - done ? done : total - done)
        memcpy(out + done, out, done < total - done ? done : total - done);
    lua_pushlstring(L, out, total);
    return 1;
}

/* table.concat(t [, sep [, i [, j]]]) */
static int l_concat(lua_State *L)
{
    size_t seplen = 0, total = 0;
    const char *sep;
    lua_Integer i, j;
    luaL_Buffer b;
    luaL_checktype(L, 1, LUA_TTABLE);
    sep = luaL_optlstring(L, 2, "", &seplen);
    i = luaL_optinteger(L, 3, 1);
    j = lua_isnoneornil(L, 4) ? (lua_Integer)lua_objlen(L, 1) : luaL_checkinteger(L, 4);
    luaL_buffinit(L, &b);
    for (; i <= j; i++) {
        size_t n;
        lua_rawgeti(L, 1, (int)i);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "invalid value (%s) at index %d in table for 'concat'",
                              luaL_typename(L, -1), (int)i);
        lua_tolstring(L, -1, &n);
        total += n + (i < j ? seplen : 0);
        check_size(L, "table.concat", (double)total);
        luaL_addvalue(&b);
        if (i < j && seplen) luaL_addlstring(&b, sep, seplen);
    }
    luaL_pushresult(&b);
    return 1;
}

/* max_string() -> scripts.max_string in bytes, 0: no bound (plain luajit):
 * for what bounds its own output in Lua (smpp.script_json). */
static int l_max_string(lua_State *L)
{
    lua_pushnumber(L, (double)limits.max_string);
    return 1;
}

/* -- Installing them -------------------------------------------------------------- */

/* The pattern functions (every caller gets them), then the bounded ones. */
static const luaL_Reg pattern_fns[] = {
    {"find", l_find},
    {"match", l_match},
    {"gmatch", l_gmatch},
    {"gsub", l_gsub},
    {NULL, NULL}
};

static const luaL_Reg bounded_fns[] = {
    {"rep", l_rep},
    {"concat", l_concat},
    {NULL, NULL}
};

void lstring_push(lua_State *L)
{
    lua_newtable(L);
    luaL_register(L, NULL, pattern_fns);
    luaL_register(L, NULL, bounded_fns);
    lua_pushcfunction(L, l_find_steps);   /* the router's, never a script's string.* */
    lua_setfield(L, -2, "find_steps");
    lua_pushcfunction(L, l_max_string);
    lua_setfield(L, -2, "max_string");
}

void lstring_install(lua_State *L)
{
    lua_getglobal(L, "string");
    luaL_register(L, NULL, pattern_fns);
    /* the metatable's own copy: every field but dump, and the bounded rep */
    lua_newtable(L);
    lua_pushnil(L);
    while (lua_next(L, -3)) {
        if (lua_type(L, -2) == LUA_TSTRING && strcmp(lua_tostring(L, -2), "dump") == 0) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, -4);
    }
    lua_pushcfunction(L, l_rep);
    lua_setfield(L, -2, "rep");
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 4);
}
