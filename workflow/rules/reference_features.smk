# Reference feature sets, one job per partition: scikit-maad acoustic indices and MFCCs.


rule indices:
    input:
        f"{RESULTS}/segments/{PARTITION}/part-0.parquet",
    output:
        f"{RESULTS}/features/indices/{PARTITION}/part-0.parquet",
    params:
        archive=ARCHIVE,
        audio=config["audio"],
        settings=json.dumps(config["indices"], sort_keys=True),
    threads: 2
    log:
        log_path("indices"),
    benchmark:
        benchmark_path("indices")
    conda:
        "../../envs/features.yaml"
    shell:
        "{ECOAE} indices {input:q} --archive {params.archive:q}"
        " --sample-rate {params.audio[sample_rate]} --channel {params.audio[channel]}"
        " --settings {params.settings:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


rule mfcc:
    input:
        f"{RESULTS}/segments/{PARTITION}/part-0.parquet",
    output:
        f"{RESULTS}/features/mfcc/{PARTITION}/part-0.parquet",
    params:
        archive=ARCHIVE,
        audio=config["audio"],
        settings=json.dumps(config["mfcc"], sort_keys=True),
    threads: 2
    log:
        log_path("mfcc"),
    benchmark:
        benchmark_path("mfcc")
    conda:
        "../../envs/features.yaml"
    shell:
        "{ECOAE} mfcc {input:q} --archive {params.archive:q}"
        " --sample-rate {params.audio[sample_rate]} --channel {params.audio[channel]}"
        " --settings {params.settings:q} --threads {threads} --out {output:q} > {log:q} 2>&1"


TARGETS.append(per_partition(f"{RESULTS}/features/indices/{PARTITION}/part-0.parquet"))
TARGETS.append(per_partition(f"{RESULTS}/features/mfcc/{PARTITION}/part-0.parquet"))
FEATURE_SETS["indices"] = f"{RESULTS}/features/indices/{PARTITION}/part-0.parquet"
FEATURE_SETS["mfcc"] = f"{RESULTS}/features/mfcc/{PARTITION}/part-0.parquet"
