# Auto-encoder stage: spectrogram images per partition, a frozen training sample and its
# images per model, one trained model per configured variant, and AE features per
# partition and model.
#
# Freezing: once results/models/<model>/training_sample.parquet exists, the rule that
# draws it is not defined at all, so new partitions can never re-draw it. Training reads
# its own images, rendered from the sample's audio (training_images): it depends on the
# sample and the image settings only, so new recordings never retrain, and a changed
# audio or spectrogram setting re-renders, retrains and re-encodes in the same run.
# Encoding depends on the checkpoint file.
rule spectrograms:
    input:
        L.segments(),
    output:
        L.spectrograms(),
    log:
        L.log("spectrograms"),
    benchmark:
        L.benchmark("spectrograms")
    conda:
        "../../envs/autoencoder.yaml"
    threads: S.spectrogram.threads
    params:
        archive=ARCHIVE,
        audio=S.audio.to_json(),
        settings=S.spectrogram.to_json(),
    shell:
        "{ECOAE} spectrograms {input:q} --archive {params.archive:q} --out {output:q}"
        " --audio {params.audio:q} --settings {params.settings:q} --threads {threads} > {log:q} 2>&1"


SAMPLES_TO_DRAW = [
    name
    for name in TRAINED_MODELS
    if not Path(L.model_file("training_sample.parquet", name)).exists()
]

if SAMPLES_TO_DRAW:

    rule train_sample:
        input:
            per_partition(L.segments),
        output:
            L.model_file("training_sample.parquet"),
        log:
            L.log("train_sample/{model}", site=None),
        wildcard_constraints:
            model=_model_regex(SAMPLES_TO_DRAW),
        conda:
            "../../envs/autoencoder.yaml"
        params:
            partitions=L.partitions,
            segments=L.store_dir("segments"),
            size=AE.sample_size,
            seed=AE.sample_seed,
        shell:
            "{ECOAE} train-sample --segments-dir {params.segments:q} --partitions {params.partitions:q}"
            " --out {output:q} --sample-size {params.size:q} --seed {params.seed:q} > {log:q} 2>&1"


if TRAINED_MODELS:

    rule training_images:
        input:
            L.model_file("training_sample.parquet"),
        output:
            L.model_file("training_images.parquet"),
        log:
            L.log("training_images/{model}", site=None),
        wildcard_constraints:
            model=_model_regex(TRAINED_MODELS),
        conda:
            "../../envs/autoencoder.yaml"
        threads: S.spectrogram.threads
        params:
            archive=ARCHIVE,
            audio=S.audio.to_json(),
            settings=S.spectrogram.to_json(),
        shell:
            "{ECOAE} training-images {input:q} --archive {params.archive:q} --out {output:q}"
            " --audio {params.audio:q} --settings {params.settings:q} --threads {threads} > {log:q} 2>&1"

    rule train:
        input:
            L.model_file("training_images.parquet"),
        output:
            model=L.model_file("model.pt"),
            history=L.model_file("history.tsv"),
            loss_curve=L.model_file("loss_curve.png"),
            reconstructions=L.model_file("reconstructions.png"),
        log:
            L.log("train/{model}", site=None),
        benchmark:
            L.benchmark("train/{model}", site=None)
        wildcard_constraints:
            model=_model_regex(TRAINED_MODELS),
        conda:
            "../../envs/autoencoder.yaml"
        threads: AE.train_threads
        resources:
            gpu=GPU_JOBS,
        params:
            model=lambda wildcards: AE.models[wildcards.model].to_json(),
            training=AE.training.to_json(),
            device=AE.device,
            out_dir=lambda wildcards, output: str(Path(output.model).parent),
        shell:
            "{ECOAE} train {input:q} --out-dir {params.out_dir:q} --model {params.model:q}"
            " --training {params.training:q} --device {params.device:q} --threads {threads} > {log:q} 2>&1"


rule encode:
    input:
        spectrograms=L.spectrograms(),
        segments=L.segments(),
        model=model_checkpoint,
    output:
        L.features("ae-{model}"),
    log:
        L.log("encode/ae-{model}"),
    benchmark:
        L.benchmark("encode/ae-{model}")
    wildcard_constraints:
        model=_model_regex(AE.models),
    conda:
        "../../envs/autoencoder.yaml"
    threads: AE.encode_threads
    resources:
        gpu=GPU_JOBS,
    params:
        batch_size=AE.encode_batch_size,
        device=AE.device,
    shell:
        "{ECOAE} encode {input.spectrograms:q} --checkpoint {input.model:q} --out {output:q}"
        " --segments {input.segments:q} --batch-size {params.batch_size:q}"
        " --device {params.device:q} --threads {threads} > {log:q} 2>&1"


for _name in AE.models:
    TARGETS.append(
        per_partition(
            lambda site, date, name=_name: L.features(f"ae-{name}", site, date)
        )
    )
    FEATURE_SETS.append(f"ae-{_name}")
TARGETS.append(model_figures)
