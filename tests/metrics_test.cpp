// The confusion matrix's numbers (engine/metrics.h) on a hand-counted case:
// accuracy, per-class recall, precision and F1, sklearn's macro averages, and
// the report lines `eval` prints.
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "engine/evaluator.h"
#include "engine/metrics.h"

namespace cnne {
namespace {

// 4 classes, 10 images; class 3 never occurs and is never predicted.
ConfusionMatrix hand_counted() {
  ConfusionMatrix m(4);
  const int pairs[][3] = {{0, 0, 3}, {0, 1, 1}, {1, 1, 2}, {2, 0, 1}, {2, 2, 1}, {2, 1, 2}};
  for (const auto& [truth, predicted, times] : pairs)
    for (int i = 0; i < times; ++i) m.add(truth, predicted);
  return m;
}

TEST(ConfusionMatrix, RecallPrecisionAndF1PerClassAndTheirMacroMeans) {
  const ConfusionMatrix m = hand_counted();
  EXPECT_EQ(m.total(), 10);
  EXPECT_EQ(m.correct(), 6);
  EXPECT_DOUBLE_EQ(m.accuracy_percent(), 60.0);
  // recall = the tutorial's per-class accuracy: row share on the diagonal
  EXPECT_DOUBLE_EQ(m.class_accuracy_percent(0), 75.0);   // 3 of 4
  EXPECT_DOUBLE_EQ(m.class_accuracy_percent(1), 100.0);  // 2 of 2
  EXPECT_DOUBLE_EQ(m.class_accuracy_percent(2), 25.0);   // 1 of 4
  EXPECT_DOUBLE_EQ(m.class_accuracy_percent(3), 0.0);    // absent
  // precision: column share on the diagonal
  EXPECT_EQ(m.predicted_total(1), 5);
  EXPECT_DOUBLE_EQ(m.class_precision_percent(0), 75.0);   // 3 of 4
  EXPECT_DOUBLE_EQ(m.class_precision_percent(1), 40.0);   // 2 of 5
  EXPECT_DOUBLE_EQ(m.class_precision_percent(2), 100.0);  // 1 of 1
  EXPECT_DOUBLE_EQ(m.class_precision_percent(3), 0.0);    // never predicted: sklearn's 0
  EXPECT_DOUBLE_EQ(m.class_f1_percent(0), 75.0);
  EXPECT_NEAR(m.class_f1_percent(1), 2 * 40.0 * 100.0 / 140.0, 1e-12);
  EXPECT_DOUBLE_EQ(m.class_f1_percent(2), 40.0);
  EXPECT_DOUBLE_EQ(m.class_f1_percent(3), 0.0);
  EXPECT_DOUBLE_EQ(m.macro_precision_percent(), (75.0 + 40.0 + 100.0) / 4);
  EXPECT_DOUBLE_EQ(m.macro_recall_percent(), (75.0 + 100.0 + 25.0) / 4);
  EXPECT_NEAR(m.macro_f1_percent(), (75.0 + 8000.0 / 140.0 + 40.0) / 4, 1e-12);
  EXPECT_THROW(ConfusionMatrix(4).add(4, 0), std::exception);
}

TEST(ConfusionMatrix, PrintsTheTutorialLinesTheMatrixAndTheReport) {
  std::ostringstream out;
  print_evaluation(out, hand_counted(), {"cat", "dog", "frog", "ship"}, 1.25);
  const std::string text = out.str();
  for (const char* line :
       {"Accuracy of the network on the 10 test images: 60.00%\n", "Accuracy of frog  : 25.00%\n",
        "Test loss: 1.2500\n", "frog        1      2      1      0\n",
        "          precision  recall      F1  images\n",
        "dog           40.00  100.00   57.14       2\n",
        "macro avg     53.75   50.00   43.04      10\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
}

// The label's rank among its row's logits, which top-5 accuracy counts:
// rank 0 is argmax's choice (the first of equal maxima), NaN ranks highest.
TEST(TopFive, LabelRankMatchesArgmaxAndCountsTiesAndNaNAsTorchDoes) {
  const float row[] = {0.5f, 2.0f, -1.0f, 2.0f, 1.0f, 0.0f, 3.0f};
  EXPECT_EQ(label_rank(row, 7, 6), 0);  // the largest
  EXPECT_EQ(label_rank(row, 7, 1), 1);  // the first 2.0: only 3.0 above it
  EXPECT_EQ(label_rank(row, 7, 3), 2);  // the second 2.0: argmax would pick index 1 first
  EXPECT_EQ(label_rank(row, 7, 4), 3);
  EXPECT_EQ(label_rank(row, 7, 0), 4);
  EXPECT_EQ(label_rank(row, 7, 5), 5);  // out of the top 5
  EXPECT_EQ(label_rank(row, 7, 2), 6);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float with_nan[] = {1.0f, nan, 5.0f};
  EXPECT_EQ(label_rank(with_nan, 3, 1), 0);  // NaN above every number
  EXPECT_EQ(label_rank(with_nan, 3, 2), 1);
  const float all_nan[] = {nan, nan};
  EXPECT_EQ(label_rank(all_nan, 2, 0), 0);
  EXPECT_EQ(label_rank(all_nan, 2, 1), 1);
  Evaluation e{ConfusionMatrix(100), 0.0, 0};
  EXPECT_EQ(e.top5_percent(), 0.0);  // empty
  for (int i = 0; i < 8; ++i) e.confusion.add(i, 0);
  e.top5_correct = 6;
  EXPECT_DOUBLE_EQ(e.top5_percent(), 75.0);
}

// The top-5 line is printed for more than 10 classes (CIFAR-100), not for CIFAR-10.
TEST(TopFive, PrintedAfterTheAccuracyLineForMoreThanTenClasses) {
  ConfusionMatrix hundred(100), ten(10);
  hundred.add(3, 3);
  ten.add(3, 3);
  std::ostringstream a, b;
  print_evaluation(a, hundred, {}, 0.5, "test", 100.0);
  print_evaluation(b, ten, {}, 0.5, "test", 100.0);
  EXPECT_NE(a.str().find("Accuracy of the network on the 1 test images: 100.00%\nTop-5 accuracy "
                         "of the network on the 1 test images: 100.00%\n"),
            std::string::npos)
      << a.str();
  EXPECT_EQ(b.str().find("Top-5"), std::string::npos) << b.str();
}

}  // namespace
}  // namespace cnne
