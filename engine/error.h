#pragma once
// Errors are exceptions that say what and where (DESIGN principle 5). The CLI
// catches them at the top, prints what() on one line and exits non-zero.
#include <stdexcept>
#include <string>

namespace cnne {

// Base of every error cnnengine throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// A bad config file or key: the message names the file/layer/key.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A missing or malformed data file: the message names the file.
class DataError : public Error {
 public:
  using Error::Error;
};

// A missing, malformed or mismatched checkpoint: the message names the file.
class CheckpointError : public Error {
 public:
  using Error::Error;
};

// A bad command line: unknown flag, missing or out-of-range value.
class UsageError : public Error {
 public:
  using Error::Error;
};

// NaN or Inf in the loss or the gradients: the message names the step and the
// first layer where the values went non-finite.
class NumericalError : public Error {
 public:
  using Error::Error;
};

// A failure of the CUDA runtime, cuDNN or cuBLAS, or a missing device.
class DeviceError : public Error {
 public:
  using Error::Error;
};

}  // namespace cnne
