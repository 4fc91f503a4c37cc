// Segment builder: edits the rule tree (every node kind, nested groups) as a form, keeps a
// JSON view in step, and asks the server to validate and count as you type.
// The server is the only judge: /ui/segments/check runs cvm.segments' validation and size.
(function () {
  "use strict";
  const root = document.getElementById("builder");
  if (!root) return;
  const cfg = JSON.parse(document.getElementById("builder-config").textContent);
  const csrf = cfg.csrf;
  let doc = cfg.definition;
  const COMPARE = cfg.compare_ops, COUNT = ["at_least", "at_most", "exactly"];
  const NUMERIC = ["gte", "gt", "lte", "lt", "eq", "ne", "between"];
  // kind → fields: [key, label, type, options]; "list" = comma-separated, "days" = window.days
  const KINDS = {
    profile: [["field", "Field", "field"], ["op", "Operator", "select", COMPARE], ["value", "Value", "value"]],
    top: [["field", "Field", "field"], ["share", "Top share (0-1)", "number"]],
    event: [["name", "Event name", "text"], ["op", "How often", "select", COUNT], ["times", "Times", "number"], ["days", "In the last N days", "days"], ["channel", "Channel", "text"]],
    not_performed: [["name", "Event name", "text"], ["days", "In the last N days", "days"], ["channel", "Channel", "text"]],
    event_time: [["name", "Event name", "text"], ["which", "Which time", "select", ["last", "first"]], ["op", "Is", "select", ["before", "after"]], ["days_ago", "N days ago", "number"], ["date", "or date", "date"]],
    purchase: [["measure", "Measure", "select", ["count", "spend", "quantity"]], ["op", "Operator", "select", NUMERIC], ["value", "Value", "value"], ["category", "Categories", "list"], ["product", "Products", "list"], ["days", "In the last N days", "days"]],
    purchase_time: [["which", "Which purchase", "select", ["last", "first"]], ["op", "Is", "select", ["before", "after"]], ["days_ago", "N days ago", "number"], ["date", "or date", "date"], ["category", "Categories", "list"]],
    message: [["action", "Action", "select", ["received", "opened", "clicked"]], ["channel", "Channel", "text"], ["op", "How often", "select", COUNT], ["times", "Times", "number"], ["days", "In the last N days", "days"]],
    location: [["country", "Countries", "list"], ["region", "Regions", "list"], ["city", "Cities", "list"]],
    near: [["latitude", "Latitude", "number"], ["longitude", "Longitude", "number"], ["radius_km", "Radius (km)", "number"]],
    consent: [["channel", "Channel", "select", ["email", "sms", "push", "telegram", "whatsapp", "webhook"]], ["purpose", "Purpose", "select", ["marketing", "service"]]],
    segment: [["name", "Segment", "segment"]],
    random: [["salt", "Salt", "text"], ["share", "Share (0-1)", "number"], ["offset", "Offset (0-1)", "number"]],
  };
  const DEFAULTS = {
    profile: { field: "clv", op: "gte", value: 100 }, top: { field: "clv", share: 0.1 },
    event: { name: "page_view", op: "at_least", times: 1, window: { days: 30 } },
    not_performed: { name: "page_view", window: { days: 30 } },
    event_time: { name: "page_view", which: "last", op: "after", days_ago: 30 },
    purchase: { measure: "count", op: "gte", value: 1, window: { days: 90 } },
    purchase_time: { which: "last", op: "before", days_ago: 180 },
    message: { action: "opened", op: "at_least", times: 1, window: { days: 30 } },
    location: { country: ["US"] }, near: { latitude: 40.71, longitude: -74.0, radius_km: 25 },
    consent: { channel: "email", purpose: "marketing" }, segment: { name: cfg.segments[0] || "" },
    random: { salt: "split", share: 0.5, offset: 0 },
    all: { conditions: [] }, any: { conditions: [] }, not: { condition: { kind: "profile", field: "clv", op: "gte", value: 100 } },
  };
  let uid = 0;
  const el = (tag, attrs, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") e.textContent = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
    }
    kids.forEach((k) => k && e.appendChild(k));
    return e;
  };
  const parseValue = (text) => {
    const t = text.trim();
    if (t === "") return null;
    if (t.includes(",")) return t.split(",").map((s) => parseValue(s)).filter((v) => v !== null);
    const n = Number(t);
    if (!Number.isNaN(n) && /^-?[0-9.]+$/.test(t)) return n;
    if (t === "true" || t === "false") return t === "true";
    return t;
  };
  const showValue = (v) => (v === null || v === undefined ? "" : Array.isArray(v) ? v.join(", ") : String(v));

  function field(node, spec, path) {
    const [key, label, type, options] = spec;
    const id = "f" + ++uid;
    let input;
    const current = type === "days" ? (node.window || {}).days : node[key];
    if (type === "select") {
      input = el("select", { id });
      options.forEach((o) => { const opt = el("option", { value: o, text: o.replace(/_/g, " ") }); if (o === current) opt.selected = true; input.appendChild(opt); });
    } else if (type === "segment") {
      input = el("select", { id });
      cfg.segments.forEach((o) => { const opt = el("option", { value: o, text: o }); if (o === current) opt.selected = true; input.appendChild(opt); });
    } else {
      input = el("input", { id, value: showValue(current), type: type === "number" || type === "days" ? "number" : type === "date" ? "date" : "text", step: "any" });
      if (type === "field") input.setAttribute("list", "field-names");
    }
    input.dataset.path = path + "." + key;
    input.addEventListener(type === "select" || type === "segment" ? "change" : "input", () => {
      const raw = input.value;
      if (type === "days") { if (raw === "") delete node.window; else node.window = { days: Number(raw) }; }
      else if (type === "number") { if (raw === "") delete node[key]; else node[key] = Number(raw); }
      else if (type === "list") { const items = raw.split(",").map((s) => s.trim()).filter(Boolean); if (items.length) node[key] = items; else delete node[key]; }
      else if (type === "value") node[key] = parseValue(raw);
      else if (raw === "") delete node[key]; else node[key] = raw;
      changed(false);
    });
    return el("div", {}, el("label", { for: id, text: label }), input);
  }

  function nodeView(node, path, onRemove, onReplace) {
    const group = node.kind === "all" || node.kind === "any" || node.kind === "not";
    const box = el("div", { class: "node" + (group ? " group" : ""), "data-path": path });
    const kindId = "k" + ++uid;
    const kindSel = el("select", { id: kindId, "aria-label": "Condition kind" });
    Object.keys(DEFAULTS).forEach((k) => { const o = el("option", { value: k, text: k === "all" ? "ALL of (and)" : k === "any" ? "ANY of (or)" : k === "not" ? "NOT" : k.replace(/_/g, " ") }); if (k === node.kind) o.selected = true; kindSel.appendChild(o); });
    kindSel.addEventListener("change", () => onReplace({ kind: kindSel.value, ...structuredClone(DEFAULTS[kindSel.value]) }));
    const row = el("div", { class: "row" }, el("div", {}, el("label", { for: kindId, text: "Condition" }), kindSel));
    (KINDS[node.kind] || []).forEach((spec) => row.appendChild(field(node, spec, path)));
    if (onRemove) row.appendChild(el("button", { type: "button", class: "danger", text: "Remove", "aria-label": "Remove this condition", onclick: onRemove }));
    box.appendChild(row);
    box.appendChild(el("ul", { class: "issues", "data-issues": path }));
    if (group) {
      const kids = el("div", { class: "children" });
      if (node.kind === "not") {
        kids.appendChild(nodeView(node.condition, path + ".condition", null, (n) => { node.condition = n; changed(true); }));
      } else {
        node.conditions.forEach((child, i) => kids.appendChild(nodeView(child, `${path}.conditions[${i}]`,
          () => { node.conditions.splice(i, 1); changed(true); },
          (n) => { node.conditions[i] = n; changed(true); })));
        kids.appendChild(el("button", { type: "button", text: "+ Add condition", onclick: () => { node.conditions.push({ kind: "profile", ...structuredClone(DEFAULTS.profile) }); changed(true); } }));
        kids.appendChild(el("button", { type: "button", text: "+ Add group", onclick: () => { node.conditions.push({ kind: "any", conditions: [] }); changed(true); } }));
      }
      box.appendChild(kids);
    }
    return box;
  }

  const tree = document.getElementById("tree"), json = document.getElementById("definition-json");
  const nameInput = document.getElementById("seg-name"), descInput = document.getElementById("seg-description");
  function render() {
    tree.replaceChildren(nodeView(doc.rule, "rule", null, (n) => { doc.rule = n; changed(true); }));
  }
  let timer = null, seq = 0;
  function changed(rerender) {
    if (rerender) render();
    json.value = JSON.stringify(doc, null, 2);
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  }
  async function post(url, body) {
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body) });
    return [r.status, await r.json()];
  }
  async function check() {
    const mine = ++seq;
    document.getElementById("live-size").textContent = "counting…";
    const [, res] = await post("/ui/segments/check", { definition: doc });
    if (mine !== seq) return; // a newer edit is on its way
    document.querySelectorAll("[data-issues]").forEach((u) => u.replaceChildren());
    document.querySelectorAll(".node.invalid").forEach((n) => n.classList.remove("invalid"));
    const list = document.getElementById("issues");
    list.replaceChildren();
    (res.errors || []).concat(res.warnings || []).forEach((issue, i) => {
      const isError = i < (res.errors || []).length;
      list.appendChild(el("li", { class: isError ? "error" : "warn", text: `${issue.path}: ${issue.message}` }));
      let target = null;
      document.querySelectorAll(".node[data-path]").forEach((n) => { if (issue.path.startsWith(n.dataset.path) && (!target || n.dataset.path.length > target.dataset.path.length)) target = n; });
      if (target && isError) { target.classList.add("invalid"); target.querySelector("[data-issues]").appendChild(el("li", { text: issue.message })); }
    });
    document.getElementById("live-size").textContent = res.ok ? `${res.size.toLocaleString()} customers` : "fix the problems below";
    document.getElementById("live-ms").textContent = res.ok ? `(counted in ${res.ms} ms)` : "";
    document.getElementById("save").disabled = !res.ok;
  }
  json.addEventListener("input", () => {
    try { doc = JSON.parse(json.value); nameInput.value = doc.name || ""; descInput.value = doc.description || ""; render(); clearTimeout(timer); timer = setTimeout(check, 300); }
    catch (e) { document.getElementById("live-size").textContent = "the JSON is not valid yet"; }
  });
  nameInput.addEventListener("input", () => { doc.name = nameInput.value; changed(false); });
  descInput.addEventListener("input", () => { doc.description = descInput.value; changed(false); });
  document.getElementById("save").addEventListener("click", async () => {
    const [status, res] = await post("/ui/segments/save", { definition: doc, replace: cfg.editing });
    if (status === 200 && res.ok) { window.location = res.url; return; }
    const list = document.getElementById("issues");
    list.replaceChildren(...(res.errors || [{ path: "", message: res.message || "could not save" }]).map((i) => el("li", { class: "error", text: `${i.path}: ${i.message}` })));
  });
  nameInput.value = doc.name || ""; descInput.value = doc.description || "";
  changed(true);
})();
