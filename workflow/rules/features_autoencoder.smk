# Image stage: one frozen training sample and its images shared by every image model, one
# trained auto-encoder per configured variant and one PCA per configured size (the linear
# baseline); then one job per batch of partitions (ecoae.batches) encodes the batch's
# spectrogram images, rendered by the audio pass (features_audio.smk), with every model
# in one process (torch imported once, the audio never read again).
#
# Freezing: once results/models/training_sample.parquet exists, the rule that draws it
# is not defined at all, so new partitions can never re-draw it. The models read their
# own images, rendered from the sample's audio (training_images): they depend on the
# sample and the image settings only, so new recordings never retrain, and a changed
# audio or spectrogram setting re-renders, refits and re-encodes in the same run.
# A batch's image job depends on every model file: a retrained or added model re-encodes
# every batch from its stored images, without decoding any audio.
FITTED_MODELS = TRAINED_MODELS + S.pca.models()

if FITTED_MODELS and not Path(L.training_sample).exists():

    rule train_sample:
        input:
            per_batch(lambda site, days: L.batch_record("segment", site, days)),
        output:
            L.training_sample,
        log:
            L.log("train_sample", site=None),
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


rule training_images:
    input:
        L.training_sample,
    output:
        L.training_images,
    log:
        L.log("training_images", site=None),
    benchmark:
        L.benchmark("training_images", site=None)
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


if TRAINED_MODELS:

    rule train:
        input:
            L.training_images,
        output:
            model=L.model_file("model.pt"),
            history=L.model_file("history.tsv"),
            quality=L.model_file("quality.tsv"),
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
            training=AE.training_for(DEMO).to_json(),
            device=AE.device,
            out_dir=lambda wildcards, output: str(Path(output.model).parent),
        shell:
            "{ECOAE} train {input:q} --out-dir {params.out_dir:q} --model {params.model:q}"
            " --training {params.training:q} --device {params.device:q} --threads {threads} --log {log:q}"


rule fit_pca:
    input:
        L.training_images,
    output:
        model=L.model_file("model.npz", "pca{components}"),
        quality=L.model_file("quality.tsv", "pca{components}"),
    log:
        L.log("train/pca{components}", site=None),
    benchmark:
        L.benchmark("train/pca{components}", site=None)
    wildcard_constraints:
        components=r"\d+",
    conda:
        "../../envs/autoencoder.yaml"
    params:
        # The validation split of the auto-encoders (the PCA is scored on the same images).
        validation_fraction=AE.training.validation_fraction,
        seed=AE.training.seed,
        out_dir=lambda wildcards, output: str(Path(output.model).parent),
    shell:
        "{ECOAE} fit-pca {input:q} --out-dir {params.out_dir:q} --components {wildcards.components:q}"
        " --validation-fraction {params.validation_fraction:q} --seed {params.seed:q} > {log:q} 2>&1"


if IMAGE_SETS:

    rule images:
        input:
            segments=L.batch_record("segment"),
            # The audio pass rendered the batch's images (results/spectrograms). ancient:
            # that pass re-runs for any audio feature setting, which leaves the images as
            # they were; new images come with new segments or new settings (params).
            rendered=ancient(L.batch_record("audio_features")),
            models=list(IMAGE_MODEL_FILES.values()),
        output:
            record=L.batch_record("images"),
            costs=L.costs("images"),
        log:
            L.log("images"),
        benchmark:
            L.benchmark("images")
        conda:
            "../../envs/autoencoder.yaml"
        threads: AE.encode_threads
        resources:
            gpu=GPU_JOBS,
        params:
            models=json.dumps(IMAGE_MODEL_FILES, sort_keys=True),
            # Not passed on: images rendered otherwise are encoded again.
            rendered_with=[S.audio.to_json(), S.spectrogram.to_json()],
            results=L.results,
            batch_size=AE.encode_batch_size,
            device=AE.device,
        shell:
            "{ECOAE} images --segment-batch {input.segments:q} --models {params.models:q}"
            " --results {params.results:q} --costs {output.costs:q} --record {output.record:q}"
            " --threads {threads} --batch-size {params.batch_size:q} --device {params.device:q}"
            " > {log:q} 2>&1"

    TARGETS.append(
        per_batch(lambda site, days: L.batch_record("images", site, days))
    )
    FEATURE_JOBS.append("images")


FEATURE_SETS.extend(IMAGE_SETS)
TARGETS.append(model_reports)
