// Config and network errors: each names the file, layer and key, and what was
// expected (table-driven), plus the round trip of a valid config.
#include <gtest/gtest.h>

#include "engine/config.h"
#include "engine/error.h"
#include "engine/network.h"

namespace cnne {
namespace {

nlohmann::json tutorial() {
  return parse_json_text(Config::embedded_default(), "simplecnn.json");
}

// Builds config + network from `j` the way `cnnengine train` does.
void build(const nlohmann::json& j) {
  const Config c = Config::from_json(j, "x.json");
  Network::from_json(c.network, "x.json");
}

struct BadConfig {
  const char* what;
  std::function<void(nlohmann::json&)> edit;
  const char* expected;  // a substring of the error
};

void PrintTo(const BadConfig& c, std::ostream* os) {
  *os << c.what;
}

class ConfigErrors : public ::testing::TestWithParam<BadConfig> {};

TEST_P(ConfigErrors, NameTheProblem) {
  nlohmann::json j = tutorial();
  GetParam().edit(j);
  try {
    build(j);
    FAIL() << "no error for: " << GetParam().what;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(GetParam().expected), std::string::npos)
        << "message: " << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line";
    EXPECT_EQ(std::string(e.what()).rfind("x.json", 0), 0u) << "starts with the file";
  }
}

auto layer(int i) {
  return nlohmann::json::json_pointer("/network/layers/" + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConfigErrors,
    ::testing::Values(
        BadConfig{"unknown top key", [](auto& j) { j["trainnig"] = 1; }, "unknown key 'trainnig'"},
        BadConfig{"unknown layer key", [](auto& j) { j[layer(0)]["kernal_size"] = 3; },
                  "layers[0] 'conv1': unknown key 'kernal_size'"},
        BadConfig{
            "unknown layer type", [](auto& j) { j[layer(1)]["type"] = "swish"; },
            "unknown layer type 'swish' (known types: add, avgpool2d, batchnorm1d, batchnorm2d, "
            "concat, conv2d, dropout, dropout2d, elu, flatten, gelu, global_avgpool2d, groupnorm, "
            "hardsigmoid, hardswish, instancenorm2d, layernorm, leaky_relu, linear, maxpool2d, "
            "mish, mul, prelu, relu, relu6, selu, sigmoid, silu, tanh)"},
        BadConfig{
            "slope not a number",
            [](auto& j) {
              j[layer(1)] = {{"type", "leaky_relu"}, {"name", "act"}, {"negative_slope", "0.1"}};
            },
            "key 'negative_slope' must be a number"},
        BadConfig{"alpha too large",
                  [](auto& j) {
                    j[layer(1)] = {{"type", "elu"}, {"name", "act"}, {"alpha", 1e9}};
                  },
                  "layer 'act' (elu): alpha must be a finite number (|value| <= 1e6)"},
        BadConfig{"gelu approximation",
                  [](auto& j) {
                    j[layer(1)] = {{"type", "gelu"}, {"name", "act"}, {"approximate", "erf"}};
                  },
                  "'act': key 'approximate' is 'erf', expected none or tanh"},
        BadConfig{"key of another activation",
                  [](auto& j) {
                    j[layer(1)] = {{"type", "tanh"}, {"name", "act"}, {"alpha", 1.0}};
                  },
                  "'act': unknown key 'alpha'"},
        BadConfig{"wrong type", [](auto& j) { j[layer(0)]["out_channels"] = "6"; },
                  "key 'out_channels' must be an integer, got string \"6\""},
        BadConfig{"fractional int", [](auto& j) { j[layer(0)]["out_channels"] = 6.5; },
                  "must be an integer"},
        BadConfig{"missing key", [](auto& j) { j[layer(7)].erase("in_features"); },
                  "missing required key 'in_features'"},
        BadConfig{"channel mismatch", [](auto& j) { j[layer(3)]["in_channels"] = 5; },
                  "layer 'conv2' (conv2d): in_channels is 5 but its input has 6 channels"},
        BadConfig{"feature mismatch", [](auto& j) { j[layer(7)]["in_features"] = 256; },
                  "layer 'fc1' (linear): in_features is 256 but its input has 400 features"},
        BadConfig{"no flatten", [](auto& j) { j["network"]["layers"].erase(6); },
                  "put a flatten layer before it"},
        BadConfig{"kernel too big", [](auto& j) { j[layer(3)]["kernel_size"] = 15; },
                  "is smaller than the kernel (15, 15)"},
        BadConfig{"negative padding", [](auto& j) { j[layer(0)]["padding"] = -1; },
                  "padding must be >= 0"},
        BadConfig{"zero stride", [](auto& j) { j[layer(2)]["stride"] = 0; }, "stride must be >= 1"},
        BadConfig{"duplicate name", [](auto& j) { j[layer(3)]["name"] = "conv1"; },
                  "layer name 'conv1' is already used by network.layers[0]"},
        BadConfig{"bad input",
                  [](auto& j) {
                    j["network"]["input"] = {3, 32};
                  },
                  "key 'input' must be [channels, height, width]"},
        BadConfig{"layers not array", [](auto& j) { j["network"]["layers"] = 3; },
                  "key 'layers' must be a non-empty array"},
        BadConfig{"zero epochs", [](auto& j) { j["training"]["epochs"] = 0; },
                  "training: key 'epochs' must be >= 1"},
        BadConfig{"negative batch", [](auto& j) { j["training"]["batch_size"] = -4; },
                  "key 'batch_size' must be in 1..65536"},
        BadConfig{"zero lr", [](auto& j) { j["training"]["optimizer"]["lr"] = 0; },
                  "key 'lr' must be > 0"},
        BadConfig{"unknown optimizer", [](auto& j) { j["training"]["optimizer"]["type"] = "lamb"; },
                  "is 'lamb', expected sgd, adam, adamw, rmsprop or adagrad"},
        BadConfig{"momentum 1", [](auto& j) { j["training"]["optimizer"]["momentum"] = 1.0; },
                  "key 'momentum' must be in [0, 1)"},
        BadConfig{"unknown loss", [](auto& j) { j["training"]["loss"] = "mse"; },
                  "expected cross_entropy"},
        BadConfig{"bad std",
                  [](auto& j) {
                    j["data"]["normalize"]["std"] = {0.5, 0, 0.5};
                  },
                  "key 'std' must be > 0"},
        BadConfig{"classes count",
                  [](auto& j) {
                    j["data"]["classes"] = {"a", "b"};
                  },
                  "must name the 10 CIFAR-10 classes, got 2"},
        BadConfig{"cutout too large",
                  [](auto& j) {
                    j["data"]["augment"] = {{"cutout", 65}};
                  },
                  "data.augment: key 'cutout' must be in 0..64 (the square's side; 0 = none)"},
        BadConfig{"cutout negative",
                  [](auto& j) {
                    j["data"]["augment"] = {{"crop_padding", 4}, {"cutout", -1}};
                  },
                  "key 'cutout' must be in 0..64"},
        BadConfig{"no network", [](auto& j) { j.erase("network"); },
                  "missing required key 'network'"},
        BadConfig{"logits not 2-d", [](auto& j) { j["network"]["layers"] = {j[layer(0)]}; },
                  "must output (N, classes) logits"}));

TEST(ConfigParsing, BadJsonNamesLineAndColumn) {
  try {
    parse_json_text("{\n  \"a\": 1,\n  \"b\": ]\n}", "broken.json");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("broken.json: invalid JSON at line 3, column 9"),
              std::string::npos)
        << e.what();
  }
}

TEST(ConfigParsing, MissingFileIsAnError) {
  EXPECT_THROW(Config::load("/nonexistent/cnne.json"), ConfigError);
}

TEST(ConfigParsing, TutorialConfigIsTheTutorial) {
  const Config c = Config::from_json(tutorial(), "simplecnn.json");
  EXPECT_EQ(c.training.epochs, 2);
  EXPECT_EQ(c.training.batch_size, 4);
  EXPECT_DOUBLE_EQ(c.training.optimizer.lr, 0.001);
  EXPECT_DOUBLE_EQ(c.training.optimizer.momentum, 0.9);
  EXPECT_EQ(c.training.log_every, 2000);
  EXPECT_TRUE(c.data.shuffle);
  EXPECT_EQ(c.data.mean, (std::vector<double>{0.5, 0.5, 0.5}));
  const Network net = Network::from_json(c.network, "simplecnn.json");
  EXPECT_EQ(net.parameter_count(), 62006);  // PyTorch's count for the tutorial's SimpleCNN
  EXPECT_EQ(
      net.repr(),
      "SimpleCNN(\n"
      "  (conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))\n"
      "  (relu1): ReLU()\n"
      "  (pool1): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
      "  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))\n"
      "  (relu2): ReLU()\n"
      "  (pool2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
      "  (flatten): Flatten(start_dim=1, end_dim=-1)\n"
      "  (fc1): Linear(in_features=400, out_features=120, bias=True)\n"
      "  (relu3): ReLU()\n"
      "  (fc2): Linear(in_features=120, out_features=84, bias=True)\n"
      "  (relu4): ReLU()\n"
      "  (fc3): Linear(in_features=84, out_features=10, bias=True)\n"
      ")");
  std::vector<std::string> names;
  for (const auto& p : net.parameters()) names.push_back(p.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv1.bias", "conv2.weight",
                                             "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight",
                                             "fc2.bias", "fc3.weight", "fc3.bias"}));
}

TEST(ConfigParsing, ToJsonRoundTrips) {
  const Config c = Config::from_json(tutorial(), "a.json");
  const Network net = Network::from_json(c.network, "a.json");
  Config again = Config::from_json(c.to_json(), "b.json");
  again.network = net.to_json();
  const Config third = Config::from_json(again.to_json(), "c.json");
  EXPECT_EQ(again.to_json(), third.to_json());
  EXPECT_EQ(Network::from_json(third.network, "c.json").repr(), net.repr());
  EXPECT_DOUBLE_EQ(third.training.optimizer.lr, 0.001);  // exact: kept in double
}

TEST(ConfigParsing, CutoutRoundTripsAndIsDescribed) {
  nlohmann::json j = tutorial();
  j["data"]["augment"] = {{"crop_padding", 4}, {"horizontal_flip", true}, {"cutout", 16}};
  const Config c = Config::from_json(j, "a.json");
  EXPECT_EQ(c.data.augment.cutout, 16);
  EXPECT_EQ(Config::from_json(c.to_json(), "b.json").data.augment.cutout, 16);
  EXPECT_EQ(c.data.augment.describe(), "RandomHorizontalFlip(), RandomCrop(padding=4), Cutout(16)");
  j["data"]["augment"] = {{"crop_padding", 4}};
  const Config no_cutout = Config::from_json(j, "c.json");
  EXPECT_FALSE(no_cutout.to_json()["data"]["augment"].contains("cutout"));  // as before cutout
  EXPECT_EQ(AugmentConfig{}.describe(), "none");
}

TEST(ConfigOverrides, ReplaceAndCheckRanges) {
  Config c = Config::from_json(tutorial(), "a.json");
  Overrides o;
  o.epochs = 5;
  o.batch_size = 64;
  o.lr = 0.01;
  o.seed = 42;
  o.checkpoint = "w.safetensors";
  apply_overrides(c, o);
  EXPECT_EQ(c.training.epochs, 5);
  EXPECT_EQ(c.training.batch_size, 64);
  EXPECT_DOUBLE_EQ(c.training.optimizer.lr, 0.01);
  EXPECT_EQ(c.training.seed, 42u);
  EXPECT_EQ(c.training.checkpoint, "w.safetensors");
  Overrides bad;
  bad.lr = -1;
  EXPECT_THROW(apply_overrides(c, bad), UsageError);
}

TEST(ConfigOverrides, NoGraphWinsOverTheConfigAndContradictsGraph) {
  Config c = Config::from_json(tutorial(), "a.json");
  Overrides graph;
  graph.cuda_graph = true;
  apply_overrides(c, graph);
  EXPECT_TRUE(c.training.cuda_graph);
  Overrides eager;
  eager.no_cuda_graph = true;
  apply_overrides(c, eager);
  EXPECT_FALSE(c.training.cuda_graph);
  Overrides both = graph;
  both.no_cuda_graph = true;
  EXPECT_THROW(apply_overrides(c, both), UsageError);
}

TEST(ConfigOverrides, Tf32IsOffByDefaultAndSetByTheConfigOrTheFlag) {
  Config c = Config::from_json(tutorial(), "a.json");
  EXPECT_FALSE(c.training.tf32);  // strict FP32: the reference
  Overrides tf32;
  tf32.tf32 = true;
  apply_overrides(c, tf32);
  EXPECT_TRUE(c.training.tf32);
  EXPECT_TRUE(c.to_json()["training"]["tf32"].get<bool>());  // kept in checkpoints' configs
  nlohmann::json j = tutorial();
  j["training"]["tf32"] = true;
  EXPECT_TRUE(Config::from_json(j, "a.json").training.tf32);
  j["training"]["tf32"] = "yes";
  try {
    Config::from_json(j, "a.json");
    FAIL() << "a string for tf32 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("tf32"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cnne
