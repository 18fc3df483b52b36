#include "layers/mul_geometry.h"

#include "engine/error.h"

namespace cnne {

MulGeometry mul_geometry(const Tensor& x, const Tensor& s, const std::string& what) {
  MulGeometry g;
  g.count = x.numel();
  g.planes = s.numel();
  if (g.planes == g.count) {
    if (s.channels_last != x.channels_last)
      throw Error(what + ": x and s of one shape in different layouts");
    return g;
  }
  if (x.shape.rank() != 4 || g.planes != x.shape[0] * x.shape[1])
    throw Error(what + ": s " + s.shape.str() + " is neither x's shape " + x.shape.str() +
                " nor one gate per (n, c) of it");
  g.channels = x.shape[1];
  g.area = x.shape[2] * x.shape[3];
  g.channels_last = x.channels_last;
  return g;
}

}  // namespace cnne
