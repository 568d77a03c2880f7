# Comparative evaluation: every feature store + labels -> metrics, timings, figures and
# an HTML report in results/evaluation/ (also in `snakemake --report`).


EVALUATION = config["evaluation"]


def evaluation_store_dirs(wildcards):
    """`--feature-set NAME=DIR` arguments: each store's folder (its pattern up to /site=)."""
    return " ".join(
        f"--feature-set {name}={pattern.split('/site=')[0]}" for name, pattern in FEATURE_SETS.items()
    )


def evaluation_inputs(wildcards):
    """Every partition of every feature set, and the training figures of models trained here."""
    paths = [path for pattern in FEATURE_SETS.values() for path in per_partition(pattern)(wildcards)]
    for name in TRAINED_MODELS:
        paths += [f"{RESULTS}/models/{name}/loss_curve.png", f"{RESULTS}/models/{name}/reconstructions.png"]
    return paths


rule evaluate:
    input:
        segments=per_partition(f"{RESULTS}/segments/{PARTITION}/part-0.parquet"),
        features=evaluation_inputs,
        labels=[table["path"] for table in EVALUATION["label_tables"]],
    output:
        metrics=report(
            f"{RESULTS}/evaluation/metrics.csv",
            caption="../report/metrics.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        folds=f"{RESULTS}/evaluation/fold_metrics.csv",
        tasks=report(
            f"{RESULTS}/evaluation/tasks.csv",
            caption="../report/tasks.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        confusion=f"{RESULTS}/evaluation/confusion.csv",
        timings=report(
            f"{RESULTS}/evaluation/timings.csv",
            caption="../report/timings.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        figures=report(
            directory(f"{RESULTS}/evaluation/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Evaluation",
            subcategory="Figures",
        ),
        html=report(
            f"{RESULTS}/evaluation/report.html",
            caption="../report/report.rst",
            category="Evaluation",
            subcategory="Report",
        ),
    params:
        stores=evaluation_store_dirs,
        settings=json.dumps(EVALUATION, sort_keys=True),
        sample_rate=config["audio"]["sample_rate"],
        out_dir=f"{RESULTS}/evaluation",
        results=RESULTS,
    threads: EVALUATION["threads"]
    log:
        log_path("evaluate", per_partition=False),
    benchmark:
        benchmark_path("evaluate", per_partition=False)
    conda:
        "../../envs/evaluation.yaml"
    shell:
        "{ECOAE} evaluate --segments-dir {params.results:q}/segments {params.stores}"
        " --benchmarks-dir {params.results:q}/benchmarks --models-dir {params.results:q}/models"
        " --out-dir {params.out_dir:q} --settings {params.settings:q}"
        " --sample-rate {params.sample_rate} --threads {threads} > {log:q} 2>&1"


TARGETS.append(lambda wildcards: [f"{RESULTS}/evaluation/report.html"])
