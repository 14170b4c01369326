/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * A tiny streaming JSON writer: one object per line, every control byte
 * and every byte that is not valid UTF-8 escaped, so the output stays
 * parseable whatever a process name holds.
 */
#ifndef TCPFSM_JSON_H
#define TCPFSM_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *out;
	int depth;
	bool first[16];	/* per nesting level: no comma before next member */
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j);	/* also as an array element */
/* "key":{ inside an object */
void json_begin_object_key(struct json *j, const char *key);
void json_end_object(struct json *j);
void json_begin_array(struct json *j, const char *key); /* key NULL in arrays */
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *key, const char *val);
void json_strn(struct json *j, const char *key, const char *val, size_t n);
void json_u64(struct json *j, const char *key, uint64_t val);
void json_i64(struct json *j, const char *key, int64_t val);
void json_bool(struct json *j, const char *key, bool val);
void json_null(struct json *j, const char *key);
/* End of a top-level object: newline. */
void json_end_line(struct json *j);

/* Write s (n bytes) as a JSON string literal, quotes included. */
void json_write_string(FILE *out, const char *s, size_t n);

#endif
