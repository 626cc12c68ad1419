/*
 * `softvm img`: disk image tool with qemu-img's everyday commands and exit statuses.
 *   create [-f raw|qcow2] [-b backing [-F fmt]] [-o cluster_size=N] FILE [SIZE]
 *   info [-f fmt] FILE
 *   check [-f fmt] FILE     exit 0 clean, 1 check failed, 2 corruptions, 3 leaks only, 63 no metadata
 *   convert [-f fmt] [-O raw|qcow2] SRC DST
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "block/block.h"
#include "cli/cli.h"

static void img_usage(FILE *f)
{
	fprintf(f, "usage: softvm img <command> ...\n\n"
		   "  create [-f raw|qcow2] [-b BACKING [-F FMT]] [-o cluster_size=N] FILE [SIZE]\n"
		   "           SIZE like 10G (optional with -b: the backing file's size)\n"
		   "  info [-f FMT] FILE\n"
		   "  check [-f FMT] FILE\n"
		   "           exit status: 0 clean, 1 check failed, 2 corrupt, 3 leaked clusters only\n"
		   "  convert [-f FMT] [-O raw|qcow2] SRC DST\n");
}

static int parse_fmt(const char *cmd, const char *name, enum blk_format *out)
{
	*out = blk_format_from_name(name);
	if (*out == BLK_FMT_AUTO) {
		fprintf(stderr, "softvm img %s: unknown format '%s' (raw or qcow2)\n", cmd, name);
		return -1;
	}
	return 0;
}

static void human(uint64_t v, char *buf, size_t len)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double d = (double)v;
	int i = 0;
	while (d >= 1024 && i < 6) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, len, "%.3g %s", d, u[i]);
}

static int img_create(int argc, char **argv)
{
	enum blk_format fmt = BLK_FMT_RAW;
	const char *backing = NULL, *bfmt = NULL;
	unsigned long long cluster = 0;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+f:b:F:o:h")) != -1) {
		switch (c) {
		case 'f':
			if (parse_fmt("create", optarg, &fmt) < 0)
				return 1;
			break;
		case 'b': backing = optarg; break;
		case 'F': bfmt = optarg; break;
		case 'o':
			if (strncmp(optarg, "cluster_size=", 13) || parse_size(optarg + 13, &cluster) < 0 ||
			    cluster > (2u << 20)) {
				fprintf(stderr, "softvm img create: -o %s: only cluster_size=SIZE is known\n", optarg);
				return 1;
			}
			break;
		case 'h': img_usage(stdout); return 0;
		default: return 1;
		}
	}
	if (optind >= argc || argc - optind > 2 || (argc - optind == 1 && !backing)) {
		fprintf(stderr, "softvm img create: expected FILE SIZE (try softvm img --help)\n");
		return 1;
	}
	if (backing && fmt != BLK_FMT_QCOW2) {
		fprintf(stderr, "softvm img create: a backing file needs -f qcow2\n");
		return 1;
	}
	const char *file = argv[optind];
	unsigned long long size = 0;
	if (argc - optind == 2 && parse_size(argv[optind + 1], &size) < 0) {
		fprintf(stderr, "softvm img create: bad size '%s' (like 10G, 512M, 1048576)\n", argv[optind + 1]);
		return 1;
	}
	char err[512];
	if (blk_create(file, fmt, size, backing, bfmt, (uint32_t)cluster, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm img create: %s\n", err);
		return 1;
	}
	char hs[32];
	human(size, hs, sizeof(hs));
	printf("Formatting '%s', fmt=%s size=%llu%s%s\n", file, fmt == BLK_FMT_QCOW2 ? "qcow2" : "raw", size,
	       backing ? " backing_file=" : "", backing ? backing : "");
	return 0;
}

/* Parses [-f fmt] FILE for info and check. */
static int one_file(const char *cmd, int argc, char **argv, enum blk_format *fmt, const char **file)
{
	int c;
	optind = 1;
	*fmt = BLK_FMT_AUTO;
	while ((c = getopt(argc, argv, "+f:h")) != -1) {
		switch (c) {
		case 'f':
			if (parse_fmt(cmd, optarg, fmt) < 0)
				return 1;
			break;
		case 'h': img_usage(stdout); return 0;
		default: return 1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "softvm img %s: expected one FILE\n", cmd);
		return 1;
	}
	*file = argv[optind];
	return -1;
}

static int img_info(int argc, char **argv)
{
	enum blk_format fmt;
	const char *file;
	int r = one_file("info", argc, argv, &fmt, &file);
	if (r >= 0)
		return r;
	struct blk *b;
	char err[512];
	if (blk_open(&b, file, fmt, BLK_O_RDONLY | BLK_O_NO_BACKING, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm img info: %s\n", err);
		return 1;
	}
	struct blk_info in;
	blk_get_info(b, &in);
	char vs[32], ds[32];
	human(in.virtual_size, vs, sizeof(vs));
	human(in.disk_size, ds, sizeof(ds));
	printf("image: %s\nfile format: %s\nvirtual size: %s (%llu bytes)\ndisk size: %s\n", file, in.format, vs,
	       (unsigned long long)in.virtual_size, ds);
	if (in.cluster_size)
		printf("cluster_size: %u\n", in.cluster_size);
	if (in.backing_file[0]) {
		printf("backing file: %s\n", in.backing_file);
		if (in.backing_format[0])
			printf("backing file format: %s\n", in.backing_format);
	}
	if (in.qcow2_version) {
		printf("Format specific information:\n    compat: %s\n", in.qcow2_version >= 3 ? "1.1" : "0.10");
		if (in.dirty)
			printf("    dirty: true\n");
		printf("    corrupt: %s\n", in.corrupt ? "true" : "false");
	}
	blk_close(b);
	return 0;
}

static int img_check(int argc, char **argv)
{
	enum blk_format fmt;
	const char *file;
	int r = one_file("check", argc, argv, &fmt, &file);
	if (r >= 0)
		return r;
	struct blk *b;
	char err[512];
	if (blk_open(&b, file, fmt, BLK_O_RDONLY | BLK_O_NO_BACKING, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm img check: %s\n", err);
		return 1;
	}
	struct blk_check_result res;
	r = blk_check(b, &res, stdout);
	blk_close(b);
	if (r == -ENOTSUP) {
		fprintf(stderr, "softvm img check: %s: this image format has no metadata to check\n", file);
		return 63;
	}
	if (r < 0) {
		fprintf(stderr, "softvm img check: %s: check failed: %s\n", file, strerror(-r));
		return 1;
	}
	if (res.corruptions)
		printf("\n%llu errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n",
		       (unsigned long long)res.corruptions);
	if (res.leaks)
		printf("\n%llu leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n",
		       (unsigned long long)res.leaks);
	if (!res.corruptions && !res.leaks)
		printf("No errors were found on the image.\n");
	if (res.total_clusters)
		printf("%llu/%llu = %.2f%% allocated clusters\n", (unsigned long long)res.allocated_clusters,
		       (unsigned long long)res.total_clusters,
		       100.0 * (double)res.allocated_clusters / (double)res.total_clusters);
	return res.corruptions ? 2 : res.leaks ? 3 : 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int img_convert(int argc, char **argv)
{
	enum blk_format in_fmt = BLK_FMT_AUTO, out_fmt = BLK_FMT_RAW;
	int c;
	optind = 1;
	while ((c = getopt(argc, argv, "+f:O:h")) != -1) {
		switch (c) {
		case 'f':
			if (parse_fmt("convert", optarg, &in_fmt) < 0)
				return 1;
			break;
		case 'O':
			if (parse_fmt("convert", optarg, &out_fmt) < 0)
				return 1;
			break;
		case 'h': img_usage(stdout); return 0;
		default: return 1;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "softvm img convert: expected SRC DST\n");
		return 1;
	}
	const char *src = argv[optind], *dst = argv[optind + 1];
	struct blk *in, *out;
	char err[512];
	if (blk_open(&in, src, in_fmt, BLK_O_RDONLY, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm img convert: %s\n", err);
		return 1;
	}
	uint64_t size = blk_size(in), rsize = (size + 511) & ~511ull;
	if (blk_create(dst, out_fmt, rsize, NULL, NULL, 0, err, sizeof(err)) < 0 ||
	    blk_open(&out, dst, out_fmt, 0, err, sizeof(err)) < 0) {
		fprintf(stderr, "softvm img convert: %s\n", err);
		blk_close(in);
		return 1;
	}
	enum { CHUNK = 1 << 20 };
	uint8_t *buf = malloc(CHUNK);
	int r = buf ? 0 : -ENOMEM;
	for (uint64_t off = 0; off < rsize && r >= 0; off += CHUNK) {
		size_t n = rsize - off < CHUNK ? (size_t)(rsize - off) : CHUNK;
		if ((r = blk_pread(in, off, buf, n)) < 0) {
			fprintf(stderr, "softvm img convert: reading %s at %llu: %s\n", src, (unsigned long long)off,
				strerror(-r));
			break;
		}
		/* the new image reads as zeros already: leave zero ranges unallocated */
		for (size_t o = 0; o < n && r >= 0; o += 65536) {
			size_t m = n - o < 65536 ? n - o : 65536;
			if (!all_zero(buf + o, m) && (r = blk_pwrite(out, off + o, buf + o, m)) < 0)
				fprintf(stderr, "softvm img convert: writing %s: %s\n", dst, strerror(-r));
		}
	}
	if (r >= 0 && (r = blk_flush(out)) < 0)
		fprintf(stderr, "softvm img convert: flushing %s: %s\n", dst, strerror(-r));
	free(buf);
	blk_close(in);
	blk_close(out);
	return r < 0 ? 1 : 0;
}

int cli_img(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		img_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	const char *cmd = argv[1];
	argc--;
	argv++;
	if (!strcmp(cmd, "create"))
		return img_create(argc, argv);
	if (!strcmp(cmd, "info"))
		return img_info(argc, argv);
	if (!strcmp(cmd, "check"))
		return img_check(argc, argv);
	if (!strcmp(cmd, "convert"))
		return img_convert(argc, argv);
	fprintf(stderr, "softvm img: unknown command '%s' (create, info, check, convert)\n", cmd);
	return 1;
}
