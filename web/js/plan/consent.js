// Consent (staff's view): what the patient agreed to, and recording an oral consent.
import { h, field, options } from "../../lib/dom.js";
import { t, formatDateTime } from "../i18n.js";
import { PATIENT_SIDE, form, mutate, participantOrgs, planVars } from "./common.js";
import { citizenConsent } from "./citizen.js";

// ---- consent -------------------------------------------------------------------------------

export function consentSummary(view) {
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

export function consentForm(view, prefix) {
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
