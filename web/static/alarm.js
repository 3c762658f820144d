// The fall alarm: a full-screen red overlay with a repeating tone while the
// live state holds an unacknowledged suspected fall. It goes away when
// someone presses "I'm OK" here (POST /api/commands/acknowledge_fall) or
// when the state's alarm becomes null (acknowledged elsewhere, over MQTT).
// A test of the alarm (the state's alarm has "test": true) shows the same
// overlay, saying in its title and text that it is a TEST.

import { api } from './api.js';
import { sound } from './cues.js';

export class FallAlarm {
  constructor(root) {
    this.root = root;
    this.title = root.querySelector('#alarm-title');
    this.detail = root.querySelector('#alarm-detail');
    this.error = root.querySelector('#alarm-error');
    this.button = root.querySelector('#alarm-ok');
    this.current = null;          // the fall_suspected event shown
    this.acknowledging = false;
    this.button.addEventListener('click', () => this.acknowledge());
  }

  /** Every state document: show or hide. */
  update(state) {
    const alarm = state ? state.alarm : null;
    if (alarm) this.show(alarm);
    else this.hide();
  }

  show(alarm) {
    const fresh = !this.current || this.current.t !== alarm.t || Boolean(this.current.test) !== Boolean(alarm.test);
    this.current = alarm;
    if (fresh) {
      const test = Boolean(alarm.test);
      this.root.classList.toggle('alarm-test', test);
      this.root.dataset.test = test ? 'true' : 'false';
      if (test) {
        this.title.textContent = 'TEST: fall alarm';
        const by = alarm.by ? ` (raised by ${alarm.by})` : '';
        this.detail.textContent = `This is a TEST of the fall alarm${by}: nobody fell. Press "I'm OK" to end it.`;
      } else {
        this.title.textContent = 'Suspected fall';
        const where = alarm.tread ? ` after a step on tread ${alarm.tread}` : '';
        this.detail.textContent = `Nobody is on the stairs${where}. Check on the athlete.`;
      }
      this.error.textContent = '';
    }
    if (this.root.hidden) {
      this.root.hidden = false;
      this.button.focus();
    }
    sound.alarmStart();
  }

  hide() {
    this.current = null;
    if (!this.root.hidden) this.root.hidden = true;
    sound.alarmStop();
  }

  async acknowledge() {
    if (this.acknowledging) return;
    this.acknowledging = true;
    this.button.disabled = true;
    this.error.textContent = '';
    try {
      await api.command('acknowledge_fall', { by: 'panel' });
      this.hide();                // the state confirms it within a tick
    } catch (err) {
      this.error.textContent = err.message;
    } finally {
      this.acknowledging = false;
      this.button.disabled = false;
    }
  }
}
