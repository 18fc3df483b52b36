#include "engine/metrics.h"

#include <algorithm>
#include <cstdio>

#include "engine/error.h"

namespace cnne {

ConfusionMatrix::ConfusionMatrix(int64_t classes)
    : classes_(classes), counts_(static_cast<size_t>(classes * classes), 0) {}

void ConfusionMatrix::add(int32_t truth, int32_t predicted) {
  if (truth < 0 || truth >= classes_ || predicted < 0 || predicted >= classes_)
    throw Error("ConfusionMatrix: class out of range");
  ++counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

int64_t ConfusionMatrix::count(int64_t truth, int64_t predicted) const {
  return counts_[static_cast<size_t>(truth * classes_ + predicted)];
}

int64_t ConfusionMatrix::class_total(int64_t truth) const {
  int64_t n = 0;
  for (int64_t p = 0; p < classes_; ++p) n += count(truth, p);
  return n;
}

int64_t ConfusionMatrix::total() const {
  int64_t n = 0;
  for (int64_t v : counts_) n += v;
  return n;
}

int64_t ConfusionMatrix::correct() const {
  int64_t n = 0;
  for (int64_t c = 0; c < classes_; ++c) n += count(c, c);
  return n;
}

double ConfusionMatrix::accuracy_percent() const {
  const int64_t n = total();
  return n ? 100.0 * static_cast<double>(correct()) / static_cast<double>(n) : 0.0;
}

double ConfusionMatrix::class_accuracy_percent(int64_t truth) const {
  const int64_t n = class_total(truth);
  return n ? 100.0 * static_cast<double>(count(truth, truth)) / static_cast<double>(n) : 0.0;
}

int64_t ConfusionMatrix::predicted_total(int64_t predicted) const {
  int64_t n = 0;
  for (int64_t t = 0; t < classes_; ++t) n += count(t, predicted);
  return n;
}

double ConfusionMatrix::class_precision_percent(int64_t predicted) const {
  const int64_t n = predicted_total(predicted);
  return n ? 100.0 * static_cast<double>(count(predicted, predicted)) / static_cast<double>(n)
           : 0.0;
}

double ConfusionMatrix::class_f1_percent(int64_t c) const {
  const double p = class_precision_percent(c), r = class_accuracy_percent(c);
  return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

namespace {

double mean_over_classes(const ConfusionMatrix& m, double (ConfusionMatrix::*of)(int64_t) const) {
  if (m.classes() == 0) return 0.0;
  double sum = 0;
  for (int64_t c = 0; c < m.classes(); ++c) sum += (m.*of)(c);
  return sum / static_cast<double>(m.classes());
}

}  // namespace

double ConfusionMatrix::macro_precision_percent() const {
  return mean_over_classes(*this, &ConfusionMatrix::class_precision_percent);
}
double ConfusionMatrix::macro_recall_percent() const {
  return mean_over_classes(*this, &ConfusionMatrix::class_accuracy_percent);
}
double ConfusionMatrix::macro_f1_percent() const {
  return mean_over_classes(*this, &ConfusionMatrix::class_f1_percent);
}

namespace {

// The (classes x classes) counts, rows the true class, columns the predicted.
template <typename Name>
void print_matrix(std::ostream& out, const ConfusionMatrix& m, const Name& name) {
  char line[64];
  out << "Confusion matrix (rows: true class, columns: predicted class):\n";
  std::snprintf(line, sizeof line, "%-6s", "");
  out << line;
  for (int64_t c = 0; c < m.classes(); ++c) {
    std::snprintf(line, sizeof line, " %6.6s", name(c).c_str());
    out << line;
  }
  out << "\n";
  for (int64_t t = 0; t < m.classes(); ++t) {
    std::snprintf(line, sizeof line, "%-6.6s", name(t).c_str());
    out << line;
    for (int64_t p = 0; p < m.classes(); ++p) {
      std::snprintf(line, sizeof line, " %6lld", static_cast<long long>(m.count(t, p)));
      out << line;
    }
    out << "\n";
  }
}

}  // namespace

void print_evaluation(std::ostream& out, const ConfusionMatrix& m,
                      const std::vector<std::string>& class_names, double mean_loss,
                      const std::string& set, double top5_percent) {
  char line[256];
  std::snprintf(line, sizeof line, "Accuracy of the network on the %lld %s images: %.2f%%\n",
                static_cast<long long>(m.total()), set.c_str(), m.accuracy_percent());
  out << line;
  if (m.classes() > 10 && top5_percent >= 0) {
    std::snprintf(line, sizeof line,
                  "Top-5 accuracy of the network on the %lld %s images: %.2f%%\n",
                  static_cast<long long>(m.total()), set.c_str(), top5_percent);
    out << line;
  }
  auto name = [&](int64_t c) {
    return c < static_cast<int64_t>(class_names.size()) ? class_names[static_cast<size_t>(c)]
                                                        : std::to_string(c);
  };
  for (int64_t c = 0; c < m.classes(); ++c) {
    std::snprintf(line, sizeof line, "Accuracy of %-5s : %.2f%%\n", name(c).c_str(),
                  m.class_accuracy_percent(c));
    out << line;
  }
  std::snprintf(line, sizeof line, "Test loss: %.4f\n", mean_loss);
  out << line;
  if (m.classes() > kMaxPrintedMatrixClasses) {
    out << "Confusion matrix: " << m.classes()
        << " classes, too many to print (eval --predictions FILE writes each image's "
           "prediction)\n";
  } else {
    print_matrix(out, m, name);
  }
  out << "Precision, recall and F1 per class (percent; recall is the class accuracy above):\n";
  int width = 9;  // the name column: "macro avg", or the longest name (up to 24)
  for (int64_t c = 0; c < m.classes(); ++c)
    width = std::max(width, std::min(24, static_cast<int>(name(c).size())));
  std::snprintf(line, sizeof line, "%-*s %9s %7s %7s %7s\n", width, "", "precision", "recall", "F1",
                "images");
  out << line;
  const auto row = [&](const std::string& label, double p, double r, double f1, int64_t n) {
    std::snprintf(line, sizeof line, "%-*.*s %9.2f %7.2f %7.2f %7lld\n", width, width,
                  label.c_str(), p, r, f1, static_cast<long long>(n));
    out << line;
  };
  for (int64_t c = 0; c < m.classes(); ++c)
    row(name(c), m.class_precision_percent(c), m.class_accuracy_percent(c), m.class_f1_percent(c),
        m.class_total(c));
  row("macro avg", m.macro_precision_percent(), m.macro_recall_percent(), m.macro_f1_percent(),
      m.total());
}

}  // namespace cnne
