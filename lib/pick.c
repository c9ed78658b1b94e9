/* SPDX-License-Identifier: MIT */
/*
 * Random page picker for host swap (ESX picks the pages it swaps at random):
 * a small seeded generator and sequential random sampling after J. S.
 * Vitter, "An efficient algorithm for sequential random sampling", ACM TOMS
 * 13(1), 1987.
 *
 * Picking k of n indices in increasing order amounts to drawing, k times, how
 * many candidates S to skip before the next pick. With k picks left among n
 * candidates, P(S = s) = f(s) = (k / n) * prod_{i < s} (n - k - i) / (n - 1 - i)
 * for 0 <= s <= n - k.
 *
 * Method D draws S by rejection from the continuous density
 * g(x) = (k / n) * (1 - x / n)^(k - 1) on [0, n), scaled by c = n / (n - k + 1),
 * with the cheap squeeze h(s) = (k / n) * (1 - s / (n - k + 1))^(k - 1):
 * h(s) <= f(s) <= c * g(x) for s = floor(x). Most draws are accepted by the
 * squeeze alone; the exact test costs min(S, k - 1) multiplications and is
 * rarely reached, so a pick costs O(1) expected time.
 *
 * When picks are dense (n <= ALPHA_INV * k) Method A, which walks the skip
 * one candidate at a time, is faster and still O(k) in total, since the
 * walk covers at most n <= ALPHA_INV * k candidates.
 *
 * Doubles represent every index exactly up to 2^53 (2^65 bytes of 4 KiB
 * pages); beyond that the law is only approximately uniform, but every index
 * still lies in range.
 */
#include <math.h>
#include <stdbool.h>

#include <reclaim.h>

/* Vitter's suggested switch point between methods D and A. */
#define ALPHA_INV 13u

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

void
reclaim_rng_seed(struct reclaim_rng *rng, uint64_t seed)
{
	if (rng == NULL)
		return;
	/* splitmix64 never yields four zero words, the one state xoshiro
	 * cannot leave. */
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

uint64_t
reclaim_rng_next(struct reclaim_rng *rng)
{
	uint64_t *s;
	uint64_t result, t;

	if (rng == NULL)
		return 0;
	s = rng->s;
	result = rotl(s[1] * 5, 7) * 9;
	t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in the open interval (0, 1), so that log() stays finite. */
static double
uniform_open(struct reclaim_rng *rng)
{
	return ((double)(reclaim_rng_next(rng) >> 11) + 0.5) * 0x1.0p-53;
}

/* One pick left among n: every candidate equally likely. */
static uint64_t
skip_last(struct reclaim_rng *rng, uint64_t n)
{
	for (;;) {
		double x = (double)n * uniform_open(rng);

		/* (double)n rounds above 2^53; keep the index in range. */
		if (x < (double)n) {
			uint64_t s = (uint64_t)x;

			if (s < n)
				return s;
		}
	}
}

/* Method A: P(S > s) = prod_{i <= s} (n - k - i) / (n - i). */
static uint64_t
skip_dense(struct reclaim_rng *rng, uint64_t n, uint64_t k)
{
	double v = uniform_open(rng);
	double top = (double)(n - k);
	double bottom = (double)n;
	double quot = top / bottom;
	uint64_t s = 0;

	/* quot reaches exactly 0 once every non-pick is skipped. */
	while (quot > v) {
		s++;
		top -= 1.0;
		bottom -= 1.0;
		quot *= top / bottom;
	}
	return s;
}

/* Method D, 2 <= k and n > ALPHA_INV * k. */
static uint64_t
skip_sparse(struct reclaim_rng *rng, uint64_t n, uint64_t k)
{
	const double nreal = (double)n;
	const double kinv = 1.0 / (double)k;
	const double kmin1inv = 1.0 / (double)(k - 1);
	const uint64_t qu1 = n - k + 1; /* S ranges over [0, qu1) */
	const double qu1real = (double)qu1;

	for (;;) {
		double lv, v, x, y1, y2, top, bottom;
		uint64_t s, terms;

		/* X = n * (1 - V^(1/k)) has density g; expm1 keeps 1 - V^(1/k)
		 * accurate when k is large. */
		lv = log(uniform_open(rng)) * kinv;
		v = exp(lv);
		x = -nreal * expm1(lv);
		if (!(x < qu1real))
			continue;
		s = (uint64_t)x;
		if (s >= qu1)
			continue;

		/* Squeeze: U <= h(S) / (c g(X)), with 1 - X / n = v. */
		y1 = exp(log(uniform_open(rng) * nreal / qu1real) * kmin1inv);
		if (y1 * v * qu1real / (qu1real - (double)s) <= 1.0)
			return s;

		/* Exact: U <= f(S) / (c g(X)). y2 = 1 / prod_{i < S} (n - k - i)
		 * / (n - 1 - i), regrouped into k - 1 factors when S >= k - 1. */
		y2 = 1.0;
		top = nreal - 1.0;
		if (s < k - 1) {
			bottom = nreal - (double)k;
			terms = s;
		} else {
			bottom = nreal - 1.0 - (double)s;
			terms = k - 1;
		}
		for (uint64_t i = 0; i < terms; i++) {
			y2 *= top / bottom;
			top -= 1.0;
			bottom -= 1.0;
		}
		if (y1 * v * pow(y2, kmin1inv) <= 1.0)
			return s;
	}
}

/*
 * The all-zero state is xoshiro's one fixed point: a generator never seeded
 * (zeroed memory) draws 0 forever, and the samplers below would wait
 * forever for another draw.
 */
static bool
rng_unseeded(const struct reclaim_rng *rng)
{
	return (rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0;
}

int
reclaim_pick_init(struct reclaim_pick *pick, uint64_t n, uint64_t k, struct reclaim_rng *rng)
{
	if (pick == NULL || rng == NULL)
		return RECLAIM_E_NULL;
	if (k > n || rng_unseeded(rng))
		return RECLAIM_E_INVAL;
	pick->n = n;
	pick->k = k;
	pick->next = 0;
	pick->rng = rng;
	return RECLAIM_OK;
}

/* The next index; pick is valid and has picks left. */
static uint64_t
pick_one(struct reclaim_pick *pick)
{
	uint64_t s, index;

	if (pick->k == 1)
		s = skip_last(pick->rng, pick->n);
	else if ((pick->n - 1) / ALPHA_INV >= pick->k) /* n > ALPHA_INV * k */
		s = skip_sparse(pick->rng, pick->n, pick->k);
	else
		s = skip_dense(pick->rng, pick->n, pick->k);

	index = pick->next + s;
	pick->next = index + 1;
	pick->n -= s + 1;
	pick->k--;
	return index;
}

int
reclaim_pick_next(struct reclaim_pick *pick, uint64_t *index)
{
	if (pick == NULL || index == NULL || pick->rng == NULL)
		return RECLAIM_E_NULL;
	/* The struct is plain data: refuse one whose indices would wrap. */
	if (pick->k > pick->n || (pick->next != 0 && pick->n > UINT64_MAX - pick->next + 1) ||
	    rng_unseeded(pick->rng))
		return RECLAIM_E_INVAL;
	if (pick->k == 0)
		return 0;
	*index = pick_one(pick);
	return 1;
}

int
reclaim_pick_pages(struct reclaim_rng *rng, uint64_t n, uint64_t k, uint64_t *out)
{
	struct reclaim_pick pick;
	int rc;

	if ((out == NULL && k > 0) || rng == NULL)
		return RECLAIM_E_NULL;
	rc = reclaim_pick_init(&pick, n, k, rng);
	if (rc != RECLAIM_OK)
		return rc;
	for (uint64_t i = 0; i < k; i++)
		out[i] = pick_one(&pick);
	return RECLAIM_OK;
}
