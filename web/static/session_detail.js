// One session: its figures, its flights (table and chart), events, notes,
// export downloads, and deleting it (PIN).

import { api } from './api.js';
import { chart, COLOURS } from './charts.js';
import * as f from './format.js';
import { lockedReason, startPanel } from './panel.js';
import { busy, el, notify, setText } from './ui.js';

const id = document.body.dataset.sessionId;
// what /api/sessions/<id>/export.<fmt> serves (rig/history/export.py)
const EXPORTS = [
  ['json', 'Session (JSON)'],
  ['csv', 'Figures (CSV)'],
  ['fit', 'Export for Garmin/Strava (FIT)'],
  ['jsonl.gz', 'Raw trace'],
];
const EVENT_WORDS = {
  grab: 'Grab',
  stall: 'Stall',
  fall_suspected: 'Suspected fall',
  fall_acknowledged: "Fall alarm ended ('I'm OK')",
  fall_alarm_test: 'Test of the fall alarm (not a fall)',
};

function figure(label, value) {
  return el('div', { class: 'figure' }, el('span', { class: 'label' }, label), el('span', { class: 'value' }, value));
}

function share(part, whole) {
  return f.isNum(part) && f.isNum(whole) && whole > 0 ? `${Math.round((part / whole) * 100)} %` : '–';
}

function renderFigures(s) {
  setText(document.getElementById('detail-title'), `Session of ${f.dateTime(s.started_at)}`);
  const status = s.status === 'open' ? ' · running' : s.status === 'recovered' ? ' · recovered after a restart' : '';
  const who = s.athlete && s.athlete.name ? `${s.athlete.name} · ` : '';
  const drill = { facing: s.drill_facing, grip: s.drill_grip, planned_flights: s.planned_flights, added_load_kg: s.added_load_kg };
  // the history keeps why the session ended as its last event
  const end = (s.events || []).find((e) => e.type === 'session_ended');
  const why = end && end.detail && end.detail.reason ? ` · ended: ${end.detail.reason}` : '';
  setText(document.getElementById('detail-sub'), `${who}Drill: ${f.drillWords(drill)} · level ${s.level || '–'}${status}${why}`);
  document.getElementById('detail-figures').replaceChildren(
    figure('Time', f.duration(s.duration_s)),
    figure('Active', f.duration(s.active_s)),
    figure('Steps', `${s.steps ?? 0}`),
    figure('Up / down', `${s.steps_up ?? 0} / ${s.steps_down ?? 0}`),
    figure('Flights', `${(s.ascents || 0) + (s.descents || 0)}`),
    figure('Elevation', f.elevationText(s.elevation_gain_m)),
    figure('Cadence', f.isNum(s.cadence_spm) ? `${f.number(s.cadence_spm)} /min` : '–'),
    figure('Rail contact', f.fractionPct(s.contact_fraction)),
    figure('Light touch', f.fractionPct(s.light_fraction)),
    figure('Firm grip', f.fractionPct(s.firm_fraction)),
    figure('Grabs · stalls · falls', `${s.grabs ?? 0} · ${s.stalls ?? 0} · ${s.falls ?? 0}`),
    figure('Energy', f.isNum(s.energy_kcal) ? `${f.number(s.energy_kcal, 1)} kcal` : '–'),
  );
}

function renderFlights(flights) {
  const body = document.getElementById('flights-body');
  body.replaceChildren(...flights.map((fl) => el('tr', {},
    el('td', { class: 'num' }, fl.idx),
    el('td', {}, fl.direction === 'up' ? 'Up' : fl.direction === 'down' ? 'Down' : fl.direction),
    el('td', { class: 'num' }, f.duration(fl.t_start_s)),
    el('td', { class: 'num' }, `${f.number(fl.duration_s, 1)} s`),
    el('td', { class: 'num' }, fl.steps),
    el('td', { class: 'num' }, f.number(fl.cadence_spm)),
    el('td', { class: 'num' }, share(fl.contact_s, fl.duration_s)),
    el('td', { class: 'num' }, share(fl.light_s, fl.duration_s)),
    el('td', { class: 'num' }, share(fl.firm_s, fl.duration_s)))));
  document.getElementById('flights-empty').hidden = flights.length > 0;
  const box = document.getElementById('flights-chart').parentElement;
  box.hidden = flights.length === 0;
  if (!flights.length) return;
  const pctOf = (k) => flights.map((fl) => (f.isNum(fl[k]) && fl.duration_s > 0 ? Math.round((fl[k] / fl.duration_s) * 100) : null));
  chart(document.getElementById('flights-chart'), {
    type: 'bar',
    data: {
      labels: flights.map((fl) => `${fl.idx} ${fl.direction === 'up' ? '↑' : '↓'}`),
      datasets: [
        { label: 'Rail contact %', data: pctOf('contact_s'), backgroundColor: COLOURS.contact, yAxisID: 'pct' },
        { label: 'Firm grip %', data: pctOf('firm_s'), backgroundColor: COLOURS.firm, yAxisID: 'pct' },
        { type: 'line', label: 'Cadence (steps/min)', data: flights.map((fl) => fl.cadence_spm), borderColor: COLOURS.cadence,
          backgroundColor: COLOURS.cadence, yAxisID: 'spm' },
      ],
    },
    options: {
      scales: {
        pct: { position: 'left', min: 0, max: 100, title: { display: true, text: '% of the flight' } },
        spm: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'steps/min' } },
      },
    },
  });
}

function eventText(e) {
  const d = e.detail || {};
  let words = EVENT_WORDS[e.type] || e.type;
  if (e.type === 'fall_acknowledged' && d.test) words = "Test fall alarm ended ('I'm OK')";
  if (e.type === 'fall_alarm_test' && d.by) words += `, raised by ${d.by}`;
  if (e.type === 'grab' && d.rail) words += ` on the ${d.rail} rail${f.isNum(d.force_n) ? ` (${f.force(d.force_n)})` : ''}`;
  if ((e.type === 'stall' || e.type === 'fall_suspected') && d.tread) words += ` on tread ${d.tread}`;
  return `${f.duration(e.t_s)} · ${words}`;
}

function renderEvents(all) {
  const events = all.filter((e) => e.type !== 'session_ended');   // shown as the session's end, above
  document.getElementById('events-list').replaceChildren(...events.map((e) => el('li', {}, eventText(e))));
  document.getElementById('events-empty').hidden = events.length > 0;
}

function renderNotes(s) {
  const n = s.notes || { effort: s.effort, pain: s.pain, dizziness: s.dizziness, text: s.notes_text };
  const rows = [
    ['Effort (0 to 10)', n.effort ?? '–'],
    ['Pain (0 to 10)', n.pain ?? '–'],
    ['Dizziness', n.dizziness == null ? '–' : n.dizziness ? 'yes' : 'no'],
    ['Notes', n.text || '–'],
  ];
  document.getElementById('notes').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { class: 'muted' }, k), el('dd', {}, v)]));
}

function renderExports(s) {
  document.getElementById('export-buttons').replaceChildren(...EXPORTS
    .filter(([fmt]) => (fmt !== 'jsonl.gz' || s.has_trace) && (fmt !== 'fit' || s.status !== 'open'))
    .map(([fmt, label]) => el('a', { class: 'button', href: `/api/sessions/${id}/export.${fmt}`, download: '' }, label)));
}

async function load() {
  try {
    const s = await api.get(`/api/sessions/${encodeURIComponent(id)}`);
    renderFigures(s);
    renderFlights(s.flights || []);
    renderEvents(s.events || []);
    renderNotes(s);
    renderExports(s);
  } catch (err) {
    setText(document.getElementById('detail-error'), err.message);
  }
}

/** Without the PIN the server refuses to delete (401): the button is disabled and the note says
 * how to unlock it (or set a PIN), as Settings does, before anyone tries. */
function lockDelete() {
  const reason = lockedReason();
  const note = document.getElementById('delete-locked');
  note.hidden = !reason;
  setText(note, reason || '');
  document.getElementById('delete-session').disabled = Boolean(reason);
}

document.getElementById('delete-session').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  if (!window.confirm('Delete this session and its trace? This cannot be undone.')) return;
  await api.del(`/api/sessions/${encodeURIComponent(id)}`);
  notify('Session deleted', 'ok');
  window.location.href = '/history';
}));

lockDelete();
load();
startPanel({});
