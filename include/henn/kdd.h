/*
 * henn/kdd.h: the KDD Cup 1999 / NSL-KDD intrusion-detection data.
 *
 * Workflow:
 *  1. henn_kdd_load() reads a data file (plain text or .gz, read through
 *     zlib) in either layout into a henn_kdd_set: 41 raw features per
 *     connection, symbolic columns as indices into the set's vocabularies,
 *     and the 5-class label.
 *  2. henn_kdd_prep_fit() fits the preprocessing on the training set only
 *     (vocabularies, min/max); henn_kdd_prep_apply() turns any set (train
 *     or test) into a dense float matrix with the fitted, unchanged rules.
 *  3. henn_kdd_subset() draws a seeded random subset of rows.
 *
 * Lines: one row per line (LF or CRLF); an optional header line first
 * (detected, or forced by HENN_KDD_HEADER); blank lines only at the end.
 *
 * Layouts: KDD Cup 1999 rows hold 41 features and a label with a trailing
 * dot ("smurf."); NSL-KDD rows (KDDTrain+.txt) hold the label without the
 * dot and one extra trailing difficulty column. Attack names map to the
 * five classes of the KDD Cup 1999 task (data/README.md lists them),
 * including the 17 attack types found only in the test set.
 *
 * Thread safety: functions touch only their arguments.
 */
#ifndef HENN_KDD_H
#define HENN_KDD_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define HENN_KDD_FEATURES 41 /* raw features per connection */
#define HENN_KDD_CLASSES 5   /* normal, dos, u2r, r2l, probe */
#define HENN_KDD_SYMBOLIC 3  /* protocol_type, service, flag (columns 1, 2, 3) */

/* The five classes, in label order. */
typedef enum {
    HENN_KDD_NORMAL = 0,
    HENN_KDD_DOS = 1,
    HENN_KDD_U2R = 2,
    HENN_KDD_R2L = 3,
    HENN_KDD_PROBE = 4
} henn_kdd_class;

/* Flags for henn_kdd_load(). */
#define HENN_KDD_LAYOUT_AUTO 0u  /* detect from the first row */
#define HENN_KDD_LAYOUT_KDD99 1u /* 42 fields, label with a dot */
#define HENN_KDD_LAYOUT_NSL 2u   /* 43 fields, label without a dot, difficulty */
#define HENN_KDD_SKIP_BAD 4u     /* skip and count malformed rows instead of failing */
#define HENN_KDD_HEADER 8u       /* the first line is a column header: skip it (a first
                                    line whose first field is a column name, not a
                                    number, is detected as a header without this flag) */

/*
 * A loaded data set.
 *  x:       [rows x 41] row-major raw values; columns 1..3 hold indices
 *           into sym[0..2] (vocabularies in order of first appearance).
 *  y:       [rows] class (henn_kdd_class).
 *  skipped: rows skipped under HENN_KDD_SKIP_BAD (a blank line followed by
 *           data counts as one skipped row).
 * Owned by the struct; release with henn_kdd_set_clear().
 */
typedef struct henn_kdd_set {
    size_t rows;
    double *x;
    uint8_t *y;
    char **sym[HENN_KDD_SYMBOLIC];
    size_t sym_count[HENN_KDD_SYMBOLIC];
    size_t skipped;
    unsigned layout; /* HENN_KDD_LAYOUT_KDD99 or _NSL, as read */
    int header;      /* 1 when a header line was skipped */
} henn_kdd_set;

/* Where loading failed: file, 1-based line and field (0 = whole line). */
typedef struct henn_kdd_error {
    char file[256];
    size_t line;
    unsigned field;
    char msg[128];
} henn_kdd_error;

/* henn_kdd_set_init: an empty set. henn_kdd_set_clear: free everything and
 * leave it empty (safe on an empty or zeroed set). */
HENN_API void henn_kdd_set_init(henn_kdd_set *set);
HENN_API void henn_kdd_set_clear(henn_kdd_set *set);

/*
 * henn_kdd_load: read path (gzip or plain; zlib reads both) into set.
 *  max_rows: stop after this many data rows (0 = all).
 *  flags:    HENN_KDD_LAYOUT_* | HENN_KDD_SKIP_BAD | HENN_KDD_HEADER.
 *  err:      optional; filled on failure with file, line, field and a
 *            message (and left empty on success).
 * Errors: HENN_EIO (cannot open or read; a truncated or corrupt gzip stream,
 * reported as such even when it ends inside a row), HENN_EFORMAT (a
 * malformed row: a blank line followed by data, wrong field count, a non-number, a negative or
 * non-finite value, a label not in the class map, a layout mismatch,
 * a line over 64 KiB), HENN_ENOMEM. On error set is left empty.
 */
HENN_API HENN_NODISCARD int henn_kdd_load(henn_kdd_set *set, const char *path, size_t max_rows,
                                          unsigned flags, henn_kdd_error *err);

/*
 * henn_kdd_load_mem: as henn_kdd_load on an in-memory, uncompressed text
 * (used by tests and the fuzz target). name is reported in err.
 */
HENN_API HENN_NODISCARD int henn_kdd_load_mem(henn_kdd_set *set, const char *text,
                                              size_t text_len, const char *name, size_t max_rows,
                                              unsigned flags, henn_kdd_error *err);

/* henn_kdd_class_of_label: class of an attack name ("smurf", "smurf."),
 * or -1 when the name is not in the map. */
HENN_API int henn_kdd_class_of_label(const char *label, size_t label_len);

/* henn_kdd_class_name: "normal", "dos", "u2r", "r2l", "probe" (or "?"). */
HENN_API const char *henn_kdd_class_name(int cls);

/* Feature encodings for the symbolic columns. */
typedef enum {
    HENN_KDD_ONEHOT = 0,  /* one column per training category (default) */
    HENN_KDD_INTCODE = 1  /* one column holding the category's index, min-max scaled
                             (the published system's choice) */
} henn_kdd_encoding;

/* log1p levels for henn_kdd_prep_fit (the heavy-tailed count columns). */
#define HENN_KDD_LOG1P_NONE 0  /* raw values (the published system) */
#define HENN_KDD_LOG1P_BYTES 1 /* src_bytes, dst_bytes (columns 4, 5) */
#define HENN_KDD_LOG1P_HEAVY 2 /* duration, src_bytes, dst_bytes (columns 0, 4, 5): the
                                  CLI default. Min-max scaled raw, most non-zero values
                                  of these columns are below 2^-11 and round to 0 in a
                                  10-bit fixed point (on a 10,000-row sample: 7,587 of
                                  7,684 src_bytes, 137 of 267 durations, 224 of 1,752
                                  dst_bytes); after log1p none does. */

/*
 * Fitted preprocessing. Numeric columns are min-max scaled to [0, 1]
 * with the training minimum and maximum (test values outside are clipped
 * to [0, 1]); log1p (HENN_KDD_LOG1P_*) transforms the heavy-tailed columns
 * first. Symbolic columns use the training vocabulary:
 * categories unseen in training encode as all-zero one-hot columns (or
 * integer code = vocabulary size, scaled like the others and clipped).
 */
typedef struct henn_kdd_prep {
    henn_kdd_encoding encoding;
    int log1p;                               /* HENN_KDD_LOG1P_* */
    size_t dim;                              /* output columns */
    double min[HENN_KDD_FEATURES], max[HENN_KDD_FEATURES];
    char **vocab[HENN_KDD_SYMBOLIC];
    size_t vocab_count[HENN_KDD_SYMBOLIC];
} henn_kdd_prep;

/* henn_kdd_prep_init: unfitted. henn_kdd_prep_clear: free the vocabularies
 * (safe on an unfitted or zeroed prep). */
HENN_API void henn_kdd_prep_init(henn_kdd_prep *prep);
HENN_API void henn_kdd_prep_clear(henn_kdd_prep *prep);

/*
 * henn_kdd_prep_fit: fit prep on train (rows > 0); log1p is a
 * HENN_KDD_LOG1P_* level. Returns 0, HENN_EINVAL (empty set, bad encoding
 * or level), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_kdd_prep_fit(henn_kdd_prep *prep, const henn_kdd_set *train,
                                              henn_kdd_encoding encoding, int log1p);

/*
 * henn_kdd_prep_apply: X = preprocess(set rows idx[0..count)) as a
 * [count x prep->dim] row-major float matrix in [0, 1] (malloc'd; free
 * with free()); idx NULL means rows 0..count-1. unseen (optional) gets the
 * number of symbolic values not seen in training. Returns 0, HENN_EINVAL
 * (index out of range), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_kdd_prep_apply(float **X, size_t *unseen,
                                                const henn_kdd_prep *prep,
                                                const henn_kdd_set *set, const size_t *idx,
                                                size_t count);

/*
 * Preprocessing file section (docs/FORMATS.md): "HKDP", version 1,
 * encoding, log1p (level 0..2), dim, 41 (min, max) pairs as IEEE doubles, then the
 * three vocabularies (count, then length-prefixed names), little-endian.
 * henn_kdd_prep_serialize: *buf malloc'd. henn_kdd_prep_deserialize:
 * prep uninitialised; *used gets the bytes consumed (the section may be
 * followed by other data); HENN_EFORMAT on any inconsistency (bad magic,
 * truncation, dim not matching the vocabularies, non-finite bounds,
 * empty or over-long names).
 */
HENN_API HENN_NODISCARD int henn_kdd_prep_serialize(uint8_t **buf, size_t *buf_len,
                                                    const henn_kdd_prep *prep);
HENN_API HENN_NODISCARD int henn_kdd_prep_deserialize(henn_kdd_prep *prep, size_t *used,
                                                      const uint8_t *buf, size_t buf_len);

/*
 * henn_kdd_subset: idx[0..count) = a uniformly random subset of count
 * distinct rows of 0..rows-1 in random order (partial Fisher-Yates with a
 * seeded ChaCha20 stream: the same seed gives the same subset). count <=
 * rows. Returns 0, HENN_EINVAL or HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_kdd_subset(size_t *idx, size_t count, size_t rows,
                                            uint64_t seed);

#ifdef __cplusplus
}
#endif

#endif
