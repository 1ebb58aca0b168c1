/* The keeper's WAL checkpointer: a thread with its own database connection
 * that copies committed WAL frames back into the database, so the thread
 * that commits (and answers agencies) never does that work itself. */
#ifndef GW_WAL_H
#define GW_WAL_H

struct wal_flusher;

/* Opens path and starts the thread; call after the sandbox is entered (the
 * thread inherits it). *out is the caller's (wal_flusher_stop). 0 or -1. */
int	wal_flusher_start(const char *path, struct wal_flusher **out);
/* Stops the thread after one last checkpoint and frees everything. */
void	wal_flusher_stop(struct wal_flusher *);

#endif
