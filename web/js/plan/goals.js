// Goals and actions (by organisation), with their forms and controls.
import { h, field, options } from "../../lib/dom.js";
import { t, formatDate } from "../i18n.js";
import { render } from "../plan.js";
import { PATIENT_SIDE, askButton, confirmPanel, editable, form, mutate, nameOf, participantOrgs, patientSide, planVars } from "./common.js";
import { SCALE, signed } from "./followup.js";

// A goal's scale (Goal Attainment Scaling): five levels in plain words, staff fill them in with the
// patient (optional when the goal is set; needed before the goal is rated at a follow-up).
function levelInputs(prefix, levels = {}) {
  const inputs = SCALE.map((s) => [s.level, h("input", { type: "text", id: `${prefix}-level-${s.level}`, autocomplete: "off", value: levels[s.level] || "" })]);
  // a fieldset, not a disclosure: the goal form is itself in one, and a summary inside a summary's
  // details would be two ways to fold one form
  const el = h("fieldset", { class: "levels", id: `${prefix}-levels` }, h("legend", {}, t("levelsTitle")),
    h("p", { class: "hint" }, t("levelsHint")),
    SCALE.map((s, i) => field(`${signed(s.score)} ${t(`gasStaff_${s.level}`)}`, inputs[i][1])));
  const read = () => Object.fromEntries(inputs.map(([level, input]) => [level, input.value.trim() || null]));
  const given = () => inputs.some(([, input]) => input.value.trim());
  return { el, read, given };
}

function scaleList(goal) {
  const levels = goal.levels || {};
  if (!SCALE.some((s) => levels[s.level])) return null;
  return h("ul", { class: "scale" }, [...SCALE].reverse().map((s) => h("li", {},
    h("span", { class: "hint" }, `${signed(s.score)} `), levels[s.level] || "–")));
}

// ---- goals ---------------------------------------------------------------------------------

export function goalsList(view) {
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
      view.staff ? scaleList(g) : null,
      canEdit ? h("button", { type: "button", class: "secondary small", "aria-label": `${t("edit")}: ${g.text}`, onclick: () => { view.editingGoal = g.id; render(view); document.getElementById(`goal-edit-${g.id}-text`)?.focus(); } }, t("edit")) : null,
      canEdit ? [" ", askButton(view, key, t("remove"), `${t("remove")}: ${g.text}`)] : null,
      view.confirming === key ? confirmPanel(view, key, t("removeGoalQ", { text: g.text }), t("yesRemove"),
        () => mutate(view, "RemoveGoal", { goalId: g.id, expectedVersion: view.plan.version }), "h-goals") : null);
  }));
}

function editGoalForm(view, goal) {
  const text = h("textarea", { id: `goal-edit-${goal.id}-text`, rows: "3" }, goal.text);
  const levels = view.staff ? levelInputs(`goal-edit-${goal.id}`, goal.levels) : null;
  return form(`goal-edit-${goal.id}`, null, [field(view.staff ? t("goalText") : t("myGoalText"), text), levels ? levels.el : null,
    h("button", { type: "button", class: "secondary", onclick: () => { view.editingGoal = null; render(view); } }, t("cancel"))],
  t("save"), async () => {
    const input = { text: text.value.trim() };
    if (levels) input.levels = levels.read();
    const problem = await mutate(view, "UpdateGoal", { goalId: goal.id, expectedVersion: view.plan.version, input });
    if (!problem) { view.editingGoal = null; render(view); }
    return problem;
  });
}

export function goalForm(view, prefix) {
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
  const levels = view.staff ? levelInputs(`${prefix}-goal`) : null;
  if (levels) controls.push(levels.el);
  return form(`${prefix}-goal`, null, controls, t("addGoal"), async () => {
    if (!text.value.trim()) return t("goalText");
    const input = { text: text.value.trim() };
    if (who) input.expressedById = who.value;
    if (target.value) input.targetDate = target.value;
    if (levels && levels.given()) input.levels = levels.read();
    return mutate(view, "AddGoal", planVars(view, { input }));
  });
}

// ---- actions -------------------------------------------------------------------------------

function responsibleName(plan, a) {
  if (a.responsibleOrganisation) return a.responsibleOrganisation.name;
  return nameOf(plan, a.responsibleParticipantId) || "–";
}

export function actionsByOrg(view, withControls = false) {
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

export function actionForm(view, prefix) {
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
