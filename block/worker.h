/*
 * I/O worker threads: serve disk requests off the vCPU thread, so that disk I/O overlaps guest
 * execution.
 *
 * The vCPU thread submits jobs (blk_worker_submit); a pool of threads runs each job's run()
 * (which may block in the block layer: pread, pwrite, fdatasync); finished jobs wait on a
 * completion list until the vCPU thread calls blk_worker_complete(), which runs their done()
 * callbacks there. So done() may touch device state, virtqueues and interrupts without locks,
 * while run() must touch only what the job owns (its buffers in guest RAM and its struct blk).
 *
 * The vCPU thread learns about completions two ways: the kick callback (called from the worker
 * thread after each completion; the machine makes it stop the current CPU slice), and an eventfd
 * (blk_worker_fd) that is readable while completions wait, for the machine's idle poll().
 */
#ifndef SOFTVM_BLOCK_WORKER_H
#define SOFTVM_BLOCK_WORKER_H
#include <pthread.h>
#include <stdbool.h>

#define BLK_WORKER_MAX_THREADS 16

struct blk_job {
	int (*run)(struct blk_job *j);            /* worker thread; returns the job's result */
	/* vCPU thread, from blk_worker_complete(). NULL: the job ends when run() returns (run() may
	 * free it; the worker does not touch it afterwards), e.g. when run() hands its result back
	 * through another channel such as virtq_complete(). */
	void (*done)(struct blk_job *j, int ret);
	void *owner;                              /* who submitted it (blk_worker_wait_owner) */
	/* private to the worker */
	int ret;
	struct blk_job *next;
};

struct blk_worker {
	pthread_mutex_t lock;
	pthread_cond_t work_cond;  /* queue not empty, or stopping */
	pthread_cond_t done_cond;  /* a job finished (blk_worker_wait_owner) */
	struct blk_job *queue_head, *queue_tail; /* submitted, not yet running */
	struct blk_job *done_head, *done_tail;   /* finished, done() not yet called */
	unsigned pending;          /* submitted and not yet through done() */
	struct blk_worker_thread {
		pthread_t tid;
		struct blk_worker *w;
		const void *owner;     /* owner of the job running now, or NULL when idle */
		bool busy;
	} threads[BLK_WORKER_MAX_THREADS];
	unsigned nthreads;
	bool stopping;
	bool started;              /* init succeeded up to the threads (destroy has work) */
	int efd;                   /* eventfd: readable while done jobs wait */
	void (*kick)(void *opaque);
	void *kick_opaque;
};

/* Starts nthreads (1..BLK_WORKER_MAX_THREADS) threads. kick may be NULL. w must not move while
 * the threads run. Returns 0 or -errno. */
int blk_worker_init(struct blk_worker *w, unsigned nthreads, void (*kick)(void *opaque), void *kick_opaque);
/* Waits for every submitted job, runs their done() callbacks, and stops the threads. */
void blk_worker_destroy(struct blk_worker *w);

/* vCPU thread: queues j (run and done set). */
void blk_worker_submit(struct blk_worker *w, struct blk_job *j);
/* vCPU thread: runs done() for every finished job; returns how many. */
unsigned blk_worker_complete(struct blk_worker *w);
/* vCPU thread: waits until no job of owner is queued or running, running done() callbacks as
 * they finish (device reset: no request may touch guest memory afterwards). */
void blk_worker_wait_owner(struct blk_worker *w, const void *owner);
/* Readable (POLLIN) while finished jobs wait for blk_worker_complete(). */
int blk_worker_fd(const struct blk_worker *w);
#endif
