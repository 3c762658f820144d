// What every page of the panel does: keep the live stream open (the
// connection indicator and the fall alarm live in the bar of every page),
// and the sound switch. A page's own script calls startPanel() with its
// handlers.

import { FallAlarm } from './alarm.js';
import { bindSoundButton, sound } from './cues.js';
import { LiveStream } from './stream.js';

const LABELS = { connecting: 'Connecting…', connected: 'Connected', disconnected: 'Disconnected' };

export const pageInfo = {
  authorised: document.body.dataset.authorised === 'true',
  pinRequired: document.body.dataset.pinRequired === 'true',
  rigId: document.body.dataset.rigId || '',
};

/** Why a control that needs the PIN is locked on this browser, or null when it is not. */
export function lockedReason() {
  if (pageInfo.authorised) return null;
  return pageInfo.pinRequired
    ? 'Locked: unlock with the coach\'s PIN under Settings first.'
    : 'Locked: no PIN is configured. Settings says how to set one.';
}

function showConnection(status, detail) {
  const node = document.getElementById('connection');
  if (!node) return;
  node.dataset.state = status;
  let label = LABELS[status] || status;
  if (status === 'disconnected' && detail && detail.retryAt) {
    const s = Math.max(0, Math.round((detail.retryAt - Date.now()) / 1000));
    label = s > 0 ? `Disconnected: retrying in ${s} s` : 'Disconnected: retrying';
  }
  node.querySelector('.label').textContent = label;
  document.body.classList.toggle('offline', status === 'disconnected');
}

/** Each body cell of a table gets its column's heading (or the heading's data-label: "" for a
 * column of buttons, which say what they do) as data-label, so that on a phone the
 * rows can stack as cards (panel.css: each cell on its own line, its heading before it). Tables
 * filled later (every table here is) are labelled as their rows arrive. */
function labelTableCells(table) {
  const heads = Array.from(table.querySelectorAll('thead th')).map((th) => th.dataset.label ?? th.textContent.trim());
  for (const row of table.querySelectorAll('tbody tr')) {
    Array.from(row.children).forEach((cell, i) => {
      const label = heads[i] || '';
      if (cell.dataset.label !== label) cell.dataset.label = label;
    });
  }
}

export function stackTables(root = document) {
  for (const table of root.querySelectorAll('table')) {
    labelTableCells(table);
    const body = table.querySelector('tbody');
    if (body) new MutationObserver(() => labelTableCells(table)).observe(body, { childList: true });
  }
}

/**
 * Start the page: options.channels asks the stream for raw channel values (rig check);
 * onState(state, message, kind), onUpdate(message), onSnapshot(message), onStatus(status).
 */
export function startPanel(options = {}) {
  bindSoundButton(document.getElementById('sound-toggle'));
  stackTables();
  const alarmRoot = document.getElementById('alarm');
  const alarm = alarmRoot ? new FallAlarm(alarmRoot) : null;
  const url = options.channels ? '/events?channels=1' : '/events';
  const stream = new LiveStream(url, {
    onStatus(status, detail) {
      showConnection(status, detail);
      if (options.onStatus) options.onStatus(status, detail);
    },
    onSnapshot(msg) {
      if (options.onSnapshot) options.onSnapshot(msg);
    },
    onUpdate(msg) {
      if (options.onUpdate) options.onUpdate(msg);
    },
    onState(state, msg, kind) {
      if (alarm) alarm.update(state);
      if (options.onState) options.onState(state, msg, kind);
    },
  });
  // the retry countdown in the bar
  setInterval(() => {
    if (stream.status === 'disconnected') showConnection('disconnected', { retryAt: stream.retryAt });
  }, 1000);
  window.stairrig = { stream, alarm, sound };     // for the browser tests and the curious
  return stream;
}
