// synchub admin page: plain DOM and fetch against /api (the login cookie authenticates).
// Every value from the API is written with textContent, never as HTML.

const $ = (sel) => document.querySelector(sel);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (k === 'class') node.className = v;
    else if (v !== undefined) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return node;
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    location.href = '/admin/login';
    throw new Error('logged out');
  }
  const json = await res.json();
  return { ok: res.ok, status: res.status, body: json };
}

const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

// ---- pipelines ----

async function loadPipelines() {
  const { body } = await api('GET', '/api/pipelines');
  const rows = body.pipelines.map((p) => {
    const run = p.lastRun;
    const runText = !run ? 'never' : run.finishedAt ? `finished ${when(run.finishedAt)} · ${run.pushed} pushed, ${run.dead} dead${run.deleted ? `, ${run.deleted} deleted at the source` : ''}` : run.error ? `failed: ${run.error}` : `running since ${when(run.startedAt)} · ${run.pushed + run.skipped + run.dead}/${run.expected}`;
    const breakers = p.targets.map((t) => el('span', { class: `pill ${t.breaker.state}` }, `${t.connection}: ${t.breaker.state}`));
    return el('tr', { 'data-pipeline': p.name },
      el('td', {}, el('strong', {}, p.name)),
      el('td', {}, `${p.source.connection} ${p.source.entity} → ${p.targets.map((t) => `${t.connection} ${t.entity}`).join(', ')}`),
      el('td', {}, p.paused ? el('span', { class: 'pill paused' }, 'paused') : el('span', { class: 'pill' }, 'active'), ' ', ...breakers),
      el('td', { class: 'last-run' }, runText),
      el('td', {}, p.nextRun ? when(p.nextRun) : p.schedule ? '—' : 'no schedule'),
      el('td', { class: 'counts' }, `${p.counts.pushed} / ${p.counts.skipped} / ${p.counts.deadLettered}`),
      el('td', {},
        el('button', { onclick: () => act(`/api/pipelines/${encodeURIComponent(p.name)}/run`), disabled: p.paused ? '' : undefined }, 'Run now'), ' ',
        p.paused
          ? el('button', { onclick: () => act(`/api/pipelines/${encodeURIComponent(p.name)}/resume`) }, 'Resume')
          : el('button', { onclick: () => act(`/api/pipelines/${encodeURIComponent(p.name)}/pause`) }, 'Pause')),
    );
  });
  $('#pipelines tbody').replaceChildren(...rows);
  sources = [...new Map(body.pipelines.map((p) => [`${p.source.connection} ${p.source.entity}`, p.source])).values()];
}

// ---- deletions at the source (tombstones: the source's record ids and when; no personal data) ----

let sources = [];

async function loadDeletions() {
  const lists = await Promise.all(sources.map(async (s) => {
    const { body } = await api('GET', `/api/connections/${encodeURIComponent(s.connection)}/deletions?entity=${encodeURIComponent(s.entity)}&limit=50`);
    return (body.items ?? []).map((d) => ({ ...d, connection: s.connection, entity: s.entity }));
  }));
  const items = lists.flat().sort((a, b) => String(b.deletedAt ?? '').localeCompare(String(a.deletedAt ?? ''))).slice(0, 50);
  $('#del-total').textContent = `(${items.length}${items.length === 50 ? '+' : ''})`;
  $('#deletions tbody').replaceChildren(...items.map((d) => el('tr', {},
    el('td', {}, when(d.deletedAt)),
    el('td', {}, `${d.connection} ${d.entity}`),
    el('td', {}, el('code', {}, d.id)),
    el('td', {}, d.runId ? `run ${d.runId}` : 'webhook'),
  )));
}

async function act(path) {
  const res = await api('POST', path);
  if (!res.ok) alert(res.body.error.message);
  await Promise.all([loadPipelines(), loadDeadLetters()]);
}

// ---- dead letters ----

async function loadDeadLetters() {
  const { body } = await api('GET', '/api/dead-letters?limit=20');
  $('#dl-total').textContent = `(${body.total})`;
  $('#dead-letters tbody').replaceChildren(...body.items.map((d) => el('tr', { 'data-id': d.id },
    el('td', {}, when(d.createdAt)),
    el('td', {}, d.pipeline, d.target ? ` → ${d.target}` : ''),
    el('td', {}, d.step),
    d.erased
      ? el('td', { class: 'erased' }, el('code', {}, d.error.code), ' ', el('strong', {}, 'erased'), ` ${when(d.erased.at)} (erasure ${d.erased.id})`)
      : el('td', {}, el('code', {}, d.error.code), ' ', d.error.message),
    el('td', {},
      d.erased ? '' : el('button', { onclick: () => act(`/api/dead-letters/${encodeURIComponent(d.id)}/replay`) }, 'Replay'), ' ',
      el('button', { onclick: async () => { await api('DELETE', `/api/dead-letters/${encodeURIComponent(d.id)}`); await loadDeadLetters(); } }, 'Discard')),
  )));
}

// ---- approvals and uniqueness conflicts ----

async function loadApprovals({ poll = false } = {}) {
  const { body } = await api('GET', '/api/approvals?limit=50');
  // A refresh must not wipe a reason being written: what the rows hold is read once the answer is
  // here (text typed while the request was under way included), and a poll leaves a row being edited alone.
  if (poll && $('#approvals').contains(document.activeElement)) return;
  const typed = new Map([...document.querySelectorAll('#approvals tbody tr')].map((r) => [r.dataset.id, r.querySelector('.reason').value]));
  // A redraw after a decision replaces the rows: the reason being typed keeps its focus and caret.
  const active = document.activeElement;
  const editing = active?.classList.contains('reason') ? { id: active.closest('tr')?.dataset.id, start: active.selectionStart, end: active.selectionEnd } : undefined;
  $('#ap-total').textContent = `(${body.total})`;
  $('#approvals tbody').replaceChildren(...body.items.map((a) => {
    const reason = el('input', { class: 'reason', 'aria-label': `reason for order ${a.orderNumber}`, placeholder: 'reason' });
    reason.value = typed.get(a.id) ?? '';
    const decide = (action) => async () => {
      const res = await api('POST', `/api/approvals/${encodeURIComponent(a.id)}/${action}`, { by: $('#approver').value, reason: reason.value });
      $('#ap-error').hidden = res.ok;
      $('#ap-error').textContent = res.ok ? '' : res.body.error.message;
      await Promise.all([loadApprovals(), loadPipelines()]);
    };
    return el('tr', { 'data-id': a.id, 'data-order': a.orderNumber },
      el('td', {}, when(a.heldAt)),
      el('td', {}, a.pipeline),
      el('td', {}, a.orderNumber),
      el('td', {}, `${a.total} ${a.currency}`),
      el('td', {}, el('span', { class: `pill ${a.state === 'escalated' ? 'open' : ''}` }, a.state)),
      el('td', {}, when(a.deadline)),
      el('td', {}, reason),
      el('td', {}, el('button', { onclick: decide('approve') }, 'Approve'), ' ', el('button', { onclick: decide('reject') }, 'Reject')),
    );
  }));
  const again = editing && [...document.querySelectorAll('#approvals tbody tr')].find((r) => r.dataset.id === editing.id)?.querySelector('.reason');
  if (again) {
    again.focus();
    again.setSelectionRange(editing.start, editing.end);
  }
}

async function loadConflicts() {
  const { body } = await api('GET', '/api/conflicts?limit=20');
  $('#cf-total').textContent = `(${body.total})`;
  $('#conflicts tbody').replaceChildren(...body.items.map((c) => el('tr', {},
    el('td', {}, when(c.at)), el('td', {}, c.pipeline), el('td', {}, `${c.entity} · ${c.rule}`),
    el('td', {}, `${c.connection} ${c.externalId}`), el('td', {}, `${c.holder.connection} ${c.holder.externalId}`), el('td', {}, c.action))));
}

// ---- customer segments: sizes of the last computations (movement over time) ----

async function loadSegments() {
  const res = await api('GET', '/api/segments');
  if (!res.ok) return; // not configured: the section stays hidden
  $('#segments-section').hidden = false;
  $('#sg-when').textContent = res.body.computedAt ? `(computed ${when(res.body.computedAt)}, money in ${res.body.reportingCurrency})` : '(not computed yet)';
  const names = [...res.body.rules, 'other'];
  const recent = res.body.history.slice(-6).reverse();
  $('#segments thead').replaceChildren(el('tr', {}, el('th', {}, 'Computed'), ...names.map((n) => el('th', {}, n))));
  $('#segments tbody').replaceChildren(...recent.map((h) => el('tr', {},
    el('td', {}, when(h.at)), ...names.map((n) => el('td', { 'data-segment': n }, h.sizes.segments[n] ?? 0)))));
}

// ---- a record's timeline ----

/** What a step says, in a few words (the fields are those of src/timeline/steps.ts). */
function stepDetails(e) {
  switch (e.step) {
    case 'received': return e.via === 'webhook' ? `webhook event ${e.event}` : e.via === 'pull' ? `pull run ${e.run}, page ${e.page}` : `${e.via} ${e.delivery}`;
    case 'held': case 'skipped': return `${e.why}${e.target ? ` (${e.target})` : ''}`;
    case 'queued': return `for ${e.targets.join(', ')}${e.coalesced ? ', waiting to go with others' : ''}`;
    case 'pushed': return `${e.target}: ${e.externalId}`;
    case 'dead_lettered': return `${e.stage}${e.target ? ` → ${e.target}` : ''}: ${e.code}${e.deadLetter ? ` (dead letter ${e.deadLetter})` : ''}`;
    case 'replayed': return `dead letter ${e.deadLetter}${e.target ? ` to ${e.target}` : ''}`;
    case 'payment': return `${e.provider} ${e.paymentId}: ${e.status}${e.amount ? ` ${e.amount} ${e.currency}` : ''}${e.failureCode ? ` (${e.failureCode})` : ''}`;
    case 'status': return `${e.from ?? 'new'} → ${e.to}`;
    case 'notified': return `${e.sink}: ${e.event} ${e.outcome}`;
    default: return '';
  }
}

async function searchRecords(event) {
  event.preventDefault();
  const q = $('#rec-q').value.trim();
  if (!q) return;
  const res = await api('GET', `/api/records?q=${encodeURIComponent(q)}`);
  if (!res.ok) {
    $('#rec-results').replaceChildren(el('li', { class: 'bad' }, res.body.error.message));
    return;
  }
  const items = res.body.items;
  $('#rec-results').replaceChildren(...(items.length ? items.map((m) => el('li', { 'data-key': m.key },
    el('button', { type: 'button', onclick: () => showTimeline(m.key) }, m.key),
    ` ${m.entity} · found by ${m.matchedBy.join(', ')} · ${Object.entries(m.links).map(([c, id]) => `${c}: ${id}`).join(', ') || 'no links'}`)) : [el('li', { class: 'muted' }, 'no record found')]));
  if (items.length === 1) await showTimeline(items[0].key);
}

async function showTimeline(key) {
  const res = await api('GET', `/api/records/${encodeURIComponent(key)}/timeline`);
  $('#rec-timeline').hidden = false;
  if (!res.ok) {
    $('#rec-title').textContent = key;
    $('#rec-steps tbody').replaceChildren();
    $('#rec-note').textContent = res.body.error.message;
    return;
  }
  const r = res.body;
  $('#rec-title').textContent = `${r.entity} ${r.key}`;
  $('#rec-links').textContent = Object.entries(r.links).map(([c, id]) => `${c}: ${id}`).join(' · ');
  $('#rec-steps tbody').replaceChildren(...r.entries.map((e) => el('tr', { 'data-step': e.step },
    el('td', {}, when(e.at)), el('td', {}, e.step.replace('_', ' ')), el('td', {}, stepDetails(e)), el('td', {}, e.pipeline ?? ''))));
  $('#rec-note').textContent = `${r.entries.length} steps kept (at most ${r.maxEntries} per record, for ${r.retentionDays} days)${r.expired ? `; ${r.expired} older past the retention` : ''}${r.enabled === false ? '; timelines are off (timeline.enabled): no new steps are written' : ''}`;
}

// ---- erasure (the address typed is sent once and never shown back: records hold no personal data) ----

const removedText = (removed) => Object.entries(removed).filter(([, n]) => n > 0).map(([what, n]) => `${what} ${n}`).join(', ') || 'nothing';

async function loadErasures() {
  const { body } = await api('GET', '/api/erasure?limit=20');
  $('#erasures tbody').replaceChildren(...body.items.map((e) => el('tr', { 'data-id': e.id },
    el('td', {}, when(e.finishedAt)),
    el('td', {}, e.status),
    el('td', {}, removedText(e.removed)),
    el('td', {}, e.targets.map((t) => `${t.connection}: ${t.outcome} (${t.records})`).join(', ') || '—'),
    el('td', {}, e.origin ?? ''),
  )));
}

// ---- privacy requests (records and reports hold no personal data: kinds of records, fields, systems, dates) ----

const reportText = (r) => (r.found
  ? `holds ${r.records.map((x) => `${x.count} ${x.entity}`).join(', ')}; systems ${r.systems.map((s) => s.connection).join(', ') || 'none'}; ${r.deadLetters} dead letters`
  : 'holds nothing of the person');

async function loadPrivacyRequests() {
  const { body } = await api('GET', '/api/privacy-requests?limit=20');
  $('#privacy-requests tbody').replaceChildren(...body.items.map((p) => el('tr', { 'data-id': p.id },
    el('td', {}, when(p.receivedAt)),
    el('td', {}, p.connection),
    el('td', {}, p.topic),
    el('td', {}, p.requestId ?? ''),
    el('td', {}, p.report ? `report: ${reportText(p.report)}` : p.erasures?.length ? `erased (erasure ${p.erasures.join(', ')})` : 'nothing to erase'),
    el('td', {}, p.report ? el('button', { onclick: () => showPrivacyReport(p.id) }, 'Report') : ''),
  )));
}

async function showPrivacyReport(id) {
  const { body } = await api('GET', `/api/privacy-requests/${encodeURIComponent(id)}`);
  const pre = $('#privacy-report');
  pre.textContent = JSON.stringify(body, null, 2);
  pre.hidden = false;
}

async function erase(ev) {
  ev.preventDefault();
  const email = $('#erase-email').value.trim();
  const dryRun = $('#erase-dry').checked;
  if (!dryRun && !confirm('Erase this person from everything the hub holds? This cannot be undone.')) return;
  const res = await api('POST', '/api/erasure', { email, propagate: $('#erase-propagate').checked, dryRun });
  $('#erase-result').textContent = res.ok ? `${res.body.status}${dryRun ? ' (dry run, nothing changed)' : ''}: ${removedText(res.body.removed)}` : res.body.error.message;
  if (res.ok && !dryRun) $('#erase-email').value = '';
  await Promise.all([loadErasures(), loadDeadLetters()]);
}

// ---- mapping playground ----

let mappings = [];
let timer;

async function loadMappings() {
  mappings = (await api('GET', '/api/mappings')).body.mappings;
  $('#pg-mapping').replaceChildren(
    ...mappings.map((m, i) => el('option', { value: String(i) }, `${m.pipeline} · ${m.stage}${m.target ? ` → ${m.target}` : ''} · ${m.file.split('/').slice(-2).join('/')}`)),
    el('option', { value: 'free' }, 'any expression (no pipeline)'),
  );
  await pickMapping();
}

// A free expression: evaluated on the input below, validated only when an entity is chosen.
const isFree = () => $('#pg-mapping').value === 'free';

async function pickMapping() {
  $('#pg-entity-label').hidden = !isFree();
  if (isFree()) {
    $('#pg-sample').replaceChildren(el('option', { value: '' }, 'my own input (below)'));
    await preview();
    return;
  }
  const m = mappings[Number($('#pg-mapping').value)];
  if (!m) return;
  $('#pg-expression').value = m.source;
  const { body } = await api('GET', `/api/pipelines/${encodeURIComponent(m.pipeline)}/samples`);
  $('#pg-sample').replaceChildren(
    ...body.samples.map((s) => el('option', { value: String(s.index) }, `sample ${s.index + 1} · captured ${when(s.capturedAt)}`)),
    el('option', { value: '' }, 'my own input (below)'),
  );
  $('#pg-input').value = body.samples[0] ? JSON.stringify(body.samples[0].record, null, 2) : '{}';
  await preview();
}

async function preview() {
  const m = mappings[Number($('#pg-mapping').value)];
  if (!m && !isFree()) return;
  const req = isFree()
    ? { expression: $('#pg-expression').value, ...($('#pg-entity').value ? { entity: $('#pg-entity').value } : {}) }
    : { pipeline: m.pipeline, stage: m.stage, target: m.target, expression: $('#pg-expression').value };
  if ($('#pg-sample').value !== '') req.sample = Number($('#pg-sample').value);
  else {
    try {
      req.input = JSON.parse($('#pg-input').value || 'null');
    } catch (e) {
      showError(`input is not JSON: ${e.message}`);
      return;
    }
  }
  const res = await api('POST', '/api/mappings/preview', req);
  if (!res.ok) {
    const d = res.body.error.details;
    showError(`${res.body.error.code}${d && d.line ? ` at line ${d.line}, column ${d.column}` : ''}: ${res.body.error.message}`);
    return;
  }
  const r = res.body;
  $('#pg-output').textContent = JSON.stringify(r.output, null, 2);
  $('#pg-output').className = '';
  $('#pg-timing').textContent = `(${r.timing.evaluateMs} ms${r.masked ? ', personal fields masked' : ''})`;
  if (!r.validation) {
    $('#pg-validation').replaceChildren(el('p', { class: 'muted' }, 'not validated: choose an entity to check the output against the canonical model'));
    return;
  }
  $('#pg-validation').replaceChildren(r.validation.valid
    ? el('p', { class: 'ok' }, `valid canonical ${r.entity} (${r.validation.of})`)
    : el('ul', { class: 'bad' }, ...r.validation.problems.map((p) => el('li', {}, `${p.path} ${p.message}`))));
}

function showError(text) {
  $('#pg-output').textContent = text;
  $('#pg-output').className = 'bad';
  $('#pg-validation').replaceChildren();
  $('#pg-timing').textContent = '';
}

const later = () => {
  clearTimeout(timer);
  timer = setTimeout(preview, 250);
};

// ---- figures ----

async function loadFigures() {
  const to = new Date().toISOString().slice(0, 10);
  const from = new Date(Date.now() - 13 * 86400000).toISOString().slice(0, 10);
  const { body } = await api('GET', `/api/reports/orders?from=${from}&to=${to}`);
  const orderPipes = body.pipelines.filter((p) => p.entity === 'order');
  const days = orderPipes[0] ? orderPipes[0].days.map((d) => d.day) : [];
  const counts = days.map((_, i) => orderPipes.reduce((s, p) => s + p.days[i].orders.count, 0));
  const max = Math.max(1, ...counts);
  const w = 28, h = 110;
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${days.length * w} ${h + 16}`);
  svg.setAttribute('width', '100%');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', 'orders per day');
  counts.forEach((c, i) => {
    const bh = Math.round((c / max) * h);
    const rect = document.createElementNS(svg.namespaceURI, 'rect');
    Object.entries({ x: i * w + 4, y: h - bh, width: w - 8, height: bh, fill: '#2457c5' }).forEach(([k, v]) => rect.setAttribute(k, String(v)));
    const title = document.createElementNS(svg.namespaceURI, 'title');
    title.textContent = `${days[i]}: ${c} orders`;
    rect.append(title);
    const label = document.createElementNS(svg.namespaceURI, 'text');
    label.setAttribute('x', String(i * w + 4));
    label.setAttribute('y', String(h + 12));
    label.textContent = days[i].slice(8);
    svg.append(rect, label);
  });
  $('#chart').replaceChildren(svg);
  $('#totals tbody').replaceChildren(...orderPipes.flatMap((p) => Object.entries(p.totals.orders.byCurrency).map(([cur, f]) =>
    el('tr', {}, el('td', {}, p.pipeline), el('td', {}, cur), el('td', {}, f.count), el('td', {}, f.total), el('td', {}, f.average)))));
  // Order types over the 14 days, every order pipeline together (counts; amounts per currency are in the CSV).
  const sum = (pick) => orderPipes.reduce((s, p) => s + pick(p.totals.orders).count, 0);
  $('#order-types').textContent = orderPipes.length
    ? `Customers: new ${sum((o) => o.byCustomerType.new)}, returning ${sum((o) => o.byCustomerType.returning)}, unknown ${sum((o) => o.byCustomerType.unknown)} · recurring ${sum((o) => o.byRecurring.true)} of ${sum((o) => o)}`
    : '';
  $('#payments').textContent = body.pipelines.map((p) => {
    const pay = p.totals.payments;
    const t = p.totals.createdToPaid;
    return `${p.pipeline}: ${pay.succeeded} paid, ${pay.refunded} refunded, ${pay.failed} failed${pay.successRate === null ? '' : ` (${Math.round(pay.successRate * 1000) / 10}%)`}${t.medianSeconds === null ? '' : `, created → paid median ${t.medianSeconds} s, p95 ${t.p95Seconds} s`}`;
  }).join(' · ');
}

// ---- live events ----

function listenToEvents() {
  const source = new EventSource('/api/events');
  const show = (msg) => {
    const e = JSON.parse(msg.data);
    const text = e.order
      ? `${when(e.at)} ${e.pipeline} order ${e.order.orderNumber}: ${e.order.previousStatus ?? 'new'} → ${e.order.status} (${e.order.total} ${e.order.currency})`
      : `${when(e.at)} ${e.pipeline} payment ${e.payment.externalId} for order ${e.payment.orderNumber}: ${e.payment.status} (${e.payment.amount} ${e.payment.currency})`;
    $('#events').prepend(el('li', {}, text));
    while ($('#events').children.length > 50) $('#events').lastChild.remove();
  };
  source.addEventListener('order.status', show);
  source.addEventListener('payment.result', show);
  source.addEventListener('order.approval', (msg) => { show(msg); loadApprovals(); });
}

$('#rec-form').addEventListener('submit', searchRecords);
$('#erase-form').addEventListener('submit', erase);
$('#pg-mapping').addEventListener('change', pickMapping);
$('#pg-expression').addEventListener('input', later);
$('#pg-input').addEventListener('input', () => { $('#pg-sample').value = ''; later(); });
$('#pg-sample').addEventListener('change', later);
$('#pg-entity').addEventListener('change', later);

await loadPipelines();
await Promise.all([loadDeletions(), loadDeadLetters(), loadApprovals(), loadConflicts(), loadSegments(), loadMappings(), loadFigures(), loadErasures(), loadPrivacyRequests()]);
listenToEvents();
setInterval(() => { loadPipelines(); loadDeadLetters(); loadApprovals({ poll: true }); loadConflicts(); }, 3000);
setInterval(() => { loadFigures(); loadSegments(); loadDeletions(); }, 30000);
