// Transfer learning: --init-from loads another model's tensors by PyTorch
// name, init_skip replaces some (a new head), freeze keeps layers fixed, and
// missing or mis-shaped tensors are clear errors.
#include <gtest/gtest.h>

#include "engine/checkpoint.h"
#include "engine/config.h"
#include "engine/half.h"
#include "engine/network.h"
#include "tests/test_util.h"

namespace cnne::test {
namespace {

struct Transfer {
  TempDir data, out;
  std::string flags;
  Transfer() {
    make_small_cifar(data, 8, 8);
    flags = " --device cpu --no-eval --data " + data.path().string() + " ";
  }
  // The tutorial's config with `edit` applied, written to NAME.json.
  std::string config(const std::string& name, const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = parse_json_text(Config::embedded_default(), "simplecnn.json");
    edit(j);
    write_text(out.file(name + ".json"), j.dump());
    return out.file(name + ".json");
  }
};

const float* tensor(const Safetensors& f, const std::string& name) {
  return f.find(name)->view().f32();
}

TEST(Transfer, FrozenLayersKeepThePretrainedWeightsAndTheNewHeadTrains) {
  Transfer t;
  const std::string pretrained = t.out.file("pretrained.safetensors");
  ASSERT_EQ(run_cli("train" + t.flags + "--epochs 1 --seed 3 --out " + pretrained).exit_code, 0);
  const std::string cfg = t.config("finetune", [&](nlohmann::json& j) {
    j["training"]["init_skip"] = {"fc3.*"};
    j["training"]["freeze"] = {"conv*"};
  });
  const std::string tuned = t.out.file("tuned.safetensors");
  const RunResult r = run_cli("train " + cfg + t.flags + "--epochs 2 --seed 4 --lr 0.01 " +
                              "--init-from " + pretrained + " --out " + tuned);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Initialized from " + pretrained + ": 8 tensors loaded, 2 skipped"),
            std::string::npos)
      << r.out;
  const Safetensors a = load_safetensors(pretrained), b = load_safetensors(tuned);
  for (const char* frozen : {"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias"})
    EXPECT_EQ(a.find(frozen)->bytes, b.find(frozen)->bytes) << frozen;
  for (const char* trained : {"fc1.weight", "fc3.weight"})
    EXPECT_NE(a.find(trained)->bytes, b.find(trained)->bytes) << trained;
  EXPECT_NE(tensor(a, "fc3.bias")[0], tensor(b, "fc3.bias")[0]);
}

// A copy of `file` with every F32 tensor stored as `dtype` (a state_dict
// saved with .half() or .bfloat16()).
Safetensors narrowed(const Safetensors& file, DType dtype) {
  Safetensors out;
  for (const SafetensorsTensor& t : file.tensors) {
    SafetensorsTensor copy = t;
    if (t.dtype == DType::F32) {
      copy.dtype = dtype;
      copy.bytes.resize(static_cast<size_t>(t.shape.numel()) * 2);
      convert_host(t.bytes.data(), DType::F32, copy.bytes.data(), dtype,
                   static_cast<size_t>(t.shape.numel()));
    }
    out.tensors.push_back(copy);
  }
  return out;
}

TEST(Transfer, HalfPrecisionStateDictsLoadWidened) {
  Transfer t;
  const std::string pretrained = t.out.file("pretrained.safetensors");
  ASSERT_EQ(run_cli("train" + t.flags + "--epochs 1 --out " + pretrained).exit_code, 0);
  const Safetensors full = load_safetensors(pretrained);
  for (DType dtype : {DType::BF16, DType::F16}) {
    const std::string path = t.out.file(std::string(dtype_name(dtype)) + ".safetensors");
    save_safetensors(path, narrowed(full, dtype));
    // through the API: every weight is the 16-bit value, widened exactly
    Network net = Network::from_json(
        parse_json_text(Config::embedded_default(), "simplecnn.json")["network"], "net.json");
    Context ctx(Device::CPU);
    net.setup(ctx, {4});
    load_weights(load_safetensors(path), path, net);
    const std::vector<float> loaded = net.download_parameters();
    for (const NamedParam& p : net.parameters()) {
      const float* original = tensor(full, p.name);
      for (int64_t i = 0; i < p.shape.numel(); ++i) {
        const float expected = dtype == DType::BF16 ? bf16_to_float(float_to_bf16(original[i]))
                                                    : f16_to_float(float_to_f16(original[i]));
        ASSERT_EQ(loaded[static_cast<size_t>(p.offset + i)], expected) << p.name << "[" << i << "]";
      }
    }
    // through the CLI
    const RunResult r = run_cli("train" + t.flags + "--epochs 1 --init-from " + path + " --out " +
                                t.out.file("from_half.safetensors"));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("10 tensors loaded"), std::string::npos) << r.out;
  }
  // integers are no weights
  Safetensors ints = full;
  for (SafetensorsTensor& x : ints.tensors)
    if (x.name == "fc1.bias") x.dtype = DType::I32;
  save_safetensors(t.out.file("ints.safetensors"), ints);
  const RunResult r = run_cli("train" + t.flags + "--init-from " + t.out.file("ints.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tensor 'fc1.bias' is I32, expected F32 (or BF16/F16)"), std::string::npos)
      << r.err;
}

TEST(Transfer, MissingAndMisShapedTensorsAreClearErrors) {
  Transfer t;
  const std::string pretrained = t.out.file("pretrained.safetensors");
  ASSERT_EQ(run_cli("train" + t.flags + "--epochs 1 --out " + pretrained).exit_code, 0);
  const std::string narrow = t.config("narrow", [](nlohmann::json& j) {
    j["network"]["layers"][9]["out_features"] = 64;  // fc2 120 -> 64
    j["network"]["layers"][11]["in_features"] = 64;  // fc3 84 -> 64
  });
  RunResult r = run_cli("train " + narrow + t.flags + "--init-from " + pretrained);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("pretrained.safetensors: tensor 'fc2.weight' has shape [84, 120], the "
                       "network expects [64, 120]"),
            std::string::npos)
      << r.err;
  const std::string skipped = t.config("narrow_skip", [](nlohmann::json& j) {
    j["network"]["layers"][9]["out_features"] = 64;
    j["network"]["layers"][11]["in_features"] = 64;
    j["training"]["init_skip"] = {"fc2.*", "fc3.*"};
  });
  EXPECT_EQ(run_cli("train " + skipped + t.flags + "--init-from " + pretrained).exit_code, 0);

  const std::string extra = t.config("extra", [](nlohmann::json& j) {
    j["network"]["layers"][11]["name"] = "head";  // fc3 -> head: fc3.* unexpected, head.* missing
  });
  r = run_cli("train " + extra + t.flags + "--init-from " + pretrained);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing tensor 'head.weight'"), std::string::npos) << r.err;

  const std::string bad_freeze =
      t.config("bad_freeze", [](nlohmann::json& j) { j["training"]["freeze"] = {"layer9*"}; });
  r = run_cli("train " + bad_freeze + t.flags);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("training.freeze: 'layer9*' matches no layer"), std::string::npos) << r.err;
  r = run_cli("train" + t.flags + "--init-from " + t.out.file("none.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("none.safetensors: no such file"), std::string::npos) << r.err;
}

TEST(ResNet18, TrainsAStepOnTheCpuAndSavesPyTorchNamedState) {
  Transfer t;
  const std::string ckpt = t.out.file("r18.safetensors");
  const RunResult r = run_cli("train " + source_dir() + "/configs/resnet18.json" + t.flags +
                              "--epochs 1 --train-limit 4 --batch-size 2 --out " + ckpt);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const Safetensors f = load_safetensors(ckpt);
  size_t params = 0;
  for (const auto& tensor_entry : f.tensors)
    params += static_cast<size_t>(tensor_entry.shape.numel());
  ASSERT_NE(f.find("layer2.0.downsample.0.weight"), nullptr);
  ASSERT_NE(f.find("layer4.1.bn2.running_var"), nullptr);
  const SafetensorsTensor* tracked = f.find("bn1.num_batches_tracked");
  ASSERT_NE(tracked, nullptr);
  EXPECT_EQ(tracked->dtype, DType::I64);
  int64_t batches = 0;
  std::memcpy(&batches, tracked->bytes.data(), 8);
  EXPECT_EQ(batches, 2);  // 4 images, batch 2
  // 11,173,962 parameters, 9,600 running statistics, 20 counters
  EXPECT_EQ(params, 11173962u + 9600u + 20u);
}

}  // namespace
}  // namespace cnne::test

namespace cnne::test {
namespace {

// The tutorial's transfer-learning step with configs/resnet18_transfer.json:
// a pretrained ImageNet ResNet-18 state_dict (torchvision's names, a 1000-way
// fc), saved as torch.save writes it, starts the CIFAR-10 run; everything but
// the head loads.
TEST(Transfer, AnImageNetResNet18PthStartsTheTransferConfigButItsHead) {
  Transfer t;
  const std::string config = source_dir() + "/configs/resnet18_transfer.json";
  Config imagenet = Config::load(config);
  nlohmann::json& fc = imagenet.network["layers"].back();
  ASSERT_EQ(fc["name"], "fc");
  fc["out_features"] = 1000;
  Context ctx(Device::CPU);
  Network pretrained = Network::from_json(imagenet.network, "imagenet.json");
  pretrained.setup(ctx, {1});
  Rng rng(11);
  pretrained.initialize(rng);
  const std::string pth = t.out.file("resnet18-f37072fd.pth");
  save_checkpoint(pth, imagenet, pretrained, {});

  const RunResult r =
      run_cli("train " + config + t.flags + "--epochs 1 --train-limit 4 " +
              "--batch-size 2 --init-from " + pth + " --out " + t.out.file("tuned.safetensors"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Initialized from " + pth + ": 100 tensors loaded, 2 skipped"),
            std::string::npos)
      << r.out;
  const Safetensors tuned = load_safetensors(t.out.file("tuned.safetensors"));
  EXPECT_EQ(tuned.find("conv1.weight")->shape, (Shape{64, 3, 7, 7}));
  EXPECT_EQ(tuned.find("fc.weight")->shape, (Shape{10, 512}));
}

}  // namespace
}  // namespace cnne::test
