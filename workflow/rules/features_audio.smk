# Feature sets computed from segment audio (acoustic indices, MFCC, and any set in
# ecoae.features.registry): one rule for all, one job per partition and set.
from ecoae.features.registry import AUDIO_FEATURE_SETS


def audio_feature_settings(wildcards):
    """Canonical JSON of the set's config section (a changed setting re-runs only that set)."""
    return AUDIO_FEATURE_SETS[wildcards.feature_set].settings(S).to_json()


def audio_feature_threads(wildcards):
    return AUDIO_FEATURE_SETS[wildcards.feature_set].settings(S).threads


rule audio_features:
    input:
        L.segments(),
    output:
        L.features("{feature_set}"),
    wildcard_constraints:
        feature_set="|".join(AUDIO_FEATURE_SETS),
    params:
        archive=ARCHIVE,
        audio=S.audio.to_json(),
        settings=audio_feature_settings,
    threads: audio_feature_threads
    log:
        L.log("{feature_set}"),
    benchmark:
        L.benchmark("{feature_set}")
    conda:
        "../../envs/features.yaml"
    shell:
        "{ECOAE} {wildcards.feature_set} {input:q} --archive {params.archive:q} --audio {params.audio:q}"
        " --settings {params.settings:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


for _name in AUDIO_FEATURE_SETS:
    TARGETS.append(per_partition(lambda site, date, name=_name: L.features(name, site, date)))
    FEATURE_SETS.append(_name)
