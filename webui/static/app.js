// The diagnostic page: plain JavaScript against the /v1 API. Every value
// from the API is put in the page with textContent, never as HTML.
'use strict';
(function () {
  const $ = (sel) => document.querySelector(sel);
  const TOKEN = 'signindiag.token';
  const SKIPPED = 'signindiag.tokenSkipped';
  const COLS = 'signindiag.columns';

  // ---- elements ----
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }
  const fmtTime = (s) => (s ? new Date(s).toISOString().replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');

  // ---- token ----
  function token() { return sessionStorage.getItem(TOKEN) || ''; }
  function showTokenState() {
    $('#token-state').textContent = token() ? 'Token set for this session' : 'No token';
    $('#token-clear').hidden = !token();
  }
  function askToken(reason) {
    $('#token-panel').hidden = false;
    if (reason) $('#token-title').textContent = 'API token: ' + reason;
    $('#token-input').focus();
  }
  $('#token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN, $('#token-input').value.trim());
    $('#token-input').value = '';
    $('#token-panel').hidden = true;
    showTokenState();
    setStatus($('#status'), 'Token saved for this session. Search again.', '');
    loadSpikes();
  });
  $('#token-skip').addEventListener('click', () => {
    sessionStorage.setItem(SKIPPED, '1');
    $('#token-panel').hidden = true;
    $('#q-user').focus();
  });
  $('#token-change').addEventListener('click', () => askToken(''));
  $('#token-clear').addEventListener('click', () => { sessionStorage.removeItem(TOKEN); showTokenState(); });

  // ---- API ----
  class APIError extends Error {
    constructor(status, body) {
      super((body && body.error) || ('HTTP ' + status));
      this.status = status; this.parameter = body && body.parameter;
    }
  }
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    if (token()) headers.Authorization = 'Bearer ' + token();
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    let resp;
    try {
      resp = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    } catch (e) {
      throw new APIError(0, { error: 'The server did not answer (' + e.message + ').' });
    }
    let body = null;
    try { body = await resp.json(); } catch (e) { body = null; }
    if (!resp.ok) throw new APIError(resp.status, body);
    return body;
  }
  function explain(err) {
    switch (err.status) {
      case 401: askToken(token() ? 'the token was refused' : 'a token is needed');
        return '401 Unauthorized: ' + (token() ? 'the token was refused. ' : 'this server needs a token. ') + 'Enter a valid token above.';
      case 403: return '403 Forbidden: ' + err.message;
      case 429: return 'The server is busy (429). Try again in a moment.';
      case 400: return 'The search is not valid' + (err.parameter ? ' (' + err.parameter + ')' : '') + ': ' + err.message;
      case 404: return 'Not found: ' + err.message;
      case 503: return 'The query took too long: ' + err.message;
      default: return (err.status ? 'Error ' + err.status + ': ' : '') + err.message;
    }
  }
  function setStatus(node, text, kind) {
    node.textContent = text;
    node.className = 'status' + (kind ? ' ' + kind : '');
  }

  // ---- tabs ----
  const tabs = [...document.querySelectorAll('[role=tab]')];
  function selectTab(tab) {
    for (const t of tabs) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      t.tabIndex = on ? 0 : -1;
      document.getElementById(t.getAttribute('aria-controls')).hidden = !on;
    }
    tab.focus();
    if (tab.id === 'tab-flagged' && !flaggedLoaded) loadFlagged(false);
  }
  tabs.forEach((t, i) => {
    t.addEventListener('click', () => selectTab(t));
    t.addEventListener('keydown', (ev) => {
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
        ev.preventDefault();
        selectTab(tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]);
      }
    });
  });

  // ---- authentication summary columns ----
  const status = (s) => (s.status && s.status.errorCode ? 'Failure' : 'Success');
  const COLUMNS = [
    { id: 'date', label: 'Date', get: (s) => fmtTime(s.createdDateTime), on: true },
    { id: 'user', label: 'User', get: (s) => s.userPrincipalName || s.userId || s.servicePrincipalName || '', on: true },
    { id: 'app', label: 'Application', get: (s) => s.appDisplayName || s.appId || '', on: true },
    { id: 'status', label: 'Status', get: status, on: true, pill: true },
    { id: 'errorCode', label: 'Error code', get: (s) => (s.status ? String(s.status.errorCode) : ''), on: true },
    { id: 'reason', label: 'Failure reason', get: (s) => (s.status && s.status.failureReason) || '' },
    { id: 'ip', label: 'IP address', get: (s) => s.ipAddress || '', on: true },
    { id: 'location', label: 'Location', get: (s) => [s.location && s.location.city, s.location && s.location.countryOrRegion].filter(Boolean).join(', ') },
    { id: 'client', label: 'Client app', get: (s) => s.clientAppUsed || '' },
    { id: 'device', label: 'Device', get: (s) => { const d = s.deviceDetail || {}; return d.displayName || [d.operatingSystem, d.browser].filter(Boolean).join(' · '); } },
    { id: 'ca', label: 'Conditional Access', get: (s) => s.conditionalAccessStatus || '' },
    { id: 'interactive', label: 'Interactive', get: (s) => (s.isInteractive ? 'Yes' : 'No') },
    { id: 'correlationId', label: 'Correlation id', get: (s) => s.correlationId || '', on: true, mono: true },
    { id: 'requestId', label: 'Request id', get: (s) => s.id, mono: true },
    { id: 'flagged', label: 'Flagged', get: (s) => (s.flaggedForReview ? 'Flagged' : '') },
  ];
  let shown = new Set(COLUMNS.filter((c) => c.on).map((c) => c.id));
  try { const saved = JSON.parse(localStorage.getItem(COLS)); if (Array.isArray(saved) && saved.length) shown = new Set(saved); } catch (e) { /* defaults */ }
  function buildColumnChooser() {
    const list = $('#column-list');
    list.replaceChildren(...COLUMNS.map((c) => el('label', {},
      el('input', { type: 'checkbox', value: c.id, 'data-column': c.id, checked: shown.has(c.id), onchange: (ev) => {
        if (ev.target.checked) shown.add(c.id); else shown.delete(c.id);
        localStorage.setItem(COLS, JSON.stringify([...shown]));
        renderSummary();
      } }), c.label)));
  }

  // ---- search ----
  let current = null; // { params, signIns, findings, next }
  function searchParams() {
    const user = $('#q-user').value.trim(), app = $('#q-app').value.trim(), id = $('#q-id').value.trim(), at = $('#q-at').value;
    const p = new URLSearchParams();
    if (id) return { kind: 'id', id, p };
    if (user) p.set('user', user);
    if (app) p.set('app', app);
    if (at) p.set('at', new Date(at + (at.length === 16 ? ':00' : '') + 'Z').toISOString());
    return { kind: 'user', p };
  }
  $('#search').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const s = searchParams();
    const st = $('#status');
    if (s.kind === 'user' && !s.p.get('user')) {
      setStatus(st, 'Give a correlation or request id, or a user.', 'error');
      $('#q-user').focus();
      return;
    }
    setStatus(st, 'Searching…', '');
    $('#q-submit').disabled = true;
    try {
      let d, p;
      if (s.kind === 'id') {
        p = new URLSearchParams({ correlationId: s.id });
        d = await api('/v1/diagnose?' + p);
        if (!d.authenticationSummary.length) {
          p = new URLSearchParams({ requestId: s.id });
          d = await api('/v1/diagnose?' + p);
        }
      } else {
        p = s.p;
        d = await api('/v1/diagnose?' + p);
      }
      current = { params: p, signIns: d.authenticationSummary, findings: d.diagnosticResults, next: d.next };
      render();
      if (!d.authenticationSummary.length) {
        setStatus(st, s.kind === 'id'
          ? 'No sign-in has the correlation id or request id "' + s.id + '". Check the id; sign-ins appear here seconds after Entra emits them.'
          : 'No sign-ins of ' + s.p.get('user') + (s.p.get('app') ? ' to ' + s.p.get('app') : '') + ' within 48 hours of ' + (s.p.get('at') || 'now') + '.', 'empty');
      } else {
        setStatus(st, d.authenticationSummary.length + ' sign-in(s), ' + d.diagnosticResults.length + ' diagnostic result(s).', '');
      }
    } catch (e) {
      current = null;
      $('#results').hidden = true;
      setStatus(st, explain(e), 'error');
    } finally {
      $('#q-submit').disabled = false;
    }
  });
  $('#search').addEventListener('reset', () => { current = null; $('#results').hidden = true; setStatus($('#status'), '', ''); });
  $('#more').addEventListener('click', async () => {
    if (!current || !current.next) return;
    const p = new URLSearchParams(current.params);
    p.set('cursor', current.next);
    try {
      const d = await api('/v1/diagnose?' + p);
      current.signIns = current.signIns.concat(d.authenticationSummary);
      current.findings = current.findings.concat(d.diagnosticResults);
      current.next = d.next;
      render();
    } catch (e) { setStatus($('#status'), explain(e), 'error'); }
  });

  function render() {
    $('#results').hidden = !current || !current.signIns.length;
    if (!current) return;
    renderSummary();
    renderFindings($('#findings'), current.findings);
    $('#more').hidden = !current.next;
  }
  function renderSummary() {
    if (!current) return;
    const cols = COLUMNS.filter((c) => shown.has(c.id));
    const table = $('#summary-table');
    table.tHead.replaceChildren(el('tr', {}, cols.map((c) => el('th', { scope: 'col', 'data-column': c.id, text: c.label }))));
    table.tBodies[0].replaceChildren(...current.signIns.map((s) => el('tr', {}, cols.map((c) => {
      const v = c.get(s);
      if (c.pill) return el('td', {}, el('span', { class: 'pill ' + (v === 'Success' ? 'ok' : 'fail'), text: v }));
      return el('td', { class: c.mono ? 'mono' : null, text: v });
    }))));
  }

  // ---- findings ----
  function renderFindings(node, findings) {
    if (!findings.length) {
      node.replaceChildren(el('p', { class: 'hint', text: 'No diagnostic results: the sign-ins succeeded plainly, or nothing signindiag recognises happened.' }));
      return;
    }
    node.replaceChildren(...findings.map(findingCard));
  }
  function findingCard(f) {
    const card = el('article', { class: 'finding sev-' + f.severity, 'data-finding': f.id },
      el('header', {},
        el('span', { class: 'pill sev-' + f.severity, text: f.severity }),
        el('h3', { text: f.title }),
        el('span', { class: 'meta mono', text: f.scenario })),
      el('p', { class: 'meta' }, fmtTime(f.occurredAt), ' · ', f.userPrincipalName || f.userId || '', f.appDisplayName ? ' · ' + f.appDisplayName : '',
        f.errorCode ? ' · error ' : '', f.errorCode ? (f.errorCodeUrl ? el('a', { href: f.errorCodeUrl, rel: 'noopener noreferrer', target: '_blank', text: String(f.errorCode) }) : String(f.errorCode)) : '',
        f.failures48h ? ' · ' + (f.failures48hPartial ? 'at least ' : '') + f.failures48h + (f.failures48h === 1 ? ' failure' : ' failures') + ' in 48h' : '', f.flagged ? ' · flagged' : ''),
      el('p', { text: f.summary }));
    if (f.recommendations && f.recommendations.length) {
      card.append(el('h4', { text: 'Recommendations' }), el('ol', {}, f.recommendations.map((r) => el('li', { text: r }))));
    }
    if (f.policies && f.policies.length) {
      card.append(el('h4', { text: 'Conditional Access policies that mattered' }),
        el('div', { class: 'table-wrap' }, el('table', {},
          el('thead', {}, el('tr', {}, ['Policy', 'Result', 'Grant controls', 'Conditions satisfied'].map((h) => el('th', { scope: 'col', text: h })))),
          el('tbody', {}, f.policies.map((p) => el('tr', {}, el('td', { text: p.displayName }), el('td', { text: p.result }),
            el('td', { text: (p.grantControls || []).join(', ') }), el('td', { text: p.conditionsSatisfied || '' })))))));
    }
    if (f.evidence) card.append(evidence(f.evidence));
    if (f.memberSignInIds && f.memberSignInIds.length) {
      card.append(el('p', { class: 'meta' }, 'Incident ', el('span', { class: 'mono', text: f.incidentId }), ' · member sign-ins here: ', f.memberSignInIds.join(', ')));
    }
    card.append(feedbackForm(f));
    return card;
  }
  function evidence(ev) {
    const rows = [['Failures', ev.failures + ' between ' + fmtTime(ev.windowStart) + ' and ' + fmtTime(ev.windowEnd)]];
    if (ev.distinctUsers) rows.push(['Distinct users', String(ev.distinctUsers)]);
    const top = (label, list) => { if (list && list.length) rows.push([label, list.map((c) => c.value + ' (' + c.count + ')').join(', ')]); };
    top('Users', ev.topUsers); top('Applications', ev.topApps); top('IP addresses', ev.topIpAddresses);
    top('Devices', ev.topDevices); top('Client apps', ev.topClientApps); top('Error codes', ev.topErrorCodes);
    return el('section', { class: 'evidence' }, el('h4', { text: 'Evidence' }),
      el('dl', {}, rows.map(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })])));
  }
  function feedbackForm(f) {
    const msg = el('span', { class: 'meta', role: 'status', 'aria-live': 'polite' });
    const comment = el('textarea', { 'aria-label': 'Comment on this result (optional)', placeholder: 'Comment (optional)', maxlength: '2000' });
    const send = async (helpful, btn) => {
      for (const b of box.querySelectorAll('button')) b.disabled = true;
      msg.textContent = 'Sending…';
      try {
        await api('/v1/feedback', { method: 'POST', body: { findingId: f.id, signInId: f.signInId, helpful, comment: comment.value } });
        msg.textContent = 'Thank you: your feedback is saved.';
        btn.setAttribute('aria-pressed', 'true');
      } catch (e) {
        msg.textContent = explain(e);
        for (const b of box.querySelectorAll('button')) b.disabled = false;
      }
    };
    const box = el('div', { class: 'feedback' },
      el('div', { class: 'row' }, 'Was this helpful?',
        el('button', { type: 'button', class: 'secondary', 'data-feedback': 'yes', onclick: (ev) => send(true, ev.target), text: 'Yes' }),
        el('button', { type: 'button', class: 'secondary', 'data-feedback': 'no', onclick: (ev) => send(false, ev.target), text: 'No' }),
        msg),
      comment);
    return box;
  }

  // ---- flagged ----
  let flaggedLoaded = false, flaggedNext = '';
  async function loadFlagged(more) {
    const st = $('#flagged-status');
    setStatus(st, 'Loading…', '');
    try {
      const d = await api('/v1/flagged?limit=25' + (more && flaggedNext ? '&before=' + encodeURIComponent(flaggedNext) : ''));
      flaggedLoaded = true;
      flaggedNext = d.next || '';
      const list = $('#flagged-list');
      const items = d.flagged.map(flaggedItem);
      if (more) list.append(...items); else list.replaceChildren(...items);
      $('#flagged-more').hidden = !flaggedNext;
      setStatus(st, list.children.length ? '' : 'No flagged sign-ins. Users flag a sign-in for review in the My Sign-ins page, or a flag event names it.', list.children.length ? '' : 'empty');
    } catch (e) { setStatus(st, explain(e), 'error'); }
  }
  function flaggedItem(it) {
    const s = it.signIn;
    const ackLine = el('span', { class: 'meta', role: 'status', 'aria-live': 'polite' });
    const showAck = (a) => { ackLine.textContent = 'Acknowledged ' + fmtTime(a.acknowledgedAt) + ' by ' + a.acknowledgedBy + (a.comment ? ': ' + a.comment : ''); };
    const btn = el('button', { type: 'button', class: 'secondary', text: 'Acknowledge', onclick: async () => {
      btn.disabled = true;
      try { showAck(await api('/v1/flagged/' + encodeURIComponent(s.id) + '/acknowledge', { method: 'POST', body: {} })); btn.hidden = true; }
      catch (e) { ackLine.textContent = explain(e); btn.disabled = false; }
    } });
    if (it.acknowledged) { showAck(it.acknowledged); btn.hidden = true; }
    const node = el('article', { class: 'flag' },
      el('div', { class: 'row between' },
        el('h3', {}, (s.userPrincipalName || s.userId || '') + ' → ' + (s.appDisplayName || s.appId || '')),
        el('span', { class: 'pill ' + (status(s) === 'Success' ? 'ok' : 'fail'), text: status(s) + (s.status && s.status.errorCode ? ' ' + s.status.errorCode : '') })),
      el('p', { class: 'meta' }, 'Flagged ' + fmtTime(it.flaggedAt) + (it.flaggedBy ? ' by ' + it.flaggedBy : '') + ' · sign-in ' + fmtTime(s.createdDateTime) + ' · correlation ',
        el('span', { class: 'mono', text: s.correlationId || '' })),
      el('div', { class: 'row' }, btn, ackLine));
    const fs = el('div');
    renderFindings(fs, it.diagnosticResults);
    node.append(fs);
    return node;
  }
  $('#flagged-refresh').addEventListener('click', () => loadFlagged(false));
  $('#flagged-more').addEventListener('click', () => loadFlagged(true));

  // ---- failure spikes (shown when the server has /v1/spikes) ----
  async function loadSpikes() {
    let d;
    try { d = await api('/v1/spikes?by=app&step=1h'); }
    catch (e) {
      if (e.status === 400) { try { d = await api('/v1/spikes'); } catch (e2) { d = null; } }
    }
    const panel = $('#spikes');
    if (!d || !Array.isArray(d.series)) { panel.hidden = true; return; }
    panel.hidden = false;
    $('#spikes-caption').textContent = 'Failures per ' + d.step + ' by ' + d.by + ', ' + fmtTime(d.from) + ' to ' + fmtTime(d.to) + '. Red bars are spikes above the baseline (dashed).';
    const series = d.series.slice().sort((a, b) => spikesOf(b) - spikesOf(a) || b.total - a.total).slice(0, 6);
    const chart = el('div', { class: 'chart' });
    if (!series.length) chart.append(el('p', { class: 'hint', text: 'No failures in this period.' }));
    for (const s of series) chart.append(sparkBars(s));
    $('#spikes-chart').replaceChildren(chart);
  }
  const spikesOf = (s) => (s.buckets || []).filter((b) => b.spike).length;
  function sparkBars(s) {
    const NS = 'http://www.w3.org/2000/svg';
    const bs = s.buckets || [];
    const W = 300, H = 90, top = Math.max(1, ...bs.map((b) => Math.max(b.count, b.baseline || 0)));
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', s.value + ': ' + s.total + ' failures, ' + spikesOf(s) + ' spike bucket(s)');
    const w = W / Math.max(1, bs.length);
    let path = '';
    bs.forEach((b, i) => {
      const h = (b.count / top) * (H - 4);
      const r = document.createElementNS(NS, 'rect');
      r.setAttribute('x', String(i * w + 0.5)); r.setAttribute('width', String(Math.max(0.5, w - 1)));
      r.setAttribute('y', String(H - h)); r.setAttribute('height', String(h));
      r.setAttribute('class', 'bar' + (b.spike ? ' spike' : ''));
      const t = document.createElementNS(NS, 'title');
      t.textContent = fmtTime(b.start) + ': ' + b.count + ' (baseline ' + (b.baseline || 0).toFixed(1) + ')';
      r.append(t); svg.append(r);
      path += (i ? 'L' : 'M') + (i * w + w / 2).toFixed(1) + ' ' + (H - ((b.baseline || 0) / top) * (H - 4)).toFixed(1);
    });
    if (path) { const p = document.createElementNS(NS, 'path'); p.setAttribute('d', path); p.setAttribute('class', 'baseline'); svg.append(p); }
    return el('figure', {}, svg, el('figcaption', { text: s.value + ' · ' + s.total + ' failures · ' + spikesOf(s) + ' spike(s)' }));
  }

  // ---- start ----
  buildColumnChooser();
  showTokenState();
  if (!token() && !sessionStorage.getItem(SKIPPED)) askToken('');
  loadSpikes();
})();
