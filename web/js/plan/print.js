// The print view: the patient's copy.
import { h } from "../../lib/dom.js";
import { t, formatDate, formatDateTime, todayInStockholm } from "../i18n.js";
import { personalNumber } from "../plan.js";
import { PATIENT_SIDE, nameOf, patientSide, upcoming } from "./common.js";
import { citizenConsent, contacts, plainActions } from "./citizen.js";
import { latestFollowUp } from "./followup.js";

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

export function printView(view) {
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
      latestFollowUp(view, toPatient),
      h("h2", {}, t("whatHappens")), plainActions(view),
      h("h2", {}, t("participants")),
      h("ul", {}, plan.participants.filter((p) => p.kind !== "RELATIVE" || p.wantedByPatient).map((p) =>
        h("li", {}, `${p.name} – ${t(p.kind)}${p.organisation ? `, ${p.organisation.name}` : ""}`))),
      h("h2", {}, t("consent")), citizenConsent(view, toPatient),
      plan.approval ? h("p", {}, approvedLine(view, toPatient)) : null),
  ];
}
