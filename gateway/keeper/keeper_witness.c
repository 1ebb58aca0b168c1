/* The keeper's side of its witnesses (C2SP tlog-witness): after each
 * checkpoint every idle witness is asked to cosign it, with a consistency
 * proof from the size it holds; cosignatures are verified here, kept, and
 * counted against the quorum. A witness that holds more than the log, or
 * a root the log cannot prove, is evidence of a rollback or a fork: the
 * keeper then stops issuing checkpoints and accepting instructions. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "ipc.h"
#include "keeper/cosigs.h"
#include "keeper/keeper_int.h"
#include "keeper/merkle.h"
#include "keeper/store.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "witness/cosig.h"

/* A witness that fails is asked again after this, doubling to the max. */
#define WITNESS_RETRY_MIN_MS	1000
#define WITNESS_RETRY_MAX_MS	60000
/* "old N\n", the proof's lines (44 base64 characters and a newline each),
 * a blank line and the checkpoint. */
#define WITNESS_BODY_MAX	(32 + MERKLE_MAX_PROOF * 45 + 1 + NOTE_MAX_LEN)

static void	keeper_witness_ask(struct keeper *, size_t);

static void
keeper_witness_timer(evutil_socket_t fd, short what, void *arg)
{
	struct keeper_witness	*w = arg;

	keeper_witness_ask(w->k, (size_t)(w - w->k->wit));
}

int
keeper_witness_init(struct keeper *k)
{
	const struct config	*cf = k->cf;
	struct keeper_witness	*w;
	size_t			 i;

	/* The tables always: a log that had witnesses keeps serving their
	 * cosignatures after they are removed from the configuration. */
	if (cosigs_open(k->st, &k->cosigs) == -1 ||
	    cosigs_latest(store_db(k->st), &k->cosigned) == -1)
		return -1;
	if (cosigs_frozen(k->cosigs, &k->held) == -1)
		return -1;
	if (k->held) {
		/* Checkpoints go on, so the witnesses can say whether this
		 * log is the one they hold; instructions wait for that. */
		ledger_set_frozen(k->lg, 1);
		atomic_store(&k->km->log_frozen, 1);
		log_warnx("the audit log is frozen on a witness's evidence of a "
		    "rollback or fork: instructions are refused until the "
		    "witnesses' quorum cosigns a checkpoint of this log");
	}
	if (cf->nwitnesses == 0)
		return 0;
	for (i = 0; i < cf->nwitnesses; i++) {
		w = &k->wit[i];
		if (note_verifier_parse_alg(&w->key, cf->witnesses[i].key,
		    COSIG_ALG) == -1 || cosigs_witness_size(k->cosigs,
		    cf->witnesses[i].name, &w->size) == -1) {
			log_warnx("witness %s: cannot load its key or state",
			    cf->witnesses[i].name);
			return -1;
		}
		atomic_store(&k->km->witness_size[i], w->size);
		w->k = k;
		if ((w->ev = evtimer_new(k->base, keeper_witness_timer, w)) ==
		    NULL)
			return -1;
	}
	atomic_store(&k->km->cosigned_size, k->cosigned);
	log_info("%zu witnesses, quorum %llu; newest cosigned checkpoint at "
	    "%llu", cf->nwitnesses, (unsigned long long)cf->keeper.witness_quorum,
	    (unsigned long long)k->cosigned);
	return 0;
}

void
keeper_witness_free(struct keeper *k)
{
	size_t	i;

	for (i = 0; i < CFG_MAX_WITNESSES; i++) {
		if (k->wit[i].ev != NULL)
			event_free(k->wit[i].ev);
		k->wit[i].ev = NULL;
	}
	cosigs_free(k->cosigs);
	k->cosigs = NULL;
}

/* The add-checkpoint body for witness w: from the size it holds to size,
 * whose signed note is note. 0 or -1 (logged). */
static int
keeper_witness_body(struct keeper *k, uint64_t old, uint64_t size,
    const char *note, size_t nlen, struct evbuffer *out)
{
	uint8_t		 proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	char		 b64[48];
	size_t		 n = 0, i;
	int		 rc;

	if (old > 0 && merkle_consistency_proof(store_subtree, k->st, old, size,
	    proof[0], MERKLE_MAX_PROOF, &n) == -1) {
		log_warnx("%s: no consistency proof from %llu to %llu",
		    __func__, (unsigned long long)old, (unsigned long long)size);
		return -1;
	}
	rc = evbuffer_add_printf(out, "old %llu\n", (unsigned long long)old) < 0;
	for (i = 0; i < n && rc == 0; i++) {
		if (note_b64_encode(b64, sizeof(b64), proof[i],
		    MERKLE_HASH_LEN) == -1)
			return -1;
		rc = evbuffer_add_printf(out, "%s\n", b64) < 0;
	}
	if (rc != 0 || evbuffer_add(out, "\n", 1) == -1 ||
	    evbuffer_add(out, note, nlen) == -1)
		return -1;
	return 0;
}

/* Asks witness i to cosign the newest checkpoint if it is idle, behind it,
 * and not waiting out a failure. */
static void
keeper_witness_ask(struct keeper *k, size_t i)
{
	struct keeper_witness	*w = &k->wit[i];
	struct ipc_witness_add	 a;
	struct evbuffer		*body;
	struct timeval		 tv;
	uint64_t		 now = now_ms(), size = k->cp.size, t0;
	char			*note = NULL;
	size_t			 nlen;
	int			 rc;

	if (k->courier == NULL || k->frozen || w->asked != 0 || size == 0 ||
	    w->size >= size)
		return;
	if (now < w->next_ms) {
		tv.tv_sec = (time_t)((w->next_ms - now) / 1000);
		tv.tv_usec = (suseconds_t)((w->next_ms - now) % 1000) * 1000;
		evtimer_add(w->ev, &tv);
		return;
	}
	t0 = now_us();
	if ((body = evbuffer_new()) == NULL)
		return;
	rc = store_checkpoint_at(k->st, size, &note, &nlen) == 0 &&
	    keeper_witness_body(k, w->size, size, note, nlen, body) == 0 &&
	    evbuffer_get_length(body) <= WITNESS_BODY_MAX ? 0 : -1;
	free(note);
	memset(&a, 0, sizeof(a));
	a.witness = (uint32_t)i;
	a.size = size;
	a.old = w->size;
	if (rc == 0 && ipc_send2(bufferevent_get_output(k->courier),
	    IPC_WITNESS_ADD, i, &a, sizeof(a), evbuffer_pullup(body, -1),
	    evbuffer_get_length(body)) == 0) {
		w->asked = size;
		atomic_fetch_add(&k->km->witness_asks, 1);
	} else
		log_warnx("witness %s: cannot ask it to cosign %llu",
		    k->cf->witnesses[i].name, (unsigned long long)size);
	evbuffer_free(body);
	atomic_fetch_add(&k->km->witness_us, now_us() - t0);
}

void
keeper_witness_reset(struct keeper *k)
{
	size_t	i;

	for (i = 0; i < k->cf->nwitnesses; i++)
		k->wit[i].asked = 0;
}

void
keeper_witness_kick(struct keeper *k)
{
	size_t	i;

	for (i = 0; i < k->cf->nwitnesses; i++)
		keeper_witness_ask(k, i);
}

/* A witness that did not cosign: asked again later, said once. */
static void
keeper_witness_failed(struct keeper *k, size_t i, const char *why)
{
	struct keeper_witness	*w = &k->wit[i];

	atomic_fetch_add(&k->km->witness_failures[i], 1);
	w->backoff_ms = w->backoff_ms == 0 ? WITNESS_RETRY_MIN_MS :
	    w->backoff_ms * 2 > WITNESS_RETRY_MAX_MS ? WITNESS_RETRY_MAX_MS :
	    w->backoff_ms * 2;
	w->next_ms = now_ms() + w->backoff_ms;
	if (!w->failing)
		log_warnx("witness %s: %s; asking again from every %llu ms up "
		    "to every %d s", k->cf->witnesses[i].name, why,
		    (unsigned long long)w->backoff_ms, WITNESS_RETRY_MAX_MS / 1000);
	w->failing = 1;
}

/* Evidence of a rollback or a fork: logged, alerted, and from now on no
 * checkpoint and no new instruction until an operator acts. */
static void
keeper_witness_freeze(struct keeper *k, size_t i, const struct ipc_witnessed *r,
    const char *why)
{
	const char	*name = k->cf->witnesses[i].name;

	if (k->frozen)
		return;
	k->frozen = 1;
	ledger_set_frozen(k->lg, 1);
	atomic_store(&k->km->log_frozen, 1);
	log_warnx("witness %s: %s (log at %llu entries, checkpoint %llu, the "
	    "witness holds %llu): no more checkpoints or instructions until an "
	    "operator restores the right log and restarts", name, why,
	    (unsigned long long)store_size(k->st),
	    (unsigned long long)k->cp.size,
	    (unsigned long long)r->witness_size);
	/* Recorded with the alert: a restart does not lift the freeze. */
	if (store_begin(k->st) == 0 && ledger_watch_witness(k->lg, name,
	    store_size(k->st), r->witness_size, r->status, why) == 0 &&
	    (k->held || cosigs_freeze(k->cosigs, 1, name, why) == 0) &&
	    store_commit(k->st) == 0) {
		k->held = 1;
		return;
	}
	store_rollback(k->st);
	log_warnx("witness %s: the log-fork alert could not be recorded", name);
}

/* A cosignature: verified against the checkpoint as the log signed it,
 * then kept. 0, or -1 if it does not verify or cannot be kept. */
static int
keeper_witness_cosigned(struct keeper *k, size_t i, const struct ipc_witnessed *r)
{
	struct keeper_witness	*w = &k->wit[i];
	const char		*name = k->cf->witnesses[i].name;
	char			 line[NOTE_SIGLINE_MAX], b64[128];
	char			*note = NULL, *msg = NULL;
	size_t			 nlen, llen;
	uint64_t		 t;
	unsigned		 count = 0;
	int			 rc = -1, quorum, thaw;

	if (note_b64_encode(b64, sizeof(b64), r->cosig, COSIG_RAW_LEN) == -1 ||
	    str_printf(line, sizeof(line), "\xe2\x80\x94 %s %s\n", w->key.name,
	    b64) == -1 ||
	    store_checkpoint_at(k->st, r->size, &note, &nlen) != 0)
		goto done;
	llen = strlen(line);
	if ((msg = malloc(nlen + llen)) == NULL)
		goto done;
	memcpy(msg, note, nlen);
	memcpy(msg + nlen, line, llen);
	if (cosig_verify(&w->key, msg, nlen + llen, &t) == -1) {
		log_warnx("witness %s: its cosignature of %llu does not verify "
		    "with its key", name, (unsigned long long)r->size);
		goto done;
	}
	if (store_begin(k->st) == -1)
		goto done;
	if (cosigs_add(k->cosigs, r->size, name, t, line, &count) == -1)
		goto rollback;
	quorum = count >= k->cf->keeper.witness_quorum;
	if (quorum && cosigs_mark(k->cosigs, r->size) == -1)
		goto rollback;
	/* A freeze recorded earlier is lifted once the quorum cosigns a
	 * checkpoint of this log: each of them checked that it extends
	 * what they hold. Evidence in this run keeps it. */
	thaw = quorum && k->held && !k->frozen;
	if (thaw && (cosigs_freeze(k->cosigs, 0, name, "the witnesses' "
	    "quorum cosigned a new checkpoint of this log") == -1 ||
	    ledger_watch_thaw(k->lg, r->size, count) == -1))
		goto rollback;
	if (store_commit(k->st) == -1)
		goto rollback;
	if (thaw) {
		k->held = 0;
		ledger_set_frozen(k->lg, 0);
		atomic_store(&k->km->log_frozen, 0);
		log_warnx("the witnesses' quorum cosigned %llu: the freeze is "
		    "lifted, instructions are accepted again",
		    (unsigned long long)r->size);
	}
	w->size = r->size;
	atomic_store(&k->km->witness_size[i], w->size);
	atomic_fetch_add(&k->km->witness_cosigs[i], 1);
	if (count >= k->cf->keeper.witness_quorum && r->size > k->cosigned) {
		k->cosigned = r->size;
		atomic_store(&k->km->cosigned_size, k->cosigned);
		atomic_store(&k->km->cosigned_time, (long long)time(NULL));
	}
	rc = 0;
	goto done;
rollback:
	store_rollback(k->st);
done:
	free(note);
	free(msg);
	return rc;
}

void
keeper_witnessed(struct keeper *k, const struct ipc_witnessed *r)
{
	struct keeper_witness	*w;
	size_t			 i = r->witness;
	uint64_t		 t0;
	char			 why[256];
	int			 rc;

	if (i >= k->cf->nwitnesses)
		return;
	w = &k->wit[i];
	/* An answer to an earlier courier's question, or to none. */
	if (w->asked == 0 || w->asked != r->size)
		return;
	w->asked = 0;
	switch (r->outcome) {
	case WITNESS_COSIGNED:
		t0 = now_us();
		rc = keeper_witness_cosigned(k, i, r);
		atomic_fetch_add(&k->km->witness_us, now_us() - t0);
		if (rc == -1) {
			keeper_witness_failed(k, i, "a cosignature that does "
			    "not verify, or cannot be kept");
			break;
		}
		if (w->failing)
			log_info("witness %s: cosigning again at %llu",
			    k->cf->witnesses[i].name,
			    (unsigned long long)w->size);
		w->failing = 0;
		w->backoff_ms = 0;
		w->next_ms = 0;
		break;
	case WITNESS_CONFLICT:
		if (r->witness_size > store_size(k->st)) {
			keeper_witness_freeze(k, i, r, "the witness has cosigned "
			    "a larger log than this one: it was rolled back");
			return;
		}
		if (r->witness_size == w->size) {
			keeper_witness_failed(k, i, "409 for the very size it "
			    "was proved from");
			break;
		}
		/* It holds another size than we thought (new to us, or it
		 * lost state): prove from there. */
		log_info("witness %s holds %llu, not %llu: proving from there",
		    k->cf->witnesses[i].name,
		    (unsigned long long)r->witness_size,
		    (unsigned long long)w->size);
		w->size = r->witness_size;
		atomic_store(&k->km->witness_size[i], w->size);
		break;
	case WITNESS_BAD_PROOF:
		(void)str_printf(why, sizeof(why), "the witness's tree at %llu "
		    "is not this log's (a fork, or a rollback that grew back)",
		    (unsigned long long)w->size);
		keeper_witness_freeze(k, i, r, why);
		return;
	default:
		(void)str_printf(why, sizeof(why), "no cosignature: %s",
		    r->error[sizeof(r->error) - 1] == '\0' ? r->error : "?");
		keeper_witness_failed(k, i, why);
		break;
	}
	keeper_witness_ask(k, i);
}
