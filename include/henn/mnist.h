/*
 * henn/mnist.h: IDX files (MNIST, Fashion-MNIST) and the image splits
 * CryptoNN trains on.
 *
 * Workflow
 *  1. henn_mnist_load() reads an IDX3 image file and the matching IDX1
 *     label file (gzip or plain; zlib reads both) into a henn_mnist_set:
 *     raw 0..255 pixels and labels 0..9. henn_idx_parse() is the same
 *     parser on an uncompressed buffer (tests, fuzzing).
 *  2. The data sets henn uses:
 *     - MNIST-8k/2k, henn_mnist_load_mnist8k(): the 10,000 MNIST test
 *       images (data/mnist/t10k-*; the MNIST training set is not bundled)
 *       split by a seeded shuffle into 8,000 training and 2,000 test images.
 *     - Fashion-MNIST, henn_mnist_load_fashion(): 60,000 training and
 *       10,000 test images, from the Debian package dataset-fashion-mnist
 *       (HENN_MNIST_FASHION_DIR).
 *  3. henn_mnist_to_float() scales pixels to [0, 1] floats (p / 255) for
 *     the plaintext layers; the raw uint8 pixels are the integers 0..255 a
 *     fixed-point encryption uses (scale 1, as CryptoNN's code did).
 *
 * IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): a 4-byte
 * magic 00 00 <type> <ndims>, then ndims big-endian uint32 sizes, then the
 * data. henn accepts type 0x08 (unsigned byte) only: ndims 3 for images
 * (count, rows, cols), ndims 1 for labels (count).
 *
 * Errors name the file and the byte offset (of the uncompressed stream)
 * where the problem is: "t10k-images-idx3-ubyte.gz: offset 16: ...".
 * Thread safety: functions touch only their arguments.
 */
#ifndef HENN_MNIST_H
#define HENN_MNIST_H

#include <stddef.h>
#include <stdint.h>

#include "henn/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the err buffers the loaders fill with "file: offset N: why". */
#define HENN_MNIST_ERRLEN 256
/* Largest image side and image count the loader accepts. */
#define HENN_MNIST_MAX_SIDE 1024
#define HENN_MNIST_MAX_COUNT 10000000
/* Where Debian's dataset-fashion-mnist installs its four .gz files. */
#define HENN_MNIST_FASHION_DIR "/usr/share/datasets/fashion-mnist"
/* Sizes of the MNIST-8k/2k split. */
#define HENN_MNIST8K_TRAIN 8000
#define HENN_MNIST8K_TEST 2000

/*
 * A labelled image set.
 *  count:  images.
 *  rows, cols: image height and width (28 x 28 for MNIST).
 *  pixels: [count x rows*cols] row-major, 0..255 (0 = background).
 *  labels: [count] class 0..9.
 * Owned by the struct; zero-initialise or henn_mnist_set_init(), release
 * with henn_mnist_set_clear().
 */
typedef struct henn_mnist_set {
    size_t count;
    size_t rows, cols;
    uint8_t *pixels;
    uint8_t *labels;
} henn_mnist_set;

/* henn_mnist_set_init: an empty set. henn_mnist_set_clear: free and empty
 * it (safe on an empty or zeroed set). */
HENN_API void henn_mnist_set_init(henn_mnist_set *s);
HENN_API void henn_mnist_set_clear(henn_mnist_set *s);

/* One parsed IDX file of unsigned bytes: dims[0..ndims), data malloc'd
 * (free with free()), len = product of dims. */
typedef struct henn_idx {
    size_t ndims;
    size_t dims[4];
    uint8_t *data;
    size_t len;
} henn_idx;

/*
 * henn_idx_parse: parse an uncompressed IDX buffer of unsigned bytes.
 *  expect_ndims: 1 or 3 (0 accepts 1..4).
 *  name:         file name used in err (may be NULL: "(memory)").
 * Checks: magic 00 00 08 <ndims>, every dim in 1..HENN_MNIST_MAX_COUNT
 * (image sides <= HENN_MNIST_MAX_SIDE), data exactly as long as the dims
 * say (truncation and trailing bytes are errors).
 * Returns 0; HENN_EFORMAT (err: "name: offset N: why"), HENN_EINVAL (NULL
 * arguments), HENN_ENOMEM. On error *out is zeroed.
 */
HENN_API HENN_NODISCARD int henn_idx_parse(henn_idx *out, const uint8_t *buf, size_t buf_len,
                                           size_t expect_ndims, const char *name, char *err,
                                           size_t err_len);

/*
 * henn_idx_read: henn_idx_parse on a file, gzip-compressed or plain (read
 * through zlib's gzread; offsets are in the uncompressed stream). Files
 * over 256 MiB uncompressed are refused. Returns 0; HENN_EIO (cannot open,
 * read error, corrupt or truncated gzip), HENN_EFORMAT, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_idx_read(henn_idx *out, const char *path, size_t expect_ndims,
                                          char *err, size_t err_len);

/* henn_idx_clear: free data and zero the struct (safe on a zeroed one). */
HENN_API void henn_idx_clear(henn_idx *x);

/*
 * henn_mnist_load: images (IDX3, count x rows x cols) and labels (IDX1,
 * count) into s. The counts must match; every label must be <= 9.
 * Returns 0; HENN_EIO, HENN_EFORMAT (err names the file and offset: for a
 * count mismatch the offset of the labels' count field, for a bad label its
 * offset), HENN_ENOMEM. On error s is empty.
 */
HENN_API HENN_NODISCARD int henn_mnist_load(henn_mnist_set *s, const char *images_path,
                                            const char *labels_path, char *err, size_t err_len);

/*
 * henn_mnist_split: train = the first n_train images of a seeded shuffle
 * of all (Fisher-Yates with henn's ChaCha20 stream for seed, so the same
 * seed gives the same split on every machine), test = the rest, each in
 * shuffled order. 0 < n_train < all->count. train and test uninitialised.
 * Returns 0, HENN_EINVAL, HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_mnist_split(henn_mnist_set *train, henn_mnist_set *test,
                                             const henn_mnist_set *all, size_t n_train,
                                             uint64_t seed);

/*
 * henn_mnist_subset: dst = images [first, first + count) of src (a copy).
 * Returns 0, HENN_EINVAL (out of range or count 0), HENN_ENOMEM.
 */
HENN_API HENN_NODISCARD int henn_mnist_subset(henn_mnist_set *dst, const henn_mnist_set *src,
                                              size_t first, size_t count);

/*
 * henn_mnist_load_mnist8k: MNIST-8k/2k: dir/t10k-images-idx3-ubyte.gz and
 * dir/t10k-labels-idx1-ubyte.gz (dir: the project's data/mnist), split by
 * henn_mnist_split(8,000, seed). Errors as henn_mnist_load.
 */
HENN_API HENN_NODISCARD int henn_mnist_load_mnist8k(henn_mnist_set *train, henn_mnist_set *test,
                                                    const char *dir, uint64_t seed, char *err,
                                                    size_t err_len);

/*
 * henn_mnist_load_fashion: Fashion-MNIST from dir (NULL:
 * HENN_MNIST_FASHION_DIR): train-{images-idx3,labels-idx1}-ubyte.gz
 * (60,000) and t10k-*.gz (10,000), in file order. Errors as
 * henn_mnist_load (HENN_EIO if the package is not installed).
 */
HENN_API HENN_NODISCARD int henn_mnist_load_fashion(henn_mnist_set *train, henn_mnist_set *test,
                                                    const char *dir, char *err, size_t err_len);

/*
 * henn_mnist_to_float: X[i * rows*cols + j] = pixels of image first + i,
 * scaled to [0, 1] as p / 255.0f, for i < count. X: [count x rows*cols].
 * Returns 0, HENN_EINVAL (range).
 */
HENN_API HENN_NODISCARD int henn_mnist_to_float(float *X, const henn_mnist_set *s, size_t first,
                                                size_t count);

#ifdef __cplusplus
}
#endif

#endif
