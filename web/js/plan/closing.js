// Closing the plan (coordinator).
import { h } from "../../lib/dom.js";
import { t } from "../i18n.js";
import { confirmPanel, editable, form, mutate, openConfirm, planVars, section } from "./common.js";
import { isCoordinator } from "./checklist.js";

// ---- closing the plan ----------------------------------------------------------------------

const CLOSE_REASONS = ["GOALS_MET", "NO_LONGER_NEEDED", "MOVED", "DECEASED"];

// Closing, where it makes sense. A plan once finalized is closed with a reason (its own folded
// section, coordinator only). A draft never finalized has no goals to have met: a small disclosure
// at the end lets the coordinator put it away as no longer needed (NO_LONGER_NEEDED), after asking.
export function closing(view) {
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
