/*
 * softvm command line: `softvm run [options]` boots a VM; `softvm --help` lists the commands.
 * Each subcommand is its own file (run.c ...); this one only dispatches.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: softvm <command> [options]\n\n"
		   "commands:\n"
		   "  run      boot a virtual machine (with no options: the default Debian guest)\n"
		   "  img      create, inspect, check and convert disk images (raw, qcow2)\n"
		   "\n"
		   "softvm <command> --help describes a command's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		/* `softvm` alone boots the default guest, like `softvm run`. */
		return cli_run(argc, argv);
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cli_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "img"))
		return cli_img(argc - 1, argv + 1);
	fprintf(stderr, "softvm: unknown command '%s' (try softvm --help)\n", argv[1]);
	return 2;
}
