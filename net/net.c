/*
 * What every network backend shares: the --net option parser (QEMU's -nic user syntax), the poll
 * set the vCPU loop builds for backends, and Internet checksums (RFC 1071).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

/* ---- option parsing ---- */

static int parse_mac(const char *s, size_t len, uint8_t mac[ETH_ALEN])
{
	unsigned v[ETH_ALEN];
	char buf[32], tail;
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (sscanf(buf, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6 ||
	    len != 17)
		return -1;
	for (int k = 0; k < ETH_ALEN; k++)
		mac[k] = (uint8_t)v[k];
	return 0;
}

/* A decimal port 1..65535 in s[0, len). */
static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;
	if (!len || len > 5)
		return -1;
	for (size_t k = 0; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[k] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* A dotted IPv4 address in s[0, len); empty means INADDR_ANY. */
static int parse_addr(const char *s, size_t len, struct in_addr *a)
{
	char buf[INET_ADDRSTRLEN];
	if (!len) {
		a->s_addr = htonl(INADDR_ANY);
		return 0;
	}
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = 0;
	return inet_pton(AF_INET, buf, a) == 1 ? 0 : -1;
}

/* [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT */
static int parse_hostfwd(const char *s, size_t len, struct net_hostfwd *f, char *err, size_t errlen)
{
	const char *end = s + len, *p = memchr(s, ':', len);
	if (!p)
		goto bad;
	size_t plen = (size_t)(p - s);
	if (plen == 3 && !strncmp(s, "udp", 3))
		f->udp = true;
	else if (plen == 0 || (plen == 3 && !strncmp(s, "tcp", 3)))
		f->udp = false;
	else {
		snprintf(err, errlen, "hostfwd=%.*s: protocol must be tcp or udp", (int)len, s);
		return -1;
	}
	const char *haddr = p + 1, *hcolon = memchr(haddr, ':', (size_t)(end - haddr));
	if (!hcolon)
		goto bad;
	const char *dash = memchr(hcolon, '-', (size_t)(end - hcolon));
	if (!dash)
		goto bad;
	const char *gaddr = dash + 1, *gcolon = memchr(gaddr, ':', (size_t)(end - gaddr));
	if (!gcolon)
		goto bad;
	if (parse_addr(haddr, (size_t)(hcolon - haddr), &f->host_addr) < 0) {
		snprintf(err, errlen, "hostfwd=%.*s: bad host address '%.*s'", (int)len, s, (int)(hcolon - haddr), haddr);
		return -1;
	}
	if (parse_port(hcolon + 1, (size_t)(dash - hcolon - 1), &f->host_port) < 0) {
		snprintf(err, errlen, "hostfwd=%.*s: bad host port '%.*s' (expected 1-65535)", (int)len, s,
			 (int)(dash - hcolon - 1), hcolon + 1);
		return -1;
	}
	if (parse_addr(gaddr, (size_t)(gcolon - gaddr), &f->guest_addr) < 0) {
		snprintf(err, errlen, "hostfwd=%.*s: bad guest address '%.*s'", (int)len, s, (int)(gcolon - gaddr), gaddr);
		return -1;
	}
	if (parse_port(gcolon + 1, (size_t)(end - gcolon - 1), &f->guest_port) < 0) {
		snprintf(err, errlen, "hostfwd=%.*s: bad guest port '%.*s' (expected 1-65535)", (int)len, s,
			 (int)(end - gcolon - 1), gcolon + 1);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "hostfwd=%.*s: expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT", (int)len, s);
	return -1;
}

int net_parse_option(const char *spec, unsigned index, struct net_config *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	const uint8_t def[ETH_ALEN] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	memcpy(c->mac, def, ETH_ALEN);
	c->mac[5] = (uint8_t)(0x56 + index);

	size_t n = strcspn(spec, ",");
	if (n != 4 || strncmp(spec, "user", 4)) {
		snprintf(err, errlen, "'%.*s': the only network type is user (user-mode networking)", (int)n, spec);
		return -1;
	}
	const char *p = spec + n;
	while (*p == ',') {
		p++;
		size_t len = strcspn(p, ",");
		const char *eq = memchr(p, '=', len);
		if (!len) {
			snprintf(err, errlen, "empty field in '%s'", spec);
			return -1;
		}
		if (!eq) {
			snprintf(err, errlen, "'%.*s': expected key=value (mac=, hostfwd=)", (int)len, p);
			return -1;
		}
		size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
		const char *v = eq + 1;
		if (klen == 3 && !strncmp(p, "mac", 3)) {
			if (parse_mac(v, vlen, c->mac) < 0) {
				snprintf(err, errlen, "mac=%.*s: expected six hex bytes like 52:54:00:12:34:56", (int)vlen, v);
				return -1;
			}
			if (c->mac[0] & 1) {
				snprintf(err, errlen, "mac=%.*s: a multicast address (first byte odd) cannot name a NIC",
					 (int)vlen, v);
				return -1;
			}
			static const uint8_t zero[ETH_ALEN];
			if (!memcmp(c->mac, zero, ETH_ALEN)) {
				snprintf(err, errlen, "mac=%.*s: the all-zero address cannot name a NIC", (int)vlen, v);
				return -1;
			}
		} else if (klen == 7 && !strncmp(p, "hostfwd", 7)) {
			if (c->nfwd == NET_MAX_HOSTFWD) {
				snprintf(err, errlen, "too many hostfwd= (at most %d per NIC)", NET_MAX_HOSTFWD);
				return -1;
			}
			if (parse_hostfwd(v, vlen, &c->fwd[c->nfwd], err, errlen) < 0)
				return -1;
			c->nfwd++;
		} else {
			snprintf(err, errlen, "unknown option '%.*s' (known: mac=, hostfwd=)", (int)klen, p);
			return -1;
		}
		p += len;
	}
	return 0;
}

/* ---- poll set ---- */

int net_pollset_add(struct net_pollset *ps, int fd, short events)
{
	if (ps->n == ps->cap) {
		unsigned cap = ps->cap ? ps->cap * 2 : 16;
		struct pollfd *f = realloc(ps->fds, cap * sizeof(*f));
		if (!f)
			return -1;
		ps->fds = f;
		ps->cap = cap;
	}
	ps->fds[ps->n] = (struct pollfd){ .fd = fd, .events = events };
	return (int)ps->n++;
}

void net_pollset_clear(struct net_pollset *ps)
{
	ps->n = 0;
}

void net_pollset_free(struct net_pollset *ps)
{
	free(ps->fds);
	ps->fds = NULL;
	ps->n = ps->cap = 0;
}

/* ---- checksums ---- */

uint32_t net_csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	uint64_t s = sum;
	for (; len >= 2; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)p[0] << 8;
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t net_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}
