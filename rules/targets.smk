# What the study makes (rule all's inputs), and the targets of each part of it.
from nntopo import config as nnconfig
from nntopo import figures
from nntopo import paths
from nntopo.figures import domain


def all_targets():
    """Everything the study makes; with no clustering method, the models, their homology and the neural
    persistence summary alone. With trials, the kept models (asked for every dataset's trials at once)
    and every dataset's trials.csv."""
    trials = []
    if config.get("trials"):
        trial_plans()  # every dataset's next trials asked for at once
        trials = [paths.fill(paths.SUMMARY_TRIALS, dataset=name) for name in nnconfig.dataset_names(config)]
    recorded = trials + model_outputs(paths.ACTIVATIONS, paths.METRICS) + model_outputs(paths.WEIGHTS, weights=True)
    if not config["clustering"]["methods"]:
        return recorded + homology_targets() + persistence_targets() + filter_targets()
    per_model = [paths.PROBE, *figures.batch_outputs(figures.MODEL_BATCH, config).values()]
    per_model += method_outputs([paths.FLOW, paths.CONTINGENCY], lambda *p: list(p))
    per_layer = [paths.AGREEMENT, *method_outputs([paths.CLUSTERS, paths.RANKING, paths.CLUSTER_TABLE, paths.ABLATION],
                                                  lambda *p: list(p))]
    per_layer += figures.batch_outputs(figures.LAYER_BATCH, config).values()
    # Image figures (figures.image_batches): an MLP's weight images where the ranked layer sees the
    # pixels; a CNN's kernel images there and its channels where the ranked layer is convolutional.
    images = [
        paths.fill(path, dataset=dataset, model=model, layer=layer)
        for dataset in nnconfig.dataset_names(config)
        for model in models(dataset)
        for layer in analysed_layers(model)
        for path in figures.image_outputs(config, dataset, str(model), layer)
    ]
    channels = [  # a CNN's first-layer filters
        paths.fill(path, dataset=dataset, model=model)
        for dataset in nnconfig.dataset_names(config)
        for model in models(dataset)
        for path in figures.model_image_outputs(config, dataset, str(model))
    ]
    return (
        recorded
        + homology_targets()
        + persistence_targets()
        # The space of neurons is part of the study with clustering, whose rankings colour it; a study
        # without clustering stays what it says (training and homology), though its files can be named.
        + neuron_targets()
        + filter_targets()  # a CNN architecture's first-layer filters, over its seeds
        + model_outputs(*per_model)
        + layer_outputs(*per_layer)
        + images
        + channels
        + dataset_outputs(*summary_outputs())
        + domain_targets()  # rules/domain.smk's figures: a regression on 2-D points only
    )


def homology_targets():
    diagrams = [paths.fill(paths.HOMOLOGY_FIGURE, figure=name) for name in paths.HOMOLOGY_FIGURES]
    return model_outputs(paths.HOMOLOGY, paths.HOMOLOGY_TABLE, *diagrams) + dataset_outputs(
        paths.SUMMARY_HOMOLOGY, paths.SUMMARY_BETTI_FIGURE)


def persistence_targets():
    """Neural persistence through training gathered per dataset (training measures it; none without a
    grid: an external network's is measured once, in its metrics.json and the summary)."""
    if not nnconfig.model_ids(config):
        return []
    return dataset_outputs(paths.SUMMARY_NEURAL_PERSISTENCE, paths.SUMMARY_EARLY_STOPPING,
                           paths.SUMMARY_NEURAL_PERSISTENCE_FIGURE)


def neuron_targets():
    """The space of neurons of every hidden layer of every model with weights (analysed or not), and for
    the first hidden layer of an image dataset its nodes as weight images."""
    outputs = [paths.NEURON_SPACE, *(paths.fill(paths.NEURON_FIGURE, figure=f) for f in paths.NEURON_FIGURES)]
    images = [paths.fill(paths.NEURON_FIGURE, figure=f) for f in paths.NEURON_IMAGE_FIGURES]
    return [
        paths.fill(path, dataset=dataset, model=model, layer=layer)
        for dataset in nnconfig.dataset_names(config)
        for model in models(dataset)
        if nnconfig.has_weights(config, model)
        for layer in (nnmodels.hidden_name(i) for i in range(1, nnconfig.n_hidden(config, model) + 1))
        for path in outputs + (images if figures.shows_pixels(config, dataset, str(model), layer) else [])
    ]


def filter_targets():
    """The space of first-layer filters and its figures for every dataset and every CNN architecture of
    the grid (an MLP has no kernels; none without CNNs)."""
    outputs = [paths.FILTER_SPACE, *(paths.fill(paths.FILTER_FIGURE, figure=f) for f in paths.FILTER_FIGURES)]
    return [paths.fill(path, dataset=dataset, architecture=architecture)
            for dataset in nnconfig.dataset_names(config)
            for architecture in sorted({m.architecture for m in models(dataset, grid=True) if m.conv > 0})
            for path in outputs]


def summary_outputs():
    """The cross-model summaries; seed stability only when the grid has several seeds (kept seeds, with trials)."""
    outputs = [paths.SUMMARY_TABLE, paths.SUMMARY_FIGURE, paths.SUMMARY_ABLATION, paths.SUMMARY_AGREEMENT,
               paths.SUMMARY_LAYERS, *depth_figures()]
    seeds = config["trials"]["successes"] if config.get("trials") else len(config["seeds"])
    return outputs + ([paths.SEED_STABILITY] if seeds > 1 and nnconfig.model_ids(config) else [])


def depth_figures():
    return [paths.fill(paths.SUMMARY_DEPTH_FIGURE, method=method) for method in config["clustering"]["methods"]]


def domain_targets():
    """The domain figures of every model of every dataset they are drawn for (domain.draws_domain)."""
    datasets = [name for name in nnconfig.dataset_names(config) if domain.draws_domain(nndatasets.get(name, config))]
    per_layer = [paths.fill(path, method=method) for path in domain.layer_outputs().values()
                 for method in config["clustering"]["methods"]]
    return [path for name in datasets
            for path in model_outputs(*domain.model_outputs().values(), dataset=name)
            + layer_outputs(*per_layer, dataset=name)]
