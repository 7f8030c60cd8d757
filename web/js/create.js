// Create a plan (staff): find the patient by personal identity number, then background and dates.
// A patient who already has an open plan: the page warns, links to it and offers another one anyway.
import { h, field, setTitle } from "../lib/dom.js";
import { request } from "../lib/gql.js";
import { t, lang, todayInStockholm, stockholmToIso } from "./i18n.js";

export function renderCreate(ctx) {
  setTitle(t("newTitle"));
  let patient = null;
  const pnr = h("input", { id: "new-pnr", inputmode: "numeric", autocomplete: "off", required: true });
  const found = h("div", { id: "new-patient", "aria-live": "polite" });
  const message = h("div", { id: "new-message", "aria-live": "assertive" });
  const background = h("textarea", { id: "new-background", rows: "4" });
  const followUp = h("input", { id: "new-followup", type: "date", min: todayInStockholm(1) });
  const discharge = h("input", { id: "new-discharge", type: "datetime-local" });
  const createButton = h("button", { type: "submit", disabled: true }, t("create"));

  const findForm = h("form", {
    class: "panel",
    onsubmit: async (event) => {
      event.preventDefault();
      message.replaceChildren();
      try {
        patient = (await request("FindPatient", { personalNumber: pnr.value.trim() })).patient;
        found.replaceChildren(h("p", { class: "ok" }, t("patientFound", { name: patient.name })));
        createButton.disabled = false;
      } catch (error) {
        patient = null;
        createButton.disabled = true;
        // the service's own words are English; say it in the page's language where we know what happened
        const text = { NOT_FOUND: t("patientNotFound"), VALIDATION_ERROR: t("pnrDigits") }[error.code] || error.message;
        found.replaceChildren(h("p", { class: "error", role: "alert" }, text));
      }
    },
  }, h("h2", {}, t("findPatient")), field(t("personalNumber"), pnr), h("button", { type: "submit" }, t("search")), found);

  // Sends the plan; `another` says to create it although the patient already has an open plan.
  const send = async (another) => {
    if (!patient) return;
    const input = { patientId: patient.id, background: background.value.trim() };
    if (followUp.value) input.followUpDate = followUp.value;
    if (discharge.value) input.dischargeReadyAt = stockholmToIso(...discharge.value.split("T"));
    if (another) input.allowAnotherOpenPlan = true;
    createButton.disabled = true;
    try {
      const result = (await request("CreatePlan", { input })).createPlan;
      if (result.code === "OPEN_PLAN_EXISTS") {
        createButton.disabled = false;
        openPlanWarning(result);
        return;
      }
      if (result.__typename) throw new Error(result.message);
      location.hash = `#/plans/${result.id}`;
    } catch (error) {
      createButton.disabled = false;
      message.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
    }
  };

  // The patient already has an open plan: say so in the page's language, link to it (when the
  // service lets us see it) and offer to create another one anyway.
  const openPlanWarning = (result) => {
    const text = (lang === "en" && result.messageEn) || result.message;
    const again = h("button", { type: "button", class: "secondary", onclick: () => send(true) }, t("anotherPlan"));
    message.replaceChildren(h("div", { class: "warning", id: "open-plan-warning", role: "alert", tabindex: "-1" },
      h("p", {}, h("strong", {}, text)),
      result.existingPlanId ? h("p", {}, h("a", { class: "button", href: `#/plans/${result.existingPlanId}` }, t("openPlanLink"))) : null,
      h("p", {}, again)));
    document.getElementById("open-plan-warning")?.focus();
  };

  const createForm = h("form", {
    class: "panel",
    onsubmit: (event) => {
      event.preventDefault();
      message.replaceChildren();
      send(false);
    },
  },
  h("h2", {}, t("aboutPlan")),
  field(t("backgroundText"), background),
  field(t("followUp"), followUp),
  field(t("dischargeReadyOptional"), discharge),
  createButton, message);

  ctx.main.replaceChildren(h("h1", {}, t("newTitle")), findForm, createForm);
  ctx.rendered();
}
