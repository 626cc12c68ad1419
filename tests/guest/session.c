/* See session.h. */
#define _GNU_SOURCE
#include "tests/guest/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

uint64_t session_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int session_start(struct session *s, char *const argv[])
{
	int to[2], from[2];
	memset(s, 0, sizeof(*s));
	s->pid = -1;
	s->in = s->out = -1;
	if (pipe2(to, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(from, O_CLOEXEC) < 0) {
		int e = errno;
		close(to[0]);
		close(to[1]);
		return -e;
	}
	/* A VM that exits while we type must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	s->start_ns = session_now_ns();
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(to[0]); close(to[1]); close(from[0]); close(from[1]);
		return -e;
	}
	if (pid == 0) {
		dup2(to[0], STDIN_FILENO);
		dup2(from[1], STDOUT_FILENO);
		dup2(from[1], STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "session: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	s->pid = pid;
	s->in = to[1];
	s->out = from[0];
	s->cap = 1 << 16;
	s->log = malloc(s->cap);
	if (!s->log)
		return -ENOMEM;
	s->log[0] = 0;
	return 0;
}

/* Waits up to deadline for output and appends it to the log. Returns false at EOF or timeout. */
static bool read_some(struct session *s, uint64_t deadline)
{
	if (s->eof)
		return false;
	uint64_t now = session_now_ns();
	if (now >= deadline)
		return false;
	uint64_t ms = (deadline - now + 999999) / 1000000;
	struct pollfd pfd = { .fd = s->out, .events = POLLIN };
	int r = poll(&pfd, 1, ms > 1000 ? 1000 : (int)ms);
	if (r < 0 && errno != EINTR)
		return false;
	if (r <= 0)
		return true;
	if (s->len + 4096 + 1 > s->cap) {
		char *p = realloc(s->log, s->cap * 2);
		if (!p)
			return false;
		s->log = p;
		s->cap *= 2;
	}
	ssize_t n = read(s->out, s->log + s->len, 4096);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0) {
		s->eof = true;
		return false;
	}
	s->len += (size_t)n;
	s->log[s->len] = 0;
	return true;
}

long session_expect(struct session *s, const char *needle, double timeout_s)
{
	uint64_t deadline = session_now_ns() + (uint64_t)(timeout_s * 1e9);
	size_t nlen = strlen(needle), from = s->mark;
	for (;;) {
		/* The console may print NUL bytes: search with memmem, not strstr. */
		char *p = memmem(s->log + from, s->len - from, needle, nlen);
		if (p) {
			s->mark = (size_t)(p - s->log) + nlen;
			return p - s->log;
		}
		if (s->len - s->mark >= nlen)
			from = s->len - nlen + 1;
		if (!read_some(s, deadline) && (s->eof || session_now_ns() >= deadline))
			return -1;
	}
}

int session_send(struct session *s, const char *text)
{
	size_t len = strlen(text);
	while (len) {
		ssize_t n = write(s->in, text, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		text += n;
		len -= (size_t)n;
	}
	return 0;
}

bool session_wait_exit(struct session *s, double timeout_s)
{
	uint64_t deadline = session_now_ns() + (uint64_t)(timeout_s * 1e9);
	while (!s->exited) {
		pid_t r = waitpid(s->pid, &s->status, WNOHANG);
		if (r == s->pid) {
			s->exited = true;
			break;
		}
		if (session_now_ns() >= deadline)
			return false;
		if (s->eof) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		} else {
			read_some(s, deadline);
		}
	}
	/* Whatever the VM printed last (its exit message) belongs in the log too. */
	for (;;) {
		size_t before = s->len;
		if (!read_some(s, session_now_ns() + 100 * 1000 * 1000) || s->len == before)
			break;
	}
	return true;
}

void session_end(struct session *s)
{
	if (s->pid > 0 && !s->exited) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, &s->status, 0);
		s->exited = true;
	}
	if (s->in >= 0)
		close(s->in);
	if (s->out >= 0)
		close(s->out);
	s->in = s->out = -1;
	free(s->log);
	s->log = NULL;
	s->len = s->cap = s->mark = 0;
}

void session_print_tail(const struct session *s, size_t n)
{
	size_t from = s->len > n ? s->len - n : 0;
	/* Start at a line boundary and print printable text only (escape sequences, NULs, \r out). */
	while (from > 0 && from < s->len && s->log[from - 1] != '\n')
		from++;
	fputs("  | ", stdout);
	for (size_t k = from; k < s->len; k++) {
		unsigned char ch = (unsigned char)s->log[k];
		if (ch == '\n')
			fputs(k + 1 < s->len ? "\n  | " : "", stdout);
		else if (ch == '\t' || (ch >= 0x20 && ch < 0x7f))
			putchar(ch);
	}
	putchar('\n');
	fflush(stdout);
}

char *session_run(struct session *s, const char *cmd, int *status, double timeout_s, const char *prompt)
{
	char line[2048], mark[32];
	if (s->dead)
		return NULL;
	s->seq++;
	int n = snprintf(line, sizeof(line), "echo @%u\"\"@; %s; echo @%u\"\"@$?\n", s->seq, cmd, s->seq);
	if (n < 0 || (size_t)n >= sizeof(line))
		return NULL;
	snprintf(mark, sizeof(mark), "@%u@", s->seq);
	if (session_send(s, line) < 0)
		return NULL;
	s->dead = true;
	if (session_expect(s, mark, timeout_s) < 0 || session_expect(s, "\n", timeout_s) < 0)
		return NULL;
	size_t begin = s->mark;
	long end = session_expect(s, mark, timeout_s);
	if (end < 0 || session_expect(s, "\n", timeout_s) < 0 || session_expect(s, prompt, timeout_s) < 0)
		return NULL;
	s->dead = false;
	if (status)
		*status = atoi(s->log + end + strlen(mark));
	char *t = malloc((size_t)end - begin + 1), *p = t;
	if (!t)
		return NULL;
	for (size_t k = begin; k < (size_t)end; k++)
		if (s->log[k] != '\r')
			*p++ = s->log[k];
	*p = 0;
	return t;
}
