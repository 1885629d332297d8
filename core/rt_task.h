/* rt_task.h -- tasks: one coroutine per request, timer or event, resumed
 * by the loop when what it waits for has happened.
 *
 * A task runs one function. When the function ends, the task calls its
 * owner's completion callbacks: finish(task, n) with the n results on the
 * coroutine's stack, or fail(task, message). The task core knows nothing
 * of what the results mean: rt_sess.c answers an SMPP request with them,
 * rt_http.c an HTTP request.
 *
 * Ownership: the task core owns every task (a registry ref to its
 * coroutine, released on exactly one path). A wait (send, sleep, connect,
 * suspend, http_post) registers itself with rt_task_wait() and yields; the
 * waker ends it with rt_task_wake() exactly once. A task that still holds a
 * registered wait is never put back in the pool nor freed: if its function
 * ended meanwhile (it cannot, when waits yield as they register), the task
 * is kept until the wait ends and is released then.
 */
#ifndef SMPPGW_RT_TASK_H
#define SMPPGW_RT_TASK_H

#include <stdint.h>

#include <lua.h>

typedef struct rt_task_s rt_task_t;

typedef struct rt_task_owner_s {
    /* The function returned n values (stack indices 1..n of t->co). Returns
     * NULL when they were taken, or a message saying what is wrong with
     * them: the task then fails with that message. */
    const char *(*finish)(rt_task_t *t, int n);
    /* The function raised `msg` (with its traceback), yielded outside a
     * wait, or returned what finish refused. The error is counted already;
     * the owner logs it and answers. */
    void (*fail)(rt_task_t *t, const char *msg);
} rt_task_owner_t;

struct rt_task_s {
    lua_State  *co;
    int         ref;        /* registry ref of the coroutine */
    const char *what;       /* for log lines: "submit_sm handler", "timer" */
    uint64_t    sess_id;    /* the session it serves (0: none); log lines name it */
    const rt_task_owner_t *owner;  /* NULL: results ignored, failures logged */
    void       *arg;        /* the owner's (an HTTP connection) */
    uint32_t    seq, cmd_id;/* the owner's (the SMPP request it answers) */
    const char *wait;       /* the registered wait ("send", "sleep"...), or NULL */
    int         orphan;     /* its function ended while a wait was registered */
    int         reserve;    /* runs the runtime's own code (core.heap_reserve) */
    int         refused;    /* smpp.respond answered its request with an error: core.gw_queue
                             * stores nothing more for it (rt_sess_answer.c, rt_gw_store.c) */
    uint64_t    run;        /* this run's serial (rt_task_new): a coroutine taken again
                             * for a later run is told from it */
    uint64_t    for_run;    /* an smpp.respond's task: the serial of the run (arg) whose
                             * request it answers */
    int         wrote;      /* the run wrote to the store, in the loop turns first_write
                             * to last_write (rt_store.c's count): a failed commit of one of
                             * them may have lost its writes (rt_store_run_lost) */
    uint64_t    first_write, last_write;
    long long  *withdraw;   /* keys of rows put to be withdrawn if its request is answered with an
                             * error (st:put(rec, true); rt_sess_answer.c) */
    int         nwithdraw, capwithdraw;
    unsigned    gen;        /* the script generation it runs for (rt.script_gen when made; a
                             * timer's task: the timer's; 0: the runtime's own, rt_timer.c) */
    rt_task_t  *next, *prev;/* every task not in the pool */
};

/* What an owner's finish returns to keep a task, its results still on its
 * stack, until the owner calls rt_task_release(t): an answer waits for the
 * store's commit of what the task wrote (rt_store.h). */
extern const char rt_task_held[];
#define RT_TASK_HELD rt_task_held

/* Release a task whose finish returned RT_TASK_HELD. */
void rt_task_release(rt_task_t *t);

/* fn(co) is called when a finished task's coroutine is taken from the
 * pool for another run, or a new one is made (its address may be that of
 * a thread freed before): what was noted about the run that ended under co
 * (rt_gw_held.c: the messages it stored) is forgotten. One hook. */
void rt_task_set_reuse_hook(void (*fn)(lua_State *co));

/* fn(co, 1) is called when a task's run starts to wait (it yielded in a
 * wait), fn(co, 0) when a run that waited is over (it returned or
 * failed after a wake; co is then a key only: its task may be gone).
 * Runs that never wait never call it (rt_gw_held.c: the messages of a run
 * that waits are not forwarded before it ends). One hook. */
void rt_task_set_wait_hook(void (*fn)(lua_State *co, int waits));

/* *count is read before and after each resume of a task; when it moved,
 * fn(t) is called, before the task's owner sees its results (rt_store.c:
 * the run wrote to the store in this loop turn). One pair. */
void rt_task_set_write_hook(const uint64_t *count, void (*fn)(rt_task_t *t));

/* A new task (NULL without memory) whose coroutine has nothing on its
 * stack. Set its fields, then rt_task_start(). */
rt_task_t *rt_task_new(const char *what, const rt_task_owner_t *owner);

/* Run the function and its nargs arguments on top of rt.L's stack (moved
 * to the task) until it ends or waits. */
void rt_task_start(rt_task_t *t, int nargs);

/* rt_task_start for a caller that knows whether the function is one of
 * the runtime's own (rt_task_is_own, remembered while rt_task_own_gen()
 * stays the same): the lookup is left out. */
void rt_task_run(rt_task_t *t, int nargs, int own);

/* rt_task_run for a function and its nargs arguments pushed onto the
 * task's own coroutine (t->co) already: nothing is moved. */
void rt_task_run_here(rt_task_t *t, int nargs, int own);

/* 1 when the function at idx of L was made the runtime's own with
 * core.heap_reserve(fn) (its task may use the heap's reserve), else 0. */
int rt_task_is_own(lua_State *L, int idx);

/* Changes whenever core.heap_reserve(fn) adds a function: what
 * rt_task_is_own said before may no longer hold. */
unsigned rt_task_own_gen(void);

/* The task running in L, ready to wait: a Lua error (naming `fn`) unless L
 * is a task's own coroutine that can yield now. Wait primitives call it
 * before they register anything, and end with
 *     rt_task_wait(t, "send");
 *     return lua_yield(L, 0);
 * so that registering a wait and yielding are one step (the values given
 * to rt_task_wake become the primitive's results). */
rt_task_t *rt_task_current(lua_State *L, const char *fn);

/* The task whose coroutine L is (running or not), or NULL: for functions
 * that act on their task without waiting (smpp.respond). */
rt_task_t *rt_task_of(lua_State *L);

/* Register a wait; the caller yields right after. */
void rt_task_wait(rt_task_t *t, const char *what);

/* End the wait of t: resume it with the nargs values pushed on t->co (an
 * orphan is released instead). */
void rt_task_wake(rt_task_t *t, int nargs);

/* Script errors so far (failed tasks). */
uint64_t rt_task_errors(void);

/* Release every task (when serving has ended: nothing will wake them). */
void rt_task_release_all(void);

#endif /* SMPPGW_RT_TASK_H */
