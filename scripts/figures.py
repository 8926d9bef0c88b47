"""Rules model_figures, layer_figures, image_figures and a CNN's filter_figures, kernel_figures and
channel_figures: every output of the batch, in one process."""

from nntopo import config
from nntopo.figures.draw import write_batch
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads) as log:
    missing = write_batch(
        dict(snakemake.output.items()),
        snakemake.input,
        snakemake.params.settings,
        snakemake.wildcards.dataset,
        snakemake.wildcards.model,
        getattr(snakemake.wildcards, "layer", None),
        data_dir=config.data_dir(snakemake.config),
        download=snakemake.config["download"],
    )
    if missing:
        log.warning("could not inline %s: the pages show a warning and need the network (run `make js`)",
                    ", ".join(missing))
