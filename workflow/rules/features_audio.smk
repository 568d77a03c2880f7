# Feature sets computed from segment audio (acoustic indices, MFCC, and any set in
# ecoae.features.registry): one rule for all, one job per partition and set.


rule audio_features:
    input:
        L.segments(),
    output:
        features=L.features("{feature_set}"),
        problems=L.problems("{feature_set}"),
    log:
        L.log("{feature_set}"),
    benchmark:
        L.benchmark("{feature_set}")
    wildcard_constraints:
        feature_set="|".join(AUDIO_FEATURE_SETS),
    conda:
        "../../envs/features.yaml"
    threads: audio_feature_threads
    params:
        archive=ARCHIVE,
        audio=S.audio.to_json(),
        settings=audio_feature_settings,
    shell:
        "{ECOAE} {wildcards.feature_set:q} {input:q} --archive {params.archive:q} --audio {params.audio:q}"
        " --settings {params.settings:q} --threads {threads} --out {output.features:q}"
        " --problems {output.problems:q} > {log:q} 2>&1"


# Only enabled sets are targets and compared (birdnet is off by default).
for _name in enabled_sets(S):
    TARGETS.append(
        per_partition(lambda site, date, name=_name: L.features(name, site, date))
    )
    FEATURE_SETS.append(_name)
