/* rt_sess_answer.c -- a request's answer: what its handler returned (or
 * gave smpp.respond) read, checked and encoded, held until the turn's
 * commit when the run wrote to the store, then sent; and what the answer
 * decides of the messages the run stored (rt_store.h's undo and refused
 * hooks: an error answer is never followed by its message).
 *
 * Who owns what: the task answering a request (rt_sess.c, on_request,
 * makes it with rt_sess__request_owner) owns its sequence number until
 * the answer goes; the response PDU is a scratch of this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbridge.h"
#include "log.h"
#include "rt.h"
#include "rt_sess.h"
#include "rt_sess_int.h"
#include "rt_store.h"
#include "rt_task.h"

static pdu_t resp_pdu;   /* one loop thread: scratch PDU */

static uint32_t status_by_name(const char *name, int *found)
{
    size_t i;
    uint32_t v;
    const char *n;
    for (i = 0; (n = pdu_status_at(i, &v)) != NULL; i++)
        if (strcmp(n, name) == 0) { *found = 1; return v; }
    *found = 0;
    return SMPP_ESME_RSYSERR;
}

/* -- Answering requests -------------------------------------------------------------- */

/* The response command of request command_id (the last one asked is
 * kept: two table searches per answer otherwise). */
static const pdu_cmd_t *resp_cmd(uint32_t command_id)
{
    static uint32_t id;
    static const pdu_cmd_t *resp;
    const pdu_cmd_t *req;
    if (resp && id == command_id) return resp;
    if (!(req = pdu_cmd_find(command_id))) return NULL;
    id = command_id;
    return resp = pdu_cmd_find(req->resp_id);
}

/* The run whose answer t gives: t's own, or (an smpp.respond's task,
 * whose arg is the handler's coroutine) the handler's. */
static lua_State *run_of(const rt_task_t *t)
{
    return t->arg ? (lua_State *)t->arg : t->co;
}

/* The task of t's run: t, or (an smpp.respond's answer) the run it
 * answers for, unless that ended and its coroutine was taken again by
 * another run (NULL then). */
static rt_task_t *run_task(rt_task_t *t)
{
    rt_task_t *run;
    if (!t->arg) return t;
    run = rt_task_of((lua_State *)t->arg);
    return run && run->run == t->for_run ? run : NULL;
}

/* An smpp.respond's answer t is an error: what its run (still going on)
 * would store from now on is refused (core.gw_queue). */
static void refuse_later(rt_task_t *t)
{
    rt_task_t *run;
    if (t->arg && (run = run_task(t)) != NULL) run->refused = 1;
}

/* A put of the running request's handler to be withdrawn if its request
 * is answered with an error (lstore_withdraw_hook: st:put(rec, true), the
 * reference SMSC's messages): its key noted with the task. */
void rt_sess__note_withdraw(lua_State *L, store_t *s, long long key)
{
    rt_task_t *t = rt_task_of(L);
    (void)s;
    if (!t || t->owner != &rt_sess__request_owner || !t->seq) return;
    if (t->nwithdraw == t->capwithdraw) {
        int cap = t->capwithdraw ? t->capwithdraw * 2 : 4;
        long long *p = realloc(t->withdraw, (size_t)cap * sizeof *p);
        if (!p) return;
        t->withdraw = p;
        t->capwithdraw = cap;
    }
    t->withdraw[t->nwithdraw++] = key;
}

/* t's request is answered with an error: the rows its run put to be
 * withdrawn so are removed (they were never accepted: a run stopped
 * between its put and its answer is answered ESME_RSYSERR, and its
 * message must not stay due for a receipt). */
static void withdraw(rt_task_t *t)
{
    rt_task_t *run = run_task(t);
    store_t *s = run && run->nwithdraw ? rt_store() : NULL;
    int i;
    for (i = 0; s && i < run->nwithdraw; i++)
        if (store_remove(s, run->withdraw[i]) < 0)
            log_msg(LOG_ERROR, t->sess_id, "%s: a message answered with an error is not withdrawn: %s",
                    t->what, store_errmsg(s));
    if (run) run->nwithdraw = 0;
}

/* t answers with an error: what its run stored is ended, not forwarded
 * (withdrawn), and what it would store from now on refused. */
static void answered_error(rt_task_t *t)
{
    withdraw(t);
    rt_store_undo(run_of(t));
    refuse_later(t);
}

/* The response fields at stack index fields_idx of t->co, checked into
 * resp_pdu: 1; or 0, logged, and what the run stored ended, not
 * forwarded (it is answered ESME_RSYSERR). */
static int fields_check(rt_task_t *t, int fields_idx)
{
    const pdu_cmd_t *cmd = resp_cmd(t->cmd_id);      /* fields_idx holds a table (read_results) */
    const char *err = cmd ? lbridge_check_table(t->co, fields_idx, &resp_pdu, cmd)
                          : lbridge_check_pdu(t->co, fields_idx, &resp_pdu, NULL);
    if (!err) return 1;
    log_msg(LOG_ERROR, t->sess_id, "%s returned a bad response: %s; answering ESME_RSYSERR", t->what, err);
    answered_error(t);
    return 0;
}

/* Answer the task's request (if its session still lives) with `status`
 * and body (NULL: none). */
static void answer_with(rt_task_t *t, uint32_t status, pdu_t *body)
{
    sess_t *s;
    if (!t->seq || !rt.net || !(s = net_find(rt.net, t->sess_id))) return;
    sess_respond(s, t->seq, body, status, uv_now(rt.loop));
    t->seq = 0;
    net_touch(s);
}

/* The same with the response fields at stack index fields_idx of t->co
 * (0: none), checked now. */
static void answer(rt_task_t *t, uint32_t status, int fields_idx)
{
    pdu_t *body = NULL;
    if (!t->seq || !rt.net || !net_find(rt.net, t->sess_id)) return;
    if (fields_idx && fields_check(t, fields_idx)) body = &resp_pdu;
    else if (fields_idx) status = SMPP_ESME_RSYSERR;
    answer_with(t, status, body);
}

/* "table", or a string value quoted (shortened), for log lines. */
static const char *describe(lua_State *L, int idx, char *buf, size_t n)
{
    if (lua_type(L, idx) == LUA_TSTRING) {
        snprintf(buf, n, "\"%.40s\"", lua_tostring(L, idx));
        return buf;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        snprintf(buf, n, "%.14g", lua_tonumber(L, idx));
        return buf;
    }
    return luaL_typename(L, idx);
}

/* A handler's results: a status (an integer 0..0xFFFFFFFF or a status
 * name) and optionally a table of response fields; or the fields alone
 * (ESME_ROK); or nothing / nil (ESME_ROK, empty body). Anything else,
 * including a value after those (`return {}, "x"`, `return nil, err`), is
 * refused: NULL and *status, *fields set, or the reason (a static buffer). */
static const char *read_results(rt_task_t *t, int n, uint32_t *status_out, int *fields_out)
{
    static char msg[200];
    char a[48], b[48];
    lua_State *co = t->co;
    int fields = 0, next = 2, i, t1 = n >= 1 ? lua_type(co, 1) : LUA_TNONE;
    uint32_t status = SMPP_ESME_ROK;
    const char *why = NULL;
    if (t1 == LUA_TNUMBER) {
        double d = lua_tonumber(co, 1);
        if (d >= 0 && d <= 4294967295.0 && d == (double)(uint32_t)d) status = (uint32_t)d;
        else why = "a status is an integer 0..0xFFFFFFFF";
    } else if (t1 == LUA_TSTRING) {
        int found;
        status = status_by_name(lua_tostring(co, 1), &found);
        if (!found) why = "unknown status name";
    } else if (t1 == LUA_TTABLE) {
        fields = 1;
    } else if (n >= 1 && t1 != LUA_TNIL) {
        why = "expected a status and a table of fields";
    }
    if (t1 == LUA_TNUMBER || t1 == LUA_TSTRING) {
        next = 3;
        if (n >= 2 && lua_istable(co, 2)) fields = 2;
        else if (n >= 2 && !lua_isnil(co, 2) && !why) why = "the fields of the response must be a table";
    }
    for (i = next; !why && i <= n; i++)
        if (!lua_isnil(co, i)) why = "expected a status and a table of fields, and nothing after them";
    if (why) {
        snprintf(msg, sizeof msg, "bad return value (%s, %s%s): %s", n ? describe(co, 1, a, sizeof a) : "nothing",
                 n >= 2 ? describe(co, 2, b, sizeof b) : "nothing", n > 2 ? ", ..." : "", why);
        return msg;
    }
    *status_out = status;
    *fields_out = fields;
    return NULL;
}

/* The turn's commit is over: answer with the results still on the task's
 * stack; an ESME_ROK whose writes were lost becomes fail_status, without
 * the fields (an error response has no body), what its run stored is not
 * forwarded (rt_store_refused), and (an smpp.respond's answer) what the
 * run stores after it is refused. */
static void release_answer(rt_task_t *t, int ok, uint32_t fail_status)
{
    uint32_t status = SMPP_ESME_RSYSERR;
    int fields = 0;
    if (!read_results(t, lua_gettop(t->co), &status, &fields) && !ok && status == SMPP_ESME_ROK) {
        status = fail_status;
        fields = 0;
        if (t->seq) {
            rt_store_refused(run_of(t));
            refuse_later(t);               /* an early ESME_ROK turned into an error */
        }
    }
    answer(t, status, fields);
    rt_task_release(t);
}

/* Answer now, or (while the store holds writes of this turn) once they are
 * committed: an ESME_ROK is never sent for something not yet stored.
 * What the ESME is told decides what the run stored: an error answer
 * (a status, fields that do not check, or an ESME_ROK for rows a failed
 * commit lost while the run waited) ends it, not forwarded; the fields
 * are checked before the answer is held, so that a failed commit cannot
 * turn an answer that was to be ESME_RSYSERR into another. */
static const char *request_finish(rt_task_t *t, int n)
{
    uint32_t status;
    int fields;
    const char *why = read_results(t, n, &status, &fields);
    rt_task_t *run;
    if (why) return why;
    if (!t->seq) return NULL;
    if (status == SMPP_ESME_ROK && (rt_store_lost(run_of(t), &status)
                                    || ((run = run_task(t)) && run->wrote && rt_store_run_lost(run, &status)))) {
        answered_error(t);
        answer_with(t, status, NULL);                 /* an error: no need to wait for the commit */
        return NULL;
    }
    if (fields && !fields_check(t, fields)) {
        answer_with(t, SMPP_ESME_RSYSERR, NULL);
        return NULL;
    }
    if (status != SMPP_ESME_ROK) answered_error(t);
    if (rt_store_hold(t, release_answer)) return RT_TASK_HELD;
    answer_with(t, status, fields ? &resp_pdu : NULL);
    return NULL;
}

static void request_fail(rt_task_t *t, const char *msg)
{
    log_msg(LOG_ERROR, t->sess_id, "%s failed: %s%s", t->what, msg,
            t->seq ? " (answered ESME_RSYSERR)" : "");
    if (t->seq) {                              /* what it stored is withdrawn, not forwarded */
        withdraw(t);
        rt_store_undo(run_of(t));
    }
    answer(t, SMPP_ESME_RSYSERR, 0);
}

const rt_task_owner_t rt_sess__request_owner = {request_finish, request_fail};

/* The fields of smpp.respond(status, fields) on L as the encoder will see
 * them when the answer goes out (perhaps after the turn's commit): NULL,
 * or why they are refused (a static buffer), so respond raises while the
 * handler still runs and can react, as session:send does. */
static const char *respond_check(lua_State *L, int n, const rt_task_t *t)
{
    static char msg[200];
    uint8_t small[1024], *big = NULL;
    const pdu_cmd_t *req = pdu_cmd_find(t->cmd_id);
    pdu_error_t err;
    const char *why;
    long r;
    int idx = n >= 1 && lua_istable(L, 1) ? 1 : n >= 2 && lua_istable(L, 2) ? 2 : 0;
    if (!idx || !req) return NULL;                   /* no fields: read_results judges the rest */
    if ((why = lbridge_check_pdu(L, idx, &resp_pdu, pdu_cmd_find(req->resp_id))) != NULL) return why;
    resp_pdu.sequence_number = t->seq;
    r = pdu_encode(&resp_pdu, small, sizeof small, &err);
    if (r == PDU_ENOSPC && (big = malloc(err.need)) != NULL) r = pdu_encode(&resp_pdu, big, err.need, &err);
    free(big);
    if (r != PDU_EINVAL) return NULL;
    snprintf(msg, sizeof msg, "the encoder refuses the response: %s", err.msg);
    return msg;
}

/* core.respond([status [, fields]]) -> true: answer the request of the
 * running handler now (after the turn's commit, as a return would) and
 * go on running; what the handler returns later is not sent. Raises when
 * the task answers no request (a timer, an event, an answered request)
 * or for values a handler could not return, fields the encoder refuses
 * among them (checked now, not when the answer goes out). The answer is held by a task
 * of its own, so the handler's stack stays its own. */
int rt_sess__respond(lua_State *L)
{
    rt_task_t *t = rt_task_of(L), *h;
    int n = lua_gettop(L);
    const char *why;
    if (!t || t->owner != &rt_sess__request_owner || !t->seq)
        return luaL_error(L, "smpp.respond: only a request's handler may answer, once "
                             "(this task answers no request, or answered already)");
    if ((why = respond_check(L, n, t)) != NULL) return luaL_error(L, "smpp.respond: %s", why);
    if (!(h = rt_task_new("answer", &rt_sess__request_owner))) return luaL_error(L, "smpp.respond: out of memory");
    h->sess_id = t->sess_id;
    h->seq = t->seq;
    h->cmd_id = t->cmd_id;
    h->arg = t->co;                        /* the run whose messages its answer decides */
    h->for_run = t->run;
    lua_xmove(L, h->co, n);
    why = request_finish(h, n);
    if (why != RT_TASK_HELD) {
        char msg[256];
        if (why) snprintf(msg, sizeof msg, "%s", why);
        rt_task_release(h);
        if (why) return luaL_error(L, "smpp.respond: %s", msg);
    }
    t->seq = 0;                            /* answered: the handler's results go nowhere */
    lua_pushboolean(L, 1);
    return 1;
}
