#pragma once
// A restricted unpickler: it reads the pickle opcodes that torch.save's data.pkl
// and CIFAR's Python version use (protocols 2 to 5) into a graph of plain objects and never runs or
// imports anything. A class or function reference (GLOBAL) stays a name; calling
// one (REDUCE, NEWOBJ) records the call and its arguments for the reader to
// interpret (engine/torch_file.cpp knows torch's tensor rebuilders), except
// collections.OrderedDict(), which is a dict. Objects live in one arena and
// refer to each other by index, so self-referencing pickles cannot leak or loop.
// Every read is bounds-checked; a malformed pickle is a CheckpointError naming
// `where` and the byte offset.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cnne::pickle {

using Ref = uint32_t;

enum class Kind : uint8_t {
  None,
  Bool,
  Int,
  Float,
  String,  // text (UTF-8 bytes as stored)
  Bytes,
  Tuple,
  List,
  Dict,          // items: key, value, key, value, ...
  Global,        // text: "module.name"
  Call,          // items: callable, arguments (a tuple), then BUILD's state if one was set;
                 // items appended or set on it are dropped
  PersistentId,  // items: the persistent id (torch: ('storage', type, key, location, numel))
};

struct Object {
  Kind kind = Kind::None;
  int64_t integer = 0;  // Bool, Int
  double real = 0;      // Float
  std::string text;     // String, Bytes, Global
  std::vector<Ref> items;
};

struct Unpickled {
  std::vector<Object> objects;
  Ref root = 0;

  const Object& at(Ref r) const { return objects[r]; }
};

// Throws CheckpointError "<where>: pickle ..." on any malformed or unsupported input.
Unpickled unpickle(std::span<const uint8_t> bytes, const std::string& where);

// "an int", "a dict", "a call of torch._utils._rebuild_tensor_v2", ... for messages.
std::string describe(const Unpickled& p, Ref r);

}  // namespace cnne::pickle
