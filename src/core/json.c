// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <string.h>
#include "fmt.h"
#include "json.h"

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
	j->first[0] = true;
}

static void sep(struct json *j)
{
	if (!j->first[j->depth])
		putc_unlocked(',', j->out);
	j->first[j->depth] = false;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void json_write_string(FILE *out, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;

	putc_unlocked('"', out);
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		char esc[6];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++; /* plain ASCII: written with its run */
			continue;
		}
		if (c >= 0x80 && (len = utf8_len(s + i, n - i)) != 0) {
			i += len;
			continue;
		}
		fwrite_unlocked(s + run, 1, i - run, out);
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = c;
			fwrite_unlocked(esc, 1, 2, out);
		} else if (c == '\n') {
			fwrite_unlocked("\\n", 1, 2, out);
		} else if (c == '\t') {
			fwrite_unlocked("\\t", 1, 2, out);
		} else if (c == '\r') {
			fwrite_unlocked("\\r", 1, 2, out);
		} else {
			/* control bytes, DEL, and bytes that are not UTF-8 */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			fwrite_unlocked(esc, 1, 6, out);
		}
		run = ++i;
	}
	fwrite_unlocked(s + run, 1, n - run, out);
	putc_unlocked('"', out);
}

void json_key(struct json *j, const char *key)
{
	sep(j);
	if (key) {
		/* keys are ours: plain ASCII, no escaping needed */
		putc_unlocked('"', j->out);
		fputs_unlocked(key, j->out);
		fwrite_unlocked("\":", 1, 2, j->out);
	}
}

void json_begin_object(struct json *j)
{
	if (j->depth > 0)
		sep(j);
	putc_unlocked('{', j->out);
	if (j->depth < 15)
		j->depth++;
	j->first[j->depth] = true;
}

void json_begin_object_key(struct json *j, const char *key)
{
	json_key(j, key);
	putc_unlocked('{', j->out);
	if (j->depth < 15)
		j->depth++;
	j->first[j->depth] = true;
}

void json_end_object(struct json *j)
{
	putc_unlocked('}', j->out);
	if (j->depth > 0)
		j->depth--;
}

void json_begin_array(struct json *j, const char *key)
{
	json_key(j, key);
	putc_unlocked('[', j->out);
	if (j->depth < 15)
		j->depth++;
	/* array elements: objects call sep() themselves */
	j->first[j->depth] = true;
}

void json_end_array(struct json *j)
{
	putc_unlocked(']', j->out);
	if (j->depth > 0)
		j->depth--;
}

void json_str(struct json *j, const char *key, const char *val)
{
	json_key(j, key);
	json_write_string(j->out, val, strlen(val));
}

void json_strn(struct json *j, const char *key, const char *val, size_t n)
{
	json_key(j, key);
	json_write_string(j->out, val, strnlen(val, n));
}

void json_u64(struct json *j, const char *key, uint64_t val)
{
	char buf[24];

	json_key(j, key);
	fwrite_unlocked(buf, 1, fmt_u64(buf, val) - buf, j->out);
}

void json_i64(struct json *j, const char *key, int64_t val)
{
	json_key(j, key);
	fprintf(j->out, "%lld", (long long)val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	json_key(j, key);
	fputs_unlocked(val ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	json_key(j, key);
	fputs_unlocked("null", j->out);
}

void json_end_line(struct json *j)
{
	putc_unlocked('\n', j->out);
	j->depth = 0;
	j->first[0] = true;
}
