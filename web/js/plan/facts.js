// "Om planen": follow-up date and the organisation with overall responsibility.
import { h, field, options } from "../../lib/dom.js";
import { t, formatDate, formatDateTime, todayInStockholm } from "../i18n.js";
import { form, mutate, participantOrgs, planVars } from "./common.js";

// ---- plan facts ----------------------------------------------------------------------------

export function planFacts(view) {
  const plan = view.plan;
  return h("dl", { class: "facts", id: "plan-facts" },
    h("div", {}, h("dt", {}, t("background")), h("dd", {}, plan.background || "–")),
    h("div", {}, h("dt", {}, t("followUp")), h("dd", {}, plan.followUpDate ? formatDate(plan.followUpDate) : t("none"))),
    h("div", {}, h("dt", {}, t("overall")), h("dd", {}, plan.overallResponsibleOrganisation ? plan.overallResponsibleOrganisation.name : t("none"))),
    plan.dischargeReadyAt ? h("div", {}, h("dt", {}, t("dischargeReady")), h("dd", {}, formatDateTime(plan.dischargeReadyAt))) : null);
}

export function followUpForm(view, prefix) {
  const date = h("input", { id: `${prefix}-followup`, type: "date", min: todayInStockholm(1), value: view.plan.followUpDate || "" });
  return form(`${prefix}-followup-form`, null, [field(t("followUp"), date)], t("save"), () => {
    if (!date.value) return t("followUp");
    return mutate(view, "UpdatePlan", planVars(view, { input: { followUpDate: date.value } }));
  });
}

export function overallForm(view, prefix) {
  const orgs = participantOrgs(view.plan).filter((o) => o.kind === "REGION" || o.kind === "MUNICIPALITY");
  const current = view.plan.overallResponsibleOrganisation ? view.plan.overallResponsibleOrganisation.id : null;
  const org = options(h("select", { id: `${prefix}-overall` }), orgs.map((o) => [o.id, o.name]), current);
  return form(`${prefix}-overall-form`, null, [field(t("overall"), org)], t("save"), () =>
    mutate(view, "SetOverallResponsibility", planVars(view, { organisationId: org.value })));
}
