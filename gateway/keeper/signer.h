/* The keeper's signing threads: the work of an instruction that needs no
 * database (its parse, digest and signatures) runs on them while the
 * committing thread writes and syncs, so no signature sits on the commit
 * path. */
#ifndef GW_KEEPER_SIGNER_H
#define GW_KEEPER_SIGNER_H

/* How many threads the keeper starts; the committing thread also runs any
 * job none of them has started by the time it needs the result. */
#define SIGNER_THREADS		2
#define SIGNER_MAX_THREADS	8

enum signer_state {
	SIGNER_IDLE,		/* not submitted */
	SIGNER_QUEUED,
	SIGNER_RUNNING,
	SIGNER_DONE,
};

/* One piece of work: fn(arg). The submitter owns the job; it must stay
 * where it is until signer_wait has returned for it. */
struct signer_job {
	void			(*fn)(void *);
	void			*arg;
	enum signer_state	 state;		/* under the signer's lock */
	struct signer_job	*next;		/* in the queue */
};

struct signer;

/* Starts n threads (at most SIGNER_MAX_THREADS). 0, or -1 if none could
 * start (with s NULL every job runs in signer_wait). *out is the caller's:
 * signer_stop. */
int	signer_start(unsigned n, struct signer **out);
/* Queues j (fn and arg set); s may be NULL. */
void	signer_submit(struct signer *s, struct signer_job *j);
/* Returns once j has run: at once if it has, after it if a thread is
 * running it, and otherwise runs it here. s may be NULL. */
void	signer_wait(struct signer *s, struct signer_job *j);
/* Stops the threads (after the job each is running); NULL is fine. Jobs
 * still queued run in their signer_wait, which must not follow this. */
void	signer_stop(struct signer *s);

#endif
