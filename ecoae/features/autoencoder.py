"""The convolutional auto-encoder of Rowe et al. (QUT), explicit and implicit pooling.

Where the paper is specific, this follows it: input ``3 × 128 × 128`` (the greyscale
spectrogram repeated in each channel), four 3×3 convolutions with ReLU in the
encoder and four in the decoder, and for the explicit variant four max-pooling
layers (4×4, stride 2, padding 1) mirrored by four max-unpooling layers.

Where it is silent or inconsistent, the choices are:

* **Shapes.** With the first convolution unpadded, the explicit encoder runs
  ``128 → 126 (conv) → 63 (pool) → 63 → 31 → 31 → 15 → 15 → 7``. A plain 3×3
  convolution in the decoder could not grow the maps back to 128, so the decoder's
  convolutions are *transposed* 3×3 convolutions, stride 1: with padding 1 they keep
  the size (exactly like a padded convolution), and the last one, unpadded, grows
  126 → 128, mirroring the encoder's first. Unpooling is given the pre-pooling sizes
  (``63 → 126`` and so on), so the decoder is the encoder's exact mirror.
* **384 values.** ``C × 7 × 7`` can never be 384 (49 does not divide it), so the
  flattened last map goes through one fully connected layer to ``feature_size``
  values — the feature — and a fully connected layer maps it back. Any
  ``feature_size`` works; the paper's 384 is the default.
* **Channels.** ``channels`` gives the four encoder widths (default 16, 32, 64, 64:
  small enough to train on a laptop CPU in minutes); the decoder mirrors them.
* **Unpooling switches.** Max-unpooling needs the positions of the maxima, which
  come from the encoder (as in the paper's variant): the decoder therefore sees
  where energy was, not only the feature vector. The implicit variant has no such
  side channel, which is one reason to keep both.
* **Implicit variant.** Same depth; each pooling layer is removed and its
  convolution is 3×3 with stride 2 and padding 1 (``128 → 64 → 32 → 16 → 8``); the
  decoder uses 3×3 transposed convolutions with stride 2 (output padding 1).
* **Output.** A sigmoid, so reconstructions live in ``[0, 1]`` like the scaled input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ecoae.features.spectrogram import IMAGE_SIZE

#: The greyscale image is repeated in this many channels (the paper's RGB input).
INPUT_CHANNELS = 3
VARIANTS = ("explicit", "implicit")
DEFAULT_CHANNELS = (16, 32, 64, 64)


@dataclass(frozen=True)
class Architecture:
    """What defines a network (stored in every checkpoint).

    Parameters
    ----------
    variant : {"explicit", "implicit"}
        Max-pooling + unpooling, or strided (transposed) convolutions.
    feature_size : int
        Length of the bottleneck feature vector.
    channels : tuple of 4 int
        Output channels of the four encoder convolutions.
    """

    variant: str = "explicit"
    feature_size: int = 384
    channels: tuple[int, ...] = field(default=DEFAULT_CHANNELS)

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.feature_size < 1:
            raise ValueError(f"feature_size must be positive, not {self.feature_size}")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError(f"channels must be 4 positive widths, not {list(self.channels)}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))

    def to_dict(self) -> dict:
        """Plain mapping (lists, not tuples) for checkpoints and JSON."""
        values = asdict(self)
        values["channels"] = list(self.channels)
        return values

    @classmethod
    def from_mapping(cls, values: dict) -> "Architecture":
        """Build from a config or checkpoint mapping, ignoring unrelated keys."""
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        if "channels" in known:
            known["channels"] = tuple(known["channels"])
        return cls(**known)


def _bottleneck_side(variant: str) -> int:
    """Spatial side of the last encoder map for a 128 input."""
    side = IMAGE_SIZE
    for stage in range(4):
        if variant == "explicit":
            side = side - 2 if stage == 0 else side  # 3x3 conv, padding 0 then 1
            side = (side + 2 - 4) // 2 + 1  # max-pool 4x4, stride 2, padding 1
        else:
            side = (side + 2 - 3) // 2 + 1  # 3x3 conv, stride 2, padding 1
    return side


class ConvAutoEncoder(nn.Module):
    """Convolutional auto-encoder; ``forward`` returns the reconstruction.

    Parameters
    ----------
    architecture : Architecture
        Variant, feature size and channel widths.
    """

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        self.architecture = architecture
        explicit = architecture.variant == "explicit"
        widths = (INPUT_CHANNELS, *architecture.channels)
        self.side = _bottleneck_side(architecture.variant)
        encoder, decoder = [], []
        for stage in range(4):
            c_in, c_out = widths[stage], widths[stage + 1]
            if explicit:
                encoder.append(nn.Conv2d(c_in, c_out, 3, stride=1, padding=0 if stage == 0 else 1))
                decoder.append(nn.ConvTranspose2d(c_out, c_in, 3, stride=1, padding=0 if stage == 0 else 1))
            else:
                encoder.append(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1))
                decoder.append(nn.ConvTranspose2d(c_out, c_in, 3, stride=2, padding=1, output_padding=1))
        self.encoder_convs = nn.ModuleList(encoder)
        # Stored in encoder order; the decoder runs them from the last to the first.
        self.decoder_convs = nn.ModuleList(decoder)
        self.pool = nn.MaxPool2d(4, stride=2, padding=1, return_indices=True) if explicit else None
        self.unpool = nn.MaxUnpool2d(4, stride=2, padding=1) if explicit else None
        flat = widths[-1] * self.side * self.side
        self.to_feature = nn.Linear(flat, architecture.feature_size)
        self.from_feature = nn.Linear(architecture.feature_size, flat)

    def _encode(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        switches = []
        x = images
        for conv in self.encoder_convs:
            x = torch.relu(conv(x))
            if self.pool is not None:
                size = x.shape[-2:]
                x, indices = self.pool(x)
                switches.append((indices, size))
        return self.to_feature(x.flatten(1)), switches

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Return the ``(batch, feature_size)`` bottleneck features of ``(batch, 3, 128, 128)`` images."""
        return self._encode(images)[0]

    def decode(self, features: torch.Tensor, switches: list) -> torch.Tensor:
        """Reconstruct images from features (and, for the explicit variant, the pooling switches)."""
        x = torch.relu(self.from_feature(features))
        x = x.view(len(x), self.architecture.channels[-1], self.side, self.side)
        for stage in reversed(range(4)):
            if self.unpool is not None:
                indices, size = switches[stage]
                x = self.unpool(x, indices, output_size=size)
            x = self.decoder_convs[stage](x)
            x = torch.sigmoid(x) if stage == 0 else torch.relu(x)
        return x

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(batch, 3, 128, 128)`` images in ``[0, 1]``."""
        features, switches = self._encode(images)
        return self.decode(features, switches)


def layer_shapes(model: ConvAutoEncoder, batch: int = 1) -> list[tuple[str, tuple[int, ...]]]:
    """Return ``(layer, output shape)`` of every stage for one forward pass of zeros.

    Used by the tests and the documentation's shape table.
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.MaxPool2d, nn.MaxUnpool2d)):
            def record(_module, _inputs, output, name=name):
                output = output[0] if isinstance(output, tuple) else output
                shapes.append((name, tuple(output.shape)))
            hooks.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            model(torch.zeros(batch, INPUT_CHANNELS, IMAGE_SIZE, IMAGE_SIZE))
    finally:
        for hook in hooks:
            hook.remove()
    return shapes


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, 128, 128)`` greyscale images → float ``(n, 3, 128, 128)`` in ``[0, 1]``."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    return tensor.unsqueeze(1).expand(-1, INPUT_CHANNELS, -1, -1)


def select_device(requested: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise the named device."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
