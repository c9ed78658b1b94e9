/* SPDX-License-Identifier: MIT */
/*
 * Active-memory estimator, after ESX's sampling (Waldspurger, "Memory
 * Resource Management in VMware ESX Server", OSDI 2002, section 5.3): each
 * period the embedder samples pages and counts those touched. A slow EWMA lets idle memory go slowly, a
 * fast one follows a VM that becomes busy, and a copy of the fast one fed
 * with the unfinished period reacts within the period. The estimate is the
 * largest of the three, so it rises quickly and decays slowly.
 */
#include <math.h>

#include "reclaim-private.h"

static int
gain_valid(double gain)
{
	/* Written so that NaN fails. */
	return gain > 0.0 && gain <= 1.0;
}

int
reclaim_estimator_init(struct reclaim_estimator *est, size_t size,
		       const struct reclaim_config *cfg)
{
	struct reclaim_config defaults;

	struct reclaim_estimator e;

	if (est == NULL)
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_ESTIMATOR, size))
		return RECLAIM_E_VERSION;
	config_defaults(&defaults);
	if (cfg != NULL) {
		/* Only the estimator's own fields matter here: a config built
		 * just to tune estimators need not be a valid policy config. */
		if (!abi_known(ABI_CONFIG, cfg->struct_size))
			return RECLAIM_E_VERSION;
		abi_read(&defaults, cfg, cfg->struct_size);
	}
	cfg = &defaults;
	if (!gain_valid(cfg->estimator_fast_gain) || !gain_valid(cfg->estimator_slow_gain) ||
	    !(cfg->active_floor >= 0.0 && cfg->active_floor < 1.0))
		return RECLAIM_E_CONFIG;

	memset(&e, 0, sizeof(e));
	e.struct_size = (uint32_t)size;
	e.fast_gain = cfg->estimator_fast_gain;
	e.slow_gain = cfg->estimator_slow_gain;
	e.floor = cfg->active_floor;
	memcpy(est, &e, size);
	return RECLAIM_OK;
}

static int
check_counts(const struct reclaim_estimator *est, uint32_t sampled, uint32_t touched)
{
	if (est == NULL)
		return RECLAIM_E_NULL;
	if (!abi_known(ABI_ESTIMATOR, est->struct_size))
		return RECLAIM_E_VERSION;
	if (touched > sampled)
		return RECLAIM_E_INVAL;
	return RECLAIM_OK;
}

int
reclaim_estimator_progress(struct reclaim_estimator *est, uint32_t sampled, uint32_t touched)
{
	double f, candidate;
	int rc = check_counts(est, sampled, touched);

	if (rc != RECLAIM_OK || sampled == 0)
		return rc;
	f = (double)touched / (double)sampled;
	/* Without history the partial fraction is all there is to go on. */
	if (est->periods == 0)
		candidate = f;
	else
		candidate = est->fast + est->fast_gain * (f - est->fast);
	/* Touched counts only grow within a period: the partial period may
	 * raise the estimate, never lower it below the fast average. */
	est->current = candidate > est->fast ? candidate : est->fast;
	return RECLAIM_OK;
}

int
reclaim_estimator_period(struct reclaim_estimator *est, uint32_t sampled, uint32_t touched)
{
	double f;
	int rc = check_counts(est, sampled, touched);

	if (rc != RECLAIM_OK)
		return rc;
	if (sampled != 0) {
		f = (double)touched / (double)sampled;
		if (est->periods == 0) {
			est->fast = f;
			est->slow = f;
		} else {
			est->fast += est->fast_gain * (f - est->fast);
			est->slow += est->slow_gain * (f - est->slow);
		}
		/* Counts periods with samples: 0 means no history. */
		if (est->periods < UINT32_MAX)
			est->periods++;
	}
	est->current = est->fast;
	return RECLAIM_OK;
}

double
reclaim_estimator_fraction(const struct reclaim_estimator *est)
{
	double m;

	if (est == NULL)
		return 0.0;
	m = est->slow;
	if (est->fast > m)
		m = est->fast;
	if (est->current > m)
		m = est->current;
	/* Written so that NaN in a hand-edited struct ends at the floor. */
	if (!(m >= est->floor))
		m = est->floor;
	if (!(m <= 1.0))
		m = 1.0;
	if (!(m >= 0.0))
		m = 0.0;
	return m;
}

uint64_t
reclaim_estimator_active_bytes(const struct reclaim_estimator *est, uint64_t consumed_bytes)
{
	double bytes;

	if (est == NULL)
		return 0;
	/* Round to the nearest byte; doubles above 2^53 are coarser than a
	 * byte, and UINT64_MAX converts up to 2^64, so stay below consumed. */
	bytes = floor(reclaim_estimator_fraction(est) * (double)consumed_bytes + 0.5);
	if (bytes >= (double)consumed_bytes)
		return consumed_bytes;
	return (uint64_t)bytes;
}
