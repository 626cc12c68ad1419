/*
 * Network backends: what a NIC model (virtio-net) plugs into. A backend carries Ethernet frames
 * between the guest's NIC and the host: the NIC hands it the frames the guest transmits
 * (net_send), and the backend delivers frames for the guest through the NIC's receive callback.
 * Today's one backend is user-mode networking through libslirp (net/slirp.c).
 *
 * Threading: everything runs on the vCPU thread. The backend's host file descriptors join the
 * vCPU loop's poll(): before sleeping the loop calls net_poll_fill (the backend adds its fds and
 * may shorten the timeout), after poll() returns it calls net_poll_done (the backend handles the
 * ready fds, which may deliver frames to the NIC). While the guest runs, the loop does the same
 * with a zero timeout every few milliseconds. Backend timers live on the machine's timer list.
 *
 * Option syntax (`softvm run --net ...`, as QEMU's -nic user):
 *   user[,mac=52:54:00:12:34:56][,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...
 */
#ifndef SOFTVM_NET_NET_H
#define SOFTVM_NET_NET_H
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer_list;

#define NET_MAX_HOSTFWD 16
#define ETH_ALEN 6

struct net_hostfwd {
	bool udp;
	struct in_addr host_addr;  /* INADDR_ANY when the option leaves it empty */
	uint16_t host_port;
	struct in_addr guest_addr; /* INADDR_ANY: the guest's DHCP address (10.0.2.15) */
	uint16_t guest_port;
};

/* One NIC and its backend, as the CLI describes it. */
struct net_config {
	uint8_t mac[ETH_ALEN];
	struct net_hostfwd fwd[NET_MAX_HOSTFWD];
	unsigned nfwd;
};

/*
 * Parses one --net value into c. index is the NIC's number (0, 1, ...): without mac=, NIC n gets
 * 52:54:00:12:34:(0x56 + n), as QEMU numbers its NICs. Returns 0, or -1 with a one-line message
 * naming the offending field in err.
 */
int net_parse_option(const char *spec, unsigned index, struct net_config *c, char *err, size_t errlen);

/* The file descriptors of one poll() call, shared by every backend and the machine's own fds. */
struct net_pollset {
	struct pollfd *fds;
	unsigned n, cap;
};

/* Appends fd; returns its index, or -1 when out of memory. */
int net_pollset_add(struct net_pollset *ps, int fd, short events);
void net_pollset_clear(struct net_pollset *ps);
void net_pollset_free(struct net_pollset *ps);

struct net_backend;

struct net_backend_ops {
	/* A frame the guest transmitted (complete: checksums filled in). */
	void (*send)(struct net_backend *be, const uint8_t *frame, size_t len);
	void (*poll_fill)(struct net_backend *be, struct net_pollset *ps, int *timeout_ms);
	void (*poll_done)(struct net_backend *be, const struct net_pollset *ps, bool error);
	void (*destroy)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	/* Set by the NIC: delivers a frame to the guest (the NIC copies it or drops it). */
	void (*receive)(void *nic, const uint8_t *frame, size_t len);
	void *nic;
};

static inline void net_send(struct net_backend *be, const uint8_t *frame, size_t len)
{
	be->ops->send(be, frame, len);
}

/* Adds the backend's fds to ps; may lower *timeout_ms (-1: infinite) for the backend's deadlines. */
static inline void net_poll_fill(struct net_backend *be, struct net_pollset *ps, int *timeout_ms)
{
	be->ops->poll_fill(be, ps, timeout_ms);
}

/* After poll() on ps (error: poll failed). */
static inline void net_poll_done(struct net_backend *be, const struct net_pollset *ps, bool error)
{
	be->ops->poll_done(be, ps, error);
}

static inline void net_backend_destroy(struct net_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

/* Delivers a frame to the NIC attached to be (dropped when none is). For backends. */
static inline void net_deliver(struct net_backend *be, const uint8_t *frame, size_t len)
{
	if (be->receive)
		be->receive(be->nic, frame, len);
}

/*
 * User-mode networking (libslirp), with QEMU's addresses: network 10.0.2.0/24, gateway and host
 * 10.0.2.2 (the host's loopback is reached through it), DNS 10.0.2.3 (forwarded to the host's
 * resolver), DHCP from 10.0.2.15. Timers go on timers with deadlines on clock (host ns). Host
 * forwards from c are set up at once. Returns NULL with a message in err (a host port in use, ...).
 */
struct net_backend *net_slirp_create(const struct net_config *c, struct timer_list *timers,
				     uint64_t (*clock)(void), char *err, size_t errlen);

/* Internet checksum helpers (RFC 1071), for NICs that offer checksum offload. */
uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t net_csum_fold(uint32_t sum);
#endif
