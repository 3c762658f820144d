// Session control: who trains, with which drill; start and stop; what the
// progression engine recommends and why.

import { api } from './api.js';
import * as f from './format.js';
import { startPanel } from './panel.js';
import { busy, el, notify, setText, showError } from './ui.js';

const form = document.getElementById('drill-form');
const select = document.getElementById('athlete-select');
let formDirty = false;           // the coach is editing: the stream must not overwrite the form
let shownDrill = null;
let recommendation = null;
let athletes = [];

const ACTIONS = { advance: 'Move on', stay: 'Stay', step_back: 'Step back', rest: 'Rest' };

function fillDrill(drill) {
  if (!drill || formDirty) return;
  const key = JSON.stringify(drill);
  if (key === shownDrill) return;
  shownDrill = key;
  form.elements.facing.value = drill.facing || 'backward';
  form.elements.grip.value = drill.grip || 'light';
  form.elements.planned_flights.value = f.isNum(drill.planned_flights) ? drill.planned_flights : '';
  form.elements.added_load_kg.value = f.isNum(drill.added_load_kg) ? drill.added_load_kg : 0;
}

function renderState(state) {
  const s = state.session || {};
  const status = document.getElementById('session-status');
  status.classList.toggle('active', Boolean(s.active));
  setText(status, s.active
    ? `Running since ${f.dateTime(s.started_at)} · ${state.athlete ? state.athlete.name : ''}`
    : 'No session running (the first step on the stairs starts one)');
  setText(document.getElementById('now-steps'), s.steps ?? 0);
  setText(document.getElementById('now-flights'), (s.flights_up || 0) + (s.flights_down || 0));
  setText(document.getElementById('now-elapsed'), f.duration(s.active ? s.elapsed_s : 0));
  document.getElementById('start-session').textContent = s.active ? 'Start a new session' : 'Start session';
  document.getElementById('stop-session').disabled = !s.active;
  setText(document.getElementById('drill-now'), `Now: ${f.drillWords(state.drill)}.`);
  fillDrill(state.drill);
  if (state.athlete && state.athlete.id != null && select.value !== String(state.athlete.id)
      && document.activeElement !== select && athletes.some((a) => a.id === state.athlete.id)) {
    select.value = String(state.athlete.id);
    showLevel();
  }
}

function showLevel() {
  const a = athletes.find((x) => String(x.id) === select.value);
  setText(document.getElementById('athlete-level'), a ? `${f.kg(a.weight_kg)} · level ${a.level || 'not set yet'}` : '');
}

async function loadAthletes() {
  const data = await api.get('/api/athletes');
  athletes = data.athletes || [];
  select.replaceChildren(...athletes.map((a) => el('option', { value: a.id ?? '' }, a.name)));
  const selected = athletes.find((a) => a.selected);
  if (selected) select.value = String(selected.id);
  select.disabled = athletes.length === 0 || athletes.every((a) => a.id == null);
  showLevel();
}

async function loadRecommendation() {
  const action = document.getElementById('rec-action');
  try {
    recommendation = await api.get('/api/recommendation');
  } catch (err) {
    recommendation = null;
    setText(document.getElementById('rec-reason'), err.message);
    document.getElementById('rec-apply').disabled = true;
    return;
  }
  const r = recommendation;
  action.className = `badge ${r.action || ''}`;
  setText(action, ACTIONS[r.action] || r.action || '–');
  setText(document.getElementById('rec-level'), r.level_title ? `${f.capitalise(r.level_title)} (${r.level})` : r.level || '');
  setText(document.getElementById('rec-reason'), r.reason || '');
  setText(document.getElementById('rec-drill'), r.drill ? `Drill: ${f.drillWords(r.drill)}` : '');
  document.getElementById('rec-apply').disabled = !r.drill;
}

/** The form as a set_drill body; the server checks the ranges and says what is wrong. */
function drillFromForm() {
  const body = { facing: form.elements.facing.value, grip: form.elements.grip.value };
  const planned = form.elements.planned_flights.value.trim();
  if (planned === '') {
    body.planned_flights = null;           // no plan
  } else {
    const n = Number(planned);
    if (!Number.isInteger(n)) throw new Error('Planned flights: a whole number, or empty for no plan.');
    body.planned_flights = n;
  }
  const load = form.elements.added_load_kg.value.trim();
  if (load !== '') {
    const kg = Number(load);
    if (!Number.isFinite(kg)) throw new Error('Added load: a number of kg.');
    body.added_load_kg = kg;
  }
  return body;
}

async function setDrill(body, button) {
  const error = document.getElementById('drill-error');
  error.textContent = '';
  await busy(button, async () => {
    try {
      await api.command('set_drill', body);
    } catch (err) {
      error.textContent = err.message;
      throw err;
    }
    formDirty = false;
    shownDrill = null;
    notify(`Drill set: ${f.drillWords(body)}`, 'ok');
  });
}

form.addEventListener('input', () => { formDirty = true; });
form.addEventListener('submit', (e) => {
  e.preventDefault();
  let body;
  try {
    body = drillFromForm();
  } catch (err) {
    document.getElementById('drill-error').textContent = err.message;
    return;
  }
  setDrill(body, form.querySelector('button[type="submit"]'));
});

select.addEventListener('change', async () => {
  const id = Number(select.value);
  await busy(select, async () => {
    const answer = await api.command('select_athlete', { athlete: id });
    formDirty = false;
    shownDrill = null;
    notify(`${(answer && answer.result && answer.result.name) || 'The athlete'} trains next`, 'ok');
    await loadAthletes();
    await loadRecommendation();
  });
});

document.getElementById('start-session').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  await api.command('start_session');
  notify('Session started', 'ok');
}));
document.getElementById('stop-session').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  const answer = await api.command('stop_session');
  const ended = answer && answer.result;
  notify(ended && f.isNum(ended.steps) ? `Session stopped: ${f.plural(ended.steps, 'step')}` : 'No session was running', 'ok');
  loadRecommendation();
}));
document.getElementById('rec-apply').addEventListener('click', (e) => {
  if (!recommendation || !recommendation.drill) return;
  const d = recommendation.drill;
  const body = { facing: d.facing, grip: d.grip, added_load_kg: d.added_load_kg ?? 0,
    planned_flights: f.isNum(d.planned_flights) ? d.planned_flights : null };
  setDrill(body, e.currentTarget);
});

loadAthletes().catch(showError);
loadRecommendation();
startPanel({
  onState: renderState,
  onUpdate(msg) {
    if (msg.reason === 'athlete_changed' || msg.reason === 'session_ended') {
      loadAthletes().catch(showError);
      loadRecommendation();
    }
  },
});
