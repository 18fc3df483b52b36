#pragma once
// Small files in CIFAR's "Python version" (engine/cifar_python.h), written as
// the original files are: Python 2's cPickle at protocol 2 (str as
// SHORT_BINSTRING / BINSTRING, the data array as numpy's _reconstruct with its
// state set by BUILD). tools/make_cifar_python_fixtures.py writes the same
// layout and checks it against Python's own pickle.load.
#include <cstdint>
#include <string>
#include <vector>

#include "tests/test_util.h"

namespace cnne::test {

// The opcodes Python 2's cPickle.dump(obj, f, 2) writes, memo puts included.
class Py2Pickler {
 public:
  Py2Pickler() : out_{0x80, 2} {}

  void string(const std::string& s) {
    if (s.size() < 256) {
      op('U');
      out_.push_back(static_cast<uint8_t>(s.size()));
    } else {
      op('T');
      le32(static_cast<uint32_t>(s.size()));
    }
    out_.insert(out_.end(), s.begin(), s.end());
    put();
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      out_.push_back(static_cast<uint8_t>(v));
    } else if (v >= 0 && v < 65536) {
      op('M');
      out_.push_back(static_cast<uint8_t>(v));
      out_.push_back(static_cast<uint8_t>(v >> 8));
    } else {
      op('J');
      le32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    }
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    for (const std::string& s : {module, name}) {
      out_.insert(out_.end(), s.begin(), s.end());
      out_.push_back('\n');
    }
    put();
  }
  // numpy.core.multiarray._reconstruct(ndarray, (0,), 'b') + BUILD of
  // (1, (rows, cols), numpy.dtype(dtype), fortran, bytes).
  void uint8_matrix(int64_t rows, int64_t cols, const std::string& bytes,
                    const std::string& dtype = "u1", bool fortran = false) {
    global("numpy.core.multiarray", "_reconstruct");
    global("numpy", "ndarray");
    integer(0);
    op(0x85);  // TUPLE1
    put();
    string("b");
    op(0x87);  // TUPLE3
    op('R');
    put();
    op('(');
    integer(1);
    integer(rows);
    integer(cols);
    op(0x86);  // TUPLE2
    put();
    global("numpy", "dtype");
    string(dtype);
    integer(0);
    integer(1);
    op(0x87);
    op('R');
    put();
    op('(');
    integer(3);
    string("|");
    op('N');
    op('N');
    op('N');
    integer(-1);
    integer(-1);
    integer(0);
    op('t');
    put();
    op('b');
    op(fortran ? 0x88 : 0x89);  // NEWTRUE / NEWFALSE: is_fortran
    string(bytes);
    op('t');
    put();
    op('b');
  }
  void begin_dict() {
    op('}');
    put();
    op('(');
  }
  void end_dict() { op('u'); }
  void begin_list() {
    op(']');
    put();
    op('(');
  }
  void end_list() { op('e'); }

  std::vector<uint8_t> finish() {
    op('.');
    return std::move(out_);
  }

 private:
  void op(uint8_t code) { out_.push_back(code); }
  void le32(uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) out_.push_back(static_cast<uint8_t>(v >> shift));
  }
  void put() {
    ++memo_;
    if (memo_ < 256) {
      op('q');
      out_.push_back(static_cast<uint8_t>(memo_));
    } else {
      op('r');
      le32(memo_);
    }
  }

  std::vector<uint8_t> out_;
  uint32_t memo_ = 0;
};

// {"data": uint8 (N, 3072) from `records` (cifar_records' layout: 1 label
// byte + 3072 pixels each), label_key: [the labels], "batch_label": "..."}
std::vector<uint8_t> py2_cifar_batch(const std::vector<uint8_t>& records,
                                     const std::string& label_key = "labels");
// {key: [names...], "num_vis": 3072}: batches.meta (key "label_names") or
// CIFAR-100's meta ("fine_label_names").
std::vector<uint8_t> py2_names(const std::string& key, const std::vector<std::string>& names);

// data_batch_1..5, test_batch and batches.meta in `dir`: the same images and
// labels as make_small_cifar's .bin files.
void make_small_cifar_python(const TempDir& dir, int64_t per_file, int64_t test);

}  // namespace cnne::test
