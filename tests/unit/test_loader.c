// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Why a load failed, from libbpf's messages as its print callback gets them
 * (libbpf 1.1's wording, as seen on Debian 12's 6.1 and in a container
 * without /boot): one line that names what is missing, no root, no kernel.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "loader.h"

static void explain(const char *const *msgs, int ret, char *err, size_t len)
{
	tracer_reset_libbpf_notes();
	for (; *msgs; msgs++)
		tracer_note_libbpf(*msgs);
	/* what the notes explain (loadmsg.c); the rest asks the kernel's BTF */
	assert_true(tracer_explain_notes(ret, err, len));
}

/* A kfunc the kernel lacks: libbpf stops before the kernel sees anything. */
static void test_missing_kfunc(void **state)
{
	static const char *const msgs[] = {
		"libbpf: extern (func ksym) 'bpf_rdonly_cast': not found in kernel or module BTFs\n",
		"libbpf: failed to load object 'tcpfsm_bpf'\n",
		"libbpf: failed to load BPF skeleton 'tcpfsm_bpf': -22\n",
		NULL,
	};
	char err[256];

	explain(msgs, -EINVAL, err, sizeof(err));
	assert_string_equal(err, "this kernel lacks what the BPF object needs (libbpf: "
			    "extern (func ksym) 'bpf_rdonly_cast': not found in kernel "
			    "or module BTFs)");
}

/* A kconfig extern without /boot/config-* or /proc/config.gz. */
static void test_missing_kconfig(void **state)
{
	static const char *const msgs[] = {
		"libbpf: failed to open system Kconfig\n",
		"libbpf: failed to load object 'tcpfsm_bpf'\n",
		NULL,
	};
	char err[256];

	explain(msgs, -EINVAL, err, sizeof(err));
	assert_non_null(strstr(err, "lacks what the BPF object needs (libbpf: "
				    "failed to open system Kconfig)"));
	assert_null(strstr(err, "verifier"));
}

/* The verifier refused a program: its name and the log's last line. */
static void test_verifier_refused(void **state)
{
	static const char *const msgs[] = {
		"libbpf: prog 'handle_set_state': BPF program load failed: Invalid argument\n",
		"libbpf: prog 'handle_set_state': -- BEGIN PROG LOAD LOG --\n"
		"reg type unsupported for arg#0 function handle_set_state#5\n"
		"0: R1=ctx(off=0,imm=0) R10=fp0\n"
		"; int BPF_PROG(handle_set_state, struct sock *sk, int oldstate, int newstate)\n"
		"0: (79) r6 = *(u64 *)(r1 +0)\n"
		"unknown func bpf_get_socket_cookie#46\n"
		"-- END PROG LOAD LOG --\n",
		"libbpf: failed to load program 'handle_set_state'\n",
		NULL,
	};
	char err[256];

	explain(msgs, -EINVAL, err, sizeof(err));
	assert_string_equal(err, "the kernel's verifier refused program handle_set_state: "
			    "unknown func bpf_get_socket_cookie#46 (run with -v for "
			    "its log; tcpfsm needs Linux 5.12 or later)");
}

/* One load's notes do not explain the next. */
static void test_reset(void **state)
{
	static const char *const first[] = {
		"libbpf: extern (func ksym) 'x': not found in kernel or module BTFs\n",
		NULL,
	};
	static const char *const second[] = {
		"libbpf: prog 'handle_timer_start': BPF program load failed: Permission denied\n",
		NULL,
	};
	char err[256];

	explain(first, -ESRCH, err, sizeof(err));
	explain(second, -EACCES, err, sizeof(err));
	assert_string_equal(err, "the kernel's verifier refused program handle_timer_start: "
			    "Permission denied (run with -v for its log; tcpfsm needs "
			    "Linux 5.12 or later)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_missing_kfunc),
		cmocka_unit_test(test_missing_kconfig),
		cmocka_unit_test(test_verifier_refused),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
