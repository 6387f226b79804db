/*
 * henn/henn.h: umbrella header for libhenn, a library for machine learning
 * on encrypted data. Include this, or the module headers one by one.
 *
 * Modules: common.h (errors, wiping, randomness, batch options),
 * paillier.h (Paillier 1999 with DJN and CRT speed-ups, python-paillier
 * compatible encoding and formats, packing), ckks.h (full-RNS CKKS), fe.h
 * (functional encryption for inner products, FEIP and FEBO, on ristretto255).
 */
#ifndef HENN_HENN_H
#define HENN_HENN_H

#include "ckks.h"
#include "cnn.h"
#include "common.h"
#include "fe.h"
#include "kdd.h"
#include "lr.h"
#include "lrproto.h"
#include "mnist.h"
#include "nn.h"
#include "paillier.h"
#include "protocol.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* henn_version_string: the version of the linked library ("0.1.0"). */
HENN_API const char *henn_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
