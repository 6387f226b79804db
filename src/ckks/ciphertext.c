/* CKKS plaintext and ciphertext storage: reserve, copy, clear. */
#include <stdlib.h>
#include <string.h>

#include "ckks/ckks_internal.h"

/* Make room for `words` uint64_t in *data (holding *alloc words); old
 * contents are wiped when the buffer moves. */
static int reserve_words(uint64_t **data, size_t *alloc, size_t words)
{
    if (*data != NULL && *alloc >= words)
        return 0;
    if (words == 0 || words > SIZE_MAX / sizeof(uint64_t))
        return HENN_EINVAL;
    uint64_t *p = malloc(words * sizeof(uint64_t));
    if (p == NULL)
        return HENN_ENOMEM;
    if (*data != NULL)
        henn_free(*data, *alloc * sizeof(uint64_t));
    *data = p;
    *alloc = words;
    return 0;
}

int henn__ckks_ct_reserve(henn_ckks_ct *ct, const henn_ckks_params *params, size_t size,
                          size_t level, double scale)
{
    if (ct == NULL || params == NULL || params->tables == NULL || size < 1 || size > 3 ||
        level >= params->L)
        return HENN_EINVAL;
    int rc = reserve_words(&ct->data, &ct->alloc, size * (level + 1) * params->N);
    if (rc != 0)
        return rc;
    ct->params = params;
    ct->size = size;
    ct->level = level;
    ct->scale = scale;
    return 0;
}

int henn__ckks_pt_reserve(henn_ckks_pt *pt, const henn_ckks_params *params, size_t level,
                          double scale)
{
    if (pt == NULL || params == NULL || params->tables == NULL || level >= params->L)
        return HENN_EINVAL;
    int rc = reserve_words(&pt->data, &pt->alloc, (level + 1) * params->N);
    if (rc != 0)
        return rc;
    pt->params = params;
    pt->level = level;
    pt->scale = scale;
    return 0;
}

void henn_ckks_pt_clear(henn_ckks_pt *pt)
{
    if (pt == NULL)
        return;
    henn_free(pt->data, pt->alloc * sizeof(uint64_t));
    memset(pt, 0, sizeof(*pt));
}

void henn_ckks_ct_clear(henn_ckks_ct *ct)
{
    if (ct == NULL)
        return;
    henn_free(ct->data, ct->alloc * sizeof(uint64_t));
    memset(ct, 0, sizeof(*ct));
}

int henn_ckks_ct_copy(henn_ckks_ct *dst, const henn_ckks_ct *src)
{
    if (dst == NULL || src == NULL || src->params == NULL || src->data == NULL)
        return HENN_EINVAL;
    if (dst == src)
        return 0;
    int rc = henn__ckks_ct_reserve(dst, src->params, src->size, src->level, src->scale);
    if (rc != 0)
        return rc;
    memcpy(dst->data, src->data, src->size * (src->level + 1) * src->params->N * sizeof(uint64_t));
    return 0;
}
