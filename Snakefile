# ecoae: passive acoustic monitoring archive -> auto-encoder, acoustic-index and MFCC
# feature stores -> comparative evaluation. Rules are thin; the work is in ecoae/.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/archive.smk"
include: "workflow/rules/features_autoencoder.smk"
include: "workflow/rules/features_audio.smk"
include: "workflow/rules/evaluation.smk"


rule all:
    default_target: True
    input:
        all_targets,


onstart:
    from ecoae.run_lock import acquire

    acquire(L.results)


onsuccess:
    from ecoae.run_lock import release
    from ecoae.run_summary import run_summary

    release(L.results)
    print(run_summary(L.results))


onerror:
    from ecoae.run_lock import release

    release(L.results)
    print(
        f"ecoae: the run stopped; logs are under {L.results}/logs/. Run the same command again to resume."
    )
