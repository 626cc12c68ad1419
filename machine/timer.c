/* Device timers on the host's monotonic clock (see timer.h). */
#include <time.h>

#include "timer.h"

uint64_t clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void timer_init(struct timer *t, void (*cb)(void *opaque), void *opaque)
{
	t->cb = cb;
	t->opaque = opaque;
	t->armed = false;
	t->next = NULL;
	t->expires = 0;
}

void timer_del(struct timer_list *l, struct timer *t)
{
	if (!t->armed)
		return;
	for (struct timer **p = &l->head; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			break;
		}
	}
	t->armed = false;
	t->next = NULL;
}

void timer_mod(struct timer_list *l, struct timer *t, uint64_t expires_ns)
{
	timer_del(l, t);
	t->expires = expires_ns;
	struct timer **p = &l->head;
	while (*p && (*p)->expires <= expires_ns)
		p = &(*p)->next;
	t->next = *p;
	*p = t;
	t->armed = true;
}

uint64_t timers_run(struct timer_list *l, uint64_t now)
{
	/* A callback may re-arm its own timer (periodic devices) or others; take one at a time. */
	while (l->head && l->head->expires <= now) {
		struct timer *t = l->head;
		l->head = t->next;
		t->armed = false;
		t->next = NULL;
		t->cb(t->opaque);
	}
	return timers_next(l);
}

uint64_t timers_next(const struct timer_list *l)
{
	return l->head ? l->head->expires : UINT64_MAX;
}
