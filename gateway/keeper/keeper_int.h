/* The keeper's parts (keeper.c: channels, group commit, checkpoints, start;
 * keeper_courier.c: the courier's channel and the outbox's delivery window)
 * share these: not for use outside gateway/keeper/keeper*.c. */
#ifndef GW_KEEPER_INT_H
#define GW_KEEPER_INT_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "keeper/checkpoint.h"
#include "keeper/ledger.h"

struct bufferevent;
struct cosigs;
struct metrics_keeper;
struct signer;
struct store;
struct trust_manifest;
struct trustlog;
struct wal_flusher;

/* A commit never holds more than this many entries; the rest wait for the
 * next one, so one batch cannot hold every requester hostage. */
#define KEEPER_MAX_BATCH	8192

/* Rows of one upstream at the courier at once. They are delivered one
 * after the other in order; the window lets the next start without waiting
 * for the previous outcome's commit. */
#define KEEPER_WINDOW		32

struct keeper_sent {
	uint64_t	seq;
	uint32_t	epoch;
};

/* One read from a channel: a burst of messages in one system call. */
#define KEEPER_READ_MAX		(256 * 1024)

/* Channels are not tied to slots: after a reload the old worker of a slot
 * drains on its channel while its successor already uses a new one. */
#define KEEPER_MAX_CHANS	(4 * CFG_MAX_WORKERS)

struct keeper_chan {
	struct keeper		*k;
	struct bufferevent	*bev;
	unsigned		 slot;	/* the relay slot, for entries' source */
	uint64_t		 gen;	/* bumped when the entry is reused */
};

/* What a batch holds: the transaction runs them in arrival order. */
enum keeper_item_type {
	KI_ENTRY,	/* a finished audit entry (passthrough, refusal) */
	KI_INSTR,	/* an instruction: the ledger decides */
	KI_DELIVERED,	/* a delivery outcome from the courier */
	KI_REQUEUE,	/* an operator re-queues a parked row */
	KI_TRUST,	/* the parent's trust manifest (no channel, no reply) */
};

struct keeper_item {
	enum keeper_item_type	 type;
	unsigned		 chan;
	uint64_t		 gen;
	uint64_t		 id;
	char			*data;		/* entry or canonical bytes */
	size_t			 len;
	union {
		struct ipc_instr	instr;
		struct ipc_delivered	del;
		struct ipc_outbox_retry	retry;
	} m;
	struct ledger_reply	 reply;
	int			 failed;	/* rolled back alone */
	/* KI_INSTR: its parse and signature, made by a signing thread
	 * (owned; it reads data, so it is waited for before data goes). */
	struct ledger_prep	*prep;
	struct trust_manifest	*trust;		/* KI_TRUST: owned */
};

/* What the keeper knows of one witness (keeper_witness.c). */
struct keeper_witness {
	struct keeper		*k;
	struct event		*ev;		/* asks again after a failure */
	struct note_verifier	 key;		/* its cosignature key */
	uint64_t		 size;		/* what it holds, as far as known */
	uint64_t		 asked;		/* the size in flight, 0: none */
	uint64_t		 next_ms;	/* no new question before */
	uint64_t		 backoff_ms;
	int			 failing;	/* said once per outage */
};

struct keeper {
	struct event_base	*base;
	struct config		*cf;
	struct store		*st;
	struct checkpoint	 cp;
	struct keeper_chan	 chans[KEEPER_MAX_CHANS];
	struct event		*ev_ctl, *ev_commit, *ev_cp, *ev_term, *ev_space;
	int			 ctl_fd;
	struct keeper_item	*batch;
	size_t			 nbatch;
	uint64_t		 commits, committed;
	struct metrics_keeper	*km;		/* shared with the relays */
	int			 cp_failing;
	void			*msg;	/* IPC_MAX_PAYLOAD bytes */
	struct ledger		*lg;
	struct trustlog		*tl;
	/* The courier's channel; its generation tells a stale outcome. */
	struct bufferevent	*courier;
	uint64_t		 courier_gen;
	/* Rows each upstream has at the courier (sent, no outcome committed
	 * yet), in order, and the epoch each was sent in. */
	struct keeper_sent	 inflight[CFG_MAX_UPSTREAMS][KEEPER_WINDOW];
	unsigned		 ninflight[CFG_MAX_UPSTREAMS];
	uint32_t		 epoch[CFG_MAX_UPSTREAMS];
	struct event		*ev_outbox;
	int			 outbox_dirty;
	struct event		*ev_watch;	/* early warnings with time */
	struct wal_flusher	*wal;		/* NULL: SQLite checkpoints */
	struct signer		*signer;	/* NULL: the committer signs */
	int			 wal_alerted;	/* this time past the limit */
	/* Witnesses: their cosignatures, the newest checkpoint with the
	 * quorum, whether one gave evidence of a rollback or fork in this
	 * run (no more checkpoints), and whether instructions are refused
	 * (a freeze recorded in the log, lifted when the witnesses' quorum
	 * cosigns a new checkpoint). */
	struct keeper_witness	 wit[CFG_MAX_WITNESSES];
	struct cosigs		*cosigs;
	uint64_t		 cosigned;
	int			 frozen;
	int			 held;
};

/* keeper.c */
/* ch is NULL for an item of no channel (KI_TRUST). */
struct keeper_item	*keeper_item_add(struct keeper *k, struct keeper_chan *ch,
	    uint64_t id, enum keeper_item_type type, char *data, size_t len);
void	keeper_item_added(struct keeper *k);

/* keeper_chan.c */
void	keeper_chan_open(struct keeper *k, uint32_t slot, int fd);
void	keeper_chan_close(struct keeper_chan *ch);
void	keeper_reply_appended(struct keeper *k, struct keeper_item *it, int ok,
	    uint64_t index, const char *error);
void	keeper_reply_instr(struct keeper *k, struct keeper_item *it, int ok);

/* keeper_courier.c */
int	keeper_sent_remove(struct keeper *k, uint64_t seq);
void	keeper_courier_gone(struct keeper *k);
void	keeper_outbox_kick(struct keeper *k);
void	keeper_outbox_timer(evutil_socket_t fd, short what, void *arg);
void	keeper_courier_new(struct keeper *k, int fd);

/* keeper_witness.c */
int	keeper_witness_init(struct keeper *k);
void	keeper_witness_free(struct keeper *k);
/* Asks every witness that is idle and behind the newest checkpoint. */
void	keeper_witness_kick(struct keeper *k);
void	keeper_witnessed(struct keeper *k, const struct ipc_witnessed *r);
/* The courier is gone: nothing is in flight any more. */
void	keeper_witness_reset(struct keeper *k);

#endif
