# The archive: demo archive, inventory (a checkpoint) and segmentation, one job per batch
# of partitions (a site's days in one window of jobs.days_per_job days: ecoae.batches).


if DEMO:

    rule demo_archive:
        output:
            "demo_archive/ecoae-demo.json",
        log:
            L.log("demo_archive", site=None),
        conda:
            "../../envs/core.yaml"
        params:
            demo=S.demo.to_json(),
        shell:
            "{ECOAE} demo --out demo_archive --settings {params.demo:q} > {log:q} 2>&1"


checkpoint inventory:
    input:
        ["demo_archive/ecoae-demo.json"] if DEMO else [],
    output:
        recordings=L.recordings,
        quarantine=L.quarantine,
        partitions=L.partitions,
    log:
        L.log("inventory", site=None),
    benchmark:
        L.benchmark("inventory", site=None)
    conda:
        "../../envs/core.yaml"
    threads: S.inventory.threads
    params:
        archive=ARCHIVE,
        fingerprint=inventory_fingerprint,
        settings=S.inventory.to_json(),
        segments=S.segments.to_json(),
        out_dir=lambda wildcards, output: str(Path(output.recordings).parent),
        # The results root, whose store partitions the inventory prunes when their
        # recordings leave the archive (not an output prefix of this rule).
        results=L.results,
        # Rows of files probed before: not an output, so Snakemake keeps it between runs.
        cache=L.inventory_cache,
    shell:
        "{ECOAE} inventory {params.archive:q} --out-dir {params.out_dir:q} --prune-results {params.results:q}"
        " --cache-dir {params.cache:q} --fingerprint {params.fingerprint:q}"
        " --settings {params.settings:q} --segments {params.segments:q} --threads {threads} 2> {log:q}"


rule segment:
    input:
        in_batch(L.manifest),
    output:
        L.batch_record("segment"),
    log:
        L.log("segment"),
    benchmark:
        L.benchmark("segment")
    conda:
        "../../envs/core.yaml"
    params:
        settings=S.segments.to_json(),
        results=L.results,
    shell:
        "{ECOAE} segment {input:q} --results {params.results:q} --record {output:q}"
        " --settings {params.settings:q} > {log:q} 2>&1"


TARGETS.append(per_batch(lambda site, days: L.batch_record("segment", site, days)))


rule segments:
    """Target: the inventory and the segment store of every partition (no features)."""
    input:
        per_batch(lambda site, days: L.batch_record("segment", site, days)),
