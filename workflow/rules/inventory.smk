# Demo archive, archive inventory (checkpoint) and segmentation, one job per partition.


if DEMO:

    rule demo_archive:
        output:
            "demo_archive/ecoae-demo.json",
        params:
            demo=config["demo"],
        log:
            log_path("demo_archive", per_partition=False),
        conda:
            "../../envs/core.yaml"
        shell:
            "{ECOAE} demo --out demo_archive --sites {params.demo[sites]}"
            " --days {params.demo[days]} --interval-minutes {params.demo[interval_minutes]}"
            " --recording-seconds {params.demo[recording_seconds]}"
            " --sample-rate {params.demo[sample_rate]} --seed {params.demo[seed]} > {log:q} 2>&1"


checkpoint inventory:
    input:
        ["demo_archive/ecoae-demo.json"] if DEMO else [],
    output:
        recordings=f"{RESULTS}/inventory/recordings.parquet",
        quarantine=f"{RESULTS}/inventory/quarantine.parquet",
        partitions=f"{RESULTS}/inventory/partitions.tsv",
    params:
        archive=ARCHIVE,
        fingerprint=inventory_fingerprint,
        settings=json.dumps(config["inventory"]),
        min_seconds=config["segments"]["min_segment_seconds"],
        out_dir=lambda wildcards, output: str(Path(output.recordings).parent),
        results=RESULTS,
    threads: 4
    log:
        log_path("inventory", per_partition=False),
    benchmark:
        benchmark_path("inventory", per_partition=False)
    conda:
        "../../envs/core.yaml"
    shell:
        "{ECOAE} inventory {params.archive:q} --out-dir {params.out_dir:q} --prune-results {params.results:q}"
        " --settings {params.settings:q} --min-seconds {params.min_seconds}"
        " --threads {threads} 2> {log:q}"


rule segment:
    input:
        f"{RESULTS}/inventory/partitions/{PARTITION}.parquet",
    output:
        f"{RESULTS}/segments/{PARTITION}/part-0.parquet",
    params:
        segments=config["segments"],
    log:
        log_path("segment"),
    benchmark:
        benchmark_path("segment")
    conda:
        "../../envs/core.yaml"
    shell:
        "{ECOAE} segment {input:q} --out {output:q}"
        " --segment-seconds {params.segments[segment_seconds]}"
        " --min-segment-seconds {params.segments[min_segment_seconds]}"
        " --partial {params.segments[partial]} > {log:q} 2>&1"


TARGETS.append(per_partition(f"{RESULTS}/segments/{PARTITION}/part-0.parquet"))


rule segments:
    """Target: the inventory and the segment store of every partition (no features)."""
    input:
        per_partition(f"{RESULTS}/segments/{PARTITION}/part-0.parquet"),
