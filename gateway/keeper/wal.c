/* The WAL checkpointer thread. SQLite's automatic checkpoint runs inside
 * the commit that crosses its threshold, in the keeper's only writing
 * thread: about every thousand pages a commit copied them all back and
 * synced the database, and every agency waiting on that commit waited too.
 * Here a passive checkpoint runs every WAL_PERIOD_MS on another connection
 * and core and copies what was committed without ever blocking the writer.
 *
 * A passive checkpoint alone never lets the WAL start over under steady
 * load: the writer appends new frames while the copy runs, so the copy is
 * never complete when the next commit begins, and the file grows without
 * end (1.2 GB in 45 s of traffic). Nor can this thread force a RESTART:
 * the writer commits back to back and takes the write lock again before a
 * polling busy handler gets it. So the writer watches its own commits (a
 * WAL hook: SQLite says how many frames the WAL holds after each one), and
 * once the WAL holds a quarter of its limit it restarts the WAL itself
 * between two group commits (wal_restart): it copies the few frames the
 * passive checkpoints left and makes the next commit write the WAL from its
 * start, and journal_size_limit cuts the file back. A reader
 * that keeps an old snapshot (a long `gatewayctl` read) can hold the
 * restart off: the writer then waits no more than WAL_RESTART_WAIT_MS,
 * tries again later, and the metrics and an alert say so. */
#include <sys/stat.h>

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "keeper/wal.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define WAL_PERIOD_MS		100
/* How long the writer's RESTART may wait for readers and the copy in
 * progress; afterwards the writer's own busy timeout again. */
#define WAL_RESTART_WAIT_MS	50
#define WAL_WRITER_WAIT_MS	5000
/* After a RESTART that readers held off, the next try waits this long,
 * doubling up to WAL_BACKOFF_MAX_MS. */
#define WAL_BACKOFF_MIN_MS	500
#define WAL_BACKOFF_MAX_MS	8000
/* SQLite's WAL frame: a 24-byte header and one page. */
#define WAL_FRAME_HDR		24

static _Thread_local int	wal_thread_self;

struct wal_flusher {
	sqlite3			*db;
	char			 wal_path[4096];
	uint64_t		 limit;		/* bytes */
	uint64_t		 page_size;
	struct metrics_keeper	*km;
	pthread_t		 thread;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	/* Held around every checkpoint: SQLite refuses a second one at once
	 * (SQLITE_BUSY, no busy handler), so the writer's RESTART waits here
	 * for the thread's copy in progress instead. */
	pthread_mutex_t		 ckpt;
	int			 stop;
	int			 warned;	/* the WAL is past its limit */
	int			 failing;	/* checkpoints fail */
	/* Set by the writer's WAL hook, cleared once it tried. */
	atomic_int		 restart_due;
	/* The writer's: after a RESTART readers held off. */
	uint64_t		 backoff_ms;
	atomic_ullong		 next_restart_ms;
};

static uint64_t
wal_file_bytes(const struct wal_flusher *w)
{
	struct stat	sb;

	if (stat(w->wal_path, &sb) == -1)
		return 0;	/* no WAL file yet, or it was just reset */
	return (uint64_t)sb.st_size;
}

/* One checkpoint of mode on db: its figures go to the metrics. SQLITE_OK,
 * or SQLITE_BUSY when a reader or the writer was in the way. */
static int
wal_checkpoint(struct wal_flusher *w, sqlite3 *db, int mode, int *nlog,
    int *nckpt)
{
	uint64_t	t0 = now_ms(), dt;
	int		rc;

	*nlog = *nckpt = 0;
	pthread_mutex_lock(&w->ckpt);
	rc = sqlite3_wal_checkpoint_v2(db, NULL, mode, nlog, nckpt);
	pthread_mutex_unlock(&w->ckpt);
	dt = now_ms() - t0;
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		/* Said once per outage: a full disk fails every period. */
		if (!w->failing || !wal_thread_self)
			log_warnx("wal: checkpoint: %s", sqlite3_errmsg(db));
		if (wal_thread_self)
			w->failing = 1;
		atomic_fetch_add(&w->km->wal_failures, 1);
		return rc;
	}
	if (w->failing && wal_thread_self) {
		log_info("wal: checkpoints work again");
		w->failing = 0;
	}
	if (rc == SQLITE_BUSY)
		return rc;	/* another checkpoint runs, or a reader: later */
	if (*nlog < 0) {
		/* The connection does not see a WAL: nothing was copied. */
		if (atomic_fetch_add(&w->km->wal_failures, 1) == 0)
			log_warnx("wal: the checkpointer sees no WAL");
		return SQLITE_ERROR;
	}
	atomic_fetch_add(&w->km->wal_checkpoints, 1);
	atomic_fetch_add(&w->km->wal_checkpoint_ms, dt);
	if (dt > atomic_load(&w->km->wal_checkpoint_max_ms))
		atomic_store(&w->km->wal_checkpoint_max_ms, dt);
	atomic_store(&w->km->wal_lag_frames, (unsigned long long)
	    (*nlog - *nckpt));
	return rc;
}

static void
wal_tick(struct wal_flusher *w)
{
	uint64_t	bytes;
	int		nlog, nckpt;

	/* While the writer has a restart to make, copying here would only
	 * make it wait for the checkpoint lock. */
	if (!atomic_load(&w->restart_due))
		(void)wal_checkpoint(w, w->db, SQLITE_CHECKPOINT_PASSIVE, &nlog,
		    &nckpt);
	bytes = wal_file_bytes(w);
	atomic_store(&w->km->wal_bytes, bytes);
	if (bytes > w->limit) {
		atomic_store(&w->km->wal_over_limit, 1);
		if (!w->warned)
			log_warnx("wal: %llu bytes, past its limit of %llu: "
			    "checkpoints cannot keep up (a reader holding an "
			    "old snapshot?)", (unsigned long long)bytes,
			    (unsigned long long)w->limit);
		w->warned = 1;
	} else if (w->warned && bytes <= w->limit / 2) {
		log_info("wal: back to %llu bytes", (unsigned long long)bytes);
		atomic_store(&w->km->wal_over_limit, 0);
		w->warned = 0;
	}
}

int
wal_in_checkpointer(void)
{
	return wal_thread_self;
}

/* The writer's WAL hook, after each of its commits: nframes is what the
 * WAL holds since it last started over. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct wal_flusher	*w = arg;

	if ((uint64_t)nframes * (w->page_size + WAL_FRAME_HDR) >= w->limit / 4 &&
	    now_ms() >= atomic_load(&w->next_restart_ms))
		atomic_store(&w->restart_due, 1);
	return SQLITE_OK;
}

void
wal_flusher_watch(struct wal_flusher *w, sqlite3 *writer)
{
	sqlite3_wal_hook(writer, wal_hook, w);
}

int
wal_restart_due(struct wal_flusher *w)
{
	return w != NULL && atomic_load(&w->restart_due);
}

void
wal_restart(struct wal_flusher *w, sqlite3 *db)
{
	uint64_t	now;
	int		nlog, nckpt, rc;

	sqlite3_busy_timeout(db, WAL_RESTART_WAIT_MS);
	rc = wal_checkpoint(w, db, SQLITE_CHECKPOINT_RESTART, &nlog, &nckpt);
	sqlite3_busy_timeout(db, WAL_WRITER_WAIT_MS);
	if (rc == SQLITE_OK) {
		atomic_fetch_add(&w->km->wal_restarts, 1);
		w->backoff_ms = 0;
	} else if (rc == SQLITE_BUSY) {
		/* A reader holds an old snapshot: try again later rather
		 * than hold the writer up after every commit. */
		atomic_fetch_add(&w->km->wal_restarts_busy, 1);
		w->backoff_ms = w->backoff_ms == 0 ? WAL_BACKOFF_MIN_MS :
		    (w->backoff_ms * 2 > WAL_BACKOFF_MAX_MS ?
		    WAL_BACKOFF_MAX_MS : w->backoff_ms * 2);
		now = now_ms();
		atomic_store(&w->next_restart_ms, now + w->backoff_ms);
	}
	atomic_store(&w->restart_due, 0);
}

static void *
wal_thread(void *arg)
{
	struct wal_flusher	*w = arg;
	struct timespec		 ts;

	wal_thread_self = 1;
	pthread_mutex_lock(&w->mtx);
	while (!w->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WAL_PERIOD_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->mtx, &ts);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->mtx);
		wal_tick(w);
		pthread_mutex_lock(&w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	return NULL;
}

int
wal_flusher_start(const char *path, uint64_t limit, struct metrics_keeper *km,
    struct wal_flusher **out)
{
	struct wal_flusher	*w;
	sqlite3_stmt		*st;
	int			 rc;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->limit = limit;
	w->km = km;
	if (str_printf(w->wal_path, sizeof(w->wal_path), "%s-wal", path) == -1) {
		log_warnx("%s: %s: path too long", __func__, path);
		free(w);
		return -1;
	}
	if (sqlite3_open_v2(path, &w->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_db_config(w->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_busy_timeout(w->db, WAL_RESTART_WAIT_MS);
	/* A connection that has never read the database has not opened its
	 * WAL, and a checkpoint on it copies nothing (nLog = -1): a read of
	 * the schema opens it. */
	if (sqlite3_prepare_v2(w->db, "SELECT count(*) FROM sqlite_schema",
	    -1, &st, NULL) != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW ||
	    sqlite3_prepare_v2(w->db, "PRAGMA page_size", -1, &st, NULL) !=
	    SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		w->page_size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (w->page_size == 0)
		goto fail;
	pthread_mutex_init(&w->mtx, NULL);
	pthread_mutex_init(&w->ckpt, NULL);
	pthread_cond_init(&w->cond, NULL);
	if ((rc = pthread_create(&w->thread, NULL, wal_thread, w)) != 0) {
		log_warnx("%s: pthread_create: %s", __func__, strerror(rc));
		pthread_mutex_destroy(&w->mtx);
		pthread_mutex_destroy(&w->ckpt);
		pthread_cond_destroy(&w->cond);
		sqlite3_close(w->db);
		free(w);
		return -1;
	}
	*out = w;
	return 0;
fail:
	log_warnx("%s: %s: %s", __func__, path, w->db ? sqlite3_errmsg(w->db) :
	    "out of memory");
	sqlite3_close(w->db);
	free(w);
	return -1;
}

void
wal_flusher_stop(struct wal_flusher *w)
{
	int	nlog, nckpt;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	w->stop = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mtx);
	pthread_join(w->thread, NULL);
	wal_checkpoint(w, w->db, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
	pthread_mutex_destroy(&w->mtx);
	pthread_mutex_destroy(&w->ckpt);
	pthread_cond_destroy(&w->cond);
	sqlite3_close(w->db);
	free(w);
}
