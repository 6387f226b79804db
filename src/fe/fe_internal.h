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
 *  scalarmul_many_ifma.c  k P_l for one secret k and eight points P_l
 *  fixedbase.c  k P for many secret k and one point from a comb table
 *  fixedbase_ifma.c  the same, eight scalars in eight lanes
 *  ifma8.h      the eight-lane AVX-512 IFMA field and group arithmetic
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
 * Fixed-base multiplication for many secret scalars and one public point
 * (fixedbase.c, fixedbase_ifma.c): a comb table of k 32^w P (k = 1..16,
 * w < HENN__FE_FB_WINDOWS, affine niels form, about 96 KiB, built in
 * about 0.3 ms), then k P in 51 mixed additions and no doubling, constant
 * time in k (masked scans, or register permutations over all entries).
 * Only after henn__fe_layout_ok() returned 1.
 */
#define HENN__FE_FB_WINDOWS 51
struct henn__fe_fb;
/* *fb = the table of P. 0, HENN_EINVAL (NULL), HENN_ENOMEM (*fb NULL). */
int henn__fe_fb_init(struct henn__fe_fb **fb, const struct decaf_255_point_s *p);
/* Free (and wipe) the table; NULL is a no-op. */
void henn__fe_fb_free(struct henn__fe_fb *fb);
/* The table's limbs ((w 15 + i) 16 + j, see fixedbase.c) and their count. */
const uint64_t *henn__fe_fb_table(const struct henn__fe_fb *fb);
size_t henn__fe_fb_table_limbs(void);
/* Signed radix-32 digits of k (canonical, < l): e[w] in [-16, 16],
 * k = sum e[w] 32^w. Constant time. */
void henn__fe_fb_digits(int32_t e[HENN__FE_FB_WINDOWS], const uint8_t k[HENN_FE_SCALARBYTES]);
/* out = k P on the 64-bit code (k canonical, < l). Constant time in k. */
void henn__fe_fb_mul_scalar(struct decaf_255_point_s *out, const struct henn__fe_fb *fb,
                            const uint8_t k[HENN_FE_SCALARBYTES]);
/* out[l] = k_l P for cnt <= 8 scalars k_l = k + 32 l, one per lane of
 * the eight-lane IFMA code. 0, HENN_EINVAL (cnt 0 or > 8), HENN_EPARAM
 * (no AVX-512 IFMA: out untouched). Constant time in the k_l. */
int henn__fe_fb_mul8_ifma(henn_fe_elem *out, const struct henn__fe_fb *fb, const uint8_t *k,
                          size_t cnt);
/* Engines of henn__fe_fb_mul_many. */
enum { HENN__FE_FB_AUTO = 0, HENN__FE_FB_SCALAR = 1, HENN__FE_FB_IFMA = 2 };
/* out[i] = k_i P for cnt scalars k_i = k + 32 i (canonical): eight at a
 * time on IFMA where the processor has it (AUTO), or on the engine asked
 * for. 0, or HENN_EPARAM (IFMA asked for and missing). Constant time in
 * the k_i. */
int henn__fe_fb_mul_many(henn_fe_elem *out, const struct henn__fe_fb *fb, const uint8_t *k,
                         size_t cnt, int engine);

/*
 * What a henn_feip_ct0_tab's tab_ points to (support.c): the comb of
 * fixedbase.c when henn__fe_layout_ok() accepted the build, else
 * libdecaf's precomputed table (exactly one is set).
 */
struct henn__fe_ct0 {
    struct henn__fe_fb *fb;
    decaf_255_precomputed_s *dec;
};
/* out = sk c_0 from tab (sk canonical: callers decoded it). Constant time in sk. */
void henn__fe_ct0_mul(struct decaf_255_point_s *out, const henn_feip_ct0_tab *tab,
                      const uint8_t sk[HENN_FE_SCALARBYTES]);
/* out[i] = sk_i c_0 for cnt canonical scalars sk_i = sk + 32 i on the
 * given engine (HENN__FE_FB_*; libdecaf's table ignores it). 0,
 * HENN_EPARAM (IFMA asked for and missing), HENN_EKEY (non-canonical, on
 * libdecaf's table). Constant time in the sk_i. */
int henn__fe_ct0_mul_many(henn_fe_elem *out, const henn_feip_ct0_tab *tab, const uint8_t *sk,
                          size_t cnt, int engine);

/* d[k] -= sk_k c_0 for the cnt keys fk[k] (sk_k c_0 from tab, all
 * together: henn__fe_ct0_mul_many, eight at a time on IFMA). 0, HENN_EKEY
 * (a key that does not decode; d unchanged), HENN_ENOMEM (d unchanged).
 * Constant time in the keys; the products and the copies of the keys are
 * wiped. support.c. */
int henn__fe_ct0_sub_many(henn_fe_elem *d, const henn_feip_ct0_tab *tab,
                          const henn_feip_fk *fk, size_t cnt);

/* 1 if idx[0..m) is not NULL, not empty, strictly increasing and below n
 * (a support given as an index list), else 0. support.c. */
int henn__fe_idx_ok(size_t n, const size_t *idx, size_t m);

/* Signed 4-bit digits of k (canonical, < l): e[i] in [-8, 8], k = sum
 * e[i] 16^i. Constant time. scalarmul.c. */
void henn__fe_digits16(int32_t e[64], const uint8_t k[HENN_FE_SCALARBYTES]);
/*
 * out[l] = k p[l] for cnt <= 8 points and ONE scalar given by its digits
 * (henn__fe_digits16), one point per lane of the eight-lane IFMA code
 * (scalarmul_many_ifma.c). 0, HENN_EINVAL (cnt 0 or > 8), HENN_EPARAM (no
 * AVX-512 IFMA: out untouched). Constant time in e.
 */
int henn__fe_scalarmul_ct8_ifma(henn_fe_elem *out, const henn_fe_elem *p, size_t cnt,
                                const int32_t e[64]);
/*
 * out[i] = k p[i] for cnt points and one secret scalar k (canonical):
 * engine HENN__FE_FB_AUTO eight points at a time on IFMA where the
 * processor has it (else henn__fe_scalarmul_ct per point),
 * HENN__FE_FB_SCALAR the 64-bit code per point. out and p may not
 * overlap. Constant time in k. scalarmul.c.
 */
void henn__fe_scalarmul_ct_many(henn_fe_elem *out, const henn_fe_elem *p, size_t cnt,
                                const uint8_t k[HENN_FE_SCALARBYTES], int engine);

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
