# Everything computed from segment audio: the feature sets (acoustic indices, MFCC, and
# any enabled set in ecoae.features.registry) and, when image sets are configured, the
# spectrogram images they encode. One job per batch of partitions (ecoae.batches) does it
# all in one process, each segment decoded once, so a batch pays the library imports and
# the decoding once. A changed setting of any of these (spectrogram settings included)
# re-runs this job, all its sets, for every batch.


rule audio_features:
    input:
        L.batch_record("segment"),
    output:
        record=L.batch_record("audio_features"),
        costs=L.costs("audio_features"),
    log:
        L.log("audio_features"),
    benchmark:
        L.benchmark("audio_features")
    conda:
        "../../envs/features.yaml"
    threads: audio_feature_threads
    params:
        archive=ARCHIVE,
        audio=S.audio.to_json(),
        sets=audio_feature_sections,
        images=image_render_arguments,
        results=L.results,
    shell:
        "{ECOAE} audio-features --segment-batch {input:q} --archive {params.archive:q} --audio {params.audio:q}"
        " --sets {params.sets:q} {params.images:q} --results {params.results:q} --costs {output.costs:q}"
        " --record {output.record:q} --threads {threads} > {log:q} 2>&1"


if AUDIO_SETS or IMAGE_SETS:
    TARGETS.append(
        per_batch(lambda site, days: L.batch_record("audio_features", site, days))
    )
    FEATURE_JOBS.append("audio_features")
FEATURE_SETS.extend(AUDIO_SETS)
