# Figures and pages are written in batches: a model's (its own figures, and per method the figures
# and the page across its layers), a layer's (per method its clusters' figures, its Mapper page and
# graph file), the weight images where the ranked layer sees the pixels (an MLP's neurons'; a CNN's
# first-layer kernels), and a CNN's filters and its convolutional layers' channels. A job's start-up
# costs ~1 s and a figure ~0.3 s, so one job per figure (or per method) spent most of the figure time
# starting Python. Naming one figure's path still builds one job; each output's settings are its own
# params entry, so a config change reruns only the batches that hold an affected output.


rule model_figures:
    input:
        unpack(batch_rule_inputs(figures.MODEL_BATCH)),
    output:
        **batch_rule_outputs(figures.MODEL_BATCH, "{method} across layers", "model"),
    params:
        settings=figures.batch_settings(figures.MODEL_BATCH, config),
    log:
        paths.for_rule(paths.LOG, "model_figures"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "model_figures")
    threads: 1
    # Measured on the default study (`benchmark:` records), for all these rules: TODO.
    # Asked: 1000 MB and 5 min (SLURM's unit is the minute), doubled per retry; the memory grows with
    # the analysed points (their activations and clusters are read).
    resources:
        mem_mb=points_mb(1000, 3000),
        runtime=lambda wildcards, attempt: 5 * attempt,
    conda:
        "../envs/nntopo.yaml"
    script:
        "../scripts/figures.py"


use rule model_figures as layer_figures with:
    input:
        unpack(batch_rule_inputs(figures.LAYER_BATCH)),
    output:
        **batch_rule_outputs(figures.LAYER_BATCH, "{{layer}} {method}", "{layer}"),
    params:
        settings=lambda wildcards: figures.batch_settings(figures.LAYER_BATCH, config, wildcards.model, wildcards.layer),
    log:
        paths.for_rule(paths.LAYER_LOG, "layer_figures"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "layer_figures")


use rule layer_figures as image_figures with:
    input:
        unpack(batch_rule_inputs(figures.IMAGE_BATCH)),
    output:
        **batch_rule_outputs(figures.IMAGE_BATCH, "{{layer}} {method}", "{layer}"),
    params:
        settings=lambda wildcards: figures.batch_settings(figures.IMAGE_BATCH, config, wildcards.model, wildcards.layer),
    # An MLP's: a CNN's neurons.png is kernel_figures'.
    wildcard_constraints:
        model=figures.MLP_ID_REGEX,
    log:
        paths.for_rule(paths.LAYER_LOG, "image_figures"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "image_figures")


# A CNN's figures: its first layer's filters (per model), its first layer's top channels' kernels
# where the ranked layer is the first (per layer: the MLP's weight images, without the transformed
# inputs), and where the ranked layer is convolutional what its top channels respond to, from the
# feature maps model.pt recomputes on the test images.
use rule model_figures as filter_figures with:
    input:
        unpack(batch_rule_inputs(figures.FILTER_BATCH)),
    output:
        **batch_rule_outputs(figures.FILTER_BATCH, "{method} across layers", "model"),
    params:
        settings=figures.batch_settings(figures.FILTER_BATCH, config),
    wildcard_constraints:
        model=figures.CNN_ID_REGEX,
    log:
        paths.for_rule(paths.LOG, "filter_figures"),
    benchmark:
        paths.for_rule(paths.BENCHMARK, "filter_figures")


use rule image_figures as kernel_figures with:
    input:
        unpack(batch_rule_inputs(figures.KERNEL_BATCH)),
    output:
        **batch_rule_outputs(figures.KERNEL_BATCH, "{{layer}} {method}", "{layer}"),
    params:
        settings=lambda wildcards: figures.batch_settings(figures.KERNEL_BATCH, config, wildcards.model, wildcards.layer),
    wildcard_constraints:
        model=figures.CNN_ID_REGEX,
    log:
        paths.for_rule(paths.LAYER_LOG, "kernel_figures"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "kernel_figures")


use rule image_figures as channel_figures with:
    input:
        unpack(batch_rule_inputs(figures.CHANNEL_BATCH)),
    output:
        **batch_rule_outputs(figures.CHANNEL_BATCH, "{{layer}} {method}", "{layer}"),
    params:
        settings=lambda wildcards: figures.batch_settings(figures.CHANNEL_BATCH, config, wildcards.model, wildcards.layer),
    wildcard_constraints:
        model=figures.CNN_ID_REGEX,
    log:
        paths.for_rule(paths.LAYER_LOG, "channel_figures"),
    benchmark:
        paths.for_rule(paths.LAYER_BENCHMARK, "channel_figures")
    # Measured (/usr/bin/time, one method's figure): 875 MB RSS and 10 s for hidden_1 of cnn16x32-d64 on
    # MNIST (torch and the test images loaded, 100 images' maps recomputed per channel shown), 712 MB
    # on the digits. Asked: 2000 MB and 10 min, doubled per retry, the memory growing with the analysed points.
    resources:
        mem_mb=points_mb(2000, 3000),
        runtime=lambda wildcards, attempt: 10 * attempt,
