# Auto-encoder stage: spectrogram images per partition, a frozen training sample and
# one trained model per configured variant, and AE features per partition and model.
#
# Freezing: once results/models/<model>/training_sample.parquet exists, the rule that
# draws it is not defined at all, so new partitions can never re-draw it; `train`
# depends on the sample and on the spectrograms of the partitions *in the sample* only
# (marked ancient: their re-rendering with unchanged settings never retrains; changed
# settings do, through params). Encoding depends on the checkpoint file. The archive
# path is not a param: moving the archive re-renders nothing (the inventory tracks content).
import re
import shutil

AE = config["autoencoder"]
SPECTROGRAM_SETTINGS = json.dumps(
    {key: value for key, value in config["spectrogram"].items() if key != "threads"}, sort_keys=True
)
AE_MODELS = AE["models"]
TRAINED_MODELS = [name for name, model in AE_MODELS.items() if not model.get("checkpoint")]
# Training and encoding claim the workstation's one GPU (profiles/default declares
# gpu: 1) only where there is one, so CPU-only machines run encode jobs side by side.
GPU_JOBS = int(AE["device"] != "cpu" and shutil.which("nvidia-smi") is not None)


def _model_regex(names):
    return "|".join(re.escape(name) for name in names)


def training_sample_path(model):
    return f"{RESULTS}/models/{model}/training_sample.parquet"


def model_checkpoint(wildcards):
    """The model.pt an encode job uses: the configured one, or the one trained here."""
    configured = AE_MODELS[wildcards.model].get("checkpoint")
    return configured or f"{RESULTS}/models/{wildcards.model}/model.pt"


rule spectrograms:
    input:
        f"{RESULTS}/segments/{PARTITION}/part-0.parquet",
    output:
        f"{RESULTS}/spectrograms/{PARTITION}/part-0.parquet",
    params:
        settings=SPECTROGRAM_SETTINGS,
        sample_rate=config["audio"]["sample_rate"],
        channel=config["audio"]["channel"],
    threads: config["spectrogram"]["threads"]
    log:
        log_path("spectrograms"),
    benchmark:
        benchmark_path("spectrograms")
    conda:
        "../../envs/autoencoder.yaml"
    shell:
        "{ECOAE} spectrograms {input:q} --archive {ARCHIVE:q} --out {output:q}"
        " --settings {params.settings:q} --sample-rate {params.sample_rate}"
        " --channel {params.channel} --threads {threads} > {log:q} 2>&1"


SAMPLES_TO_DRAW = [name for name in TRAINED_MODELS if not Path(training_sample_path(name)).exists()]

if SAMPLES_TO_DRAW:

    checkpoint train_sample:
        input:
            per_partition(f"{RESULTS}/segments/{PARTITION}/part-0.parquet"),
        output:
            f"{RESULTS}/models/{{model}}/training_sample.parquet",
        wildcard_constraints:
            model=_model_regex(SAMPLES_TO_DRAW),
        params:
            segments=f"{RESULTS}/segments",
            size=AE["sample_size"],
            seed=AE["sample_seed"],
        log:
            f"{RESULTS}/logs/train_sample/{{model}}.log",
        conda:
            "../../envs/autoencoder.yaml"
        shell:
            "{ECOAE} train-sample --segments-dir {params.segments:q} --out {output:q}"
            " --sample-size {params.size} --seed {params.seed} > {log:q} 2>&1"


def training_inputs(wildcards):
    """The frozen sample and the spectrogram files of the partitions it was drawn from."""
    import pandas as pd

    if wildcards.model in SAMPLES_TO_DRAW:
        sample = checkpoints.train_sample.get(model=wildcards.model).output[0]
    else:
        sample = training_sample_path(wildcards.model)
    used = pd.read_parquet(sample, columns=["site", "date"]).drop_duplicates()
    return {
        "sample": ancient(sample),
        "spectrograms": [
            ancient(f"{RESULTS}/spectrograms/site={site}/date={date}/part-0.parquet")
            for site, date in zip(used["site"], used["date"])
        ],
    }


if TRAINED_MODELS:

    rule train:
        input:
            unpack(training_inputs),
        output:
            model=f"{RESULTS}/models/{{model}}/model.pt",
            history=f"{RESULTS}/models/{{model}}/history.tsv",
            loss_curve=f"{RESULTS}/models/{{model}}/loss_curve.png",
            reconstructions=f"{RESULTS}/models/{{model}}/reconstructions.png",
        wildcard_constraints:
            model=_model_regex(TRAINED_MODELS),
        params:
            # The sample's path is fixed; taken from here (not input) so that a dry run
            # before the sample is drawn can still format the command.
            sample=lambda wildcards: training_sample_path(wildcards.model),
            architecture=lambda wildcards: json.dumps(AE_MODELS[wildcards.model], sort_keys=True),
            training=json.dumps(AE["training"], sort_keys=True),
            spectrograms=f"{RESULTS}/spectrograms",
            spectrogram_settings=SPECTROGRAM_SETTINGS,
            device=AE["device"],
            out_dir=lambda wildcards, output: str(Path(output.model).parent),
        threads: AE["train_threads"]
        resources:
            gpu=GPU_JOBS,
        log:
            f"{RESULTS}/logs/train/{{model}}.log",
        benchmark:
            f"{RESULTS}/benchmarks/train/{{model}}.tsv"
        conda:
            "../../envs/autoencoder.yaml"
        shell:
            "{ECOAE} train {params.sample:q} --spectrograms-dir {params.spectrograms:q}"
            " --out-dir {params.out_dir:q} --architecture {params.architecture:q}"
            " --training {params.training:q} --device {params.device}"
            " --threads {threads} > {log:q} 2>&1"


rule encode:
    input:
        spectrograms=f"{RESULTS}/spectrograms/{PARTITION}/part-0.parquet",
        segments=f"{RESULTS}/segments/{PARTITION}/part-0.parquet",
        model=model_checkpoint,
    output:
        f"{RESULTS}/features/ae-{{model}}/{PARTITION}/part-0.parquet",
    wildcard_constraints:
        model=_model_regex(AE_MODELS),
    params:
        batch_size=AE["encode_batch_size"],
        device=AE["device"],
    threads: AE["encode_threads"]
    resources:
        gpu=GPU_JOBS,
    log:
        log_path("encode/ae-{model}"),
    benchmark:
        benchmark_path("encode/ae-{model}")
    conda:
        "../../envs/autoencoder.yaml"
    shell:
        "{ECOAE} encode {input.spectrograms:q} --checkpoint {input.model:q} --out {output:q}"
        " --segments {input.segments:q} --batch-size {params.batch_size}"
        " --device {params.device} --threads {threads} > {log:q} 2>&1"


def autoencoder_targets(wildcards):
    """Every model's feature store, plus the figures of models trained here."""
    targets = [
        path
        for name in AE_MODELS
        for path in per_partition(f"{RESULTS}/features/ae-{name}/{PARTITION}/part-0.parquet")(wildcards)
    ]
    for name in TRAINED_MODELS:
        targets += [f"{RESULTS}/models/{name}/loss_curve.png", f"{RESULTS}/models/{name}/reconstructions.png"]
    return targets


TARGETS.append(autoencoder_targets)
for _name in AE_MODELS:
    FEATURE_SETS[f"ae-{_name}"] = f"{RESULTS}/features/ae-{_name}/{PARTITION}/part-0.parquet"
