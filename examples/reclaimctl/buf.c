/* SPDX-License-Identifier: MIT */
/*
 * Output text. Written by hand rather than through json_t trees: jansson's
 * integers are signed (a uint64_t above 2^63 would not survive), its reals
 * print with 17 digits (0.059999999999999998 for 0.06 in a config), and a
 * 100-VM line would cost some 1,500 allocations.
 */
#include "ctl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
reserve(struct ctl_buf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->cap - b->len >= n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap - b->len < n) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -1;
		}
		cap *= 2;
	}
	char *data = realloc(b->data, cap);
	if (!data) {
		b->oom = 1;
		return -1;
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

void
ctl_buf_free(struct ctl_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}

void
ctl_put(struct ctl_buf *b, const char *s, size_t n)
{
	if (n == 0 || reserve(b, n) < 0)
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

void
ctl_puts(struct ctl_buf *b, const char *s)
{
	ctl_put(b, s, strlen(s));
}

void
ctl_putc(struct ctl_buf *b, char c)
{
	if (reserve(b, 1) < 0)
		return;
	b->data[b->len++] = c;
}

void
ctl_put_u64(struct ctl_buf *b, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	ctl_put(b, tmp + i, sizeof(tmp) - i);
}

void
ctl_put_limit(struct ctl_buf *b, uint64_t v)
{
	if (v == RECLAIM_UNLIMITED)
		ctl_puts(b, "\"unlimited\"");
	else
		ctl_put_u64(b, v);
}

void
ctl_put_double(struct ctl_buf *b, double v)
{
	char tmp[40];
	if (!isfinite(v)) {
		ctl_puts(b, "null");
		return;
	}
	if (v == 0 && signbit(v)) {
		/* "-0" would read back as the integer 0. */
		ctl_puts(b, "-0.0");
		return;
	}
	int n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	ctl_put(b, tmp, (size_t)n);
}

void
ctl_put_double_short(struct ctl_buf *b, double v)
{
	char tmp[40];
	int n = 0;
	if (!isfinite(v) || v == 0) {
		ctl_put_double(b, v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	ctl_put(b, tmp, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
utf8_length(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* No overlong forms, no surrogates, nothing above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static void
put_escaped(struct ctl_buf *b, const char *str, size_t n, int json)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		if (json && (c == '"' || c == '\\')) {
			char esc[2] = {'\\', (char)c};
			ctl_put(b, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			ctl_put(b, esc, 6);
			i++;
		} else {
			size_t len = utf8_length(s + i, n - i);
			if (len == 0) {
				ctl_puts(b, "\xef\xbf\xbd");
				i++;
			} else {
				ctl_put(b, str + i, len);
				i += len;
			}
		}
	}
}

void
ctl_put_string(struct ctl_buf *b, const char *s, size_t n)
{
	ctl_putc(b, '"');
	put_escaped(b, s, n, 1);
	ctl_putc(b, '"');
}

void
ctl_put_text(struct ctl_buf *b, const char *s, size_t n)
{
	put_escaped(b, s, n, 0);
}

void
ctl_put_human_bytes(struct ctl_buf *b, uint64_t v)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	char tmp[32];
	int n;

	if (v < 1024) {
		n = snprintf(tmp, sizeof(tmp), "%u B", (unsigned)v);
	} else {
		double x = (double)v / 1024.0;
		size_t u = 0;
		while (x >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
			x /= 1024.0;
			u++;
		}
		n = snprintf(tmp, sizeof(tmp), "%.2f %s", x, units[u]);
	}
	ctl_put(b, tmp, (size_t)n);
}
