# Feature sets computed from segment audio (acoustic indices, MFCC, and any enabled set in
# ecoae.features.registry): one job per partition computes them all in one process, each
# segment decoded once, so a partition pays the library imports and the decoding once.
# A changed setting of any of these sets re-runs this job (all its sets) for every partition.


rule audio_features:
    input:
        L.segments(),
    output:
        **{name: L.features(name) for name in AUDIO_SETS},
        **{f"{name}_problems": L.problems(name) for name in AUDIO_SETS},
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
        results=L.results,
    shell:
        "{ECOAE} audio-features {input:q} --archive {params.archive:q} --audio {params.audio:q}"
        " --sets {params.sets:q} --results {params.results:q} --costs {output.costs:q}"
        " --threads {threads} > {log:q} 2>&1"


for _name in AUDIO_SETS:
    TARGETS.append(
        per_partition(lambda site, date, name=_name: L.features(name, site, date))
    )
    FEATURE_SETS.append(_name)
