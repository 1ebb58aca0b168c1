/* The keeper's WAL checkpointer: a thread with its own database connection
 * that copies committed WAL frames back into the database and restarts the
 * WAL before it passes its limit, so the thread that commits (and answers
 * agencies) never does that work itself. */
#ifndef GW_WAL_H
#define GW_WAL_H

#include <stdint.h>

struct metrics_keeper;
struct wal_flusher;

/* Opens path and starts the thread, which keeps the WAL under limit bytes
 * and reports to km; call after the sandbox is entered (the thread inherits
 * it). *out is the caller's (wal_flusher_stop). 0 or -1. */
int	wal_flusher_start(const char *path, uint64_t limit,
	    struct metrics_keeper *km, struct wal_flusher **out);
/* Whether the WAL is due to start over, as the writer's own commits tell
 * (wal_flusher_watch hooks them): the writer then calls wal_restart
 * between two group commits, with its own connection (the thread cannot
 * take the write lock from a writer that commits back to back). */
struct sqlite3;
void	wal_flusher_watch(struct wal_flusher *, struct sqlite3 *writer);
int	wal_restart_due(struct wal_flusher *);
void	wal_restart(struct wal_flusher *, struct sqlite3 *writer);
/* Whether the calling thread is the checkpointer (SQLite's error log is
 * process-wide). */
int	wal_in_checkpointer(void);
/* Stops the thread after one last checkpoint and frees everything. */
void	wal_flusher_stop(struct wal_flusher *);

#endif
