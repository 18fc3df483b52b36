#pragma once
// Note [mixed precision]: with training.precision "bf16" or "fp16" the
// network keeps its activations and their gradients in 16 bits (every node
// output, every gradient buffer, dropout masks, the batch input). Parameters,
// gradients, BatchNorm statistics and optimizer state stay F32: the
// optimizer updates F32 master weights. A conv2d or linear layer rounds its
// F32 weight into a 16-bit copy at each forward (PyTorch autocast's cast),
// computes with it (cuDNN/cuBLAS with F32 accumulation, tensor cores on the
// GPU); conv2d writes its weight gradient in 16 bits (cuDNN's rule) and widens
// it into the F32 gradient, linear writes it in F32 directly. Biases and
// BatchNorm's scale and shift are read in F32.
// The CPU reference emulates this as "16-bit storage, F32 compute": each op
// widens its 16-bit inputs, runs the F32 reference and rounds its outputs
// once, with the GPU's bias roundings (engine/ops_mixed_cpu.cpp), so
// GPU-vs-CPU tests compare like with like. fp16's narrow range needs loss
// scaling (engine/loss_scaler.h): the softmax-CE kernel multiplies the loss
// gradient by the scale before rounding it, and every parameter gradient is
// divided by it before the update. Dynamic by default (PyTorch's
// GradScaler): a step with a NaN/Inf gradient is skipped and the scale
// halved; it doubles after a run of good steps.
#include <string>

#include "engine/tensor.h"

namespace cnne {

enum class Precision { FP32, BF16, FP16 };

// The dtype of activations under `p`: F32, BF16 or F16.
DType activation_dtype(Precision p);
// The config's spelling: "fp32", "bf16", "fp16".
const char* precision_name(Precision p);
// Parses the config's spelling; false when unknown.
bool parse_precision(const std::string& text, Precision& out);

}  // namespace cnne
