// What the plan page's sections share: running a change and the forms that do, facts derived from
// the plan, the folding sections and the confirm step.
import { h, announce } from "../../lib/dom.js";
import { request } from "../../lib/gql.js";
import { t, lang } from "../i18n.js";
import { load, render } from "../plan.js";

export const PATIENT_SIDE = ["PATIENT", "REPRESENTATIVE"];

// ---- changing the plan ---------------------------------------------------------------------

// Runs a mutation; on success reads the plan again. Returns an error text for the form, or null.
// `explain` turns a refusal into plain words: {forbidden: text}.
export async function mutate(view, name, variables, explain = {}) {
  view.ownChangeAt = Date.now();
  let result;
  try {
    const data = await request(name, variables);
    result = Object.values(data)[0];
  } catch (error) {
    return error.message;
  }
  if (result && result.code) {
    if (result.code === "VERSION_CONFLICT") {
      view.conflict = true;
      render(view);
      document.getElementById("conflict")?.focus();
      return t("conflict");
    }
    if (result.__typename === "ForbiddenError" && explain.forbidden) return explain.forbidden;
    // an operation may ask for the service's words in English too (messageEn)
    return (lang === "en" && result.messageEn) || result.message;
  }
  announce(t("saved"));
  await load(view, false);
  return null;
}

export const planVars = (view, extra = {}) => ({ planId: view.plan.id, expectedVersion: view.plan.version, ...extra });

// A form whose submit runs `action` (returns an error text or null) and shows the outcome. The
// error outlives a re-render (a live update may redraw the page just after a refusal).
export const formErrors = new Map();

export function form(id, title, controls, submitLabel, action, { className = "panel", saved = true } = {}) {
  const message = h("div", { class: "form-message", id: `${id}-message`, "aria-live": "assertive" });
  const show = (problem) => message.replaceChildren(h("p", { class: "error", role: "alert" }, problem));
  if (formErrors.has(id)) show(formErrors.get(id));
  const button = h("button", { type: "submit" }, submitLabel);
  const el = h("form", {
    id, class: className, novalidate: true,
    onsubmit: async (event) => {
      event.preventDefault();
      if (button.getAttribute("aria-disabled") === "true") return;
      message.replaceChildren();
      formErrors.delete(id);
      savedNote = null;
      placeNote();
      button.disabled = true;
      const problem = await action(el);
      button.disabled = false;
      if (problem) {
        formErrors.set(id, problem);
        const current = document.getElementById(`${id}-message`) || message;
        current.replaceChildren(h("p", { class: "error", role: "alert" }, problem));
      } else if (saved) {
        savedFeedback(id, el.closest("section")?.id);
      }
    },
  }, title ? h("h3", {}, title) : null, controls, button, message);
  return el;
}

// After a save: the form (as drawn now) is emptied and closed, and a visible "Saved." stands where
// it was (after its disclosure), or, where the form went away with what it changed, under the
// section's heading. The note outlives a live re-render, until the next submit or page.
let savedNote = null; // {formId, sectionId}

// A new page: no form's error or "Saved." from the one before.
export function resetForms() {
  formErrors.clear();
  savedNote = null;
}

function savedFeedback(formId, sectionId) {
  savedNote = { formId, sectionId };
  const current = document.getElementById(formId);
  if (current && current.tagName === "FORM") {
    current.reset();
    for (const el of current.querySelectorAll("[id]")) lastValues.delete(el.id);
    const details = current.closest("details");
    if (details) details.open = false;
  }
  placeNote();
}

export function placeNote() {
  for (const old of document.querySelectorAll(".saved-note")) old.remove();
  if (!savedNote) return;
  const current = document.getElementById(savedNote.formId);
  let anchor = current ? current.closest("details") || current : null;
  if (!anchor && savedNote.sectionId) anchor = document.getElementById(savedNote.sectionId)?.querySelector("h2");
  if (anchor) anchor.after(h("p", { class: "saved-note", role: "status" }, t("saved")));
}

// ---- facts derived from the plan -------------------------------------------------------------

function meCitizenId(view) {
  return view.ctx.me && view.ctx.me.citizen ? view.ctx.me.citizen.id : null;
}

export function patientSide(view) {
  const me = meCitizenId(view);
  return view.plan.participants.find((p) => PATIENT_SIDE.includes(p.kind) && p.citizen && p.citizen.id === me) || null;
}

export function participantOrgs(plan) {
  const seen = new Map();
  for (const p of plan.participants) if (p.organisation) seen.set(p.organisation.id, p.organisation);
  return [...seen.values()];
}

export function currentMeeting(plan) {
  const open = plan.meetings.filter((m) => m.status === "SCHEDULED");
  open.sort((a, b) => (a.startsAt < b.startsAt ? 1 : -1));
  return open.find((m) => m.purpose === "PLANNING") || open[0] || null;
}

export function nameOf(plan, participantId) {
  const p = plan.participants.find((x) => x.id === participantId);
  return p ? p.name : "";
}

export function editable(plan) {
  return plan.status !== "CLOSED";
}

// A part of the page under its heading, which folds: the heading holds a button that opens and
// closes it (aria-expanded). What needs doing starts open, the rest closed; the reader's choice
// holds for as long as the page is open (across live re-renders). `count` is shown beside the title.
export function section(view, id, title, { open = false, count = null } = {}, ...children) {
  const expanded = view.folds.has(id) ? view.folds.get(id) : open;
  const body = h("div", { id: `body-${id}`, class: "fold-body" }, children);
  body.hidden = !expanded;
  const button = h("button", {
    type: "button", id: `fold-${id}`, class: "fold", "aria-expanded": String(expanded), "aria-controls": body.id,
    onclick: () => {
      const now = button.getAttribute("aria-expanded") !== "true";
      view.folds.set(id, now);
      button.setAttribute("aria-expanded", String(now));
      body.hidden = !now;
    },
  }, title, count !== null ? h("span", { class: "fold-count" }, ` (${count})`) : null);
  return h("section", { id: `sec-${id}`, "aria-labelledby": `h-${id}`, class: "block" },
    h("h2", { id: `h-${id}`, tabindex: "-1" }, button), body);
}

// Meetings still to come (scheduled, not yet over).
export function upcoming(plan) {
  const now = Date.now();
  return plan.meetings.filter((m) => m.status === "SCHEDULED" && new Date(m.endsAt).getTime() > now);
}

export function disclosure(id, summary, body) {
  return h("details", { id: `d-${id}`, class: "disclosure" }, h("summary", {}, summary), body);
}

// ---- a confirm step ------------------------------------------------------------------------

// "Remove" asks first: the question, "yes" and "cancel" appear in its place, with focus on the question.
export function askButton(view, key, label, name) {
  if (view.confirming === key) return null;
  return h("button", {
    type: "button", id: `ask-${key}`, class: "secondary small", "aria-label": name !== label ? name : null,
    onclick: () => openConfirm(view, key),
  }, label);
}

export function openConfirm(view, key) {
  view.confirming = key;
  formErrors.delete(`confirm-${key}`);
  render(view);
  document.getElementById(`confirm-${key}-q`)?.focus();
}

export function confirmPanel(view, key, question, yesLabel, action, doneFocus, backFocus = `ask-${key}`) {
  const id = `confirm-${key}`;
  const el = form(id, null, [h("p", { id: `${id}-q`, class: "confirm-question", tabindex: "-1" }, question)], yesLabel, async () => {
    const problem = await action();
    if (!problem && view.confirming === key) {
      view.confirming = null;
      render(view);
      document.getElementById(doneFocus)?.focus();
    }
    return problem;
  }, { className: "confirm" });
  el.setAttribute("role", "group");
  el.setAttribute("aria-labelledby", `${id}-q`);
  const back = () => { view.confirming = null; formErrors.delete(id); render(view); document.getElementById(backFocus)?.focus(); };
  const yes = el.querySelector("button[type=submit]");
  yes.classList.add("danger-button");
  yes.after(" ", h("button", { type: "button", class: "secondary", onclick: back }, t("cancel")));
  el.addEventListener("keydown", (event) => { if (event.key === "Escape") { event.preventDefault(); back(); } });
  return el;
}

let organisationsCache = null;
export function organisations() {
  if (!organisationsCache) organisationsCache = request("Organisations").catch((e) => { organisationsCache = null; throw e; });
  return organisationsCache;
}

// Selects filled after a request: remember what the user had picked before a live re-render.
const lastValues = new Map();
export function restoredValue(id) { return lastValues.get(id); }
document.addEventListener("change", (event) => { if (event.target.id) lastValues.set(event.target.id, event.target.value); });
