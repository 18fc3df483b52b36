#pragma once
// One function per CLI verb; each returns the process exit code and throws
// cnne::Error subclasses for anything the user can fix (main() prints them).
#include <ostream>

namespace cnne::cli {

int run_train(int argc, char** argv, int first);
int run_eval(int argc, char** argv, int first);
int run_summary(int argc, char** argv, int first);
int run_info(int argc, char** argv, int first);
int run_inspect(int argc, char** argv, int first);
int run_bench(int argc, char** argv, int first);
int run_convert(int argc, char** argv, int first);
int run_predict(int argc, char** argv, int first);
int run_export(int argc, char** argv, int first);
int run_lr_find(int argc, char** argv, int first);

}  // namespace cnne::cli
