/*
 * A guest's serial console as a test or benchmark sees it: runs a VM command (softvm or QEMU) with
 * its standard input and output on pipes, keeps everything it printed, waits for strings with a
 * timeout, types text and collects the exit status. No terminal is involved, so no Ctrl-A escapes.
 */
#ifndef SOFTVM_TESTS_GUEST_SESSION_H
#define SOFTVM_TESTS_GUEST_SESSION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct session {
	pid_t pid;
	int in;          /* write end: what the guest's console receives */
	int out;         /* read end: what its console (and the VM's stderr) prints */
	char *log;       /* everything read so far, NUL-terminated */
	size_t len, cap;
	size_t mark;     /* where the next session_expect() starts looking */
	uint64_t start_ns;
	bool eof;        /* the VM closed its output */
	bool exited;
	int status;      /* waitpid() status once exited */
	bool dead;       /* a session_run() command went unanswered */
	unsigned seq;    /* session_run() marker number */
};

uint64_t session_now_ns(void);
/* Starts argv[0] (searched in PATH). Returns 0 or -errno. */
int session_start(struct session *s, char *const argv[]);
/* Reads until needle appears at or after the mark, then moves the mark past it. Returns the offset
 * of the match in s->log, or -1 after timeout_s seconds or at end of output. */
long session_expect(struct session *s, const char *needle, double timeout_s);
/* Types text on the console. Returns 0 or -errno. */
int session_send(struct session *s, const char *text);
/* Waits for the VM to exit, reading its output meanwhile. Returns true with s->status set, or
 * false after timeout_s seconds. */
bool session_wait_exit(struct session *s, double timeout_s);
/* Kills the VM if still running and frees everything. */
void session_end(struct session *s);
/* Prints the last n bytes of the console log to stdout, each line prefixed with "  | ". */
void session_print_tail(const struct session *s, size_t n);
/*
 * Runs cmd in the guest's shell (whose prompt ends in prompt, e.g. "# ") and returns what it
 * printed, carriage returns removed (malloc'd), with its exit status in *status (may be NULL);
 * NULL when the shell does not answer within timeout_s. The output is framed by markers typed as
 * "@N""@", which the terminal echoes as typed but the shell prints as "@N@", so the echo of the
 * command line is never taken for output. After one unanswered command the guest counts as dead
 * and later calls fail at once (s->dead).
 */
char *session_run(struct session *s, const char *cmd, int *status, double timeout_s, const char *prompt);
#endif
