// Normal variates from the Philox counter stream.
#include "runtime/rng.h"

#include <cmath>

namespace alibi {

double rng_normal(uint64_t key, uint64_t index) {
  const Philox4 r = philox4x32(index, 0, key);
  const uint64_t a = (uint64_t{r.v[0]} << 32 | r.v[1]) >> 11;
  const uint64_t b = (uint64_t{r.v[2]} << 32 | r.v[3]) >> 11;
  const double u1 = (static_cast<double>(a) + 1.0) * 0x1.0p-53;  // (0, 1]: log is finite
  const double u2 = static_cast<double>(b) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace alibi
