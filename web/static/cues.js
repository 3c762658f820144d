// Cues the athlete can hear. Walking backward, the athlete faces away from
// the tablet: a grab, a stall, too fast, a grip firmer than the drill's
// target, a finished flight and (optional, off until switched on) a step
// without the whole foot on a split tread are spoken (speechSynthesis) or
// beeped (WebAudio); a suspected fall sounds a repeating alarm tone.
//
// Browsers play sound only after one user gesture on the page, so sound
// starts "locked": the bar's button says "Tap to enable sound" until then
// (any tap on the page also unlocks it). The switches are kept in this
// browser's localStorage.

const KEY = 'stairrig.sound';
export const CUES = {
  grab: 'A grab',
  stall: 'A stall',
  fast: 'Too fast',
  grip: 'A grip firmer than the target',
  flight: 'A flight done',
  wholefoot: 'Not the whole foot on the step',
};
// optional cues, off until switched on: "whole foot" speaks on every partial step in the drill's
// facing (at most every REPEAT_MS), which is coaching for a drill that works on placement
export const OFF_BY_DEFAULT = new Set(['wholefoot']);
const REPEAT_MS = 3000;          // the same cue at most this often
// beeps per cue: [frequency Hz, duration s] with 0.08 s between
const BEEPS = {
  grab: [[880, 0.12], [880, 0.12]],
  stall: [[392, 0.35]],
  fast: [[660, 0.08], [660, 0.08], [660, 0.08]],
  grip: [[587, 0.15], [494, 0.2]],
  flight: [[523, 0.12], [784, 0.22]],
  wholefoot: [[440, 0.1], [587, 0.1]],
  test: [[523, 0.12], [659, 0.12], [784, 0.2]],
};

function load() {
  const defaults = { enabled: true, voice: true, cues: Object.fromEntries(Object.keys(CUES).map((k) => [k, !OFF_BY_DEFAULT.has(k)])) };
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || 'null');
    if (saved && typeof saved === 'object') {
      return { ...defaults, ...saved, cues: { ...defaults.cues, ...(saved.cues || {}) } };
    }
  } catch (err) {
    // a broken entry: the defaults
  }
  return defaults;
}

class Sound {
  constructor() {
    this.settings = load();
    this.ctx = null;
    this.unlocked = false;
    this.last = {};
    this.alarmTimer = null;
    this.listeners = [];
    this.log = [];              // the last cues played (what a test or the curious can read)
    if (window.speechSynthesis && window.speechSynthesis.getVoices) {
      // Chrome lists its voices only after this event: ask early so that the first cue can speak
      window.speechSynthesis.getVoices();
      window.speechSynthesis.addEventListener?.('voiceschanged', () => window.speechSynthesis.getVoices());
    }
  }

  save() {
    try {
      localStorage.setItem(KEY, JSON.stringify(this.settings));
    } catch (err) {
      // private mode: the switches hold for this page only
    }
    this.changed();
  }

  onChange(fn) {
    this.listeners.push(fn);
  }

  changed() {
    for (const fn of this.listeners) fn(this);
  }

  /** 'off' | 'locked' (on, waiting for a tap) | 'on'. */
  get state() {
    if (!this.settings.enabled) return 'off';
    return this.unlocked ? 'on' : 'locked';
  }

  /** Call from a user gesture: creates (or resumes) the audio context, wakes speech. */
  unlock() {
    try {
      const AC = window.AudioContext || window.webkitAudioContext;
      if (AC && !this.ctx) this.ctx = new AC();
      if (this.ctx && this.ctx.state === 'suspended') this.ctx.resume();
    } catch (err) {
      this.ctx = null;
    }
    if ('speechSynthesis' in window) {
      // an empty utterance inside the gesture lets later ones play (iOS Safari)
      try {
        window.speechSynthesis.speak(new SpeechSynthesisUtterance(''));
      } catch (err) { /* no speech: beeps */ }
    }
    this.unlocked = true;
    if (this.alarmTimer) this.alarmBeep();
    this.changed();
  }

  setEnabled(on) {
    this.settings.enabled = on;
    if (!on) this.stopSpeech();
    this.save();
  }

  setCue(name, on) {
    this.settings.cues[name] = on;
    this.save();
  }

  setVoice(on) {
    this.settings.voice = on;
    this.save();
  }

  /** Play cue `name` (one of CUES) saying `words`, if switched on and not just played. */
  cue(name, words) {
    const now = Date.now();
    this.log.push({ name, words, t: now, played: false });
    if (this.log.length > 50) this.log.shift();
    if (this.state !== 'on' || !this.settings.cues[name]) return false;
    if (now - (this.last[name] || 0) < REPEAT_MS) return false;
    this.last[name] = now;
    this.log[this.log.length - 1].played = true;
    if (!(this.settings.voice && this.speak(words))) this.beeps(BEEPS[name] || BEEPS.test);
    return true;
  }

  test() {
    if (this.state !== 'on') this.unlock();
    if (!(this.settings.voice && this.speak('Sound is on'))) this.beeps(BEEPS.test);
  }

  speak(words) {
    const synth = window.speechSynthesis;
    if (!synth || typeof SpeechSynthesisUtterance === 'undefined') return false;
    const voices = synth.getVoices ? synth.getVoices() : [];
    if (voices && voices.length === 0 && !synth.speaking) {
      // no voice installed (many kiosks): beeps instead of silence
      return false;
    }
    const u = new SpeechSynthesisUtterance(words);
    u.rate = 0.95;
    synth.speak(u);
    return true;
  }

  stopSpeech() {
    if (window.speechSynthesis) window.speechSynthesis.cancel();
  }

  beeps(seq, volume = 0.25) {
    const ctx = this.ctx;
    if (!ctx) return;
    let t = ctx.currentTime + 0.02;
    for (const [freq, dur] of seq) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = 'sine';
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(volume, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + dur);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + dur + 0.02);
      t += dur + 0.08;
    }
  }

  /** The fall alarm: a two-tone every second until alarmStop(); plays even with the cues off
   * once sound is unlocked (the master switch off silences it). */
  alarmStart() {
    if (this.alarmTimer) return;
    this.alarmTimer = setInterval(() => this.alarmBeep(), 1000);
    this.alarmBeep();
    if (this.state === 'on' && this.settings.voice) this.speak('Are you OK? Press I am OK on the screen.');
  }

  alarmBeep() {
    if (this.state === 'on') this.beeps([[988, 0.3], [740, 0.3]], 0.5);
  }

  alarmStop() {
    clearInterval(this.alarmTimer);
    this.alarmTimer = null;
  }

  get alarming() {
    return this.alarmTimer !== null;
  }
}

export const sound = new Sound();

/** The bar's button: "Sound off" -> on (and unlocked); "Tap to enable sound" -> unlocked; "Sound on" -> off. */
export function bindSoundButton(button) {
  if (!button) return;
  const labels = { off: 'Sound off', locked: 'Tap to enable sound', on: 'Sound on' };
  const show = () => {
    button.dataset.state = sound.state;
    button.textContent = labels[sound.state];
    button.setAttribute('aria-pressed', String(sound.state === 'on'));
  };
  button.addEventListener('click', () => {
    if (sound.state === 'on') {
      sound.setEnabled(false);
    } else {
      if (!sound.settings.enabled) sound.setEnabled(true);
      sound.unlock();
    }
  });
  // any first tap on the page is a gesture too: unlock if sound is wanted
  const first = (e) => {
    if (e.target === button) return;
    if (sound.settings.enabled && !sound.unlocked) sound.unlock();
  };
  document.addEventListener('pointerdown', first, { capture: true });
  document.addEventListener('keydown', first, { capture: true });
  sound.onChange(show);
  show();
}
