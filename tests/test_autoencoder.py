"""Network shapes of both variants and several feature sizes, and input conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor, layer_shapes

SIZES = [128, 384, 1024]


def explicit_shapes(f, c=(8, 16, 32, 64)):
    return [
        ("encoder_convs.0", (c[0], 126, 126)), ("pool", (c[0], 63, 63)),
        ("encoder_convs.1", (c[1], 63, 63)), ("pool", (c[1], 31, 31)),
        ("encoder_convs.2", (c[2], 31, 31)), ("pool", (c[2], 15, 15)),
        ("encoder_convs.3", (c[3], 15, 15)), ("pool", (c[3], 7, 7)),
        ("to_feature", (f,)), ("from_feature", (c[3] * 49,)),
        ("unpool", (c[3], 15, 15)), ("decoder_convs.3", (c[2], 15, 15)),
        ("unpool", (c[2], 31, 31)), ("decoder_convs.2", (c[1], 31, 31)),
        ("unpool", (c[1], 63, 63)), ("decoder_convs.1", (c[0], 63, 63)),
        ("unpool", (c[0], 126, 126)), ("decoder_convs.0", (1, 128, 128)),
    ]


def implicit_shapes(f, c=(8, 16, 32, 64)):
    return [
        ("encoder_convs.0", (c[0], 64, 64)), ("encoder_convs.1", (c[1], 32, 32)),
        ("encoder_convs.2", (c[2], 16, 16)), ("encoder_convs.3", (c[3], 8, 8)),
        ("to_feature", (f,)), ("from_feature", (c[3] * 64,)),
        ("decoder_convs.3", (c[2], 16, 16)), ("decoder_convs.2", (c[1], 32, 32)),
        ("decoder_convs.1", (c[0], 64, 64)), ("decoder_convs.0", (1, 128, 128)),
    ]


@pytest.mark.parametrize("feature_size", SIZES)
@pytest.mark.parametrize("variant", ["explicit", "implicit"])
def test_every_layer_shape(variant, feature_size):
    model = ConvAutoEncoder(Architecture(variant, feature_size))
    expected = (explicit_shapes if variant == "explicit" else implicit_shapes)(feature_size)
    shapes = [(name, shape[1:]) for name, shape in layer_shapes(model, batch=2)]
    assert shapes == expected
    assert all(shape[0] == 2 for _, shape in layer_shapes(model, batch=2))


@pytest.mark.parametrize("feature_size", [32, 384])
def test_both_unpoolings_mirror_the_encoder(feature_size):
    """Max-unpooling and nearest-neighbour upsampling restore the same pre-pooling sizes."""
    for unpooling in ("nearest", "switches"):
        model = ConvAutoEncoder(Architecture("explicit", feature_size, unpooling=unpooling))
        shapes = [(name, shape[1:]) for name, shape in layer_shapes(model, batch=2)]
        assert shapes == explicit_shapes(feature_size, model.architecture.channels)
    with pytest.raises(ValueError, match="unpooling"):
        Architecture("explicit", 384, unpooling="bilinear")


def test_nearest_unpooling_decodes_from_the_feature_alone():
    """Without switches, two images with the same feature vector get the same reconstruction."""
    torch.manual_seed(0)
    model = ConvAutoEncoder(Architecture("explicit", 16, (4, 4, 4, 4), unpooling="nearest")).eval()
    images = images_to_tensor(np.random.default_rng(2).integers(0, 256, (2, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        features, switches = model._encode(images)
        assert all(indices is None for indices, _ in switches)
        same = model.decode(features[:1].expand(2, -1), switches)
    torch.testing.assert_close(same[0], same[1])


@pytest.mark.parametrize("unpooling", ["nearest", "switches"])
@pytest.mark.parametrize("variant", ["explicit", "implicit"])
def test_paper_geometry_of_convolutions_and_pooling(variant, unpooling):
    model = ConvAutoEncoder(Architecture(variant, 384, unpooling=unpooling))
    encoder, decoder = model.encoder_convs, model.decoder_convs
    assert len(encoder) == len(decoder) == 4
    assert all(conv.kernel_size == (3, 3) for conv in [*encoder, *decoder])
    if variant == "explicit":
        assert [conv.padding for conv in encoder] == [(0, 0), (1, 1), (1, 1), (1, 1)]
        assert all(conv.stride == (1, 1) for conv in [*encoder, *decoder])
        # Decoder order of use is 3, 2, 1, 0: padding 1 on each but the last used.
        assert [decoder[i].padding for i in (3, 2, 1, 0)] == [(1, 1), (1, 1), (1, 1), (0, 0)]
        layers = (model.pool, model.unpool) if unpooling == "switches" else (model.pool,)
        for layer in layers:
            assert (layer.kernel_size, layer.stride, layer.padding) in {(4, 2, 1), ((4, 4), (2, 2), (1, 1))}
    else:
        assert model.pool is None and model.unpool is None
        assert all(conv.stride == (2, 2) for conv in [*encoder, *decoder])


@pytest.mark.parametrize("variant", ["explicit", "implicit"])
def test_custom_channels_and_output_range(variant):
    model = ConvAutoEncoder(Architecture(variant, 96, channels=(4, 8, 8, 12)))
    images = torch.rand(3, 3, 128, 128)
    with torch.no_grad():
        features = model.encode(images)
        output = model(images)
    assert features.shape == (3, 96)
    assert output.shape == images.shape
    assert float(output.min()) >= 0.0 and float(output.max()) <= 1.0


def test_architecture_validation_and_round_trip():
    with pytest.raises(ValueError, match="variant"):
        Architecture("pooled", 384)
    with pytest.raises(ValueError, match="channels"):
        Architecture("explicit", 384, channels=(8, 8, 8))
    with pytest.raises(ValueError, match="feature_size"):
        Architecture("implicit", 0)
    architecture = Architecture("implicit", 768, channels=(8, 16, 16, 32))
    assert Architecture.from_mapping({**architecture.to_dict(), "checkpoint": ""}) == architecture


def test_images_to_tensor_repeats_one_channel():
    images = np.arange(2 * 128 * 128, dtype=np.uint64).reshape(2, 128, 128).astype(np.uint8)
    tensor = images_to_tensor(images)
    assert tensor.shape == (2, 3, 128, 128) and tensor.dtype == torch.float32
    assert torch.equal(tensor[:, 0], tensor[:, 2])
    assert float(tensor[0, 1, 0, 255 % 128]) == pytest.approx(images[0, 0, 255 % 128] / 255)


@pytest.mark.parametrize("variant", ["explicit", "implicit"])
def test_three_channel_checkpoint_weights_fold_to_one_channel(variant):
    """A first-release checkpoint (3 input and 3 output channels) loads and computes the same."""
    torch.manual_seed(0)
    model = ConvAutoEncoder(Architecture(variant, 32, (4, 8, 8, 8), centring="none", bottleneck_relu=True,
                                         unpooling="switches")).eval()
    legacy = dict(model.state_dict())
    first, last = legacy["encoder_convs.0.weight"], legacy["decoder_convs.0.weight"]
    legacy["encoder_convs.0.weight"] = first.repeat(1, 3, 1, 1) / 3  # three identical inputs sum to one
    legacy["decoder_convs.0.weight"] = last.repeat(1, 3, 1, 1)  # three identical outputs
    legacy["decoder_convs.0.bias"] = legacy["decoder_convs.0.bias"].repeat(3)
    reloaded = ConvAutoEncoder(Architecture.from_checkpoint(
        {"variant": variant, "feature_size": 32, "channels": [4, 8, 8, 8]})).eval()
    reloaded.load_state_dict(legacy)
    images = images_to_tensor(np.random.default_rng(0).integers(0, 256, (3, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        torch.testing.assert_close(reloaded.encode(images), model.encode(images), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(reloaded(images), model(images), rtol=1e-5, atol=1e-6)


def test_centring_predicts_the_mean_image_from_zero_weights():
    """With centring, a network whose decoder outputs zero reconstructs the training mean image."""
    model = ConvAutoEncoder(Architecture("implicit", 16, (4, 4, 4, 4), centring="image")).eval()
    mean = np.random.default_rng(1).uniform(0.1, 0.9, (128, 128)).astype(np.float32)
    model.set_input_mean(mean)
    for parameter in model.decoder_convs.parameters():
        torch.nn.init.zeros_(parameter)
    images = images_to_tensor(np.zeros((2, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        output = model(images)[:, 0].numpy()
    np.testing.assert_allclose(output, np.broadcast_to(mean, output.shape), atol=2e-3)


def test_reloaded_centred_model_restores_the_output_offset_from_the_saved_mean():
    """logit(mean) is derived, not saved: a model loaded from a state dict reconstructs bit for bit."""
    model = ConvAutoEncoder(Architecture("explicit", 16, (4, 4, 4, 4), centring="image", norm="batch")).eval()
    mean = np.random.default_rng(3).uniform(0.0, 1.0, (128, 128)).astype(np.float32)
    mean[0, :2] = 0.0, 1.0  # clipped to eps, 1 - eps: the offset stays finite
    model.set_input_mean(mean)
    state = model.state_dict()
    assert "output_offset" not in state
    clipped = np.clip(mean.astype(np.float64), 1e-3, 1 - 1e-3)
    np.testing.assert_allclose(model.output_offset[0, 0].numpy(), np.log(clipped / (1 - clipped)), rtol=1e-6)
    reloaded = ConvAutoEncoder(Architecture("explicit", 16, (4, 4, 4, 4), centring="image", norm="batch")).eval()
    reloaded.load_state_dict(state)
    images = images_to_tensor(np.random.default_rng(4).integers(0, 256, (2, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        assert torch.equal(reloaded.output_offset, model.output_offset)
        assert torch.equal(reloaded(images), model(images))


def test_output_centring_encodes_the_raw_image_and_adds_the_mean_back():
    """centring "output": the features ignore the mean image; a zero decoder gives the mean image back."""
    model = ConvAutoEncoder(Architecture("explicit", 16, (4, 4, 4, 4), centring="output", norm="batch")).eval()
    rng = np.random.default_rng(2)
    images = images_to_tensor(rng.integers(0, 256, (2, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        before = model.encode(images)
        mean = rng.uniform(0.1, 0.9, (128, 128)).astype(np.float32)
        model.set_input_mean(mean)
        torch.testing.assert_close(model.encode(images), before)
        for parameter in model.decoder_convs.parameters():
            torch.nn.init.zeros_(parameter)
        output = model(images)[:, 0].numpy()
    np.testing.assert_allclose(output, np.broadcast_to(mean, output.shape), atol=2e-3)
    # centring "image" on the same weights does see the mean: its features change with it.
    centred = ConvAutoEncoder(Architecture("explicit", 16, (4, 4, 4, 4), centring="image", norm="batch")).eval()
    centred.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert not torch.allclose(centred.encode(images), before)
