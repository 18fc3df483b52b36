#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace cnne {
namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// Closes and (unless released) deletes the temporary file on every exit path.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) ::unlink(path_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  int fd() const { return fd_; }
  void close_now() {
    if (::close(fd_) != 0) throw Error(path_ + ": close failed: " + errno_text());
    fd_ = -1;
  }
  void keep() { kept_ = true; }

 private:
  std::string path_;
  int fd_ = -1;
  bool kept_ = false;
};

void write_all(int fd, const uint8_t* data, size_t size, const std::string& what) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(what + ": write failed: " + errno_text());
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

void write_file_atomically(const std::string& path,
                           const std::vector<std::span<const uint8_t>>& pieces) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  std::error_code ec;
  if (fs::is_directory(target, ec)) throw Error(path + ": is a folder, expected a file path");
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(folder, ec))
    throw Error(path + ": folder '" + folder.string() + "' does not exist");

  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  TempFile file(temp);
  if (file.fd() < 0) throw Error(path + ": cannot create '" + temp + "': " + errno_text());
  for (const auto& piece : pieces) write_all(file.fd(), piece.data(), piece.size(), path);
  if (::fsync(file.fd()) != 0) throw Error(path + ": fsync failed: " + errno_text());
  file.close_now();
  if (::rename(temp.c_str(), path.c_str()) != 0)
    throw Error(path + ": rename from '" + temp + "' failed: " + errno_text());
  file.keep();
  // Make the rename itself durable.
  const int dir = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace cnne
