#pragma once
// The bodies of the fuzz targets (libFuzzer mains in fuzz_*.cpp) and of the
// regression test that replays their corpora (tests/fuzz_regression_test.cpp).
// Each feeds arbitrary bytes to one reader of untrusted input. A cnne::Error
// is the expected answer to bad input; anything else escaping (another
// exception, a crash, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>

namespace cnne::fuzz {

void config_one(const uint8_t* data, size_t size);  // JSON text -> Config -> Network
void cifar_one(const uint8_t* data, size_t size);   // CIFAR batch bytes (binary, pickled) -> ImageDataset
// [images length: 2 bytes, little-endian][images file][labels file], each
// file plain or gzip -> idx::read_pair
void idx_one(const uint8_t* data, size_t size);
void checkpoint_one(const uint8_t* data,
                    size_t size);  // safetensors bytes -> checkpoint -> weights
// [mode byte][rest]: mode even, rest is a whole torch.save archive; odd, rest
// is its data.pkl, wrapped in an archive with storages data/0..data/15 of 4 KiB
// each (so the pickle is fuzzed past the CRC checks) -> parse_torch_file
void torch_one(const uint8_t* data, size_t size);
// PNG or PGM/PPM bytes -> decode_image -> to_network_input at 3 x 32 x 32 and 1 x 28 x 28
void image_one(const uint8_t* data, size_t size);

}  // namespace cnne::fuzz
