// Progress across sessions for one athlete: handrail contact and firm share,
// steps, cadence and the level of the ladder, with the recommendation; how the
// steps go (steadiness, whole foot, leg asymmetry, best ascent power), a gap
// where a session has no such figure; and the way to the coach's report.

import { api, query } from './api.js';
import { chart, COLOURS } from './charts.js';
import * as f from './format.js';
import { startPanel } from './panel.js';
import { el, setText, showError } from './ui.js';

// the progression ladder, lowest first (rig/progression.py LEVELS)
const LEVELS = ['grip-firm', 'grip-light', 'grip-hover', 'volume-4', 'volume-8', 'speed', 'load-2kg', 'load-4kg'];
const ACTIONS = { advance: 'Move on', stay: 'Stay', step_back: 'Step back', rest: 'Rest' };
const select = document.getElementById('athlete-select');

const pct = (v) => (f.isNum(v) ? Math.round(v * 1000) / 10 : null);

function lineDataset(label, data, colour, extra = {}) {
  return { label, data, borderColor: colour, backgroundColor: colour, tension: 0.2, spanGaps: true, pointRadius: 3, ...extra };
}

// the three reliance lines often meet (no firm grip: contact = light touch): each its own mark,
// the one drawn first the biggest, so that every one stays visible where they overlap
const RELIANCE_MARKS = {
  contact: { pointStyle: 'circle', pointRadius: 9, pointHoverRadius: 10, backgroundColor: 'transparent', borderWidth: 2 },
  light: { pointStyle: 'rectRot', pointRadius: 6, pointHoverRadius: 7 },
  firm: { pointStyle: 'triangle', pointRadius: 5, pointHoverRadius: 6 },
};

// the plan's marks, from the rig's settings (the page's data-*: web/api_report.py)
const marks = document.getElementById('gait-charts').dataset;
const mark = (name) => (Number.isFinite(parseFloat(marks[name])) ? parseFloat(marks[name]) : null);

/** A dashed horizontal line at ``value`` across every session: one of the plan's marks. */
function markLine(label, value, n) {
  return { label, data: Array(n).fill(value), borderColor: COLOURS.mark, backgroundColor: COLOURS.mark,
    borderDash: [6, 4], borderWidth: 2, pointRadius: 0, pointHoverRadius: 0, tension: 0 };
}

// a session without the figure is null: a gap in the line, never a point at 0
const gapLine = (label, data, colour) => lineDataset(label, data, colour, { spanGaps: false });

function renderGait(rows, labels, common, weightKg) {
  const n = rows.length;
  const withLegend = common.plugins;    // the legend's boxes show the marks' dashes
  const percentAxis = (text) => ({ y: { beginAtZero: true, title: { display: true, text } } });
  const cv = mark('maxStepCvPct');
  chart(document.getElementById('chart-steadiness'), {
    type: 'line',
    data: { labels, datasets: [gapLine('Step-time variability %', rows.map((r) => pct(r.step_time_cv)), COLOURS.steadiness),
      ...(cv === null ? [] : [markLine(`Faster once at or below ${cv} %`, cv, n)])] },
    options: { ...common, plugins: withLegend, scales: percentAxis('% variation') },
  });
  const wf = mark('minWholeFootPct');
  chart(document.getElementById('chart-whole-foot'), {
    type: 'line',
    data: { labels, datasets: [gapLine('Whole foot %', rows.map((r) => pct(r.whole_foot_fraction)), COLOURS.wholeFoot),
      ...(wf === null ? [] : [markLine(`Less support once at ${wf} % or more`, wf, n)])] },
    options: { ...common, plugins: withLegend, scales: { y: { min: 0, max: 100, title: { display: true, text: '% of steps' } } } },
  });
  const flag = mark('asymmetryFlagPct');
  chart(document.getElementById('chart-asymmetry'), {
    type: 'line',
    data: { labels, datasets: [gapLine('Leg asymmetry %', rows.map((r) => pct(r.dwell_asymmetry)), COLOURS.asymmetry),
      ...(flag === null ? [] : [markLine(`Coach told above ${flag} %`, flag, n)])] },
    options: { ...common, plugins: withLegend, scales: percentAxis('% difference') },
  });
  const watts = rows.map((r) => (f.isNum(r.best_ascent_power_w) ? r.best_ascent_power_w : null));
  const perKg = watts.map((w) => (w !== null && f.isNum(weightKg) && weightKg > 0 ? Math.round((w / weightKg) * 100) / 100 : null));
  chart(document.getElementById('chart-power'), {
    type: 'line',
    data: { labels, datasets: [
      gapLine('Watts', watts, COLOURS.power),
      { ...gapLine('W per kg', perKg, COLOURS.powerPerKg), yAxisID: 'perKg', pointStyle: 'rectRot', borderDash: [2, 3] },
    ] },
    options: { ...common, plugins: withLegend,
      scales: { y: { beginAtZero: true, title: { display: true, text: 'W' } },
        perKg: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 'W/kg' } } } },
  });
}

function render(rows, athlete = {}) {
  const empty = rows.length === 0;
  // nothing to chart: say so, and show no empty axes
  document.getElementById('progress-empty').hidden = !empty;
  for (const card of document.querySelectorAll('.chart-card')) card.hidden = empty;
  if (empty) {
    setText(document.getElementById('progress-summary'), '');
    return;
  }
  const labels = rows.map((r) => f.shortDate(r.started_at));
  const tooltipTitle = (items) => (items.length ? f.dateTime(rows[items[0].dataIndex].started_at) : '');
  const common = { plugins: { tooltip: { callbacks: { title: tooltipTitle } } } };

  chart(document.getElementById('chart-reliance'), {
    type: 'line',
    data: {
      labels,
      datasets: [
        lineDataset('Rail contact %', rows.map((r) => pct(r.contact_fraction)), COLOURS.contact, RELIANCE_MARKS.contact),
        lineDataset('Light touch %', rows.map((r) => pct(r.light_fraction)), COLOURS.light, RELIANCE_MARKS.light),
        lineDataset('Firm grip %', rows.map((r) => pct(r.firm_fraction)), COLOURS.firm, RELIANCE_MARKS.firm),
      ],
    },
    options: { ...common, plugins: { ...common.plugins, legend: { labels: { usePointStyle: true } } },
      scales: { y: { min: 0, max: 100, title: { display: true, text: '% of active time' } } } },
  });
  chart(document.getElementById('chart-steps'), {
    type: 'bar',
    data: { labels, datasets: [{ label: 'Steps', data: rows.map((r) => r.steps), backgroundColor: COLOURS.steps }] },
    options: { ...common, scales: { y: { beginAtZero: true } }, plugins: { ...common.plugins, legend: { display: false } } },
  });
  chart(document.getElementById('chart-cadence'), {
    type: 'line',
    data: { labels, datasets: [lineDataset('Cadence (steps/min)', rows.map((r) => r.cadence_spm), COLOURS.cadence)] },
    options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: 'steps/min' } } },
      plugins: { ...common.plugins, legend: { display: false } } },
  });
  const levelIndex = (key) => {
    const i = LEVELS.indexOf(key);
    return i >= 0 ? i : null;
  };
  chart(document.getElementById('chart-level'), {
    type: 'line',
    data: { labels, datasets: [lineDataset('Level', rows.map((r) => levelIndex(r.level)), COLOURS.level, { stepped: true })] },
    options: {
      ...common,
      plugins: { ...common.plugins, legend: { display: false } },
      scales: { y: { min: 0, max: LEVELS.length - 1, ticks: { stepSize: 1, callback: (v) => LEVELS[v] ?? '' } } },
    },
  });

  renderGait(rows, labels, common, athlete.weight_kg);

  const last = rows[rows.length - 1];
  setText(document.getElementById('progress-summary'), last
    ? `${f.plural(rows.length, 'session')}; the last on ${f.dateTime(last.started_at)}: ${f.plural(last.steps ?? 0, 'step')}, `
      + `rail contact ${f.fractionPct(last.contact_fraction)}, firm grip ${f.fractionPct(last.firm_fraction)}.`
    : '');
}

// the standard stair tests (the Tests page's), one point a finished test: the power of a stair climb
// power test, the time of a timed stair climb, each against its own axis
async function loadStairTests() {
  const empty = document.getElementById('stair-tests-empty');
  const box = document.getElementById('stair-tests-box');
  if (!select.value) return;
  try {
    const data = await api.get(`/api/athletes/${encodeURIComponent(select.value)}/stair-tests`);
    const tests = (data.tests || []).filter((t) => t.status === 'done');
    empty.hidden = tests.length > 0;
    box.hidden = tests.length === 0;
    if (!tests.length) return;
    const value = (t, kind, key) => (t.kind === kind && f.isNum(t[key]) ? t[key] : null);
    chart(document.getElementById('chart-stair-tests'), {
      type: 'line',
      data: {
        labels: tests.map((t) => f.shortDate(t.started_at)),
        datasets: [
          lineDataset('Stair climb power (W)', tests.map((t) => value(t, 'stair_climb_power', 'power_w')), COLOURS.power),
          { ...lineDataset('Timed stair climb (s)', tests.map((t) => value(t, 'timed_stair_climb', 'duration_s')), COLOURS.steadiness),
            yAxisID: 'seconds', pointStyle: 'rectRot' },
        ],
      },
      options: {
        plugins: { tooltip: { callbacks: { title: (items) => (items.length ? f.dateTime(tests[items[0].dataIndex].started_at) : '') } } },
        scales: { y: { beginAtZero: true, title: { display: true, text: 'W' } },
          seconds: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: 's' } } },
      },
    });
  } catch (err) {
    showError(err);
  }
}

async function loadRecommendation() {
  try {
    const r = await api.get('/api/recommendation');
    const action = document.getElementById('rec-action');
    action.className = `badge ${r.action || ''}`;
    setText(action, ACTIONS[r.action] || r.action || '–');
    setText(document.getElementById('rec-level'), r.level_title ? `${f.capitalise(r.level_title)} (${r.level})` : r.level || '');
    setText(document.getElementById('rec-reason'), r.reason || '');
  } catch (err) {
    setText(document.getElementById('rec-reason'), err.message);
  }
}

async function loadProgress() {
  try {
    const data = await api.get(`/api/progress${query({ athlete_id: select.value })}`);
    render(data.sessions || [], data.athlete || {});
  } catch (err) {
    showError(err);
  }
}

async function loadAthletes() {
  const data = await api.get('/api/athletes');
  const athletes = (data.athletes || []).filter((a) => a.id != null);
  select.replaceChildren(...athletes.map((a) => el('option', { value: a.id }, a.name)));
  const wanted = new URLSearchParams(window.location.search).get('athlete_id');
  const selected = athletes.find((a) => String(a.id) === wanted) || athletes.find((a) => a.selected);
  if (selected) select.value = String(selected.id);
}

// the coach's report: the chosen athlete's, for the period picked (the last four weeks unless changed)
const reportForm = document.getElementById('report-form');
const localDay = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;

function setUpReport() {
  const today = new Date();
  const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 27);
  const fromInput = document.getElementById('report-from');
  const toInput = document.getElementById('report-to');
  if (!fromInput.value) fromInput.value = localDay(from);
  if (!toInput.value) toInput.value = localDay(today);
  const button = document.getElementById('report-open');
  button.disabled = !select.value;
  if (select.value) reportForm.action = `/athletes/${encodeURIComponent(select.value)}/report`;
}

select.addEventListener('change', () => {
  const url = new URL(window.location.href);
  url.searchParams.set('athlete_id', select.value);
  window.history.replaceState(null, '', url);
  setUpReport();
  loadProgress();
  loadStairTests();
});

loadAthletes().catch(showError).then(() => { setUpReport(); loadStairTests(); return loadProgress(); });
loadRecommendation();
startPanel({
  onUpdate(msg) {
    if (msg.reason === 'session_ended') setTimeout(() => { loadProgress(); loadRecommendation(); }, 1500);
  },
});
