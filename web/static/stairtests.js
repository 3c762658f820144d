// The stair tests page: pick an athlete and a test, read (and hear) the instructions, start it (PIN),
// follow the countdown and the timer from the live state's stair_test, then the result against the
// literature's MDC and norms (the server's words, GET /api/athletes/<id>/stair-tests) and the trend.

import { api } from './api.js';
import { chart, COLOURS } from './charts.js';
import { sound } from './cues.js';
import * as f from './format.js';
import { lockedReason, startPanel } from './panel.js';
import { el, setText, showError } from './ui.js';

const KIND_WORDS = { stair_climb_power: 'Stair climb power', timed_stair_climb: 'Timed stair climb' };
const STATE_WORDS = {
  countdown: 'Get ready…', running: 'Go!', done: 'Done', aborted: 'Stopped', invalid: 'Not valid',
};
const form = document.getElementById('test-form');
const athleteSelect = document.getElementById('test-athlete');
const kindSelect = document.getElementById('test-kind');
const rails = document.getElementById('test-rails');
const startButton = document.getElementById('test-start');
const cancelButton = document.getElementById('test-cancel');
let last = null;            // the last stair_test state seen (to speak each change once)
let spokenCount = null;     // the countdown number last spoken
let trend = null;

function instructions() {
  const railWords = rails.checked ? 'Use a rail if you need it.' : 'Keep your hands off the rails.';
  if (kindSelect.value === 'timed_stair_climb') {
    return 'Timed stair climb. Stand on the floor at the foot of the stairs. When you hear go, climb to the top '
      + `as quickly as you safely can, turn round, and come back down to the floor. ${railWords}`;
  }
  return 'Stair climb power test. Stand on the floor at the foot of the stairs, facing them. When you hear go, '
    + `climb to the top tread as quickly as you safely can, and stop there. ${railWords}`;
}

/** Say something to the athlete: spoken, or beeps where the browser has no voice. */
function say(words) {
  sound.log.push({ name: 'stairtest', words, t: Date.now(), played: sound.state === 'on' });
  if (sound.state !== 'on') return;
  if (!(sound.settings.voice && sound.speak(words))) sound.beeps([[523, 0.12], [784, 0.2]]);
}

/** Wait until the voice has finished what it was saying (at most maxMs): the countdown starts after
 * the instructions, not under them. */
async function speechDone(maxMs = 30000) {
  const synth = window.speechSynthesis;
  const until = Date.now() + maxMs;
  await new Promise((resolve) => { setTimeout(resolve, 300); });
  while (synth && synth.speaking && Date.now() < until) {
    await new Promise((resolve) => { setTimeout(resolve, 200); });
  }
}

function showInstructions() {
  setText(document.getElementById('test-instructions'), instructions());
}

function seconds(v) {
  return f.isNum(v) ? `${f.number(v, 2)} s` : '–';
}

function resultWords(test) {
  if (test.state === 'done') return `${KIND_WORDS[test.kind]}: done.`;
  return `${KIND_WORDS[test.kind]}: ${STATE_WORDS[test.state].toLowerCase()}${test.note ? `: ${test.note}` : ''}.`;
}

function renderTest(state) {
  const test = state.stair_test;
  const running = Boolean(test) && ['countdown', 'running'].includes(test.state);
  cancelButton.disabled = !running;
  startButton.disabled = running || Boolean(lockedReason()) || !athleteSelect.value;
  if (!test) return;
  const label = document.getElementById('test-state');
  const countdown = document.getElementById('test-countdown');
  if (test.state === 'countdown') {
    const left = Math.max(1, Math.ceil(test.go_t - state.t_s));
    setText(countdown, String(left));
    setText(label, `${KIND_WORDS[test.kind]} for ${test.athlete_name}: get ready…`);
    if (spokenCount !== left) {
      spokenCount = left;
      say(String(left));
    }
  } else {
    setText(countdown, '');
    setText(label, running ? `${KIND_WORDS[test.kind]} for ${test.athlete_name}: go!`
      + (test.start_t === null ? ' (waiting for the first step)' : '') : resultWords(test));
  }
  if (test.state === 'running' && (!last || last.state !== 'running')) say('Go!');
  let elapsed = test.duration_s;
  if (test.state === 'running' && test.start_t !== null) elapsed = Math.max(0, state.t_s - test.start_t);
  setText(document.getElementById('test-timer'), seconds(elapsed));
  setText(document.getElementById('test-power'), f.isNum(test.power_w) ? `${f.number(test.power_w)} W` : '–');
  setText(document.getElementById('test-power-kg'), f.isNum(test.power_w_per_kg) ? `${f.number(test.power_w_per_kg, 2)} W/kg` : '–');
  setText(document.getElementById('test-rails-used'), test.rails_used === null ? 'This rig has no rails.'
    : (test.rails_used ? 'A rail was used.' : 'No rail was used.'));
  const finished = ['done', 'aborted', 'invalid'].includes(test.state);
  if (finished && (!last || last.state !== test.state || last.serial !== test.serial)) {
    if (last) say(test.state === 'done' ? `Done. ${f.number(test.duration_s, 1)} seconds.` : resultWords(test));
    spokenCount = null;
    setTimeout(loadTests, 600);    // the result is in the history a moment later
  }
  last = test;
}

function rowFor(t) {
  return el('tr', {},
    el('td', {}, f.dateTime(t.started_at)),
    el('td', {}, KIND_WORDS[t.kind] || t.kind),
    el('td', {}, t.status + (t.note ? ` (${t.note})` : '')),
    el('td', { class: 'num' }, seconds(t.duration_s)),
    el('td', { class: 'num' }, f.isNum(t.power_w) ? `${f.number(t.power_w)} W` : '–'),
    el('td', { class: 'num' }, f.isNum(t.power_w_per_kg) ? f.number(t.power_w_per_kg, 2) : '–'),
    el('td', {}, t.rails_used === null ? '–' : (t.rails_used ? 'used' : 'not used')),
    el('td', {}, t.comparison ? t.comparison.text : '–'));
}

async function loadTests() {
  const id = athleteSelect.value;
  if (!id) return;
  const kind = kindSelect.value;
  let data;
  try {
    data = await api.get(`/api/athletes/${encodeURIComponent(id)}/stair-tests`);
  } catch (err) {
    showError(err);
    return;
  }
  const tests = data.tests || [];
  document.getElementById('tests-body').replaceChildren(...tests.slice().reverse().map(rowFor));
  const ref = data.references[kind];
  const mine = tests.filter((t) => t.kind === kind);
  const latest = mine[mine.length - 1];
  const comparison = document.getElementById('test-comparison');
  comparison.replaceChildren(el('b', {}, latest ? latest.comparison.text : 'No test of this kind yet.'));
  setText(document.getElementById('test-mdc'), `Minimal detectable change: ${ref.mdc} ${ref.unit} (${ref.mdc_source}).`);
  setText(document.getElementById('test-norm'), ref.norm === null ? `Norm: ${ref.norm_text}.` : `Norm: ${ref.norm}`);
  setText(document.getElementById('test-comparable'), `Comparable with the published test: ${ref.comparable}.`);
  const flag = document.getElementById('test-flag');
  flag.hidden = !data.flag;
  setText(flag, data.flag || '');
  const valid = mine.filter((t) => t.status === 'done');
  document.getElementById('trend-empty').hidden = valid.length > 0;
  const measure = ref.measure;
  trend = chart(document.getElementById('chart-trend'), {
    type: 'line',
    data: {
      labels: valid.map((t) => f.shortDate(t.started_at)),
      datasets: [{
        label: measure === 'power_w' ? 'Power (W)' : 'Time (s)',
        data: valid.map((t) => t[measure]),
        borderColor: measure === 'power_w' ? COLOURS.power : COLOURS.steps,
        backgroundColor: measure === 'power_w' ? COLOURS.power : COLOURS.steps,
        tension: 0.2,
      }],
    },
    options: { plugins: { legend: { display: true } }, scales: { y: { beginAtZero: true } } },
  });
}

async function loadAthletes() {
  try {
    const data = await api.get('/api/athletes');
    const athletes = data.athletes || [];
    athleteSelect.replaceChildren(...athletes.map((a) => el('option', { value: a.id, selected: a.selected }, a.name)));
  } catch (err) {
    showError(err);
  }
  startButton.disabled = Boolean(lockedReason()) || !athleteSelect.value;
  loadTests();
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const error = document.getElementById('test-error');
  setText(error, '');
  if (sound.settings.enabled && !sound.unlocked) sound.unlock();   // the tap is the gesture sound needs
  const body = { kind: kindSelect.value, athlete_id: Number(athleteSelect.value), rails_allowed: rails.checked };
  const load = document.getElementById('test-load').value;
  if (load !== '') body.added_load_kg = Number(load);
  startButton.disabled = true;
  try {
    say(instructions());
    setText(document.getElementById('test-state'), 'Listen to the instructions…');
    await speechDone();
    await api.command('start_stair_test', body);
  } catch (err) {
    setText(error, err.message);
    startButton.disabled = Boolean(lockedReason());
  }
});

cancelButton.addEventListener('click', async () => {
  try {
    await api.command('cancel_stair_test', {});
  } catch (err) {
    showError(err);
  }
});

for (const control of [kindSelect, rails]) control.addEventListener('change', () => { showInstructions(); loadTests(); });
athleteSelect.addEventListener('change', loadTests);

const locked = lockedReason();
const lockedNote = document.getElementById('test-locked');
lockedNote.hidden = !locked;
setText(lockedNote, locked ? `${locked} Cancel works without it.` : '');
showInstructions();
loadAthletes();
startPanel({ onState: renderTest });
window.stairrigTests = { get chart() { return trend; } };
