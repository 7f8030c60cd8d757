// The plan page: staff work through the readiness checklist; patients and relatives read the plan in
// plain language, write their own goals, decide about consent and relatives, and approve.
// Live: PlanChanges over the websocket makes the page read the plan again.
import { h, field, options, setTitle, announce, append } from "../lib/dom.js";
import { request, live } from "../lib/gql.js";
import { t, lang, formatDate, formatDateTime, formatTime, todayInStockholm, stockholmToIso, isoToStockholm } from "./i18n.js";

const PATIENT_SIDE = ["PATIENT", "REPRESENTATIVE"];

export function renderPlan(ctx, id, { print }) {
  formErrors.clear();
  savedNote = null;
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
function load(view, first, redraw = false) {
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

// ---- changing the plan ---------------------------------------------------------------------

// Runs a mutation; on success reads the plan again. Returns an error text for the form, or null.
// `explain` turns a refusal into plain words: {forbidden: text}.
async function mutate(view, name, variables, explain = {}) {
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

const planVars = (view, extra = {}) => ({ planId: view.plan.id, expectedVersion: view.plan.version, ...extra });

// A form whose submit runs `action` (returns an error text or null) and shows the outcome. The
// error outlives a re-render (a live update may redraw the page just after a refusal).
const formErrors = new Map();

function form(id, title, controls, submitLabel, action, { className = "panel", saved = true } = {}) {
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

function placeNote() {
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

function patientSide(view) {
  const me = meCitizenId(view);
  return view.plan.participants.find((p) => PATIENT_SIDE.includes(p.kind) && p.citizen && p.citizen.id === me) || null;
}

function participantOrgs(plan) {
  const seen = new Map();
  for (const p of plan.participants) if (p.organisation) seen.set(p.organisation.id, p.organisation);
  return [...seen.values()];
}

function currentMeeting(plan) {
  const open = plan.meetings.filter((m) => m.status === "SCHEDULED");
  open.sort((a, b) => (a.startsAt < b.startsAt ? 1 : -1));
  return open.find((m) => m.purpose === "PLANNING") || open[0] || null;
}

function nameOf(plan, participantId) {
  const p = plan.participants.find((x) => x.id === participantId);
  return p ? p.name : "";
}

function editable(plan) {
  return plan.status !== "CLOSED";
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

function render(view) {
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
function header(view, printLabel) {
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

function personalNumber(value) {
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
    section(view, "revisions", t("revisions"), { count: plan.revisions.length }, revisionList(view)),
    closing(view),
  ];
}

// (A missing consent or follow-up date is fixed from the checklist, so those sections stay folded.)
// A part of the page under its heading, which folds: the heading holds a button that opens and
// closes it (aria-expanded). What needs doing starts open, the rest closed; the reader's choice
// holds for as long as the page is open (across live re-renders). `count` is shown beside the title.
function section(view, id, title, { open = false, count = null } = {}, ...children) {
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
function upcoming(plan) {
  const now = Date.now();
  return plan.meetings.filter((m) => m.status === "SCHEDULED" && new Date(m.endsAt).getTime() > now);
}

function disclosure(id, summary, body) {
  return h("details", { id: `d-${id}`, class: "disclosure" }, h("summary", {}, summary), body);
}

function checklist(view) {
  const plan = view.plan;
  if (plan.status === "ACTIVE" || plan.status === "CLOSED") {
    const coordinator = isCoordinator(view);
    if (plan.status === "CLOSED") {
      return section(view, "checklist", t("closedTitle"), { open: true },
        h("p", {}, t("closedText", { when: formatDateTime(plan.closedAt), reason: plan.closeReason ? t(`why_${plan.closeReason}`) : "–" })));
    }
    return section(view, "checklist", t("finalized"), { open: true },
      plan.finalizedAt ? h("p", {}, formatDateTime(plan.finalizedAt)) : null,
      plan.status === "ACTIVE" && coordinator
        ? form("revise", null, [], t("revise"), () => mutate(view, "RevisePlan", planVars(view)), { className: "inline" })
        : null);
  }
  const blockers = plan.readiness.blockers;
  const items = blockers.map((b) => {
    const prefix = `fix-${b.code}${b.subject.id ? `-${b.subject.id}` : ""}`;
    let fix = fixFor(view, b, prefix);
    // a form with several fields opens on request: the list stays short enough to take in at once
    if (fix && fix.tagName === "FORM" && fix.classList.contains("panel")) {
      fix = h("details", { id: `${prefix}-details`, class: "disclosure fix-details" }, h("summary", {}, fixLabel(b.code)), fix);
    }
    return h("li", { class: "blocker", "data-code": b.code }, h("p", { class: "blocker-message" }, b.message), fix);
  });
  const coordinator = isCoordinator(view);
  // the list above is the one list of what is left; beside the button only how much, and who may
  const reasons = h("div", { id: "finalize-reasons", class: "reasons" },
    !coordinator ? h("p", {}, t("finalizeCoordinator")) : null,
    blockers.length ? h("p", {}, t("finalizeLeft", { n: blockers.length })) : null);
  const finalize = form("finalize", null, [reasons], t("finalize"),
    () => mutate(view, "FinalizePlan", planVars(view)), { className: "finalize" });
  const button = finalize.querySelector("button[type=submit]");
  // aria-disabled rather than disabled: the button stays in the tab order and reads out its reasons
  if (!plan.readiness.ready || !coordinator) button.setAttribute("aria-disabled", "true");
  button.setAttribute("aria-describedby", "finalize-reasons");
  button.id = "finalize-button";
  return section(view, "checklist", t("checklist"), { open: true },
    blockers.length ? h("ol", { class: "checklist", id: "checklist" }, items) : h("p", { class: "ok" }, t("checklistDone")),
    finalize);
}

function isCoordinator(view) {
  const me = view.ctx.me && view.ctx.me.staffMember ? view.ctx.me.staffMember.id : null;
  return view.plan.participants.some((p) => p.isCoordinator && p.staffMember && p.staffMember.id === me);
}

function fixLabel(code) {
  return t({
    CONSENT: "recordOral", CROSS_ORGANISATION: "addStaff", OVERALL_RESPONSIBILITY: "chooseOverall",
    PATIENT_GOALS: "addGoal", ACTIONS: "addAction", FOLLOW_UP: "setFollowUp",
    PATIENT_ATTENDED: "scheduleMeeting", RELATIVES_INVITED: "scheduleMeeting",
  }[code] || "fixIt");
}

function fixFor(view, blocker, prefix) {
  const plan = view.plan;
  switch (blocker.code) {
    case "CONSENT": return consentForm(view, prefix);
    case "CROSS_ORGANISATION": return staffForm(view, prefix);
    case "OVERALL_RESPONSIBILITY": return overallForm(view, prefix);
    case "PATIENT_GOALS": return goalForm(view, prefix);
    case "ACTIONS": return actionForm(view, prefix);
    case "FOLLOW_UP": return followUpForm(view, prefix);
    case "PATIENT_ATTENDED": {
      const meeting = currentMeeting(plan);
      if (!meeting) return scheduleForm(view, prefix);
      return h("div", { class: "fix" }, attendanceControls(view, meeting, prefix), videoLink(meeting, true));
    }
    case "RELATIVES_DECIDED":
      return h("div", { class: "fix" }, h("p", { class: "hint" }, t("relativesOnlyPatient")));
    case "RELATIVES_INVITED": {
      const meeting = currentMeeting(plan);
      if (!meeting) return scheduleForm(view, prefix);
      const who = blocker.subject.id;
      return form(`${prefix}-invite`, null, [], `${t("invite")}: ${nameOf(plan, who)}`,
        () => mutate(view, "InviteToMeeting", { meetingId: meeting.id, expectedVersion: meeting.version, participantIds: [who], channel: channelFor(plan, who) }),
        { className: "inline" });
    }
    case "PATIENT_APPROVED":
      return h("div", { class: "fix" }, h("p", { class: "hint" }, t("approveHint")));
    default: return null;
  }
}

function channelFor(plan, participantId) {
  const p = plan.participants.find((x) => x.id === participantId);
  if (p && p.citizen && p.citizen.phone) return "SMS";
  if (p && p.citizen && p.citizen.email) return "EMAIL";
  return "LETTER";
}

// ---- goals ---------------------------------------------------------------------------------

function goalsList(view) {
  const plan = view.plan;
  if (!plan.goals.length) return h("p", {}, t("noGoals"));
  const mine = patientSide(view);
  return h("ul", { class: "items", id: "goal-list" }, plan.goals.map((g) => {
    const canEdit = editable(plan) && (view.staff || (mine && g.expressedById === mine.id));
    if (view.editingGoal === g.id) return h("li", {}, editGoalForm(view, g));
    const key = `goal-${g.id}`;
    return h("li", {},
      h("p", { class: "goal-text" }, `”${g.text}”`),
      h("p", { class: "hint" },
        g.expressedById ? t("expressedBy", { name: nameOf(plan, g.expressedById) }) : null,
        g.targetDate ? ` · ${t("target", { date: formatDate(g.targetDate) })}` : null),
      canEdit ? h("button", { type: "button", class: "secondary small", "aria-label": `${t("edit")}: ${g.text}`, onclick: () => { view.editingGoal = g.id; render(view); document.getElementById(`goal-edit-${g.id}-text`)?.focus(); } }, t("edit")) : null,
      canEdit ? [" ", askButton(view, key, t("remove"), `${t("remove")}: ${g.text}`)] : null,
      view.confirming === key ? confirmPanel(view, key, t("removeGoalQ", { text: g.text }), t("yesRemove"),
        () => mutate(view, "RemoveGoal", { goalId: g.id, expectedVersion: view.plan.version }), "h-goals") : null);
  }));
}

function editGoalForm(view, goal) {
  const text = h("textarea", { id: `goal-edit-${goal.id}-text`, rows: "3" }, goal.text);
  return form(`goal-edit-${goal.id}`, null, [field(view.staff ? t("goalText") : t("myGoalText"), text),
    h("button", { type: "button", class: "secondary", onclick: () => { view.editingGoal = null; render(view); } }, t("cancel"))],
  t("save"), async () => {
    const problem = await mutate(view, "UpdateGoal", { goalId: goal.id, expectedVersion: view.plan.version, input: { text: text.value.trim() } });
    if (!problem) { view.editingGoal = null; render(view); }
    return problem;
  });
}

function goalForm(view, prefix) {
  const plan = view.plan;
  const text = h("textarea", { id: `${prefix}-goal-text`, rows: "3", required: true });
  const controls = [field(view.staff ? t("goalText") : t("myGoalText"), text)];
  let who = null;
  if (view.staff) {
    who = options(h("select", { id: `${prefix}-goal-who` }),
      plan.participants.filter((p) => PATIENT_SIDE.includes(p.kind) || p.kind === "RELATIVE").map((p) => [p.id, `${p.name} (${t(p.kind)})`]));
    controls.push(field(t("whoSaid"), who));
  }
  const target = h("input", { id: `${prefix}-goal-date`, type: "date" });
  controls.push(field(t("targetDate"), target));
  return form(`${prefix}-goal`, null, controls, t("addGoal"), async () => {
    if (!text.value.trim()) return t("goalText");
    const input = { text: text.value.trim() };
    if (who) input.expressedById = who.value;
    if (target.value) input.targetDate = target.value;
    return mutate(view, "AddGoal", planVars(view, { input }));
  });
}

// ---- actions -------------------------------------------------------------------------------

function responsibleName(plan, a) {
  if (a.responsibleOrganisation) return a.responsibleOrganisation.name;
  return nameOf(plan, a.responsibleParticipantId) || "–";
}

function actionsByOrg(view, withControls = false) {
  const plan = view.plan;
  if (!plan.actions.length) return h("p", {}, t("noActions"));
  const groups = new Map();
  for (const a of plan.actions) {
    const key = responsibleName(plan, a);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(a);
  }
  return h("div", { id: "action-groups" }, [...groups].map(([org, list]) =>
    h("div", { class: "group" },
      h("h3", {}, org),
      h("ul", { class: "items" }, list.map((a) =>
        h("li", {},
          h("p", {}, h("strong", {}, a.description)),
          h("p", { class: "hint" },
            t(a.status),
            a.responsiblePerson ? ` · ${a.responsiblePerson}` : null,
            a.dueDate ? ` · ${t("dueDate").replace(/ \(.*\)/, "")}: ${formatDate(a.dueDate)}` : null),
          withControls && view.staff && editable(plan) ? actionControls(view, a, org) : null))))));
}

// Change an action's status, or remove it: only the responsible organisation may (the API says so).
function actionControls(view, a, org) {
  const key = `action-${a.id}`;
  const forbidden = t("actionForbidden", { org });
  const status = options(h("select", { id: `act-${a.id}-status` }), ["PLANNED", "ONGOING", "DONE", "CANCELLED"].map((s) => [s, t(s)]), a.status);
  const change = form(`act-${a.id}`, null, [field(t("actionStatus"), status)], t("saveStatus"),
    () => mutate(view, "UpdateAction", { actionId: a.id, expectedVersion: view.plan.version, input: { status: status.value } }, { forbidden }),
    { className: "row-form" });
  change.querySelector("button[type=submit]").setAttribute("aria-label", `${t("saveStatus")}: ${a.description}`);
  return h("div", { class: "item-controls" }, change,
    view.confirming === key
      ? confirmPanel(view, key, t("removeActionQ", { text: a.description }), t("yesRemove"),
        () => mutate(view, "RemoveAction", { actionId: a.id, expectedVersion: view.plan.version }, { forbidden }), "h-actions")
      : askButton(view, key, t("remove"), `${t("remove")}: ${a.description}`));
}

// ---- a confirm step ------------------------------------------------------------------------

// "Remove" asks first: the question, "yes" and "cancel" appear in its place, with focus on the question.
function askButton(view, key, label, name) {
  if (view.confirming === key) return null;
  return h("button", {
    type: "button", id: `ask-${key}`, class: "secondary small", "aria-label": name !== label ? name : null,
    onclick: () => openConfirm(view, key),
  }, label);
}

function openConfirm(view, key) {
  view.confirming = key;
  formErrors.delete(`confirm-${key}`);
  render(view);
  document.getElementById(`confirm-${key}-q`)?.focus();
}

function confirmPanel(view, key, question, yesLabel, action, doneFocus, backFocus = `ask-${key}`) {
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

// ---- closing the plan ----------------------------------------------------------------------

const CLOSE_REASONS = ["GOALS_MET", "NO_LONGER_NEEDED", "MOVED", "DECEASED"];

// Closing, where it makes sense. A plan once finalized is closed with a reason (its own folded
// section, coordinator only). A draft never finalized has no goals to have met: a small disclosure
// at the end lets the coordinator put it away as no longer needed (NO_LONGER_NEEDED), after asking.
function closing(view) {
  const plan = view.plan;
  if (!editable(plan)) return null;
  const coordinator = isCoordinator(view);
  if (plan.status === "DRAFT" && !plan.finalizedAt) {
    if (!coordinator) return null;
    if (view.confirming === "close") {
      return h("div", { id: "discard", class: "discard" }, confirmPanel(view, "close", t("discardQ"), t("yesDiscard"),
        () => mutate(view, "ClosePlan", planVars(view, { reason: "NO_LONGER_NEEDED" })), "h-checklist", "close-next"));
    }
    return h("details", { id: "d-discard", class: "disclosure discard", open: view.closeReason === "NO_LONGER_NEEDED" }, h("summary", {}, t("discardTitle")),
      h("p", {}, t("discardText")),
      h("button", { type: "button", id: "close-next", class: "secondary", onclick: () => { view.closeReason = "NO_LONGER_NEEDED"; openConfirm(view, "close"); } }, t("discardButton")));
  }
  return section(view, "close", t("closePlan"), { open: view.confirming === "close" },
    coordinator ? closePlan(view) : h("p", {}, t("closeCoordinator")));
}

function closePlan(view) {
  if (view.confirming === "close" && view.closeReason) {
    return confirmPanel(view, "close", t("closeQ", { reason: t(`why_${view.closeReason}`) }), t("yesClose"),
      () => mutate(view, "ClosePlan", planVars(view, { reason: view.closeReason })), "h-checklist", "close-next");
  }
  const radios = CLOSE_REASONS.map((r) => h("input", { type: "radio", name: "close-reason", id: `close-${r}`, value: r, checked: view.closeReason === r }));
  const chosen = form("close-form", null, [
    h("p", {}, t("closeText")),
    h("fieldset", {}, h("legend", {}, t("closeWhy")),
      CLOSE_REASONS.map((r, i) => h("div", { class: "check" }, radios[i], h("label", { for: radios[i].id }, t(`why_${r}`))))),
    h("p", { class: "hint" }, t("closeConsentHint")),
  ], t("closeNext"), () => {
    const picked = radios.find((r) => r.checked);
    if (!picked) return t("closeWhy");
    view.closeReason = picked.value;
    openConfirm(view, "close");
    return null;
  }, { className: "panel", saved: false });
  chosen.querySelector("button[type=submit]").id = "close-next";
  return chosen;
}

function actionForm(view, prefix) {
  const plan = view.plan;
  const text = h("input", { id: `${prefix}-action-text`, type: "text", required: true });
  const orgs = participantOrgs(plan);
  const mine = view.ctx.me && view.ctx.me.staffMember ? view.ctx.me.staffMember.organisation.id : null;
  const org = options(h("select", { id: `${prefix}-action-org` }), orgs.map((o) => [o.id, o.name]), mine);
  const person = h("input", { id: `${prefix}-action-person`, type: "text", autocomplete: "off" });
  const due = h("input", { id: `${prefix}-action-due`, type: "date" });
  const goal = options(h("select", { id: `${prefix}-action-goal` }), [["", t("noGoal")], ...plan.goals.map((g) => [g.id, g.text.slice(0, 60)])]);
  return form(`${prefix}-action`, null,
    [field(t("actionText"), text), field(t("responsibleOrg"), org), field(t("responsiblePerson"), person), field(t("dueDate"), due), field(t("linkedGoal"), goal)],
    t("addAction"), async () => {
      if (!text.value.trim()) return t("actionText");
      const input = { description: text.value.trim(), responsibleOrganisationId: org.value };
      if (person.value.trim()) input.responsiblePerson = person.value.trim();
      if (due.value) input.dueDate = due.value;
      if (goal.value) input.goalId = goal.value;
      return mutate(view, "AddAction", planVars(view, { input }));
    });
}

// ---- participants --------------------------------------------------------------------------

function participantState(view, p) {
  const meeting = currentMeeting(view.plan);
  const bits = [];
  if (p.kind === "RELATIVE") {
    bits.push(p.wantedByPatient === true ? t("wanted") : p.wantedByPatient === false ? t("notWanted") : t("notDecided"));
  }
  if (meeting) {
    const inv = meeting.invitations.find((i) => i.participantId === p.id);
    const channel = inv ? (inv.channel === "IN_PERSON" ? t("IN_PERSON_CH") : t(inv.channel)) : "";
    bits.push(inv ? t("invitedTo", { when: formatDateTime(inv.invitedAt), channel }) : t("notInvited"));
    const att = meeting.attendances.find((a) => a.participantId === p.id);
    if (att) bits.push(t("attended", { how: att.method === "MEDIA" ? t("MEDIA") : t("ATTESTED", { name: att.attestedBy ? att.attestedBy.name : "" }) }));
  }
  return bits.join(" · ");
}

function participantList(view) {
  const plan = view.plan;
  return h("ul", { class: "items", id: "participant-list" }, plan.participants.map((p) =>
    h("li", {},
      h("p", {}, h("strong", {}, p.name), ` – ${t(p.kind)}`,
        p.organisation ? `, ${p.organisation.name}` : "",
        p.staffMember && p.staffMember.title ? `, ${p.staffMember.title}` : "",
        p.isCoordinator ? ` (${t("coordinator")})` : ""),
      contactLine(p),
      h("p", { class: "hint" }, participantState(view, p)),
      awaitsConsent(plan, p) ? h("p", { class: "note awaiting-consent", role: "note" }, awaitingConsentText(p)) : null,
      removable(view, p) ? (view.confirming === `part-${p.id}`
        ? confirmPanel(view, `part-${p.id}`, t(p.kind === "STAFF" ? "removeStaffQ" : "removePartQ", { name: p.name }), t("yesRemove"),
          () => mutate(view, "RemoveParticipant", { participantId: p.id, expectedVersion: view.plan.version }), "h-participants")
        : askButton(view, `part-${p.id}`, t("remove"), `${t("remove")}: ${p.name}`)) : null)));
}

// How to reach a participant: a staff member's work phone and e-mail, a citizen's own (none is
// given for someone with a protected identity outside their own care: the service leaves it out).
function contactLine(p) {
  const who = p.staffMember || p.citizen;
  const phone = who ? who.phone : null;
  const email = who ? who.email : null;
  if (!phone && !email) return null;
  return h("p", { class: "contact-line" },
    phone ? telLink(phone, false) : null,
    phone && email ? " · " : null,
    email ? h("a", { href: `mailto:${email}` }, email) : null);
}

// Staff of an organisation the patient's consent does not cover yet cannot see the plan (the
// service answers "not found" to them) and are sent no invitation until it does: say so.
function awaitsConsent(plan, p) {
  return p.kind === "STAFF" && p.organisation && (plan.organisationsAwaitingConsent || []).includes(p.organisation.id);
}
function awaitingConsentText(p) {
  return t("awaitingConsent", { name: p.name, org: p.organisation.name });
}

// Those removed from the plan: what they did stays in its history.
function removedList(view) {
  const removed = view.plan.removedParticipants || [];
  if (!removed.length) return null;
  return h("div", { class: "removed" },
    h("h3", {}, t("formerParticipants")),
    h("ul", { class: "items removed-list", id: "removed-participants" }, removed.map((p) => h("li", {},
      h("p", {}, h("strong", {}, p.name), ` – ${t(p.kind)}`, p.role ? `, ${p.role}` : ""),
      h("p", { class: "hint" }, p.removedBy
        ? t("removedByOn", { when: formatDate(isoToStockholm(p.removedAt)[0]), who: p.removedBy.name })
        : t("removedOn", { when: formatDate(isoToStockholm(p.removedAt)[0]) }))))));
}

function removable(view, p) {
  const plan = view.plan;
  if (!view.staff || !editable(plan) || p.kind === "PATIENT") return false;
  return !(p.isCoordinator && plan.participants.filter((x) => x.isCoordinator).length === 1);
}

function staffForm(view, prefix) {
  const org = h("select", { id: `${prefix}-staff-org` });
  const person = h("select", { id: `${prefix}-staff-person`, disabled: true }, h("option", { value: "" }, t("chooseFirst")));
  const role = h("input", { id: `${prefix}-staff-role`, type: "text" });
  const fill = async () => {
    person.replaceChildren();
    if (!org.value) { person.disabled = true; person.append(h("option", { value: "" }, t("chooseFirst"))); return; }
    const staff = (await request("StaffMembers", { organisationId: org.value })).staffMembers;
    const present = new Set(view.plan.participants.filter((p) => p.staffMember).map((p) => p.staffMember.id));
    options(person, staff.filter((s) => !present.has(s.id)).map((s) => [s.id, `${s.name}, ${s.title}`]));
    person.disabled = false;
  };
  org.addEventListener("change", fill);
  organisations().then((data) => {
    options(org, [["", t("chooseOrg")], ...data.organisations.map((o) => [o.id, o.name])]);
    const wanted = restoredValue(org.id);
    if (wanted) { org.value = wanted; fill().then(() => { const p = restoredValue(person.id); if (p) person.value = p; }); }
  });
  return form(`${prefix}-staff`, null, [field(t("organisation"), org), field(t("staffMember"), person), field(t("role"), role)], t("add"), async () => {
    if (!person.value) return t("chooseOrg");
    const staffMemberId = person.value;
    const error = await mutate(view, "AddParticipant", planVars(view, { input: { kind: "STAFF", staffMemberId, role: role.value.trim() } }));
    const added = !error && view.plan.participants.find((p) => p.staffMember && p.staffMember.id === staffMemberId);
    if (added && awaitsConsent(view.plan, added)) announce(awaitingConsentText(added));
    return error;
  });
}

let organisationsCache = null;
function organisations() {
  if (!organisationsCache) organisationsCache = request("Organisations").catch((e) => { organisationsCache = null; throw e; });
  return organisationsCache;
}

// Selects filled after a request: remember what the user had picked before a live re-render.
const lastValues = new Map();
function restoredValue(id) { return lastValues.get(id); }
document.addEventListener("change", (event) => { if (event.target.id) lastValues.set(event.target.id, event.target.value); });

function relativeForm(view, prefix) {
  const name = h("input", { id: `${prefix}-rel-name`, type: "text", autocomplete: "off" });
  const pnr = h("input", { id: `${prefix}-rel-pnr`, type: "text", inputmode: "numeric", autocomplete: "off" });
  const phone = h("input", { id: `${prefix}-rel-phone`, type: "tel", autocomplete: "off" });
  const email = h("input", { id: `${prefix}-rel-email`, type: "email", autocomplete: "off" });
  return form(`${prefix}-relative`, null, [field(t("name"), name), field(t("personalNumber"), pnr), field(t("phone"), phone), field(t("email"), email)], t("addRelative"), async () => {
    const newCitizen = { name: name.value.trim(), personalNumber: pnr.value.replace(/\D/g, "") };
    if (phone.value.trim()) newCitizen.phone = phone.value.trim();
    if (email.value.trim()) newCitizen.email = email.value.trim();
    return mutate(view, "AddParticipant", planVars(view, { input: { kind: "RELATIVE", newCitizen } }));
  });
}

// ---- consent -------------------------------------------------------------------------------

function consentSummary(view) {
  if (!view.staff) return citizenConsent(view);
  const c = view.plan.consent;
  if (!c) return h("p", { id: "consent-summary" }, t("noConsent"));
  const method = c.method === "DIGITAL" ? t("DIGITAL") : t("ORAL", { name: c.recordedBy ? c.recordedBy.name : "" });
  return h("div", { id: "consent-summary" },
    h("p", {}, t("consentGiven", { method, when: formatDateTime(c.givenAt), orgs: c.organisations.map((o) => o.name).join(", ") })),
    c.exclusions ? h("p", {}, `${t("exclusions")}: ${c.exclusions}`) : null);
}

function orgCheckboxes(view, prefix) {
  const chosen = new Set(view.plan.consent ? view.plan.consent.organisations.map((o) => o.id) : []);
  const orgs = participantOrgs(view.plan);
  const boxes = orgs.map((o) => h("input", { type: "checkbox", id: `${prefix}-org-${o.id}`, value: o.id, checked: chosen.size ? chosen.has(o.id) : true }));
  const fieldset = h("fieldset", {}, h("legend", {}, view.staff ? t("consentOrgs") : t("consentQuestion")),
    orgs.map((o, i) => h("div", { class: "check" }, boxes[i], h("label", { for: boxes[i].id }, o.name))));
  return [fieldset, () => boxes.filter((b) => b.checked).map((b) => b.value)];
}

function consentForm(view, prefix) {
  const [fieldset, picked] = orgCheckboxes(view, prefix);
  const exclusions = h("input", { id: `${prefix}-consent-excl`, type: "text" });
  const controls = [fieldset];
  let who = null;
  if (view.staff) {
    who = options(h("select", { id: `${prefix}-consent-who` }),
      view.plan.participants.filter((p) => PATIENT_SIDE.includes(p.kind)).map((p) => [p.id, `${p.name} (${t(p.kind)})`]));
    controls.push(field(t("givenBy"), who));
  }
  controls.push(field(t("exclusionsOptional"), exclusions));
  return form(`${prefix}-consent`, null, controls, view.staff ? t("recordOral") : t("giveConsent"), () => {
    const input = { organisationIds: picked(), exclusions: exclusions.value.trim() };
    if (who) input.givenById = who.value;
    return mutate(view, "RecordConsent", planVars(view, { input }));
  });
}

// ---- plan facts ----------------------------------------------------------------------------

function planFacts(view) {
  const plan = view.plan;
  return h("dl", { class: "facts", id: "plan-facts" },
    h("div", {}, h("dt", {}, t("background")), h("dd", {}, plan.background || "–")),
    h("div", {}, h("dt", {}, t("followUp")), h("dd", {}, plan.followUpDate ? formatDate(plan.followUpDate) : t("none"))),
    h("div", {}, h("dt", {}, t("overall")), h("dd", {}, plan.overallResponsibleOrganisation ? plan.overallResponsibleOrganisation.name : t("none"))),
    plan.dischargeReadyAt ? h("div", {}, h("dt", {}, t("dischargeReady")), h("dd", {}, formatDateTime(plan.dischargeReadyAt))) : null);
}

function followUpForm(view, prefix) {
  const date = h("input", { id: `${prefix}-followup`, type: "date", min: todayInStockholm(1), value: view.plan.followUpDate || "" });
  return form(`${prefix}-followup-form`, null, [field(t("followUp"), date)], t("save"), () => {
    if (!date.value) return t("followUp");
    return mutate(view, "UpdatePlan", planVars(view, { input: { followUpDate: date.value } }));
  });
}

function overallForm(view, prefix) {
  const orgs = participantOrgs(view.plan).filter((o) => o.kind === "REGION" || o.kind === "MUNICIPALITY");
  const current = view.plan.overallResponsibleOrganisation ? view.plan.overallResponsibleOrganisation.id : null;
  const org = options(h("select", { id: `${prefix}-overall` }), orgs.map((o) => [o.id, o.name]), current);
  return form(`${prefix}-overall-form`, null, [field(t("overall"), org)], t("save"), () =>
    mutate(view, "SetOverallResponsibility", planVars(view, { organisationId: org.value })));
}

// ---- meetings ------------------------------------------------------------------------------

function videoLink(meeting, staff) {
  if (meeting.kind === "IN_PERSON" || meeting.status !== "SCHEDULED") return null;
  return h("p", {}, h("a", { class: "button", href: `/video/?m=${meeting.id}` }, staff ? t("startVideo") : t("joinVideo")));
}

function attendanceControls(view, meeting, prefix) {
  const plan = view.plan;
  if (meeting.kind === "VIDEO") return []; // attendance in a video meeting comes from the video itself
  const who = plan.participants.filter((p) => PATIENT_SIDE.includes(p.kind) && !meeting.attendances.some((a) => a.participantId === p.id));
  return who.map((p) => form(`${prefix}-attest-${p.id}`, null, [], t("attest", { name: p.name }), () =>
    mutate(view, "AttestAttendance", { meetingId: meeting.id, expectedVersion: meeting.version, participantId: p.id }),
  { className: "inline" }));
}

function meetingList(view) {
  const plan = view.plan;
  if (!plan.meetings.length) return h("p", {}, t("noMeetings"));
  const sorted = [...plan.meetings].sort((a, b) => (a.startsAt < b.startsAt ? 1 : -1));
  const ahead = new Set(upcoming(plan).map((m) => m.id));
  return h("ul", { class: "items", id: "meeting-list" }, sorted.map((m) =>
    h("li", { class: "meeting" },
      h("h3", {}, `${t(m.purpose)}: ${formatDateTime(m.startsAt)}–${formatTime(m.endsAt)}`,
        m.status === "CANCELLED" ? ` (${t("cancelled")})` : ahead.has(m.id) ? "" : ` (${t("meetingOver")})`),
      h("p", {}, t(m.kind), m.location ? ` · ${m.location}` : ""),
      // a meeting that is over is not invited to, moved or cancelled; who was there may still be attested
      view.staff && m.status === "SCHEDULED" && editable(plan) ? [
        invitationList(view, m),
        ahead.has(m.id) ? (m.invitations.length ? disclosure(`invite-${m.id}`, t("inviteMore"), inviteForm(view, m)) : inviteForm(view, m)) : null,
        attendanceControls(view, m, `m-${m.id}`),
        ahead.has(m.id) ? disclosure(`move-${m.id}`, t("reschedule"), rescheduleForm(view, m)) : null,
        !ahead.has(m.id) ? null : view.confirming === `meeting-${m.id}`
          ? confirmPanel(view, `meeting-${m.id}`, t("cancelMeetingQ", { when: formatDateTime(m.startsAt) }), t("yesCancelMeeting"),
            () => mutate(view, "CancelMeeting", { meetingId: m.id, expectedVersion: m.version }), "h-meetings")
          : h("p", {}, askButton(view, `meeting-${m.id}`, t("cancelMeeting"), t("cancelMeeting"))),
      ] : null,
      ahead.has(m.id) ? videoLink(m, view.staff) : null)));
}

// Who was invited, whether the invitation reached them, and their personal join link.
function deliveryText(d, p) {
  if (!d) return "";
  if (d.status === "WAITING_FOR_CONSENT") return t("dWaitingConsent", { org: p && p.organisation ? p.organisation.name : "–" });
  // written before the patient decided otherwise, then held back: not a failure to retry
  if (d.status === "FAILED" && !d.attempts) {
    return p && p.kind === "RELATIVE" && !takesPart(p) ? t("dWithheld", { name: p.name }) : t("dNotSentReason", { error: d.lastError || "–" });
  }
  switch (d.status) {
    case "SENT": return t("dSent", { when: formatDateTime(d.sentAt), n: d.attempts });
    case "PENDING": return d.attempts ? t("dRetry", { n: d.attempts, when: d.nextAttemptAt ? formatDateTime(d.nextAttemptAt) : "–", error: d.lastError || "–" }) : t("dPending");
    case "FAILED": return t("dFailed", { n: d.attempts, error: d.lastError || "–" });
    default: return t("dNotSent");
  }
}

function invitationList(view, m) {
  const plan = view.plan;
  if (!m.invitations.length) return null;
  return [
    h("h4", { class: "sub" }, t("invitations")),
    h("ul", { class: "items invitations", id: `invitations-${m.id}` }, m.invitations.map((inv) => {
      const p = plan.participants.find((x) => x.id === inv.participantId);
      const d = inv.delivery;
      if (!p) return null; // removed from the plan: no longer invited (see "Tidigare deltagare")
      return h("li", { "data-participant": inv.participantId },
        h("p", {}, h("strong", {}, p ? p.name : "–"), ` – ${t("invitedBy", { channel: inv.channel === "IN_PERSON" ? t("IN_PERSON_CH") : t(inv.channel), when: formatDateTime(inv.invitedAt) })}`),
        h("p", { class: `delivery delivery-${d ? d.status : "NONE"}` }, deliveryText(d, p)),
        p && m.kind !== "IN_PERSON" && JOINS_BY_LINK.includes(p.kind) && new Date(m.endsAt).getTime() > Date.now() ? linkControls(view, m, p) : null);
    })),
    h("button", { type: "button", class: "secondary small", onclick: () => checkDeliveries(view) }, t("checkDeliveries")),
  ];
}

async function checkDeliveries(view) {
  let data;
  try {
    data = await request("MeetingDeliveries", { planId: view.plan.id });
  } catch (error) {
    announce(error.message);
    return;
  }
  for (const fresh of data.plan ? data.plan.meetings : []) {
    const m = view.plan.meetings.find((x) => x.id === fresh.id);
    if (!m) continue;
    for (const inv of m.invitations) {
      const f = fresh.invitations.find((x) => x.participantId === inv.participantId);
      if (f) inv.delivery = f.delivery;
    }
  }
  render(view);
  announce(t("deliveriesChecked"));
}

// Who may be given a personal meeting link: the patient side and relatives (once chosen).
const JOINS_BY_LINK = ["PATIENT", "REPRESENTATIVE", "RELATIVE"];

function linkControls(view, m, p) {
  const key = `${m.id}:${p.id}`;
  const link = m.inviteLinks.find((l) => l.participantId === p.id);
  if (!takesPart(p)) {
    // a relative the patient has not chosen (or no longer wants): no link, and an old one is dead
    return h("p", { class: "hint link-state" }, link ? t("linkDeadNotChosen", { name: p.name }) : t("noLinkNotChosen", { name: p.name }));
  }
  const url = view.issued.get(key);
  const out = [];
  if (url) {
    const input = h("input", { id: `link-${m.id}-${p.id}`, type: "text", readonly: true, value: url, class: "link-url" });
    out.push(h("div", { class: "issued" },
      field(t("linkFor", { name: p.name }), input, t("linkOnce")),
      h("button", {
        type: "button", class: "secondary small", "aria-label": `${t("copyLink")}: ${p.name}`,
        onclick: async () => {
          try { await navigator.clipboard.writeText(url); } catch { input.select(); document.execCommand("copy"); }
          announce(t("copied"));
        },
      }, t("copyLink"))));
  }
  if (link) {
    out.push(h("p", { class: "hint link-state" }, t("linkValid", { from: formatDateTime(link.validFrom), to: formatDateTime(link.expiresAt) }),
      " ", link.lastUsedAt ? t("linkUsed", { when: formatDateTime(link.lastUsedAt) }) : t("linkUnused")));
  }
  const issue = form(`link-${m.id}-${p.id}-issue`, null, [], link ? t("newLink", { name: p.name }) : t("issueLink", { name: p.name }),
    () => issueLink(view, m, p), { className: "inline", saved: false });
  const revoke = link
    ? form(`link-${m.id}-${p.id}-revoke`, null, [], t("revokeLink", { name: p.name }), async () => {
      const problem = await mutate(view, "RevokeInviteLink", { meetingId: m.id, expectedVersion: m.version, participantId: p.id });
      if (!problem) { view.issued.delete(key); render(view); announce(t("linkRevoked")); }
      return problem;
    }, { className: "inline danger" })
    : null;
  out.push(h("div", { class: "link-actions" }, issue, revoke));
  return out;
}

async function issueLink(view, m, p) {
  view.ownChangeAt = Date.now();
  let result;
  try {
    result = (await request("IssueInviteLink", { meetingId: m.id, expectedVersion: m.version, participantId: p.id })).issueInviteLink;
  } catch (error) {
    return error.message;
  }
  if (result.code) {
    if (result.code === "VERSION_CONFLICT") { view.conflict = true; render(view); document.getElementById("conflict")?.focus(); return t("conflict"); }
    return result.message;
  }
  view.issued.set(`${m.id}:${p.id}`, result.url);
  announce(t("linkReady", { name: p.name }));
  render(view); // the link at once, with focus on it (a re-render keeps the focus there)
  document.getElementById(`link-${m.id}-${p.id}`)?.focus();
  await load(view, false);
  return null;
}

function rescheduleForm(view, m) {
  const [day, clock] = isoToStockholm(m.startsAt);
  const minutes = Math.max(15, Math.round((new Date(m.endsAt) - new Date(m.startsAt)) / 60000));
  const date = h("input", { id: `move-${m.id}-date`, type: "date", value: day, min: todayInStockholm() });
  const time = h("input", { id: `move-${m.id}-time`, type: "time", value: clock });
  const duration = h("input", { id: `move-${m.id}-len`, type: "number", min: "15", max: "240", step: "15", value: String(minutes), inputmode: "numeric" });
  return form(`move-${m.id}`, null, [h("p", { class: "hint" }, t("rescheduleHint")), field(t("date"), date), field(t("time"), time), field(t("duration"), duration)],
    t("moveMeeting"), () => {
      if (!date.value || !time.value) return t("date");
      const startsAt = stockholmToIso(date.value, time.value);
      const endsAt = new Date(new Date(startsAt).getTime() + (Number(duration.value) || 60) * 60000).toISOString();
      return mutate(view, "RescheduleMeeting", { meetingId: m.id, expectedVersion: m.version, startsAt, endsAt });
    });
}

// Who may be invited: a relative only once the patient chose them (the service refuses the rest).
function takesPart(p) {
  return p.kind !== "RELATIVE" || p.wantedByPatient === true;
}

function inviteForm(view, meeting) {
  const plan = view.plan;
  const invited = new Set(meeting.invitations.map((i) => i.participantId));
  const candidates = plan.participants.filter((p) => !invited.has(p.id) && takesPart(p));
  // a relative the patient has not decided about yet: shown, not tickable, with the reason
  const undecided = plan.participants.filter((p) => !invited.has(p.id) && p.kind === "RELATIVE" && p.wantedByPatient !== true && p.wantedByPatient !== false);
  const waiting = undecided.map((p) => {
    const box = h("input", { type: "checkbox", id: `inv-${meeting.id}-${p.id}`, value: p.id, disabled: true, "aria-describedby": `inv-${meeting.id}-${p.id}-why` });
    return h("div", { class: "check check-disabled" }, box,
      h("div", {}, h("label", { for: box.id }, `${p.name} (${t(p.kind)})`),
        h("p", { class: "hint", id: `inv-${meeting.id}-${p.id}-why` }, t("notChosenYet", { name: p.name }))));
  });
  if (!candidates.length) return [h("p", { class: "ok" }, t("everyoneInvited")), waiting.length ? h("div", { class: "not-chosen" }, waiting) : null];
  // the patient side is ticked in advance; staff, relatives and others are ticked by hand
  const boxes = candidates.map((p) => h("input", {
    type: "checkbox", id: `inv-${meeting.id}-${p.id}`, value: p.id, checked: PATIENT_SIDE.includes(p.kind),
  }));
  const channel = options(h("select", { id: `inv-${meeting.id}-channel` }),
    [["SMS", t("SMS")], ["EMAIL", t("EMAIL")], ["LETTER", t("LETTER")], ["IN_PERSON", t("IN_PERSON_CH")]]);
  return form(`inv-${meeting.id}`, null, [
    h("fieldset", {}, h("legend", {}, t("inviteWho")),
      candidates.map((p, i) => h("div", { class: "check" }, boxes[i], h("label", { for: boxes[i].id }, `${p.name} (${t(p.kind)})`))),
      waiting),
    field(t("channel"), channel),
  ], t("sendInvites"), () => {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!ids.length) return t("inviteWho");
    return mutate(view, "InviteToMeeting", { meetingId: meeting.id, expectedVersion: meeting.version, participantIds: ids, channel: channel.value });
  });
}

function scheduleForm(view, prefix) {
  const kind = options(h("select", { id: `${prefix}-meet-kind` }), [["VIDEO", t("VIDEO")], ["IN_PERSON", t("IN_PERSON")], ["HYBRID", t("HYBRID")]]);
  const date = h("input", { id: `${prefix}-meet-date`, type: "date", value: todayInStockholm(), min: todayInStockholm() });
  const time = h("input", { id: `${prefix}-meet-time`, type: "time", value: "10:00" });
  const duration = h("input", { id: `${prefix}-meet-len`, type: "number", min: "15", max: "240", step: "15", value: "60", inputmode: "numeric" });
  const place = h("input", { id: `${prefix}-meet-place`, type: "text" });
  return form(`${prefix}-meet`, null,
    [field(t("meetingKind"), kind), field(t("date"), date), field(t("time"), time), field(t("duration"), duration), field(t("location"), place)],
    t("schedule"), async () => {
      if (!date.value || !time.value) return t("date");
      const startsAt = stockholmToIso(date.value, time.value);
      const endsAt = new Date(new Date(startsAt).getTime() + (Number(duration.value) || 60) * 60000).toISOString();
      return mutate(view, "ScheduleMeeting", { planId: view.plan.id, input: { kind: kind.value, startsAt, endsAt, location: place.value.trim() } });
    });
}

// ---- revisions -----------------------------------------------------------------------------

function revisionList(view) {
  const revisions = [...view.plan.revisions].sort((a, b) => a.number - b.number);
  if (!revisions.length) return h("p", {}, t("noRevisions"));
  return h("ol", { class: "items", id: "revision-list" }, revisions.map((r, i) =>
    h("li", {},
      h("p", {}, h("strong", {}, t("revisionLine", { n: r.number, when: formatDateTime(r.finalizedAt), who: r.finalizedBy ? r.finalizedBy.name : "–" }))),
      h("ul", { class: "changes" }, changes(i ? revisions[i - 1].snapshot : null, r.snapshot).map((c) => h("li", {}, c))))).reverse());
}

function changes(before, after) {
  if (!before) return [t("firstVersion")];
  const out = [];
  if (before.background !== after.background) out.push(t("chBackground"));
  if (before.followUpDate !== after.followUpDate) out.push(t("chFollowUp", { a: formatDate(before.followUpDate) || "–", b: formatDate(after.followUpDate) || "–" }));
  if (before.overallResponsibility !== after.overallResponsibility) out.push(t("chOverall", { a: before.overallResponsibility || "–", b: after.overallResponsibility || "–" }));
  const diff = (list, key, label) => {
    const a = new Map((before[list] || []).map((x) => [x.id, x[key]]));
    const b = new Map((after[list] || []).map((x) => [x.id, x[key]]));
    for (const [id, v] of b) {
      if (!a.has(id)) out.push(t("chAdded", { what: `${label}: ${v}` }));
      else if (a.get(id) !== v) out.push(t("chChanged", { what: `${label}: ”${a.get(id)}” → ”${v}”` }));
    }
    for (const [id, v] of a) if (!b.has(id)) out.push(t("chRemoved", { what: `${label}: ${v}` }));
  };
  diff("goals", "text", t("theGoals"));
  diff("actions", "description", t("actions").split(" –")[0]);
  diff("participants", "name", t("participants"));
  return out.length ? out : [t("noChanges")];
}

// ---- patients and relatives ----------------------------------------------------------------

// Whom the patient side calls: the coordinator first, then the other staff taking part, each with
// title, organisation and a number to tap (their own, else their organisation's switchboard);
// then who holds overall responsibility, with its switchboard.
function contacts(view) {
  const plan = view.plan;
  const staff = plan.participants.filter((p) => p.kind === "STAFF");
  staff.sort((a, b) => Number(b.isCoordinator) - Number(a.isCoordinator));
  const overall = plan.overallResponsibleOrganisation;
  return [
    staff.length ? h("ul", { class: "contacts", id: "contact-list" }, staff.map((p) => {
      const phone = (p.staffMember && p.staffMember.phone) || (p.organisation && p.organisation.phone);
      const email = p.staffMember && p.staffMember.email;
      return h("li", { class: "contact" },
        h("p", { class: "contact-name" }, h("strong", {}, p.name), p.staffMember && p.staffMember.title ? `, ${p.staffMember.title}` : ""),
        h("p", {}, p.organisation ? p.organisation.name : "", p.isCoordinator ? ` – ${t("coordinatesPlan")}` : ""),
        phone ? h("p", {}, telLink(phone, true)) : null,
        email ? h("p", {}, h("a", { href: `mailto:${email}` }, email)) : null);
    })) : null,
    overall ? h("p", { id: "overall-contact" }, t("overallText", { org: overall.name }),
      overall.phone ? [" ", t("switchboard", { org: overall.name }), " ", telLink(overall.phone, false)] : null) : null,
  ];
}

// A phone number to tap: tel: in international form (070-174 06 05 → +46701740605).
function telLink(phone, large) {
  const digits = phone.replace(/[^\d+]/g, "");
  const uri = digits.startsWith("0") ? `+46${digits.slice(1)}` : digits;
  return h("a", { class: large ? "tel tel-large" : "tel", href: `tel:${uri}` }, large ? `${t("call")} ${phone}` : phone);
}

function plainActions(view) {
  const plan = view.plan;
  const list = plan.actions.filter((a) => a.status !== "CANCELLED");
  if (!list.length) return h("p", {}, t("noActions"));
  return actionsByOrg({ ...view, plan: { ...plan, actions: list } });
}

function citizenView(view) {
  const plan = view.plan;
  const mine = patientSide(view);
  const canChange = mine && editable(plan);
  const patient = plan.participants.find((p) => p.kind === "PATIENT");
  return [
    ...header(view, t("printMine")),
    mine ? h("p", {}, t("citizenIntro")) : null,
    !mine && patient ? h("p", {}, t("relativeView", { name: patient.name })) : null,
    missing(view),
    section(view, "contact", t("whoToCall"), { open: true }, contacts(view)),
    section(view, "goals", mine ? t("myGoals") : t("theGoals"), { open: true }, goalsList(view),
      canChange ? (plan.goals.length ? disclosure("add-goal", t("addGoal"), goalForm(view, "sec")) : goalForm(view, "sec")) : null),
    section(view, "actions", t("whatHappens"), { open: true }, plainActions(view),
      plan.followUpDate ? h("p", {}, `${t("followUp")}: ${formatDate(plan.followUpDate)}`) : null),
    // the meetings still to come, with how to join
    section(view, "meetings", t("meetings"), { open: upcoming(plan).length > 0 }, upcoming(plan).length
      ? h("ul", { class: "items" }, upcoming(plan).map((m) => h("li", {},
        h("p", {}, h("strong", {}, `${t(m.purpose)}: ${formatDateTime(m.startsAt)}`)),
        h("p", {}, t(m.kind), m.location ? ` · ${m.location}` : ""),
        videoLink(m, false))))
      : h("p", {}, t("noMeetings"))),
    // what the patient side still has to decide starts open; what is decided, folded
    mine ? section(view, "relatives", t("relativesDecision"), { open: canChange && !plan.relativesDecidedAt }, relativesForm(view, canChange)) : null,
    mine ? section(view, "consent", t("myConsent"), { open: canChange && !plan.consent }, consentSummary(view), canChange ? consentForm(view, "my") : null,
      canChange && plan.consent ? withdrawForm(view) : null) : null,
    mine && plan.status !== "ACTIVE" && plan.status !== "CLOSED" ? section(view, "approve", t("approveTitle"), { open: true }, approval(view)) : null,
    mine ? section(view, "log", t("accessLog"), {}, accessLog(view)) : null,
  ];
}

// The consent as a patient (or god man) reads it ("Du gav ditt samtycke …") or a relative ("Elsa gav …").
function citizenConsent(view, mine = Boolean(patientSide(view))) {
  const c = view.plan.consent;
  const patient = view.plan.patient.name;
  if (!c) return h("p", { id: "consent-summary" }, mine ? t("youNoConsent") : t("theyNoConsent", { patient }));
  const oral = c.method !== "DIGITAL";
  const key = `${mine ? "you" : "they"}Consent${oral ? "Oral" : "Digital"}`;
  return h("div", { id: "consent-summary" },
    h("p", {}, t(key, { patient, name: c.recordedBy ? c.recordedBy.name : "", when: formatDateTime(c.givenAt) })),
    c.organisations.length ? h("p", {}, t("consentShares", { orgs: c.organisations.map((o) => o.name).join(", ") })) : null,
    c.exclusions ? h("p", {}, `${t("youExclusions")}: ${c.exclusions}`) : null);
}

// What is left before the plan can be finished, said to the patient side as what "du" can do, to a
// relative about the patient, and otherwise as what the staff will do; the same sentence once.
function citizenBlockers(blockers, mine, patientName) {
  const texts = blockers.map((b) => {
    const org = b.code === "CONSENT" && b.subject && b.subject.kind === "Organisation" ? "_ORG" : "";
    const own = `${mine ? "you" : "they"}_${b.code}${org}`;
    const staff = `staff_${b.code}`;
    const key = t(own) !== own ? own : t(staff) !== staff ? staff : "staff_OTHER";
    return t(key, { name: patientName });
  });
  return [...new Set(texts)];
}

function missing(view) {
  const plan = view.plan;
  if (plan.status === "ACTIVE" || plan.status === "CLOSED" || !plan.readiness.blockers.length) return null;
  const lines = citizenBlockers(plan.readiness.blockers, Boolean(patientSide(view)), plan.patient.name);
  return section(view, "missing", t("missingTitle"), { open: true }, h("p", {}, t("missingIntro")),
    h("ul", { id: "missing-list" }, lines.map((line) => h("li", {}, line))));
}

function relativesForm(view, canChange) {
  const plan = view.plan;
  const relatives = plan.participants.filter((p) => p.kind === "RELATIVE");
  const decided = plan.relativesDecidedAt ? h("p", { class: "ok" }, t("decidedAt", { when: formatDateTime(plan.relativesDecidedAt) })) : null;
  if (!canChange) return [decided, h("ul", {}, relatives.map((r) => h("li", {}, `${r.name}: ${r.wantedByPatient ? t("wanted") : t("notWanted")}`)))];
  if (!relatives.length) {
    return [h("p", {}, t("noRelativesListed")), decided,
      form("relatives-none", null, [], t("noRelatives"), () => mutate(view, "RecordRelativesDecision", planVars(view, { relativeIds: [] })), { className: "inline" })];
  }
  const boxes = relatives.map((r) => h("input", { type: "checkbox", id: `rel-${r.id}`, value: r.id, checked: r.wantedByPatient === true }));
  const none = h("input", { type: "checkbox", id: "rel-none", checked: plan.relativesDecidedAt && relatives.every((r) => r.wantedByPatient === false) });
  none.addEventListener("change", () => { if (none.checked) for (const b of boxes) b.checked = false; });
  for (const b of boxes) b.addEventListener("change", () => { if (b.checked) none.checked = false; });
  return [decided, form("relatives", null, [
    h("fieldset", {}, h("legend", {}, t("myRelatives")),
      h("p", { class: "hint" }, t("relativesHelp")),
      relatives.map((r, i) => h("div", { class: "check" }, boxes[i], h("label", { for: boxes[i].id }, r.name))),
      h("div", { class: "check" }, none, h("label", { for: none.id }, t("noRelatives")))),
  ], t("saveRelatives"), () => {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!ids.length && !none.checked) return t("myRelatives");
    return mutate(view, "RecordRelativesDecision", planVars(view, { relativeIds: ids }));
  })];
}

function withdrawForm(view) {
  return form("withdraw", null, [], t("withdraw"), () => {
    if (!window.confirm(t("withdrawConfirm"))) return null;
    return mutate(view, "WithdrawConsent", planVars(view));
  }, { className: "inline danger" });
}

function approval(view) {
  const plan = view.plan;
  if (plan.approval && plan.approval.planVersion === plan.version) {
    return h("p", { class: "ok", id: "approved" }, t("approvedAt", { when: formatDateTime(plan.approval.approvedAt) }));
  }
  return [h("p", {}, t("approveText")),
    form("approve", null, [], t("approve"), () => mutate(view, "ApprovePlan", planVars(view)), { className: "inline" })];
}

function accessLog(view) {
  const box = h("div", { id: "access-log", "aria-live": "polite" });
  const show = async () => {
    try {
      view.log = (await request("PlanAccessLog", { planId: view.plan.id })).planAccessLog;
    } catch (error) {
      box.replaceChildren(h("p", { class: "error" }, error.message));
      return;
    }
    render(view);
    document.getElementById("access-log")?.focus();
  };
  if (view.log) {
    box.setAttribute("tabindex", "-1");
    // one line per person: who, from where, when last, how often they read and changed it
    const people = new Map();
    for (const e of view.log) {
      const key = `${e.actorName}|${e.organisation ? e.organisation.name : ""}`;
      if (!people.has(key)) people.set(key, { name: e.actorName, org: e.organisation ? e.organisation.name : null, last: e.occurredAt, READ: 0, WRITE: 0 });
      people.get(key)[e.access] += 1;
    }
    box.append(people.size
      ? h("ul", { class: "items", id: "access-people" }, [...people.values()].map((p) => h("li", {},
        h("p", {}, h("strong", {}, p.name), p.org ? `, ${p.org}` : ""),
        h("p", { class: "hint" }, [t("logLast", { when: formatDateTime(p.last) }),
          p.READ ? t("logReads", { n: p.READ }) : null, p.WRITE ? t("logWrites", { n: p.WRITE }) : null].filter(Boolean).join(" ")))))
      : h("p", {}, t("logEmpty")));
  }
  return [h("button", { type: "button", id: "show-log", class: "secondary", onclick: show }, t("showLog")), box];
}

// ---- print ---------------------------------------------------------------------------------

function approvedLine(view, mine = Boolean(patientSide(view))) {
  const when = formatDateTime(view.plan.approval.approvedAt);
  return mine ? t("approvedAt", { when }) : t("theyApproved", { patient: view.plan.patient.name, when });
}

// The head of the patient's copy: the personal number (to the patient side and staff only, never to
// a relative), status, version, the day it was printed, the next meeting and the follow-up.
function printFacts(view) {
  const plan = view.plan;
  const next = upcoming(plan).sort((a, b) => new Date(a.startsAt) - new Date(b.startsAt))[0];
  const finalized = Math.max(0, ...plan.revisions.map((r) => r.number));
  const row = (id, label, value) => h("div", { id }, h("dt", {}, label), h("dd", {}, value));
  return h("dl", { class: "facts", id: "print-facts" },
    view.staff || patientSide(view) ? row("print-pnr", t("pnr"), personalNumber(plan.patient.personalNumber)) : null,
    row("print-status", t("statusLabel"), [t(plan.status), plan.finalizedAt ? ` · ${formatDateTime(plan.finalizedAt)}` : ""]),
    // the version people speak of is the finalized one (1, 2 …), not the change counter
    row("print-version", t("versionLabel"), finalized ? String(finalized) : t("noRevisions")),
    row("print-date", t("printedLabel"), formatDate(todayInStockholm())),
    row("print-next", t("nextMeeting"), next
      ? `${formatDateTime(next.startsAt)} · ${t(next.kind)}${next.location ? ` · ${next.location}` : ""}`
      : t("noNextMeeting")),
    row("print-followup", t("followUp"), plan.followUpDate ? formatDate(plan.followUpDate) : t("none")));
}

function printView(view) {
  const plan = view.plan;
  // the patient's copy speaks to the patient ("du"), also when staff print it; a relative's to them
  const toPatient = view.staff || Boolean(patientSide(view));
  const patientSideIds = new Set(plan.participants.filter((p) => PATIENT_SIDE.includes(p.kind)).map((p) => p.id));
  return [
    h("p", { class: "no-print" },
      h("a", { href: `#/plans/${plan.id}` }, t("backToPlan")), " ",
      h("button", { type: "button", onclick: () => window.print() }, t("print"))),
    h("article", { class: "print-plan" },
      h("h1", {}, t("planFor", { name: plan.patient.name })),
      printFacts(view),
      plan.status === "ACTIVE" ? null : h("p", { class: "alert" }, t("notFinalizedPrint")),
      h("h2", {}, t("whoToCall")), contacts(view),
      h("h2", {}, t("theGoals")),
      plan.goals.length ? h("ul", {}, plan.goals.map((g) => h("li", {}, `”${g.text}”`, patientSideIds.has(g.expressedById) ? "" : ` (${nameOf(plan, g.expressedById)})`))) : h("p", {}, t("noGoals")),
      h("h2", {}, t("whatHappens")), plainActions(view),
      h("h2", {}, t("participants")),
      h("ul", {}, plan.participants.filter((p) => p.kind !== "RELATIVE" || p.wantedByPatient).map((p) =>
        h("li", {}, `${p.name} – ${t(p.kind)}${p.organisation ? `, ${p.organisation.name}` : ""}`))),
      h("h2", {}, t("consent")), citizenConsent(view, toPatient),
      plan.approval ? h("p", {}, approvedLine(view, toPatient)) : null),
  ];
}
