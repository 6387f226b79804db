/* Fuzz the protocol message handlers of both parties (a long-lived owner
 * and trainer under the fixed fuzz key; a 4-3-2 model). Every input gets a
 * well-formed response, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_keys.h"

void henn__trainer_allow_insecure(henn_trainer *t);

static henn_owner *owner;
static henn_trainer *trainer;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *resp;
    size_t resp_len;
    if (owner == NULL) {
        size_t dims[3] = {4, 3, 2};
        henn_nn_model m;
        henn_nn_opts o;
        fuzz_setup();
        henn_nn_opts_default(&o);
        if (henn_nn_model_init(&m, dims, 3, HENN_NN_SIGMOID, HENN_NN_SOFTMAX_CE, 1) ||
            henn_owner_new(&owner, &fuzz_sk, NULL) || henn_trainer_new(&trainer, &m, &o, NULL))
            __builtin_trap();
        henn__trainer_allow_insecure(trainer);
        henn_nn_model_clear(&m);
    }
    if (henn_trainer_handle(trainer, data, size, &resp, &resp_len) != 0 ||
        henn_msg_type(resp, resp_len) < 0)
        __builtin_trap();
    free(resp);
    if (henn_owner_handle(owner, data, size, &resp, &resp_len) != 0 ||
        henn_msg_type(resp, resp_len) < 0)
        __builtin_trap();
    free(resp);
    return 0;
}
