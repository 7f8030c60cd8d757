// "Statistik" (managers: their care giver; steering group members: the joint view). Counts and
// shares per month, never a person. The service decides every figure and what is hidden ("< 5");
// the page only draws it: a chart (Chart.js, web/vendor/, loaded on this page only) and under each
// chart its table (the same figures, for screen readers and for reading exact values), and the
// service's CSV for download. No figure is added up here: a period's total is the calendar year's.
import { h, replace, setTitle, announce, field, options } from "../lib/dom.js";
import { request } from "../lib/gql.js";
import { lang } from "./i18n.js";

const T = {
  title: ["Statistik", "Statistics"],
  lead: [
    "Siffror per månad för planerna, aldrig om en enskild person. Där färre än fem personer finns bakom en siffra står det ”< 5”; ibland döljs fler siffror, så att ingen liten grupp kan räknas fram.",
    "Figures per month for the plans, never about a single person. Where fewer than five persons are behind a figure it says “< 5”; sometimes more figures are hidden, so that no small group can be worked out.",
  ],
  view: ["Visa", "Show"],
  CARE_GIVER: ["Min organisation", "My organisation"],
  JOINT: ["Ledningsgruppen, gemensamt", "The steering group, joint"],
  node: ["Organisation eller enhet", "Organisation or unit"],
  from: ["Från månad", "From month"],
  to: ["Till och med månad", "To month"],
  apply: ["Visa statistiken", "Show the statistics"],
  csv: ["Ladda ner som CSV", "Download as CSV"],
  csvHint: ["Samma siffror som på sidan, med ”< 5” där de är dolda.", "The same figures as on the page, with “< 5” where they are hidden."],
  loading: ["Läser in …", "Loading …"],
  error: ["Något gick fel", "Something went wrong"],
  none: ["Du har inte tillgång till statistiken.", "You do not have access to the statistics."],
  shown: ["Statistiken visas för {name}, {from} – {to}.", "Statistics shown for {name}, {from} – {to}."],
  direct: ["{name} (direkt, inte genom en enhet)", "{name} (directly, not through a unit)"],
  month: ["Månad", "Month"],
  unit: ["Enhet", "Unit"],
  year: ["År {y}", "Year {y}"],
  hidden: ["< 5", "< 5"],
  notShown: ["–", "–"],
  notShownHint: [
    "”–” betyder att andelen eller medianen inte visas: färre än fem personer bakom den.",
    "“–” means the share or median is not shown: fewer than five persons behind it.",
  ],
  plansTitle: ["Planer", "Plans"],
  started: ["Påbörjade", "Started"],
  finalized: ["Fastställda", "Finalized"],
  closed: ["Avslutade", "Closed"],
  meetingsTitle: ["Patienten och närstående på SIP-mötena", "The patient and relatives at the SIP meetings"],
  meetings: ["SIP-möten", "SIP meetings"],
  patientShare: ["Patienten med", "Patient took part"],
  relativesShare: ["Önskade närstående med", "Wanted relatives took part"],
  dischargeTitle: ["Efter utskrivningsklar: SIP-möte kallat inom 3 dagar", "After ready for discharge: SIP meeting called within 3 days"],
  discharges: ["Utskrivningsklara", "Ready for discharge"],
  within: ["Inom 3 dagar", "Within 3 days"],
  median: ["Median, dagar", "Median, days"],
  followTitle: ["Uppföljningar i tid", "Follow-ups on time"],
  followUps: ["Uppföljningar", "Follow-ups"],
  onTime: ["I tid", "On time"],
  gasTitle: ["Måluppfyllelse vid uppföljning (GAS)", "Goal attainment at follow-up (GAS)"],
  gasHint: [
    "Varje mål skattas tillsammans med patienten från −2 (mycket sämre än väntat) till +2 (mycket bättre än väntat); 0 är det förväntade. T-värdet sammanfattar en persons mål: 50 är som förväntat.",
    "Each goal is rated together with the patient from −2 (much less than expected) to +2 (much more than expected); 0 is as expected. The T-score sums up a person's goals: 50 is as expected.",
  ],
  level: ["Nivå {n}", "Level {n}"],
  ratings: ["Skattningar", "Ratings"],
  tScore: ["T-värde", "T-score"],
  finalTitle: ["Från första SIP-mötet till fastställd plan", "From the first SIP meeting to a finalized plan"],
  finalMedian: ["Median, dagar", "Median, days"],
  unitsTitle: ["Per enhet, hela året", "Per unit, the whole year"],
  report: ["E-post varje månad", "E-mail every month"],
  reportLabel: ["Skicka förra månadens statistik till {email} den första varje månad", "Send last month's statistics to {email} on the first of each month"],
  reportNoEmail: ["Du har ingen e-postadress i tjänsten, så inget brev kan skickas.", "You have no e-mail address in the service, so no e-mail can be sent."],
  saved: ["Sparat.", "Saved."],
};

function tt(key, vars = {}) {
  const pair = T[key];
  let text = pair ? pair[lang === "en" ? 1 : 0] : key;
  for (const [k, v] of Object.entries(vars)) text = text.replace(`{${k}}`, String(v));
  return text;
}

// Colours with at least 3:1 against white (WCAG 1.4.11) and told apart by more than hue: the lines
// have different dashes and points.
const COLOURS = ["#0b4f9c", "#a4001d", "#1c6b2f", "#6a3d9a", "#8a4b00"];
const DASHES = [[], [6, 4], [2, 3], [10, 3, 2, 3], [1, 2]];
const LEVEL_COLOURS = ["#a4001d", "#d24a1b", "#5a5a5a", "#2e7d4f", "#0b4f9c"];

let chartLoading = null;
function chartLibrary() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLoading) {
    chartLoading = new Promise((resolve, reject) => {
      const script = h("script", { src: "/app/vendor/chart.js/chart.umd.min.js" });
      script.addEventListener("load", () => resolve(window.Chart));
      script.addEventListener("error", () => { chartLoading = null; reject(new Error("Chart.js")); });
      document.head.append(script);
    });
  }
  return chartLoading;
}

export async function statisticsViews() {
  return (await request("StatisticsViews")).statisticsViews;
}

export function renderStatistics(ctx, views) {
  setTitle(tt("title"));
  const body = h("div", { id: "statistics" }, h("p", {}, tt("loading")));
  replace(ctx.main, h("h1", {}, tt("title")), h("p", { class: "lead" }, tt("lead")), body);
  if (!views.length) {
    replace(body, h("p", { role: "alert" }, tt("none")));
    ctx.rendered();
    return;
  }
  const view = { ctx, body, views, filter: { view: views[0] }, charts: [], answer: null };
  ctx.setCleanup(() => destroyCharts(view));
  load(view);
}

function destroyCharts(view) {
  for (const c of view.charts) c.destroy();
  view.charts = [];
}

async function load(view) {
  view.ctx.main.setAttribute("aria-busy", "true");
  try {
    const [answer, Chart] = await Promise.all([
      request("Statistics", { view: view.filter.view, node: view.filter.node || null,
        firstMonth: view.filter.firstMonth || null, lastMonth: view.filter.lastMonth || null }),
      chartLibrary(),
      view.report === undefined && view.views.includes("CARE_GIVER")
        ? request("StatisticsReport").then((r) => { view.report = r.statisticsReport; })
        : null,
    ]);
    view.answer = answer.statistics;
    view.Chart = Chart;
  } catch (error) {
    if (!view.body.isConnected) return;
    view.ctx.main.removeAttribute("aria-busy");
    replace(view.body, h("p", { role: "alert", class: "error" }, `${tt("error")}: ${error.message}`));
    return;
  }
  if (!view.body.isConnected) return;
  draw(view);
  view.ctx.main.removeAttribute("aria-busy");
  view.ctx.rendered();
}

function nodeName(node) {
  return node.kind === "DIRECT" ? tt("direct", { name: node.name }) : node.name;
}

function monthName(m) {
  const [y, mm] = m.split("-").map(Number);
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "sv-SE", { month: "short", year: "numeric", timeZone: "UTC" })
    .format(new Date(Date.UTC(y, mm - 1, 1)));
}

function allMonths(first, last) {
  const out = [];
  let [y, m] = first.split("-").map(Number);
  const [ly, lm] = last.split("-").map(Number);
  while (y < ly || (y === ly && m <= lm)) {
    out.push(`${y}-${String(m).padStart(2, "0")}`);
    m += 1;
    if (m > 12) { m = 1; y += 1; }
  }
  return out;
}

const count = (v) => (v === null || v === undefined ? tt("hidden") : String(v));
const pct = (v) => (v === null || v === undefined ? tt("notShown") : `${Math.round(v * 100)} %`);
// A fixed number of decimals, so that 55 reads "55,0" beside "50,6" in the same column.
const num = (v, digits = 1) => (v === null || v === undefined
  ? tt("notShown")
  : v.toLocaleString(lang === "en" ? "en-GB" : "sv-SE", { minimumFractionDigits: digits, maximumFractionDigits: digits }));

function draw(view) {
  destroyCharts(view);
  const a = view.answer;
  const chosen = a.nodes[0];
  const fig = (node, period) => a.figures.find((f) => f.node === node && f.period === period);
  const months = a.months;
  const rows = months.map((m) => fig(chosen.key, m));
  const years = a.years.map((y) => fig(chosen.key, y));
  const form = filters(view);
  const summary = h("p", { id: "statistics-shown", class: "lead", tabindex: "-1" },
    tt("shown", { name: nodeName(chosen), from: monthName(months[0]), to: monthName(months[months.length - 1]) }));
  const sections = [
    chartSection(view, "plans", tt("plansTitle"), "bar", months, years, a.years, [
      { label: tt("started"), value: (f) => f.started, format: count, chart: true },
      { label: tt("finalized"), value: (f) => f.finalized, format: count, chart: true },
      { label: tt("closed"), value: (f) => f.closed, format: count, chart: true },
    ], rows),
    chartSection(view, "meetings", tt("meetingsTitle"), "line", months, years, a.years, [
      { label: tt("meetings"), value: (f) => f.meetings, format: count },
      { label: tt("patientShare"), value: (f) => f.patientShare, format: pct, percent: true, chart: true },
      { label: tt("relativesShare"), value: (f) => f.relativesShare, format: pct, percent: true, chart: true },
    ], rows),
    chartSection(view, "discharge", tt("dischargeTitle"), "line", months, years, a.years, [
      { label: tt("discharges"), value: (f) => f.discharges, format: count },
      { label: tt("within"), value: (f) => f.dischargeWithinShare, format: pct, percent: true, chart: true },
      { label: tt("median"), value: (f) => f.dischargeMedianDays, format: (v) => num(v) },
    ], rows),
    chartSection(view, "followups", tt("followTitle"), "line", months, years, a.years, [
      { label: tt("followUps"), value: (f) => f.followUps, format: count },
      { label: tt("onTime"), value: (f) => f.followUpOnTimeShare, format: pct, percent: true, chart: true },
    ], rows),
    gasSection(view, months, years, a.years, rows),
    chartSection(view, "final", tt("finalTitle"), "bar", months, years, a.years, [
      { label: tt("finalized"), value: (f) => f.finalized, format: count },
      { label: tt("finalMedian"), value: (f) => f.finalMedianDays, format: (v) => num(v), chart: true },
    ], rows),
    unitsSection(a, fig),
  ];
  replace(view.body, form, summary, csvLink(a), h("p", { class: "hint" }, tt("notShownHint")), sections, reportSection(view));
}

function filters(view) {
  const a = view.answer;
  const viewSelect = view.views.length > 1
    ? options(h("select", { id: "stats-view" }), view.views.map((v) => [v, tt(v)]), view.filter.view)
    : null;
  const nodeSelect = a.view === "CARE_GIVER"
    ? options(h("select", { id: "stats-node" }), view.nodeChoices || (view.nodeChoices = a.nodes.map((n) => [n.key, nodeName(n)])), view.filter.node || a.nodes[0].key)
    : null;
  const months = allMonths(a.firstMonth, a.lastMonth).map((m) => [m, monthName(m)]);
  const from = options(h("select", { id: "stats-from" }), months, a.months[0]);
  const to = options(h("select", { id: "stats-to" }), months, a.months[a.months.length - 1]);
  const form = h("form", { class: "filters panel", id: "stats-filters", "aria-label": tt("title") },
    viewSelect ? field(tt("view"), viewSelect) : null,
    nodeSelect ? field(tt("node"), nodeSelect) : null,
    field(tt("from"), from),
    field(tt("to"), to),
    h("div", { class: "field" }, h("button", { type: "submit", id: "stats-apply" }, tt("apply"))));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const nextView = viewSelect ? viewSelect.value : view.filter.view;
    view.filter = {
      view: nextView,
      node: nodeSelect && nextView === view.filter.view ? nodeSelect.value : null,
      firstMonth: from.value <= to.value ? from.value : to.value,
      lastMonth: from.value <= to.value ? to.value : from.value,
    };
    if (nextView !== a.view) view.nodeChoices = null;
    load(view).then(() => {
      announce(document.getElementById("statistics-shown")?.textContent || "");
      document.getElementById("statistics-shown")?.focus();
    });
  });
  return form;
}

function csvLink(a) {
  const file = `sip-statistik-${a.months[0]}-${a.months[a.months.length - 1]}.csv`;
  const button = h("button", { type: "button", class: "secondary", id: "stats-csv", "aria-describedby": "stats-csv-hint" }, tt("csv"));
  button.addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob(["\ufeff", a.csv], { type: "text/csv;charset=utf-8" }));
    const link = h("a", { href: url, download: file });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });
  return h("p", {}, button, " ", h("span", { class: "hint", id: "stats-csv-hint" }, tt("csvHint")));
}

// One chart and its table: months down the side, one column per figure, then the calendar years.
function chartSection(view, id, title, type, months, years, yearNames, series, rows) {
  const headingId = `stats-${id}-h`;
  const canvas = h("canvas", { role: "img", "aria-label": `${title}. ${tt("month")}: ${series.map((s) => s.label).join(", ")}` });
  const charted = series.filter((s) => s.chart);
  const datasets = charted.map((s, i) => ({
    label: s.label,
    data: rows.map((f) => {
      const v = s.value(f);
      return v === null || v === undefined ? null : s.percent ? Math.round(v * 100) : v;
    }),
    backgroundColor: COLOURS[i],
    borderColor: COLOURS[i],
    borderDash: DASHES[i],
    pointStyle: ["circle", "rect", "triangle", "rectRot", "star"][i],
    pointRadius: 5,
    spanGaps: false,
  }));
  const percent = charted.some((s) => s.percent);
  view.charts.push(new view.Chart(canvas, {
    type,
    data: { labels: months.map(monthName), datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: {
        y: { beginAtZero: true, max: percent ? 100 : undefined,
          ticks: { precision: 0, font: { size: 14 }, callback: (v) => (percent ? `${v} %` : v) } },
        x: { ticks: { font: { size: 14 } } },
      },
      plugins: { legend: { labels: { font: { size: 15 }, usePointStyle: true } } },
    },
  }));
  const table = dataTable(`stats-${id}-table`, title, months, years, yearNames, series, rows);
  return h("section", { class: "block stats-section", id: `stats-${id}`, "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    h("div", { class: "chart-box" }, canvas),
    table);
}

function dataTable(id, title, months, years, yearNames, series, rows) {
  const head = h("tr", {}, h("th", { scope: "col" }, tt("month")), series.map((s) => h("th", { scope: "col" }, s.label)));
  const line = (label, f) => h("tr", {}, h("th", { scope: "row" }, label), series.map((s) => h("td", {}, s.format(f ? s.value(f) : null))));
  return h("div", { class: "table-box", tabindex: "0", role: "region", "aria-label": title },
    h("table", { id },
      h("caption", { class: "visually-hidden" }, title),
      h("thead", {}, head),
      h("tbody", {}, months.map((m, i) => line(monthName(m), rows[i]))),
      h("tfoot", {}, yearNames.map((y, i) => line(tt("year", { y }), years[i])))));
}

function gasSection(view, months, years, yearNames, rows) {
  const title = tt("gasTitle");
  const headingId = "stats-gas-h";
  const levels = [-2, -1, 0, 1, 2];
  const levelSeries = levels.map((n) => ({
    label: tt("level", { n: n > 0 ? `+${n}` : n < 0 ? `−${-n}` : "0" }),
    value: (f) => f.ratingsByLevel.find((l) => l.level === n).count,
    format: count,
  }));
  const canvas = h("canvas", { role: "img", "aria-label": `${title}. ${levelSeries.map((s) => s.label).join(", ")}` });
  view.charts.push(new view.Chart(canvas, {
    type: "bar",
    data: {
      labels: months.map(monthName),
      datasets: levelSeries.map((s, i) => ({ label: s.label, data: rows.map((f) => s.value(f)), backgroundColor: LEVEL_COLOURS[i] })),
    },
    options: {
      animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true, ticks: { font: { size: 14 } } }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0, font: { size: 14 } } } },
      plugins: { legend: { labels: { font: { size: 15 } } } },
    },
  }));
  const series = [
    { label: tt("ratings"), value: (f) => f.ratings, format: count },
    ...levelSeries,
    { label: tt("tScore"), value: (f) => f.tScore, format: (v) => num(v) },
  ];
  return h("section", { class: "block stats-section", id: "stats-gas", "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    h("p", { class: "hint" }, tt("gasHint")),
    h("div", { class: "chart-box" }, canvas),
    dataTable("stats-gas-table", title, months, years, yearNames, series, rows));
}

// The chosen node's units, each calendar year (table only: the same cells as everywhere).
function unitsSection(a, fig) {
  const units = a.nodes.slice(1);
  if (!units.length) return null;
  const headingId = "stats-units-h";
  const cols = [
    [tt("started"), (f) => count(f.started)],
    [tt("finalized"), (f) => count(f.finalized)],
    [tt("closed"), (f) => count(f.closed)],
    [tt("meetings"), (f) => count(f.meetings)],
    [tt("patientShare"), (f) => pct(f.patientShare)],
    [tt("discharges"), (f) => count(f.discharges)],
    [tt("within"), (f) => pct(f.dischargeWithinShare)],
    [tt("followUps"), (f) => count(f.followUps)],
    [tt("onTime"), (f) => pct(f.followUpOnTimeShare)],
    [tt("tScore"), (f) => num(f.tScore)],
  ];
  return h("section", { class: "block stats-section", id: "stats-units", "aria-labelledby": headingId },
    h("h2", { id: headingId }, tt("unitsTitle")),
    a.years.map((y) => h("div", { class: "table-box", tabindex: "0", role: "region", "aria-label": `${tt("unitsTitle")} ${y}` },
      h("table", { id: `stats-units-${y}` },
        h("caption", {}, tt("year", { y })),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, tt("unit")), cols.map(([label]) => h("th", { scope: "col" }, label)))),
        h("tbody", {}, units.map((u) => {
          const f = fig(u.key, y);
          return h("tr", {}, h("th", { scope: "row" }, nodeName(u)), cols.map(([, value]) => h("td", {}, value(f))));
        }))))));
}

// Managers: the monthly e-mail, on or off, said at once where it was changed.
function reportSection(view) {
  const r = view.report;
  if (!r || view.answer.view !== "CARE_GIVER") return null;
  const heading = h("h2", { id: "stats-report-h" }, tt("report"));
  if (!r.email) return h("section", { class: "block", id: "stats-report", "aria-labelledby": heading.id }, heading, h("p", {}, tt("reportNoEmail")));
  const box = h("input", { type: "checkbox", id: "stats-report-receive", checked: r.receives });
  const status = h("p", { class: "saved-note", role: "status", id: "stats-report-status" });
  box.addEventListener("change", async () => {
    const wanted = box.checked;
    box.disabled = true;
    status.className = "saved-note";
    status.textContent = "";
    try {
      const answer = (await request("SetStatisticsReport", { receive: wanted })).setStatisticsReport;
      if (answer.__typename !== "StatisticsReport") throw new Error(answer.message);
      view.report = answer;
      status.textContent = tt("saved");
    } catch (error) {
      box.checked = !wanted;
      status.className = "error";
      status.textContent = `${tt("error")}: ${error.message}`;
    } finally {
      box.disabled = false;
    }
  });
  return h("section", { class: "block", id: "stats-report", "aria-labelledby": heading.id }, heading,
    h("div", { class: "check" }, box, h("label", { for: box.id }, tt("reportLabel", { email: r.email }))), status);
}
