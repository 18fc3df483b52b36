#include "engine/device.h"

#include "engine/error.h"

namespace cnne {

std::string_view device_name(Device d) {
  return d == Device::CPU ? "cpu" : "cuda";
}

Device parse_device(std::string_view text, std::string_view what) {
  if (text == "cpu") return Device::CPU;
  if (text == "cuda" || text == "gpu") return Device::CUDA;
  throw UsageError(std::string(what) + ": unknown device '" + std::string(text) +
                   "', expected cpu or cuda");
}

}  // namespace cnne
