"""The convolutional auto-encoder of Rowe et al. (QUT), explicit and implicit pooling.

Where the paper is specific, this follows it: a greyscale ``128 × 128`` spectrogram
(the paper repeats it in three channels), four 3×3 convolutions with ReLU in the
encoder and four in the decoder, and for the explicit variant four max-pooling
layers (4×4, stride 2, padding 1) mirrored by four max-unpooling layers.

Where it is silent or inconsistent, the choices are:

* **Shapes.** With the first convolution unpadded, the explicit encoder runs
  ``128 → 126 (conv) → 63 (pool) → 63 → 31 → 31 → 15 → 15 → 7``. The decoder's
  convolutions are *transposed* 3×3 convolutions, stride 1: with padding 1 they keep
  the size, and the last one, unpadded, grows 126 → 128, mirroring the encoder's
  first. Unpooling is given the pre-pooling sizes, so the decoder is the encoder's
  exact mirror.
* **One input channel.** The three input channels of the paper are identical, so
  the first convolution runs over one channel whose weights are the sum of the three
  (the same output, a third of the work), and the last layer writes one channel that
  :meth:`ConvAutoEncoder.forward` repeats to the input's channel count. A checkpoint
  with three-channel weights loads by folding them (see
  :meth:`ConvAutoEncoder.load_state_dict`).
* **384 values.** ``C × 7 × 7`` can never be 384, so the flattened last map goes
  through one fully connected layer to ``feature_size`` values (the feature) and a
  fully connected layer maps it back.
* **Channels.** ``channels`` gives the four encoder widths (default 8, 16, 32, 64);
  the decoder mirrors them.
* **Unpooling** (``unpooling``). The paper does not say how its decoder undoes the
  pooling. ``"nearest"`` (default) enlarges each map to the encoder's pre-pooling
  size by nearest-neighbour upsampling, so the decoder sees only the feature vector.
  ``"switches"`` is max-unpooling: values go back to the positions of the encoder's
  maxima, a side channel that tells the decoder where energy was; with overlapping
  4×4 windows it leaves most of each map zero, and it trained slower and reconstructed
  worse (docs/autoencoder.md). The implicit variant has no pooling to undo.
* **Implicit variant.** Each pooling layer is removed and its convolution is 3×3 with
  stride 2 and padding 1 (``128 → 64 → 32 → 16 → 8``); the decoder uses 3×3
  transposed convolutions with stride 2 (output padding 1).
* **Centring** (``centring="image"``). The network sees ``image - mean`` where
  ``mean`` is the training-set mean image (a buffer, set by the training loop with
  :meth:`ConvAutoEncoder.set_input_mean`) and the decoder predicts the deviation
  from it: ``sigmoid(decoder + logit(mean))``. The network then spends its
  capacity on what differs between spectrograms, not on the shared background.
  ``centring="output"`` keeps the output side only: the encoder sees the image
  itself. Max-pooling keeps the largest value of each window, which for a raw
  spectrogram is its loudest energy; after subtracting the mean image a window's
  information is as often in its most negative deviation, which ReLU and
  max-pooling discard (measured for the explicit variant in docs/autoencoder.md).
* **Output.** A sigmoid, so reconstructions live in ``[0, 1]`` like the scaled input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from ecoae.features.spectrogram import IMAGE_SIZE
from ecoae.settings import ModelSettings

#: Channels of the input tensors (the paper's RGB input: the greyscale image repeated).
INPUT_CHANNELS = 3
VARIANTS = ModelSettings.VARIANTS
CENTRINGS = ModelSettings.CENTRINGS
NORMS = ModelSettings.NORMS
UNPOOLINGS = ModelSettings.UNPOOLINGS
#: Values a checkpoint written before a field existed was trained with.
LEGACY_FIELDS = {"centring": "none", "norm": "none", "bottleneck_relu": True, "unpooling": "switches"}
#: Keeps ``logit(mean)`` finite for all-black or all-white mean pixels.
_LOGIT_EPS = 1e-3


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
    centring : {"image", "output", "none"}
        Subtract the training mean image at the input and add it back (in logit
        space) at the output; only add it back at the output; or neither.
    norm : {"none", "batch"}
        No normalisation, or batch normalisation after every hidden convolution.
    bottleneck_relu : bool
        ReLU on the last encoder map (before the linear layer to the feature) and on
        the output of the linear layer from the feature.
    unpooling : {"nearest", "switches"}
        How the explicit decoder undoes each max-pooling: nearest-neighbour upsampling,
        or max-unpooling at the encoder's maxima (ignored by the implicit variant).
    """

    variant: str = ModelSettings.variant
    feature_size: int = ModelSettings.feature_size
    channels: tuple[int, ...] = ModelSettings.channels
    centring: str = ModelSettings.centring
    norm: str = ModelSettings.norm
    bottleneck_relu: bool = ModelSettings.bottleneck_relu
    unpooling: str = ModelSettings.unpooling

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {self.variant!r}")
        if self.feature_size < 1:
            raise ValueError(f"feature_size must be positive, not {self.feature_size}")
        if len(self.channels) != 4 or min(self.channels) < 1:
            raise ValueError(f"channels must be 4 positive widths, not {list(self.channels)}")
        if self.centring not in CENTRINGS:
            raise ValueError(f"centring must be one of {CENTRINGS}, not {self.centring!r}")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {self.norm!r}")
        if self.unpooling not in UNPOOLINGS:
            raise ValueError(f"unpooling must be one of {UNPOOLINGS}, not {self.unpooling!r}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "bottleneck_relu", bool(self.bottleneck_relu))

    def to_dict(self) -> dict:
        """Plain mapping (lists, not tuples) for checkpoints and JSON."""
        values = asdict(self)
        values["channels"] = list(self.channels)
        return values

    @classmethod
    def from_mapping(cls, values: dict) -> "Architecture":
        """Build from a config mapping, ignoring unrelated keys; absent keys take the defaults."""
        known = {name: values[name] for name in cls.__dataclass_fields__ if name in values}
        if "channels" in known:
            known["channels"] = tuple(known["channels"])
        return cls(**known)

    @classmethod
    def from_checkpoint(cls, values: dict) -> "Architecture":
        """Build from a checkpoint's mapping; fields it predates take :data:`LEGACY_FIELDS`."""
        return cls.from_mapping({**LEGACY_FIELDS, **values})


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


class NearestUnpool(nn.Module):
    """Undo a max-pooling by nearest-neighbour upsampling to the pre-pooling size.

    Called like :class:`torch.nn.MaxUnpool2d`, so the decoder treats both alike.
    """

    def forward(self, x: torch.Tensor, indices: None, output_size: torch.Size) -> torch.Tensor:
        """Return ``x`` enlarged to ``output_size`` (height, width); ``indices`` is unused (None)."""
        return functional.interpolate(x, size=tuple(output_size), mode="nearest")


class ConvAutoEncoder(nn.Module):
    """Convolutional auto-encoder; ``forward`` returns the reconstruction.

    Parameters
    ----------
    architecture : Architecture
        Variant, feature size, channel widths and options.
    """

    def __init__(self, architecture: Architecture) -> None:
        super().__init__()
        self.architecture = architecture
        explicit = architecture.variant == "explicit"
        widths = (1, *architecture.channels)
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
        if architecture.norm == "batch":
            self.encoder_norms = nn.ModuleList(nn.BatchNorm2d(c) for c in architecture.channels)
            # decoder_norms[stage] follows decoder_convs[stage]; the output layer (stage 0) has none.
            self.decoder_norms = nn.ModuleList(nn.BatchNorm2d(c) for c in widths[1:4])
        else:
            self.encoder_norms = self.decoder_norms = None
        self.switches = explicit and architecture.unpooling == "switches"
        self.pool = nn.MaxPool2d(4, stride=2, padding=1, return_indices=self.switches) if explicit else None
        if not explicit:
            self.unpool = None
        elif self.switches:
            self.unpool = nn.MaxUnpool2d(4, stride=2, padding=1)
        else:
            self.unpool = NearestUnpool()
        flat = widths[-1] * self.side * self.side
        self.to_feature = nn.Linear(flat, architecture.feature_size)
        self.from_feature = nn.Linear(architecture.feature_size, flat)
        if architecture.centring != "none":
            self.register_buffer("input_mean", torch.full((1, 1, IMAGE_SIZE, IMAGE_SIZE), 0.5))
            # logit(input_mean), derived from it (not saved): see _refresh_output_offset.
            self.register_buffer("output_offset", torch.zeros_like(self.input_mean), persistent=False)

    def set_input_mean(self, mean: torch.Tensor | np.ndarray) -> None:
        """Store the ``(128, 128)`` training mean image in ``[0, 1]`` (centring ``"image"`` or ``"output"``)."""
        if self.architecture.centring == "none":
            raise ValueError("this architecture has centring 'none': there is no input mean to set")
        mean = torch.as_tensor(np.asarray(mean, dtype=np.float32)).reshape(self.input_mean.shape)
        self.input_mean.copy_(mean.to(self.input_mean.device))
        self._refresh_output_offset()

    def _refresh_output_offset(self) -> None:
        """Recompute ``output_offset = logit(input_mean)`` once, in float64 with NumPy.

        Computed once rather than in every forward pass, and not with ``torch.logit``:
        on CPU with two threads, torch 2.13's first ``torch.logit`` call in a process
        sometimes returned the worker thread's half of the image with a relative error
        near 1e-4, so two training runs with one seed drifted apart.
        """
        mean = self.input_mean.detach().cpu().double().numpy().clip(_LOGIT_EPS, 1 - _LOGIT_EPS)
        offset = torch.from_numpy(np.log(mean) - np.log1p(-mean)).float()
        self.output_offset.copy_(offset.to(self.output_offset.device))

    def _hidden(self, x: torch.Tensor, norms: nn.ModuleList | None, stage: int) -> torch.Tensor:
        """Normalise (when configured) then ReLU one hidden map."""
        if norms is not None:
            x = norms[stage](x)
        return torch.relu(x)

    def _encode(self, images: torch.Tensor) -> tuple[torch.Tensor, list]:
        # The channels are identical copies (see images_to_tensor): keep one.
        x = images[:, :1] if images.shape[1] > 1 else images
        if self.architecture.centring == "image":
            x = x - self.input_mean
        switches = []
        for stage, conv in enumerate(self.encoder_convs):
            x = conv(x)
            if stage < 3 or self.architecture.bottleneck_relu:
                x = self._hidden(x, self.encoder_norms, stage)
            elif self.encoder_norms is not None:
                x = self.encoder_norms[stage](x)
            if self.pool is not None:
                size = x.shape[-2:]
                x, indices = self.pool(x) if self.switches else (self.pool(x), None)
                switches.append((indices, size))
        return self.to_feature(x.flatten(1)), switches

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Return the ``(batch, feature_size)`` bottleneck features of ``(batch, C, 128, 128)`` images."""
        return self._encode(images)[0]

    def decode(self, features: torch.Tensor, switches: list) -> torch.Tensor:
        """Reconstruct ``(batch, 1, 128, 128)`` images from features.

        ``switches`` holds, per pooling stage of the explicit variant, the pooling
        indices (None unless ``unpooling`` is ``"switches"``) and the pre-pooling size.
        """
        x = self.from_feature(features)
        if self.architecture.bottleneck_relu:
            x = torch.relu(x)
        x = x.view(len(x), self.architecture.channels[-1], self.side, self.side)
        for stage in reversed(range(4)):
            if self.unpool is not None:
                indices, size = switches[stage]
                x = self.unpool(x, indices, output_size=size)
            x = self.decoder_convs[stage](x)
            if stage > 0:
                x = self._hidden(x, self.decoder_norms, stage - 1)
        if self.architecture.centring != "none":
            x = x + self.output_offset
        return torch.sigmoid(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``(batch, C, 128, 128)`` images in ``[0, 1]`` (same shape as the input)."""
        features, switches = self._encode(images)
        output = self.decode(features, switches)
        return output.expand(-1, images.shape[1], -1, -1) if images.shape[1] > 1 else output

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Load weights; a checkpoint's three-channel input / output layers are folded to one channel.

        The first convolution's weights are summed over the input channels (exact for
        identical channels); the last transposed convolution's weights and bias are
        averaged over its output channels (its three outputs were trained towards
        the same target, so the features are unchanged and the reconstruction is the
        mean of the three).
        """
        state = dict(state_dict)
        first, last = "encoder_convs.0.weight", "decoder_convs.0"
        if first in state and state[first].shape[1] > 1:
            state[first] = state[first].sum(dim=1, keepdim=True)
        if f"{last}.weight" in state and state[f"{last}.weight"].shape[1] > 1:
            state[f"{last}.weight"] = state[f"{last}.weight"].mean(dim=1, keepdim=True)
            state[f"{last}.bias"] = state[f"{last}.bias"].mean(dim=0, keepdim=True)
        result = super().load_state_dict(state, strict=strict, assign=assign)
        if self.architecture.centring != "none":
            self._refresh_output_offset()
        return result


def layer_shapes(model: ConvAutoEncoder, batch: int = 1) -> list[tuple[str, tuple[int, ...]]]:
    """Return ``(layer, output shape)`` of every stage for one forward pass of zeros.

    Used by the tests and the documentation's shape table.
    """
    shapes: list[tuple[str, tuple[int, ...]]] = []
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.MaxPool2d, nn.MaxUnpool2d, NearestUnpool)):
            def record(_module, _inputs, output, name=name):
                output = output[0] if isinstance(output, tuple) else output
                shapes.append((name, tuple(output.shape)))
            hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(batch, INPUT_CHANNELS, IMAGE_SIZE, IMAGE_SIZE))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return shapes


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 ``(n, 128, 128)`` greyscale images → float ``(n, 3, 128, 128)`` in ``[0, 1]``.

    The three channels are views of one (no copy).
    """
    tensor = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)
    return tensor.unsqueeze(1).expand(-1, INPUT_CHANNELS, -1, -1)


def select_device(requested: str = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise the named device."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)
