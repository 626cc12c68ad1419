/*
 * The --net option parser (net_parse_option): QEMU's -nic user syntax with mac= and hostfwd=,
 * default MACs per NIC index, and a clear one-line error for each kind of mistake.
 */
#include <arpa/inet.h>
#include <string.h>

#include "net/net.h"
#include "tests/test.h"

static struct net_config c;
static char err[256];

static int parse(const char *spec, unsigned index)
{
	err[0] = 0;
	return net_parse_option(spec, index, &c, err, sizeof(err));
}

static uint32_t addr(struct in_addr a)
{
	return ntohl(a.s_addr);
}

/* spec must fail with a message containing want. */
static void bad(const char *spec, const char *want)
{
	int r = parse(spec, 0);
	CHECK(r < 0 && strstr(err, want), "'%s' rejected: %s", spec, err);
}

int main(void)
{
	static const uint8_t mac0[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	static const uint8_t mac2[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x58 };

	CHECK(parse("user", 0) == 0 && !memcmp(c.mac, mac0, 6) && c.nfwd == 0, "user: default MAC 52:54:00:12:34:56");
	CHECK(parse("user", 2) == 0 && !memcmp(c.mac, mac2, 6), "third NIC: default MAC 52:54:00:12:34:58");
	CHECK(parse("user,mac=02:AB:cd:00:00:01", 0) == 0 && c.mac[0] == 2 && c.mac[1] == 0xab && c.mac[2] == 0xcd &&
		      c.mac[5] == 1,
	      "mac= sets the address (either case)");

	CHECK(parse("user,hostfwd=tcp:127.0.0.1:2222-:22", 0) == 0 && c.nfwd == 1 && !c.fwd[0].udp &&
		      addr(c.fwd[0].host_addr) == 0x7f000001 && c.fwd[0].host_port == 2222 &&
		      addr(c.fwd[0].guest_addr) == 0 && c.fwd[0].guest_port == 22,
	      "hostfwd=tcp:127.0.0.1:2222-:22");
	CHECK(parse("user,hostfwd=udp::5353-10.0.2.16:53,hostfwd=::8080-:80,mac=52:54:00:00:00:09", 0) == 0 &&
		      c.nfwd == 2 && c.fwd[0].udp && addr(c.fwd[0].host_addr) == 0 && c.fwd[0].host_port == 5353 &&
		      addr(c.fwd[0].guest_addr) == 0x0a000210 && c.fwd[0].guest_port == 53 && !c.fwd[1].udp &&
		      c.fwd[1].host_port == 8080 && c.fwd[1].guest_port == 80 && c.mac[5] == 9,
	      "two hostfwd= (udp, empty protocol = tcp) and mac= together");

	bad("tap", "only network type is user");
	bad("user2", "only network type is user");
	bad("", "only network type is user");
	bad("user,", "empty field");
	bad("user,,mac=52:54:00:12:34:56", "empty field");
	bad("user,mac", "expected key=value");
	bad("user,model=e1000", "unknown option 'model'");
	bad("user,mac=52:54:00:12:34", "mac=52:54:00:12:34: expected six hex bytes");
	bad("user,mac=52:54:00:12:34:5g", "expected six hex bytes");
	bad("user,mac=52:54:00:12:34:56:78", "expected six hex bytes");
	bad("user,mac=01:00:5e:00:00:01", "multicast");
	bad("user,mac=00:00:00:00:00:00", "all-zero");
	bad("user,hostfwd=sctp::1-:2", "protocol must be tcp or udp");
	bad("user,hostfwd=tcp:127.0.0.1:2222", "expected [tcp|udp]");
	bad("user,hostfwd=tcp:127.0.0.1:2222:22", "expected [tcp|udp]");
	bad("user,hostfwd=tcp::0-:22", "bad host port '0'");
	bad("user,hostfwd=tcp::65536-:22", "bad host port '65536'");
	bad("user,hostfwd=tcp::22x-:22", "bad host port '22x'");
	bad("user,hostfwd=tcp::2222-:", "bad guest port ''");
	bad("user,hostfwd=tcp:localhost:2222-:22", "bad host address 'localhost'");
	bad("user,hostfwd=tcp:1.2.3:2222-:22", "bad host address");
	bad("user,hostfwd=tcp::2222-10.0.2.300:22", "bad guest address '10.0.2.300'");

	char many[2048] = "user";
	for (int k = 0; k <= NET_MAX_HOSTFWD; k++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), ",hostfwd=tcp::%d-:22", 3000 + k);
	bad(many, "too many hostfwd=");
	TEST_EXIT();
}
