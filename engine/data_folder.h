#pragma once
// Finding a data set's folder: the one the user named (or a known subfolder
// of it), else $CNNE_DATA, else the usual places. Every data set has its own
// rule; the order and the error messages are shared.
#include <string>
#include <vector>

namespace cnne {

constexpr const char* kDataEnvVar = "CNNE_DATA";

struct FolderRule {
  std::string what;                   // "CIFAR-10", in messages
  std::vector<std::string> markers;   // a folder holding any of these files is the data folder
  std::vector<std::string> inside;    // subfolders of a named folder that may hold the files
  std::vector<std::string> defaults;  // searched, in order, when nothing is named
  std::string how;                    // how to get the data, appended to every error
};

// `requested` if given (it, or one of its `inside` subfolders, holds a
// marker), else $CNNE_DATA (the same test), else the first of `defaults`
// that holds the files (directly or in an `inside` subfolder). Throws
// DataError saying where it looked and how to get the data.
std::string locate_folder(const FolderRule& rule, const std::string& requested);

// True when `dir` holds none of `binary` and at least one of `python` (a data
// set's Python version, pickled, in place of its binary files).
bool holds_python_files(const std::string& dir, const std::vector<std::string>& binary,
                        const std::vector<std::string>& python);

}  // namespace cnne
