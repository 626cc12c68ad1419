/* Interoperation with QEMU's qemu-img (a test peer only, from Debian's qemu-utils): images made
 * by softvm pass `qemu-img check` and convert to the same bytes with both tools; images made by
 * qemu-img (v3, v2 compat=0.10, with a backing file, compressed, small clusters, 8-bit refcounts)
 * open in softvm, take writes, and stay clean for both checkers. */
#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>

#include "tests/block/blktest.h"
#include "tests/test.h"

static char err[512];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

/* Writes, vectored writes, zeroes and discards at pseudo-random places. */
static int scribble(const char *path, unsigned seed)
{
	struct blk *b;
	if (blk_open(&b, path, BLK_FMT_AUTO, 0, err, sizeof(err)) < 0)
		return -1;
	uint64_t size = blk_size(b);
	uint8_t *buf = malloc(1 << 19);
	int bad = 0;
	rng_state = seed * 7919 + 1;
	for (int i = 0; i < 150; i++) {
		uint64_t off = (rnd() % (size / 512)) * 512, len = ((rnd() % 1024) + 1) * 512;
		if (off + len > size)
			len = size - off;
		fill(buf, len, off, seed + i);
		int r = i % 10 == 9 ? blk_discard(b, off, len) : i % 10 == 8 ? blk_write_zeroes(b, off, len, i & 1)
									     : blk_pwrite(b, off, buf, len);
		bad |= r < 0;
	}
	bad |= blk_flush(b) < 0;
	blk_close(b);
	free(buf);
	return bad ? -1 : 0;
}

/* Both tools agree about the image: clean checks, same raw bytes. */
static void agree(const char *name)
{
	const char *p = tpath(name);
	CHECK(sh("qemu-img check -q '%s'", p) == 0, "%s: qemu-img check clean", name);
	CHECK(sh("./softvm img check '%s' >/dev/null", p) == 0, "%s: softvm img check clean", name);
	CHECK(sh("qemu-img convert -O raw '%s' '%s.q.raw' && ./softvm img convert -O raw '%s' '%s.s.raw' && "
		 "cmp -s '%s.q.raw' '%s.s.raw'", p, p, p, p, p, p) == 0,
	      "%s: qemu-img and softvm convert to the same bytes", name);
	sh("rm -f '%s.q.raw' '%s.s.raw'", p, p);
}

int main(void)
{
	if (sh("qemu-img --version >/dev/null 2>&1") != 0) {
		CHECK(0, "qemu-img is installed (scripts/install-deps.sh installs qemu-utils)");
		TEST_EXIT();
	}
	if (access("./softvm", X_OK) != 0) {
		CHECK(0, "run from the source tree after make (needs ./softvm)");
		TEST_EXIT();
	}
	tmpdir_init("interop");
	/* softvm -> qemu */
	CHECK(sh("./softvm img create -f qcow2 '%s' 64M >/dev/null", tpath("s.qcow2")) == 0, "softvm creates qcow2");
	CHECK(scribble(tpath("s.qcow2"), 1) == 0, "softvm writes its image");
	agree("s.qcow2");
	CHECK(sh("./softvm img create -f qcow2 -o cluster_size=4096 '%s' 20M >/dev/null", tpath("s4k.qcow2")) == 0,
	      "softvm creates 4K-cluster qcow2");
	CHECK(scribble(tpath("s4k.qcow2"), 2) == 0, "softvm writes 4K-cluster image");
	agree("s4k.qcow2");
	CHECK(sh("./softvm img create -f qcow2 -b s.qcow2 '%s' >/dev/null", tpath("sov.qcow2")) == 0, "softvm creates overlay");
	CHECK(scribble(tpath("sov.qcow2"), 3) == 0, "softvm writes the overlay");
	agree("sov.qcow2");
	CHECK(sh("qemu-img info '%s' | grep -q 'backing file: s.qcow2'", tpath("sov.qcow2")) == 0,
	      "qemu-img sees the overlay's backing file");
	CHECK(sh("./softvm img convert -O qcow2 '%s' '%s' && qemu-img compare -q '%s' '%s'", tpath("sov.qcow2"),
		 tpath("conv.qcow2"), tpath("sov.qcow2"), tpath("conv.qcow2")) == 0, "softvm convert to qcow2 matches for qemu-img compare");

	/* qemu -> softvm */
	static const struct { const char *name, *opts; } q[] = {
		{ "q.qcow2", "" },
		{ "qv2.qcow2", "-o compat=0.10" },
		{ "q512.qcow2", "-o cluster_size=512" },
		{ "qrc8.qcow2", "-o refcount_bits=8" },
		{ "qrc1.qcow2", "-o refcount_bits=1" },
		{ "qrc64.qcow2", "-o refcount_bits=64" },
		{ "qprealloc.qcow2", "-o preallocation=metadata" },
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		const char *p = tpath(q[i].name);
		CHECK(sh("qemu-img create -q -f qcow2 %s '%s' 16M && qemu-io -c 'write -P 0x5a 1M 2M' -c 'write -z 4M 1M' '%s' >/dev/null",
			 q[i].opts, p, p) == 0, "%s: qemu-img creates and writes", q[i].name);
		CHECK(scribble(p, 10 + (unsigned)i) == 0, "%s: softvm writes it (%s)", q[i].name, err);
		agree(q[i].name);
	}
	const char *qo = tpath("qov.qcow2");
	CHECK(sh("qemu-img create -q -f qcow2 -b q.qcow2 -F qcow2 '%s'", qo) == 0, "qemu-img creates an overlay");
	CHECK(scribble(qo, 30) == 0, "softvm writes qemu's overlay");
	agree("qov.qcow2");
	CHECK(sh("qemu-img convert -c -O qcow2 '%s' '%s'", tpath("q.qcow2"), tpath("qc.qcow2")) == 0, "qemu-img writes compressed");
	CHECK(sh("./softvm img convert '%s' '%s' && qemu-img compare -q '%s' '%s'", tpath("qc.qcow2"), tpath("qc.raw"),
		 tpath("qc.raw"), tpath("q.qcow2")) == 0, "softvm reads compressed clusters");
	CHECK(scribble(tpath("qc.qcow2"), 31) == 0, "softvm rewrites compressed clusters");
	agree("qc.qcow2");
	/* check exit statuses like qemu-img's */
	const char *lk = tpath("leak.qcow2");
	sh("qemu-img create -q -f qcow2 '%s' 16M && qemu-io -c 'write 0 64k' '%s' >/dev/null", lk, lk);
	/* bump the refcount of the refcount block (cluster 2) from 1 to 2: a leak */
	sh("printf '\\000\\002' | dd of='%s' bs=1 seek=%d conv=notrunc 2>/dev/null", lk, 0x20000 + 4);
	CHECK(sh("./softvm img check '%s' >/dev/null", lk) == 3 && sh("qemu-img check -q '%s'", lk) == 3,
	      "leaked cluster: exit status 3 from both");
	sh("printf '\\000\\000' | dd of='%s' bs=1 seek=%d conv=notrunc 2>/dev/null", lk, 0x20000 + 4);
	CHECK(sh("./softvm img check '%s' >/dev/null", lk) == 2 && sh("qemu-img check -q '%s' 2>/dev/null", lk) == 2,
	      "refcount too low: exit status 2 from both");
	CHECK(sh("./softvm img check '%s' >/dev/null 2>&1", tpath("qc.raw")) == 63, "raw image: exit status 63");
	tmpdir_cleanup();
	TEST_EXIT();
}
