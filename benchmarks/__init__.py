"""The benchmark of the workflow (docs/reference/benchmark.md), a package so that its programs run as
``python -m benchmarks.<program>`` from the repository root and the tests import them:

- ``bench``: the driver (``make bench``, ``python -m benchmarks.bench``): the default study's phases
  timed on a scratch copy, against the reference; its parts: ``plan`` (the study's config, what each
  phase deletes and expects), ``phases`` (the timed phases), ``records`` (the rules' benchmark records,
  the training table), ``report`` (the printout, the targets, last.json), ``commands`` (running
  Snakemake and the programs, the jobs a run lists)
- ``reference``: the same study done the straightforward way, the baseline of the speed-up
- ``gemm``: this machine's one-thread fp32 matrix-product rate, the peak training is measured against
- ``steps``: training steps of the default CNN and two MLPs in several variants (``--cnn``)
- ``tsne_forces``: the accuracy and speed of approximations of t-SNE's repulsive forces
"""
