/* The keeper's signing threads (see signer.h): a FIFO of jobs under one
 * lock. A job the committing thread needs before any thread took it runs
 * in the committing thread, so the pool can only take work off it, never
 * make it wait for a thread that the kernel has not scheduled yet. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "keeper/signer.h"
#include "log.h"

struct signer {
	pthread_mutex_t		 mtx;
	pthread_cond_t		 work;	/* a job was queued, or stop */
	pthread_cond_t		 done;	/* a job has run */
	struct signer_job	*head, *tail;
	pthread_t		 threads[SIGNER_MAX_THREADS];
	unsigned		 nthreads;
	int			 stop;
};

/* Runs j, which the caller marked running, with the lock released. */
static void
signer_run(struct signer *s, struct signer_job *j)
{
	pthread_mutex_unlock(&s->mtx);
	j->fn(j->arg);
	pthread_mutex_lock(&s->mtx);
	j->state = SIGNER_DONE;
	pthread_cond_broadcast(&s->done);
}

static void *
signer_thread(void *arg)
{
	struct signer		*s = arg;
	struct signer_job	*j;

	pthread_mutex_lock(&s->mtx);
	for (;;) {
		while (s->head == NULL && !s->stop)
			pthread_cond_wait(&s->work, &s->mtx);
		if (s->stop)
			break;
		j = s->head;
		if ((s->head = j->next) == NULL)
			s->tail = NULL;
		j->next = NULL;
		j->state = SIGNER_RUNNING;
		signer_run(s, j);
	}
	pthread_mutex_unlock(&s->mtx);
	return NULL;
}

int
signer_start(unsigned n, struct signer **out)
{
	struct signer	*s;
	unsigned	 i;
	int		 rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	if (pthread_mutex_init(&s->mtx, NULL) != 0) {
		free(s);
		return -1;
	}
	if (pthread_cond_init(&s->work, NULL) != 0) {
		pthread_mutex_destroy(&s->mtx);
		free(s);
		return -1;
	}
	if (pthread_cond_init(&s->done, NULL) != 0) {
		pthread_cond_destroy(&s->work);
		pthread_mutex_destroy(&s->mtx);
		free(s);
		return -1;
	}
	if (n > SIGNER_MAX_THREADS)
		n = SIGNER_MAX_THREADS;
	for (i = 0; i < n; i++) {
		if ((rc = pthread_create(&s->threads[i], NULL, signer_thread,
		    s)) != 0) {
			log_warnx("%s: pthread_create: %s", __func__,
			    strerror(rc));
			break;
		}
		s->nthreads++;
	}
	if (s->nthreads == 0) {
		signer_stop(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
signer_submit(struct signer *s, struct signer_job *j)
{
	j->next = NULL;
	if (s == NULL) {
		j->state = SIGNER_QUEUED;
		return;
	}
	pthread_mutex_lock(&s->mtx);
	j->state = SIGNER_QUEUED;
	if (s->tail != NULL)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->mtx);
}

void
signer_wait(struct signer *s, struct signer_job *j)
{
	struct signer_job	*p, *prev = NULL;

	if (s == NULL) {
		if (j->state != SIGNER_DONE) {
			j->fn(j->arg);
			j->state = SIGNER_DONE;
		}
		return;
	}
	pthread_mutex_lock(&s->mtx);
	if (j->state == SIGNER_QUEUED) {
		/* Nobody took it yet: out of the queue, and run here. It is
		 * almost always the head (jobs are waited for in order). */
		for (p = s->head; p != NULL && p != j; p = p->next)
			prev = p;
		if (p != NULL) {
			if (prev != NULL)
				prev->next = j->next;
			else
				s->head = j->next;
			if (s->tail == j)
				s->tail = prev;
			j->next = NULL;
		}
		j->state = SIGNER_RUNNING;
		signer_run(s, j);
	} else if (j->state == SIGNER_IDLE) {
		j->state = SIGNER_RUNNING;
		signer_run(s, j);
	}
	while (j->state != SIGNER_DONE)
		pthread_cond_wait(&s->done, &s->mtx);
	pthread_mutex_unlock(&s->mtx);
}

void
signer_stop(struct signer *s)
{
	unsigned	i;

	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mtx);
	s->stop = 1;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->mtx);
	for (i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	pthread_cond_destroy(&s->done);
	pthread_cond_destroy(&s->work);
	pthread_mutex_destroy(&s->mtx);
	free(s);
}
