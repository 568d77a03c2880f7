# Comparative evaluation: every feature store + labels -> metrics, timings, figures and
# an HTML report in results/evaluation/ (also in `snakemake --report`).


rule evaluate:
    input:
        partitions=L.partitions,
        segments=per_batch(lambda site, days: L.batch_record("segment", site, days)),
        features=evaluation_inputs,
        labels=[table.path for table in S.evaluation.label_tables],
    output:
        metrics=report(
            f"{L.evaluation_dir}/metrics.csv",
            caption="../report/metrics.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        folds=f"{L.evaluation_dir}/fold_metrics.csv",
        tasks=report(
            f"{L.evaluation_dir}/tasks.csv",
            caption="../report/tasks.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        confusion=f"{L.evaluation_dir}/confusion.csv",
        timings=report(
            f"{L.evaluation_dir}/timings.csv",
            caption="../report/timings.rst",
            category="Evaluation",
            subcategory="Tables",
        ),
        figures=report(
            directory(f"{L.evaluation_dir}/figures"),
            patterns=["{name}.png"],
            caption="../report/figures.rst",
            category="Evaluation",
            subcategory="Figures",
        ),
        html=report(
            f"{L.evaluation_dir}/report.html",
            caption="../report/report.rst",
            category="Evaluation",
            subcategory="Report",
        ),
    log:
        L.log("evaluate", site=None),
    benchmark:
        L.benchmark("evaluate", site=None)
    conda:
        "../../envs/evaluation.yaml"
    threads: S.evaluation.threads
    params:
        # The evaluation reads every store of the results folder through ecoae.layout.
        results=L.results,
        sets=FEATURE_SETS,
        settings=S.evaluation.to_json(),
        audio=S.audio.to_json(),
    shell:
        "{ECOAE} evaluate --results {params.results:q} --feature-set {params.sets:q}"
        " --settings {params.settings:q} --audio {params.audio:q} --threads {threads} > {log:q} 2>&1"


TARGETS.append(lambda wildcards: [f"{L.evaluation_dir}/report.html"])
