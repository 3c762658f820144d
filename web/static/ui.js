// Small DOM helpers: build elements with text (never HTML from data), and
// show messages to the person at the tablet.

/** el('td', {class: 'num'}, '12') -> <td class="num">12</td>. Children: strings, numbers, nodes, arrays. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

/** Set an element's text only when it changes (the live screen updates five times a second). */
export function setText(node, text) {
  if (!node) return;
  const s = String(text);
  if (node.textContent !== s) node.textContent = s;
}

/** A message in the corner: kind 'error' stays until tapped or 12 s, others 4 s. */
export function notify(text, kind = 'info') {
  const box = document.getElementById('messages');
  if (!box) return;
  const node = el('div', { class: `message ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  node.addEventListener('click', () => node.remove());
  box.append(node);
  setTimeout(() => node.remove(), kind === 'error' ? 12000 : 4000);
  while (box.children.length > 4) box.firstElementChild.remove();
}

export function showError(err) {
  notify(err && err.message ? err.message : String(err), 'error');
}

/** Run an async action from a button: disabled while it runs, errors shown. */
export async function busy(button, action) {
  if (button) button.disabled = true;
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}
