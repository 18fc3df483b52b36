#pragma once
// Classification metrics: a confusion matrix and the tutorial's report lines.
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace cnne {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int64_t classes);

  void add(int32_t truth, int32_t predicted);
  int64_t classes() const { return classes_; }
  int64_t total() const;
  int64_t correct() const;
  int64_t count(int64_t truth, int64_t predicted) const;
  int64_t class_total(int64_t truth) const;
  double accuracy_percent() const;                     // 0 when empty
  double class_accuracy_percent(int64_t truth) const;  // 0 when the class is absent
  // Images predicted as class c (a column of the matrix).
  int64_t predicted_total(int64_t predicted) const;
  // Of the images predicted as c, the share that are c (0 when none is
  // predicted as c, sklearn's zero_division=0); recall is class_accuracy_percent.
  double class_precision_percent(int64_t predicted) const;
  // 2 P R / (P + R) of precision and recall; 0 when both are 0.
  double class_f1_percent(int64_t c) const;
  // The unweighted means over classes (sklearn's "macro avg").
  double macro_precision_percent() const;
  double macro_recall_percent() const;
  double macro_f1_percent() const;

 private:
  int64_t classes_;
  std::vector<int64_t> counts_;  // (classes, classes): [truth][predicted]
};

// Beyond this many classes (CIFAR-100) the matrix is not printed.
constexpr int64_t kMaxPrintedMatrixClasses = 20;

// The tutorial's lines, then the confusion matrix and per-class precision,
// recall and F1 (sklearn's classification_report, in percent):
//   Accuracy of the network on the 10000 test images: 53.92%
//   Accuracy of plane : 62.80%   (one per class)
// `set` names the images in the first line ("test", "validation").
// With more than 10 classes (CIFAR-100) and top5_percent >= 0, a top-5 line follows the first:
//   Top-5 accuracy of the network on the 10000 test images: 78.40%
void print_evaluation(std::ostream& out, const ConfusionMatrix& m,
                      const std::vector<std::string>& class_names, double mean_loss,
                      const std::string& set = "test", double top5_percent = -1);

}  // namespace cnne
