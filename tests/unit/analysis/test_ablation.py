import numpy as np
import pandas as pd
import pytest

from nntopo import task
from nntopo.analysis.ablation import (
    COLUMNS,
    REGRESSION_COLUMNS,
    Ablator,
    ablate_clusters,
    columns_of,
    logit_error,
    logits_without,
    output_logits,
    random_draws,
    recorded_ablator,
    summarize_ablation,
)
from nntopo.store import Activations, Layer

# A hand-made output layer: 4 hidden neurons, 2 classes. Neuron 0 votes strongly for class 0,
# neuron 1 strongly for class 1; neurons 2 and 3 weakly for class 0 and class 1.
W_OUT = np.array([[3.0, 0.0, 1.0, 0.0], [0.0, 3.0, 0.0, 1.0]])
B_OUT = np.zeros(2)
HIDDEN = np.array(
    [
        [1, 0, 0, 1],  # p0, cluster 0, class 0: logits (3, 1) right; without neuron 0 (0, 1) wrong
        [1, 0, 0, 2],  # p1, cluster 0, class 0: (3, 2) right; without 0 wrong
        [1, 0, 4, 1],  # p2, cluster 0, class 0: (7, 1) right; without 0 (4, 1) still right
        [1, 0, 0, 4],  # p3, cluster 0, class 0: (3, 4) wrong already; without neuron 3 (3, 0) right
        [0, 1, 1, 0],  # p4, cluster 1, class 1: (1, 3) right; without neuron 1 (1, 0) wrong
        [0, 1, 2, 0],  # p5, cluster 1, class 1: (2, 3) right; without 1 wrong
        [0, 2, 0, 1],  # p6, cluster 1, class 1: (0, 7) right; without 1 (0, 1) still right
        [2, 1, 0, 0],  # p7, no cluster, class 0: (6, 3) right; without 0 (0, 3) wrong
    ],
    dtype=float,
)
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 0])
CLUSTERS = np.array([0, 0, 0, 0, 1, 1, 1, -1])
# Cluster accuracy (over its own points) after silencing each single neuron, worked out by hand:
ACC_CLUSTER_0 = {0: 1 / 4, 1: 3 / 4, 2: 3 / 4, 3: 4 / 4}
ACC_CLUSTER_1 = {0: 3 / 3, 1: 1 / 3, 2: 3 / 3, 3: 3 / 3}
RANKING = pd.DataFrame(
    {
        "cluster": [0, 0, 0, 1, 1],
        "neuron": [0, 2, 3, 1, 2],
        "count": [4, 1, 1, 3, 2],
        "fraction": [1.0, 0.25, 0.25, 1.0, 2 / 3],
        "rank": [1, 2, 3, 1, 2],
    }
)


def test_logits_by_hand():
    assert output_logits(HIDDEN, W_OUT, B_OUT)[:4].tolist() == [[3, 1], [3, 2], [7, 1], [3, 4]]
    assert logits_without(HIDDEN, W_OUT, B_OUT, [0])[:4].tolist() == [[0, 1], [0, 2], [4, 1], [0, 4]]
    assert logits_without(HIDDEN, W_OUT, B_OUT, []).tolist() == output_logits(HIDDEN, W_OUT, B_OUT).tolist()


def test_logits_equal_a_full_forward_pass_with_the_hidden_neurons_zeroed():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 7))
    w1, b1 = rng.normal(size=(6, 7)), rng.normal(size=6)
    w2, b2 = rng.normal(size=(3, 6)), rng.normal(size=3)
    hidden = np.maximum(x @ w1.T + b1, 0)
    mask = np.array([1, 0, 1, 1, 0, 1.0])
    expected = (hidden * mask) @ w2.T + b2
    assert np.allclose(logits_without(hidden, w2, b2, [1, 4]), expected)
    assert logit_error(hidden, w2, b2, hidden @ w2.T + b2) < 1e-12


def test_ablation_k1_by_hand():
    n_random, seed = 50, 7
    table = ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, top_k=1, n_random=n_random, seed=seed)
    assert list(table.columns) == COLUMNS
    assert table["cluster"].tolist() == [0, 1]
    assert table["size"].tolist() == [4, 3]
    assert table["neurons"].tolist() == ["0", "1"]
    assert table["n_silenced"].tolist() == [1, 1]
    # Cluster 0: 3 of 4 right before, 1 after silencing neuron 0; its other points p4..p7 go 4/4 -> 3/4.
    # Cluster 1: 3 of 3 right before, 1 after silencing neuron 1; its other points p0..p3, p7 stay 4/5.
    assert table["acc_cluster_before"].tolist() == pytest.approx([3 / 4, 1])
    assert table["acc_cluster_after"].tolist() == pytest.approx([1 / 4, 1 / 3])
    assert table["drop"].tolist() == pytest.approx([1 / 2, 2 / 3])
    assert table["acc_other_before"].tolist() == pytest.approx([1, 4 / 5])
    assert table["acc_other_after"].tolist() == pytest.approx([3 / 4, 4 / 5])
    assert table["other_drop"].tolist() == pytest.approx([1 / 4, 0])
    assert table["specificity"].tolist() == pytest.approx([1 / 4, 2 / 3])
    # The random baseline, from the documented draws: one neuron of four per draw.
    rng = np.random.default_rng(seed)
    drawn = np.array([rng.choice(4, size=1, replace=False)[0] for _ in range(n_random)])
    assert random_draws(4, 1, n_random, seed)[:, 0].tolist() == drawn.tolist()
    for row, acc in zip(table.itertuples(), (ACC_CLUSTER_0, ACC_CLUSTER_1)):
        accs = np.array([acc[d] for d in drawn])
        assert row.random_mean == pytest.approx(accs.mean())
        assert row.random_std == pytest.approx(accs.std())
        assert row.random_drop_mean == pytest.approx(row.acc_cluster_before - accs.mean())
        assert row.p_value == pytest.approx((1 + np.sum(accs <= row.acc_cluster_after)) / (1 + n_random))
    # Only drawing the top neuron itself does as much harm: p = (1 + #draws of it) / 51.
    assert table["p_value"].tolist() == pytest.approx([(1 + np.sum(drawn == 0)) / 51, (1 + np.sum(drawn == 1)) / 51])


def test_ablation_k2_by_hand():
    table = ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, top_k=2, n_random=10, seed=0)
    assert table["neurons"].tolist() == ["0 2", "1 2"]
    # Without neurons 0 and 2 no point of cluster 0 is right; of the others only p7 goes wrong.
    assert table["acc_cluster_after"].tolist() == pytest.approx([0, 1 / 3])
    assert table["acc_other_after"].tolist() == pytest.approx([3 / 4, 4 / 5])


def test_silencing_every_neuron_leaves_the_bias_and_p_value_one():
    # k = 4: every draw silences all four neurons, as does the top-k set, so p = 1 and no spread.
    ranking = pd.DataFrame({"cluster": [0] * 4 + [1] * 4, "neuron": [0, 1, 2, 3] * 2, "rank": [1, 2, 3, 4] * 2})
    table = ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, ranking, top_k=4, n_random=20, seed=1)
    # Logits (0, 0): argmax is class 0 everywhere.
    assert table["acc_cluster_after"].tolist() == pytest.approx([1, 0])
    assert table["random_mean"].tolist() == pytest.approx([1, 0])
    assert table["random_std"].tolist() == [0, 0]
    assert table["p_value"].tolist() == [1, 1]


def test_a_cluster_without_ranked_neurons_silences_nothing():
    ranking = RANKING[RANKING["cluster"] == 0]
    table = ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, ranking, top_k=1, n_random=5, seed=0)
    row = table.iloc[1]
    assert row["neurons"] == "" and row["n_silenced"] == 0
    assert row["acc_cluster_after"] == row["acc_cluster_before"] == row["random_mean"]
    assert row["p_value"] == 1


def _random_problem(n=600, width=40, classes=4, clusters=5, seed=0):
    rng = np.random.default_rng(seed)
    hidden = np.maximum(rng.normal(size=(n, width)), 0)
    weight, bias = rng.normal(size=(classes, width)), rng.normal(size=classes)
    y_true = (hidden @ weight.T + bias + rng.normal(scale=1.5, size=(n, classes))).argmax(1)
    labels = rng.integers(-1, clusters, size=n)
    rows = [(c, j, r + 1) for c in range(clusters) for r, j in enumerate(rng.permutation(width)[:8])]
    ranking = pd.DataFrame(rows, columns=["cluster", "neuron", "rank"])
    return hidden, weight, bias, y_true, labels, ranking


def test_random_baseline_matches_a_plain_loop_and_is_reproducible():
    hidden, weight, bias, y_true, labels, ranking = _random_problem()
    n_random, seed, top_k = 30, 11, 3
    table = ablate_clusters(hidden, weight, bias, y_true, labels, ranking, top_k, n_random=n_random, seed=seed)
    again = ablate_clusters(hidden, weight, bias, y_true, labels, ranking, top_k, n_random=n_random, seed=seed)
    pd.testing.assert_frame_equal(table, again)
    other = ablate_clusters(hidden, weight, bias, y_true, labels, ranking, top_k, n_random=n_random, seed=seed + 1)
    assert not np.allclose(other["random_mean"], table["random_mean"])
    assert other["acc_cluster_after"].tolist() == table["acc_cluster_after"].tolist()  # top-k is not random

    draws = random_draws(hidden.shape[1], top_k, n_random, seed)
    assert all(len(set(d)) == top_k for d in draws)
    for row in table.itertuples():
        own = labels == row.cluster
        silenced = [int(s) for s in row.neurons.split()]
        after = logits_without(hidden, weight, bias, silenced).argmax(1) == y_true
        assert row.acc_cluster_after == pytest.approx(after[own].mean())
        assert row.acc_other_after == pytest.approx(after[~own].mean())
        accs = np.array([(logits_without(hidden, weight, bias, d).argmax(1) == y_true)[own].mean() for d in draws])
        assert row.random_mean == pytest.approx(accs.mean())
        assert row.random_std == pytest.approx(accs.std())
        assert row.p_value == pytest.approx((1 + np.sum(accs <= after[own].mean() + 1e-12)) / (1 + n_random))


def test_p_value_bounds():
    hidden, weight, bias, y_true, labels, ranking = _random_problem(seed=4)
    for n_random in (1, 9, 40):
        table = ablate_clusters(hidden, weight, bias, y_true, labels, ranking, 4, n_random=n_random, seed=0)
        assert (table["p_value"] >= 1 / (1 + n_random)).all() and (table["p_value"] <= 1).all()


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="does not take 3 neurons"):
        ablate_clusters(HIDDEN[:, :3], W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, 1)
    with pytest.raises(ValueError, match="later hidden layer 1 .* does not take 4 neurons"):
        ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, 1, downstream=[(np.eye(3), np.zeros(3))])
    with pytest.raises(ValueError, match="no point is in"):
        ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, np.where(CLUSTERS == 1, -1, CLUSTERS), RANKING, 1)
    with pytest.raises(ValueError, match="top_k must be"):
        ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, 0)
    with pytest.raises(ValueError, match="n_random"):
        ablate_clusters(HIDDEN, W_OUT, B_OUT, Y_TRUE, CLUSTERS, RANKING, 1, n_random=0)


def _ablate_recorded(acts, weights, layer, **kwargs):
    """The ablation table of a model's recorded files, as the analysis stage makes it."""
    ablator = recorded_ablator(acts, weights, layer)
    return ablate_clusters(None, None, None, acts.labels, CLUSTERS, RANKING, 1, ablator=ablator, **kwargs)


def test_recorded_ablator_checks_the_layer_and_the_stored_logits():
    logits = output_logits(HIDDEN, W_OUT, B_OUT)
    acts = Activations([HIDDEN.astype(np.float32)], logits.astype(np.float32), Y_TRUE, logits.argmax(1), {})
    weights = {"hidden_1": Layer(np.zeros((4, 3)), np.zeros(4)), "output": Layer(W_OUT, B_OUT)}
    table = _ablate_recorded(acts, weights, "hidden_1", n_random=5)
    assert table["acc_cluster_after"].tolist() == pytest.approx([1 / 4, 1 / 3])
    with pytest.raises(KeyError, match="no layer 'hidden_0'"):
        recorded_ablator(acts, weights, "hidden_0")
    wrong = Activations(acts.hidden, acts.output + 0.01, Y_TRUE, acts.predictions, {})
    with pytest.raises(ValueError, match="differ from the stored"):
        recorded_ablator(wrong, weights, "hidden_1")


def test_an_earlier_layer_is_silenced_through_the_layers_after_it():
    """Two hidden layers: the first (the hand-made HIDDEN) feeds a second that copies it through a
    ReLU, except neuron 3, whose copy also loses neuron 2 (max(h3 - h2, 0)): silencing neuron 2 of
    the first layer can bring neuron 3 of the second back, which no shortcut through the output
    layer alone would give."""
    w2 = np.eye(4)
    w2[3, 2] = -1.0
    b2 = np.zeros(4)
    second = np.maximum(HIDDEN @ w2.T + b2, 0)
    logits = second @ W_OUT.T + B_OUT
    acts = Activations([HIDDEN.astype(np.float32), second.astype(np.float32)], logits.astype(np.float32), Y_TRUE,
                       logits.argmax(1), {})
    weights = {"hidden_1": Layer(np.zeros((4, 3)), np.zeros(4)), "hidden_2": Layer(w2, b2), "output": Layer(W_OUT, B_OUT)}
    table = _ablate_recorded(acts, weights, "hidden_1", n_random=5)
    # Cluster 0 silences neuron 0: p0 (0, 1), p1 (0, 2) wrong; p2 (4, 0) right; p3: (3, 4) before,
    # (0, 4) after, wrong both times. Cluster 1 silences neuron 1: p4 (1, 0), p5 (2, 0) wrong, p6 (0, 1) right.
    assert table["acc_cluster_before"].tolist() == pytest.approx([3 / 4, 1])
    assert table["acc_cluster_after"].tolist() == pytest.approx([1 / 4, 1 / 3])
    # A second layer's silencing equals a full forward pass with the first layer's neurons zeroed.
    for silenced in ([0], [2], [1, 3], []):
        masked = HIDDEN.copy()
        masked[:, silenced] = 0
        expected = np.maximum(masked @ w2.T + b2, 0) @ W_OUT.T + B_OUT
        assert np.allclose(logits_without(HIDDEN, W_OUT, B_OUT, silenced, downstream=[(w2, b2)]), expected)
    # The random baseline's draws go through the second layer as well: the same as a plain loop.
    draws = random_draws(4, 1, 5, 0)
    for c, own in ((0, CLUSTERS == 0), (1, CLUSTERS == 1)):
        accs = [(logits_without(HIDDEN, W_OUT, B_OUT, d, downstream=[(w2, b2)]).argmax(1) == Y_TRUE)[own].mean()
                for d in draws]
        assert table["random_mean"][c] == pytest.approx(np.mean(accs))


def test_summary():
    table = pd.DataFrame({"p_value": [0.01, 0.01, 0.5, 0.02], "drop": [0.3, 0.0, 0.4, 0.2],
                          "random_drop_mean": [0.1, 0.05, 0.1, 0.1], "other_drop": [0.0, 0.0, 0.1, 0.1],
                          "specificity": [0.3, 0.0, 0.3, 0.1]})
    summary = summarize_ablation(table)
    assert summary["clusters"] == 4
    assert summary["hurt_more_than_random"] == 2  # rows 0 and 3: row 1 drops less than random, row 2 has p 0.5
    assert summary["share_hurt_more_than_random"] == 0.5
    assert summary["mean_drop"] == pytest.approx(0.225)


def test_benjamini_hochberg_counts_fewer_when_many_clusters_are_tested():
    # p-values 0.01, 0.02, 0.03, 0.04, 0.5: raw, four are below 0.05; BH adjusts p_(i) to
    # min over j >= i of p_(j) * n / j: 0.05, 0.05, 0.05, 0.05, 0.5, so none is below 0.05.
    table = pd.DataFrame({"p_value": [0.01, 0.02, 0.03, 0.04, 0.5], "drop": [0.3] * 5,
                          "random_drop_mean": [0.1] * 5, "other_drop": [0.0] * 5, "specificity": [0.3] * 5})
    summary = summarize_ablation(table)
    assert summary["hurt_more_than_random"] == 4 and summary["hurt_more_than_random_bh"] == 0
    table["p_value"] = [0.001, 0.002, 0.003, 0.004, 0.5]  # adjusted: 0.005 each for the first four
    assert summarize_ablation(table)["hurt_more_than_random_bh"] == 4


@pytest.mark.parametrize("activation", [{"name": "relu"}, {"name": "tanh"}, {"name": "leaky_relu", "slope": 0.2}])
def test_replay_through_later_layers_equals_torch_with_the_neurons_zeroed(activation):
    """The contract of ablation: replaying a network from a hidden layer's recorded activations, with
    some of its neurons zeroed, gives the logits of torch's own forward pass with those neurons zeroed
    by a hook, for every activation function."""
    import torch

    from nntopo.network.model import MLP

    torch.manual_seed(0)
    net = MLP(12, (9, 7, 5), n_classes=3, activation=activation).eval()
    x = torch.randn(50, 12)
    with torch.no_grad():
        hidden, logits = net.forward_all(x)
    weights = {name: (layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
               for name, layer in net.layers.items()}
    downstream = [weights["hidden_2"], weights["hidden_3"]]
    first = hidden[0].double().numpy()
    assert np.allclose(output_logits(first, *weights["output"], downstream, activation), logits.numpy(), atol=1e-5)
    silenced = [1, 4, 8]
    hook = net.activation.register_forward_hook(
        lambda module, inputs, out: out.index_fill(1, torch.tensor(silenced), 0.0) if out.shape[1] == 9 else out)
    with torch.no_grad():
        zeroed = net(x).numpy()
    hook.remove()
    replayed = logits_without(first, *weights["output"], silenced, downstream, activation)
    assert np.allclose(replayed, zeroed, atol=1e-5)
    assert not np.allclose(replayed, logits.numpy(), atol=1e-3)  # the silencing changed something


def test_replay_folds_batch_normalisation_into_the_later_layers():
    """With batch normalisation, the recorded layers carry its eval-mode scale and shift, and the
    replay through ``Layer.affine`` gives torch's eval-mode logits, silenced neurons included."""
    import torch

    from nntopo.network.model import MLP
    from nntopo.network.train import layers

    torch.manual_seed(0)
    net = MLP(12, (9, 7), n_classes=3, batchnorm=True)
    with torch.no_grad():
        for _ in range(5):  # move the running statistics away from their start
            net(torch.randn(64, 12) * 2 + 1)
    net.eval()
    x = torch.randn(50, 12)
    with torch.no_grad():
        hidden, logits = net.forward_all(x)
    recorded = layers(net)
    downstream = [tuple(a.astype(np.float64) for a in recorded["hidden_2"].affine())]
    output = recorded["output"]
    first = hidden[0].double().numpy()
    relu = {"name": "relu"}
    assert np.allclose(output_logits(first, output.weight, output.bias, downstream, relu), logits.numpy(), atol=1e-5)
    hook = net.activation.register_forward_hook(
        lambda module, inputs, out: out.index_fill(1, torch.tensor([2, 5]), 0.0) if out.shape[1] == 9 else out)
    with torch.no_grad():
        zeroed = net(x).numpy()
    hook.remove()
    assert np.allclose(logits_without(first, output.weight, output.bias, [2, 5], downstream, relu), zeroed, atol=1e-5)


@pytest.mark.parametrize("layer", ["hidden_1", "hidden_2"])  # before a convolution, before the dense layer
def test_channel_sets_remembered_at_once_are_each_set_alone(layer, monkeypatch):
    """``remember`` runs every set over each chunk of points once (a CNN's next pre-activations
    computed once a chunk, never kept for every point): each set's correctness is the one ``correct``
    gives for it alone, to the bit, across several chunks."""
    import torch

    from nntopo.analysis.ablation import channels
    from nntopo.network.model import build

    monkeypatch.setattr(channels, "CHUNK", 7)  # 60 points: 9 chunks, the last short
    torch.manual_seed(0)
    model = build(64, 3, [12], {"name": "none"}, None, {"channels": [4, 6], "kernel": 3, "pool": 1, "dense": [12]},
                  (1, 8, 8))
    rng = np.random.default_rng(0)
    x, y = rng.random((60, 64)).astype(np.float32), rng.integers(0, 3, 60)
    sets = [[0], [1, 3], [2], [0, 1, 2, 3], [3, 1]]
    alone = channels.ChannelAblator(model, x, layer, y)
    together = channels.ChannelAblator(model, x, layer, y)
    together.remember([*sets, [], [1, 3]])  # the empty set and a repeat are nothing to compute
    assert len(together._known) == 4  # {0}, {1, 3}, {2}, {0, 1, 2, 3}
    for silenced in sets:
        np.testing.assert_array_equal(together.correct(silenced), alone.correct(silenced))
    assert not np.allclose(alone._logits_without(np.arange(4)), alone.logits)  # silencing changes something
    # Each set's correctness is its logits' argmax against the labels, chunks or not.
    np.testing.assert_array_equal(together.correct([1, 3]), alone._logits_without(np.array([1, 3])).argmax(1) == y)


# --- a regressor ------------------------------------------------------------------------------------
# A linear network with one output, the sum of its 3 hidden neurons (weight 1 each, no bias): silencing
# neurons S subtracts their activations from the output, so every ablated output is worked out by hand.
W_SUM, B_SUM = np.ones((1, 3)), np.zeros(1)
HIDDEN_R = np.array([[2, 0, 1], [1, 0, 0], [0, 3, 0], [0, 1, 1], [1, 1, 1]], dtype=float)  # outputs 3, 1, 3, 2, 3
TARGETS_R = np.array([[3.0], [2.0], [3.0], [1.0], [3.0]])
CLUSTERS_R = np.array([0, 0, 1, 1, -1])
LEVELS_R = np.array([1, 0, 1, 0, 1])  # level sets of the targets: they only stand in for classes here
# Each point's squared error (output - target)^2 with each set silenced, worked out by hand:
# e.g. without neuron 0, p0 gives 0 + 0 + 1 = 1 for its target 3: (1 - 3)^2 = 4.
ERRORS_R = {
    (): [0, 1, 0, 1, 0],
    (0,): [4, 4, 0, 1, 1],
    (1,): [0, 1, 9, 0, 1],
    (2,): [1, 1, 0, 0, 1],
    (0, 1): [4, 4, 9, 0, 4],
    (0, 2): [9, 4, 0, 0, 4],
    (1, 2): [1, 1, 9, 1, 4],
}
RANKING_R = pd.DataFrame({"cluster": [0, 0, 1, 1], "neuron": [0, 2, 1, 0], "rank": [1, 2, 1, 2]})


def _regression_table(top_k, n_random=40, seed=3):
    return ablate_clusters(HIDDEN_R, W_SUM, B_SUM, LEVELS_R, CLUSTERS_R, RANKING_R, top_k, n_random=n_random,
                           seed=seed, targets=TARGETS_R)


def test_regression_errors_by_hand():
    ablator = Ablator(HIDDEN_R, W_SUM, B_SUM, LEVELS_R, targets=TARGETS_R)
    for silenced, errors in ERRORS_R.items():
        assert ablator.scores(silenced).tolist() == errors
    with pytest.raises(ValueError, match="use scores"):
        ablator.correct()


def test_regression_ablation_k1_by_hand():
    n_random, seed = 40, 3
    table = _regression_table(1, n_random, seed)
    assert list(table.columns) == REGRESSION_COLUMNS == columns_of("regression")
    assert table["neurons"].tolist() == ["0", "1"] and table["size"].tolist() == [2, 2]
    # Cluster 0 (p0, p1) silences neuron 0: errors (0, 1) -> (4, 4); the others (p2, p3, p4) (0, 1, 0) -> (0, 1, 1).
    # Cluster 1 (p2, p3) silences neuron 1: errors (0, 1) -> (9, 0); the others (p0, p1, p4) (0, 1, 0) -> (0, 1, 1).
    assert table["mse_cluster_before"].tolist() == [1 / 2, 1 / 2]
    assert table["mse_cluster_after"].tolist() == [4, 9 / 2]
    assert table["rise"].tolist() == [7 / 2, 4]
    # Relative L2: sqrt(summed error) / sqrt(summed squared target): cluster 0's targets 3, 2; cluster 1's 3, 1.
    assert table["rel_l2_cluster_before"].tolist() == pytest.approx([1 / np.sqrt(13), 1 / np.sqrt(10)])
    assert table["rel_l2_cluster_after"].tolist() == pytest.approx([np.sqrt(8 / 13), np.sqrt(9 / 10)])
    assert table["mse_other_before"].tolist() == pytest.approx([1 / 3, 1 / 3])
    assert table["mse_other_after"].tolist() == pytest.approx([2 / 3, 2 / 3])
    assert table["other_rise"].tolist() == pytest.approx([1 / 3, 1 / 3])
    assert table["specificity"].tolist() == pytest.approx([7 / 2 - 1 / 3, 4 - 1 / 3])
    # The random baseline: one neuron of three per draw. A cluster's mse after each single neuron, by hand:
    # cluster 0 {0: 4, 1: 1/2, 2: 1}; cluster 1 {0: 1/2, 1: 9/2, 2: 0} (neuron 2 silenced makes p3 exact).
    drawn = random_draws(3, 1, n_random, seed)[:, 0]
    for row, after in zip(table.itertuples(), ({0: 4, 1: 0.5, 2: 1}, {0: 0.5, 1: 4.5, 2: 0})):
        mses = np.array([after[d] for d in drawn])
        assert row.random_mean == pytest.approx(mses.mean())
        assert row.random_std == pytest.approx(mses.std())
        assert row.random_rise_mean == pytest.approx(mses.mean() - row.mse_cluster_before)
        # Larger error is worse: the draws whose error is at least the top neuron's, here the top neuron alone.
        assert row.p_value == pytest.approx((1 + np.sum(mses >= row.mse_cluster_after)) / (1 + n_random))
    # The other points' mse per single neuron: cluster 0's (p2, p3, p4) errors (0, 1, 1), (9, 0, 1), (0, 0, 1).
    others = {0: [2 / 3, 10 / 3, 1 / 3], 1: [3, 2 / 3, 1]}
    assert table["random_other_mean"].tolist() == pytest.approx([np.mean([others[c][d] for d in drawn]) for c in (0, 1)])
    assert table["p_value"].tolist() == pytest.approx([(1 + np.sum(drawn == 0)) / 41, (1 + np.sum(drawn == 1)) / 41])


def test_regression_ablation_k2_counts_worse_random_sets():
    """Two of three neurons: cluster 1 silences {1, 0} (mse 9/2), and the random set {1, 2} does more harm
    (mse 5), so the p-value counts the draws of both; cluster 0's {0, 2} (mse 13/2) is the worst set."""
    n_random, seed = 30, 5
    table = _regression_table(2, n_random, seed)
    assert table["neurons"].tolist() == ["0 2", "1 0"]
    assert table["mse_cluster_after"].tolist() == [13 / 2, 9 / 2]
    draws = [tuple(sorted(d)) for d in random_draws(3, 2, n_random, seed).tolist()]
    mse = {c: {s: np.mean(np.array(ERRORS_R[s])[CLUSTERS_R == c]) for s in ERRORS_R} for c in (0, 1)}
    assert mse[1][(1, 2)] == 5 > table["mse_cluster_after"][1]
    for c, top in ((0, (0, 2)), (1, (0, 1))):
        counted = sum(mse[c][d] >= mse[c][top] for d in draws)
        assert table["p_value"][c] == pytest.approx((1 + counted) / (1 + n_random))
        assert table["random_mean"][c] == pytest.approx(np.mean([mse[c][d] for d in draws]))
    assert table["p_value"][1] > (1 + sum(d == (0, 1) for d in draws)) / (1 + n_random)  # {1, 2} counted too


def test_regression_silencing_every_neuron_gives_p_value_one():
    ranking = pd.DataFrame({"cluster": [0] * 3 + [1] * 3, "neuron": [0, 1, 2] * 2, "rank": [1, 2, 3] * 2})
    table = ablate_clusters(HIDDEN_R, W_SUM, B_SUM, LEVELS_R, CLUSTERS_R, ranking, 3, n_random=10, targets=TARGETS_R)
    # Every output is 0: errors are the squared targets; the same set every draw, so p = 1 and no spread.
    assert table["mse_cluster_after"].tolist() == [13 / 2, 10 / 2]
    assert table["rel_l2_cluster_after"].tolist() == [1, 1]
    assert table["random_std"].tolist() == [0, 0] and table["p_value"].tolist() == [1, 1]


def _regression_mlp(activation=None):
    """A small MLP regressing 2 values (its outputs are the predictions), targets near them."""
    import torch

    from nntopo.network.model import MLP

    torch.manual_seed(1)
    net = MLP(6, (10, 8), n_classes=2, activation=activation or {"name": "relu"}).eval()
    x = torch.randn(120, 6)
    with torch.no_grad():
        hidden, outputs = net.forward_all(x)
    targets = outputs.double().numpy() + np.random.default_rng(1).normal(scale=0.3, size=(120, 2))
    return net, x, hidden, targets


def _torch_zeroed(net, x, width: int, silenced) -> np.ndarray:
    """The network's outputs with ``silenced`` units of its hidden layer of ``width`` zeroed by a hook."""
    import torch

    hook = net.activation.register_forward_hook(
        lambda module, inputs, out: out.index_fill(1, torch.tensor(silenced, dtype=torch.long), 0.0)
        if out.shape[1] == width and len(silenced) else out)
    with torch.no_grad():
        outputs = net(x).double().numpy()
    hook.remove()
    return outputs


def test_regression_replay_equals_torch_with_the_units_zeroed():
    """A regressor's table from the dense replay of its first hidden layer (through the second) equals
    one recomputed from torch's own forward passes, units zeroed by a hook, with ``task.mse`` and
    ``task.relative_l2``: every top-k set and every random draw."""
    net, x, hidden, targets = _regression_mlp({"name": "tanh"})
    weights = {name: (layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy())
               for name, layer in net.layers.items()}
    rng = np.random.default_rng(2)
    labels = rng.integers(-1, 3, 120)
    ranking = pd.DataFrame([(c, j, r + 1) for c in range(3) for r, j in enumerate(rng.permutation(10)[:4])],
                           columns=["cluster", "neuron", "rank"])
    ablator = Ablator(hidden[0].double().numpy(), *weights["output"], np.zeros(120), [weights["hidden_2"]],
                      {"name": "tanh"}, targets)
    assert np.allclose(ablator.logits, _torch_zeroed(net, x, 10, []), atol=1e-5)
    n_random, top_k = 6, 3
    table = ablate_clusters(None, None, None, None, labels, ranking, top_k, n_random=n_random, seed=4, ablator=ablator)
    assert list(table.columns) == REGRESSION_COLUMNS
    draws = random_draws(10, top_k, n_random, 4)
    before = _torch_zeroed(net, x, 10, [])
    for row in table.itertuples():
        own = labels == row.cluster
        silenced = [int(s) for s in row.neurons.split()]
        after = _torch_zeroed(net, x, 10, silenced)
        np.testing.assert_allclose(ablator.scores(silenced), task.point_errors(after, targets), rtol=1e-5)
        assert row.mse_cluster_before == pytest.approx(task.mse(before[own], targets[own]), rel=1e-5)
        assert row.mse_cluster_after == pytest.approx(task.mse(after[own], targets[own]), rel=1e-5)
        assert row.rel_l2_cluster_after == pytest.approx(task.relative_l2(after[own], targets[own]), rel=1e-5)
        assert row.mse_other_after == pytest.approx(task.mse(after[~own], targets[~own]), rel=1e-5)
        mses = np.array([task.mse(_torch_zeroed(net, x, 10, d.tolist())[own], targets[own]) for d in draws])
        assert row.random_mean == pytest.approx(mses.mean(), rel=1e-5)
        assert row.p_value == pytest.approx((1 + np.sum(mses >= row.mse_cluster_after - 1e-9)) / (1 + n_random))
    assert (table["rise"] != 0).any()  # the silencing changed something


def test_recorded_ablator_of_a_regressor_reads_its_targets():
    import json

    logits = HIDDEN_R @ W_SUM.T + B_SUM
    attrs = {"task": "regression", "level_sets": json.dumps(task.levels_of(TARGETS_R, 2))}
    acts = Activations([HIDDEN_R.astype(np.float32)], logits.astype(np.float32), LEVELS_R, LEVELS_R, attrs,
                       None, TARGETS_R)
    weights = {"hidden_1": Layer(np.zeros((3, 2)), np.zeros(3)), "output": Layer(W_SUM, B_SUM)}
    ablator = recorded_ablator(acts, weights, "hidden_1")
    table = ablate_clusters(None, None, None, acts.labels, CLUSTERS_R, RANKING_R, 1, n_random=5, ablator=ablator)
    assert table["mse_cluster_after"].tolist() == [4, 9 / 2]


def test_regression_targets_are_checked():
    with pytest.raises(ValueError, match=r"targets \(5 x 2\) do not match the network's outputs \(5 x 1\)"):
        Ablator(HIDDEN_R, W_SUM, B_SUM, LEVELS_R, targets=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="targets hold NaN"):
        Ablator(HIDDEN_R, W_SUM, B_SUM, LEVELS_R, targets=np.where(TARGETS_R == 1, np.nan, TARGETS_R))


def test_regression_summary():
    table = pd.DataFrame({"p_value": [0.01, 0.01, 0.5, 0.02], "rise": [0.3, 0.0, 0.4, 0.2],
                          "random_rise_mean": [0.1, 0.05, 0.1, 0.1], "other_rise": [0.0, 0.0, 0.1, 0.1],
                          "specificity": [0.3, 0.0, 0.3, 0.1]})
    summary = summarize_ablation(table)
    assert summary["hurt_more_than_random"] == 2  # rows 0 and 3: row 1 rises less than random, row 2 has p 0.5
    assert summary["mean_rise"] == pytest.approx(0.225) and summary["mean_random_rise"] == pytest.approx(0.0875)
    assert summary["mean_other_rise"] == pytest.approx(0.05)
    assert set(summary) - {"mean_rise", "mean_random_rise", "mean_other_rise"} == set(
        summarize_ablation(table.rename(columns={"rise": "drop", "random_rise_mean": "random_drop_mean",
                                                 "other_rise": "other_drop"}))) - {"mean_drop", "mean_random_drop",
                                                                                   "mean_other_drop"}


@pytest.mark.parametrize("layer, width", [("hidden_1", 4), ("hidden_2", 6)])  # before a convolution, a dense layer
def test_channel_ablator_of_a_regression_cnn_equals_zeroing_the_channels(layer, width, monkeypatch):
    """A CNN with one output, its channels silenced: each point's squared error is the one of torch's
    forward pass with those channels' maps zeroed by a hook, chunk by chunk or not."""
    import torch

    from nntopo.analysis.ablation import channels
    from nntopo.network.model import build

    monkeypatch.setattr(channels, "CHUNK", 7)  # 40 points: 6 chunks, the last short
    torch.manual_seed(0)
    model = build(64, 1, [12], {"name": "none"}, None, {"channels": [4, 6], "kernel": 3, "pool": 1, "dense": [12]},
                  (1, 8, 8))
    rng = np.random.default_rng(0)
    x = rng.random((40, 64)).astype(np.float32)
    targets = rng.normal(size=(40, 1))
    ablator = channels.ChannelAblator(model, x, layer, np.zeros(40), targets)
    ablator.remember([[0, 2], [1], [3, 1]])
    images = torch.from_numpy(x.astype(np.float64))
    for silenced in ([0, 2], [1], [1, 3], []):
        hook = model.activation.register_forward_hook(  # the ablator made the model float64
            lambda module, inputs, out, silenced=silenced: out.index_fill(1, torch.tensor(silenced, dtype=torch.long), 0.0)
            if out.ndim == 4 and out.shape[1] == width and silenced else out)
        with torch.no_grad():
            zeroed = model(images).numpy()
        hook.remove()
        np.testing.assert_allclose(ablator.scores(silenced), task.point_errors(zeroed, targets), rtol=1e-9, atol=1e-12)
    assert not np.allclose(ablator.scores([1]), ablator.scores())  # silencing changes something
    labels = rng.integers(0, 3, 40)
    ranking = pd.DataFrame({"cluster": [0, 1, 2], "neuron": [1, 2, 3], "rank": [1, 1, 1]})
    table = ablate_clusters(None, None, None, None, labels, ranking, 1, n_random=4, ablator=ablator)
    own = labels == 0
    assert table["mse_cluster_after"][0] == pytest.approx(ablator.scores([1])[own].mean())
