// Follow-up ("Uppföljning"): staff record one with the patient (each goal rated on its scale, Goal
// Attainment Scaling, with the patient's own words; each open action done, continued or changed; the
// next date), and read the earlier ones. The patient side's "Hur det har gått" is howItWent().
import { h, field, options } from "../../lib/dom.js";
import { t, formatDate, formatDateTime, isoToStockholm, todayInStockholm } from "../i18n.js";
import { disclosure, form, mutate, planVars, section } from "./common.js";

// The scale, -2 … +2: the GraphQL level names (GasLevels) and the rating in words (Attainment).
export const SCALE = [
  { score: -2, level: "muchLess", attainment: "MUCH_LESS" },
  { score: -1, level: "less", attainment: "LESS" },
  { score: 0, level: "expected", attainment: "EXPECTED" },
  { score: 1, level: "more", attainment: "MORE" },
  { score: 2, level: "muchMore", attainment: "MUCH_MORE" },
];
const OUTCOMES = ["DONE", "CONTINUED", "CHANGED"];

export function followUpSection(view) {
  const plan = view.plan;
  const canRecord = plan.status === "ACTIVE" || plan.status === "REVISING";
  const due = plan.attention.includes("FOLLOW_UP_DUE");
  return section(view, "followups", t("fuTitle"), { open: due, count: plan.followUps.length },
    canRecord ? null : h("p", {}, t("fuNotYet")),
    canRecord ? disclosure("record-followup", t("fuRecord"), followUpForm(view, "sec")) : null,
    h("h3", {}, t("fuHistory")),
    followUpHistory(view));
}

// ---- the history ----------------------------------------------------------------------------

function goalText(plan, id) {
  const g = plan.goals.find((x) => x.id === id);
  return g ? g.text : t("fuGoalRemoved");
}

export function followUpHistory(view) {
  const plan = view.plan;
  if (!plan.followUps.length) return h("p", {}, t("fuNone"));
  return h("ol", { class: "items", id: "followup-list" }, [...plan.followUps].reverse().map((f) => h("li", { class: "followup" },
    h("p", {}, h("strong", {}, t("fuLine", { date: formatDate(f.heldOn) }))),
    h("p", { class: "hint" }, t("fuRecordedBy", { who: f.recordedBy ? f.recordedBy.name : "–", when: formatDateTime(f.recordedAt) }),
      f.meeting ? ` · ${t(f.meeting.kind)}` : ` · ${t("fuNoMeeting")}`,
      f.dueOn ? ` · ${t(f.heldOn <= f.dueOn ? "fuOnTime" : "fuLate", { date: formatDate(f.dueOn) })}` : null),
    f.ratings.length ? h("ul", { class: "ratings" }, f.ratings.map((r) => h("li", {},
      h("span", { class: "goal-ref" }, `”${goalText(plan, r.goalId)}”: `),
      h("strong", {}, `${signed(r.score)} ${t(`gas_${r.attainment}`)}`),
      r.patientWords ? h("p", { class: "patient-words" }, t("fuPatientSaid", { words: r.patientWords })) : null))) : null,
    f.actionReviews.length ? h("ul", { class: "reviews" }, f.actionReviews.map((a) => {
      const action = plan.actions.find((x) => x.id === a.actionId);
      return h("li", {}, `${action ? action.description : "–"}: ${t(`outcome_${a.outcome}`)}${a.note ? ` – ${a.note}` : ""}`);
    })) : null,
    f.summary ? h("p", {}, f.summary) : null,
    f.nextFollowUpDate ? h("p", { class: "hint" }, t("fuNextLine", { date: formatDate(f.nextFollowUpDate) })) : null)));
}

export const signed = (score) => (score > 0 ? `+${score}` : score < 0 ? `−${-score}` : "0");

// ---- the form -------------------------------------------------------------------------------

// Follow-up meetings of the plan that have begun, are not cancelled and are not followed up yet.
function meetingsToFollowUp(plan) {
  const used = new Set(plan.followUps.map((f) => f.meeting && f.meeting.id).filter(Boolean));
  const now = Date.now();
  return plan.meetings
    .filter((m) => m.purpose === "FOLLOW_UP" && m.status === "SCHEDULED" && !used.has(m.id) && new Date(m.startsAt).getTime() <= now)
    .sort((a, b) => (a.startsAt < b.startsAt ? 1 : -1));
}

function goalFieldset(view, prefix, goal) {
  const id = `${prefix}-fu-goal-${goal.id}`;
  const levels = goal.levels || {};
  const missing = SCALE.filter((s) => !levels[s.level]);
  const labels = new Map();
  const inputs = new Map();
  for (const s of missing) {
    const input = h("input", { type: "text", id: `${id}-level-${s.level}`, autocomplete: "off" });
    input.addEventListener("input", () => { labels.get(s.level).textContent = input.value.trim() || t(`gasStaff_${s.level}`); });
    inputs.set(s.level, input);
  }
  const radios = SCALE.map((s) => {
    const radio = h("input", { type: "radio", name: `${id}-score`, id: `${id}-score-${s.score + 2}`, value: String(s.score) });
    const words = h("span", { class: "level-words" }, levels[s.level] || t(`gasStaff_${s.level}`));
    labels.set(s.level, words);
    return h("div", { class: "check" }, radio,
      h("label", { for: radio.id }, words, h("span", { class: "hint level-scale" }, ` (${signed(s.score)}, ${t(`gasStaff_${s.level}`).toLowerCase()})`)));
  });
  const notRated = h("input", { type: "radio", name: `${id}-score`, id: `${id}-score-none`, value: "" });
  const words = h("textarea", { id: `${id}-words`, rows: "2" });
  const el = h("fieldset", { class: "rate-goal", id },
    h("legend", {}, `”${goal.text}”`),
    missing.length ? h("div", { class: "levels-missing" },
      h("p", { class: "hint" }, missing.length === SCALE.length ? t("fuLevelsAll") : t("fuLevelsSome")),
      missing.map((s) => field(`${signed(s.score)} ${t(`gasStaff_${s.level}`)}`, inputs.get(s.level)))) : null,
    h("div", { role: "radiogroup", "aria-label": t("fuHowItWent", { goal: goal.text }) },
      h("p", { class: "group-label" }, t("fuHowItWentLabel")),
      radios,
      h("div", { class: "check" }, notRated, h("label", { for: notRated.id }, t("fuNotRated")))),
    field(t("fuPatientWords"), words));
  const read = () => {
    const chosen = el.querySelector(`input[name="${id}-score"]:checked`);
    if (!chosen) return null;
    const rating = { goalId: goal.id, score: chosen.value === "" ? null : Number(chosen.value), patientWords: words.value.trim() };
    const given = {};
    for (const [level, input] of inputs) if (input.value.trim()) given[level] = input.value.trim();
    if (Object.keys(given).length) rating.levels = given;
    return rating;
  };
  return { el, read };
}

function actionFieldset(prefix, action) {
  const id = `${prefix}-fu-action-${action.id}`;
  const radios = OUTCOMES.map((o) => {
    const radio = h("input", { type: "radio", name: `${id}-outcome`, id: `${id}-${o}`, value: o });
    return h("div", { class: "check" }, radio, h("label", { for: radio.id }, t(`outcome_${o}`), h("span", { class: "hint" }, ` – ${t(`outcomeHint_${o}`)}`)));
  });
  const note = h("input", { type: "text", id: `${id}-note`, autocomplete: "off" });
  const el = h("fieldset", { class: "review-action", id }, h("legend", {}, action.description), radios, field(t("fuActionNote"), note));
  const read = () => {
    const chosen = el.querySelector(`input[name="${id}-outcome"]:checked`);
    return chosen ? { actionId: action.id, outcome: chosen.value, note: note.value.trim() } : null;
  };
  return { el, read };
}

export function followUpForm(view, prefix) {
  const plan = view.plan;
  const candidates = meetingsToFollowUp(plan);
  const today = todayInStockholm();
  const meeting = options(h("select", { id: `${prefix}-fu-meeting` }),
    [...candidates.map((m) => [m.id, `${t(m.kind)}, ${formatDateTime(m.startsAt)}`]), ["", t("fuNoMeetingOption")]]);
  const heldOn = h("input", { id: `${prefix}-fu-held`, type: "date", max: today, value: candidates.length ? isoToStockholm(candidates[0].startsAt)[0] : today });
  meeting.addEventListener("change", () => {
    const m = candidates.find((x) => x.id === meeting.value);
    if (m) heldOn.value = isoToStockholm(m.startsAt)[0];
  });
  const goals = plan.goals.map((g) => goalFieldset(view, prefix, g));
  const open = plan.actions.filter((a) => a.status === "PLANNED" || a.status === "ONGOING");
  const actions = open.map((a) => actionFieldset(prefix, a));
  const next = h("input", { id: `${prefix}-fu-next`, type: "date", min: todayInStockholm(1), value: todayInStockholm(91) });
  const summary = h("textarea", { id: `${prefix}-fu-summary`, rows: "3" });
  return form(`${prefix}-fu`, null, [
    h("p", { class: "hint" }, t("fuIntro")),
    field(t("fuMeeting"), meeting),
    field(t("fuHeldOn"), heldOn),
    h("h4", { class: "sub" }, t("fuGoals")),
    goals.length ? goals.map((g) => g.el) : h("p", {}, t("noGoals")),
    h("h4", { class: "sub" }, t("fuActions")),
    actions.length ? actions.map((a) => a.el) : h("p", {}, t("fuNoOpenActions")),
    field(t("fuNext"), next, t("fuNextHint")),
    field(t("fuSummary"), summary),
  ], t("fuSave"), async () => {
    const ratings = [];
    for (const [i, g] of goals.entries()) {
      const r = g.read();
      if (!r) return t("fuRateEach", { goal: plan.goals[i].text });
      ratings.push(r);
    }
    const actionReviews = [];
    for (const [i, a] of actions.entries()) {
      const r = a.read();
      if (!r) return t("fuReviewEach", { action: open[i].description });
      actionReviews.push(r);
    }
    if (!heldOn.value) return t("fuHeldOn");
    if (!next.value) return t("fuNext");
    const input = { meetingId: meeting.value || null, heldOn: heldOn.value, nextFollowUpDate: next.value, ratings, actionReviews, summary: summary.value.trim() };
    return mutate(view, "RecordFollowUp", planVars(view, { input }));
  });
}

// ---- the patient's and relative's page: "Hur det har gått" ---------------------------------

function monthYear(dateText, lang) {
  const [y, m] = dateText.split("-").map(Number);
  const text = new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "sv-SE", { timeZone: "UTC", month: "long", year: "numeric" })
    .format(new Date(Date.UTC(y, m - 1, 1)));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// For each goal, how it went at each follow-up, oldest first, in words: "Juni 2026: Som vi hoppades",
// what that level means for this goal, and the patient's own words. `mine`: the patient side ("du").
export function howItWent(view, mine, lang) {
  const plan = view.plan;
  const rated = plan.goals.filter((g) => g.ratings.length);
  if (!rated.length) return null;
  const patient = plan.patient.name;
  return section(view, "progress", t("progressTitle"), { open: true },
    h("p", {}, mine ? t("progressIntroYou") : t("progressIntroThey", { name: patient })),
    rated.map((g) => h("div", { class: "progress-goal" },
      h("h3", { class: "goal-text" }, `”${g.text}”`),
      h("ol", { class: "progress" }, g.ratings.map((r) => {
        const level = SCALE.find((s) => s.attainment === r.attainment);
        const meaning = level && g.levels[level.level];
        return h("li", { class: `progress-item progress-${r.attainment}` },
          h("p", { class: "progress-when" }, h("strong", {}, `${monthYear(r.heldOn, lang)}: `), h("span", { class: "progress-words" }, t(`gas_${r.attainment}`))),
          meaning ? h("p", { class: "progress-meaning" }, meaning) : null,
          r.patientWords ? h("p", { class: "patient-words" }, mine ? t("youSaid", { words: r.patientWords }) : t("theySaid", { name: patient, words: r.patientWords })) : null);
      })))));
}

// The print view: the latest follow-up, in the same plain words.
export function latestFollowUp(view, mine) {
  const plan = view.plan;
  const f = plan.followUps[plan.followUps.length - 1];
  if (!f) return null;
  const patient = plan.patient.name;
  return [
    h("h2", {}, t("latestFollowUp", { date: formatDate(f.heldOn) })),
    f.ratings.length ? h("ul", { id: "print-latest-followup" }, f.ratings.map((r) => h("li", {},
      `”${goalText(plan, r.goalId)}”: ${t(`gas_${r.attainment}`)}`,
      r.patientWords ? ` – ${mine ? t("youSaid", { words: r.patientWords }) : t("theySaid", { name: patient, words: r.patientWords })}` : ""))) : null,
  ];
}
