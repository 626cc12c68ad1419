/*
 * `softvm run`: builds a pc_config from the options, boots the VM with the serial console on the
 * terminal (raw mode; Ctrl-A x quits, Ctrl-A h lists the keys) or in a file, and exits with the
 * guest's status (0 for a power-off).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "block/drive.h"
#include "boot/multiboot.h"
#include "cli/cli.h"
#include "machine/pc.h"
#include "net/net.h"
#include "virtio/console.h"

#define DEFAULT_APPEND "console=ttyS0 earlyprintk=ttyS0 panic=-1 quiet"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: softvm run [options]\n\n"
		"Boots a virtual machine. With no --kernel, boots the default guest built by\n"
		"scripts/guest-image.sh (Debian's kernel and a busybox initramfs, in guest/).\n\n"
		"options:\n"
		"  -k, --kernel FILE      Linux bzImage or Multiboot kernel to boot (a Multiboot\n"
		"                         header in the first 8 KiB selects Multiboot)\n"
		"  -i, --initrd FILE      initial ramdisk; for a Multiboot kernel, the modules:\n"
		"                         FILE[ ARGS][,FILE[ ARGS]...] (each module's string is\n"
		"                         its entry; the kernel's command line starts with its path)\n"
		"  -a, --append TEXT      kernel command line (default: \"%s\")\n"
		"  -m, --memory SIZE      guest RAM, e.g. 512M or 2G (default 512M)\n"
		"      --console WHERE    serial console: stdio (default), file:PATH, socket:PATH\n"
		"                         (a Unix socket softvm listens on; one tool at a time\n"
		"                         attaches, e.g. socat - UNIX-CONNECT:PATH), or none\n"
		"      --device virtio-console,socket=PATH|file=PATH[,cols=N,rows=N]\n"
		"                         a virtio console port: the guest's /dev/hvc0 on a Unix\n"
		"                         socket (or its output in a file)\n"
		"      --device virtserialport,name=NAME,socket=PATH|file=PATH\n"
		"                         a named port on the same virtio-console device (the guest's\n"
		"                         /dev/vport*p1, ...; /dev/virtio-ports/NAME with udev), e.g.\n"
		"                         name=org.softvm.agent.0; up to 6 named ports\n"
		"      --debug-exit       QEMU isa-debug-exit device: writing v to port 0xf4 exits\n"
		"                         softvm with status (v << 1) | 1\n"
		"      --no-host-unpack   let the kernel decompress itself instead of unpacking on the host\n"
		"      --trace FILE       write a trace line per guest instruction (very slow)\n"
		"      --net user[,mac=M][,hostfwd=[tcp|udp]:[HADDR]:HPORT-[GADDR]:GPORT]...\n"
		"                         a virtio-net NIC with user-mode networking (NAT; DHCP gives\n"
		"                         10.0.2.15, gateway 10.0.2.2 is the host, DNS 10.0.2.3);\n"
		"                         hostfwd forwards a host port into the guest, e.g.\n"
		"                         hostfwd=tcp:127.0.0.1:2222-:22; repeat --net for more NICs\n"
		"      --device virtio-rng\n"
		"                         a virtio entropy device (virtio-rng-pci): the guest's\n"
		"                         /dev/hwrng reads the host's getrandom()\n"
		"      --drive file=PATH[,format=raw|qcow2][,readonly=on][,serial=S]\n"
		"                         a virtio-blk disk (the guest's /dev/vda, vdb, ... in order);\n"
		"                         the format is probed when not given; repeat for more disks\n"
		"  -h, --help             this help\n\n"
		"On the terminal console, Ctrl-A x quits and Ctrl-A h lists the keys.\n",
		DEFAULT_APPEND);
}

int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	case 0: break;
	default: return -1;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || (shift && v > (ULLONG_MAX >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

static struct termios saved_tio;
static int tio_saved;

static void restore_terminal(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void raw_terminal(void)
{
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) < 0)
		return;
	tio_saved = 1;
	atexit(restore_terminal);
	struct termios t = saved_tio;
	cfmakeraw(&t);
	t.c_oflag |= OPOST | ONLCR; /* keep our own messages readable */
	tcsetattr(STDIN_FILENO, TCSANOW, &t);
}

/* The default guest lives in guest/ beside the source tree the binary was built in, or where
 * SOFTVM_GUEST_DIR points. */
static const char *default_guest_dir(void)
{
	const char *d = getenv("SOFTVM_GUEST_DIR");
	return d && *d ? d : "guest";
}

enum { OPT_DEVICE = 0x100 };

int cli_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, 0, 'k' },
		{ "initrd", required_argument, 0, 'i' },
		{ "append", required_argument, 0, 'a' },
		{ "memory", required_argument, 0, 'm' },
		{ "console", required_argument, 0, 'c' },
		{ "debug-exit", no_argument, 0, 'd' },
		{ "no-host-unpack", no_argument, 0, 'u' },
		{ "trace", required_argument, 0, 't' },
		{ "net", required_argument, 0, 'n' },
		{ "drive", required_argument, 0, 'D' },
		{ "device", required_argument, 0, OPT_DEVICE },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	struct pc_config cfg = {
		.ram_size = 512ull << 20,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.console_escapes = true,
	};
	const char *console = "stdio", *trace = NULL;
	static char kpath[PATH_MAX], ipath[PATH_MAX];
	static struct net_config nics[PC_MAX_NICS];
	static struct drive_config drives[PC_MAX_DRIVES];
	static struct virtio_console_port_config vcon[VIRTIO_CONSOLE_MAX_PORTS];
	int ch;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+:k:i:a:m:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': cfg.kernel = optarg; break;
		case 'i': cfg.initrd = optarg; break;
		case 'a': cfg.append = optarg; break;
		case 'm': {
			unsigned long long v;
			if (parse_size(optarg, &v) < 0 || v < (16ull << 20) || v > (1ull << 40)) {
				fprintf(stderr, "softvm run: --memory %s: expected a size from 16M to 1T, like 512M or 2G\n", optarg);
				return 2;
			}
			cfg.ram_size = v;
			break;
		}
		case 'c': console = optarg; break;
		case 'd': cfg.debug_exit = true; break;
		case 'u': cfg.no_host_unpack = true; break;
		case 't': trace = optarg; break;
		case 'D': {
			char derr[256];
			if (cfg.ndrives == PC_MAX_DRIVES) {
				fprintf(stderr, "softvm run: --drive %s: at most %d drives\n", optarg, PC_MAX_DRIVES);
				return 2;
			}
			if (drive_parse(optarg, &drives[cfg.ndrives], derr, sizeof(derr)) < 0) {
				fprintf(stderr, "softvm run: --drive %s: %s\n", optarg, derr);
				return 2;
			}
			cfg.drives = drives;
			cfg.ndrives++;
			break;
		}
		case 'n': {
			char nerr[256];
			if (cfg.nnics == PC_MAX_NICS) {
				fprintf(stderr, "softvm run: --net %s: at most %d NICs\n", optarg, PC_MAX_NICS);
				return 2;
			}
			if (net_parse_option(optarg, cfg.nnics, &nics[cfg.nnics], nerr, sizeof(nerr)) < 0) {
				fprintf(stderr, "softvm run: --net %s: %s\n", optarg, nerr);
				return 2;
			}
			cfg.nics = nics;
			cfg.nnics++;
			break;
		}
		case OPT_DEVICE: {
			/* virtio-console and virtserialport ports; other devices below */
			static struct virtio_console_port_config port;
			char verr[256];
			int v = virtio_console_parse(optarg, &port, verr, sizeof(verr));
			if (v == 0 && cfg.nvcon_ports == VIRTIO_CONSOLE_MAX_PORTS) {
				snprintf(verr, sizeof(verr), "at most %d virtio-console ports", VIRTIO_CONSOLE_MAX_PORTS);
				v = -1;
			}
			if (v < 0) {
				fprintf(stderr, "softvm run: --device %s: %s\n", optarg, verr);
				return 2;
			}
			if (v == 0) {
				vcon[cfg.nvcon_ports++] = port;
				cfg.vcon_ports = vcon;
				break;
			}
		}
			if (!strcmp(optarg, "virtio-rng") || !strcmp(optarg, "virtio-rng-pci")) {
				cfg.virtio_rng = true;
				break;
			}
			fprintf(stderr, "softvm run: --device %s: unknown device (known: virtio-rng, virtio-console, virtserialport)\n",
				optarg);
			return 2;
		case 'h': run_usage(stdout); return 0;
		case ':':
			fprintf(stderr, "softvm run: option '%s' needs a value (try softvm run --help)\n", argv[optind - 1]);
			return 2;
		default: {
			const char *arg = argv[optind - 1];
			if (optopt && !strncmp(arg, "--", 2) && strchr(arg, '='))
				fprintf(stderr, "softvm run: option '%.*s' takes no value (try softvm run --help)\n",
					(int)(strchr(arg, '=') - arg), arg);
			else
				fprintf(stderr, "softvm run: unknown option '%s' (try softvm run --help)\n", arg);
			return 2;
		}
		}
	}
	if (optind < argc) {
		fprintf(stderr, "softvm run: unexpected argument '%s' (try softvm run --help)\n", argv[optind]);
		return 2;
	}
	if (!cfg.kernel) {
		const char *dir = default_guest_dir();
		snprintf(kpath, sizeof(kpath), "%s/vmlinuz", dir);
		snprintf(ipath, sizeof(ipath), "%s/initrd.img", dir);
		if (access(kpath, R_OK) != 0) {
			fprintf(stderr, "softvm run: no default guest at %s (build it with scripts/guest-image.sh, or pass --kernel)\n",
				kpath);
			return 2;
		}
		cfg.kernel = kpath;
		if (!cfg.initrd)
			cfg.initrd = ipath;
	}
	if (access(cfg.kernel, R_OK) != 0) {
		fprintf(stderr, "softvm run: --kernel %s: %s\n", cfg.kernel, strerror(errno));
		return 2;
	}
	/* A Multiboot kernel gets no Linux console options, and its --initrd is a module list
	 * whose files the loader checks one by one. */
	bool multiboot = multiboot_detect(cfg.kernel);
	if (!cfg.append && !multiboot)
		cfg.append = DEFAULT_APPEND;
	if (cfg.initrd && !multiboot && access(cfg.initrd, R_OK) != 0) {
		fprintf(stderr, "softvm run: --initrd %s: %s\n", cfg.initrd, strerror(errno));
		return 2;
	}

	bool terminal = false;
	if (!strcmp(console, "stdio")) {
		terminal = isatty(STDIN_FILENO);
	} else if (!strncmp(console, "file:", 5)) {
		int fd = open(console + 5, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "softvm run: --console %s: %s\n", console, strerror(errno));
			return 2;
		}
		cfg.console_out = fd;
		cfg.console_in = -1;
	} else if (!strncmp(console, "socket:", 7) && console[7]) {
		cfg.console_socket = console + 7; /* pc_create listens there */
		cfg.console_out = -1;
		cfg.console_in = -1;
		cfg.console_escapes = false;
	} else if (!strcmp(console, "none")) {
		cfg.console_out = -1;
		cfg.console_in = -1;
	} else {
		fprintf(stderr, "softvm run: --console %s: expected stdio, file:PATH, socket:PATH or none\n", console);
		return 2;
	}
	if (trace) {
		cfg.trace = fopen(trace, "w");
		if (!cfg.trace) {
			fprintf(stderr, "softvm run: --trace %s: %s\n", trace, strerror(errno));
			return 2;
		}
	}

	char err[512];
	struct pc *pc = pc_create(&cfg, err, sizeof(err));
	if (!pc) {
		fprintf(stderr, "softvm run: %s\n", err);
		return 1;
	}
	if (terminal)
		raw_terminal();
	int status = pc_run(pc);
	pc_destroy(pc);
	if (cfg.trace)
		fclose(cfg.trace);
	return status;
}
