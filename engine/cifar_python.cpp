#include "engine/cifar_python.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include "engine/error.h"
#include "engine/pickle.h"

namespace cnne::cifar_python {
namespace fs = std::filesystem;
using pickle::Kind;
using pickle::Object;
using pickle::Ref;
using pickle::Unpickled;

namespace {

constexpr int64_t kImageBytes = 3072;  // 3 x 32 x 32

std::vector<uint8_t> read_whole_file(const std::string& path, const char* title) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw DataError(path + ": missing " + title + " file");
  const auto size = fs::file_size(path, ec);
  if (ec) throw DataError(path + ": cannot read its size: " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    throw DataError(path + ": read failed after the size check (file changed while reading?)");
  return bytes;
}

Unpickled unpickle_data(std::span<const uint8_t> bytes, const std::string& name,
                        const char* title) {
  if (bytes.empty() || bytes[0] != 0x80)
    throw DataError(name + ": not a binary pickle (the " + std::string(title) +
                    " Python version's files are pickled dicts)");
  try {
    return pickle::unpickle(bytes, name);
  } catch (const CheckpointError& e) {
    throw DataError(e.what());  // a data file, not a checkpoint
  }
}

// A numpy array's bytes: the pickle's own string, or decoded from it.
struct RawBytes {
  const std::string* stored;
  std::optional<std::string> decoded;
  const std::string& get() const { return decoded ? *decoded : *stored; }
};

struct ArrayBytes {
  std::vector<int64_t> shape;
  RawBytes bytes;
};

// Reads the pieces of one unpickled file, naming it in every error.
class Reader {
 public:
  Reader(const Unpickled& p, const std::string& name) : p_(p), name_(name) {}

  const Object& at(Ref r) const { return p_.at(r); }
  DataError fail(const std::string& why) const { return DataError(name_ + ": " + why); }

  // Python 2's str, Python 3's str or bytes.
  static bool is_text(const Object& o) { return o.kind == Kind::String || o.kind == Kind::Bytes; }
  bool is_global(Ref r, std::initializer_list<const char*> names) const {
    const Object& o = at(r);
    return o.kind == Kind::Global &&
           std::any_of(names.begin(), names.end(), [&](const char* n) { return o.text == n; });
  }
  bool is_call_of(const Object& o, std::initializer_list<const char*> names) const {
    return o.kind == Kind::Call && is_global(o.items[0], names);
  }
  const std::vector<Ref>& arguments(const Object& call) const { return at(call.items[1]).items; }

  // The value of `key` in the root dict, or null.
  const Object* entry(const std::string& key) const {
    const Object& root = at(p_.root);
    if (root.kind != Kind::Dict)
      throw fail("holds " + pickle::describe(p_, p_.root) + ", expected a pickled dict");
    for (size_t i = 0; i + 1 < root.items.size(); i += 2) {
      const Object& k = at(root.items[i]);
      if (is_text(k) && k.text == key) return &at(root.items[i + 1]);
    }
    return nullptr;
  }
  const Object& required(const std::string& key, const char* title) const {
    if (const Object* o = entry(key)) return *o;
    throw fail("has no '" + key + "' entry (not a " + std::string(title) +
               " Python-version file?)");
  }

  // The bytes a numpy array's data holds: a str or bytes, or Python 3's
  // protocol-2 form of bytes, _codecs.encode(text, "latin1") (each byte a
  // code point below 256, stored as UTF-8).
  RawBytes raw_bytes(const Object& o, const std::string& what) const {
    if (is_text(o)) return {&o.text, std::nullopt};
    if (is_call_of(o, {"_codecs.encode"})) {
      const auto& args = arguments(o);
      if (args.size() == 2 && at(args[0]).kind == Kind::String && is_text(at(args[1])) &&
          at(args[1]).text == "latin1")
        return {nullptr, latin1_of_utf8(at(args[0]).text, what)};
    }
    throw fail(what + " holds " + describe(o) + ", expected its bytes");
  }

  // numpy.dtype("u1") (or "|u1"), as pickled: a call of numpy.dtype.
  void expect_uint8(const Object& dtype, const std::string& what) const {
    if (is_call_of(dtype, {"numpy.dtype"}) && !arguments(dtype).empty()) {
      const Object& code = at(arguments(dtype)[0]);
      if (is_text(code) && (code.text == "u1" || code.text == "|u1")) return;
      if (is_text(code)) throw fail(what + " has dtype '" + code.text + "', expected uint8 ('u1')");
    }
    throw fail(what + " has " + describe(dtype) + " as its dtype, expected numpy.dtype('u1')");
  }

  std::vector<int64_t> shape_of(const Object& shape, const std::string& what) const {
    if (shape.kind != Kind::Tuple) throw fail(what + "'s shape is " + describe(shape));
    std::vector<int64_t> dims;
    for (Ref r : shape.items) {
      if (at(r).kind != Kind::Int || at(r).integer < 0)
        throw fail(what + "'s shape holds " + pickle::describe(p_, r) + ", expected sizes");
      dims.push_back(at(r).integer);
    }
    return dims;
  }

  // A pickled numpy uint8 array: its shape and C-ordered bytes. Accepts
  // numpy.core.multiarray._reconstruct(ndarray, (0,), b"b") with the state
  // (version, shape, dtype, is_fortran, bytes) set by BUILD (protocols 2 to 4),
  // and numpy.core.numeric._frombuffer(bytes, dtype, shape, order) (protocol 5).
  ArrayBytes uint8_array(const Object& o, const std::string& what) const {
    if (is_call_of(o,
                   {"numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"})) {
      if (o.items.size() < 3 || at(o.items[2]).kind != Kind::Tuple ||
          at(o.items[2]).items.size() != 5)
        throw fail(what + ": a numpy array without its (version, shape, dtype, order, data) state");
      const auto& state = at(o.items[2]).items;
      expect_uint8(at(state[2]), what);
      const Object& fortran = at(state[3]);
      if ((fortran.kind == Kind::Bool || fortran.kind == Kind::Int) && fortran.integer != 0)
        throw fail(what + " is a Fortran-ordered array, expected C order");
      return {shape_of(at(state[1]), what), raw_bytes(at(state[4]), what)};
    }
    if (is_call_of(o, {"numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer"})) {
      const auto& args = arguments(o);
      if (args.size() != 4)
        throw fail(what + ": numpy _frombuffer with " + std::to_string(args.size()) +
                   " arguments, expected 4");
      expect_uint8(at(args[1]), what);
      const Object& order = at(args[3]);
      if (!is_text(order) || order.text != "C") throw fail(what + " is not a C-ordered array");
      return {shape_of(at(args[2]), what), raw_bytes(at(args[0]), what)};
    }
    throw fail(what + " holds " + describe(o) + ", expected a numpy uint8 array");
  }

  std::string describe(const Object& o) const {
    // pickle::describe takes a reference; find this object's.
    return pickle::describe(p_, static_cast<Ref>(&o - p_.objects.data()));
  }

 private:
  std::string latin1_of_utf8(const std::string& text, const std::string& what) const {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<uint8_t>(text[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < text.size() &&
                 (static_cast<uint8_t>(text[i + 1]) & 0xC0) == 0x80) {
        out.push_back(static_cast<char>(((c & 0x03) << 6) | (text[++i] & 0x3F)));
      } else {
        throw fail(what + ": its latin1-encoded bytes hold a character beyond U+00FF");
      }
    }
    return out;
  }

  const Unpickled& p_;
  const std::string& name_;
};

}  // namespace

void append_batch(std::span<const uint8_t> bytes, const std::string& name, int64_t limit,
                  const PythonFormat& format, ImageDataset& set) {
  const Unpickled p = unpickle_data(bytes, name, format.title);
  const Reader r(p, name);
  const std::string data_what = "'data'";
  const ArrayBytes array = r.uint8_array(r.required("data", format.title), data_what);
  const std::vector<int64_t>& shape = array.shape;
  const std::string& pixels = array.bytes.get();  // (images, 3072)
  if (shape.size() != 2 || shape[1] != kImageBytes) {
    std::string dims;
    for (int64_t d : shape) dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    throw r.fail("'data' has shape (" + dims + "), expected (images, 3072)");
  }
  const int64_t images = shape[0];
  if (static_cast<int64_t>(pixels.size()) != images * kImageBytes)
    throw r.fail("'data' holds " + std::to_string(pixels.size()) + " bytes for its " +
                 std::to_string(images) + " x 3072 shape");
  const Object& labels = r.required(format.label_key, format.title);
  const std::string label_what = std::string("'") + format.label_key + "'";
  if (labels.kind != Kind::List)
    throw r.fail(label_what + " holds " + r.describe(labels) + ", expected a list of ints");
  if (static_cast<int64_t>(labels.items.size()) != images)
    throw r.fail(label_what + " holds " + std::to_string(labels.items.size()) + " labels for " +
                 std::to_string(images) + " images");

  int64_t take = images;
  if (limit > 0) take = std::max<int64_t>(0, std::min(images, limit - set.count));
  const int64_t first = set.count;
  set.labels.resize(static_cast<size_t>(first + take));
  for (int64_t i = 0; i < take; ++i) {
    const Object& label = r.at(labels.items[static_cast<size_t>(i)]);
    if (label.kind != Kind::Int || label.integer < 0 || label.integer >= format.classes)
      throw r.fail(label_what + "[" + std::to_string(i) + "] is " +
                   (label.kind == Kind::Int ? std::to_string(label.integer) : r.describe(label)) +
                   ", expected 0.." + std::to_string(format.classes - 1));
    set.labels[static_cast<size_t>(first + i)] = static_cast<int32_t>(label.integer);
  }
  set.pixels.insert(set.pixels.end(), pixels.begin(),
                    pixels.begin() + static_cast<std::ptrdiff_t>(take * kImageBytes));
  set.count += take;
}

ImageDataset read_batches(const std::vector<std::string>& files, int64_t limit,
                          const PythonFormat& format) {
  ImageDataset set;
  for (const std::string& file : files) {
    if (limit > 0 && set.count >= limit) break;
    const std::vector<uint8_t> bytes = read_whole_file(file, format.title);
    append_batch(bytes, file, limit, format, set);
  }
  return set;
}

std::vector<std::string> parse_names(std::span<const uint8_t> bytes, const std::string& name,
                                     const PythonFormat& format) {
  const Unpickled p = unpickle_data(bytes, name, format.title);
  const Reader r(p, name);
  const Object& names = r.required(format.names_key, format.title);
  const std::string what = std::string("'") + format.names_key + "'";
  if (names.kind != Kind::List)
    throw r.fail(what + " holds " + r.describe(names) + ", expected a list of names");
  if (static_cast<int64_t>(names.items.size()) != format.classes)
    throw r.fail(what + " holds " + std::to_string(names.items.size()) + " names, expected " +
                 std::to_string(format.classes));
  std::vector<std::string> out;
  for (Ref n : names.items) {
    if (!Reader::is_text(r.at(n)) || r.at(n).text.empty())
      throw r.fail(what + " holds " + pickle::describe(p, n) + ", expected class names");
    out.push_back(r.at(n).text);
  }
  return out;
}

std::vector<std::string> read_names(const std::string& path, const PythonFormat& format) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return {};
  return parse_names(read_whole_file(path, format.title), path, format);
}

}  // namespace cnne::cifar_python
