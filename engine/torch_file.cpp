#include "engine/torch_file.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/pickle.h"
#include "engine/zip_archive.h"

namespace cnne {
namespace {

using pickle::Kind;
using pickle::Ref;

// How a torch storage (or, for _rebuild_tensor_v3, a torch dtype) is read.
struct ElementType {
  const char* storage;  // torch.FloatStorage
  const char* dtype;    // torch.float32
  DType read_as;
  size_t size;  // bytes per element in the file
};
constexpr std::array<ElementType, 7> kElementTypes{{
    {"torch.FloatStorage", "torch.float32", DType::F32, 4},
    {"torch.DoubleStorage", "torch.float64", DType::F32, 8},  // narrowed to F32
    {"torch.HalfStorage", "torch.float16", DType::F16, 2},
    {"torch.BFloat16Storage", "torch.bfloat16", DType::BF16, 2},
    {"torch.LongStorage", "torch.int64", DType::I64, 8},
    {"torch.IntStorage", "torch.int32", DType::I32, 4},
    {"torch.ByteStorage", "torch.uint8", DType::U8, 1},
}};
constexpr const char* kUntypedStorage = "torch.UntypedStorage";
constexpr const char* kStateDictKeys[] = {"state_dict", "model_state_dict", "model", "net"};
constexpr uint8_t kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                    0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kMaxElements = int64_t{1} << 40;

const ElementType* element_type(const std::string& global) {
  for (const ElementType& t : kElementTypes)
    if (global == t.storage || global == t.dtype) return &t;
  return nullptr;
}

class StateDictReader {
 public:
  StateDictReader(const ZipArchive& zip, std::string prefix, const pickle::Unpickled& p,
                  const std::string& path)
      : zip_(zip), prefix_(std::move(prefix)), p_(p), path_(path) {}

  CheckpointError fail(const std::string& why) const { return CheckpointError(path_ + ": " + why); }

  const pickle::Object& at(Ref r) const { return p_.at(r); }

  // The global a Call object calls, or "".
  std::string callee(Ref r) const {
    const pickle::Object& o = at(r);
    if (o.kind != Kind::Call || at(o.items[0]).kind != Kind::Global) return "";
    return at(o.items[0]).text;
  }
  const std::vector<Ref>& arguments(Ref call) const { return at(at(call).items[1]).items; }

  bool is_tensor(Ref r) const {
    const std::string f = callee(r);
    return f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor_v3" ||
           f == "torch._utils._rebuild_parameter" ||
           f == "torch._utils._rebuild_parameter_with_state" ||
           f == "torch._tensor._rebuild_from_type_v2";
  }

  bool is_state_dict(Ref r) const {
    const pickle::Object& d = at(r);
    if (d.kind != Kind::Dict || d.items.empty()) return false;
    for (size_t i = 0; i < d.items.size(); i += 2)
      if (at(d.items[i]).kind != Kind::String || !is_tensor(d.items[i + 1])) return false;
    return true;
  }

  Safetensors read_state_dict(Ref dict) {
    Safetensors out;
    const pickle::Object& d = at(dict);
    for (size_t i = 0; i < d.items.size(); i += 2) {
      const std::string& name = at(d.items[i]).text;
      if (out.find(name)) throw fail("tensor '" + name + "' appears twice");
      out.tensors.push_back(read_tensor(d.items[i + 1], name, 0));
    }
    return out;
  }

 private:
  int64_t integer(Ref r, const std::string& name, const char* what) const {
    if (at(r).kind != Kind::Int)
      throw fail("tensor '" + name + "': its " + what + " is " + pickle::describe(p_, r) +
                 ", expected an int");
    return at(r).integer;
  }
  std::vector<int64_t> integers(Ref r, const std::string& name, const char* what) const {
    if (at(r).kind != Kind::Tuple)
      throw fail("tensor '" + name + "': its " + what + " is " + pickle::describe(p_, r) +
                 ", expected a tuple");
    std::vector<int64_t> v;
    for (Ref x : at(r).items) v.push_back(integer(x, name, what));
    return v;
  }

  SafetensorsTensor read_tensor(Ref r, const std::string& name, int depth) {
    const std::string f = callee(r);
    const std::vector<Ref>& args = arguments(r);
    auto need = [&](size_t n) {
      if (args.size() < n)
        throw fail("tensor '" + name + "': " + f + " has " + std::to_string(args.size()) +
                   " arguments, expected at least " + std::to_string(n));
    };
    if (depth > 4) throw fail("tensor '" + name + "' is nested too deeply");
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
      need(1);
      if (!is_tensor(args[0])) throw fail("tensor '" + name + "': a parameter without a tensor");
      return read_tensor(args[0], name, depth + 1);
    }
    if (f == "torch._tensor._rebuild_from_type_v2") {  // (func, subclass, func's args, state)
      need(3);
      const Ref inner = args[0], inner_args = args[2];
      if (at(inner).kind != Kind::Global || at(inner_args).kind != Kind::Tuple)
        throw fail("tensor '" + name + "': a tensor subclass cnnengine cannot rebuild");
      return read_rebuild(at(inner).text, at(inner_args).items, name);
    }
    return read_rebuild(f, args, name);
  }

  SafetensorsTensor read_rebuild(const std::string& f, const std::vector<Ref>& args,
                                 const std::string& name) {
    const bool v3 = f == "torch._utils._rebuild_tensor_v3";
    if (f != "torch._utils._rebuild_tensor_v2" && !v3)
      throw fail("tensor '" + name + "' is rebuilt by " + f +
                 "; cnnengine reads dense tensors (_rebuild_tensor_v2)");
    if (args.size() < (v3 ? 7u : 4u))
      throw fail("tensor '" + name + "': " + f + " has " + std::to_string(args.size()) +
                 " arguments, expected " + (v3 ? "7" : "at least 4"));

    // The storage: persistent id ('storage', type, key, location, numel).
    const pickle::Object& pid = at(args[0]);
    const pickle::Object* id = pid.kind == Kind::PersistentId ? &at(pid.items[0]) : nullptr;
    if (!id || id->kind != Kind::Tuple || id->items.size() < 5 ||
        at(id->items[0]).kind != Kind::String || at(id->items[0]).text != "storage" ||
        at(id->items[1]).kind != Kind::Global || at(id->items[2]).kind != Kind::String)
      throw fail("tensor '" + name + "' has no storage reference ('storage', type, key, ...)");
    const std::string& storage_type = at(id->items[1]).text;
    const std::string& key = at(id->items[2]).text;
    const int64_t storage_numel = integer(id->items[4], name, "storage size");

    const ElementType* type = nullptr;
    int64_t storage_elements = storage_numel;                    // of the tensor's dtype
    const bool untyped = storage_type == kUntypedStorage && v3;  // its numel counts bytes
    if (untyped) {
      if (at(args[6]).kind != Kind::Global)
        throw fail("tensor '" + name + "': its dtype is " + pickle::describe(p_, args[6]));
      type = element_type(at(args[6]).text);
      if (!type) throw unsupported(name, at(args[6]).text);
      storage_elements = storage_numel / static_cast<int64_t>(type->size);
    } else {
      type = element_type(storage_type);
      if (!type) throw unsupported(name, storage_type);
    }

    const int64_t offset = integer(args[1], name, "storage offset");
    const std::vector<int64_t> size = integers(args[2], name, "size");
    const std::vector<int64_t> stride = integers(args[3], name, "stride");
    if (size.size() != stride.size())
      throw fail("tensor '" + name + "' has " + std::to_string(size.size()) + " sizes and " +
                 std::to_string(stride.size()) + " strides");
    if (size.size() > static_cast<size_t>(Shape::kMaxRank))
      throw fail("tensor '" + name + "' has rank " + std::to_string(size.size()) +
                 ", cnnengine's tensors have at most " + std::to_string(Shape::kMaxRank));
    if (offset < 0 || offset > kMaxElements || storage_numel < 0 || storage_numel > kMaxElements)
      throw fail("tensor '" + name + "' has a negative or huge storage offset or size");
    // numel, and the last element the view reaches, saturated at kMaxElements + 1
    // (each product is checked before it is taken: nothing overflows).
    int64_t numel = 1, last = offset;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0 || size[i] > kMaxElements || stride[i] > kMaxElements)
        throw fail("tensor '" + name + "' has a negative or huge size or stride");
      if (size[i] != 0 && numel > kMaxElements / size[i])
        throw fail("tensor '" + name + "' is too large");
      numel *= size[i];
      const int64_t room = kMaxElements + 1 - last;  // last <= kMaxElements + 1
      if (size[i] > 1 && stride[i] > 0)
        last = size[i] - 1 > room / stride[i] ? kMaxElements + 1
                                              : last + std::min(room, (size[i] - 1) * stride[i]);
    }
    if (numel > 0 && last >= storage_elements)
      throw fail("tensor '" + name + "' reaches element " + std::to_string(last) +
                 " of a storage of " + std::to_string(storage_elements));

    const std::span<const uint8_t> storage = storage_bytes(
        key, name, untyped ? storage_numel : storage_numel * static_cast<int64_t>(type->size));
    SafetensorsTensor t;
    t.name = name;
    t.dtype = type->read_as;
    t.shape = Shape::of(size);
    const size_t elem = type->size;
    std::vector<uint8_t> dense(static_cast<size_t>(numel) * elem);
    // Row-major views (every state_dict tensor torch.save writes of a model)
    // are one block; others are walked in row-major order, an odometer over `size`.
    bool row_major = true;
    for (int64_t d = static_cast<int64_t>(size.size()) - 1, step = 1; d >= 0; --d) {
      const size_t i = static_cast<size_t>(d);
      row_major = row_major && (size[i] == 1 || stride[i] == step);
      step *= size[i];
    }
    std::vector<int64_t> index(size.size(), 0);
    int64_t source = offset;
    if (row_major && numel > 0)
      std::memcpy(dense.data(), storage.data() + static_cast<size_t>(offset) * elem, dense.size());
    for (int64_t n = 0; n < numel && !row_major; ++n) {
      std::memcpy(dense.data() + static_cast<size_t>(n) * elem,
                  storage.data() + static_cast<size_t>(source) * elem, elem);
      for (size_t d = size.size(); d-- > 0;) {
        source += stride[d];
        if (++index[d] < size[d]) break;
        source -= stride[d] * size[d];
        index[d] = 0;
      }
    }
    if (elem == 8 && type->read_as == DType::F32) {  // float64, narrowed
      t.bytes.resize(static_cast<size_t>(numel) * 4);
      for (int64_t i = 0; i < numel; ++i) {
        double v;
        std::memcpy(&v, dense.data() + i * 8, 8);
        const float narrow = static_cast<float>(v);
        std::memcpy(t.bytes.data() + i * 4, &narrow, 4);
      }
    } else {
      t.bytes = std::move(dense);
    }
    return t;
  }

  CheckpointError unsupported(const std::string& name, const std::string& type) const {
    return fail("tensor '" + name + "' is a " + type +
                " tensor; cnnengine reads float32/64, float16, bfloat16, int64, int32 and "
                "uint8 tensors");
  }

  std::span<const uint8_t> storage_bytes(const std::string& key, const std::string& name,
                                         int64_t expected) {
    if (auto it = storages_.find(key); it != storages_.end())
      return check(it->second, key, name, expected);
    const ZipEntry* e = zip_.find(prefix_ + "data/" + key);
    if (!e)
      throw fail("tensor '" + name + "': storage '" + prefix_ + "data/" + key + "' is missing");
    const std::span<const uint8_t> bytes = zip_.read(*e);
    storages_.emplace(key, bytes);
    return check(bytes, key, name, expected);
  }
  std::span<const uint8_t> check(std::span<const uint8_t> bytes, const std::string& key,
                                 const std::string& name, int64_t expected) const {
    if (static_cast<int64_t>(bytes.size()) < expected)
      throw fail("tensor '" + name + "': storage '" + prefix_ + "data/" + key + "' has " +
                 std::to_string(bytes.size()) + " bytes, its header says " +
                 std::to_string(expected));
    return bytes;
  }

  const ZipArchive& zip_;
  std::string prefix_;
  const pickle::Unpickled& p_;
  const std::string& path_;
  std::map<std::string, std::span<const uint8_t>> storages_;
};

constexpr const char* kResave = "save the weights with torch.save(model.state_dict(), path)";

}  // namespace

const char* torch_storage_type(DType dtype) {
  for (const ElementType& t : kElementTypes)
    if (t.read_as == dtype && t.size == dtype_size(dtype)) return t.storage;
  throw CheckpointError(std::string("no torch storage type for ") + dtype_name(dtype));
}

bool is_torch_file_path(const std::string& path) {
  return path.ends_with(".pth") || path.ends_with(".pt");
}

bool looks_like_legacy_torch_file(std::span<const uint8_t> bytes) {
  return bytes.size() >= sizeof kLegacyMagic &&
         std::memcmp(bytes.data(), kLegacyMagic, sizeof kLegacyMagic) == 0;
}

Safetensors parse_torch_file(std::span<const uint8_t> bytes, const std::string& path) {
  if (looks_like_legacy_torch_file(bytes))
    throw CheckpointError(path +
                          ": the legacy torch.save format (PyTorch before 1.6, or "
                          "_use_new_zipfile_serialization=False); re-save it with a current "
                          "PyTorch: torch.save(torch.load(path), path)");
  const ZipArchive zip(bytes, path);
  std::string prefix;
  int pickles = 0;
  for (const ZipEntry& e : zip.entries()) {
    if (e.name.ends_with("constants.pkl") || e.name.find("/code/") != std::string::npos)
      throw CheckpointError(path + ": a TorchScript archive (torch.jit.save), not a state_dict; " +
                            kResave);
    if (e.name.ends_with("data.pkl")) {
      const std::string p = e.name.substr(0, e.name.size() - 8);
      if (p.empty() || (p.back() == '/' && p.find('/') == p.size() - 1)) {
        prefix = p;
        ++pickles;
      }
    }
  }
  if (pickles != 1)
    throw CheckpointError(path + ": a ZIP archive with " + std::to_string(pickles) +
                          " top-level data.pkl entries; torch.save writes exactly one");
  if (const ZipEntry* order = zip.find(prefix + "byteorder")) {
    const std::span<const uint8_t> b = zip.read(*order);
    if (std::string(b.begin(), b.end()) != "little")
      throw CheckpointError(path +
                            ": its tensors are stored big-endian; cnnengine reads "
                            "little-endian files");
  }
  const pickle::Unpickled p =
      pickle::unpickle(zip.read(*zip.find(prefix + "data.pkl")), path + ": " + prefix + "data.pkl");
  StateDictReader reader(zip, prefix, p, path);
  const pickle::Object& root = p.at(p.root);
  if (root.kind != Kind::Dict)
    throw CheckpointError(path + ": holds " + pickle::describe(p, p.root) +
                          ", not a state_dict of tensors; " + kResave);
  Ref chosen = p.root;
  std::string chosen_key;
  if (!reader.is_state_dict(p.root)) {
    bool found = false;
    for (size_t i = 0; i < root.items.size() && !found; i += 2)
      for (const char* key : kStateDictKeys)
        if (p.at(root.items[i]).kind == Kind::String && p.at(root.items[i]).text == key &&
            reader.is_state_dict(root.items[i + 1])) {
          chosen = root.items[i + 1];
          chosen_key = key;
          found = true;
          break;
        }
    if (!found) {
      if (root.items.empty()) throw CheckpointError(path + ": holds an empty dict, no tensors");
      std::string keys;
      bool some_tensor = false;
      for (size_t i = 0; i < root.items.size(); i += 2) {
        some_tensor = some_tensor || reader.is_tensor(root.items[i + 1]);
        if (i < 16)
          keys += (i ? ", " : "") + (p.at(root.items[i]).kind == Kind::String
                                         ? "'" + p.at(root.items[i]).text + "'"
                                         : pickle::describe(p, root.items[i]));
      }
      if (root.items.size() > 16) keys += ", ...";
      if (some_tensor)
        for (size_t i = 0; i < root.items.size(); i += 2)
          if (!reader.is_tensor(root.items[i + 1]) || p.at(root.items[i]).kind != Kind::String)
            throw CheckpointError(
                path + ": a dict of tensors whose entry " +
                (p.at(root.items[i]).kind == Kind::String ? "'" + p.at(root.items[i]).text + "'"
                                                          : pickle::describe(p, root.items[i])) +
                " is " + pickle::describe(p, root.items[i + 1]) + ", not a tensor");
      throw CheckpointError(path + ": holds a dict (keys " + keys +
                            ") with no state_dict at the top or under 'state_dict', "
                            "'model_state_dict', 'model' or 'net'; " +
                            kResave);
    }
  }
  Safetensors out = reader.read_state_dict(chosen);
  out.metadata["format"] = "torch.save";
  if (const ZipEntry* record = zip.find(prefix + kTorchMetadataRecord)) {  // cnnengine wrote it
    const std::span<const uint8_t> text = zip.read(*record);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception&) {
      throw CheckpointError(path + ": " + prefix + kTorchMetadataRecord + " is not valid JSON");
    }
    if (!j.is_object())
      throw CheckpointError(path + ": " + prefix + kTorchMetadataRecord + " is not a JSON object");
    for (const auto& [key, value] : j.items()) {
      if (!value.is_string())
        throw CheckpointError(path + ": " + prefix + kTorchMetadataRecord + ": '" + key +
                              "' is not a string");
      out.metadata[key] = value.get<std::string>();
    }
  }
  if (!chosen_key.empty()) out.metadata["state_dict_key"] = chosen_key;
  return out;
}

}  // namespace cnne
