/* rt_gw.h -- the store-and-forward gateway in the runtime: upstream links
 * as the forwarder sees them (rt_gw.c), the messages stored in their
 * queues (rt_gw_store.c), the forwarder of each link (rt_fwd.c, its
 * decisions in rt_gw_decide.c, the rows it holds in memory in
 * rt_gw_held.c), whether a link answers (rt_gw_answer.c) and the matching
 * of upstream receipts (rt_gw_rcpt.c).
 *
 * The data flow. An ESME's message is stored in the queue of the upstream
 * its route chose (core.gw_queue, from lua/smpp/gateway.lua) and answered
 * once that is committed. At the end of every loop turn, after the commit,
 * the forwarder of each woken link takes as many due rows as its bound
 * sessions have free window slots (and its throughput allows) from its
 * queue, reading the queue from a cursor (store_fwd_take: nothing is
 * written per row taken), and sends each one. The upstream's answer is
 * written by rowid: accepted (its id and the key receipts are matched by,
 * out of the queue), or a retry later; what needs a decision (a refusal,
 * a message whose validity ended) goes to the gateway's Lua event handler
 * in a task, whose answer C applies. A receipt from a link's session is
 * matched in C through the store (exact key within that upstream), its
 * message's state written, rewritten to the ESME's id and put in the
 * account's outbox (rt_outbox.c delivers it); one that came before its
 * message's answer waits in the store's `early` table and is matched when
 * the answer is written. MO messages (deliver_sm that are not receipts)
 * go to the script's handlers.
 *
 * Who owns what. rt_gw.c owns every link (by name; a link lives until
 * serving ends, configured or not: a queue in the store may name an
 * upstream no longer configured) and the list of answers held for the
 * commit. A link lists its sessions by id (net_find says whether one still
 * lives); an attached session's net owner slot points at its link. A
 * message in flight is a small record from rt_fwd.c's pool, owned from the
 * send until its completion, which the engine calls exactly once. An event
 * is a record owned by its task until the task ends. Nothing about a
 * message is kept in Lua.
 */
#ifndef SMPPGW_RT_GW_H
#define SMPPGW_RT_GW_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "net.h"
#include "store.h"

typedef struct rt_link_s {
    char      *name;            /* NUL-terminated, owned */
    size_t     len;
    int        configured;      /* core.gw_link named it (else: a queue in the store only) */
    int        former;          /* a reload removed it, and upstream.lua keeps it (core.gw_groups) */
    /* settings (core.gw_link) */
    tb_t       tb;              /* throughput: messages per second, rate 0 = unlimited */
    double     throttle_backoff;/* the link pauses this long after ESME_RTHROTTLED / ESME_RMSGQFUL */
    int        throttle_retries;/* ... and a message is sent again on it this often before the
                                 * event handler may move it elsewhere */
    int        fmt_resp, fmt_receipt, fmt_tlv;   /* MSGID_*: declared id formats */
    long long  max_queue;       /* rows its queue may hold (0: the store's limit only) */
    double     wait;            /* seconds it may be unable to send before its messages are
                                 * offered to the event handler ("stalled": failover) */
    int        max_timeouts;    /* requests in a row left unanswered before it counts as unable
                                 * to send (0: never; rt_gw_link_answer) */
    int        max_errors;      /* the same for answers ESME_RSYSERR / ESME_RINVBNDSTS (0: never:
                                 * they count as answers, since any account can draw them) */
    struct rt_link_s *rcpt_for; /* receipts_for: its receipts are that link's (NULL: its own) */
    struct rt_link_s *sib;      /* the next link of its receipt group (one SMSC account; a ring,
                                 * core.gw_groups), NULL: alone */
    /* bound sessions */
    uint64_t  *sess;            /* ids of the attached sessions */
    uint32_t   nsess, capsess, rr;
    /* the forwarder (rt_fwd.c) */
    double     cur_due;         /* the cursor: rows at or before (cur_due, cur_rowid) were taken */
    long long  cur_rowid;
    int        cur_set;
    double     paused_until;    /* rt_time() */
    uint32_t   inflight;
    long long  queued;          /* rows in its queue, counted in memory (not the parked) */
    long long  parked;          /* rows of runs that wait: in the queue, never taken (rt_gw_held.c) */
    int        woken;
    struct rt_link_s *run_next; /* the run list of the turn */
    double     sweep_due, sweep_at;   /* the sweep of a link that cannot send: expired and */
    long long  sweep_rowid;           /* stalled messages */
    double     down_since;      /* rt_time() it could last send, 0: it can now */
    /* unanswered (rt_gw_link_answer): its requests kept timing out */
    uint32_t   timeouts_row;    /* requests timed out since its last answer (sent after it) */
    double     answered_at;     /* rt_gw_stamp() of its last answer, late ones too */
    uint32_t   win_cap;         /* requests in flight at most while it answers late (0: its binds' windows) */
    double     cap_cut_at;      /* rt_time() win_cap was last halved */
    uint32_t   win_full;        /* the most in flight seen when it was cut (win_cap opens past twice it) */
    uint32_t   errors_row;      /* requests answered ESME_RSYSERR / ESME_RINVBNDSTS since then */
    int        silent_errors;   /* unanswered by an error answer (the log line says so) */
    const char *last_error;     /* the status name of the last of errors_row (static) */
    double     silent_since;    /* rt_time() it went unanswered, 0: it answers */
    double     trial_at;        /* unanswered: no request before this (then one at a time) */
    uint32_t   trials;          /* unanswered: requests sent since, timed out too */
    struct rt_fwd_held_s *held, **held_tail;   /* stored this turn, sent from memory after the
                                                 * commit when nothing else waits (rt_fwd.c) */
    long long  nheld;
    uint64_t   held_drops;      /* times held rows were dropped to the reader (rt_fwd.c, run_held) */
    long long  deciding;        /* its rows the event handler is deciding on (behind the cursor) */
    /* counters since start */
    uint64_t   sent_memory;     /* of sent: from the octets stored this turn, not read back */
    uint64_t   queued_total, sent, accepted, retried, throttled, refused, expired, moved;
    uint64_t   receipts, early, early_matched, unmatched, receipts_refused, relayed;
    uint64_t   repeated;        /* final receipts after the final one, dropped (rt_gw_rcpt_hold.c) */
    uint64_t   answers_ok, answers_error, answers_failed;   /* rt_gw_answer_count */
    uint64_t   timeouts, unanswered;    /* requests timed out; times it went unanswered */
    uint64_t   link_errors;     /* answers ESME_RSYSERR / ESME_RINVBNDSTS (the link's fault) */
    uint64_t   late_answers;    /* answers that came after their request timed out (rt_gw_link_late) */
    struct rt_link_s *next;
} rt_link_t;

/* -- Links (rt_gw.c) ------------------------------------------------------------ */

/* The link named (name, len), created (unconfigured) when `create`; NULL
 * without memory, or when there is none and !create. */
rt_link_t *rt_gw_link(const char *name, size_t len, int create);

/* The link a session of ours is attached to, or NULL. */
rt_link_t *rt_gw_link_of(sess_t *s);

/* Call fn for every link. */
void rt_gw_foreach(void (*fn)(rt_link_t *l, void *arg), void *arg);

/* The gateway's settings (core.gw_start). */
typedef struct rt_gw_conf_s {
    int    on;              /* core.gw_start was called */
    double early_ttl;       /* seconds a receipt waits for its message's answer */
    double queue_ttl;       /* seconds a receipt waits in an account's outbox */
    double receipt_wait;    /* seconds a relayed receipt waits for the ESME before the outbox (0: no limit) */
    double retry_min, retry_max;   /* backoff of a message sent again: doubling from min */
    int    id_format;       /* MSGID_KEYED_*: the ids we issue */
    int    on_event;        /* registry ref of the Lua event handler */
} rt_gw_conf_t;
extern rt_gw_conf_t rt_gw_conf;

/* Does registered_delivery ask for a receipt (SMSC delivery receipt bits
 * 0-1, or intermediate notification bit 4)? */
static inline int rt_gw_wants_receipt(long long rd) { return (rd & 0x03) != 0 || (rd & 0x10) != 0; }

/* A message's answer, held until the turn's commit: answer request `seq`
 * of session `sess_id` with `status` (or the commit's failure status). */
void rt_gw_hold_answer(uint64_t sess_id, uint32_t seq, uint32_t status);

/* Unanswered links (rt_gw_answer.c). An upstream that binds and answers enquire_link but
 * never answers a submit (a "black hole") would hold its queue and every
 * new message of a failover route for good. Each request sent on a link
 * ends with an answer (any status, generic_nack, even a malformed one)
 * or a timeout; rt_gw_link_answer counts them (the forwarders' and
 * upstream.lua's link:send, through core.gw_answer). After max_timeouts
 * timeouts in a row with no answer between them the link counts as
 * unable to send, as a link that is down does: the strategies pass it
 * over (core.gw_answering, upstream.lua's Link:usable), its forwarder
 * sends nothing and after `wait` seconds its queue is offered as stalled
 * (moved to another upstream of each message's route). One request at a
 * time tries it again (a trial: the first message of its queue, or a
 * new one a strategy gives it once its queue is empty), after retry_min
 * doubling per trial that times out to retry_max; any answer makes it
 * usable again. An answer the link is blamed for (ESME_RSYSERR, the
 * upstream failed inside; ESME_RINVBNDSTS, its session is going away) is
 * no answer in this sense: a run of max_timeouts of them (or of them and
 * timeouts mixed) makes the link unable to send as well, and such a trial
 * counts as failed; one line is logged when the state changes, not one
 * per message. answered: 1 an answer, 0 a timeout, -1 such an error
 * answer (l->last_error names it). `sent`: rt_gw_stamp() when the request
 * went out. */
void rt_gw_link_answer(rt_link_t *l, int answered, double sent);

/* A late answer on l (one that came after its request timed out): the
 * link answers, slowly: its run of timeouts ends, and the timeouts of
 * requests sent before it do not count toward max_timeouts. An
 * unanswered link stays so until a trial is answered in time. */
void rt_gw_link_late(rt_link_t *l);

/* n free window slots of l's binds, bounded by the window a slow link's
 * late answers shrank (l->win_cap, 0: none; rt_gw_answer.c). */
static inline uint32_t rt_gw_cap_slots(const rt_link_t *l, uint32_t n)
{
    if (!l->win_cap) return n;
    if (l->inflight >= l->win_cap) return 0;
    return n < l->win_cap - l->inflight ? n : l->win_cap - l->inflight;
}

/* Whether l may send now as to its answers: 1 while it answers, or when
 * a trial may go (its time has come, nothing of l in flight or being
 * decided, `outstanding` requests of link:send's none); 0 otherwise, and
 * *wait (may be NULL) the seconds until a trial may go (0.05: one is out). */
int rt_gw_link_answering(const rt_link_t *l, double now, unsigned outstanding, double *wait);

/* What becomes of a receipt `in` from l (state: its message_state, -1
 * none) that found its message r (its fwd row): 0 applied, 1 held as
 * early, RT_GW_RCPT_REPEAT a repeat of a final receipt, answered ESME_ROK
 * and dropped (rt_gw_rcpt_hold.c). The links of l's receipt group count as
 * l (one awaiting answers holds it). rt_gw_rcpt_what: the `what` of its
 * trace line (a multi's names the destination, dest, from
 * rt_gw_rcpt_dest), in buf when it is not `what` itself. */
#define RT_GW_RCPT_REPEAT 2
int rt_gw_rcpt_held(rt_link_t *l, store_t *st, const store_fwd_row_t *r, const pdu_t *in, int state);
store_str_t rt_gw_rcpt_what(char *buf, size_t cap, const char *dest, const char *what);
void rt_gw_rcpt_dest(const pdu_t *in, int multi, char *dest, size_t cap);
/* The text of a receipt: short_message, else message_payload (*in_payload). */
const uint8_t *rt_gw_rcpt_text(const pdu_t *p, size_t *n, int *in_payload);

/* A receipt's key k looked up among the other members of l's receipt
 * group (the upstream entries of one SMSC account, any of whose sessions
 * may carry the receipt): fn keeps the newest row (by its message's key)
 * in ud, whose rowid is *newest; returns the member whose message is the
 * newest, NULL when l's (or nobody's) is (rt_gw_rcpt_hold.c). */
rt_link_t *rt_gw_rcpt_find_group(rt_link_t *l, store_t *st, store_str_t k, int written, store_fwd_fn fn, void *ud,
                                 const long long *newest);

/* A receipt from l whose key as written found no message: said once per
 * link when its key without the exact test finds one, a message stored
 * before schema 9 under an id that differs in case or leading zeros
 * (rt_gw_rcpt_hold.c). */
void rt_gw_rcpt_case_hint(rt_link_t *l, store_t *st, store_str_t up, store_str_t k);

/* Count the outcome of one send of the forwarders (rt_fwd.c, rt_gwr_fwd.c)
 * as lua/smpp/upstream.lua counts a link's sends, so that
 * smppgw_upstream_messages_total says the same in store-and-forward: ok
 * (ESME_ROK), error (another status, generic_nack), failed (no answer:
 * err from the engine); a throttling answer is l->throttled already. And
 * whether the link answers (rt_gw_link_answer; sent: its rt_gw_stamp()). */
static inline void rt_gw_answer_count(rt_link_t *l, int err, uint32_t status, double sent)
{
    if (err == SESS_ENACK) l->answers_error++;
    else if (err) l->answers_failed++;
    else if (status == SMPP_ESME_ROK) l->answers_ok++;
    else if (status != SMPP_ESME_RTHROTTLED && status != SMPP_ESME_RMSGQFUL) l->answers_error++;
    if ((!err || err == SESS_ENACK) && (status == SMPP_ESME_RSYSERR || status == SMPP_ESME_RINVBNDSTS)) {
        l->last_error = status == SMPP_ESME_RSYSERR ? "ESME_RSYSERR" : "ESME_RINVBNDSTS";
        rt_gw_link_answer(l, -1, sent);
    } else if (!err || err == SESS_ENACK || err == SESS_EBADRESP) rt_gw_link_answer(l, 1, sent);
    else if (err == SESS_ETIMEOUT) rt_gw_link_answer(l, 0, sent);
}

/* An event for the Lua handler (kind: "refused", "throttled", "expired",
 * "stalled", "receipt"), run in a task; its answer (a decision) is applied
 * by rt_fwd_decide, and when it answers nothing, the kind's default if
 * `decided` (refused: finish REJECTED; throttled: retry on the link;
 * expired: finish EXPIRED), else nothing (stalled: it stays; receipt). The
 * row's facts travel with it. */
typedef struct rt_gw_event_s {
    const char *kind;
    rt_link_t  *link;
    long long   rowid, part, attempts, rd;
    uint32_t    status;
    char        id[72], account[24], route[72];
    char        detail[200];    /* the text of a receipt, a refusal's reason */
    int         decided;        /* it needs a decision (else the task's results are ignored) */
    struct rt_gw_event_s *next;
} rt_gw_event_t;
void rt_gw_event(rt_gw_event_t *ev);

/* -- The forwarder (rt_fwd.c) ------------------------------------------------------ */

/* The due of a row written into l's queue at time t: after l's cursor
 * (so the forwarder cannot have passed it, whatever its rowid). */
double rt_fwd_due(rt_link_t *l, double t);

/* A message just stored in l's queue (core.gw_queue; its fwd row's key,
 * due and the record's facts; the strings and octets are copied): held
 * until the end of the turn, when the forwarder may send it from memory
 * instead of reading its row back -- only once the turn's commit stored
 * it, and only when nothing else in the queue waits untaken (so the
 * queue's order, the windows and the throughput are those of the queue
 * reader, which then moves its cursor past it). Without memory or past
 * the bound the message is not held: the queue reader takes it. */
typedef struct rt_fwd_fresh_s {
    long long   key, rd;
    double      due, expires, submitted;
    store_str_t id, account, route, pdu;
    int         checked;        /* pdu decoded as a message (stored as it came: pdu_arg) */
} rt_fwd_fresh_t;
void rt_fwd_hold(rt_link_t *l, const rt_fwd_fresh_t *m);

/* The run whose coroutine is co stored the message of key in l's queue
 * this turn (core.gw_queue): should that run fail before the turn ends,
 * its request answered ESME_RSYSERR, the message is ended instead of
 * forwarded (rt_fwd_undo, through rt_store_undo). Should the run wait
 * instead (a timer, a call, a lock), the message is parked (in its queue,
 * never taken) until the run ends: then put back in the queue (its
 * validity checked there as any queued message's), or ended REJECTED
 * when the run failed with its request answered ESME_RSYSERR
 * (rt_gw_held.c). rt_fwd_room, called before the message is stored, makes
 * room in the turn's list for it: 0 when it cannot (out of memory, or the
 * list's bound), and then the message must not be stored (refused:
 * ESME_RMSGQFUL), since a failure of its run could not hold it back.
 * rt_fwd_turn forgets the turn's list (committed: whether the turn's
 * commit stored it). */
int rt_fwd_room(void);
void rt_fwd_stored(lua_State *co, long long key, rt_link_t *l);
void rt_fwd_undo(lua_State *co);
/* What the run's ESME is told decides its messages (through rt_store_lost
 * and rt_store_refused, rt_store.h): whether a failed commit lost rows the
 * run of co parked (then its ESME_ROK becomes *status), and a held
 * ESME_ROK of the run of co given as an error after the turn's commit
 * failed (its messages ended REJECTED, not forwarded). */
int rt_fwd_lost(lua_State *co, uint32_t *status);
void rt_fwd_refused(lua_State *co);
void rt_fwd__turn_over(int committed);

/* Wake l's forwarder: it runs at the end of this turn, after the commit. */
void rt_fwd_wake(rt_link_t *l);

/* The end of a loop turn, after the commit: run the woken forwarders. */
void rt_fwd_turn(void);

/* The decision when the handler gives none, the same on every store: a
 * throttle retries on its link after throttle_backoff (*delay), a refusal
 * finishes REJECTED and an ended validity EXPIRED (*state). */
const char *rt_fwd_default(const rt_gw_event_t *ev, double *delay, int *state);

/* A decision for an event's row: "retry" (delay s, on its link), "move"
 * (to upstream, after delay s), "finish" (state, err). line: its trace
 * line. Returns 0, or a message naming what is wrong with it. */
const char *rt_fwd_decide(rt_gw_event_t *ev, const char *what, const char *upstream, double delay,
                          int state, long long err, const char *line);

/* A row of l's queue went elsewhere or out of it (count it, and if it was
 * to another queue, wake that one). */
void rt_fwd_moved(rt_link_t *from, rt_link_t *to);

void rt_fwd_start(void);
void rt_fwd_close(void);
void rt_fwd_stop(void);

/* -- Receipts (rt_gw_rcpt.c) ----------------------------------------------------------- */

/* A request on one of our link sessions: a receipt is matched and
 * answered here (returns 1); anything else goes to the script (0). */
int rt_gw_request(sess_t *s, const pdu_t *req);

/* The answer of a message sent at `sent` (an rt_gw_stamp()) was stored
 * with `key`: match the receipts that came before the answer but not
 * before the message was sent (in the store's early table). */
void rt_gw_rcpt_early(rt_link_t *l, store_t *st, store_str_t key, double sent);

/* The end of a loop turn, after its commit released the answers it held:
 * the receipts matched while answers were held go to their receivers now
 * (rt_gw_rcpt.c; an ESME must not get a receipt before the answer that
 * gave it the id); at the stop they are dropped (their upstreams, not
 * answered, send them again). */
void rt_gw_rcpt_turn(void);
void rt_gw_rcpt_drop(void);

/* The ESME session each message came in on (rt_gw_origin.c), a bounded
 * preference kept in memory: its receipts go back on that session while
 * it is bound, can receive and has window room (rt_gw_origin_pick; else
 * the next receiver of the account with room, or NULL), so that they
 * follow the answer that gave the ESME the id on the same socket. sess:
 * the session of message `key` (0: not known); drop: its final receipt
 * was handled. */
struct rt_acct_s;
void rt_gw_origin_put(long long key, uint64_t sess);
uint64_t rt_gw_origin_sess(long long key);
sess_t *rt_gw_origin_pick(struct rt_acct_s *a, long long key);
void rt_gw_origin_drop(long long key);
uint64_t rt_gw_origin_count(void);        /* slots in use (core.gw_stats origins) */
void rt_gw_origin_free(void);

/* The relay deadline (rt_gw_wait.c): a receipt relayed to an ESME waits
 * receipt_wait seconds for its answer, then rt_gw_rcpt_due(w) runs (it
 * goes to the outbox and the upstream is answered). add: the deadline
 * starts (nothing when receipt_wait is 0); del: the ESME answered (or the
 * record goes); close: no more deadlines (the loop ends). */
typedef struct rt_gw_wait_s {
    struct rt_gw_wait_s *prev, *next;
    uint64_t             due;       /* uv_now() milliseconds */
    int                  on;        /* on the list */
} rt_gw_wait_t;
void rt_gw_wait_add(rt_gw_wait_t *w);
void rt_gw_wait_del(rt_gw_wait_t *w);
void rt_gw_wait_close(void);
void rt_gw_wait_open(void);         /* serving starts (again) */
void rt_gw_rcpt_due(rt_gw_wait_t *w);

/* A time (rt_time(), seconds) that orders the gateway's events: each call
 * returns more than the last, so a receipt that arrived before a message
 * was sent in the same millisecond still stamps as earlier. */
double rt_gw_stamp(void);

/* -- Trace lines (rt_gw.c) ---------------------------------------------------------------- */
/* Lines written for every message are put together with these rather
 * than snprintf (a third of the cost of a line): text and numbers appended
 * to a caller's buffer, cut at its end, always NUL-terminated. */

typedef struct rt_line_s {
    char  *p;
    size_t n, cap;              /* cap includes the NUL */
} rt_line_t;

void rt_gw_line_put(rt_line_t *b, const char *s, size_t n);
void rt_gw_line_str(rt_line_t *b, const char *s);
void rt_gw_line_num(rt_line_t *b, unsigned long long v);

/* For the Redis store (rt_gwr_rcpt.c): a receipt's key (into key, at least
 * 160 octets; *written: it is the id as written, msgid_key_written),
 * message_state (-1: none given) and error, as the matching here reads
 * them (0 when it names no id); and the receipt rewritten to the ESME's
 * id (*out: a buffer of this file's, valid until the next call). */
int rt_gw_rcpt_read(rt_link_t *l, const pdu_t *in, char *key, size_t *klen, int *written, int *state,
                    long long *err);
long rt_gw_rcpt_onward(const pdu_t *in, store_str_t esme_id, const uint8_t **out, const char **why);

/* -- The runtime's hooks (rt_gw.c) ------------------------------------------------------- */

void rt_gw_start(void);
/* After the commit of a turn: release the held answers, run the forwarders. */
void rt_gw_turn(void);
void rt_gw_close(void);
void rt_gw_stop(void);

/* The Lua functions: rt_gw.c's (gw_start, gw_link, gw_attach, gw_detach,
 * gw_stats, gw_load, gw_stamp), rt_gw_store.c's (gw_queue, gw_record) and
 * rt_gw_answer.c's (gw_answer, gw_answering, gw_room). */
extern const luaL_Reg rt_gw_lib[];
extern const luaL_Reg rt_gw_store_lib[];
extern const luaL_Reg rt_gw_answer_lib[];

#endif /* SMPPGW_RT_GW_H */
