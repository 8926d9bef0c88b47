"""Interactive, self-contained pages of Mapper graphs of the test activations.

``write_mapper_page`` draws one model's Mapper graph; ``write_layers_page`` the graphs of several
layers, one at a time behind a layer picker. Both are the same D3 page: graphs in CSR form
(``node_ptr``, ``node_points``, ``edges``, as in ``nntopo.clustering.graph.MapperGraph``) drawn at
the fixed positions of ``graph.graph_layout`` (the static figures use the same), fitted to the
window when shown, with zoom and pan. A menu colours the nodes (majority true label, accuracy,
cluster, the output layer's clusters; a regressor's by mean target and error, on continuous keys, and
by the level set of the target in place of the label); a legend beside the graph keys the colours. Hovering a node
lists its size, label composition, accuracy, its cluster's top neurons and its points (test
index:true label, wrong ones in red as index:true->predicted). Clicking a node selects its points
(shift-click adds or removes a node); every node of every layer is then shaded by the share of its
points that are selected, so switching layers shows where those images went.

The URL fragment can open a state: ``#layer=1&colour=accuracy&select=0:3,5&tip=7`` (layer index;
colouring key; layer index:nodes to select; node of the shown layer whose details to show).
Each drawn node is ``<circle class="node" data-layer=NAME data-node=I>`` with ``data-sx``,
``data-sy``, ``data-sr``: its centre and radius on screen (CSS pixels) in the shown layer, and
``data-share`` once points are selected; ``<svg id="svg" data-box="left top width height">``.

The page is three files shipped beside this package's code, as KeplerMapper keeps its templates:
``page.html`` (the template; ``__NAME__`` placeholders filled in one pass), ``page.css`` and
``page.js`` (the drawing, reading the data embedded as JSON). ``data.py`` computes that data from
arrays, ``embed.py`` inlines D3 so the page draws offline, ``build.py`` writes the page.
"""

from nntopo.figures.page.build import page_const, write_layers_page, write_mapper_page
from nntopo.figures.page.data import page_data
from nntopo.figures.page.embed import FETCH_COMMAND, JS_DIR_ENV, WARNING_ID, embed_js, js_dirs, required_js

__all__ = ["FETCH_COMMAND", "JS_DIR_ENV", "WARNING_ID", "embed_js", "js_dirs", "page_const", "page_data",
           "required_js", "write_layers_page", "write_mapper_page"]
