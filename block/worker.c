/*
 * I/O worker threads (see worker.h): a FIFO of submitted jobs served by a small thread pool, and
 * a list of finished jobs handed back to the vCPU thread. One mutex guards both lists; jobs run
 * without it, so the threads block in the block layer concurrently (raw files do positioned I/O
 * in parallel; qcow2 serializes on its own per-image lock).
 */
#define _GNU_SOURCE
#include "block/worker.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Kick first: whoever sees the eventfd readable knows the kick happened too. */
static void signal_completion(struct blk_worker *w)
{
	uint64_t one = 1;
	if (w->kick)
		w->kick(w->kick_opaque);
	while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Runs j, already taken off the queue, in slot. Called and returns with w->lock held (dropped
 * while the job runs). */
static void run_job(struct blk_worker *w, struct blk_worker_thread *slot, struct blk_job *j)
{
	slot->owner = j->owner;
	slot->busy = true;
	bool has_done = j->done != NULL;
	pthread_mutex_unlock(&w->lock);

	int ret = j->run(j); /* without done(), j may be gone now */

	pthread_mutex_lock(&w->lock);
	slot->busy = false;
	slot->owner = NULL;
	if (!has_done) {
		w->pending--;
		pthread_cond_broadcast(&w->done_cond);
		return;
	}
	j->ret = ret;
	j->next = NULL;
	if (w->done_tail)
		w->done_tail->next = j;
	else
		w->done_head = j;
	w->done_tail = j;
	pthread_cond_broadcast(&w->done_cond);
	pthread_mutex_unlock(&w->lock);
	signal_completion(w);
	pthread_mutex_lock(&w->lock);
}

static void *worker_main(void *arg)
{
	struct blk_worker_thread *slot = arg;
	struct blk_worker *w = slot->w;
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->queue_head && !w->stopping)
			pthread_cond_wait(&w->work_cond, &w->lock);
		struct blk_job *j = w->queue_head;
		if (!j)
			break; /* stopping with an empty queue */
		w->queue_head = j->next;
		if (!w->queue_head)
			w->queue_tail = NULL;
		run_job(w, slot, j);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int blk_worker_init(struct blk_worker *w, unsigned nthreads, void (*kick)(void *opaque), void *kick_opaque)
{
	memset(w, 0, sizeof(*w));
	if (nthreads < 1 || nthreads > BLK_WORKER_MAX_THREADS)
		return -EINVAL;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0)
		return -errno;
	w->kick = kick;
	w->kick_opaque = kick_opaque;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work_cond, NULL);
	pthread_cond_init(&w->done_cond, NULL);
	w->started = true;
	for (unsigned k = 0; k < nthreads; k++) {
		w->threads[k].w = w;
		int r = pthread_create(&w->threads[k].tid, NULL, worker_main, &w->threads[k]);
		if (r) {
			blk_worker_destroy(w);
			return -r;
		}
		w->nthreads++;
	}
	return 0;
}

void blk_worker_destroy(struct blk_worker *w)
{
	if (!w->started)
		return; /* never initialized, or already destroyed */
	pthread_mutex_lock(&w->lock);
	w->stopping = true; /* threads drain the queue before they leave */
	pthread_cond_broadcast(&w->work_cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned k = 0; k < w->nthreads; k++)
		pthread_join(w->threads[k].tid, NULL);
	blk_worker_complete(w);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work_cond);
	pthread_cond_destroy(&w->done_cond);
	close(w->efd);
	w->efd = -1;
	w->started = false;
}

void blk_worker_submit(struct blk_worker *w, struct blk_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&w->lock);
	if (w->queue_tail)
		w->queue_tail->next = j;
	else
		w->queue_head = j;
	w->queue_tail = j;
	w->pending++;
	pthread_cond_signal(&w->work_cond);
	pthread_mutex_unlock(&w->lock);
}

unsigned blk_worker_complete(struct blk_worker *w)
{
	uint64_t v;
	/* Read the eventfd before taking the list: a completion racing with us writes it again. */
	while (read(w->efd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&w->lock);
	struct blk_job *j = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);
	unsigned n = 0;
	while (j) {
		struct blk_job *next = j->next; /* done() may free or resubmit j */
		pthread_mutex_lock(&w->lock);
		w->pending--;
		pthread_mutex_unlock(&w->lock);
		j->done(j, j->ret);
		j = next;
		n++;
	}
	return n;
}

static bool owner_busy(struct blk_worker *w, const void *owner)
{
	for (struct blk_job *j = w->queue_head; j; j = j->next)
		if (j->owner == owner)
			return true;
	for (unsigned k = 0; k < w->nthreads; k++)
		if (w->threads[k].busy && w->threads[k].owner == owner)
			return true;
	return false;
}

void blk_worker_wait_owner(struct blk_worker *w, const void *owner)
{
	pthread_mutex_lock(&w->lock);
	while (owner_busy(w, owner))
		pthread_cond_wait(&w->done_cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	blk_worker_complete(w);
}

int blk_worker_fd(const struct blk_worker *w)
{
	return w->efd;
}
