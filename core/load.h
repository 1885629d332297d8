/* load.h -- `smppgw bench`, the load generator (load.c), run by main.c
 * before any Lua starts: it needs only the C session engine.
 */
#ifndef SMPPGW_LOAD_H
#define SMPPGW_LOAD_H

/* argv[0] is "bench"; returns the process exit code (0: every session bound
 * and at least one message acknowledged; 2: bad arguments). */
int load_main(int argc, char **argv);

#endif /* SMPPGW_LOAD_H */
