/* One writer per log: the keeper holds an exclusive lock beside its
 * database for its whole life, so a second gatewayd on the same state
 * refuses to start instead of appending to the same log. */
#ifndef GW_LOCK_H
#define GW_LOCK_H

/* Takes the lock of database (the file database.lock, which then holds
 * this keeper's and its parent's pids). The descriptor is the caller's to
 * keep open; it is released when every copy is closed. -1 (logged, naming
 * the holder) if another process holds it or it cannot be made. */
int	lock_state(const char *database);

#endif
