/*
 * --drive parsing and opening (see drive.h).
 *
 * The lock is an open file description lock (F_OFD_SETLK) over the whole image file, taken on a
 * descriptor of its own: exclusive for a writable drive, shared for a read-only one, so any
 * number of VMs may share a read-only image but a writer excludes everyone else. QEMU takes
 * OFD locks on single bytes of the same file, so a running QEMU and softvm exclude each other too.
 */
#define _GNU_SOURCE
#include "block/drive.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Splits off the next "key[=value]" item of *p (",," is a literal comma) into buf. Returns false
 * at the end. */
static bool next_item(const char **p, char *buf, size_t len, bool *too_long)
{
	const char *s = *p;
	if (!*s)
		return false;
	size_t n = 0;
	*too_long = false;
	for (; *s; s++) {
		if (*s == ',') {
			if (s[1] != ',')
				break;
			s++; /* ",," */
		}
		if (n + 1 < len)
			buf[n++] = *s;
		else
			*too_long = true;
	}
	buf[n] = 0;
	*p = *s ? s + 1 : s;
	return true;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false")) {
		*out = false;
		return 0;
	}
	return -1;
}

int drive_parse(const char *spec, struct drive_config *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->format = BLK_FMT_AUTO;
	bool seen_file = false, seen_format = false, seen_ro = false, seen_serial = false, seen_if = false;
	char item[sizeof(d->path) + 16];
	bool too_long;
	const char *p = spec;
	while (next_item(&p, item, sizeof(item), &too_long)) {
		char *eq = strchr(item, '=');
		const char *key = item, *val = eq ? eq + 1 : NULL;
		if (eq)
			*eq = 0;
		bool *seen;
		if (!strcmp(key, "file"))
			seen = &seen_file;
		else if (!strcmp(key, "format"))
			seen = &seen_format;
		else if (!strcmp(key, "readonly"))
			seen = &seen_ro;
		else if (!strcmp(key, "serial"))
			seen = &seen_serial;
		else if (!strcmp(key, "if"))
			seen = &seen_if;
		else {
			snprintf(err, errlen, "unknown key '%s' (expected file, format, readonly, serial or if)", key);
			return -EINVAL;
		}
		if (*seen) {
			snprintf(err, errlen, "%s= given twice", key);
			return -EINVAL;
		}
		*seen = true;
		if (!val && strcmp(key, "readonly")) {
			snprintf(err, errlen, "%s needs a value (%s=...)", key, key);
			return -EINVAL;
		}
		if (!strcmp(key, "file")) {
			if (!*val || too_long) {
				snprintf(err, errlen, "file=: %s", *val ? "path too long" : "empty path");
				return -EINVAL;
			}
			snprintf(d->path, sizeof(d->path), "%s", val);
		} else if (!strcmp(key, "format")) {
			d->format = blk_format_from_name(val);
			if (d->format != BLK_FMT_RAW && d->format != BLK_FMT_QCOW2) {
				snprintf(err, errlen, "format=%s: expected raw or qcow2", val);
				return -EINVAL;
			}
		} else if (!strcmp(key, "readonly")) {
			/* A bare "readonly" means on, as in QEMU. */
			if (val && parse_bool(val, &d->read_only) < 0) {
				snprintf(err, errlen, "readonly=%s: expected on or off", val);
				return -EINVAL;
			}
			if (!val)
				d->read_only = true;
		} else if (!strcmp(key, "serial")) {
			if (strlen(val) > DRIVE_SERIAL_MAX) {
				snprintf(err, errlen, "serial=%s: at most %d characters", val, DRIVE_SERIAL_MAX);
				return -EINVAL;
			}
			snprintf(d->serial, sizeof(d->serial), "%s", val);
		} else if (strcmp(val, "virtio")) {
			snprintf(err, errlen, "if=%s: only if=virtio is supported", val);
			return -EINVAL;
		}
	}
	if (!seen_file) {
		snprintf(err, errlen, "no file= given (e.g. --drive file=disk.qcow2)");
		return -EINVAL;
	}
	return 0;
}

int drive_open(const struct drive_config *cfg, struct drive *d, char *err, size_t errlen)
{
	d->blk = NULL;
	d->probed_raw = false;
	/* A write lock needs a descriptor open for writing. */
	d->lock_fd = open(cfg->path, (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (d->lock_fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", cfg->path, strerror(e));
		return -e;
	}
	struct flock fl = { .l_type = cfg->read_only ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(d->lock_fd, F_OFD_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EAGAIN || e == EACCES)
			snprintf(err, errlen, "%s: image is in use (locked by another VM or another --drive%s)", cfg->path,
				 cfg->read_only ? " that writes it" : "");
		else
			snprintf(err, errlen, "%s: cannot lock the image: %s", cfg->path, strerror(e));
		drive_unlock(d);
		return -e;
	}
	int r = blk_open(&d->blk, cfg->path, cfg->format, cfg->read_only ? BLK_O_RDONLY : 0, err, errlen);
	if (r < 0) {
		drive_unlock(d);
		return r;
	}
	d->probed_raw = cfg->format == BLK_FMT_AUTO && !strcmp(blk_format_name(d->blk), "raw");
	return 0;
}

void drive_unlock(struct drive *d)
{
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}
