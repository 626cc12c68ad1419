/* Subcommands of the softvm command line. Each returns the process exit status. */
#ifndef SOFTVM_CLI_H
#define SOFTVM_CLI_H
int cli_run(int argc, char **argv);
int cli_img(int argc, char **argv);
/* Parses sizes like 512M, 1G, 1048576 (bytes), 64K. Returns 0 on success. */
int parse_size(const char *s, unsigned long long *out);
#endif
