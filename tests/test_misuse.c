/* SPDX-License-Identifier: MIT */
/*
 * What embedders get wrong, and what the library does about it:
 *
 * - two threads on one policy, or an adapter callback that calls back into
 *   the policy being applied: the second call returns RECLAIM_E_BUSY, its
 *   outputs untouched, and the policy goes on exactly as if it had never
 *   been made (checked against a twin policy that never saw it);
 * - a clock that jumps to near 2^64 for one reading, or runs backwards:
 *   the next sane ticks balloon as before, nothing stays wedged;
 * - an id reused by a VM of another size is a new VM with no history,
 *   unless the caller flags the change as a resize (memory hot-plug).
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fake_world.h"

#define GIB FW_GIB
#define MIB FW_MIB
#define CANARY 0xA5

/* A 64 GiB host at 3 % free (soft), four 16 GiB guests with free memory
 * to give: ballooning takes about ten ticks. */
static void
pressed_host(struct fw_world *w)
{
	fw_init(w, 64 * GIB, 0, FW_NS, 11);
	for (uint64_t id = 1; id <= 4; id++) {
		struct fw_vm *v = fw_add_vm(w, id, 16 * GIB, 8 * GIB);

		v->touched = 15 * GIB;
		v->inflate_rate = 32.0 * MIB;
	}
	fw_set_free(w, 64 * GIB * 3 / 100);
}

static bool
untouched(const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		if (b[i] != CANARY)
			return false;
	return true;
}

/* ---- one policy, two threads ---- */

struct meeting {
	struct fw_world w; /* first: the fake world's callbacks take this pointer */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int inside, done;  /* the applying thread is in a callback; the other is done */
	struct reclaim_policy *p;
	struct fw_tick t;  /* what the other thread tries to decide */
	int rc[8];
	bool outputs_untouched;
};

/* The first callback of the apply waits inside, policy taken, until the
 * other thread has tried everything. */
static int
waiting_set_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	struct meeting *m = ud;

	pthread_mutex_lock(&m->lock);
	if (!m->inside) {
		m->inside = 1;
		pthread_cond_broadcast(&m->cond);
		while (!m->done)
			pthread_cond_wait(&m->cond, &m->lock);
	}
	pthread_mutex_unlock(&m->lock);
	return fw_set_balloon(&m->w, id, bytes);
}

static void *
intruder(void *arg)
{
	struct meeting *m = arg;
	struct fw_tick *t = &m->t;
	struct reclaim_adapter ad = fw_adapter();
	struct reclaim_config cfg = default_config();
	struct reclaim_error err;
	struct reclaim_policy *copy = NULL;
	static _Alignas(64) unsigned char mem[1 << 20];

	pthread_mutex_lock(&m->lock);
	while (!m->inside)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);

	t->n = fw_snapshot(&m->w, &t->host, t->vms);
	t->host.now_ns += FW_NS;
	memset(&t->summary, CANARY, sizeof(t->summary));
	memset(t->d, CANARY, sizeof(t->d));
	memset(t->r, CANARY, sizeof(t->r));
	t->summary.struct_size = sizeof(t->summary);
	t->summary.decision_size = sizeof(t->d[0]);
	m->rc[0] = reclaim_decide(m->p, &t->host, t->vms, t->n, 0, &t->summary, t->d);
	m->rc[1] = reclaim_plan_admission(m->p, &t->host, t->vms, t->n, GIB, &t->summary, t->d);
	m->rc[2] = reclaim_apply(m->p, &ad, &m->w, t->d, t->n, t->r, sizeof(t->r[0]));
	cfg.idle_tax = 0.25;
	m->rc[3] = reclaim_policy_set_config(m->p, &cfg);
	memset(&err, CANARY, sizeof(err));
	err.struct_size = sizeof(err);
	m->rc[4] = reclaim_policy_last_error(m->p, &err);
	m->rc[5] = reclaim_policy_resize(&m->p, 64);
	m->rc[6] = reclaim_policy_copy(&copy, mem, sizeof(mem), m->p, 4);
	m->rc[7] = reclaim_policy_get_config(m->p, &cfg);
	/* cmocka asserts only on the main thread: record, check there */
	m->outputs_untouched = untouched((char *)&err + sizeof(err.struct_size),
					 sizeof(err) - sizeof(err.struct_size)) &&
			       !copy && cfg.idle_tax == 0.25;

	pthread_mutex_lock(&m->lock);
	m->done = 1;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

/* Snapshot and decide, without acting or letting time pass. */
static void
decide_only(struct fw_world *w, struct reclaim_policy *p, struct fw_tick *t)
{
	memset(t, 0, sizeof(*t));
	t->summary = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	t->n = fw_snapshot(w, &t->host, t->vms);
	t->decide_rc = reclaim_decide(p, &t->host, t->vms, t->n, 0, &t->summary, t->d);
}

static void
busy_while_another_thread_applies(void **state)
{
	static struct meeting m;
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *twin = policy_with(&cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w2;
	struct fw_tick a, b;
	pthread_t th;

	(void)state;
	memset(&m, 0, sizeof(m));
	pthread_mutex_init(&m.lock, NULL);
	pthread_cond_init(&m.cond, NULL);
	pressed_host(&m.w);
	w2 = m.w;
	m.p = policy_with(&cfg, 4);

	decide_only(&m.w, m.p, &a);
	assert_int_equal(a.decide_rc, RECLAIM_OK);
	assert_true(a.d[0].balloon_target_bytes > 0);
	ad.set_balloon = waiting_set_balloon;
	assert_int_equal(pthread_create(&th, NULL, intruder, &m), 0);
	fw_begin_apply(&m.w);
	assert_int_equal(reclaim_apply(m.p, &ad, &m, a.d, a.n, a.r, sizeof(a.r[0])), RECLAIM_OK);
	fw_advance(&m.w);
	assert_int_equal(pthread_join(th, NULL), 0);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(m.rc[i], RECLAIM_E_BUSY);
	assert_true(m.outputs_untouched);
	assert_true(untouched(&m.t.summary.state,
			      sizeof(m.t.summary) - offsetof(struct reclaim_summary, state)));
	assert_true(untouched(m.t.d, sizeof(m.t.d)));
	assert_true(untouched(m.t.r, sizeof(m.t.r)));

	/* The twin, which nobody disturbed, decides the same from here on. */
	ad = fw_adapter();
	fw_tick(&w2, twin, &ad, &b);
	for (int k = 0; k < 20; k++) {
		fw_tick(&m.w, m.p, &ad, &a);
		fw_tick(&w2, twin, &ad, &b);
		assert_int_equal(a.decide_rc, RECLAIM_OK);
		assert_memory_equal(&a.summary, &b.summary, sizeof(a.summary));
		assert_memory_equal(a.d, b.d, a.n * sizeof(a.d[0]));
	}
	reclaim_policy_destroy(m.p);
	reclaim_policy_destroy(twin);
	pthread_cond_destroy(&m.cond);
	pthread_mutex_destroy(&m.lock);
}

/* Threads racing on one policy, as a careless embedder would: every call
 * either works or says the policy is busy, and nothing breaks. */
#define RACERS 4
#define RACES 4000

struct racer {
	struct reclaim_policy *p;
	pthread_barrier_t *start;
	unsigned seed;
	unsigned ok, busy, other;
};

static int
quiet_op2(void *u, uint64_t id, uint64_t bytes)
{
	(void)u;
	return (id + bytes) % 5 == 0 ? -5 : 0;
}

static int
quiet_op1(void *u, uint64_t id)
{
	return quiet_op2(u, id, 1);
}

static void *
race(void *arg)
{
	struct racer *r = arg;
	struct reclaim_adapter ad = {.version = RECLAIM_ADAPTER_VERSION,
				     .set_balloon = quiet_op2,
				     .swap_out = quiet_op2,
				     .compress = quiet_op2,
				     .block = quiet_op1,
				     .unblock = quiet_op1};
	struct reclaim_vm_stats vms[16];
	struct reclaim_decision d[16];
	struct reclaim_apply_result res[16];
	struct reclaim_host host = RECLAIM_HOST_INIT;
	struct reclaim_rng rng;

	reclaim_rng_seed(&rng, r->seed);
	host.total_bytes = 256 * GIB;
	host.now_ns = FW_NS;
	pthread_barrier_wait(r->start);
	for (unsigned k = 0; k < RACES; k++) {
		struct reclaim_summary sum = RECLAIM_SUMMARY_INIT;
		size_t n = 1 + reclaim_rng_next(&rng) % 16;
		int rc;

		host.now_ns += FW_NS;
		host.free_bytes = reclaim_rng_next(&rng) % (host.total_bytes / 8);
		for (size_t i = 0; i < n; i++) {
			struct reclaim_vm_stats *v = &vms[i];

			*v = (struct reclaim_vm_stats)RECLAIM_VM_STATS_INIT;
			v->id = 1 + reclaim_rng_next(&rng) % 24; /* threads share ids */
			for (size_t j = 0; j < i; j++)
				if (vms[j].id == v->id)
					v->id += 100 * (i + 1);
			v->flags = RECLAIM_VM_BALLOON | RECLAIM_VM_GUEST_STATS;
			v->configured_bytes = 16 * GIB;
			v->consumed_bytes = 8 * GIB + reclaim_rng_next(&rng) % (8 * GIB);
			v->shares = 1000;
			v->guest_free_bytes = reclaim_rng_next(&rng) % (8 * GIB);
			v->guest_swap_free_bytes = 4 * GIB;
			v->stats_time_ns = host.now_ns;
		}
		memset(d, CANARY, sizeof(d));
		rc = reclaim_decide(r->p, &host, vms, n, 0, &sum, d);
		if (rc == RECLAIM_E_BUSY) {
			r->busy++;
			if (!untouched(d, sizeof(d)))
				r->other++;
			continue;
		}
		if (rc != RECLAIM_OK) {
			r->other++;
			continue;
		}
		r->ok++;
		rc = reclaim_apply(r->p, &ad, NULL, d, n, res, sizeof(res[0]));
		if (rc == RECLAIM_E_BUSY)
			r->busy++;
		else if (rc != RECLAIM_OK && rc != RECLAIM_E_ADAPTER)
			r->other++;
	}
	return NULL;
}

static void
threads_racing_on_one_policy(void **state)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 64);
	struct racer r[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t start;
	unsigned ok = 0, busy = 0;

	(void)state;
	assert_int_equal(pthread_barrier_init(&start, NULL, RACERS), 0);
	for (unsigned i = 0; i < RACERS; i++) {
		r[i] = (struct racer){.p = p, .start = &start, .seed = 77 + i};
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (unsigned i = 0; i < RACERS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(r[i].other, 0);
		ok += r[i].ok;
		busy += r[i].busy;
	}
	print_message("# %u calls worked, %u found the policy busy\n", ok, busy);
	assert_true(ok > 0);
	pthread_barrier_destroy(&start);
	reclaim_policy_destroy(p);
}

/* ---- an adapter that calls back into the policy it is applying ---- */

struct reentrant {
	struct fw_world w; /* first: the fake world's callbacks take this pointer */
	struct reclaim_policy *p;
	unsigned refused, accepted;
};

static void
call_back_in(struct reentrant *re)
{
	struct fw_tick t;
	struct reclaim_config cfg = default_config();
	int rc;

	memset(&t, 0, sizeof(t));
	t.summary = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	t.n = fw_snapshot(&re->w, &t.host, t.vms);
	t.host.now_ns += FW_NS / 2;
	t.host.free_bytes = 0; /* would block everyone */
	memset(t.d, CANARY, sizeof(t.d));
	rc = reclaim_decide(re->p, &t.host, t.vms, t.n, 0, &t.summary, t.d);
	if (rc == RECLAIM_E_BUSY && untouched(t.d, sizeof(t.d)))
		re->refused++;
	else
		re->accepted++;
	cfg.idle_tax = 0.0;
	if (reclaim_policy_set_config(re->p, &cfg) == RECLAIM_E_BUSY)
		re->refused++;
	else
		re->accepted++;
}

static int
reentrant_block(void *ud, uint64_t id)
{
	call_back_in(ud);
	return fw_block(ud, id);
}

static int
reentrant_swap_out(void *ud, uint64_t id, uint64_t bytes)
{
	call_back_in(ud);
	return fw_swap_out(ud, id, bytes);
}

static int
reentrant_set_balloon(void *ud, uint64_t id, uint64_t bytes)
{
	call_back_in(ud);
	return fw_set_balloon(ud, id, bytes);
}

/* A host in the low state with host swap and drivers that stall: the
 * policy swaps and blocks, and a third of all adapter calls fail. The
 * policy whose adapter calls back in must decide exactly what its twin
 * decides: its failure records (a block that failed is no block) are
 * intact. */
static void
reentrant_callback_is_refused(void **state)
{
	static struct reentrant re;
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *twin = policy_with(&cfg, 4);
	struct reclaim_adapter plain = fw_adapter(), ad = fw_adapter();
	struct fw_world w2;
	struct fw_tick a, b;
	uint32_t actions = 0;

	(void)state;
	memset(&re, 0, sizeof(re));
	pressed_host(&re.w);
	for (size_t i = 0; i < re.w.n; i++) {
		re.w.vm[i].inflate_rate = 0.0;
		re.w.vm[i].demand = 12 * GIB;
	}
	fw_set_free(&re.w, 64 * GIB / 200);
	re.w.fail_prob = 0.3;
	re.p = policy_with(&cfg, 4);
	w2 = re.w;
	ad.block = reentrant_block;
	ad.swap_out = reentrant_swap_out;
	ad.set_balloon = reentrant_set_balloon;
	for (int k = 0; k < 60; k++) {
		fw_tick(&re.w, re.p, &ad, &a);
		fw_tick(&w2, twin, &plain, &b);
		assert_int_equal(a.decide_rc, RECLAIM_OK);
		assert_int_equal(a.apply_rc, b.apply_rc);
		assert_memory_equal(&a.summary, &b.summary, sizeof(a.summary));
		assert_memory_equal(a.d, b.d, a.n * sizeof(a.d[0]));
		assert_memory_equal(a.r, b.r, a.n * sizeof(a.r[0]));
		for (size_t i = 0; i < a.n; i++)
			actions |= a.d[i].actions;
	}
	print_message("# %u calls from callbacks refused, %u accepted, actions %#x\n", re.refused,
		      re.accepted, actions);
	assert_true(actions & RECLAIM_ACTION_BLOCK);
	assert_true(re.w.injected > 0);
	assert_true(re.refused > 0);
	assert_int_equal(re.accepted, 0);
	reclaim_policy_destroy(re.p);
	reclaim_policy_destroy(twin);
}

/* ---- the clock ---- */

/* Runs @p ticks ticks; on tick @p odd the host reports @p odd_now instead
 * of the world's time. Returns the balloons' total at the end, and at the
 * odd tick in @p at_odd. */
static uint64_t
run_with_odd_clock(struct reclaim_policy *p, unsigned ticks, unsigned odd, uint64_t odd_now,
		   uint64_t *at_odd, unsigned *high_after)
{
	struct fw_world w;
	struct reclaim_adapter ad = fw_adapter();
	struct fw_tick t;
	uint64_t total = 0;

	pressed_host(&w);
	*high_after = 0;
	for (unsigned k = 0; k < ticks; k++) {
		memset(&t, 0, sizeof(t));
		t.summary = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
		t.n = fw_snapshot(&w, &t.host, t.vms);
		if (k == odd) {
			t.host.now_ns = odd_now;
			for (size_t i = 0; i < t.n; i++) /* the guests read the same clock */
				t.vms[i].stats_time_ns = odd_now;
			*at_odd = 0;
			for (size_t i = 0; i < w.n; i++)
				*at_odd += w.vm[i].balloon;
		}
		assert_int_equal(reclaim_decide(p, &t.host, t.vms, t.n, 0, &t.summary, t.d),
				 RECLAIM_OK);
		fw_begin_apply(&w);
		reclaim_apply(p, &ad, &w, t.d, t.n, t.r, sizeof(t.r[0]));
		fw_advance(&w);
		if (t.summary.state != RECLAIM_STATE_HIGH)
			*high_after = 0;
		else if (!*high_after)
			*high_after = k + 1;
	}
	for (size_t i = 0; i < w.n; i++)
		total += w.vm[i].balloon;
	return total;
}

static void
check_clock_recovers(uint64_t odd_now)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4), *q = policy_with(&cfg, 4);
	uint64_t at_odd = 0, ignored, with, without;
	unsigned high_with, high_without;

	without = run_with_odd_clock(q, 200, 200, 0, &ignored, &high_without);
	with = run_with_odd_clock(p, 200, 5, odd_now, &at_odd, &high_with);
	print_message("# clock %llu at tick 5: balloons %llu MiB then %llu MiB (%llu MiB "
		      "undisturbed); high for good after %u ticks (%u)\n",
		      (unsigned long long)odd_now, (unsigned long long)(at_odd / MIB),
		      (unsigned long long)(with / MIB), (unsigned long long)(without / MIB),
		      high_with, high_without);
	assert_true(high_without > 0);
	assert_true(with > at_odd + GIB);
	assert_true(high_with > 0 && high_with <= high_without + 10);
	reclaim_policy_destroy(p);
	reclaim_policy_destroy(q);
}

static void
one_absurd_clock_reading_wedges_nothing(void **state)
{
	(void)state;
	check_clock_recovers(UINT64_MAX - 1000);
	check_clock_recovers(UINT64_MAX / 2);
}

static void
clock_going_back_wedges_nothing(void **state)
{
	(void)state;
	check_clock_recovers(1);
}

/* ---- ids ---- */

/* VM 1's driver stalls until the policy backs off from it; then id 1 is
 * given to a VM of another size whose driver works. */
static void
reused_id(bool resized, struct fw_tick *t)
{
	struct reclaim_config cfg = default_config();
	struct reclaim_policy *p = policy_with(&cfg, 4);
	struct reclaim_adapter ad = fw_adapter();
	struct fw_world w;
	struct fw_vm *v;
	const struct reclaim_decision *d;

	pressed_host(&w);
	v = fw_find(&w, 1);
	v->inflate_rate = 0.0;
	for (int k = 0; k < 40; k++)
		fw_tick(&w, p, &ad, t);
	d = fw_decision(t, 1);
	assert_int_equal(d->balloon_limit, RECLAIM_BALLOON_LIMIT_UNRESPONSIVE);
	fw_vm_reset(&w, v, 1, 20 * GIB, 10 * GIB);
	v->touched = 15 * GIB;
	fw_set_free(&w, 64 * GIB * 3 / 100);
	memset(t, 0, sizeof(*t));
	t->summary = (struct reclaim_summary)RECLAIM_SUMMARY_INIT;
	t->n = fw_snapshot(&w, &t->host, t->vms);
	t->vms[0].flags |= resized ? RECLAIM_VM_RESIZED : 0;
	assert_int_equal(reclaim_decide(p, &t->host, t->vms, t->n, 0, &t->summary, t->d),
			 RECLAIM_OK);
	reclaim_policy_destroy(p);
}

static void
reused_id_of_another_size_is_a_new_vm(void **state)
{
	struct fw_tick t;
	const struct reclaim_decision *d;

	(void)state;
	reused_id(false, &t);
	d = fw_decision(&t, 1);
	assert_true(d->balloon_limit != RECLAIM_BALLOON_LIMIT_UNRESPONSIVE);
	assert_true(d->balloon_target_bytes > 0);
}

static void
resized_vm_keeps_its_history(void **state)
{
	struct fw_tick t;
	const struct reclaim_decision *d;

	(void)state;
	reused_id(true, &t);
	d = fw_decision(&t, 1);
	assert_int_equal(d->balloon_limit, RECLAIM_BALLOON_LIMIT_UNRESPONSIVE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(busy_while_another_thread_applies),
		cmocka_unit_test(threads_racing_on_one_policy),
		cmocka_unit_test(reentrant_callback_is_refused),
		cmocka_unit_test(one_absurd_clock_reading_wedges_nothing),
		cmocka_unit_test(clock_going_back_wedges_nothing),
		cmocka_unit_test(reused_id_of_another_size_is_a_new_vm),
		cmocka_unit_test(resized_vm_keeps_its_history),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
