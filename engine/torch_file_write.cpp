// save_torch_file: a state_dict as torch.save writes it (engine/torch_file.h).
#include <nlohmann/json.hpp>

#include "engine/atomic_file.h"
#include "engine/error.h"
#include "engine/torch_file.h"
#include "engine/zip_writer.h"

namespace cnne {
namespace {

// The opcodes of pickle protocol 2 that a state_dict needs (CPython's Lib/pickle.py).
class PickleWriter {
 public:
  void proto() { op(0x80, 2); }
  void stop() { out_.push_back('.'); }
  void mark() { out_.push_back('('); }
  void tuple() { out_.push_back('t'); }
  void empty_tuple() { out_.push_back(')'); }
  void reduce() { out_.push_back('R'); }
  void setitems() { out_.push_back('u'); }
  void binpersid() { out_.push_back('Q'); }
  void boolean(bool v) { out_.push_back(v ? 0x88 : 0x89); }
  void global(const std::string& module, const std::string& name) {
    out_.push_back('c');
    text(module + "\n" + name + "\n");
  }
  void global(const std::string& dotted) {  // "torch.FloatStorage"
    const size_t dot = dotted.rfind('.');
    global(dotted.substr(0, dot), dotted.substr(dot + 1));
  }
  void string(const std::string& s) {
    out_.push_back('X');
    le(s.size(), 4);
    text(s);
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K', static_cast<uint8_t>(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_.push_back('J');
      le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      op(0x8a, 8);  // LONG1, 8 bytes two's complement
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void ints(const std::vector<int64_t>& v) {
    if (v.empty()) return empty_tuple();
    mark();
    for (int64_t x : v) integer(x);
    tuple();
  }
  const std::vector<uint8_t>& bytes() const { return out_; }

 private:
  void op(uint8_t code, uint8_t arg) {
    out_.push_back(code);
    out_.push_back(arg);
  }
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void text(const std::string& s) { out_.insert(out_.end(), s.begin(), s.end()); }

  std::vector<uint8_t> out_;
};

}  // namespace

void save_torch_file(const std::string& path, const Safetensors& file) {
  // OrderedDict([(name, _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())), ...])
  PickleWriter p;
  p.proto();
  p.global("collections", "OrderedDict");
  p.empty_tuple();
  p.reduce();
  p.mark();
  for (size_t k = 0; k < file.tensors.size(); ++k) {
    const SafetensorsTensor& t = file.tensors[k];
    std::vector<int64_t> size, stride(static_cast<size_t>(t.shape.rank()));
    for (int d = 0; d < t.shape.rank(); ++d) size.push_back(t.shape[d]);
    int64_t step = 1;
    for (int d = t.shape.rank(); d-- > 0;) {
      stride[static_cast<size_t>(d)] = step;
      step *= t.shape[d];
    }
    p.string(t.name);
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.mark();
    p.mark();  // the persistent id: ('storage', torch.FloatStorage, key, 'cpu', numel)
    p.string("storage");
    p.global(torch_storage_type(t.dtype));
    p.string(std::to_string(k));
    p.string("cpu");
    p.integer(t.shape.numel());
    p.tuple();
    p.binpersid();
    p.integer(0);  // storage offset
    p.ints(size);
    p.ints(stride);
    p.boolean(false);                        // requires_grad
    p.global("collections", "OrderedDict");  // backward hooks: none
    p.empty_tuple();
    p.reduce();
    p.tuple();
    p.reduce();
  }
  p.setitems();
  p.stop();

  static const std::vector<uint8_t> version{'3', '\n'}, byteorder{'l', 'i', 't', 't', 'l', 'e'};
  std::string metadata;
  if (!file.metadata.empty()) metadata = nlohmann::json(file.metadata).dump();
  ZipWriter zip;
  zip.add(std::string(kTorchArchive) + "/data.pkl", p.bytes());
  zip.add(std::string(kTorchArchive) + "/byteorder", byteorder);
  for (size_t k = 0; k < file.tensors.size(); ++k)
    zip.add(std::string(kTorchArchive) + "/data/" + std::to_string(k), file.tensors[k].bytes);
  if (!metadata.empty())
    zip.add(std::string(kTorchArchive) + "/" + kTorchMetadataRecord,
            {reinterpret_cast<const uint8_t*>(metadata.data()), metadata.size()});
  zip.add(std::string(kTorchArchive) + "/version", version);
  try {
    write_file_atomically(path, zip.finish());
  } catch (const CheckpointError&) {
    throw;
  } catch (const Error& e) {
    throw CheckpointError(std::string("cannot write checkpoint: ") + e.what());
  }
}

}  // namespace cnne
