/* Private declarations shared by the two parties of private training
 * (henn/protocol.h, "Private training"): the PMODEL and PGRAD payloads
 * and the owner's batch gradient (also used by the tests' twin). */
#ifndef HENN_KDD_PRIVATE_H
#define HENN_KDD_PRIVATE_H

#include "proto_internal.h"

/* IEEE-754 values on the wire, big-endian bit patterns. */
void henn__wbuf_f32(henn__wbuf *w, float v);
void henn__wbuf_f64(henn__wbuf *w, double v);
float henn__rbuf_f32(henn__rbuf *r);
double henn__rbuf_f64(henn__rbuf *r);

/*
 * PMODEL payload: u32 layers, u32 output, u32 dims[layers + 1], u32
 * act[layers] (act[layers - 1] = 0), u64 step, then per layer W (f32,
 * [dims[l+1] x dims[l]]) and b (f32, [dims[l+1]]).
 */
void henn__pmodel_write(henn__wbuf *w, const henn_nn_model *m, uint64_t step);
/* Read into m (initialised empty by the caller, cleared on failure):
 * HENN_EFORMAT for malformed input, layers outside 1..HENN_NN_MAX_LAYERS
 * or widths outside 1..HENN_NN_MAX_DIM, a non-finite weight. */
int henn__pmodel_read(henn__rbuf *r, henn_nn_model *m, uint64_t *step);

/*
 * The owner's batch gradient (double precision). A[l] [c x dims[l]] are
 * the inputs of layer l as the owner encrypted them (A[0] = x), Z[l]
 * [c x dims[l+1]] the decrypted pre-activations (Z[layers-1] the logits);
 * y [c] labels. gW[l] [dims[l+1] x dims[l]] and gb[l] [dims[l+1]] get the
 * SUMS over the c rows of d loss_s / d W (the loss of henn_nn_backprop:
 * softmax-CE or sigmoid-MSE per row); loss gets the summed row loss.
 * The activation derivatives use Z (ReLU) or act(Z) (sigmoid, tanh).
 * HENN_EINVAL (a label >= classes), HENN_ENOMEM.
 */
int henn__private_grad(double **gW, double **gb, double *loss, const henn_nn_model *m,
                       const double *const *A, const double *const *Z, const uint8_t *y,
                       size_t c);

/* The activation a applied to z in double precision. */
double henn__private_act(henn_nn_act a, double z);

#endif
