/* rt_gwr_script.c -- the Redis store's server-side scripts: each step of a
 * message (accept, the upstream's answer, a receipt, a note) is one call,
 * EVALSHA by the SHA1 computed here, EVAL with the text when Redis has lost
 * it (NOSCRIPT: it restarted or was flushed; EVAL loads it again).
 *
 * Who owns what: a call (call_t) copies its words and lives from
 * rt_gwr_eval until its caller's callback has run; the texts are static.
 * Every script touches the keys of one hash slot (rt_gwr.h says which).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "log.h"
#include "rt_gwr.h"
#include "rt_redis.h"

#define ARGS_MAX 48

/* -- The scripts ---------------------------------------------------------------------- */

/* The trace: lines appended to the record's field "trace" (which accept
 * writes, so its absence means the record is gone), cut to its last 4096
 * octets as the SQLite store does; written with the record's other fields
 * in one HSET. */
#define TRACE_FN \
    "local function traced(t, line)\n" \
    "  t = t .. line\n" \
    "  if #t > 4096 then t = string.sub(t, -4096) end\n" \
    "  return t\n" \
    "end\n"

/* Redis' clock in milliseconds: the stamps of the being-matched set do not
 * depend on the nodes' clocks. */
#define NOW_FN \
    "local function ms()\n" \
    "  local t = redis.call('TIME')\n" \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "end\n"

static const char *const bodies[RT_GWR_NSCRIPTS] = {
    /* ACCEPT -- KEYS: record, queue; ARGV: ttl, max_queue (0: none),
     * trace line, id, pdu, acct, rd, exp, route, submitted, record
     * field/value pairs... ->
     * -1 (stored) | the queue's length (full: nothing written) */
    [RT_GWR_ACCEPT] =
        "local max = tonumber(ARGV[2])\n"
        "if max > 0 then\n"
        "  local n = redis.call('XLEN', KEYS[2])\n"
        "  if n >= max then return n end\n"
        "end\n"
        "redis.call('HSET', KEYS[1], 'trace', ARGV[3], unpack(ARGV, 11))\n"
        "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
        "redis.call('XADD', KEYS[2], '*', 'id', ARGV[4], 'pdu', ARGV[5], 'acct', ARGV[6], 'rd', ARGV[7],\n"
        "           'exp', ARGV[8], 'att', '0', 'route', ARGV[9], 'sub', ARGV[10])\n"
        "return -1\n",
    /* OUTCOME -- KEYS: record, queue [, mapping, early list, being-matched
     * set]; ARGV: ttl, group, entry id, trace line, message id, field/value
     * pairs... -> the receipts that came before the mapping. The record is
     * written (when it is still there), the mapping set (and the record
     * stamped 'mapped', Redis' clock in microseconds as a string: which of
     * a receipt group's mappings of one id is the newest, MATCH's peek),
     * then the entry acked. The early receipts move to the being-matched
     * set, stamped with Redis' clock (ms): they stay there until a node has them in the
     * account's stream (RCPT_DONE), and a node that finds one older than
     * claim_after matches it again (SWEEP). */
    [RT_GWR_OUTCOME] =
        TRACE_FN
        NOW_FN
        "local t = redis.call('HGET', KEYS[1], 'trace')\n"
        "if t then\n"
        "  redis.call('HSET', KEYS[1], 'trace', traced(t, ARGV[4]), unpack(ARGV, 6))\n"
        "  redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
        "end\n"
        "local e = {}\n"
        "if KEYS[3] then\n"
        "  redis.call('SET', KEYS[3], ARGV[5], 'EX', ARGV[1])\n"
        "  if t then\n"
        "    local c = redis.call('TIME')\n"
        "    redis.call('HSET', KEYS[1], 'mapped', c[1] .. string.format('%06d', tonumber(c[2])))\n"
        "  end\n"
        "  e = redis.call('LRANGE', KEYS[4], 0, -1)\n"
        "  if #e > 0 then\n"
        "    local now = ms()\n"
        "    for i = 1, #e do redis.call('ZADD', KEYS[5], now, e[i]) end\n"
        "    redis.call('DEL', KEYS[4])\n"
        "  end\n"
        "end\n"
        "redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])\n"
        "redis.call('XDEL', KEYS[2], ARGV[3])\n"
        "return e\n",
    /* MATCH -- KEYS: mapping, early list, being-matched set, queue [, the
     * mapping under the normalised id]; ARGV: the receipt, early_ttl, the record's
     * key without the id (same hash tag as the mapping: one slot), state,
     * err, final ('1' or ''), done, trace line, '1' when the receipt is in
     * the being-matched set, the account of POST /send, the id as written
     * ('' when the key is a number's or normalised) -> false (kept as
     * early) | { id ('' when the mapping is gone), account ('' when the
     * record is gone), route, notify (its callback_url, or ''), via (the
     * ESME session it came in on, "<node>:<session>", or '') }. The record
     * is written here only for a receipt that goes to the gateway's handler
     * in this process (POST /send's account, or a callback_url); the others'
     * state is written once they are in the account's stream (RCPT_DONE),
     * so that a record is never final while its receipt can still be lost.
     * A receipt of the being-matched set that goes nowhere else leaves it
     * here. A key that is the id as written finds a message only when its
     * upstream_id, trimmed, is that id: a mapping written before keys were
     * as written may name another (its key was the id in lower case,
     * leading zeros dropped), and is looked up under that key when the
     * id's own is not there. ARGV[12] '1': a look-up among the messages of
     * another entry of the arrival entry's receipt group (rt_gwr_rcpt.c): on
     * a miss nothing is written or kept -> 0. A final receipt for a record
     * final already in a state other than ACCEPTED (6) is a repeat of the
     * one the ESME had: nothing written (a receipt of the being-matched set
     * leaves it) -> 1, unless the upstream awaits answers (its queue has
     * entries a node read and has not recorded the answer of, XPENDING;
     * ARGV[15] '1': another entry of its receipt group has): one of them
     * may have been given that id again, so it is kept as early (-> 2),
     * for that answer to take, and expires when none does (not one of the
     * being-matched set: an answer took it). A submit_multi's (field multi) has a final receipt
     * for each destination under its one id: ARGV[14] is the destination
     * the receipt is about (its source_addr, or ''), and a final receipt
     * about one of the multi's destinations (field dests, "\0<addr>\0...")
     * that had a final one other than ACCEPTED (field "fin:<addr>", its
     * state, written with that receipt's) is the repeat (-> 1, or 2 as
     * above); once the multi is final one about none of them is kept
     * while the upstream awaits answers, else goes to the multi. The record's reply has a sixth
     * element then: the destination ('' when none), for the trace line and
     * RCPT_DONE. ARGV[13] '1' (with ARGV[12]): a
     * peek, which of a group's members has the newest mapping: nothing
     * written -> { 'peek' (a mapping) or 'miss' (none), its record's
     * 'mapped' ('0': none, a record from before it was stamped, or gone),
     * '1' when this entry awaits answers (XPENDING) else '' }. */
    [RT_GWR_MATCH] =
        TRACE_FN
        "local function rec(id)\n"
        "  local k = ARGV[3] .. id\n"
        "  return k, redis.call('HMGET', k, 'account', 'route', 'trace', 'notify', 'upstream_id', 'via', 'final', 'state',\n"
        "                                 'multi', 'mapped', 'dests')\n"
        "end\n"
        "local function its(r)\n"
        "  return not r[1] or ARGV[11] == '' or string.match(r[5] or '', '^%s*(.-)%s*$') == ARGV[11]\n"
        "end\n"
        "local function busy()\n"
        "  local p = redis.pcall('XPENDING', KEYS[4], 'fwd')\n"
        "  return type(p) == 'table' and not p.err and (tonumber(p[1]) or 0) > 0\n"
        "end\n"
        "local id = redis.call('GET', KEYS[1])\n"
        "local kept = ARGV[9] == '1'\n"
        "local k, r\n"
        "if id then\n"
        "  k, r = rec(id)\n"
        "  if not its(r) then id = nil end\n"
        "end\n"
        "if not id and KEYS[5] then\n"
        "  local old = redis.call('GET', KEYS[5])\n"
        "  if old then\n"
        "    local k2, r2 = rec(old)\n"
        "    if r2[1] and its(r2) then id, k, r = old, k2, r2 end\n"
        "  end\n"
        "end\n"
        "if not id then\n"
        "  if ARGV[13] == '1' then return { 'miss', '0', busy() and '1' or '' } end\n"
        "  if ARGV[12] == '1' then return 0 end\n"
        "  if kept then\n"
        "    redis.call('ZREM', KEYS[3], ARGV[1])\n"
        "    return { '', '', '', '' }\n"
        "  end\n"
        "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
        "  redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
        "  return false\n"
        "end\n"
        "if ARGV[13] == '1' then return { 'peek', r[10] or '0', busy() and '1' or '' } end\n"
        "if not r[1] then\n"
        "  if kept then redis.call('ZREM', KEYS[3], ARGV[1]) end\n"
        "  return { id, '', '', '' }\n"
        "end\n"
        "local dest = ''\n"
        "if r[9] == '1' and ARGV[14] ~= '' and r[11] and string.find(r[11], '\\0' .. ARGV[14] .. '\\0', 1, true) then\n"
        "  dest = ARGV[14]\n"
        "end\n"
        "local fin, hold\n"
        "if r[9] ~= '1' then\n"
        "  fin = r[7] == '1' and r[8] ~= '6'\n"
        "  hold = fin\n"
        "elseif r[7] == '1' then\n"
        "  local was = dest ~= '' and redis.call('HGET', k, 'fin:' .. dest)\n"
        "  fin = was and was ~= '6'\n"
        "  hold = fin or dest == ''\n"
        "end\n"
        "if hold and not kept and (ARGV[15] == '1' or busy()) then\n"
        "  redis.call('RPUSH', KEYS[2], ARGV[1])\n"
        "  redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
        "  return 2\n"
        "end\n"
        "if fin and ARGV[6] == '1' then\n"
        "  if kept then redis.call('ZREM', KEYS[3], ARGV[1]) end\n"
        "  return 1\n"
        "end\n"
        "if r[1] == ARGV[10] or (r[4] and r[4] ~= '') then\n"
        "  local t = traced(r[3] or '', ARGV[8])\n"
        "  if ARGV[6] == '1' then\n"
        "    redis.call('HSET', k, 'state', ARGV[4], 'err', ARGV[5], 'trace', t, 'final', '1', 'done', ARGV[7])\n"
        "    if dest ~= '' then redis.call('HSET', k, 'fin:' .. dest, ARGV[4]) end\n"
        "  else\n"
        "    redis.call('HSET', k, 'state', ARGV[4], 'err', ARGV[5], 'trace', t)\n"
        "  end\n"
        "  if kept then redis.call('ZREM', KEYS[3], ARGV[1]) end\n"
        "end\n"
        "return { id, r[1], r[2] or '', r[4] or '', r[6] or '', dest }\n",
    /* NOTE -- KEYS: record; ARGV: trace line, field/value pairs... -> 1 |
     * 0 (the record is gone) */
    [RT_GWR_NOTE] =
        TRACE_FN
        "local t = redis.call('HGET', KEYS[1], 'trace')\n"
        "if not t then return 0 end\n"
        "redis.call('HSET', KEYS[1], 'trace', traced(t, ARGV[1]), unpack(ARGV, 2))\n"
        "return 1\n",
    /* ACK -- KEYS: a stream; ARGV: group, entry id -> entries deleted */
    [RT_GWR_ACK] =
        "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
        "return redis.call('XDEL', KEYS[1], ARGV[2])\n",
    /* MOVE_MARK -- a move's start (on the old upstream's slot;
     * rt_gwr_move.c): KEYS: record; ARGV: the new upstream -> the record
     * (HGETALL), marked "moving" to it first, so that a node taking the
     * entry over after a crash finishes the move rather than sending the
     * message to the old upstream again. */
    [RT_GWR_MOVE_MARK] =
        "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'moving', ARGV[1]) end\n"
        "return redis.call('HGETALL', KEYS[1])\n",
    /* MOVE_IN -- a message moved to another upstream, its first half (on
     * the new upstream's slot; rt_gwr_move.c): KEYS: record, queue; ARGV:
     * ttl, the old record's other fields ("<len>:<octets>" each, names and
     * values in turn), its trace, the trace lines to add, upstream,
     * attempts, moves, err, then the entry: id, pdu, acct, rd, exp, route,
     * sub, due -> the new entry's id, or 0 when the copy of this very move
     * (the same "moves") is there already: the move is being finished by
     * the node that took the old entry over, and a second entry would send
     * the message twice (the trace lines are added to the copy). A copy
     * left by another move is replaced. */
    [RT_GWR_MOVE_IN] =
        TRACE_FN
        "if redis.call('HGET', KEYS[1], 'moves') == ARGV[7] then\n"
        "  redis.call('HSET', KEYS[1], 'trace', traced(redis.call('HGET', KEYS[1], 'trace') or '', ARGV[4]))\n"
        "  return 0\n"
        "end\n"
        "local f, s, i = {}, ARGV[2], 1\n"
        "while i <= #s do\n"
        "  local c = string.find(s, ':', i, true)\n"
        "  local n = tonumber(string.sub(s, i, c - 1))\n"
        "  f[#f + 1] = string.sub(s, c + 1, c + n)\n"
        "  i = c + n + 1\n"
        "end\n"
        "redis.call('DEL', KEYS[1])\n"
        "if #f > 1 then redis.call('HSET', KEYS[1], unpack(f)) end\n"
        "redis.call('HSET', KEYS[1], 'trace', traced(ARGV[3], ARGV[4]), 'upstream', ARGV[5], 'state', '0',\n"
        "           'attempts', ARGV[6], 'moves', ARGV[7], 'err', ARGV[8])\n"
        "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
        "return redis.call('XADD', KEYS[2], '*', 'id', ARGV[9], 'pdu', ARGV[10], 'acct', ARGV[11], 'rd', ARGV[12],\n"
        "                  'exp', ARGV[13], 'att', ARGV[6], 'route', ARGV[14], 'sub', ARGV[15], 'due', ARGV[16])\n",
    /* MOVE_OUT -- its second half (on the old upstream's slot): KEYS:
     * record, queue; ARGV: group, entry id -> 1 | 0 (the record was gone).
     * The entry is acked and deleted, the old record deleted. */
    [RT_GWR_MOVE_OUT] =
        "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
        "redis.call('XDEL', KEYS[2], ARGV[2])\n"
        "return redis.call('DEL', KEYS[1])\n",
    /* RCPT_DONE -- a receipt is in the account's stream (or cannot go
     * anywhere): KEYS: record, being-matched set; ARGV: state ('': write
     * nothing), err, final ('1' or ''), done, trace line, the receipt ('':
     * not in the set), the multi's destination it is about ('': none) ->
     * 1. The record (when it is still there) gets the receipt's state and
     * trace line (a final one's state also as the destination's, field
     * "fin:<addr>": MATCH), the receipt leaves the set. */
    [RT_GWR_RCPT_DONE] =
        TRACE_FN
        "local t = ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'trace')\n"
        "if t then\n"
        "  if ARGV[3] == '1' then\n"
        "    redis.call('HSET', KEYS[1], 'state', ARGV[1], 'err', ARGV[2], 'trace', traced(t, ARGV[5]), 'final', '1',\n"
        "               'done', ARGV[4])\n"
        "    if ARGV[7] and ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'fin:' .. ARGV[7], ARGV[1]) end\n"
        "  else\n"
        "    redis.call('HSET', KEYS[1], 'state', ARGV[1], 'err', ARGV[2], 'trace', traced(t, ARGV[5]))\n"
        "  end\n"
        "end\n"
        "if ARGV[6] ~= '' then redis.call('ZREM', KEYS[2], ARGV[6]) end\n"
        "return 1\n",
    /* TAKE -- the early receipts of another entry of a receipt group,
     * once an entry's answer wrote a mapping (rt_gwr_rcpt.c): KEYS: early
     * list, being-matched set (both the other entry's) -> the receipts,
     * moved to the set as OUTCOME moves its own. */
    [RT_GWR_TAKE] =
        NOW_FN
        "local e = redis.call('LRANGE', KEYS[1], 0, -1)\n"
        "if #e > 0 then\n"
        "  local now = ms()\n"
        "  for i = 1, #e do redis.call('ZADD', KEYS[2], now, e[i]) end\n"
        "  redis.call('DEL', KEYS[1])\n"
        "end\n"
        "return e\n",
    /* JOIN -- a process joins Redis' data (rt_gwr.c): KEYS: epoch, the
     * node counter, the key counter; ARGV: a new epoch token, '1' to take a
     * node id, the least value of each counter (what the process knew
     * before Redis lost its data, or 0) -> { the epoch token (set to the
     * new one when there is none: Redis has lost or never had the data),
     * the node counter's new value (0 when none was taken) }. The counters
     * are raised first, so that nothing taken after a loss repeats what a
     * live process holds. */
    [RT_GWR_JOIN] =
        "local e = redis.call('GET', KEYS[1])\n"
        "if not e then\n"
        "  e = ARGV[1]\n"
        "  redis.call('SET', KEYS[1], e)\n"
        "end\n"
        "for i = 2, 3 do\n"
        "  local least = tonumber(ARGV[i + 1]) or 0\n"
        "  if least > 0 and (tonumber(redis.call('GET', KEYS[i]) or '0') or 0) < least then\n"
        "    redis.call('SET', KEYS[i], least)\n"
        "  end\n"
        "end\n"
        "local n = 0\n"
        "if ARGV[2] == '1' then n = redis.call('INCR', KEYS[2]) end\n"
        "return { e, n }\n",
    /* SWEEP -- KEYS: a being-matched set; ARGV: claim_after (ms), count ->
     * up to count receipts stamped claim_after ago or earlier (their node
     * did not finish them: it died, lost Redis, or Redis refused the
     * append), stamped again now so that one node at a time takes them. */
    [RT_GWR_SWEEP] =
        NOW_FN
        "local now = ms()\n"
        "local e = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, tonumber(ARGV[2]))\n"
        "for i = 1, #e do redis.call('ZADD', KEYS[1], 'XX', now, e[i]) end\n"
        "return e\n",
};

static char shas[RT_GWR_NSCRIPTS][41];
static uint64_t loaded_on;         /* the link's connects count when the scripts were last loaded */

static const char *sha_of(int which)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;
    if (shas[which][0]) return shas[which];
    if (!EVP_Digest(bodies[which], strlen(bodies[which]), md, &n, EVP_sha1(), NULL) || n != 20) return NULL;
    for (i = 0; i < n; i++) snprintf(shas[which] + 2 * i, 3, "%02x", md[i]);
    return shas[which];
}

static void on_loaded(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: SCRIPT LOAD: %s", err);
}

void rt_gwr_scripts_load(void)
{
    redis_t *r = rt_redis();
    redis_stats_t st;
    const char *argv[3] = { "SCRIPT", "LOAD", NULL };
    size_t lens[3] = { 6, 4, 0 };
    int i;
    if (!r || redis_state(r) != REDIS_UP) return;
    redis_stats(r, &st);
    if (st.connects == loaded_on) return;
    loaded_on = st.connects;
    for (i = 0; i < RT_GWR_NSCRIPTS; i++) {
        argv[2] = bodies[i];
        lens[2] = strlen(bodies[i]);
        redis_cmd(r, on_loaded, NULL, 3, argv, lens);
    }
}

/* -- Calls ------------------------------------------------------------------------------ */

typedef struct call_s {
    redis_reply_fn fn;
    void          *ud;
    int            which, nkeys, argc, again;
    size_t         lens[ARGS_MAX];
    char          *argv[ARGS_MAX];
    char           data[];
} call_t;

static int send_call(redis_t *r, call_t *c);

static void on_call(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    call_t *c = ud;
    if (err && !c->again && strncmp(err, "NOSCRIPT", 8) == 0) {
        c->again = 1;                  /* EVAL with the text: Redis keeps it from now on */
        if (send_call(r, c) == 0) return;
        reply = NULL;
        err = "closed";
    }
    c->fn(r, reply, err, c->ud);
    free(c);
}

static int send_call(redis_t *r, call_t *c)
{
    const char *argv[ARGS_MAX + 3];
    size_t lens[ARGS_MAX + 3];
    char nk[8];
    int i;
    argv[0] = c->again ? "EVAL" : "EVALSHA";
    argv[1] = c->again ? bodies[c->which] : sha_of(c->which);
    snprintf(nk, sizeof nk, "%d", c->nkeys);
    argv[2] = nk;
    if (!argv[1]) return REDIS_E_NOMEM;
    for (i = 0; i < 3; i++) lens[i] = strlen(argv[i]);
    for (i = 0; i < c->argc; i++) {
        argv[i + 3] = c->argv[i];
        lens[i + 3] = c->lens[i];
    }
    return redis_cmd(r, on_call, c, c->argc + 3, argv, lens);
}

int rt_gwr_eval(int which, redis_reply_fn fn, void *ud, int nkeys, int argc, const char **argv, const size_t *lens)
{
    redis_t *r = rt_redis();
    size_t total = 0;
    call_t *c;
    char *p;
    int i, rc;
    if (!r || redis_state(r) != REDIS_UP) return REDIS_E_DOWN;
    rt_gwr_scripts_load();             /* first use on this connection: loaded ahead of the call */
    if (argc > ARGS_MAX || which < 0 || which >= RT_GWR_NSCRIPTS) return REDIS_E_NOMEM;
    for (i = 0; i < argc; i++) total += lens[i];
    if (!(c = malloc(sizeof *c + total + 1))) return REDIS_E_NOMEM;
    c->fn = fn;
    c->ud = ud;
    c->which = which;
    c->nkeys = nkeys;
    c->argc = argc;
    c->again = 0;
    for (i = 0, p = c->data; i < argc; i++) {
        memcpy(p, argv[i], lens[i]);
        c->argv[i] = p;
        c->lens[i] = lens[i];
        p += lens[i];
    }
    if ((rc = send_call(r, c)) != 0) free(c);
    return rc;
}

/* -- Notes ------------------------------------------------------------------------------ */

static void on_noted(redis_t *r, redisReply *reply, const char *err, void *ud)
{
    (void)r;
    (void)reply;
    (void)ud;
    if (err && strcmp(err, "closed") != 0) log_msg(LOG_WARN, 0, "cluster store: a trace line: %s", err);
}

int rt_gwr_note(const char *up, size_t upn, const char *id, const char *line, int npairs, const char **pairs)
{
    char key[RT_GWR_KEY_MAX], text[600];
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
    int n = 0, i;
    argv[n] = key, lens[n++] = rt_gwr_key_msg(key, sizeof key, up, upn, id, strlen(id));
    argv[n] = text, lens[n++] = rt_gwr_stamp(text, sizeof text, line);
    for (i = 0; i < 2 * npairs && n < ARGS_MAX; i++) argv[n] = pairs[i], lens[n++] = strlen(pairs[i]);
    return rt_gwr_eval(RT_GWR_NOTE, on_noted, NULL, 1, n, argv, lens);
}
