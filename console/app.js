/* The supervision console's script: reads the gateway's APIs (same origin, the
 * browser's client certificate), draws the tables and SVG charts, and checks
 * inclusion proofs itself with WebCrypto so that the page need not trust the server. */
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const FIGURES = ['collected', 'remitted', 'arrived', 'planned', 'reviewed', 'disbursed',
    'settled'];
  const enc = new TextEncoder();

  /* ---- small helpers ------------------------------------------------------------ */

  // Elements are built with textContent only: nothing from the server becomes markup.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== null && v !== undefined) e.setAttribute(k, v);
    }
    for (const k of kids) {
      if (k === null || k === undefined) continue;
      e.append(k instanceof Node ? k : String(k));
    }
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  class HttpError extends Error {
    constructor(status, code, detail) {
      super(detail || ('HTTP ' + status));
      this.status = status;
      this.code = code;
    }
  }

  async function fetchOk(path, accept) {
    const r = await fetch(path, { headers: { Accept: accept }, cache: 'no-store',
      credentials: 'same-origin', redirect: 'error' });
    if (!r.ok) {
      let code = '', detail = '';
      try {
        const j = await r.json();
        code = j.code || '';
        detail = j.error || '';
      } catch (e) { /* not JSON: the status says enough */ }
      throw new HttpError(r.status, code, detail);
    }
    return r;
  }

  const getJSON = async (path) => (await fetchOk(path, 'application/json')).json();
  const getText = async (path) => (await fetchOk(path, 'text/plain')).text();
  const getBytes = async (path) =>
    new Uint8Array(await (await fetchOk(path, '*/*')).arrayBuffer());

  // Fen (integer) as yuan with thousands separators; the same on every machine, unlike
  // toLocaleString.
  function yuan(fen) {
    const neg = fen < 0;
    let f = BigInt(Math.abs(fen));
    const cents = String(f % 100n).padStart(2, '0');
    let whole = String(f / 100n);
    whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
    return (neg ? '-' : '') + whole + '.' + cents;
  }

  function setStatus(id, text, cls) {
    const e = $(id);
    e.textContent = text;
    e.className = 'status' + (cls ? ' ' + cls : '');
  }

  function entryLink(index) {
    if (index === null || index === undefined) return '–';
    return el('a', { href: '/audit/entries/' + index, class: 'entry', target: '_blank',
      rel: 'noopener' }, '#' + index);
  }

  function fail(id, what, e) {
    if (e instanceof HttpError && e.status === 404) {
      setStatus(id, what + ': not available on this gateway.', 'muted');
    } else if (e instanceof HttpError && e.status === 403) {
      setStatus(id, what + ': not open to your role.', 'muted');
    } else {
      setStatus(id, what + ': ' + (e.message || e), 'bad');
    }
  }

  const params = new URLSearchParams(location.search);

  function thisMonth() {
    const d = new Date();
    return d.getUTCFullYear() + '-' + String(d.getUTCMonth() + 1).padStart(2, '0');
  }

  function monthsBack(period, n) {
    // The n months ending at period, oldest first.
    let [y, m] = period.split('-').map(Number);
    const out = [];
    for (let i = 0; i < n; i++) {
      out.unshift(y + '-' + String(m).padStart(2, '0'));
      m -= 1;
      if (m === 0) { m = 12; y -= 1; }
    }
    return out;
  }

  /* ---- fund flow ----------------------------------------------------------------- */

  function drawFlowChart(rep) {
    const box = $('flow-chart');
    box.replaceChildren();
    const cities = rep.cities;
    const max = Math.max(1, ...cities.flatMap((c) => FIGURES.map((f) => c[f + '_fen'])));
    const rowH = 7 * 4 + 8, left = 96, width = 760, top = 8;
    const height = top + cities.length * rowH + 24;
    const s = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, class: 'flow',
      preserveAspectRatio: 'xMinYMin meet' });
    const plotW = width - left - 12;
    cities.forEach((c, i) => {
      const y0 = top + i * rowH;
      s.append(svg('text', { x: left - 6, y: y0 + rowH / 2, class: 'label',
        'text-anchor': 'end', 'dominant-baseline': 'middle' }, c.name));
      FIGURES.forEach((f, k) => {
        const v = c[f + '_fen'];
        const w = Math.max(v > 0 ? 1 : 0, Math.round(plotW * v / max));
        const r = svg('rect', { x: left, y: y0 + 4 + k * 4, width: w, height: 3,
          class: 'bar s' + k });
        r.append(svg('title', {}, c.name + ' ' + f + ': ' + yuan(v)));
        s.append(r);
      });
      if (c.flags.length) {
        s.append(svg('text', { x: width - 4, y: y0 + rowH / 2, class: 'flag',
          'text-anchor': 'end', 'dominant-baseline': 'middle' }, '⚑'));
      }
    });
    for (let t = 0; t <= 4; t++) {
      const x = left + plotW * t / 4;
      s.append(svg('line', { x1: x, x2: x, y1: top, y2: height - 20, class: 'grid' }));
      s.append(svg('text', { x: x, y: height - 6, class: 'axis', 'text-anchor': 'middle' },
        yuan(Math.round(max * t / 4)).replace(/\.\d\d$/, '')));
    }
    box.append(s);
    const leg = $('flow-legend');
    leg.replaceChildren(...FIGURES.map((f, k) =>
      el('span', { class: 'legend-item' }, el('span', { class: 'key s' + k }), f)));
  }

  function drawFlowTable(rep) {
    const body = $('flow-table').tBodies[0];
    body.replaceChildren();
    for (const c of rep.cities) {
      const tr = el('tr', { 'data-city': c.city_code });
      tr.append(el('th', { scope: 'row' }, c.name), el('td', { class: 'code' }, c.city_code));
      for (const f of FIGURES) {
        tr.append(el('td', { class: 'num', 'data-figure': f, 'data-fen': c[f + '_fen'] },
          yuan(c[f + '_fen'])));
      }
      tr.append(el('td', { class: 'flags' }, ...c.flags.map((f) => el('span',
        { class: 'flag-tag' }, f))));
      if (c.flags.length) tr.className = 'flagged';
      body.append(tr);
    }
    const foot = $('flow-table').tFoot;
    const tr = el('tr', { 'data-city': 'total' }, el('th', { scope: 'row' }, 'Province'),
      el('td'));
    for (const f of FIGURES) {
      tr.append(el('td', { class: 'num', 'data-figure': f,
        'data-fen': rep.totals[f + '_fen'] }, yuan(rep.totals[f + '_fen'])));
    }
    tr.append(el('td', { class: 'flags' }, ...rep.flags.map((f) => el('span',
      { class: 'flag-tag' }, f))));
    foot.replaceChildren(tr);
    $('flow-flags').textContent = rep.clean ? 'The month is clean: no flags.' :
      'The month has flags: ' + [...new Set(rep.cities.flatMap((c) => c.flags)
        .concat(rep.flags))].join(', ') + '.';
  }

  // The balance at each month's end from the balance now and each later month's
  // remittances and disbursements; the capacity as the gateway counts it: the balance
  // over the average of the (up to) twelve latest months that disbursed anything.
  function capacitySeries(reports, fund) {
    const rows = reports.map((r) => ({ period: r.period, remitted: r.totals.remitted_fen,
      disbursed: r.totals.disbursed_fen }));
    let bal = fund.balance_fen;
    for (let i = rows.length - 1; i >= 0; i--) {
      rows[i].balance = bal;
      bal -= rows[i].remitted - rows[i].disbursed;
    }
    rows.forEach((r, i) => {
      const spent = rows.slice(0, i + 1).filter((x) => x.disbursed > 0).slice(-12);
      const avg = spent.length ? spent.reduce((a, x) => a + x.disbursed, 0) / spent.length : 0;
      r.capacity = avg > 0 ? Math.floor(r.balance / avg * 100) / 100 : null;
    });
    return rows;
  }

  function drawCapacity(rows, fund) {
    const box = $('capacity-chart');
    box.replaceChildren();
    const width = 760, height = 220, left = 80, right = 44, top = 10, bottom = 28;
    const plotW = width - left - right, plotH = height - top - bottom;
    const maxB = Math.max(1, ...rows.map((r) => Math.abs(r.balance)));
    const caps = rows.map((r) => r.capacity).filter((c) => c !== null);
    const maxC = Math.max(fund.capacity_threshold_months || 1, ...caps, 1);
    const s = svg('svg', { viewBox: '0 0 ' + width + ' ' + height, class: 'capacity' });
    const bw = plotW / rows.length;
    const y0 = top + plotH;
    rows.forEach((r, i) => {
      const h = Math.round(plotH * Math.max(0, r.balance) / maxB);
      const b = svg('rect', { x: left + i * bw + 1, y: y0 - h, width: Math.max(1, bw - 2),
        height: h, class: 'bar balance' });
      b.append(svg('title', {}, r.period + ': ' + yuan(r.balance)));
      s.append(b);
      if (i % 3 === rows.length % 3 || i === rows.length - 1) {
        s.append(svg('text', { x: left + i * bw + bw / 2, y: height - 8, class: 'axis',
          'text-anchor': 'middle' }, r.period.slice(2)));
      }
    });
    const pts = rows.map((r, i) => r.capacity === null ? null :
      [left + i * bw + bw / 2, y0 - plotH * Math.min(r.capacity, maxC) / maxC]);
    let d = '';
    pts.forEach((p) => { if (p) d += (d ? ' L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1); });
    if (d) s.append(svg('path', { d: d, class: 'line capacity' }));
    const ty = y0 - plotH * (fund.capacity_threshold_months || 0) / maxC;
    s.append(svg('line', { x1: left, x2: left + plotW, y1: ty, y2: ty, class: 'threshold' }));
    s.append(svg('text', { x: left + plotW + 4, y: ty, class: 'axis',
      'dominant-baseline': 'middle' }, fund.capacity_threshold_months + ' mo'));
    s.append(svg('text', { x: left - 6, y: top + 8, class: 'axis', 'text-anchor': 'end' },
      yuan(maxB).replace(/\.\d\d$/, '')));
    s.append(svg('text', { x: left - 6, y: y0, class: 'axis', 'text-anchor': 'end' }, '0'));
    box.append(s);
    const body = $('capacity-table').tBodies[0];
    body.replaceChildren(...rows.slice().reverse().map((r) => el('tr', { 'data-period': r.period },
      el('th', { scope: 'row' }, r.period), el('td', { class: 'num' }, yuan(r.remitted)),
      el('td', { class: 'num' }, yuan(r.disbursed)), el('td', { class: 'num' }, yuan(r.balance)),
      el('td', { class: 'num' }, r.capacity === null ? '–' : r.capacity.toFixed(2)))));
    $('capacity-now').textContent = 'Now: balance ' + yuan(fund.balance_fen) +
      ', monthly expenditure ' + yuan(fund.monthly_expenditure_fen) + ', capacity ' +
      (fund.capacity_months === null ? 'unbounded (nothing spent yet)' :
        fund.capacity_months + ' months') + ' (early warning below ' +
      fund.capacity_threshold_months + ').';
  }

  async function loadFlow(period) {
    setStatus('flow-status', 'Loading ' + period + '…');
    const rep = await getJSON('/v1/reports/reconciliation?period=' + encodeURIComponent(period));
    drawFlowTable(rep);
    drawFlowChart(rep);
    // A navigation asks for text/html: the gateway answers with the document.
    $('inspection-link').href = '/v1/reports/inspection?period=' + encodeURIComponent(period);
    // The window ends with the current month, so that the balance now applies to it.
    const months = monthsBack(thisMonth() > period ? thisMonth() : period, 24);
    const reps = await Promise.all(months.map((m) => m === period ? rep :
      getJSON('/v1/reports/reconciliation?period=' + m)));
    drawCapacity(capacitySeries(reps, rep.fund), rep.fund);
    setStatus('flow-status', period + (rep.clean ? ': clean' : ': flagged'),
      rep.clean ? 'ok' : 'warn');
    $('flow').dataset.period = period;
  }

  /* ---- alerts -------------------------------------------------------------------- */

  async function loadAlerts() {
    const body = $('alerts-table').tBodies[0];
    const { alerts } = await getJSON('/v1/alerts');
    body.replaceChildren(...alerts.slice().reverse().map((a) => {
      const figs = Object.entries(a.figures || {}).map(([k, v]) =>
        k + ' ' + (typeof v === 'number' && /fen$/.test(k) ? yuan(v) : JSON.stringify(v)));
      return el('tr', { 'data-alert': a.id }, el('td', {}, a.id), el('td', {}, a.time),
        el('td', {}, el('span', { class: 'rule' }, a.rule)), el('td', {}, a.city_code || ''),
        el('td', {}, a.period || ''), el('td', {}, a.subject || ''),
        el('td', { class: 'figures' }, figs.join('; ')), el('td', {}, entryLink(a.audit_index)));
    }));
    setStatus('alerts-status', alerts.length ? alerts.length + ' alerts, newest first.' :
      'No alerts.', alerts.length ? 'warn' : 'ok');
  }

  /* ---- proofs (RFC 6962 / C2SP tlog, signed notes) ---------------------------------- */

  function b64dec(s) {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4) {
      throw new Error('not base64');
    }
    return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
  }

  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) { out.set(p, o); o += p.length; }
    return out;
  }

  const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));

  function equal(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // RFC 9162 §2.1.3.2: the root an inclusion proof leads to.
  async function rootFromProof(index, size, leaf, path) {
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
    if (fn > sn) throw new Error('index past the tree size');
    for (const p of path) {
      if (sn === 0n) throw new Error('proof longer than the tree is deep');
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) throw new Error('proof shorter than the tree is deep');
    return r;
  }

  // A vkey "name+hexid+base64(0x01 || key)" (C2SP signed-note), its id checked.
  async function parseVkey(vkey) {
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
    if (!m) throw new Error('not a verifier key');
    const raw = b64dec(m[3]);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error('not an Ed25519 verifier key');
    const id = (await sha256(concat(enc.encode(m[1]), Uint8Array.of(0x0a), raw))).slice(0, 4);
    if (hex(id) !== m[2]) throw new Error('the key id does not match the key');
    return { name: m[1], id: id, idHex: m[2], pub: raw.slice(1) };
  }

  // A signed note: its text (up to the blank line) and signature lines.
  function parseNote(note) {
    const cut = note.indexOf('\n\n');
    if (cut < 0) throw new Error('not a signed note');
    const text = note.slice(0, cut + 1);
    const sigs = note.slice(cut + 2).split('\n').filter((l) => l.length).map((l) => {
      const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(l);
      if (!m) throw new Error('malformed signature line');
      const b = b64dec(m[2]);
      return { name: m[1], id: b.slice(0, 4), sig: b.slice(4) };
    });
    const lines = text.split('\n');
    return { text: text, origin: lines[0], size: lines[1], root: lines[2], sigs: sigs };
  }

  // Alters one byte of one hash: what a forged or corrupted proof looks like.
  function tamper(proof) {
    const t = JSON.parse(JSON.stringify(proof));
    const field = t.hashes.length ? 'hashes' : 'leaf_hash';
    const b = b64dec(field === 'hashes' ? t.hashes[0] : t.leaf_hash);
    b[0] ^= 0x01;
    const s = btoa(String.fromCharCode(...b));
    if (field === 'hashes') t.hashes[0] = s; else t.leaf_hash = s;
    return t;
  }

  async function checkProof(receipt, proof, vkeyText, entryBytes) {
    const checks = [];
    const check = (ok, what) => { checks.push({ ok: ok, what: what }); return ok; };
    const key = await parseVkey(vkeyText);
    const note = parseNote(proof.checkpoint);
    check(proof.index === receipt.audit_index, 'the proof is of the receipt\'s entry #' +
      receipt.audit_index);
    check(proof.leaf_hash === receipt.leaf_hash, 'the proof\'s leaf hash is the receipt\'s');
    const leaf = b64dec(proof.leaf_hash);
    if (entryBytes) {
      check(equal(await sha256(concat(Uint8Array.of(0), entryBytes)), leaf),
        'the entry\'s bytes hash to the leaf hash (SHA-256 of 0x00 || entry)');
    }
    let root = null;
    try {
      root = await rootFromProof(proof.index, proof.tree_size, leaf, proof.hashes.map(b64dec));
    } catch (e) {
      check(false, 'the inclusion proof: ' + e.message);
    }
    check(note.size === String(proof.tree_size), 'the checkpoint is of size ' + proof.tree_size);
    if (root) {
      check(hex(root) === hex(b64dec(note.root)), 'the inclusion proof leads to the ' +
        'checkpoint\'s root');
    }
    check(note.origin === key.name, 'the checkpoint\'s origin is the key\'s name ' + key.name);
    const mine = note.sigs.filter((s) => s.name === key.name && equal(s.id, key.id));
    let sigOk = false;
    if (mine.length) {
      const k = await crypto.subtle.importKey('raw', key.pub, { name: 'Ed25519' }, false,
        ['verify']);
      for (const s of mine) {
        if (await crypto.subtle.verify({ name: 'Ed25519' }, k, s.sig, enc.encode(note.text))) {
          sigOk = true;
        }
      }
    }
    check(sigOk, 'the checkpoint is signed by ' + key.name + ' (key ID ' + key.idHex +
      ', Ed25519)');
    return { ok: checks.every((c) => c.ok), checks: checks, key: key, note: note,
      root: root };
  }

  /* ---- chain of custody ---------------------------------------------------------- */

  function step(title, index, ...detail) {
    return el('li', { class: 'step' }, el('span', { class: 'step-title' }, title), ' ',
      el('span', { class: 'step-entry' }, 'entry ', entryLink(index)),
      ...detail.map((d) => el('div', { class: 'step-detail' }, d)));
  }

  function deliverySteps(t) {
    const out = [];
    for (const d of t.deliveries || []) {
      for (const a of d.attempts_made || []) {
        out.push(step('Delivery to ' + d.upstream + ' ' + d.path + ', attempt ' + a.attempt,
          a.audit_index, (a.ok ? 'delivered' : 'failed') + ', HTTP ' + a.status + ' at ' +
          new Date(a.time_ms).toISOString() + (a.error ? ' (' + a.error + ')' : '')));
      }
      if (!(d.attempts_made || []).length) {
        out.push(step('Delivery to ' + d.upstream + ' ' + d.path, null, d.state +
          ', no attempt yet'));
      }
    }
    return out;
  }

  async function trace(id, kind, tamperIt) {
    const steps = $('custody-steps');
    steps.replaceChildren();
    $('proof').hidden = true;
    setStatus('custody-status', 'Tracing ' + id + '…');
    const q = kind ? '?kind=' + encodeURIComponent(kind) : '';
    const t = await getJSON('/v1/transfers/' + encodeURIComponent(id) + q);
    const r = t.receipt || {};
    steps.append(step('Accepted: ' + t.kind + ' ' + t.id + ' from ' + t.agency, t.audit_index,
      'state ' + t.state + (r.digest ? ', digest ' + r.digest : '') +
      (r.signature ? ', signed with key ' + r.signature.key_id : '')));
    if (t.kind === 'plan') {
      steps.append(el('li', { class: 'step' }, 'Planned ' + yuan(t.amount_fen) +
        ', approved ' + (t.approved_fen === null ? '(not reviewed)' : yuan(t.approved_fen)) +
        ', disbursed ' + yuan(t.disbursed_fen)));
    }
    steps.append(...deliverySteps(t));
    if (t.kind === 'disbursement') {
      const plans = [...new Set((t.payments || []).map((p) => p.plan_id))];
      for (const pid of plans) {
        try {
          const p = await getJSON('/v1/transfers/' + encodeURIComponent(pid) + '?kind=plan');
          steps.append(step('Under plan ' + pid + ' (' + p.state + ')', p.audit_index,
            'planned ' + yuan(p.amount_fen) + ', approved ' +
            (p.approved_fen === null ? '–' : yuan(p.approved_fen))));
        } catch (e) {
          steps.append(step('Under plan ' + pid, null, 'not readable: ' + e.message));
        }
      }
      for (const p of t.payments || []) {
        steps.append(el('li', { class: 'step payment', 'data-status': p.status },
          el('span', { class: 'step-title' }, 'Payment ' + p.end_to_end_id + ': ' +
            yuan(p.amount_fen) + ' to ' + p.account + ' (' + p.city_code + ')'),
          el('div', { class: 'step-detail' }, p.status + (p.bank_reference ? ', bank reference ' +
            p.bank_reference : '') + (p.reason ? ', ' + p.reason : ''))));
      }
    }
    setStatus('custody-status', t.kind + ' ' + t.id + ': ' + t.state, 'ok');
    await proveReceipt(t.kind, t.id, tamperIt);
  }

  async function proveReceipt(kind, id, tamperIt) {
    const box = $('proof'), res = $('proof-result');
    box.hidden = false;
    res.textContent = 'Checking…';
    res.dataset.result = 'pending';
    const facts = $('proof-facts'), list = $('proof-checks');
    facts.replaceChildren();
    list.replaceChildren();
    try {
      const rc = await getJSON('/v1/receipts/' + encodeURIComponent(kind) + '/' +
        encodeURIComponent(id));
      if (!rc.proof) {
        res.textContent = 'No checkpoint covers this entry yet: try again in a second.';
        res.dataset.result = 'none';
        return;
      }
      const proof = tamperIt ? tamper(rc.proof) : rc.proof;
      const pasted = $('vkey').value.trim();
      const vkey = pasted || session.log.vkey;
      let entry = null;
      try {
        entry = await getBytes('/audit/entries/' + rc.receipt.audit_index);
      } catch (e) { /* not a party to the entry: the proof is checked without it */ }
      const out = await checkProof(rc.receipt, proof, vkey, entry);
      list.replaceChildren(...out.checks.map((c) => el('li', { class: c.ok ? 'ok' : 'bad' },
        (c.ok ? '✔ ' : '✘ ') + c.what)));
      const cos = out.note.sigs.filter((s) => s.name !== out.key.name);
      const add = (k, v) => facts.append(el('dt', {}, k), el('dd', {}, v));
      add('Log key', out.key.name + ' (key ID ' + out.key.idHex + ')' +
        (pasted ? ', pasted here' : ', as served by the gateway'));
      add('Entry', '#' + proof.index + ' of a tree of ' + proof.tree_size);
      add('Checkpoint', rc.proof.cosigned ? 'cosigned by the witnesses\' quorum' :
        'not yet cosigned by the quorum');
      add('Cosignatures', cos.length ? cos.map((s) => s.name).join(', ') +
        ' (witness keys are not checked here)' : 'none');
      if (tamperIt) add('Demonstration', 'one byte of the proof was altered before the check');
      res.textContent = out.ok ? 'VERIFIED' : 'FAILED';
      res.dataset.result = out.ok ? 'verified' : 'failed';
      res.className = 'result ' + (out.ok ? 'ok' : 'bad');
    } catch (e) {
      res.textContent = 'FAILED: ' + (e.message || e);
      res.dataset.result = 'failed';
      res.className = 'result bad';
    }
  }

  /* ---- log health ---------------------------------------------------------------- */

  function bytes(n) {
    const u = ['B', 'KiB', 'MiB', 'GiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + u[i];
  }

  async function loadHealth() {
    const [h, cp] = await Promise.all([getJSON('/v1/health'), getText('/audit/checkpoint')]);
    const dl = $('health-facts');
    dl.replaceChildren();
    const add = (k, v, cls) => dl.append(el('dt', {}, k), el('dd', { class: cls || null }, v));
    add('Log size', h.log.size + ' entries' + (h.log.frozen ? ' — FROZEN (witness evidence)' : ''),
      h.log.frozen ? 'bad' : null);
    add('Latest checkpoint', h.checkpoint.size + ' entries' + (h.checkpoint.time > 0 ?
      ', signed ' + new Date(h.checkpoint.time * 1000).toISOString() + ' (' +
      h.checkpoint.age_seconds + ' s ago)' : ''));
    add('Cosigned', h.cosigned.size + ' entries' + (h.cosigned.time > 0 ? ' (quorum ' +
      h.cosigned.quorum + ')' : ''));
    for (const w of h.witnesses) add('Witness ' + w.name, 'holds size ' + w.size);
    add('WAL', bytes(h.wal.bytes) + ' of ' + bytes(h.wal.limit_bytes) +
      (h.wal.over_limit ? ' — over its limit' : ''), h.wal.over_limit ? 'bad' : null);
    add('Outbox', h.outbox.pending + ' pending, ' + h.outbox.parked + ' parked',
      h.outbox.parked ? 'warn' : null);
    add('Storage', h.log.writable ? 'writable' : 'NOT WRITABLE', h.log.writable ? null : 'bad');
    $('health-checkpoint').textContent = cp;
    setStatus('health-status', 'As of ' + new Date(h.time * 1000).toISOString() + '.', 'ok');
  }

  /* ---- registry ------------------------------------------------------------------ */

  function account(a) {
    if (!a) return '';
    return [a.name, a.number, a.bank, a.city].filter(Boolean).join(' · ');
  }

  async function loadRegistry() {
    let pending, all;
    try {
      [pending, all] = await Promise.all([getJSON('/v1/accounts/changes?state=submitted'),
        getJSON('/v1/accounts/changes')]);
    } catch (e) {
      fail('registry-status', 'Registry changes', e);
      return;
    }
    $('registry-pending').tBodies[0].replaceChildren(...pending.changes.map((c) =>
      el('tr', { 'data-change': c.id }, el('td', {}, c.id), el('td', {}, c.action),
        el('td', {}, account(c.after || c.before || c.account)), el('td', {}, c.effective_date),
        el('td', {}, c.proposed_by + ' (' + c.agency + ')'), el('td', {}, c.reason || ''),
        el('td', {}, entryLink(c.index)))));
    $('registry-history').tBodies[0].replaceChildren(...all.changes.map((c) =>
      el('tr', { 'data-change': c.id }, el('td', {}, c.id), el('td', {}, c.action),
        el('td', {}, account(c.after || c.before || c.account)), el('td', {}, c.state),
        el('td', {}, c.effective_date), el('td', {}, c.proposed_by),
        el('td', {}, c.review ? c.review.reviewed_by + ' (' + c.review.agency + ', ' +
          (c.review.approved ? 'approved' : 'rejected') + ')' : '–'),
        el('td', {}, entryLink(c.index), c.review ? ' ' : null,
          c.review ? entryLink(c.review.index) : null))));
    setStatus('registry-status', pending.changes.length + ' awaiting review, ' +
      all.changes.length + ' in all.', pending.changes.length ? 'warn' : 'ok');
  }

  /* ---- the page ------------------------------------------------------------------ */

  let session = null;

  function showFor(sees) {
    for (const e of document.querySelectorAll('[data-needs]')) {
      e.hidden = !sees[e.dataset.needs];
    }
  }

  async function guarded(id, what, fn) {
    try {
      await fn();
    } catch (e) {
      fail(id, what, e);
    }
  }

  async function main() {
    session = await getJSON('/v1/console');
    $('who').textContent = 'Signed in by client certificate as ' + session.agency + ' (' +
      session.role + '); log ' + session.log.origin + '.';
    showFor(session.sees);
    const period = /^\d{4}-(0[1-9]|1[0-2])$/.test(params.get('period') || '') ?
      params.get('period') : thisMonth();
    $('period').value = period;
    $('tamper').checked = params.get('tamper') === '1' || location.hash === '#tamper';
    $('period-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      guarded('flow-status', 'Fund flow', () => loadFlow($('period').value));
    });
    $('custody-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      guarded('custody-status', 'Transfer', () => trace($('custody-id').value.trim(),
        $('custody-kind').value, $('tamper').checked));
    });
    const jobs = [guarded('flow-status', 'Fund flow', () => loadFlow(period)),
      guarded('alerts-status', 'Alerts', loadAlerts)];
    if (session.sees.health) jobs.push(guarded('health-status', 'Log health', loadHealth));
    if (session.sees.registry) jobs.push(loadRegistry());
    const tid = params.get('transfer');
    if (tid) {
      $('custody-id').value = tid;
      $('custody-kind').value = params.get('kind') || '';
      jobs.push(guarded('custody-status', 'Transfer', () => trace(tid, params.get('kind') || '',
        $('tamper').checked)));
    }
    await Promise.all(jobs);
  }

  document.addEventListener('DOMContentLoaded', () => {
    main().catch((e) => {
      $('who').textContent = 'The console cannot start: ' + (e.message || e);
      $('who').className = 'who bad';
    }).finally(() => {
      // Whatever happened, the page is done loading: say so (tests wait for this).
      document.body.dataset.state = 'ready';
      document.dispatchEvent(new Event('console-ready'));
    });
  });
})();
