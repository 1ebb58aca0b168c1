/* The keeper process: signing keys and the append-only audit log. */
#ifndef GW_KEEPER_H
#define GW_KEEPER_H

struct checkpoint;
struct config;
struct metrics_keeper;
struct store;

/* Runs the keeper until SIGTERM or until the parent's channel closes.
 * ctl_fd carries relay channels from the parent (SCM_RIGHTS). */
int	keeper_main(struct config *, int ctl_fd, struct metrics_keeper *);
/* Opens the database, loads the log key and refuses a log that does not
 * extend its checkpoint file. Shared with `gatewayd -t`. */
int	keeper_open_log(struct config *, struct store **, struct checkpoint *);

#endif
