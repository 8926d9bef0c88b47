(function () {
  "use strict";
  if (typeof d3 === "undefined") return;  // the red banner at the top says why
  var D = JSON.parse(document.getElementById("nntopo-data").textContent);
  var L = D.layers, N = D.labels.length, names = D.classes, TIP_POINTS = 150;
  var byKey = {};
  D.colourings.forEach(function (c) { byKey[c.key] = c; });
  var svg = d3.select("#svg"), view = svg.select("#viewport"), tip = d3.select("#tip");
  var cur = 0, colour = D.colourings[0].key, before = colour;
  var picked = [], selected = new Uint8Array(N), nSelected = 0;
  var share = L.map(function (l) { return new Float64Array(l.x.length); });

  function size(l, i) { return l.ptr[i + 1] - l.ptr[i]; }
  function members(l, i) { return Array.prototype.slice.call(l.points, l.ptr[i], l.ptr[i + 1]); }
  function pct(x, digits) { return (100 * x).toFixed(digits) + "%"; }
  function item(c, v) { return v < 0 ? c.none : c.items[v]; }
  function ramp(c) { return c.interp || (c.interp = d3.interpolateRgbBasis(c.stops)); }
  // A value of its own units (a regressor's target, error) runs over the colouring's domain.
  function along(c, v) {
    if (!c.domain) return v;
    var span = c.domain[1] - c.domain[0];
    return Math.min(1, Math.max(0, span > 0 ? (v - c.domain[0]) / span : 0.5));
  }
  function fill(d) {
    var c = byKey[colour];
    if (c.kind === "selection") return share[d.l][d.i] > 0 ? ramp(c)(share[d.l][d.i]) : c.zero;
    var v = L[d.l].values[c.key][d.i];
    if (c.kind === "ramp" && (v === null || !isFinite(v))) return "#b8b8b8";
    return c.kind === "ramp" ? ramp(c)(along(c, v)) : item(c, v).colour;
  }
  function num(x) { return Number(x).toPrecision(3); }
  // "a: 3 (75%), b: 1 (25%)": the commonest values first (ties: in value order).
  function tally(values, label, limit, withShare) {
    var counts = new Map();
    values.forEach(function (v) { counts.set(v, (counts.get(v) || 0) + 1); });
    var keys = Array.from(counts.keys()).sort(function (a, b) {
      return counts.get(b) - counts.get(a) || (a < b ? -1 : a > b ? 1 : 0);
    });
    return keys.slice(0, limit || keys.length).map(function (k) {
      var n = counts.get(k);
      return label(k) + (withShare ? ": " + n + " (" + pct(n / values.length, 0) + ")" : " \u00d7" + n);
    }).join(", ");
  }

  // --- drawing: every layer's graph, all but the shown one hidden --------------------------------
  var groups = view.selectAll("g.layer").data(L).join("g").attr("class", "layer")
    .attr("data-layer", function (l) { return l.name; });
  groups.each(function (l, li) {
    var g = d3.select(this);
    g.append("g").selectAll("line").data(l.edges).join("line").attr("class", "link")
      .attr("data-layer", l.name)
      .attr("x1", function (e) { return l.x[e[0]]; }).attr("y1", function (e) { return l.y[e[0]]; })
      .attr("x2", function (e) { return l.x[e[1]]; }).attr("y2", function (e) { return l.y[e[1]]; });
    var order = d3.range(l.x.length).sort(function (a, b) { return l.r[b] - l.r[a] || a - b; });  // big below small
    g.append("g").selectAll("circle").data(order.map(function (i) { return {l: li, i: i}; })).join("circle")
      .attr("class", "node").attr("data-layer", l.name).attr("data-node", function (d) { return d.i; })
      .attr("cx", function (d) { return l.x[d.i]; }).attr("cy", function (d) { return l.y[d.i]; })
      .attr("r", function (d) { return l.r[d.i]; })
      .on("mouseenter", function (ev, d) { showTip(d, ev.clientX, ev.clientY); })
      .on("mousemove", function (ev) { place(ev.clientX, ev.clientY); })
      .on("mouseleave", hideTip)
      .on("click", function (ev, d) { ev.stopPropagation(); pick(d, ev.shiftKey); });
  });
  var nodes = view.selectAll("circle.node");

  // --- zoom and pan; fitting the shown layer to the window --------------------------------------
  var zoom = d3.zoom()
    .on("zoom", function (ev) { view.attr("transform", ev.transform); if (ev.sourceEvent) hideTip(); })
    .on("end", markScreen);
  svg.call(zoom).on("dblclick.zoom", null);

  function fit() {
    var l = L[cur], box = svg.node().getBoundingClientRect(), pad = 14, k = 1, t = d3.zoomIdentity;
    if (l.x.length) {
      var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
      for (var i = 0; i < l.x.length; i++) {
        x0 = Math.min(x0, l.x[i] - l.r[i]); x1 = Math.max(x1, l.x[i] + l.r[i]);
        y0 = Math.min(y0, l.y[i] - l.r[i]); y1 = Math.max(y1, l.y[i] + l.r[i]);
      }
      // At most 120 px between neighbours: a small graph is not blown up to fill the window.
      k = Math.max(1e-3, Math.min((box.width - 2 * pad) / (x1 - x0), (box.height - 2 * pad) / (y1 - y0), 120));
      t = d3.zoomIdentity.translate(box.width / 2 - k * (x0 + x1) / 2, box.height / 2 - k * (y0 + y1) / 2).scale(k);
    }
    zoom.scaleExtent([k / 4, k * 40]);
    svg.call(zoom.transform, t);
  }

  // Where each node of the shown layer is on screen, for tests and the tip= fragment.
  function markScreen() {
    var t = d3.zoomTransform(svg.node()), box = svg.node().getBoundingClientRect();
    svg.attr("data-box", [box.left, box.top, box.width, box.height].map(function (v) { return v.toFixed(1); }).join(" "));
    groups.filter(function (l, li) { return li === cur; }).selectAll("circle.node")
      .attr("data-sx", function (d) { return (box.left + t.applyX(L[cur].x[d.i])).toFixed(1); })
      .attr("data-sy", function (d) { return (box.top + t.applyY(L[cur].y[d.i])).toFixed(1); })
      .attr("data-sr", function (d) { return (t.k * L[cur].r[d.i]).toFixed(1); });
  }

  // --- layers, colours, legend ---------------------------------------------------------------------
  var buttons = d3.select("#layers").selectAll("button").data(L).join("button").attr("type", "button")
    .on("click", function (ev, l) { show(L.indexOf(l)); });
  if (L.length < 2) d3.select("#layers").style("display", "none");

  var menu = d3.select("#colour").on("change", function () { colour = this.value; paint(); });
  menu.selectAll("option").data(D.colourings).join("option")
    .attr("value", function (c) { return c.key; }).text(function (c) { return c.name; });

  function show(li) {
    cur = li;
    groups.attr("display", function (l, j) { return j === li ? null : "none"; });
    buttons.classed("active", function (l, j) { return j === li; })
      .attr("aria-pressed", function (l, j) { return j === li; });
    var l = L[li];
    d3.select("#empty").style("display", l.x.length ? "none" : null);
    d3.select("#shown").text((L.length > 1 ? l.name + ": " : "") + l.x.length + " nodes, " + l.edges.length + " edges");
    hideTip();
    fit();
    paint();
  }

  function legend() {
    var c = byKey[colour], l = L[cur], box = d3.select("#legend");
    box.selectAll("*").remove();
    box.append("h2").text("Colour: " + c.name);
    if (c.kind === "category") {
      var counts = new Map();
      l.values[c.key].forEach(function (v) { counts.set(v, (counts.get(v) || 0) + 1); });
      var shown = Array.from(counts.keys()).sort(function (a, b) { return (a < 0) - (b < 0) || a - b; });
      var rows = box.append("ul").attr("class", "swatches").selectAll("li").data(shown.slice(0, 40)).join("li");
      rows.append("span").attr("class", "swatch").style("background", function (v) { return item(c, v).colour; });
      rows.append("span").text(function (v) {
        var n = counts.get(v);
        return item(c, v).label + "  (" + n + " node" + (n === 1 ? "" : "s") + ")";
      });
      if (shown.length > 40) box.append("p").attr("class", "note").text("+ " + (shown.length - 40) + " more");
      if (!shown.length) box.append("p").attr("class", "note").text("no nodes in this layer");
    } else {
      box.append("div").attr("class", "ramp").style("background", "linear-gradient(to right," + c.stops.join(",") + ")");
      var ends = box.append("div").attr("class", "ramp-ends");
      ends.append("span").text(c.min);
      ends.append("span").text(c.max);
      if (c.kind === "selection") {
        var zero = box.append("p");
        zero.append("span").attr("class", "swatch").style("background", c.zero);
        zero.append("span").text("no selected point");
      }
    }
  }

  function paint() {
    menu.property("value", colour);
    menu.selectAll("option").property("disabled", function (c) { return c.kind === "selection" && !nSelected; });
    nodes.attr("fill", fill)
      .attr("data-share", function (d) { return nSelected ? share[d.l][d.i].toFixed(4) : null; })
      .classed("picked", function (d) { return picked.some(function (p) { return p.l === d.l && p.i === d.i; }); });
    buttons.each(function (l, li) {  // short labels: many layers still fit on one row
      var hit = 0;
      share[li].forEach(function (s) { hit += s > 0; });
      d3.select(this).text(l.name + (nSelected ? " \u00b7 " + hit : ""))
        .attr("title", l.x.length + " nodes" + (nSelected ? ", " + hit + " holding selected points" : ""));
    });
    d3.select("#selected-count").text(nSelected);
    d3.select("#selection").text(nSelected
      ? " of " + N + " points selected, from " + picked.map(function (p) {
          return (L.length > 1 ? L[p.l].name + " " : "") + "node " + p.i; }).join(", ")
        + ". Nodes are shaded by the share of their points that are selected" + (L.length > 1 ? "; pick another layer to see where these points sit there." : ".")
      : " points selected. Click a node to select its points; shift-click adds or removes a node."
        + (L.length > 1 ? " The layer buttons then count the nodes holding selected points." : ""));
    d3.select("#clear").property("disabled", !nSelected);
    legend();
  }

  // --- selection -----------------------------------------------------------------------------------
  function setPicked(list) {
    picked = list;
    selected.fill(0);
    picked.forEach(function (p) { members(L[p.l], p.i).forEach(function (q) { selected[q] = 1; }); });
    nSelected = 0;
    selected.forEach(function (s) { nSelected += s; });
    L.forEach(function (l, li) {
      for (var i = 0; i < l.x.length; i++) {
        var s = 0;
        for (var k = l.ptr[i]; k < l.ptr[i + 1]; k++) s += selected[l.points[k]];
        share[li][i] = s / size(l, i);
      }
    });
    if (nSelected && colour !== "selection") { before = colour; colour = "selection"; }
    if (!nSelected && colour === "selection") colour = before;
    paint();
  }
  function pick(d, add) {
    var at = picked.findIndex(function (p) { return p.l === d.l && p.i === d.i; });
    if (!add) setPicked(at >= 0 && picked.length === 1 ? [] : [{l: d.l, i: d.i}]);
    else if (at >= 0) setPicked(picked.slice(0, at).concat(picked.slice(at + 1)));
    else setPicked(picked.concat([{l: d.l, i: d.i}]));
  }
  d3.select("#clear").on("click", function () { setPicked([]); });
  d3.select("#fit").on("click", fit);
  d3.select(window).on("keydown", function (ev) { if (ev.key === "Escape") setPicked([]); });
  new ResizeObserver(fit).observe(svg.node());  // window resized, header wrapped: show every node again

  // --- node details --------------------------------------------------------------------------------
  function showTip(d, x, y) {
    if (D.task === "regression") return showRegressionTip(d, x, y);
    var l = L[d.l], i = d.i, pts = members(l, i), n = pts.length;
    var right = function (p) { return D.labels[p] === D.preds[p]; };
    var wrong = pts.filter(function (p) { return !right(p); });
    tip.selectAll("*").remove();
    tip.append("b").text("node " + i + (L.length > 1 ? " of " + l.name : ""));
    tip.append("div").text(n + " points, majority label " + names[l.values.label[i]] + ", accuracy "
      + pct(l.values.accuracy[i], 1) + " (" + wrong.length + " wrong)");
    tip.append("div").text("true labels: " + tally(pts.map(function (p) { return D.labels[p]; }),
      function (v) { return names[v]; }, 0, true));
    if (wrong.length) {
      tip.append("div").text("most common mistakes: " + tally(wrong.map(function (p) {
        return names[D.labels[p]] + "\u2192" + names[D.preds[p]]; }), String, 3, false));
    }
    extras(l, i, pts, d, n);
    var list = tip.append("div").attr("class", "points");
    list.append("small").text("points, test index:true label (wrong ones first, in red, as index:true\u2192predicted): ");
    list.append("br");
    list.selectAll("span.p").data(wrong.concat(pts.filter(right)).slice(0, TIP_POINTS)).join("span")
      .attr("class", function (p) { return right(p) ? "p" : "p wrong"; })
      .text(function (p) { return p + ":" + names[D.labels[p]] + (right(p) ? "" : "\u2192" + names[D.preds[p]]); });
    if (n > TIP_POINTS) list.append("span").text("\u2026 and " + (n - TIP_POINTS) + " more");
    tip.style("display", "block");
    place(x, y);
  }
  // A regressor's node: its mean target and error, its level sets, its points with the largest errors first.
  function showRegressionTip(d, x, y) {
    var l = L[d.l], i = d.i, pts = members(l, i), n = pts.length;
    var off = function (p) { return D.labels[p] !== D.preds[p]; };
    tip.selectAll("*").remove();
    tip.append("b").text("node " + i + (L.length > 1 ? " of " + l.name : ""));
    tip.append("div").text(n + " points, mean " + D.target + " " + num(l.values.target[i])
      + ", mean squared error " + num(l.values.error[i]));
    tip.append("div").text("level sets of the " + D.target + ": " + tally(pts.map(function (p) { return D.labels[p]; }),
      function (v) { return names[v]; }, 0, true));
    extras(l, i, pts, d, n);
    var list = tip.append("div").attr("class", "points");
    list.append("small").text("points, index: " + D.target + "\u2192output, largest errors first (red: the output "
      + "in another level set): ");
    list.append("br");
    var order = pts.slice().sort(function (a, b) { return D.errors[b] - D.errors[a] || a - b; });
    list.selectAll("span.p").data(order.slice(0, TIP_POINTS)).join("span")
      .attr("class", function (p) { return off(p) ? "p wrong" : "p"; })
      .text(function (p) { return p + ": " + num(D.targets[p]) + "\u2192" + num(D.outputs[p]); });
    if (n > TIP_POINTS) list.append("span").text("\u2026 and " + (n - TIP_POINTS) + " more");
    tip.style("display", "block");
    place(x, y);
  }
  // The lines every node's details share: its cluster and top neurons, output clusters, selection.
  function extras(l, i, pts, d, n) {
    if (l.cluster) {
      var c = l.cluster[i], top = l.neurons[c], ranked = Object.keys(l.neurons).length > 0;
      tip.append("div").text(c < 0 ? "cluster: none" : "cluster " + c + (!ranked ? ""
        : " top neurons: " + (top && top.length ? top.join(", ") : "(none ranked)")));
    }
    if (D.output) {
      tip.append("div").text("output-layer clusters: " + tally(pts.map(function (p) { return D.output[p]; }),
        function (v) { return v < 0 ? "none" : String(v); }, 3, true));
    }
    if (nSelected) tip.append("div").text("selected: " + Math.round(share[d.l][i] * n) + " of " + n + " points ("
      + pct(share[d.l][i], 0) + ")");
  }
  function place(x, y) {
    var box = tip.node().getBoundingClientRect(), gap = 14;
    var left = x + gap + box.width > window.innerWidth ? Math.max(0, x - gap - box.width) : x + gap;
    var top = y + gap + box.height > window.innerHeight ? Math.max(0, window.innerHeight - box.height) : y + gap;
    tip.style("left", left + "px").style("top", top + "px");
  }
  function hideTip() { tip.style("display", "none"); }

  // --- the state the URL fragment asks for: #layer=1&colour=accuracy&select=0:3,5&tip=7 -----------
  var ask = new URLSearchParams(location.hash.slice(1));
  var layer = parseInt(ask.get("layer"), 10);
  if (layer >= 0 && layer < L.length) cur = layer;
  if (byKey[ask.get("colour")] && byKey[ask.get("colour")].kind !== "selection") colour = before = ask.get("colour");
  show(cur);
  if (ask.get("select")) {
    var list = [];
    ask.get("select").split(";").forEach(function (part) {
      var bits = part.split(":"), li = parseInt(bits[0], 10);
      if (!(li >= 0 && li < L.length) || bits.length < 2) return;
      bits[1].split(",").forEach(function (s) {
        var i = parseInt(s, 10);
        if (i >= 0 && i < L[li].x.length) list.push({l: li, i: i});
      });
    });
    setPicked(list);
  }
  var asked = parseInt(ask.get("tip"), 10);
  if (asked >= 0 && asked < L[cur].x.length) {
    var at = groups.filter(function (l, li) { return li === cur; }).select('circle.node[data-node="' + asked + '"]');
    showTip({l: cur, i: asked}, +at.attr("data-sx"), +at.attr("data-sy"));
  }
})();
