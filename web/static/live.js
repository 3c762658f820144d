// The live screen: the session's figures, each rail's grip, banners and
// spoken cues, from the rig's live stream. Readable from three metres:
// nothing here but a few big numbers and two coloured rails.

import { CUES, sound } from './cues.js';
import * as f from './format.js';
import { startPanel } from './panel.js';
import { $, $$, setText } from './ui.js';
import { keepScreenOn } from './wakelock.js';

// how firm a grip is, and the most each drill target allows (touch: a rail
// without a force sensor, which cannot tell light from firm)
const GRIP_RANK = { none: 0, touch: 1, light: 1, firm: 2 };
const TARGET_RANK = { hover: 0, none: 0, light: 1, firm: 2 };
// a rail at rest says so in words (never a bare "None")
const GRIP_LABEL = { none: 'Free', touch: 'Touch', light: 'Light', firm: 'Firm' };
// the drill's grip is a ceiling: the most the athlete may lean on the rails
const TARGET_WORDS = { firm: 'at most a firm grip', light: 'at most a light touch', hover: 'hands off the rails',
  none: 'hands off the rails' };
const ALERT_SHOWN_S = 10;         // a banner for an alert stays this long (engine seconds)
// the whole-foot cue's words in the drill's facing. Walking backward the toe lands first and the
// heel last (docs: research.md, Winter 1989; Grasso et al. 1998): in a partial step there it is
// likely the heel that did not come down (our reading), which the athlete cannot see
const WHOLE_FOOT_WORDS = { forward: 'Whole foot on the step', backward: 'Heel down, whole foot on the step' };
const PLACEMENT_SHOWN_MS = 4000;  // the whole-foot line stays this long (our choice: read in passing)

let tooFast = false;              // the cadence is above the drill's limit (edge-triggered cue)
let lastState = null;
let lastFlights = null;           // {key, n}: the session's flights when last shown (null after a (re)connect)
let placementTimer = null;

function overTarget(grip, target) {
  return (GRIP_RANK[grip] ?? 0) > (TARGET_RANK[target] ?? 1);
}

function renderRail(side, rail, target) {
  const node = document.getElementById(`rail-${side}`);
  if (!node) return;
  if (!rail) {
    node.classList.add('absent');
    node.dataset.grip = 'none';
    setText($('.rail-grip', node), 'No sensor');
    setText($('.rail-force', node), '');
    return;
  }
  node.classList.remove('absent');
  const grip = rail.grip || 'none';
  node.dataset.grip = grip;
  node.classList.toggle('over-target', overTarget(grip, target));
  setText($('.rail-grip', node), GRIP_LABEL[grip] || grip);
  setText($('.rail-force', node), rail.has_force ? f.force(rail.force_n) || '0 N' : '');
}

function alertText(alert) {
  switch (alert.type) {
    case 'grab':
      return `Grab on the ${alert.rail || ''} rail${f.isNum(alert.force_n) ? ` (${f.force(alert.force_n)})` : ''}`;
    case 'stall':
      return `Stalled on tread ${alert.tread ?? '?'}: take your time, or step off`;
    case 'fall_suspected':
      return alert.test ? 'TEST of the fall alarm' : 'Suspected fall';
    case 'fall_acknowledged':
      return `${alert.test ? 'Test fall alarm' : 'Fall alarm'} ended: ${alert.by || 'someone'} said OK`;
    default:
      return alert.type;
  }
}

function renderAlert(state) {
  const node = document.getElementById('alert-banner');
  const alert = state.alert;
  const age = alert && f.isNum(alert.t) && f.isNum(state.t_s) ? state.t_s - alert.t : 0;
  const shown = alert && (alert.type === 'fall_suspected' ? state.alarm !== null : age < ALERT_SHOWN_S);
  if (!shown) {
    node.hidden = true;
    delete node.dataset.type;
    return;
  }
  node.className = `banner banner-${alert.type}`;
  node.dataset.type = alert.type;
  setText(node, alertText(alert));
  node.hidden = false;
}

/** The step-time variability (%) in words a patient understands: the method asks for
 * controlled steps at an even pace (stairs' normal variability is 5 to 10 %, docs/history.md). */
function steadiness(pct) {
  if (!f.isNum(pct)) return '';
  if (pct <= 5) return 'very even steps';
  if (pct <= 10) return 'even steps';
  if (pct <= 15) return 'steps a little uneven';
  return 'uneven steps: slow and even';
}

/** After each flight: its time and (up) power, and the session's steadiness and whole-foot share. */
function flightLine(s) {
  const lf = s.last_flight;
  if (!lf) return '';
  const parts = [`Last flight ${lf.dir === 'up' ? 'up' : 'down'}: ${lf.duration_s.toFixed(1)} s`];
  if (f.isNum(lf.power_w)) parts.push(`${lf.power_w} W`);
  const steady = steadiness(s.step_variability_pct);
  if (steady) parts.push(steady);
  if (f.isNum(s.whole_foot_pct)) parts.push(`whole foot on ${Math.round(s.whole_foot_pct)} % of steps`);
  return parts.join(' · ');
}

function render(state) {
  lastState = state;
  const s = state.session || {};
  const drill = state.drill || {};
  const active = Boolean(s.active);

  const sessionState = document.getElementById('session-state');
  sessionState.classList.toggle('active', active);
  if (active) setText(sessionState, `Session running · ${state.athlete ? state.athlete.name : ''}`);
  else if (state.running === false) setText(sessionState, 'The rig has stopped');
  else setText(sessionState, 'No session: the first step starts one');

  setText(document.getElementById('steps'), s.steps ?? 0);
  const line = active ? flightLine(s) : '';
  const flightEl = document.getElementById('flight-line');
  flightEl.hidden = !line;
  setText(flightEl, line);
  const flights = (s.flights_up || 0) + (s.flights_down || 0);
  // a flight is one pass up or one pass down (rig/progression.py: the plan counts them the same way)
  setText(document.getElementById('flights'), flights);
  setText(document.getElementById('flights-planned'), f.isNum(drill.planned_flights) ? ` / ${drill.planned_flights}` : '');
  setText(document.getElementById('flights-split'), flights
    ? `${s.flights_up || 0} up · ${s.flights_down || 0} down` : 'each pass up or down');
  const elev = f.elevation(s.elevation_gain_m ?? 0);
  setText(document.getElementById('elevation'), elev.value);
  setText(document.getElementById('elevation-unit'), elev.unit);
  setText(document.getElementById('cadence'), f.isNum(s.cadence_spm) ? Math.round(s.cadence_spm) : '–');
  setText(document.getElementById('elapsed'), f.duration(active ? s.elapsed_s : 0));

  // the share of active time at or below the target grip (rig/live.py within_target_pct); none
  // before the first step or when the rig cannot tell (no force sensor for a light touch)
  setText(document.getElementById('target-grip'), TARGET_WORDS[drill.grip] || drill.grip || '–');
  const within = s.within_target_pct;
  setText(document.getElementById('within-target'), f.isNum(within) ? Math.round(within) : '–');
  setText(document.getElementById('within-unit'), f.isNum(within) ? ' %' : '');
  setText(document.getElementById('within-note'), f.isNum(within) || !active ? 'of the time' : 'the rails cannot tell');

  const rails = state.rails || {};
  renderRail('left', rails.left, drill.grip);
  renderRail('right', rails.right, drill.grip);

  // slow down: calm, only while walking and above the drill's limit
  const limit = drill.cadence_limit_spm;
  const fast = active && f.isNum(s.cadence_spm) && f.isNum(limit) && s.cadence_spm > limit;
  const slow = document.getElementById('slow-banner');
  slow.hidden = !fast;
  if (fast) setText(slow, `Slow down: ${Math.round(s.cadence_spm)} steps a minute, the drill's limit is ${Math.round(limit)}`);
  document.getElementById('cadence-fig').classList.toggle('too-fast', Boolean(fast));
  if (fast && !tooFast) sound.cue('fast', 'Slow down');
  tooFast = Boolean(fast);

  renderAlert(state);
  flightCue(state, flights);

  setText(document.getElementById('athlete-name'), state.athlete ? state.athlete.name : '–');
  setText(document.getElementById('drill-words'), f.drillWords(drill));
  setText(document.getElementById('steps-today'), state.steps_today ?? 0);
  const last = state.last_session;
  setText(document.getElementById('last-session'), !active && last
    ? `Last session: ${f.plural(last.steps, 'step')}, ${f.plural(last.flights ?? 0, 'flight')}, ${f.duration(last.duration_s)}`
    : '');
}

/** A flight done: the session's count of flights went up (the session's figures come with the
 * session_update just after the ascent or descent, so the count is watched rather than the event). */
function flightCue(state, flights) {
  const key = state.session ? state.session.key : null;
  const before = lastFlights;
  lastFlights = { key, n: flights };
  if (!before || !key || before.key !== key || flights <= before.n) return;
  const planned = (state.drill || {}).planned_flights;
  sound.cue('flight', f.isNum(planned) && flights >= planned
    ? `Flight ${flights}. That is all ${planned}.` : `Flight ${flights} done`);
}

/** A split tread's verdict on a step (a ``placement`` event): not the whole foot, in the drill's
 * facing (a step taken facing the other way, turning round, gets none), during a session (not in a
 * walk test) -> the whole-foot cue, heard when sound is on (at most every REPEAT_MS) and, while its
 * switch is on, shown for a few seconds for whoever cannot hear it. */
function placementCue(event, state) {
  const facing = (state.drill || {}).facing;
  if (event.whole_foot !== false || !(state.session || {}).active || !facing || event.facing !== facing) return;
  const words = WHOLE_FOOT_WORDS[facing] || WHOLE_FOOT_WORDS.forward;
  sound.cue('wholefoot', words);
  if (!sound.settings.cues.wholefoot) return;
  const node = document.getElementById('placement-banner');
  setText(node, `${words} (tread ${event.tread})`);
  node.hidden = false;
  clearTimeout(placementTimer);
  placementTimer = setTimeout(() => { node.hidden = true; }, PLACEMENT_SHOWN_MS);
}

/** The whole-foot cue needs split treads: on a rig without them its switch is off, disabled, and says why. */
function showSplitTreads(rig) {
  const split = Boolean(rig && Array.isArray(rig.tread_zones) && rig.tread_zones.length > 0);
  const box = document.querySelector('input[data-cue="wholefoot"]');
  if (box) box.disabled = !split;
  const note = document.getElementById('wholefoot-note');
  if (note) note.hidden = split;
}

/** Cues for the events that just happened (never for a snapshot: those happened before). */
function cueFor(msg) {
  const event = msg.event || {};
  const state = msg.state || lastState || {};
  const drill = state.drill || {};
  switch (msg.reason) {
    case 'grab':
      sound.cue('grab', `Grab, ${event.rail || ''} rail`);
      break;
    case 'stall':
      sound.cue('stall', 'Stall. Take your time.');
      break;
    case 'grip':
      if (overTarget(event.grip, drill.grip)) sound.cue('grip', 'Lighter hands');
      break;
    case 'placement':
      placementCue(event, state);
      break;
    default:
      break;
  }
}

function bindCueSettings() {
  for (const box of $$('input[data-cue]')) {
    const name = box.dataset.cue;
    if (!(name in CUES)) continue;
    box.checked = sound.settings.cues[name] !== false;
    box.addEventListener('change', () => {
      sound.setCue(name, box.checked);
      if (name === 'wholefoot' && !box.checked) document.getElementById('placement-banner').hidden = true;
    });
  }
  const voice = document.getElementById('cue-voice');
  voice.checked = sound.settings.voice;
  voice.addEventListener('change', () => sound.setVoice(voice.checked));
  document.getElementById('cue-test').addEventListener('click', () => sound.test());
}

bindCueSettings();
const wake = keepScreenOn();
startPanel({
  onState(state, msg, kind) {
    if (kind === 'snapshot') lastFlights = null;   // what happened while away is not cued
    render(state);
  },
  onSnapshot(msg) {
    showSplitTreads(msg.rig);
  },
  onUpdate(msg) {
    cueFor(msg);
  },
  onStatus(status) {
    document.getElementById('offline-banner').hidden = status !== 'disconnected';
  },
});
window.stairrigWakeLock = wake;
