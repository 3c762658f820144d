// Figures for people: units (metric or imperial, from the page), times, shares, drills.

const FT_PER_M = 3.28084;

export const units = document.body.dataset.units === 'imperial' ? 'imperial' : 'metric';

export function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Elevation: metres or feet, per the rig's units. */
export function elevation(m) {
  if (!isNum(m)) return { value: '–', unit: units === 'imperial' ? 'ft' : 'm' };
  if (units === 'imperial') {
    const ft = m * FT_PER_M;
    return { value: ft >= 100 ? ft.toFixed(0) : ft.toFixed(1), unit: 'ft' };
  }
  return { value: m >= 100 ? m.toFixed(0) : m.toFixed(1), unit: 'm' };
}

export function elevationText(m) {
  const e = elevation(m);
  return `${e.value} ${e.unit}`;
}

/** Seconds as m:ss or h:mm:ss. */
export function duration(s) {
  if (!isNum(s) || s < 0) return '–';
  const total = Math.floor(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = String(total % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function number(v, digits = 0) {
  return isNum(v) ? v.toFixed(digits) : '–';
}

/** A percentage already in % (the live document's *_pct). */
export function pct(v) {
  return isNum(v) ? `${Math.round(v)} %` : '–';
}

/** A fraction 0..1 (the history's *_fraction) as %. */
export function fractionPct(v) {
  return isNum(v) ? `${Math.round(v * 100)} %` : '–';
}

export function force(n) {
  return isNum(n) ? `${n.toFixed(n >= 10 ? 0 : 1)} N` : '';
}

export function kg(v) {
  return isNum(v) ? `${Number.isInteger(v) ? v : v.toFixed(1)} kg` : '–';
}

/** An ISO time (UTC) in the tablet's local time: "Mon 3 Mar, 14:05". */
export function dateTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

export function shortDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' });
}

export const GRIP_WORDS = { firm: 'firm grip', light: 'light touch', hover: 'hands hovering', none: 'no rails' };

/** "backward, light touch, 4 flights, +2 kg". */
export function drillWords(drill) {
  if (!drill) return '–';
  const parts = [drill.facing || '?', GRIP_WORDS[drill.grip] || drill.grip || '?'];
  if (isNum(drill.planned_flights)) parts.push(`${drill.planned_flights} flight${drill.planned_flights === 1 ? '' : 's'}`);
  if (isNum(drill.added_load_kg) && drill.added_load_kg > 0) parts.push(`+${kg(drill.added_load_kg)}`);
  return parts.join(', ');
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function capitalise(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : '';
}
