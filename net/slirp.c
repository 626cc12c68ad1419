/*
 * User-mode networking through libslirp (the TCP/IP stack QEMU's -nic user uses): the guest's
 * frames go to slirp_input(), slirp's frames for the guest come back through send_packet. Slirp
 * NATs the guest's TCP and UDP onto host sockets, serves DHCP and forwards DNS (10.0.2.3) to the
 * host's resolver; the gateway 10.0.2.2 stands for the host itself, so the guest reaches services
 * on the host's loopback there. Host forwards (slirp_add_hostfwd) listen on host sockets and
 * connect into the guest.
 *
 * Integration: slirp's sockets join the vCPU loop's poll() (net_poll_fill/net_poll_done), slirp's
 * own timers are machine timers, and its clock is the machine's. Everything runs on the vCPU
 * thread, so slirp needs no locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slirp/libslirp.h>

#include "machine/timer.h"
#include "net/net.h"

struct slirp_timer {
	struct timer t;
	struct net_slirp *ns;
	SlirpTimerCb cb;      /* timer_new style */
	void *cb_opaque;
	SlirpTimerId id;      /* timer_new_opaque style (cb == NULL) */
};

struct net_slirp {
	struct net_backend be;
	Slirp *slirp;
	struct timer_list *timers;
	uint64_t (*clock)(void);
	struct net_pollset *ps; /* during poll_fill / poll_done */
};

static ssize_t slirp_send_packet(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *ns = opaque;
	net_deliver(&ns->be, buf, len);
	return (ssize_t)len;
}

static void slirp_guest_error(const char *msg, void *opaque)
{
	/* A misbehaving guest: nothing for the user to do; keep quiet beyond one line each. */
	fprintf(stderr, "softvm: net: guest error: %s\n", msg);
}

static int64_t slirp_clock_get_ns(void *opaque)
{
	struct net_slirp *ns = opaque;
	return (int64_t)ns->clock();
}

static void slirp_timer_fire(void *opaque)
{
	struct slirp_timer *st = opaque;
	if (st->cb)
		st->cb(st->cb_opaque);
	else
		slirp_handle_timer(st->ns->slirp, st->id, st->cb_opaque);
}

static struct slirp_timer *timer_alloc(struct net_slirp *ns)
{
	struct slirp_timer *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL; /* slirp does not check: its timer_mod/free then get NULL, which we ignore */
	st->ns = ns;
	timer_init(&st->t, slirp_timer_fire, st);
	return st;
}

static void *slirp_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct slirp_timer *st = timer_alloc(opaque);
	if (st) {
		st->cb = cb;
		st->cb_opaque = cb_opaque;
	}
	return st;
}

static void *slirp_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct slirp_timer *st = timer_alloc(opaque);
	if (st) {
		st->id = id;
		st->cb_opaque = cb_opaque;
	}
	return st;
}

static void slirp_timer_free(void *timer, void *opaque)
{
	struct net_slirp *ns = opaque;
	struct slirp_timer *st = timer;
	if (!st)
		return;
	timer_del(ns->timers, &st->t);
	free(st);
}

/* expire_time: milliseconds on slirp's clock (clock_get_ns / 1e6). */
static void slirp_timer_mod(void *timer, int64_t expire_time, void *opaque)
{
	struct net_slirp *ns = opaque;
	struct slirp_timer *st = timer;
	if (!st)
		return;
	uint64_t when = expire_time < 0 ? 0 : (uint64_t)expire_time * 1000000ull;
	timer_mod(ns->timers, &st->t, when);
}

/* Slirp's sockets are polled afresh before each sleep (slirp_pollfds_fill), so registration and
 * the notify kick need nothing on a single thread. */
static void slirp_register_poll_fd(int fd, void *opaque) {}
static void slirp_unregister_poll_fd(int fd, void *opaque) {}
static void slirp_notify(void *opaque) {}

static const SlirpCb slirp_callbacks = {
	.send_packet = slirp_send_packet,
	.guest_error = slirp_guest_error,
	.clock_get_ns = slirp_clock_get_ns,
	.timer_new = slirp_timer_new,
	.timer_free = slirp_timer_free,
	.timer_mod = slirp_timer_mod,
	.register_poll_fd = slirp_register_poll_fd,
	.unregister_poll_fd = slirp_unregister_poll_fd,
	.notify = slirp_notify,
	.timer_new_opaque = slirp_timer_new_opaque,
};

static void ns_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	struct net_slirp *ns = (struct net_slirp *)be;
	if (len > 65536 + 14)
		return;
	slirp_input(ns->slirp, frame, (int)len);
}

static short to_poll_events(int ev)
{
	short e = 0;
	if (ev & SLIRP_POLL_IN)
		e |= POLLIN;
	if (ev & SLIRP_POLL_OUT)
		e |= POLLOUT;
	if (ev & SLIRP_POLL_PRI)
		e |= POLLPRI;
	if (ev & SLIRP_POLL_ERR)
		e |= POLLERR;
	if (ev & SLIRP_POLL_HUP)
		e |= POLLHUP;
	return e;
}

static int add_poll_cb(int fd, int events, void *opaque)
{
	struct net_slirp *ns = opaque;
	return net_pollset_add(ns->ps, fd, to_poll_events(events));
}

static int get_revents_cb(int idx, void *opaque)
{
	struct net_slirp *ns = opaque;
	if (idx < 0 || (unsigned)idx >= ns->ps->n)
		return 0;
	short re = ns->ps->fds[idx].revents;
	int r = 0;
	if (re & POLLIN)
		r |= SLIRP_POLL_IN;
	if (re & POLLOUT)
		r |= SLIRP_POLL_OUT;
	if (re & POLLPRI)
		r |= SLIRP_POLL_PRI;
	if (re & (POLLERR | POLLNVAL))
		r |= SLIRP_POLL_ERR;
	if (re & POLLHUP)
		r |= SLIRP_POLL_HUP;
	return r;
}

static void ns_poll_fill(struct net_backend *be, struct net_pollset *ps, int *timeout_ms)
{
	struct net_slirp *ns = (struct net_slirp *)be;
	uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
	ns->ps = ps;
	slirp_pollfds_fill(ns->slirp, &t, add_poll_cb, ns);
	ns->ps = NULL;
	if (t != UINT32_MAX && (*timeout_ms < 0 || t < (uint32_t)*timeout_ms))
		*timeout_ms = t > 0x7fffffff ? 0x7fffffff : (int)t;
}

static void ns_poll_done(struct net_backend *be, const struct net_pollset *ps, bool error)
{
	struct net_slirp *ns = (struct net_slirp *)be;
	ns->ps = (struct net_pollset *)ps;
	slirp_pollfds_poll(ns->slirp, error, get_revents_cb, ns);
	ns->ps = NULL;
}

static void ns_destroy(struct net_backend *be)
{
	struct net_slirp *ns = (struct net_slirp *)be;
	if (ns->slirp)
		slirp_cleanup(ns->slirp);
	free(ns);
}

static const struct net_backend_ops slirp_ops = {
	.send = ns_send,
	.poll_fill = ns_poll_fill,
	.poll_done = ns_poll_done,
	.destroy = ns_destroy,
};

struct net_backend *net_slirp_create(const struct net_config *c, struct timer_list *timers,
				     uint64_t (*clock)(void), char *err, size_t errlen)
{
	struct net_slirp *ns = calloc(1, sizeof(*ns));
	if (!ns) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ns->be.ops = &slirp_ops;
	ns->timers = timers;
	ns->clock = clock;

	/* QEMU's defaults (net/slirp.c): 10.0.2.0/24, host .2, DNS .3, DHCP from .15, IPv6 fec0::/64. */
	SlirpConfig cfg = {
		.version = 4,
		.in_enabled = true,
		.in6_enabled = true,
		.vprefix_len = 64,
		.vhostname = "softvm",
		.if_mtu = 0, /* slirp's default, 1500 */
		.if_mru = 0,
	};
	inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
	inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
	inet_pton(AF_INET6, "fec0::", &cfg.vprefix_addr6);
	inet_pton(AF_INET6, "fec0::2", &cfg.vhost6);
	inet_pton(AF_INET6, "fec0::3", &cfg.vnameserver6);

	ns->slirp = slirp_new(&cfg, &slirp_callbacks, ns);
	if (!ns->slirp) {
		snprintf(err, errlen, "user networking: libslirp refused its configuration");
		free(ns);
		return NULL;
	}
	for (unsigned k = 0; k < c->nfwd && k < NET_MAX_HOSTFWD; k++) {
		const struct net_hostfwd *f = &c->fwd[k];
		struct in_addr guest = f->guest_addr;
		if (guest.s_addr == htonl(INADDR_ANY))
			guest = cfg.vdhcp_start;
		if (slirp_add_hostfwd(ns->slirp, f->udp, f->host_addr, f->host_port, guest, f->guest_port) < 0) {
			char ha[INET_ADDRSTRLEN];
			inet_ntop(AF_INET, &f->host_addr, ha, sizeof(ha));
			snprintf(err, errlen, "hostfwd %s:%s:%u: cannot listen on the host (%s)", f->udp ? "udp" : "tcp",
				 ha, f->host_port, errno ? strerror(errno) : "address in use?");
			ns_destroy(&ns->be);
			return NULL;
		}
	}
	return &ns->be;
}
