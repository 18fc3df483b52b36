#include "engine/zip_archive.h"

#include <zlib.h>

#include <algorithm>

#include "engine/error.h"

namespace cnne {
namespace {

// Record signatures and fixed sizes of the ZIP application note (APPNOTE.TXT).
constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr size_t kMaxComment = 0xffff;

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint32_t zip_crc32(std::span<const uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  for (size_t done = 0; done < bytes.size();) {  // zlib takes an unsigned int length
    const size_t chunk = std::min<size_t>(bytes.size() - done, 1u << 30);
    crc = crc32(crc, bytes.data() + done, static_cast<uInt>(chunk));
    done += chunk;
  }
  return static_cast<uint32_t>(crc);
}

bool looks_like_zip(std::span<const uint8_t> bytes) {
  return bytes.size() >= 4 && le(bytes.data(), 4) == kLocalHeaderSig;
}

ZipArchive::ZipArchive(std::span<const uint8_t> bytes, std::string path)
    : bytes_(bytes), path_(std::move(path)) {
  auto fail = [&](const std::string& why) { return CheckpointError(path_ + ": " + why); };
  const uint8_t* b = bytes_.data();
  const uint64_t n = bytes_.size();
  // Whether [offset, offset + size) lies inside the buffer (no overflow).
  auto inside = [&](uint64_t offset, uint64_t size) { return offset <= n && size <= n - offset; };

  // The end-of-central-directory record: the last signature within the
  // comment's reach of the end.
  if (n < kEndSize) throw fail("truncated ZIP archive (" + std::to_string(n) + " bytes)");
  uint64_t end = n - kEndSize + 1;
  const uint64_t lowest = n - kEndSize > kMaxComment ? n - kEndSize - kMaxComment : 0;
  bool found = false;
  while (end-- > lowest)
    if (le(b + end, 4) == kEndSig) {
      found = true;
      break;
    }
  if (!found) throw fail("no ZIP end-of-central-directory record: truncated or damaged");
  uint64_t count = le(b + end + 10, 2);
  uint64_t directory_size = le(b + end + 12, 4);
  uint64_t directory = le(b + end + 16, 4);
  if (end >= kZip64LocatorSize && le(b + end - kZip64LocatorSize, 4) == kZip64LocatorSig) {
    const uint64_t record = le(b + end - kZip64LocatorSize + 8, 8);
    if (!inside(record, kZip64EndSize) || le(b + record, 4) != kZip64EndSig)
      throw fail("ZIP64 end record out of place: truncated or damaged");
    count = le(b + record + 32, 8);
    directory_size = le(b + record + 40, 8);
    directory = le(b + record + 48, 8);
  }
  if (!inside(directory, directory_size))
    throw fail("ZIP central directory (" + std::to_string(directory_size) + " bytes at " +
               std::to_string(directory) + ") lies beyond the file's " + std::to_string(n) +
               " bytes: truncated");
  if (count > directory_size / kCentralHeaderSize)
    throw fail("ZIP central directory claims " + std::to_string(count) + " entries in " +
               std::to_string(directory_size) + " bytes: damaged");

  uint64_t at = directory;
  const uint64_t directory_end = directory + directory_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (directory_end - at < kCentralHeaderSize || le(b + at, 4) != kCentralHeaderSig)
      throw fail("ZIP central directory entry " + std::to_string(i) + " is damaged");
    ZipEntry e;
    e.method = static_cast<uint16_t>(le(b + at + 10, 2));
    e.crc32 = static_cast<uint32_t>(le(b + at + 16, 4));
    e.compressed_size = le(b + at + 20, 4);
    e.size = le(b + at + 24, 4);
    const uint64_t name_len = le(b + at + 28, 2), extra_len = le(b + at + 30, 2),
                   comment_len = le(b + at + 32, 2);
    e.local_header = le(b + at + 42, 4);
    if (directory_end - at - kCentralHeaderSize < name_len + extra_len + comment_len)
      throw fail("ZIP central directory entry " + std::to_string(i) + " overruns the directory");
    const uint8_t* name = b + at + kCentralHeaderSize;
    e.name.assign(reinterpret_cast<const char*>(name), name_len);
    // ZIP64: the 32-bit fields that hold 0xffffffff continue, in this order,
    // in the extra field with id 1.
    for (uint64_t x = 0; x + 4 <= extra_len;) {
      const uint8_t* field = name + name_len + x;
      const uint64_t id = le(field, 2), len = le(field + 2, 2);
      if (x + 4 + len > extra_len)
        throw fail("ZIP entry '" + e.name + "' has a damaged extra field");
      if (id == kZip64ExtraId) {
        uint64_t* wide[] = {&e.size, &e.compressed_size, &e.local_header};
        uint64_t used = 0;
        for (uint64_t* v : wide)
          if (*v == 0xffffffffu) {
            if (used + 8 > len) throw fail("ZIP entry '" + e.name + "' has a short ZIP64 field");
            *v = le(field + 4 + used, 8);
            used += 8;
          }
      }
      x += 4 + len;
    }
    entries_.push_back(std::move(e));
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [&](const ZipEntry& e) { return e.name == name; });
  return it == entries_.end() ? nullptr : &*it;
}

std::span<const uint8_t> ZipArchive::read(const ZipEntry& e) const {
  auto fail = [&](const std::string& why) {
    return CheckpointError(path_ + ": ZIP entry '" + e.name + "' " + why);
  };
  if (e.method != 0)
    throw fail("is compressed (method " + std::to_string(e.method) +
               "); torch.save stores entries uncompressed");
  const uint64_t n = bytes_.size();
  if (e.local_header > n || n - e.local_header < kLocalHeaderSize ||
      le(bytes_.data() + e.local_header, 4) != kLocalHeaderSig)
    throw fail("has no local header where the directory says: truncated or damaged");
  const uint8_t* h = bytes_.data() + e.local_header;
  const uint64_t data = e.local_header + kLocalHeaderSize + le(h + 26, 2) + le(h + 28, 2);
  if (data > n || e.size > n - data || e.compressed_size != e.size)
    throw fail("(" + std::to_string(e.size) + " bytes) runs past the end of the file: truncated");
  const std::span<const uint8_t> out = bytes_.subspan(data, e.size);
  if (zip_crc32(out) != e.crc32) throw fail("fails its CRC-32 check: the file is damaged");
  return out;
}

}  // namespace cnne
