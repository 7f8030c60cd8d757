// The plan page: staff work through the readiness checklist; patients and relatives read the plan in
// plain language, write their own goals, decide about consent and relatives, and approve.
// Live: PlanChanges over the websocket makes the page read the plan again.
// This module reads the plan and draws the page (staff's sections here; the patient side's in
// plan/citizen.js, the print view in plan/print.js); each section's parts live in plan/<section>.js.
import { h, setTitle, announce, append } from "../lib/dom.js";
import { request, live } from "../lib/gql.js";
import { t, lang } from "./i18n.js";
import { disclosure, editable, formErrors, placeNote, resetForms, section, upcoming } from "./plan/common.js";
import { checklist } from "./plan/checklist.js";
import { actionForm, actionsByOrg, goalForm, goalsList } from "./plan/goals.js";
import { closing } from "./plan/closing.js";
import { awaitsConsent, participantList, relativeForm, removedList, staffForm } from "./plan/participants.js";
import { consentForm, consentSummary } from "./plan/consent.js";
import { followUpForm, overallForm, planFacts } from "./plan/facts.js";
import { meetingList, scheduleForm } from "./plan/meetings.js";
import { revisionList } from "./plan/revisions.js";
import { followUpSection } from "./plan/followup.js";
import { citizenView } from "./plan/citizen.js";
import { printView } from "./plan/print.js";

export function renderPlan(ctx, id, { print }) {
  resetForms();
  const view = {
    ctx, id, print, plan: null, conflict: false, error: null, log: null, live: null,
    staff: ctx.session.kind === "staff", loading: false, again: false, editingGoal: null, ownChangeAt: 0, shown: null,
    confirming: null, closeReason: null, issued: new Map(), closed: false, redraw: false,
    folds: new Map(), // section id -> open, as the reader left it (for this page load)
  };
  ctx.main.replaceChildren(h("h1", {}, t("loading")));
  load(view, true);
  const leave = () => {
    view.closed = true; // a read still under way draws nothing on the page that follows
    ctx.main.removeAttribute("aria-busy");
    delete ctx.main.dataset.planVersion;
  };
  if (print) ctx.setCleanup(leave);
  else {
    live.onStatus = (on) => {
      const status = document.getElementById("live-status");
      if (status) status.textContent = on ? t("liveOn") : t("liveOff");
      if (on && view.live === false) load(view, false); // changes made while the connection was down
      view.live = on;
    };
    const stop = live.subscribe("PlanChanges", { planId: id }, () => {
      const someoneElse = Date.now() - view.ownChangeAt > 3000; // our own change was announced as saved
      load(view, false).then(() => { if (someoneElse) announce(t("updated")); });
    });
    ctx.setCleanup(() => { stop(); live.onStatus = () => {}; leave(); });
  }
}

// Reads the plan and shows it. While a read is under way <main> says aria-busy="true" (and
// data-plan-version the version it shows after): what a script or a test waits for before it acts
// on the page. A read that brings nothing new leaves the page as it is, so a click or what one is
// typing is never met by a redrawn control; `redraw` draws it again regardless.
// The promise settles once the page shows a read begun after the call (one under way reads again
// after it), so a saved form is emptied in the page as drawn from the saved plan.
export function load(view, first, redraw = false) {
  if (view.loading) { view.again = true; view.redraw ||= redraw; return view.done; }
  view.done = loadOnce(view, first, redraw);
  return view.done;
}

async function loadOnce(view, first, redraw) {
  view.loading = true;
  view.ctx.main.setAttribute("aria-busy", "true");
  let same = false;
  try {
    const data = await request("AppPlanPage", { id: view.id, language: lang.toUpperCase() });
    const text = JSON.stringify(data.plan);
    same = !first && !redraw && view.plan !== null && text === view.shown;
    view.shown = text;
    view.plan = data.plan;
    view.error = null;
    // a link shown for copying goes away once it no longer works (revoked here or elsewhere)
    for (const key of [...view.issued.keys()]) {
      const [meetingId, participantId] = key.split(":");
      const m = view.plan && view.plan.meetings.find((x) => x.id === meetingId);
      if (!m || m.status !== "SCHEDULED" || !m.inviteLinks.some((l) => l.participantId === participantId)) {
        view.issued.delete(key);
        same = false;
      }
    }
  } catch (error) {
    if (error.code === "NOT_FOUND") view.error = t("notFound");
    else view.error = `${t("error")}: ${error.message}`;
    view.plan = null;
    view.shown = null;
  } finally {
    view.loading = false;
  }
  if (view.closed) return;
  if (!same) render(view);
  if (first) view.ctx.rendered();
  if (view.again) {
    const again = view.redraw;
    view.again = false;
    view.redraw = false;
    await load(view, false, again);
    return;
  }
  if (!view.loading) {
    view.ctx.main.removeAttribute("aria-busy");
    if (view.plan) view.ctx.main.dataset.planVersion = String(view.plan.version);
  }
}

// ---- the page ------------------------------------------------------------------------------

function captureForms(main) {
  const values = new Map();
  for (const el of main.querySelectorAll("input[id], textarea[id], select[id]")) {
    values.set(el.id, el.type === "checkbox" || el.type === "radio" ? el.checked : el.value);
  }
  const open = new Set([...main.querySelectorAll("details[open][id]")].map((d) => d.id));
  const focused = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : null;
  return { values, open, focused };
}

function restoreForms(main, saved) {
  for (const [id, value] of saved.values) {
    const el = document.getElementById(id);
    if (!el || !main.contains(el) || el.type === "hidden") continue;
    if (el.type === "checkbox" || el.type === "radio") el.checked = value;
    else if (el.tagName === "SELECT") { if ([...el.options].some((o) => o.value === value)) el.value = value; }
    else el.value = value;
  }
  for (const id of saved.open) document.getElementById(id)?.setAttribute("open", "");
  if (saved.focused) document.getElementById(saved.focused)?.focus();
}

export function render(view) {
  const main = view.ctx.main;
  if (!view.plan) {
    setTitle(t("error"));
    main.replaceChildren(h("h1", {}, t("error")), h("p", { role: "alert" }, view.error || ""), h("p", {}, h("a", { href: "#/plans" }, t("navPlans"))));
    return;
  }
  const saved = captureForms(main);
  setTitle(view.print ? t("printView") : t("planFor", { name: view.plan.patient.name }));
  let content;
  if (view.print) content = printView(view);
  else if (view.staff) content = staffView(view);
  else content = citizenView(view);
  main.replaceChildren();
  append(main, content);
  restoreForms(main, saved);
  placeNote();
}

// The top of the page: who the plan is for, its status, and (in small print, on one line where it
// fits) the patient's copy and whether the page updates itself: the plan itself begins soon after.
export function header(view, printLabel) {
  const plan = view.plan;
  const status = t(plan.status) + (plan.closeReason ? ` – ${t(plan.closeReason)}` : "");
  return [
    h("h1", {}, t("planFor", { name: plan.patient.name })),
    h("p", { class: "lead plan-status" },
      h("span", { class: `status status-${plan.status}` }, t("statusLine", { status })),
      view.staff ? [" · ", h("span", { class: "nowrap" }, personalNumber(plan.patient.personalNumber))] : null),
    h("p", { class: "plan-tools" },
      h("a", { href: `#/plans/${plan.id}/print` }, printLabel), " ",
      h("span", { id: "live-status", class: "hint", "aria-live": "off" }, live.ready ? t("liveOn") : t("liveOff"))),
    view.conflict
      ? h("div", { class: "alert", id: "conflict", role: "alert", tabindex: "-1" },
        h("p", {}, t("conflict")),
        h("button", { type: "button", onclick: () => { view.conflict = false; formErrors.clear(); load(view, false, true); } }, t("reload")))
      : null,
  ];
}

export function personalNumber(value) {
  return /^\d{12}$/.test(value) ? `${value.slice(0, 8)}-${value.slice(8)}` : value;
}

// ---- staff ---------------------------------------------------------------------------------

function staffView(view) {
  const plan = view.plan;
  return [
    ...header(view, t("printView")),
    checklist(view),
    section(view, "goals", t("goals"), { open: true }, goalsList(view), editable(plan) ? disclosure("add-goal", t("addGoal"), goalForm(view, "sec")) : null),
    section(view, "actions", t("actions"), { open: true }, actionsByOrg(view, true), editable(plan) ? disclosure("add-action", t("addAction"), actionForm(view, "sec")) : null),
    section(view, "participants", t("participants"), { open: plan.participants.some((p) => awaitsConsent(plan, p)), count: plan.participants.length },
      participantList(view), removedList(view),
      editable(plan) ? disclosure("add-staff", t("addStaff"), staffForm(view, "sec")) : null,
      editable(plan) ? disclosure("add-relative", t("addRelative"), relativeForm(view, "sec")) : null),
    section(view, "consent", t("consent"), {}, consentSummary(view), editable(plan) ? disclosure("record-consent", t("recordOral"), consentForm(view, "sec")) : null),
    section(view, "details", t("aboutPlan"), {}, planFacts(view),
      editable(plan) ? disclosure("edit-followup", t("followUp"), followUpForm(view, "sec")) : null,
      editable(plan) ? disclosure("edit-overall", t("overall"), overallForm(view, "sec")) : null),
    section(view, "meetings", t("meetings"), { open: upcoming(plan).length > 0, count: plan.meetings.length },
      meetingList(view), editable(plan) ? disclosure("schedule", t("scheduleMeeting"), scheduleForm(view, "sec")) : null),
    followUpSection(view),
    section(view, "revisions", t("revisions"), { count: plan.revisions.length }, revisionList(view)),
    closing(view),
  ];
}

// (A missing consent or follow-up date is fixed from the checklist, so those sections stay folded.)
