// The patient's and relative's page: plain language, "du", what is left, contacts, consent, approval.
import { h } from "../../lib/dom.js";
import { request } from "../../lib/gql.js";
import { t, lang, formatDate, formatDateTime } from "../i18n.js";
import { header, render } from "../plan.js";
import { disclosure, editable, form, mutate, patientSide, planVars, section, upcoming } from "./common.js";
import { actionsByOrg, goalForm, goalsList } from "./goals.js";
import { consentForm, consentSummary } from "./consent.js";
import { videoLink } from "./meetings.js";
import { howItWent } from "./followup.js";

// ---- patients and relatives ----------------------------------------------------------------

// Whom the patient side calls: the coordinator first, then the other staff taking part, each with
// title, organisation and a number to tap (their own, else their organisation's switchboard);
// then who holds overall responsibility, with its switchboard.
export function contacts(view) {
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
export function telLink(phone, large) {
  const digits = phone.replace(/[^\d+]/g, "");
  const uri = digits.startsWith("0") ? `+46${digits.slice(1)}` : digits;
  return h("a", { class: large ? "tel tel-large" : "tel", href: `tel:${uri}` }, large ? `${t("call")} ${phone}` : phone);
}

export function plainActions(view) {
  const plan = view.plan;
  const list = plan.actions.filter((a) => a.status !== "CANCELLED");
  if (!list.length) return h("p", {}, t("noActions"));
  return actionsByOrg({ ...view, plan: { ...plan, actions: list } });
}

export function citizenView(view) {
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
    howItWent(view, Boolean(mine), lang),
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
export function citizenConsent(view, mine = Boolean(patientSide(view))) {
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
