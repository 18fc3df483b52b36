#include "engine/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include "engine/error.h"

namespace cnne::idx {
namespace {

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

class IdxReader {
 public:
  explicit IdxReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw DataError(path + ": missing IDX file");
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw DataError(path + ": cannot open");
  }

  // The header: checks the magic bytes and returns the dimensions.
  std::vector<int64_t> header(int expected_dims, const char* what) {
    uint8_t magic[4];
    if (read_some(magic, 4) != 4)
      throw DataError(path_ + ": shorter than an IDX header (4 magic bytes)");
    if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != expected_dims)
      throw DataError(path_ + ": magic bytes " + hex(magic) + ", expected " +
                      hex_expected(expected_dims) + " (IDX " + what + ": unsigned bytes, " +
                      std::to_string(expected_dims) + " dimensions)");
    std::vector<int64_t> dims;
    for (int d = 0; d < expected_dims; ++d) {
      uint8_t b[4];
      if (read_some(b, 4) != 4) throw DataError(path_ + ": the IDX header is truncated");
      dims.push_back((int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | b[3]);
    }
    return dims;
  }

  // Exactly `count` bytes appended to `out`, read in chunks so that a header
  // claiming more than the file holds costs no more memory than the file.
  void read_exactly(int64_t count, std::vector<uint8_t>& out) {
    constexpr int64_t kChunk = int64_t(1) << 24;
    int64_t done = 0;
    while (done < count) {
      const int64_t want = std::min(kChunk, count - done);
      const size_t at = out.size();
      out.resize(at + static_cast<size_t>(want));
      const int64_t got = read_some(out.data() + at, want);
      out.resize(at + static_cast<size_t>(std::max<int64_t>(got, 0)));
      done += std::max<int64_t>(got, 0);
      if (got < want)
        throw DataError(path_ + ": truncated: the header promises " + std::to_string(count) +
                        " data bytes, the file holds " + std::to_string(done));
    }
  }

  // Throws unless the data ended where the header said.
  void expect_end() {
    uint8_t extra;
    if (read_some(&extra, 1) != 0)
      throw DataError(path_ + ": holds more bytes than its IDX header describes");
  }

 private:
  int64_t read_some(uint8_t* to, int64_t n) {
    const int got = gzread(file_.get(), to, static_cast<unsigned>(n));
    if (got < 0)
      throw DataError(path_ + ": cannot read (" + zlib_error() + "); the file is damaged");
    // a gzip stream cut short reads as a short read plus an error
    if (got < n && zlib_failed())
      throw DataError(path_ + ": cannot read (" + zlib_error() +
                      "); the file is damaged or truncated");
    return got;
  }

  bool zlib_failed() {
    int code = Z_OK;
    gzerror(file_.get(), &code);
    return code != Z_OK && code != Z_STREAM_END;
  }

  // zlib's message without the path it starts with.
  std::string zlib_error() {
    int code = Z_OK;
    const char* text = gzerror(file_.get(), &code);
    std::string why = text && *text ? text : "zlib error " + std::to_string(code);
    if (why.rfind(path_ + ": ", 0) == 0) why.erase(0, path_.size() + 2);
    return why;
  }

  static std::string hex(const uint8_t* b) {
    static const char* digits = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 0; i < 4; ++i) s += {digits[b[i] >> 4], digits[b[i] & 15]};
    return s;
  }
  static std::string hex_expected(int dims) {
    const uint8_t b[4] = {0, 0, 0x08, static_cast<uint8_t>(dims)};
    return hex(b);
  }

  std::string path_;
  GzFile file_;
};

constexpr int64_t kMaxSide = 4096;

}  // namespace

ImageDataset read_pair(const std::string& images_file, const std::string& labels_file,
                       int64_t limit, int64_t classes) {
  IdxReader images(images_file);
  const std::vector<int64_t> dims = images.header(3, "images");
  const int64_t count = dims[0], rows = dims[1], cols = dims[2];
  if (count == 0) throw DataError(images_file + ": holds no images (N = 0 in its header)");
  if (rows < 1 || rows > kMaxSide || cols < 1 || cols > kMaxSide)
    throw DataError(images_file + ": images of " + std::to_string(rows) + "x" +
                    std::to_string(cols) + " pixels, expected 1.." + std::to_string(kMaxSide) +
                    " on each side");
  IdxReader labels(labels_file);
  const int64_t label_count = labels.header(1, "labels")[0];
  if (label_count != count)
    throw DataError(labels_file + ": " + std::to_string(label_count) + " labels, but " +
                    images_file + " holds " + std::to_string(count) + " images");

  const int64_t take = limit > 0 ? std::min(limit, count) : count;
  ImageDataset set;
  set.channels = 1;
  set.height = rows;
  set.width = cols;
  std::vector<uint8_t> label_bytes;
  labels.read_exactly(take, label_bytes);
  images.read_exactly(take * rows * cols, set.pixels);
  if (take == count) {
    images.expect_end();
    labels.expect_end();
  }
  set.labels.resize(static_cast<size_t>(take));
  for (int64_t i = 0; i < take; ++i) {
    const uint8_t label = label_bytes[static_cast<size_t>(i)];
    if (label >= classes)
      throw DataError(labels_file + ": label " + std::to_string(i) + " is " +
                      std::to_string(label) + ", expected 0.." + std::to_string(classes - 1));
    set.labels[static_cast<size_t>(i)] = label;
  }
  set.count = take;
  return set;
}

}  // namespace cnne::idx
