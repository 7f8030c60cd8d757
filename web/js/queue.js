// The work queue (staff) or "my plans" (patients, relatives): status, patient, next step.
import { h, field, options, replace } from "../lib/dom.js";
import { request } from "../lib/gql.js";
import { t, lang, formatDate } from "./i18n.js";
import { setTitle } from "../lib/dom.js";

const ATTENTION = ["NO_MEETING", "DISCHARGE_MEETING_NOT_CALLED", "FOLLOW_UP_DUE", "AWAITING_PATIENT_APPROVAL"];
const STATUSES = ["DRAFT", "ACTIVE", "REVISING", "CLOSED"];
const state = { attention: false, status: "" };

export function renderQueue(ctx) {
  const staff = ctx.session.kind === "staff";
  setTitle(t("queueTitle"));
  const results = h("div", { id: "queue-results", "aria-live": "polite" }, h("p", {}, t("loading")));
  const filters = staff ? filterForm(() => load()) : null;
  const inbox = staff ? h("div", { id: "queue-inbox" }) : null; // "Du har 3 nya saker att göra", above the queue
  replace(ctx.main, h("h1", {}, staff ? t("queueTitle") : t("navMyPlans")), inbox, filters, results); // no filters for citizens
  if (staff) {
    const show = (n) => replace(inbox, n ? h("p", { class: "panel inbox-note" }, t("inboxStart", { n }), " ", h("a", { href: "#/inbox" }, t("inboxOpen"))) : null);
    const heard = (event) => show(event.detail);
    show(ctx.unread());
    window.addEventListener("sip:unread", heard);
    ctx.setCleanup(() => window.removeEventListener("sip:unread", heard));
  }

  let latest = 0; // a filter changed while a read was under way: only the newest read is shown
  async function load(after = null, rows = []) {
    const mine = ++latest;
    const filter = {};
    if (state.attention) filter.needsAttention = ATTENTION;
    if (state.status) filter.statuses = [state.status];
    let data;
    ctx.main.setAttribute("aria-busy", "true");
    try {
      data = await request("AppWorkQueue", { first: 50, after, filter, language: lang.toUpperCase() });
    } catch (error) {
      data = null;
      if (mine === latest) results.replaceChildren(h("p", { role: "alert", class: "error" }, `${t("error")}: ${error.message}`));
    }
    if (mine !== latest || !results.isConnected) return;
    ctx.main.removeAttribute("aria-busy");
    if (!data) return;
    const all = rows.concat(data.plans.nodes);
    results.replaceChildren(table(all, staff));
    if (data.plans.pageInfo.hasNextPage) {
      results.append(h("button", { type: "button", onclick: () => load(data.plans.pageInfo.endCursor, all) }, t("loadMore")));
    }
    ctx.rendered();
  }
  load();
}

function filterForm(reload) {
  const attention = h("input", { type: "checkbox", id: "filter-attention", checked: state.attention });
  attention.addEventListener("change", () => { state.attention = attention.checked; reload(); });
  const status = options(h("select", { id: "filter-status" }), [["", t("anyStatus")], ...STATUSES.map((s) => [s, t(s)])], state.status);
  status.addEventListener("change", () => { state.status = status.value; reload(); });
  return h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "check" }, attention, h("label", { for: attention.id }, t("filterAttention"))),
    field(t("filterStatus"), status));
}

function nextStep(plan, staff) {
  if (plan.status === "CLOSED") return "";
  if (plan.readiness.ready) return plan.status === "ACTIVE" ? "" : staff ? t("readyToFinalize") : t("citizenReady");
  // a patient or relative reads how much is left (the plan page says what, to them), not the staff's checklist
  if (!staff) return t("citizenLeft", { n: plan.readiness.blockers.length });
  const [first, ...rest] = plan.readiness.blockers;
  return rest.length ? `${first.message} (${t("moreBlockers", { n: rest.length })})` : first.message;
}

function table(plans, staff) {
  if (!plans.length) {
    return h("div", {}, h("p", {}, t("noPlans")), staff ? h("p", {}, h("a", { href: "#/new" }, t("createNew"))) : null);
  }
  // a list of cards: reads well on a phone and at 200 % zoom, where a wide table would not
  return h("ul", { class: "cards", id: "plan-list" }, plans.map((plan) =>
    h("li", { class: "card" },
      h("h2", {}, h("a", { href: `#/plans/${plan.id}` }, t("planFor", { name: plan.patient.name }))),
      h("dl", { class: "facts" },
        h("div", {}, h("dt", {}, t("colStatus")), h("dd", {}, h("span", { class: `status status-${plan.status}` }, t(plan.status)))),
        plan.attention.length && staff
          ? h("div", {}, h("dt", {}, t("colAttention")), h("dd", {}, h("ul", { class: "attention" }, plan.attention.map((a) => h("li", {}, t(a))))))
          : null,
        nextStep(plan, staff) ? h("div", {}, h("dt", {}, t("colNext")), h("dd", {}, nextStep(plan, staff))) : null,
        plan.followUpDate && plan.status !== "CLOSED" // a closed plan is not followed up
          ? h("div", {}, h("dt", {}, t("colFollowUp")), h("dd", {}, formatDate(plan.followUpDate)))
          : null))));
}
