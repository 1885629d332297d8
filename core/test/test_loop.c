/* test_loop.c -- loop_turn.h: a timer that re-arms itself with
 * loop_turn_timer runs once a loop turn, so other work runs between its
 * batches (with a 0 timeout, libuv 1.44 ran it again in the same timer
 * pass until it stopped re-arming).
 */
#include <stdlib.h>

#include "loop_turn.h"
#include "test.h"

static int runs, left;

static void on_batch(uv_timer_t *t)
{
    runs++;
    if (--left > 0) loop_turn_timer(t, on_batch, 0);
}

static void test_once_a_turn(void)
{
    uv_loop_t loop;
    uv_timer_t t;
    int turns = 0;
    CHECK_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &t);
    runs = 0;
    left = 5;
    loop_turn_timer(&t, on_batch, 0);
    /* the first run may need a turn or two for its millisecond; after
     * that each turn that runs timers runs this one at most once */
    while (runs < 5 && turns < 10000) {
        int before = runs;
        uv_run(&loop, UV_RUN_ONCE);
        turns++;
        CHECK(runs - before <= 1);
        if (runs - before > 1) break;
    }
    CHECK_EQ(runs, 5);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    TEST(test_once_a_turn);
    return test_summary();
}
