#pragma once
#include <string>
#include <string_view>

namespace cnne {

// Where a tensor lives and which implementation an op runs (DESIGN principle 1).
enum class Device { CPU, CUDA };

std::string_view device_name(Device d);
// Parses "cpu" or "cuda"; throws UsageError naming `what` otherwise.
Device parse_device(std::string_view text, std::string_view what);

}  // namespace cnne
