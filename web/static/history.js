// The list of sessions, newest first, a page at a time; a row opens its detail.

import { api, query } from './api.js';
import * as f from './format.js';
import { startPanel } from './panel.js';
import { el, showError } from './ui.js';

const PAGE = 25;
const body = document.getElementById('sessions-body');
const more = document.getElementById('load-more');
const filter = document.getElementById('athlete-filter');
let names = new Map();
let oldestId = null;
let loading = false;

function statusNote(row) {
  if (row.status === 'open') return ' (running)';
  if (row.status === 'recovered') return ' (recovered)';
  return '';
}

function rowFor(s) {
  const href = `/history/${s.id}`;
  const flights = (s.ascents || 0) + (s.descents || 0);
  const tr = el('tr', { class: 'clickable', dataset: { id: s.id } },
    el('td', {}, el('a', { href }, f.dateTime(s.started_at)), statusNote(s)),
    el('td', {}, names.get(s.athlete_id) || (s.athlete_id != null ? `#${s.athlete_id}` : '–')),
    el('td', {}, [s.drill_facing, f.GRIP_WORDS[s.drill_grip] || s.drill_grip].filter(Boolean).join(', ') || '–'),
    el('td', { class: 'num' }, f.duration(s.duration_s)),
    el('td', { class: 'num' }, s.steps ?? '–'),
    el('td', { class: 'num' }, flights),
    el('td', { class: 'num' }, f.number(s.cadence_spm)),
    el('td', { class: 'num' }, f.fractionPct(s.contact_fraction)),
    el('td', { class: 'num' }, f.fractionPct(s.firm_fraction)),
    el('td', { class: 'num' }, s.grabs ?? 0),
    el('td', {}, s.level || '–'));
  tr.addEventListener('click', (e) => {
    if (e.target.closest('a')) return;
    window.location.href = href;
  });
  return tr;
}

async function loadPage(reset) {
  if (loading) return;
  loading = true;
  more.disabled = true;
  try {
    if (reset) {
      oldestId = null;
      body.replaceChildren();
    }
    const data = await api.get(`/api/sessions${query({ athlete_id: filter.value, limit: PAGE, before_id: oldestId })}`);
    const rows = data.sessions || [];
    body.append(...rows.map(rowFor));
    if (rows.length) oldestId = rows[rows.length - 1].id;
    more.hidden = rows.length < PAGE;
    document.getElementById('sessions-empty').hidden = body.children.length > 0;
  } catch (err) {
    showError(err);
  } finally {
    loading = false;
    more.disabled = false;
  }
}

async function loadAthletes() {
  try {
    const data = await api.get('/api/athletes');
    const athletes = data.athletes || [];
    names = new Map(athletes.map((a) => [a.id, a.name]));
    const params = new URLSearchParams(window.location.search);
    filter.append(...athletes.filter((a) => a.id != null).map((a) => el('option', { value: a.id }, a.name)));
    if (params.get('athlete_id')) filter.value = params.get('athlete_id');
  } catch (err) {
    showError(err);
  }
}

filter.addEventListener('change', () => {
  const url = new URL(window.location.href);
  if (filter.value) url.searchParams.set('athlete_id', filter.value);
  else url.searchParams.delete('athlete_id');
  window.history.replaceState(null, '', url);
  loadPage(true);
});
more.addEventListener('click', () => loadPage(false));

loadAthletes().then(() => loadPage(true));
startPanel({
  onUpdate(msg) {
    // a session that ends while the list shows: put it at the top
    if (msg.reason === 'session_ended' || msg.reason === 'session_started') {
      setTimeout(() => loadPage(true), 1500);
    }
  },
});
