"""Rule homology_figures: one model's persistence diagrams by layer and their distances."""

from nntopo.topology.stage import draw_model_figures
from nntopo.workflow.jobs import job

with job(snakemake.log[0], snakemake.threads):
    draw_model_figures(snakemake.input.homology, snakemake.input.table, snakemake.output)
