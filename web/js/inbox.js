// "Att göra" (staff): what there is to do now, by kind, the most urgent first; each item links to its
// plan and is new until seen (opening the plan, or "Markera som läst"). The service decides what is
// here and in what order (inbox/rules.py); the page only says it.
import { h, replace, setTitle, announce } from "../lib/dom.js";
import { request } from "../lib/gql.js";
import { t, formatDate, formatDateTime } from "./i18n.js";

const MAX_IDS = 100; // markInboxRead takes at most this many at a time

// The header's count: how many items are new. Counts name no patient and are not audited.
export async function unreadCount() {
  return (await request("InboxCount")).inbox.unread;
}

export function renderInbox(ctx) {
  setTitle(t("inboxTitle"));
  const body = h("div", { id: "inbox" }, h("p", {}, t("loading")));
  replace(ctx.main, h("h1", {}, t("inboxTitle")), body);
  const view = { ctx, body, box: null };
  load(view);
}

async function load(view) {
  view.ctx.main.setAttribute("aria-busy", "true");
  try {
    view.box = (await request("Inbox")).inbox;
    view.digest = view.box.digest;
  } catch (error) {
    if (!view.body.isConnected) return;
    view.ctx.main.removeAttribute("aria-busy");
    replace(view.body, h("p", { role: "alert", class: "error" }, `${t("error")}: ${error.message}`));
    return;
  }
  if (!view.body.isConnected) return;
  draw(view);
  view.ctx.main.removeAttribute("aria-busy");
  view.ctx.rendered();
}

function draw(view) {
  const { box } = view;
  window.dispatchEvent(new CustomEvent("sip:inbox-count", { detail: box.unread }));
  if (!box.total) {
    replace(view.body, h("p", { class: "lead", id: "inbox-summary" }, t("inboxEmpty")), digestSection(view));
    return;
  }
  const unreadIds = box.items.filter((i) => !i.read).map((i) => i.id);
  const summary = h("p", { class: "lead", id: "inbox-summary" },
    box.unread ? t("inboxSummary", { n: box.unread, total: box.total }) : t("inboxAllRead", { n: box.total }));
  const markAll = unreadIds.length > 1
    ? h("button", { type: "button", class: "secondary", id: "inbox-mark-all", onclick: () => mark(view, unreadIds, null) }, t("inboxMarkAll"))
    : null;
  const sections = box.counts.filter((c) => c.total).map((c) => section(view, c));
  replace(view.body, h("div", { class: "inbox-top" }, summary, markAll), sections, digestSection(view));
}

// The daily e-mail: on or off, said at once ("Sparat.") where it was changed.
function digestSection(view) {
  const d = view.digest;
  const heading = h("h2", { id: "inbox-digest-h" }, t("digestTitle"));
  if (!d) return null;
  if (!d.email) {
    return h("section", { class: "block", id: "inbox-digest", "aria-labelledby": heading.id }, heading, h("p", {}, t("digestNoEmail")));
  }
  const box = h("input", { type: "checkbox", id: "digest-receive", checked: d.receives, "aria-describedby": "digest-hint" });
  const status = h("p", { class: "saved-note", role: "status", id: "digest-status" });
  box.addEventListener("change", async () => {
    const wanted = box.checked;
    box.disabled = true;
    status.className = "saved-note";
    status.textContent = "";
    try {
      const answer = (await request("SetInboxDigest", { receive: wanted })).setInboxDigest;
      if (answer.__typename !== "InboxDigest") throw new Error(answer.message);
      view.digest = answer;
      status.textContent = t("saved");
    } catch (error) {
      box.checked = !wanted;
      status.className = "error";
      status.textContent = `${t("error")}: ${error.message}`;
    } finally {
      box.disabled = false;
    }
  });
  return h("section", { class: "block", id: "inbox-digest", "aria-labelledby": heading.id },
    heading,
    h("div", { class: "check" }, box, h("label", { for: box.id }, t("digestReceive", { email: d.email, at: d.sendsAt }))),
    h("p", { class: "hint", id: "digest-hint" }, t("digestHint")),
    status);
}

function section(view, count) {
  const items = view.box.items.filter((i) => i.kind === count.kind);
  const id = `inbox-${count.kind}`;
  return h("section", { class: "block", "aria-labelledby": `${id}-h` },
    h("h2", { id: `${id}-h` }, `${t(`inbox_${count.kind}`)} (${count.total})`),
    h("ul", { class: "cards inbox-list", id }, items.map((item) => entry(view, item))));
}

function entry(view, item) {
  const link = h("a", { href: `#/plans/${item.planId}`, class: "inbox-plan" }, t("planFor", { name: item.patientName }));
  return h("li", { class: `card inbox-item${item.read ? "" : " unread"}${item.overdue ? " overdue" : ""}`, "data-item": item.id },
    h("h3", {}, item.read ? null : [h("span", { class: "new-label" }, t("inboxNew")), " "], link),
    h("p", { class: "inbox-why" }, why(item)),
    item.responsiblePerson ? h("p", { class: "hint" }, t("inboxResponsible", { name: item.responsiblePerson })) : null,
    item.read ? null : h("button", { type: "button", class: "secondary small", onclick: () => mark(view, [item.id], item) },
      t("inboxMarkRead"), h("span", { class: "visually-hidden" }, ` – ${t("planFor", { name: item.patientName })}`)));
}

// Why the item is here, in plain words.
function why(item) {
  switch (item.kind) {
    case "NEW_PLAN": return t("inboxWhyNew");
    case "ACTION": return t(item.overdue ? "inboxWhyActionLate" : "inboxWhyAction", { text: item.actionDescription, date: formatDate(item.dueDate) });
    case "MEETING": return t("inboxWhyMeeting", { when: formatDateTime(item.dueAt), kind: t(item.meetingKind).toLowerCase() });
    case "TO_FINALIZE": return t("inboxWhyFinalize");
    case "DISCHARGE": return t(item.overdue ? "inboxWhyDischargeLate" : "inboxWhyDischarge", { when: formatDateTime(item.dueAt) });
    case "FOLLOW_UP_DUE": return t(item.overdue ? "inboxWhyFollowUpLate" : "inboxWhyFollowUp", { date: formatDate(item.dueDate) });
    default: return "";
  }
}

// Mark items read (all of them, or one), then show the inbox as the service answers.
async function mark(view, ids, item) {
  let box = null;
  try {
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const answer = (await request("MarkInboxRead", { itemIds: ids.slice(i, i + MAX_IDS) })).markInboxRead;
      if (answer.__typename !== "Inbox") throw new Error(answer.message);
      box = answer;
    }
  } catch (error) {
    // e.g. the item changed or went away meanwhile: read the inbox again and say so
    announce(t("inboxMarkFailed"));
    await load(view);
    return;
  }
  view.box = box;
  draw(view);
  announce(item ? t("inboxMarkedOne") : t("inboxMarkedAll"));
  // keep the keyboard where it was: on the item's link if it is still here, else on the heading
  const still = item && [...view.body.querySelectorAll("[data-item]")].find((el) => el.dataset.item === item.id);
  const target = still ? still.querySelector("a") : view.ctx.main.querySelector("h1");
  if (target) {
    if (target.tagName === "H1") target.setAttribute("tabindex", "-1");
    target.focus();
  }
}
