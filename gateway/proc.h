/* The parent process: opens sockets and files, starts and watches the roles,
 * restarts a role that dies, and stops them cleanly. */
#ifndef GW_PROC_H
#define GW_PROC_H

struct runtime;

/* Runs until SIGTERM/SIGINT and every worker has drained. Returns the exit
 * status for main. */
int	proc_run(struct runtime *);

#endif
