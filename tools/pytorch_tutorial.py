#!/usr/bin/env python3
"""The PyTorch CIFAR-10 tutorial ("Training a Classifier"), as the peer in benchmarks.

This is the program of the classic tutorial
(https://pytorch.org/tutorials/beginner/blitz/cifar10_tutorial.html), kept faithful:
the same SimpleCNN (conv1 3->6 5x5, 2x2 max pool, conv2 6->16 5x5, fc1 400->120,
fc2 120->84, fc3 84->10, ReLU after each but the last), nn.CrossEntropyLoss,
optim.SGD(lr=0.001, momentum=0.9), batch 4, shuffled training data, unshuffled test
data, DataLoader with num_workers=2, 2 epochs, the mean loss printed every 2000
batches, then the overall and per-class test accuracy.

It is adapted only in the following:

* The data source. torchvision is not needed: instead of torchvision.datasets.CIFAR10
  (which downloads the Python pickles) it reads CIFAR-10's original binary files
  (data_batch_1..5.bin and test_batch.bin from cifar-10-batches-bin; each record is
  one label byte and 3072 pixel bytes: the R, G and B planes, 32x32 row-major).
  Each item goes through what transforms.ToTensor() + transforms.Normalize((0.5, 0.5,
  0.5), (0.5, 0.5, 0.5)) do, with torch ops on the single image, as torchvision does
  per item: HWC uint8 -> CHW float32 / 255, then (x - 0.5) / 0.5. Labels are int64
  once collated.
* Flags for the data folder, the recipe (epochs, batch size), threads, DataLoader
  workers, seed, data subsets, device (cpu or cuda, the tutorial's GPU variant), an
  optional checkpoint path (the tutorial always saves ./cifar_net.pth) and an optional
  other optimizer (--optimizer, in cnnengine's config terms; tools/torch_optimizers.py);
  --norm group adds nn.GroupNorm after each convolution (configs/simplecnn_groupnorm.json),
  --norm batch nn.BatchNorm2d; --se adds a squeeze-and-excitation block after the second
  convolution's ReLU (configs/simplecnn_se.json); --conv-init torchvision initializes the
  convolutions as torchvision's ResNet does (kaiming_normal_ fan_out, zero bias).
* Timing: the wall time of each epoch (time.perf_counter, after torch.cuda.synchronize
  on cuda) is printed in the same form as cnnengine prints it, and one machine-readable
  RESULT line is printed at the end.
* --dataset fashion-mnist runs the same program on Fashion-MNIST (the IDX files,
  gzip-compressed or not, as Debian's dataset-fashion-mnist installs them) with
  LeNet-5's first layer (conv1 1->6 5x5, padding 2; the rest is SimpleCNN), as
  cnnengine's configs/fashion_mnist.json; items as torchvision's FashionMNIST with
  ToTensor + Normalize((0.5,), (0.5,)).
* Omitted: the tutorial's matplotlib image display and the reload of the saved model
  before testing (it tests the trained network directly).

Usage:
  /usr/bin/python3 tools/pytorch_tutorial.py --data data/cifar-10-batches-bin \\
      [--dataset cifar10|fashion-mnist] [--epochs 2] [--batch-size 4] [--threads N] [--workers 2] [--seed N] \\
      [--train-limit N] [--test-limit N] [--device cpu|cuda] [--out FILE] [--optimizer JSON] \\
      [--norm none|group|batch] [--se] [--conv-init default|torchvision]
"""

import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data

classes = ('plane', 'car', 'bird', 'cat', 'deer',
           'dog', 'frog', 'horse', 'ship', 'truck')
fashion_classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                   'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')

RECORD_BYTES = 1 + 3 * 32 * 32
TRAIN_FILES = ['data_batch_%d.bin' % i for i in range(1, 6)]
TEST_FILES = ['test_batch.bin']


def find_data_dir(path):
    """The cifar-10-batches-bin folder: PATH itself or PATH/cifar-10-batches-bin."""
    for candidate in (path, os.path.join(path, 'cifar-10-batches-bin')):
        if all(os.path.isfile(os.path.join(candidate, f))
               for f in TRAIN_FILES[:1] + TEST_FILES):
            return candidate
    sys.exit(f'error: no CIFAR-10 binary files (data_batch_1.bin, test_batch.bin) '
             f'in {path} or {os.path.join(path, "cifar-10-batches-bin")}')


def idx_file(root, stem):
    """STEM in ROOT, extracted or gzip-compressed."""
    plain = os.path.join(root, stem)
    return plain if os.path.isfile(plain) else plain + '.gz'


def find_fashion_dir(path):
    """The folder of the four Fashion-MNIST IDX files: PATH or PATH/fashion-mnist."""
    for candidate in (path, os.path.join(path, 'fashion-mnist')):
        if os.path.isfile(idx_file(candidate, 't10k-images-idx3-ubyte')):
            return candidate
    sys.exit(f'error: no Fashion-MNIST IDX files (t10k-images-idx3-ubyte[.gz]) in {path}')


def read_idx(file, dims):
    """An IDX file of unsigned bytes with DIMS dimensions, as a numpy array."""
    opener = gzip.open if file.endswith('.gz') else open
    with opener(file, 'rb') as f:
        raw = f.read()
    if raw[:4] != bytes((0, 0, 8, dims)):
        sys.exit(f'error: {file}: not an IDX file of unsigned bytes with {dims} dimensions')
    shape = tuple(int.from_bytes(raw[4 + 4 * d:8 + 4 * d], 'big') for d in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


class FashionMNISTIdx(torch.utils.data.Dataset):
    """Fashion-MNIST from its IDX files, items as torchvision's
    FashionMNIST(transform=Compose([ToTensor(), Normalize((0.5,), (0.5,))])) gives them."""

    def __init__(self, root, train, limit=0):
        split = 'train' if train else 't10k'
        self.data = read_idx(idx_file(root, f'{split}-images-idx3-ubyte'), 3)
        self.targets = read_idx(idx_file(root, f'{split}-labels-idx1-ubyte'), 1)
        if limit > 0:
            self.data, self.targets = self.data[:limit], self.targets[:limit]
        self.targets = self.targets.astype(np.int64).tolist()

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        # ToTensor(): (H, W) uint8 -> (1, H, W) float32 in [0, 1]; Normalize((0.5,), (0.5,))
        x = torch.from_numpy(self.data[index].copy()).to(dtype=torch.float32).div(255)
        return x.unsqueeze(0).sub_(0.5).div_(0.5), self.targets[index]


class CIFAR10Binary(torch.utils.data.Dataset):
    """CIFAR-10 from the original binary files, items as torchvision's
    CIFAR10(transform=Compose([ToTensor(), Normalize((0.5,)*3, (0.5,)*3)])) gives them."""

    def __init__(self, root, train, limit=0):
        # Like cnnengine: the files in order, read until the limit is reached
        # (so --train-limit 10000 needs data_batch_1.bin alone).
        parts, count = [], 0
        for f in (TRAIN_FILES if train else TEST_FILES):
            if limit > 0 and count >= limit:
                break
            file = os.path.join(root, f)
            if not os.path.isfile(file):
                sys.exit(f'error: {file}: missing CIFAR-10 file')
            parts.append(np.fromfile(file, dtype=np.uint8).reshape(-1, RECORD_BYTES))
            count += len(parts[-1])
        raw = np.concatenate(parts)
        if limit > 0:
            raw = raw[:limit]
        self.targets = raw[:, 0].astype(np.int64).tolist()
        # Like torchvision: stored as N x H x W x C uint8 (what the PIL image holds).
        self.data = np.ascontiguousarray(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        self.mean = torch.tensor((0.5, 0.5, 0.5))
        self.std = torch.tensor((0.5, 0.5, 0.5))

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img, target = self.data[index], self.targets[index]
        # transforms.ToTensor(): HWC uint8 -> CHW float32 in [0, 1]
        x = torch.from_numpy(img).permute(2, 0, 1).contiguous()
        x = x.to(dtype=torch.float32).div(255)
        # transforms.Normalize(mean, std)
        x = x.sub_(self.mean[:, None, None]).div_(self.std[:, None, None])
        return x, target


class SimpleCNN(nn.Module):
    """The tutorial's network, verbatim (grayscale: LeNet-5's padded first layer;
    norm 'group': nn.GroupNorm(2, 6) and nn.GroupNorm(4, 16) after the convolutions, as
    configs/simplecnn_groupnorm.json; 'batch': nn.BatchNorm2d(6) and nn.BatchNorm2d(16);
    se: a squeeze-and-excitation block (Hu et al. 2018; reduction 4: 16 -> 4 -> 16 by 1x1
    convolutions, ReLU, sigmoid) rescaling conv2's channels before the pooling, as
    configs/simplecnn_se.json)."""

    def __init__(self, grayscale=False, norm='none', se=False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2) if grayscale else nn.Conv2d(3, 6, 5)
        if norm == 'group':
            self.norm1 = nn.GroupNorm(2, 6)
        elif norm == 'batch':
            self.norm1 = nn.BatchNorm2d(6)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        if norm == 'group':
            self.norm2 = nn.GroupNorm(4, 16)
        elif norm == 'batch':
            self.norm2 = nn.BatchNorm2d(16)
        self.normalized = norm != 'none'
        self.se = se
        if se:
            self.se_reduce = nn.Conv2d(16, 4, 1)
            self.se_expand = nn.Conv2d(4, 16, 1)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = self.pool(torch.relu(self.norm1(x) if self.normalized else x))
        x = self.conv2(x)
        x = torch.relu(self.norm2(x) if self.normalized else x)
        if self.se:
            gate = nn.functional.adaptive_avg_pool2d(x, 1)
            gate = torch.sigmoid(self.se_expand(torch.relu(self.se_reduce(gate))))
            x = x * gate
        x = self.pool(x)
        x = x.view(-1, 16 * 5 * 5)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def parse_args():
    p = argparse.ArgumentParser(
        description='The PyTorch CIFAR-10 tutorial, reading the binary CIFAR-10 files.')
    p.add_argument('--data', required=True,
                   help='cifar-10-batches-bin folder, or a folder containing it '
                        '(fashion-mnist: the folder of its IDX files)')
    p.add_argument('--dataset', choices=('cifar10', 'fashion-mnist'), default='cifar10')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--threads', type=int, default=None,
                   help="torch.set_num_threads(N) (default: torch's default)")
    p.add_argument('--workers', type=int, default=2, help='DataLoader num_workers')
    p.add_argument('--seed', type=int, default=None, help='torch.manual_seed(N)')
    p.add_argument('--train-limit', type=int, default=0,
                   help='train on the first N images only (0 = all)')
    p.add_argument('--test-limit', type=int, default=0,
                   help='test on the first N images only (0 = all)')
    p.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    p.add_argument('--out', default=None, help='save net.state_dict() to FILE')
    p.add_argument('--optimizer', default=None, metavar='JSON',
                   help='another optimizer than the tutorial\'s, as a cnnengine '
                        'training.optimizer object: \'{"type": "rmsprop", "lr": 1e-4}\'')
    p.add_argument('--norm', choices=('none', 'group', 'batch'), default='none',
                   help='group: GroupNorm after each convolution '
                        '(configs/simplecnn_groupnorm.json); batch: BatchNorm2d')
    p.add_argument('--conv-init', choices=('default', 'torchvision'), default='default',
                   help='torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu") '
                        'weights and zero biases on the convolutions, as torchvision\'s ResNet '
                        '(cnnengine: "weight_init" / "bias_init", docs/CONFIG.md)')
    p.add_argument('--se', action='store_true',
                   help='a squeeze-and-excitation block after conv2 (configs/simplecnn_se.json)')
    return p.parse_args()


def main():
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.seed is not None:
        torch.manual_seed(args.seed)
    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('error: --device cuda but torch.cuda.is_available() is False')
    device = torch.device('cuda:0' if args.device == 'cuda' else 'cpu')

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    global classes
    fashion = args.dataset == 'fashion-mnist'
    root = find_fashion_dir(args.data) if fashion else find_data_dir(args.data)
    batch_size = args.batch_size
    Dataset = FashionMNISTIdx if fashion else CIFAR10Binary
    if fashion:
        classes = fashion_classes

    trainset = Dataset(root, train=True, limit=args.train_limit)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=batch_size,
                                              shuffle=True, num_workers=args.workers)
    testset = Dataset(root, train=False, limit=args.test_limit)
    testloader = torch.utils.data.DataLoader(testset, batch_size=batch_size,
                                             shuffle=False, num_workers=args.workers)

    print(f'Device: {device}, threads: {torch.get_num_threads()}, '
          f'DataLoader workers: {args.workers}')
    print(f'Data: {len(trainset)} training and {len(testset)} test images from {root}')

    net = SimpleCNN(grayscale=fashion, norm=args.norm, se=args.se)
    if args.conv_init == 'torchvision':
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
                nn.init.zeros_(m.bias)
    net.to(device)
    print(net)

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    if args.optimizer:  # the same recipe on another optimizer, as cnnengine reads it
        from torch_optimizers import make_optimizer
        optimizer = make_optimizer(net.parameters(), json.loads(args.optimizer))
        print(f'Optimizer: {optimizer}')

    epoch_seconds = []
    epoch_rates = []
    sync()
    train_start = time.perf_counter()
    for epoch in range(args.epochs):  # loop over the dataset multiple times
        sync()
        epoch_start = time.perf_counter()
        running_loss = 0.0
        batches = 0
        images = 0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data[0].to(device), data[1].to(device)

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if i % 2000 == 1999:    # print every 2000 mini-batches
                print(f'[Epoch: {epoch + 1}, Batch: {i + 1}] Loss: {running_loss / 2000:.3f}')
                running_loss = 0.0
            batches += 1
            images += labels.size(0)
        sync()
        seconds = time.perf_counter() - epoch_start
        rate = images / seconds if seconds > 0 else 0.0
        epoch_seconds.append(seconds)
        epoch_rates.append(rate)
        print(f'Epoch {epoch + 1}: {batches} batches in {seconds:.2f} s, {rate:.0f} images/s',
              flush=True)
    sync()
    total_seconds = time.perf_counter() - train_start

    print('Finished Training')

    if args.out:
        torch.save(net.state_dict(), args.out)
        print(f'Model saved to {args.out}')

    if net.normalized:
        net.eval()  # BatchNorm's running statistics (the tutorial's own net has no such layer)
    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in testloader:
            images, labels = data[0].to(device), data[1].to(device)
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()

    accuracy_total = 100.0 * correct / total if total else 0.0
    print(f'Accuracy of the network on the {total} test images: {accuracy_total:.2f}%')

    # prepare to count predictions for each class
    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}

    # again no gradients needed
    with torch.no_grad():
        for data in testloader:
            images, labels = data[0].to(device), data[1].to(device)
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            # collect the correct predictions for each class
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1

    # print accuracy for each class
    for i in range(len(classes)):
        n = total_pred[classes[i]]
        accuracy = 100.0 * correct_pred[classes[i]] / n if n else 0.0
        print(f'Accuracy of {classes[i]:5s} : {accuracy:.2f}%')

    n_epochs = len(epoch_seconds)
    mean_seconds = sum(epoch_seconds) / n_epochs if n_epochs else 0.0
    mean_rate = sum(epoch_rates) / n_epochs if n_epochs else 0.0
    print(f'RESULT peer=pytorch device={device.type} threads={torch.get_num_threads()} '
          f'epochs={args.epochs} batch={batch_size} seconds_per_epoch={mean_seconds:.3f} '
          f'images_per_second={mean_rate:.0f} accuracy={accuracy_total:.2f} '
          f'total_seconds={total_seconds:.2f}')


if __name__ == '__main__':
    main()
