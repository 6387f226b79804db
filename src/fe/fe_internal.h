/*
 * fe_internal.h: shared internals of src/fe/ (not installed).
 *
 *  feip.c       FEIP setup, keys, encryption (fixed-base tables), decryption
 *  febo.c       FEBO (CryptoNN's element-wise scheme)
 *  dlog.c       the persistent baby-step giant-step table
 *  msm.c        multi-scalar multiplication over small signed scalars
 *  msm_ifma.c   its bucket method eight lanes wide (AVX-512 IFMA)
 *  serialize.c  every serializer and validating deserializer
 *  affine.c     batch normalisation of points to Z = 1
 *  prep.c       per-ciphertext precomputation for many keys
 *  scalarmul.c  constant-time k P on libdecaf's limbs (sk c_0)
 *  scalarmul_ifma.c  the same, a point's four coordinates in four lanes
 *  edwards.h    the group law on libdecaf's limbs (gf25519.h: the field)
 *
 * Group elements are libdecaf decaf_255 points (ristretto255): extended
 * Edwards coordinates (X:Y:Z:T) on edwards25519, each coordinate five 51-bit
 * limbs (x86-64 build of libdecaf 1.0). The discrete-log code reads those
 * limbs to normalise points in batches; henn__fe_layout_ok() checks the
 * layout at run time on the base point so a different build is refused
 * (HENN_EPARAM) instead of giving wrong answers.
 */
#ifndef HENN_FE_INTERNAL_H
#define HENN_FE_INTERNAL_H

#include <decaf/point_255.h>
#include <stdint.h>

#include "henn/fe.h"

_Static_assert(sizeof(decaf_255_point_t) == sizeof(henn_fe_elem), "henn_fe_elem size");

/* The decaf point stored in a henn_fe_elem. */
#define FE_PT(e) ((struct decaf_255_point_s *)(void *)(e)->opaque_)
#define FE_CPT(e) ((const struct decaf_255_point_s *)(const void *)(e)->opaque_)

/* Fixed-base tables of an mpk. */
struct henn__fe_tabs {
    size_t n;
    decaf_255_precomputed_s **h; /* n libdecaf comb tables, one per h_i */
    henn_fe_elem *gsmall;        /* windows x 9: k * 16^w * g, k = 0..8 */
    unsigned windows;            /* 4-bit signed windows covering X */
    int affine;                  /* henn__fe_layout_ok(): encryption leaves Z = 1 */
};

/*
 * Bring cnt points to Z = 1 (same group elements, same representatives)
 * with one field inversion. Constant time. 0 or HENN_ENOMEM (points then
 * unchanged). Only after henn__fe_layout_ok() returned 1. affine.c.
 */
int henn__fe_make_affine(henn_fe_elem *p, size_t cnt);

/* Multi-scalar multiplication: out = sum k_i P_i, |k_i| < 2^62 (public). */
void henn__fe_msm(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                  size_t n);
/*
 * The same with the group law on libdecaf's limbs (gf25519.h, mixed
 * additions) when every term has Z = 1 (decoded points), about 13% faster at
 * n = 784; otherwise it calls henn__fe_msm. Only after
 * henn__fe_layout_ok() returned 1 (a built henn_fe_dlog implies it).
 */
void henn__fe_msm_fast(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                       size_t n);
/*
 * henn__fe_msm_fast's two engines, for differential tests: the scalar
 * group law only, and the eight-lane AVX-512 IFMA one (msm_ifma.c; 0, or
 * HENN_EPARAM on a processor without IFMA). The automatic choice takes
 * IFMA from n = 16 up on terms with Z = 1. Same preconditions.
 */
void henn__fe_msm_fast_scalar(struct decaf_255_point_s *out, const henn_fe_elem *p,
                              const int64_t *k, size_t n);
int henn__fe_msm_fast_ifma(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                           size_t n);
/*
 * henn_feip_decrypt on the 64-bit code only (henn__fe_msm_fast_scalar,
 * henn__fe_scalarmul_ct_scalar: the decryption before the IFMA engines),
 * for the benchmark's same-run baseline and the tests. feip.c.
 */
int henn__feip_decrypt_scalar(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                              const henn_feip_ct *ct, const henn_feip_fk *fk, const int64_t *y,
                              size_t n);
/* henn_feip_decrypt_prep with the scalar MSM engine, likewise. prep.c. */
int henn__feip_decrypt_prep_scalar(int64_t *v, const henn_feip_mpk *mpk, const henn_fe_dlog *dl,
                                   const henn_feip_ct_prep *prep, const henn_feip_fk *fk,
                                   const int64_t *y, size_t n);
/* 1 if the processor (and the OS) run AVX-512 F, VL and IFMA. msm_ifma.c. */
int henn__fe_ifma_cpu(void);
/*
 * out = k P for a secret scalar k (32 bytes, canonical, < l) and a point P,
 * in time independent of k (scalarmul.c); the same element as
 * decaf_255_point_scalarmul. Only after henn__fe_layout_ok() returned 1.
 */
void henn__fe_scalarmul_ct(struct decaf_255_point_s *out, const struct decaf_255_point_s *p,
                           const uint8_t k[HENN_FE_SCALARBYTES]);
/* The same on the 64-bit scalar field code only (henn__fe_scalarmul_ct
 * takes the four-lane AVX-512 IFMA code when the processor has it). */
void henn__fe_scalarmul_ct_scalar(struct decaf_255_point_s *out,
                                  const struct decaf_255_point_s *p,
                                  const uint8_t k[HENN_FE_SCALARBYTES]);
/*
 * k P from k's signed 4-bit digits e[0..63] (e_i in [-8, 8], as
 * scalarmul.c recodes them) with the point's four coordinates in the
 * lanes of 256-bit vectors (scalarmul_ifma.c). Constant time in e. 0, or
 * HENN_EPARAM (out untouched) without AVX-512 IFMA.
 */
int henn__fe_scalarmul_ct_ifma(struct decaf_255_point_s *out, const struct decaf_255_point_s *p,
                               const int32_t e[64]);
/*
 * Per-ciphertext precomputation for the MSM (msm.c): the n points and their
 * shifts 2^(c j) P_i (j < m) in niels form (opaque here), for scalars
 * |k_i| <= k_bound. About 2 m x 120 bytes per point.
 */
struct henn__fe_msm_prep {
    size_t n;
    unsigned c, m;     /* signed c-bit digits, m per scalar */
    uint64_t k_bound;
    void *q;           /* 2 n m niels points */
};
/* 0, HENN_EINVAL (n or k_bound 0, k_bound >= 2^62), HENN_ENOMEM. */
int henn__fe_msm_prep_init(struct henn__fe_msm_prep *pr, const henn_fe_elem *p, size_t n,
                           uint64_t k_bound);
void henn__fe_msm_prep_clear(struct henn__fe_msm_prep *pr);
/* out = sum k_i P_i over pr's points; HENN_ERANGE if |k_i| > k_bound, HENN_ENOMEM. */
int henn__fe_msm_prep(struct decaf_255_point_s *out, const struct henn__fe_msm_prep *pr,
                      const int64_t *k);
/* The same on the scalar engine only (henn__fe_msm_prep takes the IFMA one when it can). */
int henn__fe_msm_prep_scalar(struct decaf_255_point_s *out, const struct henn__fe_msm_prep *pr,
                             const int64_t *k);
/* The same, one scalar multiplication per term (reference). */
void henn__fe_msm_naive(struct decaf_255_point_s *out, const henn_fe_elem *p, const int64_t *k,
                        size_t n);

/*
 * 1 if libdecaf's point layout is the one gf25519.h and the fast MSM assume:
 * checked on multiples of the base point (see dlog.c). Costs about 20 us.
 */
int henn__fe_layout_ok(void);

/*
 * out = v g for |v| <= dl->bound (v public: variable time) from the table of
 * k 16^w g that dl keeps after its giant step (dlog.c): at most one
 * addition per 4 bits of |v|.
 */
void henn__fe_dlog_small_g(struct decaf_255_point_s *out, const henn_fe_dlog *dl, int64_t v);

/* v with v g = P (P a decaf point). HENN_ERANGE when |v| > B. */
int henn__fe_dlog_point(int64_t *v, const henn_fe_dlog *dl, const struct decaf_255_point_s *p);
/*
 * v[k] with v[k] g = p[k] for cnt points (dlog.c, henn_fe_dlog_solve_many):
 * each result must lie in [lo[k], hi[k]] (NULL: [-B, B]; clamped to it),
 * else HENN_ERANGE. On error every v[k] is 0.
 */
int henn__fe_dlog_points(int64_t *v, const henn_fe_dlog *dl, const henn_fe_elem *p,
                         const int64_t *lo, const int64_t *hi, size_t cnt);

/* Scalar from a signed 64-bit integer (public values only: branches on sign). */
void henn__fe_scalar_from_i64(decaf_255_scalar_t s, int64_t v);
/* A uniformly random scalar (64 random bytes reduced mod l). */
int henn__fe_scalar_random(decaf_255_scalar_t s);

/* Tables for the mpk h (n points); fills tabs. */
int henn__fe_tabs_build(struct henn__fe_tabs **tabs, const henn_fe_elem *h, size_t n,
                        uint64_t x_bound);
void henn__fe_tabs_free(struct henn__fe_tabs *tabs);

/* v g for |v| <= X in time independent of v (signed 4-bit windows). */
void henn__fe_small_mul_g(struct decaf_255_point_s *out, const struct henn__fe_tabs *t,
                          int64_t v);

/* 1 if n * X * Y < 2^62 and both bounds >= 1. */
int henn__fe_bounds_ok(size_t n, uint64_t x_bound, uint64_t y_bound);

/*
 * Run fn(arg, lo, hi) over [0, count) split into `threads` contiguous
 * ranges (threads <= 1 or count small: inline). Returns the first nonzero
 * code in range order. parallel.c.
 */
typedef int (*henn__fe_range_fn)(void *arg, size_t lo, size_t hi);
int henn__fe_parallel(henn__fe_range_fn fn, void *arg, size_t count, unsigned threads);

/* Allocation of n henn_fe_elem (32-byte aligned), zeroed; NULL on failure. */
henn_fe_elem *henn__fe_elems_alloc(size_t n);

#endif
