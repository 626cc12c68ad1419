/*
 * I/O worker tests: jobs run on worker threads (not the submitting thread), done() runs on the
 * thread calling blk_worker_complete(), the eventfd is readable exactly while completions wait,
 * the kick callback fires, blk_worker_wait_owner waits for one owner's jobs only, jobs run in
 * parallel on several threads, destroy drains the queue. Synchronized with condition variables
 * and pipes, never with sleeps that would make the outcome depend on timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/worker.h"
#include "tests/test.h"

struct tjob {
	struct blk_job job;
	pthread_t ran_on, done_on;
	int value;
	int done_ret;
	int done_calls;
	int gate_fd; /* >= 0: run() blocks reading one byte from it */
	atomic_int *started;
};

static atomic_int kicks;

static void kick(void *opaque)
{
	atomic_fetch_add(&kicks, 1);
}

static int tjob_run(struct blk_job *j)
{
	struct tjob *t = (struct tjob *)j;
	t->ran_on = pthread_self();
	if (t->started)
		atomic_fetch_add(t->started, 1);
	if (t->gate_fd >= 0) {
		char c;
		if (read(t->gate_fd, &c, 1) != 1)
			return -1;
	}
	return t->value * 2;
}

static void tjob_done(struct blk_job *j, int ret)
{
	struct tjob *t = (struct tjob *)j;
	t->done_on = pthread_self();
	t->done_ret = ret;
	t->done_calls++;
}

static atomic_int self_freed;

static int self_freeing_run(struct blk_job *j)
{
	free(j);
	atomic_fetch_add(&self_freed, 1);
	return 0;
}

static void tjob_init(struct tjob *t, int value, int gate_fd, void *owner)
{
	memset(t, 0, sizeof(*t));
	t->job.run = tjob_run;
	t->job.done = tjob_done;
	t->job.owner = owner;
	t->value = value;
	t->gate_fd = gate_fd;
}

static bool fd_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

int main(void)
{
	struct blk_worker w;
	int r = blk_worker_init(&w, 3, kick, NULL);
	CHECK(r == 0, "blk_worker_init with 3 threads");
	if (r)
		TEST_EXIT();
	CHECK(!fd_readable(blk_worker_fd(&w), 0), "eventfd not readable with nothing done");
	CHECK(blk_worker_complete(&w) == 0, "complete with nothing done runs nothing");

	/* One job: runs elsewhere, completes here. */
	struct tjob a;
	tjob_init(&a, 21, -1, NULL);
	blk_worker_submit(&w, &a.job);
	CHECK(fd_readable(blk_worker_fd(&w), 10000), "eventfd readable once a job finished");
	CHECK(a.done_calls == 0, "done() not called before blk_worker_complete");
	CHECK(blk_worker_complete(&w) == 1, "complete runs one done()");
	CHECK(a.done_calls == 1 && a.done_ret == 42, "done() gets run()'s result");
	CHECK(!pthread_equal(a.ran_on, pthread_self()), "run() on a worker thread");
	CHECK(pthread_equal(a.done_on, pthread_self()), "done() on the completing thread");
	CHECK(!fd_readable(blk_worker_fd(&w), 0), "eventfd drained by complete");
	CHECK(atomic_load(&kicks) >= 1, "kick called on completion");

	/* Three jobs held on gates run at the same time on the three threads. */
	int gate[3][2];
	struct tjob g[3];
	atomic_int started = 0;
	static int owner_x, owner_y;
	for (int k = 0; k < 3; k++) {
		if (pipe(gate[k]) < 0)
			return 1;
		tjob_init(&g[k], k, gate[k][0], k == 0 ? (void *)&owner_x : (void *)&owner_y);
		g[k].started = &started;
		blk_worker_submit(&w, &g[k].job);
	}
	for (int spin = 0; spin < 100000 && atomic_load(&started) < 3; spin++)
		usleep(100);
	CHECK(atomic_load(&started) == 3, "three gated jobs run concurrently on three threads");
	CHECK(!fd_readable(blk_worker_fd(&w), 0), "nothing finished while gated");

	/* Release owner x's job: wait_owner(x) returns with its done() run, y's still pending. */
	if (write(gate[0][1], "x", 1) != 1)
		return 1;
	blk_worker_wait_owner(&w, &owner_x);
	CHECK(g[0].done_calls == 1 && g[0].done_ret == 0, "wait_owner(x) ran x's done()");
	CHECK(g[1].done_calls == 0 && g[2].done_calls == 0, "wait_owner(x) did not wait for y");
	for (int k = 1; k < 3; k++)
		if (write(gate[k][1], "y", 1) != 1)
			return 1;
	blk_worker_wait_owner(&w, &owner_y);
	CHECK(g[1].done_calls == 1 && g[1].done_ret == 2 && g[2].done_calls == 1 && g[2].done_ret == 4,
	      "wait_owner(y) waited for both of y's jobs");

	/* Jobs without done(): run() frees them; wait_owner still waits for them. */
	static int owner_z;
	for (int k = 0; k < 50; k++) {
		struct blk_job *j = calloc(1, sizeof(*j));
		j->run = self_freeing_run;
		j->owner = &owner_z;
		blk_worker_submit(&w, j);
	}
	blk_worker_wait_owner(&w, &owner_z);
	CHECK(atomic_load(&self_freed) == 50, "wait_owner waits for done()-less jobs (%d of 50 ran)",
	      atomic_load(&self_freed));
	CHECK(!fd_readable(blk_worker_fd(&w), 0), "done()-less jobs leave no completion");

	/* Many queued jobs: destroy drains them all and runs each done() once. */
	static struct tjob many[200];
	for (int k = 0; k < 200; k++) {
		tjob_init(&many[k], k, -1, NULL);
		blk_worker_submit(&w, &many[k].job);
	}
	blk_worker_destroy(&w);
	int ok = 0;
	for (int k = 0; k < 200; k++)
		ok += many[k].done_calls == 1 && many[k].done_ret == 2 * k;
	CHECK(ok == 200, "destroy ran all 200 queued jobs and their done() (%d)", ok);
	blk_worker_destroy(&w); /* twice is harmless */

	CHECK(blk_worker_init(&w, 0, NULL, NULL) == -EINVAL, "0 threads refused");
	TEST_EXIT();
}
