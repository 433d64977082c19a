// The live page: one server-sent event stream (/events) from the agent's API, drawn
// as SVG. No framework, no build step, nothing loaded from elsewhere.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000;
  const H = 620;
  const PAD = 34;
  const WINDOW_S = 300;
  const KEEP = 500;
  const MAX_ARROWS = 12; // per node: its heaviest destinations
  const CHARTS = [
    { key: "success", title: "success ratio (last interval)", unit: "%", scale: 100,
      top: 1, series: [["success_ratio", "#2b8a3e"]] },
    { key: "load", title: "network load / capacity", unit: "%", scale: 100,
      top: 1, series: [["load", "#1f5fa8"]] },
    { key: "ingress", title: "ingress traffic (data rate)", unit: "", scale: 1,
      series: [["ingress", "#0e7490"]] },
    { key: "decision", title: "decision latency", unit: "ms", scale: 1,
      series: [["decision_ms", "#6d28d9"]] },
    { key: "install", title: "install latency", unit: "ms", scale: 1,
      series: [["install_ms", "#b45309"]] },
    { key: "rules", title: "installed rules: flows, groups, meters", unit: "", scale: 1,
      series: [["flows", "#1d2330"], ["groups", "#e07b00"], ["meters", "#0f766e"]] },
  ];

  const page = {
    frame: null,
    history: [],
    topologyKey: null,
    chainsKey: null,
    nodes: new Map(),
    links: new Map(),
    view: null,
    radius: 12,
  };
  // What tests and operators can read back: one record per drawn update.
  const stats = { renders: [], connected: false };
  window.liveStats = stats;

  const $ = (id) => document.getElementById(id);

  function svg(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  // ------------------------------------------------------------------ the stream
  function connect() {
    const source = new EventSource("events");
    source.addEventListener("open", () => setConnection("live"));
    source.addEventListener("error", () => setConnection("reconnecting"));
    source.addEventListener("hello", (event) => {
      const data = JSON.parse(event.data);
      page.history = data.history || [];
      if (data.frame) update(data.frame);
    });
    source.addEventListener("state", (event) => {
      const data = JSON.parse(event.data);
      if (data.sample) page.history.push(data.sample);
      update(data);
    });
  }

  function setConnection(state) {
    stats.connected = state === "live";
    const pill = $("connection");
    pill.dataset.state = state;
    pill.textContent = state;
  }

  // One update, timed: drawing plus style and layout (script_ms), and until the
  // frame after it (frame_ms).
  function update(frame) {
    const received = Date.now();
    const t0 = performance.now();
    page.frame = frame;
    render(frame);
    void document.body.offsetHeight;
    const record = {
      published_at: frame.published_at,
      received_at: received / 1000,
      rendered_at: Date.now() / 1000,
      script_ms: performance.now() - t0,
      frame_ms: null,
      decision_at: frame.decision ? frame.decision.at : null,
      down: frame.topology.nodes.filter((n) => n.down).map((n) => n.id),
    };
    stats.renders.push(record);
    if (stats.renders.length > KEEP) stats.renders.shift();
    requestAnimationFrame(() => setTimeout(() => {
      record.frame_ms = performance.now() - t0;
    }, 0));
  }

  function render(frame) {
    renderHeader(frame);
    renderSelectors(frame.topology.chains || {});
    renderTopology(frame);
    renderArrows(frame);
    renderAgent(frame.status || {});
    renderCharts();
    renderRecovery(frame.recovery || {});
    renderOverrides(frame.overrides || []);
    renderAges(frame.status.monitoring_age_s || {});
  }

  function renderHeader(frame) {
    $("network").textContent = `${frame.topology.name || "network"}: ` +
      `${frame.topology.nodes.length} nodes, ${frame.topology.links.length} links`;
    const at = frame.decision ? frame.decision.at : null;
    $("updated").textContent = at ? `last decision ${new Date(at * 1000).toLocaleTimeString()}` : "";
  }

  // ------------------------------------------------------------------ selectors
  function renderSelectors(chains) {
    const key = JSON.stringify(chains);
    if (key === page.chainsKey) return;
    page.chainsKey = key;
    const chain = $("chain");
    const previous = chain.value;
    chain.replaceChildren(...Object.keys(chains).map((name) => option(name)));
    if (previous in chains) chain.value = previous;
    fillSfs();
  }

  function fillSfs() {
    const chains = page.frame ? page.frame.topology.chains || {} : {};
    const sf = $("sf");
    const previous = sf.value;
    const names = chains[$("chain").value] || [];
    sf.replaceChildren(...names.map((name) => option(name)));
    if (names.includes(previous)) sf.value = previous;
  }

  function option(name) {
    const item = html("option", name);
    item.value = name;
    return item;
  }

  // ------------------------------------------------------------------ topology
  function renderTopology(frame) {
    const topology = frame.topology;
    const key = JSON.stringify([topology.nodes.map((n) => [n.id, n.x, n.y]),
      topology.links.map((l) => [l.a, l.b])]);
    if (key !== page.topologyKey) {
      page.topologyKey = key;
      buildTopology(topology);
    }
    const hosted = sfsByNode(frame);
    for (const node of topology.nodes) updateNode(node, hosted[node.id] || []);
    for (const link of topology.links) {
      const line = page.links.get(linkKey(link.a, link.b));
      if (line) line.classList.toggle("down", Boolean(link.down));
    }
  }

  function buildTopology(topology) {
    const nodes = topology.nodes;
    page.view = fit(nodes);
    page.radius = Math.max(7, Math.min(16, 120 / Math.sqrt(Math.max(nodes.length, 1))));
    const linkLayer = $("links");
    const nodeLayer = $("nodes");
    linkLayer.replaceChildren();
    nodeLayer.replaceChildren();
    page.links.clear();
    page.nodes.clear();
    const where = new Map(nodes.map((n) => [n.id, place(n)]));
    for (const link of topology.links) {
      const [a, b] = [where.get(link.a), where.get(link.b)];
      if (!a || !b) continue;
      const line = svg("line", { class: "link", x1: a[0], y1: a[1], x2: b[0], y2: b[1],
        "data-a": link.a, "data-b": link.b }, linkLayer);
      page.links.set(linkKey(link.a, link.b), line);
    }
    for (const node of nodes) page.nodes.set(node.id, buildNode(node, where.get(node.id)));
  }

  function buildNode(node, at) {
    const group = svg("g", { class: "node", "data-id": node.id,
      transform: `translate(${at[0].toFixed(1)},${at[1].toFixed(1)})` }, $("nodes"));
    const circle = svg("circle", { r: page.radius.toFixed(1) }, group);
    const label = svg("text", { class: "label", y: (page.radius + 11).toFixed(1) }, group);
    label.textContent = node.label || node.id;
    const sfs = svg("text", { class: "sfs", y: (-page.radius - 4).toFixed(1) }, group);
    const title = svg("title", {}, group);
    return { group, circle, sfs, title, at };
  }

  function updateNode(node, sfs) {
    const drawn = page.nodes.get(node.id);
    if (!drawn) return;
    const ratio = node.load !== null && node.load !== undefined && node.cap > 0
      ? node.load / node.cap : null;
    drawn.group.dataset.down = node.down ? "true" : "false";
    drawn.group.classList.toggle("down", Boolean(node.down));
    drawn.group.classList.toggle("unreported", ratio === null);
    drawn.circle.setAttribute("fill", ratio === null ? "#d9d9d9" : loadColour(ratio));
    const text = sfs.join(" ");
    if (drawn.sfs.textContent !== text) drawn.sfs.textContent = text;
    drawn.title.textContent = `${node.id}${node.label ? ` (${node.label})` : ""}` +
      `${node.down ? ": FAILED" : ""}\ncapacity ${node.cap}, load ` +
      `${node.load === null || node.load === undefined ? "not reported" : node.load}` +
      `\nSF instances: ${text || "none"}`;
  }

  // Instances running where the backend reports them, else the decision's placement.
  function sfsByNode(frame) {
    const running = (frame.status || {}).instances || {};
    if (Object.keys(running).length) return running;
    return frame.decision ? frame.decision.placement || {} : {};
  }

  function loadColour(ratio) {
    const r = Math.max(0, Math.min(1, ratio));
    const low = [238, 244, 251];
    const high = [31, 95, 168];
    const mix = low.map((c, i) => Math.round(c + (high[i] - c) * r));
    return `rgb(${mix[0]},${mix[1]},${mix[2]})`;
  }

  function fit(nodes) {
    const xs = nodes.map((n) => n.x);
    const ys = nodes.map((n) => n.y);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const scale = Math.min((W - 2 * PAD) / Math.max(x1 - x0, 1e-9),
      (H - 2 * PAD) / Math.max(y1 - y0, 1e-9));
    const dx = (W - (x1 - x0) * scale) / 2;
    const dy = (H - (y1 - y0) * scale) / 2;
    return { x0, y0, scale, dx, dy };
  }

  function place(node) {
    const v = page.view;
    return [v.dx + (node.x - v.x0) * v.scale, v.dy + (node.y - v.y0) * v.scale];
  }

  function linkKey(a, b) {
    return a < b ? `${a}|${b}` : `${b}|${a}`;
  }

  // ------------------------------------------------------------------ schedule arrows
  function renderArrows(frame) {
    const layer = $("arrows");
    const decision = frame.decision;
    layer.dataset.decisionAt = decision ? String(decision.at) : "";
    layer.replaceChildren();
    if (!decision) return;
    const chain = $("chain").value;
    const sf = $("sf").value;
    const sources = carrying(frame.topology.nodes, chain, sf);
    for (const [src, chains] of Object.entries(decision.schedule || {})) {
      if (sources && !sources.has(src)) continue;
      const weights = Object.entries(((chains || {})[chain] || {})[sf] || {})
        .filter(([, w]) => w > 0.001).sort((a, b) => b[1] - a[1]).slice(0, MAX_ARROWS);
      for (const [dst, weight] of weights) drawArrow(layer, src, dst, weight);
    }
    $("map-note").textContent = sources
      ? `schedule of ${chain}/${sf} at the ${sources.size} node(s) where its traffic arrives`
      : `schedule of ${chain}/${sf} at every node`;
  }

  // The nodes that report traffic for (chain, sf), or null to draw every node's entry
  // (nothing reported, or the operator asked for all).
  function carrying(nodes, chain, sf) {
    if ($("all-entries").checked) return null;
    const found = nodes.filter((n) => ((n.traffic || {})[chain] || {})[sf] > 0).map((n) => n.id);
    return found.length ? new Set(found) : null;
  }

  function drawArrow(layer, src, dst, weight) {
    const a = page.nodes.get(src);
    const b = page.nodes.get(dst);
    if (!a || !b) return;
    const attrs = { "data-src": src, "data-dst": dst, "data-weight": weight.toFixed(3),
      "stroke-width": (1 + 5 * weight).toFixed(2) };
    let shape;
    if (src === dst) {
      shape = svg("circle", { ...attrs, class: "arrow self", cx: a.at[0], cy: a.at[1],
        r: (page.radius + 4).toFixed(1) }, layer);
    } else {
      shape = svg("path", { ...attrs, class: "arrow", d: curve(a.at, b.at) }, layer);
    }
    svg("title", {}, shape).textContent = `${src} → ${dst}: ${(weight * 100).toFixed(0)} %`;
  }

  // A gentle curve from a's rim to b's rim, bent to one side so that a->b and b->a
  // do not overlap.
  function curve(a, b) {
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const length = Math.hypot(dx, dy) || 1;
    const [ux, uy] = [dx / length, dy / length];
    const r = page.radius + 3;
    const start = [a[0] + ux * r, a[1] + uy * r];
    const end = [b[0] - ux * (r + 2), b[1] - uy * (r + 2)];
    const bend = Math.min(40, length * 0.18);
    const mid = [(start[0] + end[0]) / 2 - uy * bend, (start[1] + end[1]) / 2 + ux * bend];
    const f = (p) => `${p[0].toFixed(1)},${p[1].toFixed(1)}`;
    return `M${f(start)} Q${f(mid)} ${f(end)}`;
  }

  // ------------------------------------------------------------------ agent state
  function renderAgent(status) {
    const list = $("agent-state");
    const rows = [];
    const fallback = status.fallback || {};
    const cycle = status.last_cycle || {};
    const rules = status.installed_rules || {};
    const counters = status.counters || {};
    rows.push(["backend", status.backend]);
    rows.push(["policy", status.policy]);
    rows.push(["decided by", status.last_decision_by || "—"]);
    rows.push(["fallback", fallback.active ? `active: ${fallback.reason}` : "no",
      fallback.active ? "warn" : ""]);
    rows.push(["ready", status.ready ? "yes" : "no", status.ready ? "" : "warn"]);
    rows.push(["cycles", `${counters.cycles ?? 0} (fallbacks ${counters.fallbacks ?? 0}, ` +
      `failures ${counters.cycle_failures ?? 0})`]);
    rows.push(["last cycle", cycle.latency_ms ? `${cycle.changes} changes, ` +
      `${cycle.latency_ms.total} ms${cycle.install_ok ? "" : ", install failed"}` : "—"]);
    rows.push(["rules", `${rules.flows ?? 0} flows, ${rules.groups ?? 0} groups, ` +
      `${rules.meters ?? 0} meters`]);
    if (status.last_install_error) rows.push(["install error", status.last_install_error, "bad"]);
    for (const [name, value] of Object.entries(status.backend_stats || {})) {
      rows.push([name.replace(/_/g, " "), formatNumber(value)]);
    }
    for (const family of ["slices", "deployments"]) {
      if (status[family] !== undefined) rows.push([family, summary(status[family])]);
    }
    list.replaceChildren(...rows.flatMap(([name, value, cls]) =>
      [html("dt", name), html("dd", value ?? "—", cls)]));
  }

  function summary(value) {
    if (Array.isArray(value)) return `${value.length}: ${value.map(summaryItem).join(", ")}`;
    if (value && typeof value === "object") return Object.keys(value).join(", ") || "none";
    return String(value);
  }

  function summaryItem(item) {
    return item && typeof item === "object" ? item.name || item.id || JSON.stringify(item) : item;
  }

  function formatNumber(value) {
    if (typeof value !== "number") return String(value);
    return Number.isInteger(value) ? String(value) : value.toFixed(3);
  }

  // ------------------------------------------------------------------ time series
  function renderCharts() {
    const box = $("charts");
    const newest = page.history.length ? page.history[page.history.length - 1].t : 0;
    page.history = page.history.filter((s) => s.t >= newest - WINDOW_S);
    const wanted = CHARTS.filter((c) => page.history.some((s) => s[c.series[0][0]] != null));
    if (box.dataset.keys !== wanted.map((c) => c.key).join()) {
      box.dataset.keys = wanted.map((c) => c.key).join();
      box.replaceChildren(...wanted.map(buildChart));
      if (!wanted.length) box.replaceChildren(html("p", "no decisions yet", "empty"));
    }
    // the last minutes, or less while the page is young: the series fills the width
    const span = Math.max(10, newest - (page.history.length ? page.history[0].t : newest));
    for (const chart of wanted) drawChart(chart, newest, span);
  }

  function buildChart(chart) {
    const holder = html("div", null, "chart");
    holder.dataset.chart = chart.key;
    const head = html("div", null, "head");
    head.append(html("span", chart.title), html("span", "", "value"));
    const plot = svg("svg", { viewBox: "0 0 300 60", preserveAspectRatio: "none" });
    for (const [, colour] of chart.series) svg("polyline", { stroke: colour }, plot);
    holder.append(head, plot);
    return holder;
  }

  function drawChart(chart, newest, span) {
    const holder = document.querySelector(`[data-chart="${chart.key}"]`);
    const values = page.history.flatMap((s) => chart.series.map(([k]) => s[k]))
      .filter((v) => v != null);
    const top = Math.max(chart.top || 0, ...values) || 1;
    const lines = holder.querySelectorAll("polyline");
    chart.series.forEach(([key], i) => {
      const points = page.history.filter((s) => s[key] != null).map((s) => {
        const x = 300 - ((newest - s.t) / span) * 300;
        const y = 58 - (s[key] / top) * 54;
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
      lines[i].setAttribute("points", points.join(" "));
    });
    const last = page.history[page.history.length - 1] || {};
    const shown = chart.series.map(([k]) => last[k]).filter((v) => v != null)
      .map((v) => `${formatNumber(v * chart.scale)}${chart.unit ? ` ${chart.unit}` : ""}`);
    holder.querySelector(".value").textContent = shown.join(" / ");
  }

  // ------------------------------------------------------------------ recovery, overrides, ages
  function renderRecovery(recovery) {
    const box = $("recovery");
    if (!recovery.failed) {
      box.replaceChildren(html("p", "nothing failed", "muted"));
      return;
    }
    const parts = [];
    const links = (recovery.down_links || []).map((l) => l.join("–"));
    parts.push(html("p", `down: ${[...(recovery.down_nodes || []), ...links].join(", ")}`, "bad"));
    const plan = recovery.plan;
    if (plan) {
      parts.push(html("p", `repair order (${plan.policy}), next: ${recovery.next_repair || "—"}`));
      const order = html("ol");
      for (const step of plan.steps || []) {
        order.append(html("li", `${step.label} (${step.kind}), done at step ${step.completes_at}` +
          `, utility then ${formatNumber(step.utility_after)}`));
      }
      parts.push(order);
    }
    box.replaceChildren(...parts);
  }

  function renderOverrides(overrides) {
    const list = $("overrides");
    if (!overrides.length) {
      list.replaceChildren(html("li", "none", "muted"));
      return;
    }
    list.replaceChildren(...overrides.map((o) => html("li", describeOverride(o))));
  }

  function describeOverride(o) {
    if (o.kind === "pin") {
      const weights = Object.entries(o.weights).map(([n, w]) => `${n} ${formatNumber(w)}`);
      return `#${o.id} pin ${o.node}/${o.chain}/${o.sf} → ${weights.join(", ")}`;
    }
    if (o.kind === "policy") return `#${o.id} policy ${o.name}`;
    return `#${o.id} ${o.kind}`;
  }

  function renderAges(ages) {
    const rows = Object.entries(ages).sort((a, b) => (b[1] ?? Infinity) - (a[1] ?? Infinity));
    $("ages").replaceChildren(...rows.map(([node, age]) => {
      const row = html("tr");
      row.className = age === null ? "silent" : age > 5 ? "stale" : "";
      row.append(html("td", node), html("td", age === null ? "no report" : `${age.toFixed(2)} s`,
        "num"));
      return row;
    }));
  }

  $("chain").addEventListener("change", () => {
    fillSfs();
    if (page.frame) renderArrows(page.frame);
  });
  for (const id of ["sf", "all-entries"]) {
    $(id).addEventListener("change", () => {
      if (page.frame) renderArrows(page.frame);
    });
  }
  connect();
})();
