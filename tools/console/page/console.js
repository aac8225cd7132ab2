// The audit console's page: plain DOM and canvas, no build step. Every value from the bucket goes
// into the page as text (textContent), never as HTML.

const $ = (selector) => document.querySelector(selector);
const state = { cursors: [null], page: 0, nextCursor: null, selected: null, duration: 0 };

async function api(path, init) {
  const response = await fetch(path, init);
  const body = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) throw new Error(body.error ?? `${response.status} ${response.statusText}`);
  return body;
}

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function seconds(value) {
  if (value === null || value === undefined) return '–';
  const total = Math.round(value * 10) / 10;
  const minutes = Math.floor(total / 60);
  const rest = (total - minutes * 60).toFixed(1);
  return minutes ? `${minutes}m ${rest}s` : `${rest}s`;
}

function filterQuery() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($('#filters'))) if (String(value).trim()) params.set(name, value);
  return params;
}

function setBadge(node, verified) {
  node.classList.remove('pass', 'fail');
  if (verified === 'pass') node.classList.add('pass');
  if (verified === 'fail') node.classList.add('fail');
  node.textContent =
    verified === 'pass' ? 'verified' : verified === 'fail' ? 'FAILED verification' : 'not verified';
}

async function loadList() {
  const params = filterQuery();
  const cursor = state.cursors[state.page];
  if (cursor) params.set('cursor', cursor);
  $('#list-status').textContent = 'Loading…';
  try {
    const page = await api(`/api/recordings?${params}`);
    state.nextCursor = page.nextCursor;
    renderRows(page.rows);
    const more = page.complete
      ? ''
      : ` (stopped after looking at ${page.scanned} recordings: press Older to go on)`;
    const source =
      page.source === 'index'
        ? ' (found through the recordings index: S3 Metadata and Athena; today listed directly)'
        : '';
    $('#list-status').textContent = `${page.rows.length} recording(s) on this page${more}${source}`;
  } catch (error) {
    $('#list-status').textContent = `Could not list recordings: ${error.message}`;
  }
  $('#newer').disabled = state.page === 0;
  $('#older').disabled = !state.nextCursor;
}

function renderRows(rows) {
  const body = $('#list tbody');
  body.replaceChildren();
  for (const row of rows) {
    const tr = element('tr', undefined, { 'data-uuid': row.uuid, 'data-day': row.day });
    tr.append(
      element('td', row.startedAt ? row.startedAt.replace('T', ' ').slice(0, 19) : row.day),
      element('td', row.from ?? '–'),
      element('td', row.to ?? '–'),
      element('td', seconds(row.durationSeconds)),
      element('td', row.state, { class: `state-${row.state}`, title: row.problem ?? '' }),
    );
    const badgeCell = element('td');
    const badge = element('span', undefined, { class: 'badge' });
    setBadge(badge, row.verified);
    badgeCell.append(badge);
    const open = element('button', row.uuid, { type: 'button', 'aria-label': `Open call ${row.uuid}` });
    open.addEventListener('click', () => openCall(row.day, row.uuid));
    const openCell = element('td');
    openCell.append(open);
    tr.append(badgeCell, openCell);
    if (state.selected?.uuid === row.uuid) tr.classList.add('selected');
    body.append(tr);
  }
}

function callPath(day, uuid) {
  return `/api/recordings/${encodeURIComponent(day)}/${encodeURIComponent(uuid)}`;
}

async function openCall(day, uuid) {
  state.selected = { day, uuid };
  for (const tr of document.querySelectorAll('#list tbody tr')) {
    tr.classList.toggle('selected', tr.dataset.uuid === uuid && tr.dataset.day === day);
  }
  const section = $('#detail');
  section.hidden = false;
  $('#detail-uuid').textContent = uuid;
  $('#verify-details').replaceChildren();
  let detail;
  try {
    detail = await api(callPath(day, uuid));
  } catch (error) {
    $('#metadata-problem').hidden = false;
    $('#metadata-problem').textContent = error.message;
    return;
  }
  setBadge($('#badge'), detail.row.verified);
  const base = callPath(day, uuid);
  $('#download-wav').href = `${base}/download/wav`;
  $('#download-json').href = `${base}/download/json`;
  const player = $('#player');
  player.src = detail.wavKey ? `${base}/audio` : '';
  state.duration = detail.metadata?.durationSeconds ?? 0;
  renderMetadata(detail);
  renderMarkers(detail.metadata);
  renderTrail(detail.trail);
  drawWaveform([]);
  if (detail.wavKey) {
    api(`${base}/peaks`)
      .then((result) => {
        if (state.selected?.uuid === uuid) drawWaveform(result.peaks);
      })
      .catch(() => {});
  }
}

function renderMetadata(detail) {
  const problem = $('#metadata-problem');
  problem.hidden = !detail.metadataProblem;
  problem.textContent = detail.metadataProblem ?? '';
  const list = $('#metadata');
  list.replaceChildren();
  const metadata = detail.metadata ?? {};
  const fields = [
    ['Caller', metadata.from],
    ['Callee', metadata.to],
    ['Started', metadata.startedAt],
    ['Ended', metadata.endedAt],
    ['Duration', metadata.durationSeconds === undefined ? undefined : seconds(metadata.durationSeconds)],
    ['Sample rate', metadata.sampleRate && `${metadata.sampleRate} Hz`],
    [
      'Ended by',
      metadata.end &&
        `${metadata.end.by} (close ${metadata.end.code}${metadata.end.reason ? `, ${metadata.end.reason}` : ''})`,
    ],
    ['Interrupted', metadata.interrupted === undefined ? undefined : String(metadata.interrupted)],
    ['Conversation', metadata.conversationUuid],
    ['SHA-256', metadata.sha256],
    ['WAV', detail.wavKey ?? 'missing'],
    ['Size', metadata.wavBytes && `${metadata.wavBytes} bytes`],
    ['Frames', metadata.frameCount],
  ];
  for (const [name, value] of fields) {
    if (value === undefined || value === null) continue;
    list.append(element('dt', name), element('dd', value));
  }
}

function markerLabel(text) {
  const event = text.event ?? {};
  if (event.event === 'websocket:dtmf') return `DTMF ${event.digit ?? '?'}`;
  return String(event.event ?? 'text');
}

function renderMarkers(metadata) {
  const markers = $('#markers');
  for (const old of markers.querySelectorAll('button')) old.remove();
  if (!metadata || !state.duration) return;
  for (const text of metadata.textEvents ?? []) {
    const at = text.offsetMs / 1000;
    const label = markerLabel(text);
    const button = element('button', label.replace('DTMF ', ''), {
      type: 'button',
      'data-offset-ms': String(text.offsetMs),
      'aria-label': `${label} at ${at.toFixed(2)} s: play from here`,
      title: `${label} at ${at.toFixed(2)} s`,
    });
    button.style.left = `${Math.min(100, (at / state.duration) * 100)}%`;
    button.addEventListener('click', () => seek(at));
    markers.append(button);
  }
}

function renderTrail(trail) {
  const findings = $('#findings');
  const body = $('#trail tbody');
  findings.replaceChildren();
  body.replaceChildren();
  if (!trail) {
    findings.append(element('li', 'No trail: the metadata is missing or unreadable.', { class: 'gap' }));
    return;
  }
  for (const finding of trail.findings) {
    findings.append(element('li', `${finding.kind}: ${finding.message}`, { class: finding.kind }));
  }
  if (trail.findings.length === 0)
    findings.append(element('li', 'Events and recording agree; nothing missing.'));
  for (const event of trail.events) {
    const tr = element('tr');
    if (event.notes.length) tr.classList.add('disagreement');
    const details = [];
    if (event.event.duration !== undefined) details.push(`duration ${event.event.duration} s`);
    details.push(...event.notes);
    tr.append(
      element('td', event.timestamp ?? '–'),
      element('td', event.gapSeconds === null ? '' : event.gapSeconds.toFixed(1)),
      element('td', event.leg),
      element('td', event.status),
      element('td', details.join('; ')),
    );
    body.append(tr);
  }
}

function drawWaveform(peaks) {
  const canvas = $('#waveform');
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  const middle = canvas.height / 2;
  context.fillStyle = '#0969da';
  const width = canvas.width / Math.max(1, peaks.length);
  peaks.forEach((peak, index) => {
    const height = Math.max(1, peak * middle);
    context.fillRect(index * width, middle - height, Math.max(1, width - 0.5), height * 2);
  });
}

function seek(at) {
  const player = $('#player');
  player.currentTime = at;
  player.play().catch(() => {});
}

function updatePlayhead() {
  const player = $('#player');
  const total = player.duration || state.duration;
  $('#playhead').style.left = total ? `${(player.currentTime / total) * 100}%` : '0';
}

async function verifySelected() {
  const { day, uuid } = state.selected;
  const badge = $('#badge');
  badge.textContent = 'verifying…';
  try {
    const result = await api(`${callPath(day, uuid)}/verify`, { method: 'POST' });
    setBadge(badge, result.ok ? 'pass' : 'fail');
    const rowBadge = document.querySelector(`#list tbody tr[data-uuid="${CSS.escape(uuid)}"] .badge`);
    if (rowBadge) setBadge(rowBadge, result.ok ? 'pass' : 'fail');
    $('#verify-details').replaceChildren(
      ...result.failed.map((line) => element('li', line, { class: 'problem' })),
    );
  } catch (error) {
    badge.textContent = `could not verify: ${error.message}`;
  }
}

async function verifyAll() {
  const status = $('#list-status');
  let cursor = null;
  let checked = 0;
  let failed = 0;
  try {
    do {
      const params = filterQuery();
      if (cursor) params.set('cursor', cursor);
      const result = await api(`/api/verify?${params}`, { method: 'POST' });
      checked += result.results.length;
      failed += result.results.filter((item) => !item.ok).length;
      status.textContent = `Verified ${checked} recording(s), ${failed} failed…`;
      cursor = result.nextCursor;
    } while (cursor);
    await loadList();
    status.textContent = `Verified ${checked} recording(s): ${failed} failed.`;
  } catch (error) {
    status.textContent = `Verification stopped: ${error.message}`;
  }
}

$('#filters').addEventListener('submit', (event) => {
  event.preventDefault();
  state.cursors = [null];
  state.page = 0;
  loadList();
});
$('#older').addEventListener('click', () => {
  state.cursors[state.page + 1] = state.nextCursor;
  state.page += 1;
  loadList();
});
$('#newer').addEventListener('click', () => {
  state.page = Math.max(0, state.page - 1);
  loadList();
});
$('#verify').addEventListener('click', verifySelected);
$('#verify-all').addEventListener('click', verifyAll);
$('#waveform').addEventListener('click', (event) => {
  const box = event.currentTarget.getBoundingClientRect();
  const total = $('#player').duration || state.duration;
  if (total) seek(((event.clientX - box.left) / box.width) * total);
});
$('#player').addEventListener('timeupdate', updatePlayhead);
$('#player').addEventListener('seeked', updatePlayhead);

api('/api/info')
  .then((info) => {
    $('#target').textContent = info.target;
  })
  .catch(() => {});
loadList();
