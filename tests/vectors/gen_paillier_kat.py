#!/usr/bin/env python3
"""Generate tests/vectors/paillier_kat.txt independently of henn.

Everything here uses Python's built-in integers and fractions.Fraction only
(no GMP, no henn code): the Paillier formulas of Paillier 1999 section 3, the
DJN noise h_s^a of DJN 2010 section 4.2, and python-paillier's EncodedNumber
rules as described in docs/FORMATS.md. Deterministic: run it again and the
file is byte-identical.

    python3 tests/vectors/gen_paillier_kat.py > tests/vectors/paillier_kat.txt
"""
import math
import random
from fractions import Fraction

rng = random.Random(20261121)


def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for sp in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % sp == 0:
            return n == sp
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = rng.randrange(2, n - 1)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def prime(bits):
    while True:
        c = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if is_probable_prime(c):
            return c


def L(x, n):
    return (x - 1) // n


def encode(n, x, exponent=None, max_exponent=None):
    """python-paillier EncodedNumber.encode, from its documented rules."""
    max_int = n // 3 - 1
    if exponent is None:
        if isinstance(x, int):
            prec = 0
        else:
            prec = math.floor((math.frexp(x)[1] - 53) / 4)
        exponent = prec if max_exponent is None else min(max_exponent, prec)
    mant = round(Fraction(x) * Fraction(16) ** -exponent)  # ties to even
    if abs(mant) > max_int:
        return None
    return mant % n, exponent


def decode(n, enc, exponent):
    max_int = n // 3 - 1
    if enc <= max_int:
        m = enc
    elif enc >= n - max_int:
        m = enc - n
    else:
        return None
    if exponent >= 0:
        return float(m * 16 ** exponent)
    return m / 16 ** -exponent  # correctly rounded int / int


def out(key, value):
    print(f"{key} = {value}")


# ---- textbook example (small primes; worked by hand in test_paillier.c)
p, q = 7, 11
n = p * q
m, r = 42, 23
out("toy.p", p)
out("toy.q", q)
out("toy.m", m)
out("toy.r", r)
out("toy.c", (1 + m * n) * pow(r, n, n * n) % (n * n))

# ---- 2048-bit key with fixed primes and randomness
while True:
    p, q = prime(1024), prime(1024)
    n = p * q
    if p != q and n.bit_length() == 2048 and math.gcd(n, (p - 1) * (q - 1)) == 1:
        break
if p > q:
    p, q = q, p
n2 = n * n
lam = (p - 1) * (q - 1) // math.gcd(p - 1, q - 1)
mu = pow(L(pow(n + 1, lam, n2), n), -1, n)
out("key.p", p)
out("key.q", q)
out("key.n", n)
out("key.lambda", lam)
out("key.mu", mu)
out("key.hp", pow(L(pow(n + 1, p - 1, p * p), p), -1, p))
out("key.hq", pow(L(pow(n + 1, q - 1, q * q), q), -1, q))
x = rng.randrange(2, n)
h = (-x * x) % n
hs = pow(h, n, n2)
out("key.hs", hs)

for i in range(4):
    m = [0, 1, n - 1, rng.randrange(n)][i]
    r = rng.randrange(1, n)
    while math.gcd(r, n) != 1:
        r = rng.randrange(1, n)
    c = (1 + m * n) * pow(r, n, n2) % n2
    # the textbook decryption, independently of the CRT path under test
    assert L(pow(c, lam, n2), n) * mu % n == m
    out(f"enc{i}.m", m)
    out(f"enc{i}.r", r)
    out(f"enc{i}.c", c)
    a = rng.getrandbits(1024) | (1 << 1023)
    out(f"djn{i}.a", a)
    out(f"djn{i}.c", (1 + m * n) * pow(hs, a, n2) % n2)

# ---- encoding under the 2048-bit key: value(hex) -> encoding, exponent
values = [0.0, -0.0, 1.0, 0.1, -0.1, 3.5, 1e-20, 2.0 ** 60, -2.0 ** 60, 1.5, 0.25,
          3.141592653, -4.6e-12, 1e300, -1e-300, 5e-324, 123456789.123456789,
          2.0 ** -1074 * 3, 0.5, 1.0 / 3.0]
for i, v in enumerate(values):
    enc, e = encode(n, v)
    out(f"encd{i}.x", v.hex())
    out(f"encd{i}.enc", enc)
    out(f"encd{i}.e", e)
    assert decode(n, enc, e) == v
# with max_exponent and precision (fixed exponent)
cases = [(0.5, None, 0), (0.5, 0, None), (1.5, 0, None), (2.5, 0, None), (-2.5, 0, None),
         (0.1, -4, None), (123.456, -2, None), (1e-20, None, -4), (7.75, -1, None)]
for i, (v, exp, maxe) in enumerate(cases):
    enc, e = encode(n, v, exponent=exp, max_exponent=maxe)
    out(f"encx{i}.x", v.hex())
    out(f"encx{i}.exp", "none" if exp is None else exp)
    out(f"encx{i}.max", "none" if maxe is None else maxe)
    out(f"encx{i}.enc", enc)
    out(f"encx{i}.e", e)
# integers
for i, v in enumerate([0, 7, -7, 2 ** 62, -(2 ** 63)]):
    enc, e = encode(n, v)
    out(f"enci{i}.v", v)
    out(f"enci{i}.enc", enc)
    out(f"enci{i}.e", e)
# decoding of arbitrary mantissas: correctly rounded quotients
for i in range(12):
    mant = rng.randrange(-(2 ** 200), 2 ** 200)
    e = -rng.randrange(1, 60)
    out(f"dec{i}.enc", mant % n)
    out(f"dec{i}.e", e)
    out(f"dec{i}.x", decode(n, mant % n, e).hex())
