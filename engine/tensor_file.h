#pragma once
// Reads a file of named tensors in either format a user brings: safetensors
// (cnnengine's checkpoints, safetensors.torch.save_file) or PyTorch's own
// torch.save ZIP archive (the tutorial's cnn_model.pth, torchvision's
// resnet18-*.pth; engine/torch_file.h). The format is told by the file's first
// bytes, not its name.
#include <string>

#include "engine/safetensors.h"

namespace cnne {

// Throws CheckpointError naming `path`: missing, unreadable, or malformed in its
// format. With `torch_format`, says whether the file was a torch.save one.
Safetensors load_tensor_file(const std::string& path, bool* torch_format = nullptr);

}  // namespace cnne
