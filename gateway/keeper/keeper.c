/* The keeper process: the only writer of the audit database and the only
 * holder of signing keys. What the relays send (keeper_chan.c) is gathered
 * and committed together (group commit), acknowledged only once durable;
 * checkpoints, watches and storage failures are handled here too. */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <libgen.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <sqlite3.h>

#include "adapters/adapter.h"
#include "keeper/keeper.h"
#include "keeper/keeper_int.h"
#include "keeper/lock.h"
#include "keeper/outbox.h"
#include "keeper/registry.h"
#include "keeper/signer.h"
#include "keeper/store.h"
#include "keeper/trustlog.h"
#include "keeper/wal.h"
#include "log.h"
#include "metrics.h"
#include "sandbox.h"
#include "trust.h"
#include "util.h"

/* At most one checkpoint a second, issued at most a second after new
 * entries (C2SP checkpoints are cheap, but each one is a file fsync). */
#define KEEPER_CP_INTERVAL_MS	1000
static const struct timeval	keeper_second = { 1, 0 };

/* Free space that counts as "room again" after a failed commit. */
#define KEEPER_MIN_FREE		(4ULL * 1024 * 1024)
/* How long a keeper that stops on a storage failure tries to hand the
 * relays the answers it has already made. */
#define KEEPER_FLUSH_MS		1000
/* The exit status of that stop: the parent restarts the keeper. */
#define KEEPER_EXIT_STORAGE	75

/* Set by SQLite's error log, from any of the keeper's threads. */
static atomic_int		keeper_storage_failed;

static void	keeper_fail_closed(struct keeper *) __attribute__((noreturn));
static void	keeper_watch(evutil_socket_t, short, void *);
static void	keeper_sigterm(evutil_socket_t, short, void *);

static void
keeper_cp_due(struct keeper *k)
{
	struct timeval	tv = { 0, 0 };
	uint64_t	now = now_ms(), next;

	if (evtimer_pending(k->ev_cp, NULL))
		return;
	next = k->cp.issued_ms + KEEPER_CP_INTERVAL_MS;
	if (next > now) {
		tv.tv_sec = (time_t)((next - now) / 1000);
		tv.tv_usec = (suseconds_t)((next - now) % 1000) * 1000;
	}
	evtimer_add(k->ev_cp, &tv);
}

/* The keeper's periodic tasks, timed apart: the checkpoint file's syncs
 * follow the disk, the rest follows what the keeper reads. */
enum keeper_task { KT_CHECKPOINT, KT_CHECKPOINT_FILE, KT_WATCH };

/* How long a periodic task took (dt ms): the longest of each is a gauge,
 * so that a task whose cost grows with the log shows before it hurts. */
static void
keeper_periodic(struct keeper *k, enum keeper_task task, uint64_t dt)
{
	if (dt > atomic_load(&k->km->periodic_max_ms[task]))
		atomic_store(&k->km->periodic_max_ms[task], dt);
}

/* The checkpoint tick's time, its file's part apart. */
static void
keeper_periodic_cp(struct keeper *k, uint64_t t0)
{
	uint64_t	dt = now_ms() - t0, file = k->cp.file_ms;

	keeper_periodic(k, KT_CHECKPOINT, dt > file ? dt - file : 0);
	keeper_periodic(k, KT_CHECKPOINT_FILE, file);
}

/* The metrics of a committed item. */
static void
keeper_count(struct keeper *k, const struct keeper_item *it)
{
	if (it->type == KI_INSTR) {
		if (it->reply.flags & IPC_INSTR_REPLAYED)
			atomic_fetch_add(&k->km->instr_replayed, 1);
		else if (it->reply.status >= 400)
			atomic_fetch_add(&k->km->instr_refused, 1);
		else
			atomic_fetch_add(&k->km->instr_accepted, 1);
	} else if (it->type == KI_DELIVERED) {
		if (it->m.del.outcome == DELIVERY_OK)
			atomic_fetch_add(&k->km->deliveries_ok, 1);
		else
			atomic_fetch_add(&k->km->deliveries_failed, 1);
	} else if (it->type == KI_TRUST)
		atomic_fetch_add(&k->km->trust_entries, 1);
}

/* One item inside the transaction: 0, or -1 if the store failed. */
static int
keeper_apply(struct keeper *k, struct keeper_item *it, uint64_t *index)
{
	int	parked;

	switch (it->type) {
	case KI_ENTRY:
		return store_append(k->st, it->data, it->len, index);
	case KI_INSTR:
		k->outbox_dirty = 1;
		signer_wait(k->signer, ledger_prep_job(it->prep));
		return ledger_instr_prepared(k->lg, k->chans[it->chan].slot,
		    &it->m.instr, it->data, it->len, it->prep, &it->reply);
	case KI_REQUEUE:
		k->outbox_dirty = 1;
		return ledger_requeue(k->lg, it->m.retry.seq, it->m.retry.agency,
		    &it->reply);
	case KI_DELIVERED:
		k->outbox_dirty = 1;
		if (ledger_delivered(k->lg, &it->m.del, index, &parked) == -1)
			return -1;
		if (parked)
			log_warnx("outbox row %llu parked after its last attempt: "
			    "%.*s", (unsigned long long)it->m.del.seq,
			    (int)sizeof(it->m.del.error), it->m.del.error);
		return 0;
	case KI_TRUST:
		return trustlog_append(k->tl, it->trust, index);
	}
	return -1;
}

/* Group commit: everything gathered since the last commit, one transaction,
 * then the answers. Runs at the lowest priority, after all pending reads. */
static void
keeper_commit(evutil_socket_t fd, short what, void *arg)
{
	struct keeper		*k = arg;
	struct keeper_item	*it;
	size_t			 i, n = k->nbatch;
	uint64_t		 index = 0;
	/* While the log cannot be written, nothing is tried: the answers
	 * are 503s until keeper_space finds room. */
	int			 degraded = atomic_load(&k->km->unwritable);
	int			 ok = !degraded && store_begin(k->st) == 0;

	for (i = 0; ok && i < n; i++) {
		it = &k->batch[i];
		/* Ledger items run under a savepoint: one that fails is
		 * answered 503 alone (a full disk then fails the commit). */
		if (it->type == KI_ENTRY) {
			if (keeper_apply(k, it, &index) == -1)
				ok = 0;
			it->reply.index = index;
			continue;
		}
		if (store_savepoint(k->st) == -1) {
			ok = 0;
			break;
		}
		if (keeper_apply(k, it, &index) == 0)
			ok = store_release(k->st) == 0;
		else {
			it->failed = 1;
			ok = store_rollback_savepoint(k->st) == 0;
		}
	}
	/* The receipts signed meanwhile go into their rows, in the same
	 * transaction: nothing is answered before its receipt is durable. */
	if (ok && ledger_receipts_finish(k->lg) == -1)
		ok = 0;
	ledger_receipts_abandon(k->lg);
	if (ok)
		ok = store_commit(k->st) == 0;
	else
		store_rollback(k->st);
	for (i = 0; i < n; i++) {
		it = &k->batch[i];
		if (it->type == KI_ENTRY)
			keeper_reply_appended(k, it, ok, it->reply.index,
			    ok ? NULL : "the audit log cannot be written");
		else if (it->type == KI_INSTR || it->type == KI_REQUEUE)
			keeper_reply_instr(k, it, ok && !it->failed);
		else if (it->type == KI_DELIVERED &&
		    it->gen == k->courier_gen)
			/* Recorded (or, if not, to be sent again): either way
			 * it no longer holds a place in its upstream's window. */
			keeper_sent_remove(k, it->m.del.seq);
		if (ok && !it->failed)
			keeper_count(k, it);
		if (it->prep != NULL) {
			/* A batch that failed early never waited for it. */
			signer_wait(k->signer, ledger_prep_job(it->prep));
			ledger_prep_free(it->prep);
		}
		free(it->data);
		free(it->reply.body);
		trust_free(it->trust);
		free(it->trust);
		memset(it, 0, sizeof(*it));
	}
	if (!ok || atomic_load(&keeper_storage_failed)) {
		if (!ok) {
			if (!degraded)
				log_warnx("%s: a batch of %zu entries was "
				    "refused", __func__, n);
			atomic_fetch_add(&k->km->refused, n);
		}
		if (!degraded)
			keeper_fail_closed(k);
	} else {
		atomic_store(&k->km->unwritable, 0);
		k->commits++;
		k->committed += n;
		atomic_store(&k->km->commits, k->commits);
		atomic_store(&k->km->entries, store_size(k->st));
		keeper_cp_due(k);
		if (wal_restart_due(k->wal))
			wal_restart(k->wal, store_db(k->st));
	}
	k->nbatch = 0;
	if (k->outbox_dirty) {
		k->outbox_dirty = 0;
		keeper_outbox_kick(k);
	}
}

/* After a failed write or sync, SQLite's view of the WAL and the kernel's
 * page cache may disagree with the disk: committing again could write over
 * frames that are already durable, or build on ones that are not. So the
 * keeper stops here, after the answers already made (the failed batch's are
 * 503s) have gone out, and the parent starts a new one from what the files
 * hold. The relays meanwhile refuse new exchanges (unwritable), and the new
 * keeper lets them try again once the file system has room (keeper_space). */
static void
keeper_fail_closed(struct keeper *k)
{
	struct pollfd	pfd;
	struct evbuffer	*out;
	uint64_t	 deadline = now_ms() + KEEPER_FLUSH_MS;
	size_t		 i;

	atomic_store(&k->km->unwritable, 1);
	log_warnx("the audit log's storage failed: the keeper stops without "
	    "writing again; the parent restarts it from what is durable");
	for (i = 0; i < KEEPER_MAX_CHANS; i++) {
		if (k->chans[i].bev == NULL)
			continue;
		out = bufferevent_get_output(k->chans[i].bev);
		pfd.fd = bufferevent_getfd(k->chans[i].bev);
		pfd.events = POLLOUT;
		while (evbuffer_get_length(out) > 0 && now_ms() < deadline) {
			if (evbuffer_write(out, pfd.fd) == -1 &&
			    errno != EAGAIN && errno != EINTR)
				break;
			if (evbuffer_get_length(out) > 0)
				(void)poll(&pfd, 1, 10);
		}
	}
	/* No atexit, no sqlite3_close: closing the last connection would
	 * checkpoint the WAL, a write of its own. */
	_exit(KEEPER_EXIT_STORAGE);
}

/* The storage failures after which the keeper must not write again, as
 * SQLite reports them (from any thread: the checkpointer's too). */
static void
keeper_sqlite_log(void *arg, int code, const char *msg)
{
	/* The checkpointer's copy into the database is retried from the WAL
	 * until it succeeds; it writes over nothing that is committed. */
	if (wal_in_checkpointer())
		return;
	switch (code & 0xff) {
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		atomic_store(&keeper_storage_failed, 1);
		log_warnx("sqlite: %s (%d)", msg, code);
		break;
	default:
		break;
	}
}

/* While commits fail, look at the free space once a second: once there is
 * room again, let the relays try (the next commit tells for sure). */
static void
keeper_space(evutil_socket_t fd, short what, void *arg)
{
	struct keeper	*k = arg;
	struct statvfs	 sv;

	if (statvfs(k->cf->keeper.database, &sv) == 0 &&
	    (uint64_t)sv.f_bavail * sv.f_frsize >= KEEPER_MIN_FREE) {
		log_info("the audit log's file system has room again");
		atomic_store(&k->km->unwritable, 0);
		keeper_watch(-1, 0, k);
		keeper_cp_due(k);
		return;
	}
	evtimer_add(k->ev_space, &keeper_second);
}

static void
keeper_checkpoint(evutil_socket_t fd, short what, void *arg)
{
	struct keeper	*k = arg;
	uint64_t	 pending, parked;
	uint64_t	 t0 = now_ms();

	/* A WAL past its limit is an alert within the second (once a day
	 * while it lasts); the checkpointer thread only sets the flag. */
	if (atomic_load(&k->km->wal_over_limit) && !k->wal_alerted &&
	    !atomic_load(&k->km->unwritable)) {
		if (store_begin(k->st) == 0 && ledger_watch_wal(k->lg,
		    atomic_load(&k->km->wal_bytes), k->cf->keeper.wal_limit) == 0 &&
		    store_commit(k->st) == 0) {
			k->wal_alerted = 1;
			keeper_cp_due(k);
		} else
			store_rollback(k->st);
	} else if (!atomic_load(&k->km->wal_over_limit))
		k->wal_alerted = 0;
	/* The outbox gauges ride on the checkpoint's once-a-second tick. */
	if (outbox_counts(ledger_outbox(k->lg), &pending, &parked) == 0) {
		atomic_store(&k->km->outbox_pending, pending);
		atomic_store(&k->km->outbox_parked, parked);
	}

	/* Nothing is written while the relays are told the log cannot be:
	 * keeper_space asks again once there is room. And no checkpoint is
	 * signed over a log a witness says was rolled back or forked. */
	if (atomic_load(&k->km->unwritable) || k->frozen)
		return;
	if (checkpoint_issue(&k->cp, k->st) == -1) {
		if (atomic_load(&keeper_storage_failed))
			keeper_fail_closed(k);
		/* Say it once per outage and retry once a second: a full
		 * disk must not turn into a busy loop. */
		if (!k->cp_failing)
			log_warnx("%s: checkpoint failed; retrying every second",
			    __func__);
		k->cp_failing = 1;
		evtimer_add(k->ev_cp, &keeper_second);
		keeper_periodic_cp(k, t0);
		return;
	}
	if (k->cp_failing)
		log_info("checkpoints resumed at size %llu",
		    (unsigned long long)k->cp.size);
	k->cp_failing = 0;
	if (k->cp.size > 0) {
		atomic_store(&k->km->checkpoint_size, k->cp.size);
		atomic_store(&k->km->checkpoint_time, (long long)time(NULL));
	}
	if (k->cp.size != store_size(k->st))
		keeper_cp_due(k);
	keeper_witness_kick(k);
	keeper_periodic_cp(k, t0);
}

/* Adds an item to the batch (data is taken); the caller fills it in. */
struct keeper_item *
keeper_item_add(struct keeper *k, struct keeper_chan *ch, uint64_t id,
    enum keeper_item_type type, char *data, size_t len)
{
	struct keeper_item	*it = &k->batch[k->nbatch++];

	memset(it, 0, sizeof(*it));
	it->type = type;
	if (ch != NULL) {
		it->chan = (unsigned)(ch - k->chans);
		it->gen = ch->gen;
	}
	it->id = id;
	it->data = data;
	it->len = len;
	return it;
}

/* The batch is full: commit now, or else at the end of this round. */
void
keeper_item_added(struct keeper *k)
{
	if (k->nbatch == KEEPER_MAX_BATCH)
		keeper_commit(-1, 0, k);
	else
		event_active(k->ev_commit, 0, 0);
}

/* Once a minute, outside any batch: the warnings time alone raises. */
static void
keeper_watch(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval	 minute = { 60, 0 };
	struct keeper			*k = arg;
	uint64_t			 t0;

	if (k->nbatch > 0)
		keeper_commit(-1, 0, k);
	t0 = now_ms();
	if (!evtimer_pending(k->ev_watch, NULL))
		evtimer_add(k->ev_watch, &minute);
	if (atomic_load(&k->km->unwritable))
		return;
	if (store_begin(k->st) == 0) {
		if (ledger_watch(k->lg) == 0 && store_commit(k->st) == 0) {
			atomic_store(&k->km->entries, store_size(k->st));
			keeper_cp_due(k);
		} else {
			store_rollback(k->st);
			if (atomic_load(&keeper_storage_failed))
				keeper_fail_closed(k);
		}
	}
	keeper_periodic(k, KT_WATCH, now_ms() - t0);
}

/* A reload: the parent opened (and checked) the registry file; the keeper,
 * which may open nothing itself, reads it from the descriptor. */
static void
keeper_registry(struct keeper *k, int fd)
{
	struct registry	*reg;
	FILE		*fp;

	if ((fp = fdopen(fd, "r")) == NULL) {
		log_warn("%s: fdopen", __func__);
		close(fd);
		return;
	}
	if (registry_load_fp(fp, k->cf->keeper.accounts, &reg) == -1)
		log_warnx("reload: the account registry has errors; the keeper "
		    "keeps the one it has");
	else {
		size_t	n = registry_count(reg);

		/* reg is taken either way; a file that differs from the
		 * log's registry is refused there, difference by difference. */
		if (ledger_set_registry(k->lg, reg) == 0)
			log_info("reload: the account registry file of %zu "
			    "accounts says what the log's registry says", n);
	}
	fclose(fp);
}

/* At start-up and after each reload the parent sends the digests of the
 * files now in force; they are logged through the group commit, in order
 * with what the relays send after them. */
static void
keeper_trust(struct keeper *k, int fd)
{
	struct keeper_item	*it;
	struct trust_manifest	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warn("%s", __func__);
		close(fd);
		return;
	}
	if (trust_recv(fd, k->msg, m) == -1) {
		log_warnx("trust: the parent's manifest was refused; no trust "
		    "entry for it");
		free(m);
		return;
	}
	it = keeper_item_add(k, NULL, 0, KI_TRUST, NULL, 0);
	it->trust = m;
	keeper_item_added(k);
}

/* The parent hands over one socketpair end per relay worker it starts. */
static void
keeper_ctl(evutil_socket_t fd, short what, void *arg)
{
	struct keeper		*k = arg;
	uint32_t		 slot;
	int			 cfd;

	if (ipc_recv_fd(fd, &slot, &cfd) == -1) {
		/* The parent is gone: nothing more will come; commit what
		 * was gathered and stop. */
		log_warnx("%s: parent channel closed; stopping", __func__);
		keeper_sigterm(-1, 0, k);
		return;
	}
	if (slot == IPC_SLOT_COURIER) {
		keeper_courier_new(k, cfd);
		return;
	}
	if (slot == IPC_SLOT_REGISTRY) {
		keeper_registry(k, cfd);
		return;
	}
	if (slot == IPC_SLOT_TRUST) {
		keeper_trust(k, cfd);
		return;
	}
	keeper_chan_open(k, slot, cfd);
}

static void
keeper_sigterm(evutil_socket_t sig, short what, void *arg)
{
	struct keeper	*k = arg;

	/* Commit what was gathered, sign it, and go. */
	if (k->nbatch > 0)
		keeper_commit(-1, 0, k);
	checkpoint_issue(&k->cp, k->st);
	event_base_loopexit(k->base, NULL);
}

int
keeper_open_log(struct config *cf, struct store **st, struct checkpoint *cp)
{
	if (checkpoint_init(cp, &cf->keeper) == -1)
		return -1;
	if (store_open(cf->keeper.database, 0, st) == -1) {
		log_warnx("cannot open the audit database %s",
		    cf->keeper.database);
		checkpoint_free(cp);
		return -1;
	}
	if (checkpoint_verify_store(cp, *st) == -1) {
		store_close(*st);
		*st = NULL;
		checkpoint_free(cp);
		return -1;
	}
	return 0;
}

/* The keeper's files belong to the user it runs as, so that it can keep
 * writing them once it has dropped root. */
static void
keeper_own_files(const struct config *cf, const char *dbdir,
    const char *cpdir)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char			 path[CFG_PATH_MAX + 8];
	size_t			 i;

	if (cf->uid == (uid_t)-1 || geteuid() != 0)
		return;
	(void)!chown(dbdir, cf->uid, cf->gid);
	(void)!chown(cpdir, cf->uid, cf->gid);
	for (i = 0; i < nitems(sfx); i++)
		if (str_printf(path, sizeof(path), "%s%s", cf->keeper.database,
		    sfx[i]) == 0)
			(void)!chown(path, cf->uid, cf->gid);
	(void)!chown(cf->keeper.checkpoint_file, cf->uid, cf->gid);
}

int
keeper_main(struct config *cf, int ctl_fd, struct metrics_keeper *km)
{
	struct keeper		 k;
	struct sandbox_spec	 sb;
	sigset_t		 block;
	struct adapter_error	 aerr;
	char			 dbdir[CFG_PATH_MAX], cpdir[CFG_PATH_MAX];
	size_t			 i;

	log_set_role("keeper");
	memset(&sb, 0, sizeof(sb));
	sb.role = SANDBOX_KEEPER;
	sb.keep_fds = &ctl_fd;
	sb.nkeep = 1;
	sb.uid = geteuid() == 0 ? cf->uid : (uid_t)-1;
	sb.gid = cf->gid;
	sb.max_files = 256;
	sb.enforce = cf->sandbox;
	str_copy(dbdir, sizeof(dbdir), cf->keeper.database);
	str_copy(cpdir, sizeof(cpdir), cf->keeper.checkpoint_file);
	sb.rw_dirs[0] = dirname(dbdir);
	sb.rw_dirs[1] = dirname(cpdir);
	sandbox_close_fds(&sb);
	/* No core dumps and no ptrace from the same user: keys live here. */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	memset(&k, 0, sizeof(k));
	k.cf = cf;
	k.ctl_fd = ctl_fd;
	k.km = km;
	/* Held until the process ends: one writer per log, whatever starts
	 * it. Taken before the database is opened. */
	/* Before any connection: SQLite's error log is how a failed write or
	 * sync anywhere in the keeper is seen (keeper_fail_closed). */
	if (sqlite3_shutdown() != SQLITE_OK || sqlite3_config(SQLITE_CONFIG_LOG,
	    keeper_sqlite_log, NULL) != SQLITE_OK ||
	    sqlite3_initialize() != SQLITE_OK)
		fatalx("keeper: cannot set SQLite's error log");
	/* The database's folder is the keeper's alone. */
	if (mkdir(sb.rw_dirs[0], 0700) == -1 && errno != EEXIST)
		log_warn("cannot create the folder of %s", cf->keeper.database);
	if (lock_state(cf->keeper.database) == -1)
		return 1;
	if (keeper_open_log(cf, &k.st, &k.cp) == -1)
		return 1;
	keeper_own_files(cf, sb.rw_dirs[0], sb.rw_dirs[1]);
	/* Keys, the registry, schemas and converters are read now: the
	 * sandbox leaves the keeper only its own folders. */
	memset(&aerr, 0, sizeof(aerr));
	if (adapter_init(cf->schemas, &aerr) == -1) {
		log_warnx("keeper: %s", aerr.detail);
		return 1;
	}
	if (ledger_open(cf, k.st, &k.lg) == -1 ||
	    trustlog_open(cf, k.st, &k.tl) == -1)
		return 1;
	if ((k.batch = calloc(KEEPER_MAX_BATCH, sizeof(*k.batch))) == NULL ||
	    (k.msg = malloc(IPC_MAX_PAYLOAD)) == NULL)
		fatal("%s: malloc", __func__);
	if ((k.base = event_base_new()) == NULL ||
	    event_base_priority_init(k.base, 2) == -1)
		fatalx("%s: event base", __func__);
	k.ev_ctl = event_new(k.base, ctl_fd, EV_READ | EV_PERSIST, keeper_ctl, &k);
	k.ev_commit = event_new(k.base, -1, 0, keeper_commit, &k);
	k.ev_cp = evtimer_new(k.base, keeper_checkpoint, &k);
	/* Only the parent stops the keeper, with SIGUSR1, once no worker can
	 * append any more: a SIGTERM or SIGINT sent to the whole process group
	 * (a terminal, a supervisor) must not close the log before them. */
	k.ev_term = evsignal_new(k.base, SIGUSR1, keeper_sigterm, &k);
	k.ev_space = evtimer_new(k.base, keeper_space, &k);
	k.ev_outbox = evtimer_new(k.base, keeper_outbox_timer, &k);
	k.ev_watch = evtimer_new(k.base, keeper_watch, &k);
	if (k.ev_ctl == NULL || k.ev_commit == NULL || k.ev_cp == NULL ||
	    k.ev_term == NULL || k.ev_space == NULL || k.ev_outbox == NULL ||
	    k.ev_watch == NULL)
		fatalx("%s: events", __func__);
	if (keeper_witness_init(&k) == -1)
		return 1;
	/* Reads first (priority 0), the commit after them (priority 1). */
	event_priority_set(k.ev_commit, 1);
	event_add(k.ev_ctl, NULL);
	evsignal_add(k.ev_term, NULL);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (sandbox_enter(&sb) == -1)
		fatalx("keeper: cannot enter the sandbox");
	/* Started inside the sandbox, so the thread is confined too; if it
	 * cannot start, SQLite's own checkpoints in the commit go on. */
	atomic_store(&km->wal_limit, cf->keeper.wal_limit);
	if (wal_flusher_start(cf->keeper.database, cf->keeper.wal_limit, km,
	    &k.wal) == 0) {
		store_wal_limit(k.st, cf->keeper.wal_limit, 1);
		wal_flusher_watch(k.wal, store_db(k.st));
	} else {
		log_warnx("keeper: no checkpointer thread; commits checkpoint");
		store_wal_limit(k.st, cf->keeper.wal_limit, 0);
	}
	/* Inside the sandbox like the checkpointer; without them the
	 * committing thread signs, as it did before. */
	if (signer_start(SIGNER_THREADS, &k.signer) == -1)
		log_warnx("keeper: no signing threads; commits sign");
	ledger_set_signer(k.lg, k.signer);
	/* Tell the parent the log is open and checked. */
	if (write(ctl_fd, "R", 1) != 1)
		return 1;
	log_info("audit log %s open: %llu entries, checkpoint at %llu",
	    cf->keeper.database, (unsigned long long)store_size(k.st),
	    (unsigned long long)k.cp.size);
	atomic_store(&km->entries, store_size(k.st));
	atomic_store(&km->checkpoint_size, k.cp.size);
	if (k.cp.size > 0 && atomic_load(&km->checkpoint_time) == 0)
		atomic_store(&km->checkpoint_time, (long long)time(NULL));
	/* The keeper before this one stopped on a storage failure: the
	 * relays refuse exchanges until the file system has room. */
	if (atomic_load(&km->unwritable)) {
		log_warnx("the previous keeper could not write the audit log; "
		    "exchanges are refused until its file system has room");
		evtimer_add(k.ev_space, &keeper_second);
	}
	keeper_watch(-1, 0, &k);
	if (store_size(k.st) != k.cp.size)
		keeper_cp_due(&k);
	{
		uint64_t pending, parked;

		if (outbox_counts(ledger_outbox(k.lg), &pending, &parked) == 0) {
			atomic_store(&km->outbox_pending, pending);
			atomic_store(&km->outbox_parked, parked);
			if (parked > 0)
				log_warnx("%llu parked deliveries wait for an "
				    "operator (gatewayctl outbox list)",
				    (unsigned long long)parked);
		}
	}

	event_base_dispatch(k.base);
	/* Freeing the events restores default handlers: a second SIGTERM
	 * must not cut the clean exit short, so it stays pending. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);

	log_info("stopping after %llu commits of %llu entries",
	    (unsigned long long)k.commits, (unsigned long long)k.committed);
	for (i = 0; i < KEEPER_MAX_CHANS; i++)
		keeper_chan_close(&k.chans[i]);
	keeper_courier_gone(&k);
	keeper_witness_free(&k);
	event_free(k.ev_outbox);
	event_free(k.ev_watch);
	event_free(k.ev_ctl);
	event_free(k.ev_commit);
	event_free(k.ev_cp);
	event_free(k.ev_term);
	event_free(k.ev_space);
	event_base_free(k.base);
	free(k.batch);
	free(k.msg);
	ledger_set_signer(k.lg, NULL);
	signer_stop(k.signer);
	wal_flusher_stop(k.wal);
	checkpoint_free(&k.cp);
	trustlog_free(k.tl);
	ledger_free(k.lg);
	store_close(k.st);
	return 0;
}
