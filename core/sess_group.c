/* sess_group.c -- the counters of groups of sessions (an account's, an
 * upstream's), the PDU trace hook of a context (see sess.h, "Groups"),
 * and whether a session has stopped answering (sess_late).
 */
#include <stdlib.h>
#include <string.h>

#include "sess.h"
#include "sess_int.h"

/* -- Groups ------------------------------------------------------------------- */

sess_group_t *sess_ctx_group(sess_ctx_t *ctx, sess_side_t side, const char *name)
{
    size_t i;
    sess_group_t *g;
    if (!name) name = "";
    for (i = 0; i < ctx->ngroups; i++) {
        g = ctx->groups[i];
        if (g->side == side && strncmp(g->name, name, sizeof g->name - 1) == 0) return g;
    }
    if (ctx->ngroups == SESS_MAX_GROUPS || !(g = calloc(1, sizeof *g))) {
        ctx->groups_refused++;
        return NULL;
    }
    strncpy(g->name, name, sizeof g->name - 1);
    g->side = side;
    ctx->groups[ctx->ngroups++] = g;
    return g;
}

const sess_group_t *sess_ctx_group_at(const sess_ctx_t *ctx, size_t i)
{
    return i < ctx->ngroups ? ctx->groups[i] : NULL;
}

uint64_t sess_ctx_groups_refused(const sess_ctx_t *ctx) { return ctx->groups_refused; }

void sess_set_group(sess_t *s, sess_group_t *g) { s->group = g; }

void sess__group_status(sess_group_t *g, uint32_t status, int rx)
{
    uint32_t i;
    for (i = 0; i < g->nstatus && g->status[i].status != status; i++) {}
    if (i == g->nstatus) {
        if (i == SESS_GROUP_STATUSES) {
            if (rx) g->other_rx++;
            else g->other_tx++;
            return;
        }
        g->status[g->nstatus++].status = status;
    }
    if (rx) g->status[i].rx++;
    else g->status[i].tx++;
}

/* -- The PDU trace ------------------------------------------------------------ */

void sess_ctx_set_trace(sess_ctx_t *ctx, sess_trace_fn fn) { ctx->trace = fn; }

/* -- Lateness ---------------------------------------------------------------- */

int sess_late(sess_t *s, uint64_t now, uint64_t age_ms)
{
    uint32_t i;
    uint64_t oldest = 0, next = 0, rto = s->cfg.response_timeout_ms;
    /* win_next is at most the earliest deadline, so no request was sent
     * before win_next - response_timeout: most calls end here */
    if (!s->win.count || !s->win_next || s->win_next + age_ms >= now + rto) return 0;
    for (i = 0; i <= s->win.mask; i++) {
        const win_entry_t *e = &s->win.slots[i];
        if (!e->seq) continue;
        if (!oldest || e->sent_ms < oldest) oldest = e->sent_ms;
        if (!next || e->deadline_ms < next) next = e->deadline_ms;
    }
    s->win_next = next;                /* exact now: the next call stops early again */
    return oldest && now > oldest + age_ms;
}
