// The rig check: every channel's raw value live (the stream with ?channels=1),
// tare and scale for the force channels (PIN), the guided walk test with
// its prompt and a verdict per channel (ok, dead, swapped, miswired), and a
// test of the fall alarm (PIN).

import { api } from './api.js';
import * as f from './format.js';
import { lockedReason, startPanel } from './panel.js';
import { busy, el, notify, setText } from './ui.js';

const WALK_POLL_MS = 400;
const VERDICTS = { ok: 'OK', dead: 'Dead', swapped: 'Swapped', miswired: 'Miswired', untested: 'Not checked yet' };

let info = {};                  // channel -> {kind, pin | adc_channel} from GET /api/rigcheck
let calibration = {};           // force channel -> {zero_offset, scale_n, source, updated_at}
let liveChannels = {};          // channel -> {value, t_s} from the stream
let streaming = false;          // the stream has sent its channels: until then no figure is shown
let engineT = null;
let stuck = new Set();
const rows = new Map();         // channel -> {value, age, note} cells
const calRows = new Map();      // force channel -> {force, zero, scale, source} cells
let walkTimer = null;

function describe(channel) {
  const parts = channel.split('.');
  if (parts[0] === 'tread') return `Tread ${parts[1]}${parts[2] ? ` (${parts[2]} half)` : ''}`;
  if (parts[0] === 'rail') return `${f.capitalise(parts[1])} rail, ${parts[2] === 'force' ? 'force' : 'touch pad'}`;
  return channel;
}

function wiring(channel) {
  const i = info[channel] || {};
  if (i.kind === 'force' && i.hx711) return `HX711 DOUT GPIO${i.hx711.dout} · SCK GPIO${i.hx711.sck} · ${i.hx711.rate_hz} Hz`;
  if (i.kind === 'force') return `MCP3008 CH${i.adc_channel}`;
  if (i.pin !== undefined) return `GPIO${i.pin}`;
  return '';
}

function isForce(channel) {
  return (info[channel] && info[channel].kind === 'force') || channel.endsWith('.force');
}

function buildChannelTable(channels) {
  const body = document.getElementById('channels-body');
  rows.clear();
  body.replaceChildren(...channels.map((channel) => {
    const value = el('td', { class: 'num' }, '–');
    const age = el('td', { class: 'num' }, '–');
    const note = el('td', {}, '');
    rows.set(channel, { value, age, note });
    return el('tr', { dataset: { channel } }, el('td', {}, el('code', {}, channel)),
      el('td', {}, describe(channel), el('span', { class: 'muted' }, ` · ${wiring(channel)}`)), value, age, note);
  }));
}

function renderChannels() {
  if (!streaming) {
    // before the stream's first state the figures would be stale or made up: say what is going on
    for (const cells of rows.values()) {
      setText(cells.value, 'connecting…');
      cells.value.className = 'num muted';
      setText(cells.age, '');
      setText(cells.note, '');
    }
    for (const cells of calRows.values()) setText(cells.force, 'connecting…');
    return;
  }
  for (const [channel, cells] of rows) {
    const c = liveChannels[channel] || {};
    const v = c.value;
    cells.value.className = 'num';
    if (v === null || v === undefined) {
      setText(cells.value, '–');
    } else if (isForce(channel)) {
      const cal = calibration[channel];
      const reading = cal ? ` · ${(v / cal.scale_n + cal.zero_offset).toFixed(3)}` : '';
      setText(cells.value, `${f.number(v, 1)} N${reading}`);
    } else {
      setText(cells.value, v ? 'on' : 'off');
      if (v) cells.value.classList.add('channel-on');
    }
    cells.value.closest('tr').dataset.value = v === null || v === undefined ? '' : String(v);
    const since = f.isNum(c.t_s) && f.isNum(engineT) ? Math.max(0, engineT - c.t_s) : null;
    setText(cells.age, since === null ? 'never' : since < 60 ? `${since.toFixed(1)} s ago` : f.duration(since) + ' ago');
    const isStuck = stuck.has(channel);
    cells.note.className = isStuck ? 'channel-stuck' : '';
    const quiet = isForce(channel) ? 'no reading yet' : 'no change seen since the rig started';
    setText(cells.note, isStuck ? 'on for a long time: stuck?' : since === null ? quiet : '');
  }
  for (const [channel, cells] of calRows) {
    const v = (liveChannels[channel] || {}).value;
    setText(cells.force, f.isNum(v) ? `${f.number(v, 1)} N` : '–');
  }
}

function renderCalibration() {
  const body = document.getElementById('calibration-body');
  const channels = Object.keys(calibration);
  document.getElementById('calibration-empty').hidden = channels.length > 0;
  document.getElementById('calibration-table').hidden = channels.length === 0;
  calRows.clear();
  body.replaceChildren(...channels.map((channel) => {
    const c = calibration[channel];
    const force = el('td', { class: 'num' }, '–');
    const tare = el('button', { type: 'button', dataset: { action: 'tare' } }, 'Tare');
    const kg = el('input', { type: 'number', class: 'kg', min: 0.5, max: 300, step: 0.1, inputmode: 'decimal',
      placeholder: 'kg', 'aria-label': `Known mass on ${channel} in kg` });
    const scale = el('button', { type: 'button', dataset: { action: 'scale' } }, 'Scale');
    tare.addEventListener('click', () => calibrate(tare, channel, 'tare', {}));
    scale.addEventListener('click', () => {
      const known = Number(kg.value);
      if (kg.value.trim() === '' || !Number.isFinite(known)) {
        setText(document.getElementById('calibration-error'), 'Enter the known mass in kg first (0.5 to 300).');
        return;
      }
      calibrate(scale, channel, 'scale', { known_kg: known });
    });
    // the server refuses these without the PIN: locked, and the note above says why
    for (const control of [tare, kg, scale]) control.disabled = Boolean(lockedReason());
    calRows.set(channel, { force });
    const from = c.source === 'file' ? `rig check${c.updated_at ? `, ${f.dateTime(c.updated_at)}` : ''}` : 'configuration file';
    return el('tr', { dataset: { channel } },
      el('td', {}, el('code', {}, channel)), force,
      el('td', { class: 'num' }, f.number(c.zero_offset, 4)),
      el('td', { class: 'num' }, f.number(c.scale_n, 1)),
      el('td', {}, from), el('td', {}, tare),
      el('td', {}, el('span', { class: 'form-row' }, kg, scale)));
  }));
  renderChannels();
}

async function calibrate(button, channel, what, body) {
  const error = document.getElementById('calibration-error');
  setText(error, '');
  await busy(button, async () => {
    let result;
    try {
      result = await api.post(`/api/calibration/${encodeURIComponent(channel)}/${what}`, body);
    } catch (err) {
      setText(error, `${channel}: ${err.message}`);
      return;
    }
    calibration[channel] = { ...calibration[channel], ...result };
    delete calibration[channel].channel;
    renderCalibration();
    notify(what === 'tare' ? `${channel}: zero set to ${f.number(result.zero_offset, 4)}`
      : `${channel}: scale set to ${f.number(result.scale_n, 1)} N per unit`, 'ok');
  });
}

async function loadOverview() {
  try {
    const data = await api.get('/api/rigcheck');
    info = data.channels || {};
    calibration = data.calibration || {};
    buildChannelTable(Object.keys(info));
    renderCalibration();
    // a walk test another tablet started, or the last one's results (null before the first)
    renderWalk(data.walktest || null);
    pollWalk(data.walktest || null);
  } catch (err) {
    setText(document.getElementById('calibration-error'), err.message);
  }
}

// -- the walk test ----------------------------------------------------------------------

function renderWalk(state) {
  const running = state && !state.done && !state.cancelled;
  document.getElementById('walk-start').hidden = Boolean(running);
  document.getElementById('walk-cancel').hidden = !running;
  document.getElementById('walk-skip').hidden = !running;
  if (!state) {
    setText(document.getElementById('walk-prompt'), 'Not running.');
    setText(document.getElementById('walk-detail'), '');
    document.getElementById('walk-results').hidden = true;
    return;
  }
  const prompt = document.getElementById('walk-prompt');
  setText(prompt, state.prompt || '');
  prompt.dataset.step = String(state.step);
  let detail = '';
  if (running) {
    detail = `Prompt ${state.step + 1} of ${state.steps}.`;
    if (state.waiting_for_release && state.waiting_for_release.length) detail += ` Now let go of it (${state.waiting_for_release.join(', ')}).`;
    else if (state.fired && state.fired.length) detail += ` Seen: ${state.fired.join(', ')}.`;
    else if (state.expect && state.expect.length) detail += ` Waiting for ${state.expect.join(' and ')}.`;
  }
  setText(document.getElementById('walk-detail'), detail);
  const results = Object.entries(state.results || {});
  const table = document.getElementById('walk-results');
  table.hidden = results.length === 0;
  document.getElementById('walk-body').replaceChildren(...results.map(([channel, r]) => el('tr', { dataset: { channel, verdict: r.verdict } },
    el('td', {}, el('code', {}, channel)),
    el('td', { class: r.verdict === 'ok' ? 'verdict-ok' : r.verdict === 'untested' ? 'muted' : 'verdict-bad' }, VERDICTS[r.verdict] || r.verdict),
    el('td', {}, r.detail || ''))));
}

function pollWalk(state) {
  clearTimeout(walkTimer);
  walkTimer = null;
  if (state && !state.done && !state.cancelled) {
    walkTimer = setTimeout(async () => {
      try {
        const next = await api.get('/api/walktest');
        renderWalk(next);
        pollWalk(next);
      } catch (err) {
        setText(document.getElementById('walk-error'), err.message);
        pollWalk(state);
      }
    }, WALK_POLL_MS);
  }
}

async function walkAction(button, url) {
  setText(document.getElementById('walk-error'), '');
  await busy(button, async () => {
    let state;
    try {
      state = await api.post(url, {});
    } catch (err) {
      setText(document.getElementById('walk-error'), err.message);
      return;
    }
    renderWalk(state);
    pollWalk(state);
  });
}

document.getElementById('walk-start').addEventListener('click', (e) => walkAction(e.currentTarget, '/api/walktest/start'));
document.getElementById('walk-cancel').addEventListener('click', (e) => walkAction(e.currentTarget, '/api/walktest/cancel'));
document.getElementById('walk-skip').addEventListener('click', (e) => walkAction(e.currentTarget, '/api/walktest/skip'));

// -- the fall alarm test ---------------------------------------------------------------------

document.getElementById('alarm-test-start').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  const error = document.getElementById('alarm-test-error');
  setText(error, '');
  try {
    await api.command('test_fall_alarm', {});
  } catch (err) {
    setText(error, err.message);
  }
  // the alarm's overlay comes with the live state, on this tablet and every other
}));

function showLocks() {
  const reason = lockedReason();
  for (const id of ['calibration-locked', 'alarm-test-locked']) {
    const note = document.getElementById(id);
    note.hidden = !reason;
    setText(note, reason || '');
  }
  document.getElementById('alarm-test-start').disabled = Boolean(reason);
}

showLocks();
loadOverview();
startPanel({
  channels: true,
  onState(state, msg) {
    engineT = state.t_s;
    stuck = new Set(state.stuck_channels || []);
    if (msg.channels) {
      liveChannels = msg.channels;
      streaming = true;
    }
    renderChannels();
  },
  onStatus(status) {
    if (status === 'disconnected' && streaming) {
      streaming = false;            // the figures would go stale: back to "connecting…"
      renderChannels();
    }
  },
});
