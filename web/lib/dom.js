// Building DOM without innerHTML: text is always text.
// Shared by both apps (web/ and video/): import from /app/lib/dom.js.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

// Children left out (null, undefined, false) are skipped: the DOM's own append() and
// replaceChildren() would write them as the text "null" or "undefined". Use these two instead.
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let counter = 0;
export const uid = (prefix) => `${prefix}-${++counter}`;

// A labelled form control; returns [wrapper, control].
export function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), hintEl, control);
}

export function options(select, items, selected) {
  for (const [value, label] of items) {
    select.append(h("option", { value, selected: value === selected }, label));
  }
  return select;
}

export function setTitle(text) {
  document.title = `${text} – SIP`;
}

// Say something to screen-reader users without moving focus.
export function announce(text) {
  const region = document.getElementById("announce");
  region.textContent = "";
  setTimeout(() => { region.textContent = text; }, 50);
}
