#!/usr/bin/env python3
"""Writes configs/resnet18.json: the CIFAR variant of ResNet-18 (3x3 stem, no
initial max-pool, BasicBlocks [2, 2, 2, 2] of 64/128/256/512 channels, global
average pooling, a 10-way linear head), 11.17M parameters, with torchvision's
parameter names (conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0, fc), so
that a torchvision resnet18 state_dict saved as safetensors loads by name
(everything but conv1, 7x7 there, and fc, 1000-way there).

    tools/make_resnet_config.py [OUT]          configs/resnet18.json (fp32, 30 epochs)
    tools/make_resnet_config.py --bf16 [OUT]   configs/resnet18_bf16.json: the short
        bf16 recipe (30 epochs, bf16 activations, the step as a CUDA graph)
    tools/make_resnet_config.py --transfer [OUT]   configs/resnet18_transfer.json: the
        tutorial's transfer-learning step, torchvision's ImageNet ResNet-18 as it is
        (7x7 stride-2 stem, 3x3 stride-2 max-pool) started from its pretrained weights
        (resnet18-f37072fd.pth, read as torch.save wrote it) with a new 10-way fc
"""
import json
import sys


def conv(name, cin, cout, k, stride, inputs=None):
    layer = {"type": "conv2d", "name": name, "in_channels": cin, "out_channels": cout,
             "kernel_size": k, "stride": stride, "padding": k // 2, "bias": False}
    if inputs:
        layer["inputs"] = inputs
    return layer


def bn(name, c):
    return {"type": "batchnorm2d", "name": name, "num_features": c}


def block(prefix, cin, cout, stride, block_input):
    layers = [conv(f"{prefix}.conv1", cin, cout, 3, stride, [block_input]),
              bn(f"{prefix}.bn1", cout),
              {"type": "relu", "name": f"{prefix}.relu1"},
              conv(f"{prefix}.conv2", cout, cout, 3, 1),
              bn(f"{prefix}.bn2", cout)]
    shortcut = block_input
    if stride != 1 or cin != cout:
        layers += [conv(f"{prefix}.downsample.0", cin, cout, 1, stride, [block_input]),
                   bn(f"{prefix}.downsample.1", cout)]
        shortcut = f"{prefix}.downsample.1"
    layers += [{"type": "add", "name": f"{prefix}.add", "inputs": [f"{prefix}.bn2", shortcut]},
               {"type": "relu", "name": f"{prefix}.relu2"}]
    return layers, f"{prefix}.relu2"


def main():
    args = sys.argv[1:]
    bf16, transfer = "--bf16" in args, "--transfer" in args
    args = [a for a in args if a not in ("--bf16", "--transfer")]
    default_out = ("configs/resnet18_bf16.json" if bf16 else
                   "configs/resnet18_transfer.json" if transfer else "configs/resnet18.json")
    out = args[0] if args else default_out
    if transfer:  # torchvision's stem: conv 7x7 stride 2 (padding 3), max-pool 3x3 stride 2
        layers = [conv("conv1", 3, 64, 7, 2), bn("bn1", 64), {"type": "relu", "name": "relu"},
                  {"type": "maxpool2d", "name": "maxpool", "kernel_size": 3, "stride": 2,
                   "padding": 1}]
        last = "maxpool"
    else:
        layers = [conv("conv1", 3, 64, 3, 1), bn("bn1", 64), {"type": "relu", "name": "relu"}]
        last = "relu"
    channels = 64
    for stage, (width, stride) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        for index in range(2):
            block_layers, last = block(f"layer{stage}.{index}", channels, width,
                                       stride if index == 0 else 1, last)
            layers += block_layers
            channels = width
    layers += [{"type": "global_avgpool2d", "name": "avgpool"},
               {"type": "flatten", "name": "flatten"},
               {"type": "linear", "name": "fc", "in_features": 512, "out_features": 10}]
    config = {
        "comment": ("ResNet-18, CIFAR variant (3x3 stem, no max-pool), torchvision's parameter "
                    "names; written by tools/make_resnet_config.py. Recipe: 30 epochs, batch 256, "
                    "SGD Nesterov 0.9, one-cycle to lr 0.2, weight decay 5e-4, label smoothing 0.1, "
                    "random crop (padding 4) + flip, test-time flip averaging; fp32 with TF32 "
                    "convolutions on the GPU (PyTorch's default), the step as a CUDA graph. Meant for a GPU."),
        "network": {"name": "ResNet18", "input": [3, 32, 32], "layers": layers},
        "data": {"dataset": "cifar10",
                 "normalize": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]},
                 "shuffle": True, "augment": {"crop_padding": 4, "horizontal_flip": True}},
        "training": {"epochs": 30, "batch_size": 256, "loss": "cross_entropy",
                     "optimizer": {"type": "sgd", "lr": 0.2, "momentum": 0.9, "nesterov": True,
                                   "weight_decay": 5e-4},
                     "schedule": {"type": "onecycle", "max_lr": 0.2},
                     "label_smoothing": 0.1, "log_every": 50, "seed": 0,
                     "checkpoint": "resnet18.safetensors", "tf32": True, "cuda_graph": True},
        "eval": {"batch_size": 500, "tta_flip": True, "every_epochs": 5},
    }
    if bf16:
        config["comment"] = (
            "ResNet-18, CIFAR variant, the short mixed-precision recipe; written by "
            "tools/make_resnet_config.py --bf16. bf16 activations (fp32 master weights and "
            "optimizer), the training step captured as a CUDA graph, 30 epochs, batch 256, SGD "
            "Nesterov 0.9, one-cycle to lr 0.2, weight decay 5e-4, label smoothing 0.1, random "
            "crop (padding 4) + flip, test-time flip averaging. Meant for a GPU.")
        del config["training"]["tf32"]  # bf16 convolutions use the tensor cores anyway
        config["training"].update({"epochs": 30, "precision": "bf16", "cuda_graph": True,
                                   "checkpoint": "resnet18_bf16.safetensors"})
    if transfer:
        config["comment"] = (
            "The tutorial's transfer-learning step (models.resnet18(pretrained=True) with "
            "resnet.fc replaced by a 10-way Linear): torchvision's ImageNet ResNet-18 as it is "
            "(7x7 stride-2 stem, max-pool), on the 32x32 CIFAR-10 images as the tutorial feeds "
            "them, normalized with ImageNet's statistics. Written by tools/make_resnet_config.py "
            "--transfer. It starts from torchvision's weights, read from the .pth file "
            "torchvision downloads: curl -LO https://download.pytorch.org/models/resnet18-f37072fd.pth "
            "(or ~/.cache/torch/hub/checkpoints/resnet18-f37072fd.pth), every tensor but fc.*. "
            "Recipe: 10 epochs, batch 128, SGD momentum 0.9, lr 0.01 cosine, weight decay 5e-4, "
            "random crop (padding 4) + flip. Meant for a GPU.")
        config["network"]["name"] = "ResNet18ImageNet"
        config["data"]["normalize"] = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
        config["training"].update({
            "epochs": 10, "batch_size": 128,
            "optimizer": {"type": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4},
            "schedule": {"type": "cosine"}, "init_from": "resnet18-f37072fd.pth",
            "init_skip": ["fc.*"], "checkpoint": "resnet18_transfer.safetensors"})
        del config["training"]["label_smoothing"]
        config["eval"] = {"batch_size": 500, "every_epochs": 2}
    with open(out, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"wrote {out}: {len(layers)} layers")


if __name__ == "__main__":
    main()
