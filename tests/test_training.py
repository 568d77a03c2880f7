"""Training: frozen sample, validation split, loss goes down, checkpoints, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ecoae.features.autoencoder import Architecture, ConvAutoEncoder, images_to_tensor
from ecoae.cli import main
from ecoae.features.encoding import encode_images
from ecoae.archive.segments import SEGMENT_COLUMNS
from ecoae.features.spectrogram import ImageRecipe, read_spectrograms, render_segments
from ecoae.layout import partition_folder
from ecoae.store import read_parquet, write_partition
from ecoae.features.training import (
    augment_batch,
    evaluate_loss,
    load_checkpoint,
    mix_batch,
    save_checkpoint,
    seed_everything,
    train_autoencoder,
)
from ecoae.features.training_sample import draw_training_sample, sample_sha256, split_validation, write_training_sample
from ecoae.settings import TrainingSettings
from shared_data import ARCHIVE, needs_archive

SMALL = Architecture("explicit", 32, channels=(4, 8, 8, 8))


def synthetic_segments(site: str, date: str, recordings: int, per_recording: int) -> pd.DataFrame:
    rows = []
    for r in range(recordings):
        for i in range(per_recording):
            start = pd.Timestamp(f"{date}T00:00", tz="UTC") + pd.Timedelta(minutes=10 * r + i)
            rows.append((f"{site}/rec{r}.wav", i, start, 60.0, site, date, start.tz_localize(None),
                         "UTC", f"{site}/rec{r}.wav", 60.0 * i))
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    frame["segment_index"] = frame["segment_index"].astype("int32")
    return frame


@pytest.fixture(scope="module")
def real_images():
    """Spectrograms of 24 real recordings (12 per site) and their segment rows."""
    if not ARCHIVE.is_dir():
        pytest.skip(f"real recordings not found at {ARCHIVE}")
    rows = []
    for site_dir in sorted(p for p in ARCHIVE.iterdir() if p.is_dir()):
        for path in sorted(site_dir.glob("*.wav"))[::4][:12]:
            import soundfile as sf

            relative = path.relative_to(ARCHIVE).as_posix()
            start = pd.Timestamp("2020-01-01", tz="UTC") + pd.Timedelta(minutes=len(rows))
            rows.append((relative, 0, start, sf.info(str(path)).duration, site_dir.name, "2020-01-01",
                         start.tz_localize(None), "UTC", relative, 0.0))
    segments = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    segments["segment_index"] = segments["segment_index"].astype("int32")
    images = render_segments(segments, ARCHIVE, ImageRecipe(), threads=2)
    return segments, images


def test_sample_is_seeded_capped_and_independent_of_file_order(tmp_path):
    files = []
    for site, date in [("a", "2020-01-01"), ("b", "2020-01-02"), ("a", "2020-01-02")]:
        path = tmp_path / partition_folder(site, date) / "part-0.parquet"
        write_partition(synthetic_segments(site, date, 5, 4), path)
        files.append(path)
    first = draw_training_sample(files, 25, seed=3)
    again = draw_training_sample(files[::-1], 25, seed=3)
    other = draw_training_sample(files, 25, seed=4)
    pd.testing.assert_frame_equal(first, again)
    assert sample_sha256(first) == sample_sha256(again) != sample_sha256(other)
    assert len(first) == 25 and not first.duplicated(["recording_id", "segment_index", "site", "date"]).any()
    assert len(draw_training_sample(files, 1000, seed=3)) == 60

    out = write_training_sample(first, tmp_path / "sample.parquet", 25, 3)
    assert sample_sha256(read_parquet(out)) == sample_sha256(first)


def test_validation_split_holds_out_whole_recordings():
    sample = synthetic_segments("a", "2020-01-01", recordings=10, per_recording=5)
    mask = split_validation(sample, 0.2, seed=1)
    held = set(sample["recording_id"][mask])
    assert set(sample["recording_id"][~mask]).isdisjoint(held)
    assert len(held) == 2 and mask.sum() == 10
    np.testing.assert_array_equal(mask, split_validation(sample, 0.2, seed=1))
    assert not split_validation(sample.iloc[:5], 0.2, seed=1).any()  # one recording: nothing to hold out


@pytest.mark.parametrize("mode", ["none", "roll", "roll_inner"])
def test_augmented_batches_shift_time_columns_as_configured(mode):
    """roll shifts all columns circularly; roll_inner keeps the first and last in place; none changes nothing."""
    batch = torch.rand(3, 1, 128, 128, generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(1)
    inner = range(1, 127) if mode == "roll_inner" else range(128)  # the columns that move
    shifts = set()
    for _ in range(20):
        out = augment_batch(batch, mode, generator)
        assert out.shape == batch.shape
        # where the first moving column went; every other moving column follows it in order
        source = int((out[0, 0, :, inner[0] : inner[0] + 1] == batch[0, 0]).all(dim=0).nonzero()[0])
        shift = (inner[0] - source) % len(inner)
        expected = batch.clone()
        expected[..., list(inner)] = torch.roll(batch[..., list(inner)], shifts=shift, dims=-1)
        torch.testing.assert_close(out, expected)
        shifts.add(shift)
    if mode == "none":
        assert shifts == {0}
    else:
        assert len(shifts) > 10  # a random shift per batch


def test_mixup_blends_each_image_with_another_of_its_batch():
    """Each output image is a convex blend, at least half itself, of two batch images; alpha 0 is off."""
    batch = torch.rand(8, 1, 128, 128, generator=torch.Generator().manual_seed(0))
    assert mix_batch(batch, 0.0, torch.Generator(), np.random.default_rng(0)) is batch
    out = mix_batch(batch, 0.4, torch.Generator().manual_seed(1), np.random.default_rng(1))
    again = mix_batch(batch, 0.4, torch.Generator().manual_seed(1), np.random.default_rng(1))
    torch.testing.assert_close(out, again)
    flat, mixed = batch.flatten(1).double(), out.flatten(1).double()
    weights_seen = []
    for i in range(len(batch)):
        # out_i - x_j = w (x_i - x_j) for its partner j: find the j that fits with 0.5 <= w <= 1
        fits = []
        for j in range(len(batch)):
            if j == i:
                continue
            difference = flat[i] - flat[j]
            weight = float((mixed[i] - flat[j]) @ difference / (difference @ difference))
            if torch.allclose(mixed[i], flat[j] + weight * difference, atol=1e-5):
                fits.append(weight)
        if torch.allclose(mixed[i], flat[i], atol=1e-6):
            fits.append(1.0)  # partnered with itself, or a weight of 1
        assert fits and 0.5 - 1e-6 <= fits[0] <= 1 + 1e-6
        weights_seen.append(fits[0])
    assert len({round(w, 4) for w in weights_seen}) > 3  # a weight per image
    assert not torch.allclose(out, batch)


@needs_archive
@pytest.mark.parametrize(("variant", "precision"),
                         [("explicit", "float32"), ("implicit", "float32"), ("explicit", "bfloat16")])
def test_training_lowers_loss_on_real_spectrograms(real_images, variant, precision):
    _, images = real_images
    architecture = Architecture(variant, 384)
    settings = TrainingSettings(epochs=4, batch_size=4, min_steps=1, evaluations=4, patience=10, seed=0,
                                precision=precision)
    seed_everything(settings.seed)
    before = evaluate_loss(ConvAutoEncoder(architecture), images)  # the same initial weights
    no_validation = np.zeros(len(images), dtype=bool)
    model, history = train_autoencoder(images, no_validation, architecture, settings, progress=False)
    after = evaluate_loss(model, images)
    assert after < 0.97 * before
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(weight.dtype == torch.float32 for weight in model.state_dict().values() if weight.is_floating_point())


@needs_archive
def test_same_seed_same_features_and_reload_identical(real_images, tmp_path):
    _, images = real_images
    settings = TrainingSettings(epochs=2, batch_size=8, min_steps=1, evaluations=2, seed=5, validation_fraction=0.0)
    mask = np.zeros(len(images), dtype=bool)
    first, history = train_autoencoder(images, mask, SMALL, settings, progress=False)
    second, _ = train_autoencoder(images, mask, SMALL, settings, progress=False)
    np.testing.assert_allclose(encode_images(first, images), encode_images(second, images), rtol=1e-5, atol=1e-6)
    other = settings.replace(seed=6)
    different, _ = train_autoencoder(images, mask, SMALL, other, progress=False)
    assert not np.allclose(encode_images(first, images), encode_images(different, images), atol=1e-3)

    path = save_checkpoint(tmp_path / "m" / "model.pt", first, settings, ImageRecipe(), "abc", history, "cpu")
    reloaded, record = load_checkpoint(path)
    batch = images_to_tensor(images[:4])
    with torch.no_grad():
        assert torch.equal(reloaded(batch), first(batch))
        assert torch.equal(reloaded.encode(batch), first.encode(batch))
    assert record["architecture"] == SMALL.to_dict()
    assert record["training_sample_sha256"] == "abc"
    assert record["versions"]["torch"] == str(torch.__version__)
    assert ImageRecipe.from_mapping(record["spectrogram"]) == ImageRecipe()


@needs_archive
def test_cli_train_sample_images_and_train_write_checkpoint_and_figures(real_images, tmp_path):
    segments, images = real_images
    segment_store = tmp_path / "segments"
    for site in ["dagua", "jura"]:
        rows = (segments["site"] == site).to_numpy()
        write_partition(segments[rows], segment_store / partition_folder(site, "2020-01-01") / "part-0.parquet")
    folder = tmp_path / "models" / "tiny"
    assert main(["train-sample", "--segments-dir", str(segment_store), "--out", str(folder / "training_sample.parquet"),
                 "--sample-size", "16", "--seed", "0"]) == 0
    sample = read_parquet(folder / "training_sample.parquet")
    assert len(sample) == 16 and set(sample["site"]) == {"dagua", "jura"}
    assert main(["training-images", str(folder / "training_sample.parquet"), "--archive", str(ARCHIVE),
                 "--out", str(folder / "training_images.parquet"), "--threads", "2"]) == 0
    keys, rendered, recipe = read_spectrograms(folder / "training_images.parquet")
    assert recipe == ImageRecipe() and len(rendered) == 16
    # The images are those of the sampled segments, rendered exactly as the spectrogram store renders them.
    lookup = {r: n for n, r in enumerate(segments["recording_id"])}
    np.testing.assert_array_equal(rendered, images[[lookup[r] for r in keys["recording_id"]]])
    assert main(["train", str(folder / "training_images.parquet"), "--out-dir", str(folder),
                 "--model", json.dumps(SMALL.to_dict()),
                 "--training", '{"epochs": 2, "batch_size": 8, "min_steps": 1, "evaluations": 2}', "--device", "cpu", "--threads", "2"]) == 0
    for name in ["model.pt", "history.tsv", "loss_curve.png", "reconstructions.png"]:
        assert (folder / name).stat().st_size > 0
    assert len(pd.read_csv(folder / "history.tsv", sep="\t")) == 2
    _, record = load_checkpoint(folder / "model.pt")
    assert record["training_sample_sha256"] == sample_sha256(sample)
    assert record["architecture"] == SMALL.to_dict() and record["training"]["epochs"] == 2


def test_missing_checkpoint_error_names_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")


def test_full_disk_names_the_checkpoint_and_leaves_nothing(tmp_path, monkeypatch):
    import errno

    from ecoae.features import training
    from ecoae.features.autoencoder import ConvAutoEncoder

    model = ConvAutoEncoder(SMALL)
    path = tmp_path / "m" / "model.pt"
    # /dev/full answers every write with ENOSPC, as a full disk does.
    monkeypatch.setattr(training, "_open_for_writing", lambda _path: open("/dev/full", "wb"))
    with pytest.raises(OSError) as raised:
        save_checkpoint(path, model, TrainingSettings(), ImageRecipe(), "abc", [], "cpu")
    assert raised.value.errno == errno.ENOSPC
    assert str(path) in str(raised.value) and "No space left on device" in str(raised.value)
    assert list(path.parent.iterdir()) == []
