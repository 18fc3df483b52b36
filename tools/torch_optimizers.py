"""torch.optim from a cnnengine training.optimizer object (docs/CONFIG.md), with
cnnengine's defaults where the object leaves a key out: SGD, Adam, AdamW (amsgrad),
RMSprop and Adagrad. Shared by tools/make_parity_fixtures.py (the PyTorch fixtures)
and tools/pytorch_tutorial.py --optimizer (the tutorial as a peer on another
optimizer)."""
import torch.optim as optim


def make_optimizer(params, o):
    if o["type"] == "sgd":
        return optim.SGD(params, lr=o["lr"], momentum=o.get("momentum", 0),
                         dampening=o.get("dampening", 0), weight_decay=o.get("weight_decay", 0),
                         nesterov=o.get("nesterov", False))
    if o["type"] == "rmsprop":
        return optim.RMSprop(params, lr=o["lr"], alpha=o.get("alpha", 0.99),
                             eps=o.get("eps", 1e-8), weight_decay=o.get("weight_decay", 0),
                             momentum=o.get("momentum", 0), centered=o.get("centered", False))
    if o["type"] == "adagrad":
        return optim.Adagrad(params, lr=o["lr"], lr_decay=o.get("lr_decay", 0),
                             weight_decay=o.get("weight_decay", 0),
                             initial_accumulator_value=o.get("initial_accumulator_value", 0),
                             eps=o.get("eps", 1e-10))
    cls = optim.Adam if o["type"] == "adam" else optim.AdamW
    wd = o.get("weight_decay", 0.0 if o["type"] == "adam" else 0.01)
    return cls(params, lr=o["lr"], betas=tuple(o.get("betas", (0.9, 0.999))),
               eps=o.get("eps", 1e-8), weight_decay=wd, amsgrad=o.get("amsgrad", False))
