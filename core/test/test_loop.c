/* test_loop.c -- loop_turn.h: a timer that re-arms itself with
 * loop_turn_timer runs once a loop turn, so other work (a turn's poll
 * and its check phase) runs between its batches. With a 0 timeout, libuv
 * 1.44 ran it again in the same timer pass until it stopped re-arming.
 */
#include <stdlib.h>

#include "loop_turn.h"
#include "test.h"

static int runs, left, turns, turn_of_last_run, same_turn;

/* after each turn's poll: a turn has passed */
static void on_check(uv_check_t *c)
{
    (void)c;
    turns++;
}

static void on_batch(uv_timer_t *t)
{
    if (runs > 0 && turns == turn_of_last_run) same_turn++;
    turn_of_last_run = turns;
    runs++;
    if (--left > 0) loop_turn_timer(t, on_batch, 0);
}

static void test_once_a_turn(void)
{
    uv_loop_t loop;
    uv_timer_t t;
    uv_check_t c;
    CHECK_EQ(uv_loop_init(&loop), 0);
    uv_timer_init(&loop, &t);
    uv_check_init(&loop, &c);
    uv_check_start(&c, on_check);
    uv_unref((uv_handle_t *)&c);            /* the loop ends when the timer is done */
    runs = turns = same_turn = 0;
    left = 5;
    loop_turn_timer(&t, on_batch, 0);
    uv_run(&loop, UV_RUN_DEFAULT);          /* the runtime's mode */
    CHECK_EQ(runs, 5);
    CHECK_EQ(same_turn, 0);                 /* never two batches without a turn between */
    uv_close((uv_handle_t *)&t, NULL);
    uv_close((uv_handle_t *)&c, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    TEST(test_once_a_turn);
    return test_summary();
}
