#pragma once
// Transcendental functions from IEEE basic operations only (+, -, *, /, rint,
// exact scaling by 2^k), so the host (built with -ffp-contract=off) and a
// device file built with -fmad=false compute the same bits, where the CUDA
// and C libraries' exp may differ in the last place. For per-image draws
// (RandomErasing's aspect ratio), not for bulk arithmetic.
#include <cmath>

#include "engine/host_device.h"

namespace cnne {

// exp(x) for |x| <= 700: x = k ln2 + r with |r| <= ln2 / 2 (ln2 in two parts,
// Cody and Waite), e^r by its Taylor series to r^17 in Horner's form (the
// terms after that are below 2^-60 of the sum), then times 2^k. Within 1 ulp
// of the C library's exp over [-20, 20] (tests/random_erasing_test.cpp).
CNNE_HOST_DEVICE inline double portable_exp(double x) {
  constexpr double kLn2High = 0.693147180369123816490;    // ln 2 to 32 bits: k * it is exact
  constexpr double kLn2Low = 1.90821492927058770002e-10;  // ln 2 - kLn2High
  constexpr double kInvLn2 = 1.44269504088896338700;
  const double k = rint(x * kInvLn2);
  const double r = (x - k * kLn2High) - k * kLn2Low;
  double sum = 1.0;  // Horner: 1 + r (1 + r/2 (1 + r/3 (...)))
  for (int n = 17; n >= 1; --n) sum = 1.0 + sum * r / n;
  return ldexp(sum, static_cast<int>(k));
}

}  // namespace cnne
