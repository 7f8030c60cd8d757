// The shell: who is signed in, language, navigation, and routing by hash (#/plans, #/plans/<id>, #/new, #/inbox,
// #/statistics).
import { h, setTitle, append, replace } from "../lib/dom.js";
import { signedIn, request } from "../lib/gql.js";
import { t, lang, setLanguage } from "./i18n.js";
import { renderQueue } from "./queue.js";
import { renderPlan } from "./plan.js";
import { renderCreate } from "./create.js";
import { renderInbox, unreadCount } from "./inbox.js";
import { renderStatistics, statisticsViews } from "./statistics.js";

const app = { me: null, session: null, cleanup: null, unread: 0, views: [] };
const main = document.getElementById("main");
const header = document.getElementById("site-header");

function renderHeader() {
  replace(header);
  const staff = app.session && app.session.kind === "staff";
  const nav = app.session
    ? h("nav", { "aria-label": t("mainNav") },
      h("ul", {},
        h("li", {}, h("a", { href: "#/plans" }, staff ? t("navPlans") : t("navMyPlans"))),
        staff ? h("li", {}, h("a", { href: "#/inbox", id: "nav-inbox" }, t("navInbox"), inboxBadge())) : null,
        staff ? h("li", {}, h("a", { href: "#/new" }, t("navNew"))) : null,
        staff && app.views.length ? h("li", {}, h("a", { href: "#/statistics", id: "nav-statistics" }, t("navStatistics"))) : null))
    : null;
  const who = app.session
    ? h("div", { class: "who" },
      h("span", {}, h("span", { class: "who-label" }, `${t("signedInAs")} `), h("strong", { id: "signed-in-name" }, app.session.name)),
      h("form", { method: "post", action: "/auth/logout", class: "sign-out", onsubmit: signOut },
        h("input", { type: "hidden", name: "csrf_token", value: app.session.csrfToken }),
        h("button", { type: "submit", class: "secondary" }, t("signOut"))))
    : null;
  const other = lang === "sv" ? "en" : "sv";
  const switcher = h("button", {
    type: "button", class: "secondary lang", lang: other, "aria-label": t("languageLabel"),
    onclick: () => { setLanguage(other); renderHeader(); route(); },
  }, t("language"));
  if (nav) nav.querySelector("ul").append(h("li", { class: "lang-item" }, switcher));
  append(header, [
    h("div", { class: "bar" }, h("p", { class: "brand" }, h("a", { href: "#/plans" }, brand())), nav ? null : switcher, who),
    nav]);
  markCurrentNav();
  document.getElementById("skip").textContent = t("skip");
}

// "Att göra 3 nya": how many items of the inbox are new, kept up to date on every page (staff only).
function inboxBadge() {
  return app.unread ? [" ", h("span", { class: "count-badge" }, t("navInboxNew", { n: app.unread }))] : null;
}

function showUnread(n) {
  if (n !== app.unread) {
    app.unread = n;
    const link = document.getElementById("nav-inbox");
    if (link) replace(link, t("navInbox"), inboxBadge());
  }
  window.dispatchEvent(new CustomEvent("sip:unread", { detail: n })); // the start page shows it too
}

async function refreshUnread() {
  if (!app.session || app.session.kind !== "staff") return;
  try {
    showUnread(await unreadCount());
  } catch {
    // the count is a convenience: the page itself says what went wrong, if anything did
  }
}

// "SIP – samordnad individuell plan": on a phone only "SIP" shows (the rest stays in the link's name).
function brand() {
  const [short, ...rest] = t("appName").split(" – ");
  return rest.length ? [short, h("span", { class: "brand-long" }, ` – ${rest.join(" – ")}`)] : short;
}

// A plain form post from this page carries "Origin: null" (the page's Referrer-Policy is no-referrer),
// which the service refuses; a script's request carries the CSRF header and is accepted.
async function signOut(event) {
  event.preventDefault();
  const response = await fetch("/auth/logout", {
    method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": app.session.csrfToken },
  });
  if (response.ok || response.status === 401) location.assign("/");
}

function markCurrentNav() {
  for (const a of header.querySelectorAll("nav a")) {
    const current = location.hash.startsWith(a.getAttribute("href"));
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// <main data-route="…"> names the route being shown; while its data is read, <main aria-busy="true">
// (set in the same turn as data-route): a test waits for both before it reads or acts on the page.
function route() {
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  markCurrentNav();
  const hash = location.hash || "#/plans";
  main.removeAttribute("aria-busy");
  main.dataset.route = app.session ? hash : "sign-in";
  let counted = false;
  const ctx = {
    me: app.me, session: app.session, main, unread: () => app.unread,
    setCleanup: (f) => { app.cleanup = f; },
    rendered: () => {
      if (app.focusNext) { app.focusNext = false; focusHeading(); }
      // once the page is shown (an opened plan is no longer new by then); the inbox page tells its own
      if (!counted && hash !== "#/inbox") { counted = true; refreshUnread(); }
    },
  };
  let m;
  if (!app.session) return renderSignIn();
  if ((m = hash.match(/^#\/plans\/([0-9a-f-]{36})\/print$/))) renderPlan(ctx, m[1], { print: true });
  else if ((m = hash.match(/^#\/plans\/([0-9a-f-]{36})$/))) renderPlan(ctx, m[1], {});
  else if (hash === "#/new" && app.session.kind === "staff") renderCreate(ctx);
  else if (hash === "#/inbox" && app.session.kind === "staff") renderInbox(ctx);
  else if (hash === "#/statistics" && app.session.kind === "staff") renderStatistics(ctx, app.views);
  else renderQueue(ctx);
}

function renderSignIn() {
  setTitle(t("signIn"));
  const next = `/app/${location.hash}`;
  replace(main,
    h("h1", { tabindex: "-1" }, t("appName")),
    h("p", {}, t("notSignedIn")),
    h("p", {}, h("a", { class: "button", href: `/auth/login?next=${encodeURIComponent(next)}` }, t("signIn"))));
}

function focusHeading() {
  const heading = main.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

async function start() {
  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault();
    main.focus();
    main.scrollIntoView();
  });
  try {
    app.session = await signedIn();
    if (app.session) app.me = (await request("Me")).me;
    // managers and steering group members see "Statistik" in the header (statistics.js)
    if (app.session && app.session.kind === "staff") app.views = await statisticsViews();
  } catch (error) {
    replace(main, h("h1", {}, t("error")), h("p", { role: "alert" }, error.message || t("error")));
    return;
  }
  renderHeader();
  window.addEventListener("hashchange", () => { app.focusNext = true; route(); });
  window.addEventListener("sip:inbox-count", (event) => showUnread(event.detail));
  window.addEventListener("sip:signed-out", () => { app.session = null; app.me = null; renderHeader(); route(); });
  route();
}

start();
