"""Cross-check neuroport's NeuroBench-style counting against NeuroBench 2.3.0 itself, on one small snnTorch network.

NeuroBench pulls torch, torchaudio and snnTorch, so it is kept out of `make test`. To run it (no download of
torch: the project's .venv already has it), in a throwaway environment that sees the project's packages:

    python3 -m venv /tmp/nbvenv
    printf "%s\n" "$PWD/.venv/lib/python3.11/site-packages" "$PWD" > /tmp/nbvenv/lib/python3.11/site-packages/neuroport.pth
    /tmp/nbvenv/bin/pip install --no-deps neurobench==2.3.0 snntorch
    /tmp/nbvenv/bin/python benchmarks/neurobench_check.py

It records the spikes of every spiking layer while NeuroBench runs, computes
effective ACs, activation sparsity and connection sparsity with neuroport.reporters.neurobench, and prints both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import snntorch as snn
import torch
from neurobench.benchmarks import Benchmark
from neurobench.metrics.static import ConnectionSparsity, ParameterCount
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
from neurobench.models import SNNTorchModel
from torch import nn

from neuroport import jsonio
from neuroport.reporters.neurobench import effective_acs

ROOT = Path(__file__).resolve().parents[1]


def network(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(8, 6, bias=False), snn.Leaky(beta=0.9, init_hidden=True),
                        nn.Linear(6, 2, bias=False), snn.Leaky(beta=0.9, init_hidden=True, output=True))
    with torch.no_grad():
        net[0].weight.mul_(3.0)
        net[0].weight[0, :4] = 0.0  # some zero weights: connection sparsity and effective ACs must skip them
        net[2].weight[1, 2:] = 0.0
    return net


def main() -> None:
    net = network(0)
    recorded: dict[str, list[np.ndarray]] = {"lif1": [], "lif2": []}

    def keep(name, index):
        def hook(module, args, output):
            value = output[0] if isinstance(output, tuple) else output
            recorded[name].append(value.detach().numpy().copy())
        return hook

    for name, index in (("lif1", 1), ("lif2", 3)):  # NeuroBench's own hooks re-invoke the Linear layers
        net[index].register_forward_hook(keep(name, index))
    g = torch.Generator().manual_seed(1)
    data = (torch.rand(4, 30, 8, generator=g) < 0.4).float()  # batch 4, 30 steps, 8 inputs
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data, torch.zeros(4, dtype=torch.long)), batch_size=4)
    bench = Benchmark(SNNTorchModel(net), loader, [], [lambda spikes: spikes.sum(0).argmax(-1)],
                      [[ConnectionSparsity, ParameterCount], [ActivationSparsity, SynapticOperations]])
    theirs = bench.run()
    stack = {k: np.stack(v, axis=1) for k, v in recorded.items()}  # (batch, steps, features)
    w1, w2 = net[0].weight.detach().numpy(), net[2].weight.detach().numpy()
    spikes = np.concatenate([stack["lif1"], stack["lif2"]], axis=2)
    ours = {
        # the inputs of fc1 are the data, those of fc2 the spikes of lif1, step by step
        "Effective_ACs": effective_acs([(w1, data.numpy()), (w2, stack["lif1"])]) / data.shape[0],
        "ActivationSparsity": 1.0 - float((spikes != 0).sum()) / spikes.size,
        "ConnectionSparsity": float(((w1 == 0).sum() + (w2 == 0).sum()) / (w1.size + w2.size)),
        "ParameterCount": int(w1.size + w2.size),
        "Dense": float((w1.size + w2.size) * data.shape[1]),
    }
    print("NeuroBench:", json.dumps(theirs, default=float))
    print("neuroport: ", json.dumps(ours))
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results/neurobench_check.json").write_text(jsonio.dumps({"neurobench": theirs, "neuroport": ours}, indent=1, default=float))


if __name__ == "__main__":
    main()
