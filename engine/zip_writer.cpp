#include "engine/zip_writer.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/zip_archive.h"

namespace cnne {
namespace {

constexpr uint64_t kAlignment = 64;           // PyTorch's kFieldAlignment
constexpr uint16_t kPaddingExtraId = 0x4246;  // "FB", the id PyTorch pads with
constexpr uint64_t kMax32 = 0xffffffffu;

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

}  // namespace

std::vector<uint8_t>& ZipWriter::own() {
  owned_.emplace_back();
  return owned_.back();
}

void ZipWriter::add(const std::string& name, std::span<const uint8_t> bytes) {
  if (name.size() > 0xffff) throw Error("ZIP entry name too long: " + name.substr(0, 64) + "...");
  if (bytes.size() >= kMax32 || offset_ >= kMax32)
    throw Error("ZIP entry '" + name + "': archives past 4 GiB are not written");
  const uint32_t crc = zip_crc32(bytes);
  const uint64_t header = 30 + name.size();
  // Pad the extra field so the data starts on a 64-byte boundary (at least
  // the 4 bytes of the field's own header when padding is needed).
  uint64_t pad = (kAlignment - (offset_ + header) % kAlignment) % kAlignment;
  if (pad > 0 && pad < 4) pad += kAlignment;

  std::vector<uint8_t>& local = own();
  put(local, 0x04034b50, 4);
  put(local, 20, 2);  // version needed: 2.0
  put(local, 0, 2);   // flags
  put(local, 0, 2);   // method: stored
  put(local, 0, 4);   // time, date
  put(local, crc, 4);
  put(local, bytes.size(), 4);
  put(local, bytes.size(), 4);
  put(local, name.size(), 2);
  put(local, pad, 2);
  local.insert(local.end(), name.begin(), name.end());
  if (pad > 0) {
    put(local, kPaddingExtraId, 2);
    put(local, pad - 4, 2);
    local.insert(local.end(), pad - 4, 'Z');
  }
  pieces_.emplace_back(local);
  pieces_.push_back(bytes);

  put(directory_, 0x02014b50, 4);
  put(directory_, 45, 2);  // made by
  put(directory_, 20, 2);  // needed
  put(directory_, 0, 2);
  put(directory_, 0, 2);
  put(directory_, 0, 4);
  put(directory_, crc, 4);
  put(directory_, bytes.size(), 4);
  put(directory_, bytes.size(), 4);
  put(directory_, name.size(), 2);
  put(directory_, 0, 2);  // extra
  put(directory_, 0, 2);  // comment
  put(directory_, 0, 2);  // disk
  put(directory_, 0, 2);  // internal attributes
  put(directory_, 0, 4);  // external attributes
  put(directory_, offset_, 4);
  directory_.insert(directory_.end(), name.begin(), name.end());
  offset_ += local.size() + bytes.size();
  ++count_;
}

std::vector<std::span<const uint8_t>> ZipWriter::finish() {
  std::vector<uint8_t>& tail = own();
  tail = directory_;
  const uint64_t directory_at = offset_;
  if (zip64_end_) {
    const uint64_t record_at = offset_ + directory_.size();
    put(tail, 0x06064b50, 4);
    put(tail, 44, 8);  // the record's size after this field
    put(tail, 45, 2);
    put(tail, 45, 2);
    put(tail, 0, 4);
    put(tail, 0, 4);
    put(tail, count_, 8);
    put(tail, count_, 8);
    put(tail, directory_.size(), 8);
    put(tail, directory_at, 8);
    put(tail, 0x07064b50, 4);  // the locator
    put(tail, 0, 4);
    put(tail, record_at, 8);
    put(tail, 1, 4);
  }
  put(tail, 0x06054b50, 4);
  put(tail, 0, 4);
  put(tail, std::min<uint64_t>(count_, 0xffff), 2);
  put(tail, std::min<uint64_t>(count_, 0xffff), 2);
  put(tail, directory_.size(), 4);
  put(tail, directory_at, 4);
  put(tail, 0, 2);  // comment
  pieces_.emplace_back(tail);
  return pieces_;
}

}  // namespace cnne
