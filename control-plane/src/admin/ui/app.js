// Switchyard status page: polls the admin API and draws plain SVG charts.
// No framework, no build step, nothing loaded from elsewhere.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2e6be6', '#12b76a', '#f79009', '#7a5af8', '#ee46bc', '#06aed4', '#f04438', '#66c61c', '#875bf7', '#e62e05'];
const POLL_MS = 3000;

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(typeof c === 'string' || typeof c === 'number' ? String(c) : c);
  return e;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

async function get(path) {
  const r = await fetch(path, { cache: 'no-store' });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${path}: ${r.status} ${body.message || ''}`);
  return body;
}

function pct(x) {
  return `${(x * 100).toFixed(1)}%`;
}

function table(headers, rows) {
  return el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c === null || c === undefined ? '-' : String(c)))))));
}

// The ServicePort's Maglev table size and what chose it (as `switchyard services` says it).
function maglevSizingText(m) {
  const annotation = m.annotation === null ? '' : ` switchyard.io/maglev-table-size=${m.annotation}`;
  if (m.tableSize === null) return `Maglev table: none (no endpoints)${annotation ? `;${annotation}${m.annotationRefused ? ' (refused)' : ''}` : ''}`;
  if (m.chosenBy === 'annotation') return `Maglev table ${m.tableSize} slots, by annotation${annotation}`;
  return `Maglev table ${m.tableSize} slots, by ${m.chosenBy}${m.annotationRefused ? ` (annotation${annotation} refused)` : ''}`;
}

// addr:port, an IPv6 address in brackets (RFC 5952 section 6).
function hostPort(addr, port) {
  return String(addr).includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

// Horizontal bars: one per backend, length = its share of the Maglev slots.
function shareChart(title, bars) {
  const rowH = 20, labelW = 170, barW = 260, pad = 4;
  const h = bars.length * rowH + 22;
  const s = svg('svg', { class: 'share-chart', width: labelW + barW + 110, height: h, role: 'img', 'aria-label': title });
  s.append(svg('text', { x: 0, y: 12, 'font-weight': 600 }, title));
  bars.forEach((b, i) => {
    const y = 20 + i * rowH;
    s.append(svg('text', { x: 0, y: y + 13 }, b.label));
    s.append(svg('rect', { x: labelW, y: y + pad / 2, width: barW, height: rowH - pad, fill: '#eef2f6' }));
    const w = Math.max(1, Math.round(barW * b.share));
    s.append(svg('rect', { class: 'bar', x: labelW, y: y + pad / 2, width: w, height: rowH - pad, fill: b.color, 'data-share': b.share.toFixed(4) }));
    s.append(svg('text', { x: labelW + barW + 6, y: y + 13 }, b.text || pct(b.share)));
  });
  return s;
}

function renderServices(data) {
  const box = document.getElementById('services');
  box.replaceChildren();
  if (data.services.length === 0) {
    box.append(el('p', { class: 'note' }, 'no service ports'));
    return;
  }
  for (const s of data.services) {
    const card = el('div', { class: 'service', 'data-service': s.name });
    card.append(el('h3', {}, s.name));
    card.append(el('p', { class: 'meta' },
      `${s.type || '?'} · ${s.protocol} · ${s.algorithm || ''}${s.affinityTimeoutSeconds ? ` · affinity ${s.affinityTimeoutSeconds}s` : ''} · eTP=${s.externalTrafficPolicy} iTP=${s.internalTrafficPolicy}`));
    const colorOf = new Map();
    (s.backends || []).forEach((b, i) => colorOf.set(hostPort(b.address, b.port), COLORS[i % COLORS.length]));
    if (data.mode === 'ebpf') {
      if (s.maglev) card.append(el('p', { class: 'meta', 'data-maglev-sizing': s.maglev.chosenBy || '' }, maglevSizingText(s.maglev)));
      card.append(table(['frontend', 'kind', 'scope', 'id', 'count', 'slots', 'sized by', 'flags'],
        s.frontends.map((f) => [hostPort(f.address, f.port), f.kind, f.scope, f.id, f.count, f.tableSize, f.tableSizing || '-', f.flags.join(' ')])));
      // One chart per distinct table (frontends sharing a group share a table).
      const seen = new Set();
      for (const f of s.frontends) {
        if (seen.has(f.group) || f.backends.length === 0) continue;
        seen.add(f.group);
        const users = s.frontends.filter((x) => x.group === f.group).map((x) => x.kind + (x.scope === 'internal' ? ' (internal)' : ''));
        card.append(shareChart(`Maglev slots, table ${f.group} (${f.tableSize} slots; ${[...new Set(users)].join(', ')})`,
          f.backends.map((b) => ({ label: hostPort(b.address, b.port), share: b.share, color: colorOf.get(hostPort(b.address, b.port)) || '#98a2b3' }))));
      }
      card.append(table(['backend', 'state', 'local', 'node', 'zone'],
        s.backends.map((b) => [hostPort(b.address, b.port), b.state, b.local ? 'yes' : 'no', b.node, b.zone])));
    } else {
      card.append(table(['frontend', 'kind'], s.frontends.map((f) => [hostPort(f.address, f.port), f.kind])));
      const taking = s.backends.filter((b) => b.probability !== null);
      if (taking.length) {
        card.append(shareChart('Share of new connections (random, -m statistic)',
          taking.map((b) => ({ label: hostPort(b.address, b.port), share: b.probability, color: colorOf.get(hostPort(b.address, b.port)) || '#98a2b3' }))));
      }
      card.append(table(['backend', 'state', 'local', 'chain', 'programmed'],
        s.backends.map((b) => [hostPort(b.address, b.port), b.state, b.local ? 'yes' : 'no', b.chain, b.programmed ? 'yes' : 'NO'])));
    }
    const problems = [...(s.problems || []), ...(s.frontends || []).flatMap((f) => f.problems || [])];
    for (const p of problems) card.append(el('div', { class: 'problem' }, `! ${p}`));
    box.append(card);
  }
}

// Vertical bars over time: one per sync, height = duration.
function renderLatency(history) {
  const box = document.getElementById('latency');
  const W = 560, H = 180, L = 44, B = 22;
  const s = svg('svg', { id: 'latency-chart', width: W, height: H, role: 'img', 'aria-label': 'sync latency' });
  const max = Math.max(1, ...history.map((h) => h.durationMs));
  s.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }));
  s.append(svg('line', { class: 'axis', x1: L, y1: 4, x2: L, y2: H - B }));
  s.append(svg('text', { x: 0, y: 12 }, `${max} ms`));
  s.append(svg('text', { x: 0, y: H - B }, '0'));
  if (history.length) {
    const t0 = history[0].at, t1 = history[history.length - 1].at;
    const bw = Math.max(2, Math.min(12, (W - L - 4) / history.length - 1));
    history.forEach((h, i) => {
      const x = L + 2 + i * ((W - L - 4 - bw) / Math.max(1, history.length - 1));
      const bh = Math.max(1, Math.round((H - B - 8) * (h.durationMs / max)));
      s.append(svg('rect', { class: h.ok ? 'sync ok' : 'sync failed', x: x.toFixed(1), y: H - B - bh, width: bw, height: bh, fill: h.ok ? '#2e6be6' : '#f04438' },
      ));
    });
    s.append(svg('text', { x: L, y: H - 6 }, new Date(t0).toLocaleTimeString()));
    s.append(svg('text', { x: W - 70, y: H - 6 }, new Date(t1).toLocaleTimeString()));
  } else {
    s.append(svg('text', { x: L + 10, y: H / 2 }, 'no sync yet'));
  }
  box.replaceChildren(s);
}

// Horizontal bars: entries / max entries of each map (iptables: rules per chain table).
function renderPressure(maps) {
  const box = document.getElementById('pressure');
  if (maps.mode === 'iptables') {
    document.getElementById('pressure-title').textContent = 'Rules per table';
    const rows = maps.tables.map((t) => ({ label: t.table, value: t.chains.reduce((n, c) => n + c.rules, 0), chains: t.chains.length }));
    const max = Math.max(1, ...rows.map((r) => r.value));
    const chart = shareChart(`rules (${maps.rulesSource})`, rows.map((r) => ({ label: `${r.label} (${r.chains} chains)`, share: r.value / max, text: String(r.value), color: '#7a5af8' })));
    chart.setAttribute('id', 'pressure-chart');
    box.replaceChildren(chart);
    return;
  }
  // Arrays (sy_config, sy_counters) have all their entries from the start: no pressure.
  const bars = maps.maps.filter((m) => m.pressure !== null).map((m) => ({
    label: m.name, share: m.pressure, text: `${m.entries} / ${m.maxEntries}`, color: m.pressure > 0.9 ? '#f04438' : m.pressure > 0.7 ? '#f79009' : '#12b76a',
  }));
  const chart = shareChart('entries in use / max entries', bars);
  chart.setAttribute('id', 'pressure-chart');
  box.replaceChildren(chart, table(['map', 'type', 'in use', 'max'], maps.maps.map((m) => [m.name, m.type, m.entries, m.maxEntries])));
}

function renderSummary(st) {
  const box = document.getElementById('summary');
  const badge = el('span', { class: `badge ${st.healthy ? 'ok' : 'bad'}` }, st.healthy ? 'healthy' : 'unhealthy');
  box.replaceChildren(badge, ` node ${st.node} · mode ${st.mode} (${st.modeReason}) · ${st.sync.count} syncs · ${st.servicePorts} service ports · ${st.endpoints} endpoints`,
    st.sync.lastError ? ` · last error: ${st.sync.lastError}` : '',
    st.loader && !st.loader.up ? ' · loader DOWN' : '');
  // Services the datapath refused (a full map, an object the loader rejects), and maps close to full.
  const refused = st.refused || [];
  const warnings = (st.maps || []).filter((m) => m.warning);
  if (refused.length || warnings.length) {
    const list = el('ul', { id: 'refused', class: 'error' });
    for (const r of refused) list.append(el('li', {}, `refused ${r.service}: ${r.reason} (${r.attempts} attempts)`));
    for (const m of warnings) list.append(el('li', {}, `${m.map} ${m.entries} / ${m.capacity} entries (${Math.round(m.ratio * 100)} %)`));
    box.append(list);
  }
}

async function refresh() {
  const errors = [];
  const [st, svcs, maps] = await Promise.all([
    get('/v1/status?history=200').catch((e) => errors.push(e.message)),
    get('/v1/services').catch((e) => errors.push(e.message)),
    get('/v1/maps').catch((e) => errors.push(e.message)),
  ]);
  if (typeof st === 'object') {
    if (st.monitor && !feedStarted) {
      feedStarted = true;
      feed();
    }
    if (!st.monitor) document.getElementById('feed-state').textContent = 'no datapath monitor in this mode';
    renderSummary(st);
    renderLatency(st.sync.history);
  }
  if (typeof svcs === 'object') renderServices(svcs);
  if (typeof maps === 'object') renderPressure(maps);
  const e = document.getElementById('error');
  e.hidden = errors.length === 0;
  e.textContent = errors.join('; ');
  document.body.dataset.loaded = String(Number(document.body.dataset.loaded || 0) + 1);
}

function loop() {
  refresh().catch((err) => {
    const e = document.getElementById('error');
    e.hidden = false;
    e.textContent = String(err && err.message ? err.message : err);
  }).finally(() => setTimeout(loop, POLL_MS));
}

// The live feed: drops and rejects pushed by the agent (server-sent events;
// EventSource reconnects by itself).
const FEED_ROWS = 50;
let feedStarted = false;

function feed() {
  const body = document.querySelector('#feed tbody');
  const state = document.getElementById('feed-state');
  const src = new EventSource('/v1/monitor?type=drop');
  const add = (msg) => {
    const e = JSON.parse(msg.data);
    const packet = `${e.proto} ${hostPort(e.src, e.sport)} → ${hostPort(e.dst, e.dport)}`;
    const row = el('tr', { class: 'feed-' + e.kind }, el('td', {}, e.time.slice(11, 23)), el('td', {}, e.kind), el('td', {}, e.reason),
      el('td', {}, packet), el('td', {}, e.servicePort || e.service || '-'));
    body.prepend(row);
    while (body.rows.length > FEED_ROWS) body.deleteRow(body.rows.length - 1);
    document.body.dataset.feedEvents = String(Number(document.body.dataset.feedEvents || 0) + 1);
  };
  src.addEventListener('drop', add);
  src.addEventListener('reject', add);
  src.onopen = () => { state.textContent = 'live'; };
  src.onerror = () => { state.textContent = 'reconnecting…'; };
}

loop();
