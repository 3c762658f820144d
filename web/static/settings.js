// Settings: the coach's PIN login, athletes (add, rename, weight, delete), a way to the calibration.

import { api } from './api.js';
import { pageInfo, startPanel } from './panel.js';
import { busy, el, notify, setText } from './ui.js';

const errorBox = document.getElementById('athletes-error');

function showAccess() {
  document.getElementById('no-pin').hidden = pageInfo.pinRequired;
  document.getElementById('login-form').hidden = !pageInfo.pinRequired || pageInfo.authorised;
  document.getElementById('logged-in').hidden = !pageInfo.authorised;
  lockAthletes();
}

/** Without the PIN the server refuses every change: the controls say so before anyone tries. */
function lockAthletes() {
  const locked = !pageInfo.authorised;
  const note = document.getElementById('athletes-locked');
  note.hidden = !locked;
  setText(note, !pageInfo.pinRequired
    ? 'Locked: no PIN is configured. Set one as the Coach\'s PIN card says to add, change or delete athletes.'
    : 'Locked: unlock with the coach\'s PIN (above) to add, change or delete athletes.');
  const controls = document.querySelectorAll('#athletes-body input, #athletes-body button, #add-athlete input, #add-athlete button');
  for (const control of controls) control.disabled = locked;
}

function fail(err) {
  setText(errorBox, err.message);
}

function athleteRow(a) {
  const name = el('input', { type: 'text', value: a.name, maxlength: 100, 'aria-label': `Name of ${a.name}` });
  const weight = el('input', { type: 'number', value: a.weight_kg, min: 20, max: 300, step: 0.1, class: 'kg',
    'aria-label': `Weight of ${a.name} in kg` });
  const save = el('button', { type: 'button' }, 'Save');
  const del = el('button', { type: 'button', class: 'danger' }, 'Delete');
  save.addEventListener('click', () => busy(save, async () => {
    setText(errorBox, '');
    const body = {};
    if (name.value.trim() !== a.name) body.name = name.value.trim();
    if (Number(weight.value) !== a.weight_kg) body.weight_kg = Number(weight.value);
    if (!Object.keys(body).length) return;
    try {
      await api.patch(`/api/athletes/${a.id}`, body);
    } catch (err) {
      fail(err);
      return;
    }
    notify('Saved', 'ok');
    await loadAthletes();
  }));
  del.addEventListener('click', () => busy(del, async () => {
    setText(errorBox, '');
    if (!window.confirm(`Delete ${a.name} and all their sessions? This cannot be undone.`)) return;
    try {
      await api.del(`/api/athletes/${a.id}`);
    } catch (err) {
      fail(err);
      return;
    }
    notify(`${a.name} deleted`, 'ok');
    await loadAthletes();
  }));
  return el('tr', { dataset: { id: a.id } },
    el('td', {}, name, a.selected ? el('span', { class: 'badge' }, 'trains next') : null),
    el('td', {}, weight),
    el('td', {}, a.level || '–'),
    el('td', {}, save),
    el('td', {}, del));
}

async function loadAthletes() {
  try {
    const data = await api.get('/api/athletes');
    document.getElementById('athletes-body').replaceChildren(...(data.athletes || []).filter((a) => a.id != null).map(athleteRow));
    lockAthletes();
  } catch (err) {
    fail(err);
  }
}

document.getElementById('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('pin');
  const button = e.currentTarget.querySelector('button');
  busy(button, async () => {
    setText(document.getElementById('login-error'), '');
    try {
      await api.post('/api/login', { pin: input.value });
    } catch (err) {
      setText(document.getElementById('login-error'), err.message);
      return;
    }
    input.value = '';
    pageInfo.authorised = true;
    document.body.dataset.authorised = 'true';
    showAccess();
    notify('Unlocked', 'ok');
  });
});

document.getElementById('logout').addEventListener('click', (e) => busy(e.currentTarget, async () => {
  await api.post('/api/logout', {});
  pageInfo.authorised = false;
  document.body.dataset.authorised = 'false';
  showAccess();
}));

document.getElementById('add-athlete').addEventListener('submit', (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  busy(form.querySelector('button'), async () => {
    setText(errorBox, '');
    const name = form.elements.name.value.trim();
    const weight = Number(form.elements.weight_kg.value);
    if (!name) {
      fail(new Error('Give the athlete a name.'));
      return;
    }
    if (!Number.isFinite(weight) || form.elements.weight_kg.value === '') {
      fail(new Error('Give the athlete\'s weight in kg.'));
      return;
    }
    try {
      await api.post('/api/athletes', { name, weight_kg: weight });
    } catch (err) {
      fail(err);
      return;
    }
    form.reset();
    notify(`${name} added`, 'ok');
    await loadAthletes();
  });
});

showAccess();
document.querySelector('#login-form button').disabled = false;     // listening now: the PIN goes to /api/login only
loadAthletes();
startPanel({});
