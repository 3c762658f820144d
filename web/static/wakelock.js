// Keep the tablet's screen on while the live screen shows (Screen Wake Lock
// API, where the browser has it: secure contexts only, i.e. https or
// localhost). The lock is dropped whenever the page is hidden, so it is
// asked for again each time the page becomes visible.

export function keepScreenOn() {
  const status = { supported: 'wakeLock' in navigator, held: false, error: null };
  if (!status.supported) return status;
  let lock = null;
  async function acquire() {
    if (lock || document.visibilityState !== 'visible') return;
    try {
      lock = await navigator.wakeLock.request('screen');
      status.held = true;
      status.error = null;
      lock.addEventListener('release', () => {
        lock = null;
        status.held = false;
      });
    } catch (err) {
      status.error = err.message;   // refused (battery saver, no permission): the screen may sleep
    }
  }
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') acquire();
  });
  acquire();
  return status;
}
