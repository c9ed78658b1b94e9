/* SPDX-License-Identifier: MIT */
/*
 * Invariant oracle for reclaim_decide(), reclaim_apply(),
 * reclaim_plan_admission() and the config functions, written against the
 * documented semantics of include/reclaim.h. Shared by the property tests and
 * the fuzz targets (which also share the byte-decoded scenario runner below).
 *
 * Every check returns 0 when the library kept its contract and -1 otherwise,
 * with a one-line explanation in the oracle's `why` buffer.
 */
#ifndef RECLAIM_TEST_ORACLE_H
#define RECLAIM_TEST_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "reclaim.h"

/* Most VMs one oracle follows (and one scenario decodes). */
#define ORACLE_MAX_VMS 32

/* What the oracle remembers about one VM between real (non-dry-run) decides. */
struct oracle_vm {
	uint64_t id;
	uint64_t configured;     /* configured size: another, unless resized, is another VM */
	uint64_t balloon_target; /* last balloon_target_bytes decided */
	uint32_t blocked;        /* blocked as far as the policy knows */
	int32_t apply;           /* last apply with the policy: -1 unknown, 0 ok, 1 failed */
	uint32_t block_failed;   /* the last block/unblock failed: it may be issued again */
	uint32_t seen;
};

struct oracle {
	struct reclaim_config cfg; /* config in force in the policy */
	size_t capacity;
	int have_prev;             /* a real decide succeeded on this policy */
	uint32_t prev_state;
	uint64_t prev_now;
	size_t n_vms;
	struct oracle_vm vms[ORACLE_MAX_VMS];
	uint64_t decides;          /* decide calls checked (dry runs included) */
	uint64_t errors;           /* of which returned an error */
	char why[512];
};

/* Starts following a fresh policy created with @p cfg and @p capacity. */
void
oracle_init(struct oracle *o, const struct reclaim_config *cfg, size_t capacity);

/*
 * Runs one policy step under the full protocol: outputs canary-filled, a dry
 * run twice (byte-identical), then the real decide (byte-identical to the dry
 * runs); on error every output must still hold its canary, and the status must
 * be one the inputs explain. On success the outputs are copied to @p sum and
 * @p dec (n elements) and checked against every invariant.
 * @p status receives reclaim_decide()'s result.
 */
int
oracle_decide(struct oracle *o, int *status, struct reclaim_summary *sum,
	      struct reclaim_decision *dec, struct reclaim_policy *policy,
	      const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	      size_t n);

/*
 * Checks one successful decide's outputs without calling the library again.
 * Uses (and does not update) what the oracle remembers from earlier ticks.
 */
int
oracle_check(struct oracle *o, const struct reclaim_host *host,
	     const struct reclaim_vm_stats *vms, size_t n,
	     const struct reclaim_summary *sum, const struct reclaim_decision *dec);

/*
 * The set of statuses reclaim_decide() may return for these inputs:
 * bit (-status) for each allowed error, bit 0 when RECLAIM_OK is allowed.
 */
uint32_t
oracle_allowed_statuses(const struct oracle *o, const struct reclaim_host *host,
			const struct reclaim_vm_stats *vms, size_t n, uint32_t flags);

/*
 * Calls reclaim_plan_admission() and checks it: statuses as for decide,
 * canaries on error, bounds and balloon caps on success, no blocking, and
 * the policy unchanged (a dry-run decide gives the same bytes before and after).
 */
int
oracle_plan(struct oracle *o, int *status, struct reclaim_policy *policy,
	    const struct reclaim_host *host, const struct reclaim_vm_stats *vms,
	    size_t n, uint64_t new_vm_bytes);

/* One adapter call, as recorded by the oracle's fake adapter. */
enum oracle_op { ORACLE_OP_BALLOON, ORACLE_OP_SWAP, ORACLE_OP_BLOCK, ORACLE_OP_UNBLOCK, ORACLE_OP_COMPRESS };

struct oracle_call {
	uint32_t op;
	int32_t ret;
	uint64_t id;
	uint64_t value;
};

/* Fake adapter: records calls and answers from a failure schedule. */
struct oracle_adapter {
	struct reclaim_adapter ops;  /* slots may be set to NULL by the caller */
	const uint8_t *fail;         /* schedule: byte i decides call i (0 mod 4: fail) */
	size_t n_fail;
	size_t n_calls;
	struct oracle_call calls[5 * ORACLE_MAX_VMS];
};

/* Fills @p a with all five ops (version 1) and the given failure schedule. */
void
oracle_adapter_init(struct oracle_adapter *a, const uint8_t *fail, size_t n_fail);

/*
 * Calls reclaim_apply() for @p n decisions through @p a and checks the calls
 * made, their order, the per-VM results and the status; with @p policy, the
 * failures are remembered so the next oracle_decide() can check that they are
 * reported and retried.
 */
int
oracle_apply(struct oracle *o, int *status, struct reclaim_policy *policy,
	     struct oracle_adapter *a, const struct reclaim_decision *dec, size_t n);

/*
 * Config oracle: checks reclaim_config_check(), reclaim_policy_new(),
 * reclaim_policy_init(), reclaim_policy_set_config() on @p existing (a valid
 * policy, may be NULL), reclaim_config_thresholds() for the given host sizes
 * and reclaim_estimator_init() against the documented ranges of every field.
 */
int
oracle_config(char *why, size_t len, const struct reclaim_config *cfg,
	      struct reclaim_policy *existing, uint64_t total, uint64_t reserved);

/* Counters a scenario run adds to. */
struct oracle_stats {
	uint64_t scenarios;
	uint64_t decides;
	uint64_t decide_errors;
	uint64_t applies;
	uint64_t plans;
	uint64_t state_count[4];
};

/*
 * Decodes @p data as a scenario (config, host, VM array, up to 8 ticks with
 * VMs coming and going, guests answering balloons partially, hostile values,
 * failing adapter ops, admission plans, config changes) and runs it under the
 * oracle, with a twin policy fed the same real calls that must agree byte for
 * byte. Returns 0, or -1 with the violation in @p why.
 */
int
oracle_run_bytes(char *why, size_t len, struct oracle_stats *st, const uint8_t *data,
		 size_t size);

/* Decodes @p data as a config (one profile, fields overwritten) and runs oracle_config(). */
int
oracle_run_config_bytes(char *why, size_t len, const uint8_t *data, size_t size);

#endif /* RECLAIM_TEST_ORACLE_H */
