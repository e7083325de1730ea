"""Write the decolle-public fixtures of tests/test_decolle_public.py (run in the reference venv):

    .venv-ref/bin/python tests/data/make_decolle_checkpoint.py

Three small LenetDECOLLE networks with a fixed torch seed:
  dense   2 hidden LIF layers (12 -> 10 -> 8), readouts of 3;
  conv    conv 3x3 (2 -> 2 channels, padding 1, pool 2) on 2x6x6, then dense 4; readouts of 3; saved with
          decolle.utils.save_checkpoint, i.e. {'epoch', 'model_state_dict', 'optimizer_state_dict'};
  output  1 hidden LIF layer (12 -> 10) and decolle's non-spiking output layer (with_output_layer, 3 units).
and tensors.pt: odd tensors (int64, float64, bool, a transposed view, a view with a storage offset) that
test the reader's dtypes, strides and offsets.

decolle_reference.npz holds, per network, every state-dict tensor ("<net>/<key>"), the input spikes
("<net>/spikes", (T, inputs) flattened as (channel, row, column)) and decolle's forward per step and
layer: "<net>/u<k>" (u after the pool; its spike is u > 0) and "<net>/r<k>" (the readout), stored as float32
to keep the fixture small.

The forward calls net.step on each frame from a fresh state instead of net(...): DECOLLEBase.init shows
frame 0 once more before the loop (the burn-in defect), which would shift the reference by a frame. It
runs in float64 (decays included, which decolle keeps as float32 scalars) so that the comparison can be
tight; the state dicts are saved as trained models are, in float32.
"""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from decolle.base_model import LIFLayer
from decolle.lenet_decolle_model import LenetDECOLLE
from decolle.utils import save_checkpoint

HERE = Path(__file__).resolve().parent
T = 30
ALPHA, BETA, ALPHARP, WRP = 0.97, 0.92, 0.65, 1.0


def make(name, **kwargs):
    net = LenetDECOLLE(out_channels=3, alpha=[ALPHA], beta=[BETA], alpharp=[ALPHARP], wrp=[WRP], lc_ampl=0.5,
                       lif_layer_type=LIFLayer, **kwargs)
    # decolle's own init leaves these tiny networks silent; larger weights make every layer spike
    with torch.no_grad():
        for lif in net.LIF_layers:
            layer = lif.base_layer
            fan_in = layer.weight[0].numel()
            layer.weight.uniform_(-4 / np.sqrt(fan_in), 4 / np.sqrt(fan_in))
            if layer.bias is not None:
                layer.bias.uniform_(-0.05, 0.05)
    return net


def forward(net, spikes):
    """decolle's step per frame, float64, from rest; lists per layer of (T, units) arrays."""
    net = net.double().eval()
    for lif in net.LIF_layers:
        lif.alpha = torch.tensor(ALPHA, dtype=torch.float64)
        lif.beta = torch.tensor(BETA, dtype=torch.float64)
        lif.state = None
    out = {"u": [], "s": [], "r": []}
    with torch.no_grad():
        for t in range(len(spikes)):
            s, r, u = net.step(spikes[t:t + 1])
            for key, values in (("u", u), ("s", s), ("r", r)):
                if t == 0:
                    out[key] = [[] for _ in values]
                for k, v in enumerate(values):
                    out[key][k].append(v.reshape(-1).numpy().copy())
    return {key: [np.array(v) for v in values] for key, values in out.items()}


def record(arrays, name, net, spikes, state):
    for key, tensor in state.items():
        arrays[f"{name}/{key}"] = tensor.detach().numpy().copy()
    arrays[f"{name}/spikes"] = spikes.reshape(len(spikes), -1).numpy().astype(np.uint8)
    out = forward(net, spikes.double())
    for key in ("u", "r"):
        for k, v in enumerate(out[key], start=1):
            arrays[f"{name}/{key}{k}"] = v.astype(np.float32)
    for k, s in enumerate(out["s"], start=1):
        print(f"{name}: layer {k} spikes {int(s.sum())}")


def main():
    torch.manual_seed(0)
    arrays = {}

    dense = make("dense", input_shape=[12, 1, 1], Mhid=[10, 8], num_conv_layers=0, num_mlp_layers=2)
    state = dense.state_dict()
    torch.save(state, HERE / "decolle_dense.pt")
    record(arrays, "dense", dense, (torch.rand(T, 12) < 0.3).float(), state)

    conv = make("conv", input_shape=[2, 6, 6], Nhid=[2], Mhid=[4], kernel_size=[3], stride=[1], pool_size=[2],
                num_conv_layers=1, num_mlp_layers=1)
    # one optimiser step, so that the checkpoint carries real Adamax state next to the model
    opt = torch.optim.Adamax(conv.get_trainable_parameters(), lr=1e-3, betas=(0, 0.95))
    sum(p.sum() for p in conv.get_trainable_parameters()).backward()
    opt.step()
    state = conv.state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        save_checkpoint(1, tmp, conv, opt)
        shutil.copy(os.path.join(tmp, "epoch00001.tar"), HERE / "decolle_conv_checkpoint.tar")
    record(arrays, "conv", conv, (torch.rand(T, 2, 6, 6) < 0.3).float(), state)

    output = make("output", input_shape=[12, 1, 1], Mhid=[10], num_conv_layers=0, num_mlp_layers=1,
                  with_output_layer=True)
    state = output.state_dict()
    torch.save(state, HERE / "decolle_output.pt")
    record(arrays, "output", output, (torch.rand(T, 12) < 0.3).float(), state)

    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    odd = {"int64": torch.arange(-3, 4, dtype=torch.int64), "float64": torch.linspace(-1, 1, 5, dtype=torch.float64),
           "bool": torch.tensor([True, False, True]), "int8": torch.tensor([-128, 0, 127], dtype=torch.int8),
           "transposed": base.t(), "offset": base[1:, 2:], "scalar": torch.tensor(2.5),
           "float16": torch.tensor([0.5, -2.0], dtype=torch.float16)}
    torch.save(odd, HERE / "tensors.pt")
    for key, tensor in odd.items():
        arrays[f"tensors/{key}"] = tensor.numpy().copy()

    np.savez_compressed(HERE / "decolle_reference.npz", **arrays)


if __name__ == "__main__":
    main()
