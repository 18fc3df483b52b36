#pragma once
// PyTorch's own files: what torch.save(model.state_dict(), "cnn_model.pth")
// writes (the tutorial's checkpoint), read without Python. Since PyTorch 1.6
// that is a ZIP archive (engine/zip_archive.h) holding
//   <name>/data.pkl    the pickled object (engine/pickle.h); each tensor is a call
//                      torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)
//                      whose storage is a persistent id ('storage', torch.FloatStorage,
//                      key, location, numel)
//   <name>/data/<key>  each storage's raw little-endian elements
//   <name>/byteorder   "little" (absent in older files: little)
// The object must be a state_dict: a dict of tensor names to tensors, at the
// top or under one of the keys training scripts use for it (state_dict,
// model_state_dict, model, net). Tensors become contiguous copies with their
// dtype (F32, F16, BF16, I64, I32, U8; F64 is narrowed to F32); views of one
// storage and strided views are resolved. Nothing in the file is executed:
// module objects, TorchScript archives and the pre-1.6 format are refused with
// a message that says how to re-save.
#include <cstdint>
#include <span>
#include <string>

#include "engine/safetensors.h"

namespace cnne {

constexpr const char* kTorchArchive = "archive";  // the folder torch.save uses for buffers
constexpr const char* kTorchMetadataRecord = "cnnengine/metadata.json";

// The state_dict of a torch.save file already in memory, as named tensors;
// metadata "format" is "torch.save" and, when the dict was nested,
// "state_dict_key" names the key it was under. Throws CheckpointError naming
// `path` and what is wrong.
Safetensors parse_torch_file(std::span<const uint8_t> bytes, const std::string& path);

// Writes `file` (its tensors contiguous, as Safetensors holds them) as
// torch.save(OrderedDict(...)) would, atomically (engine/atomic_file.h).
// Throws CheckpointError naming path.
void save_torch_file(const std::string& path, const Safetensors& file);

// "torch.FloatStorage", ... : the storage class torch.save names for a dtype.
const char* torch_storage_type(DType dtype);

// True for paths ending in .pth or .pt: checkpoints written as torch.save files.
bool is_torch_file_path(const std::string& path);

// True for the pre-1.6 torch.save format (a bare pickle starting with its magic number).
bool looks_like_legacy_torch_file(std::span<const uint8_t> bytes);

}  // namespace cnne
