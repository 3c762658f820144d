// The rig's live stream (/events, Server-Sent Events), kept open.
//
// The server sends a "snapshot" first, then an "update" per event and a
// "tick" five times a second (once a second on an idle rig). EventSource reconnects by itself after some
// errors; here every error (and a stream silent for STALE_MS, which a
// frozen connection would be) shows as "disconnected" at once, and the
// stream is opened again with a growing delay (1 s, 2 s, 4 s ... 15 s).

const STALE_MS = 4000;          // ticks come every 200 ms (every second on an idle rig): this long without one is a lost link
const FIRST_RETRY_MS = 1000;
const MAX_RETRY_MS = 15000;

export class LiveStream {
  /**
   * handlers: onState(state, message, kind) for every message that carries the state document;
   * onUpdate(message) for "update" messages (reason, event, state); onSnapshot(message);
   * onStatus(status, detail) with status 'connecting' | 'connected' | 'disconnected'.
   */
  constructor(url, handlers = {}) {
    this.url = url;
    this.h = handlers;
    this.source = null;
    this.status = null;
    this.attempt = 0;
    this.lastMessage = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.state = null;
    this.watchdog = setInterval(() => this.check(), 500);
    this.open();
  }

  setStatus(status) {
    if (this.status === status && status !== 'disconnected') return;
    this.status = status;
    if (this.h.onStatus) this.h.onStatus(status, { retryAt: this.retryAt });
  }

  open() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.closeSource();
    this.setStatus(this.status === 'disconnected' ? 'disconnected' : 'connecting');
    let source;
    try {
      source = new EventSource(this.url);
    } catch (err) {
      this.lost();
      return;
    }
    this.source = source;
    this.lastMessage = Date.now();
    source.addEventListener('snapshot', (e) => this.receive(e, 'snapshot'));
    source.addEventListener('update', (e) => this.receive(e, 'update'));
    source.addEventListener('tick', (e) => this.receive(e, 'tick'));
    source.addEventListener('message', (e) => this.receive(e, 'message'));
    source.addEventListener('error', () => {
      if (this.source === source) this.lost();
    });
  }

  closeSource() {
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  receive(e, kind) {
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch (err) {
      return;  // not ours (a comment or a broken line): ignore
    }
    this.lastMessage = Date.now();
    if (kind === 'snapshot') this.attempt = 0;
    if (this.status !== 'connected' && (kind === 'snapshot' || this.state)) this.setStatus('connected');
    if (kind === 'snapshot' && this.h.onSnapshot) this.h.onSnapshot(msg);
    if (kind === 'update' && this.h.onUpdate) this.h.onUpdate(msg);
    if (msg && msg.state) {
      this.state = msg.state;
      if (this.h.onState) this.h.onState(msg.state, msg, kind);
    }
  }

  /** The stream failed or went silent: show it, and open it again after the next delay. */
  lost() {
    this.closeSource();
    if (this.retryTimer) return;
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryAt = Date.now() + delay;
    this.setStatus('disconnected');
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  check() {
    if (this.source && Date.now() - this.lastMessage > STALE_MS) this.lost();
  }

  close() {
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.closeSource();
  }
}
