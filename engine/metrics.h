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

 private:
  int64_t classes_;
  std::vector<int64_t> counts_;  // (classes, classes): [truth][predicted]
};

// The tutorial's lines, then the confusion matrix:
//   Accuracy of the network on the 10000 test images: 53.92%
//   Accuracy of plane : 62.80%   (one per class)
// `set` names the images in the first line ("test", "validation").
void print_evaluation(std::ostream& out, const ConfusionMatrix& m,
                      const std::vector<std::string>& class_names, double mean_loss,
                      const std::string& set = "test");

}  // namespace cnne
