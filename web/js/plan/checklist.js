// The readiness checklist (staff): what is left before finalizing, each with its fix beside it.
import { h } from "../../lib/dom.js";
import { t, formatDateTime } from "../i18n.js";
import { currentMeeting, form, mutate, nameOf, planVars, section } from "./common.js";
import { actionForm, goalForm } from "./goals.js";
import { staffForm } from "./participants.js";
import { consentForm } from "./consent.js";
import { followUpForm, overallForm } from "./facts.js";
import { attendanceControls, scheduleForm, videoLink } from "./meetings.js";

export function checklist(view) {
  const plan = view.plan;
  if (plan.status === "ACTIVE" || plan.status === "CLOSED") {
    const coordinator = isCoordinator(view);
    if (plan.status === "CLOSED") {
      return section(view, "checklist", t("closedTitle"), { open: true },
        h("p", {}, t("closedText", { when: formatDateTime(plan.closedAt), reason: plan.closeReason ? t(`why_${plan.closeReason}`) : "–" })));
    }
    return section(view, "checklist", t("finalized"), { open: true },
      plan.finalizedAt ? h("p", {}, formatDateTime(plan.finalizedAt)) : null,
      plan.status === "ACTIVE" && coordinator
        ? form("revise", null, [], t("revise"), () => mutate(view, "RevisePlan", planVars(view)), { className: "inline" })
        : null);
  }
  const blockers = plan.readiness.blockers;
  const items = blockers.map((b) => {
    const prefix = `fix-${b.code}${b.subject.id ? `-${b.subject.id}` : ""}`;
    let fix = fixFor(view, b, prefix);
    // a form with several fields opens on request: the list stays short enough to take in at once
    if (fix && fix.tagName === "FORM" && fix.classList.contains("panel")) {
      fix = h("details", { id: `${prefix}-details`, class: "disclosure fix-details" }, h("summary", {}, fixLabel(b.code)), fix);
    }
    return h("li", { class: "blocker", "data-code": b.code }, h("p", { class: "blocker-message" }, b.message), fix);
  });
  const coordinator = isCoordinator(view);
  // the list above is the one list of what is left; beside the button only how much, and who may
  const reasons = h("div", { id: "finalize-reasons", class: "reasons" },
    !coordinator ? h("p", {}, t("finalizeCoordinator")) : null,
    blockers.length ? h("p", {}, t("finalizeLeft", { n: blockers.length })) : null);
  const finalize = form("finalize", null, [reasons], t("finalize"),
    () => mutate(view, "FinalizePlan", planVars(view)), { className: "finalize" });
  const button = finalize.querySelector("button[type=submit]");
  // aria-disabled rather than disabled: the button stays in the tab order and reads out its reasons
  if (!plan.readiness.ready || !coordinator) button.setAttribute("aria-disabled", "true");
  button.setAttribute("aria-describedby", "finalize-reasons");
  button.id = "finalize-button";
  return section(view, "checklist", t("checklist"), { open: true },
    takeOn(view),
    blockers.length ? h("ol", { class: "checklist", id: "checklist" }, items) : h("p", { class: "ok" }, t("checklistDone")),
    finalize);
}

// A plan nobody coordinates (one a hospital's discharge notice started, for the unit to take on):
// a staff member who does not take part yet takes it on as its coordinator, in one step.
function takeOn(view) {
  const plan = view.plan;
  const me = view.ctx.me && view.ctx.me.staffMember ? view.ctx.me.staffMember.id : null;
  if (!me || plan.participants.some((p) => p.isCoordinator)) return null;
  if (plan.participants.some((p) => p.staffMember && p.staffMember.id === me)) return null;
  return h("div", { class: "note take-on", id: "take-on", role: "note" },
    h("p", {}, h("strong", {}, t("noCoordinator"))),
    h("p", {}, plan.dischargeReadyAt ? t("noCoordinatorDischarge") : t("noCoordinatorText")),
    form("take-on-form", null, [], t("takeOn"),
      () => mutate(view, "AddParticipant", planVars(view, { input: { kind: "STAFF", staffMemberId: me, isCoordinator: true } })),
      { className: "inline" }));
}

export function isCoordinator(view) {
  const me = view.ctx.me && view.ctx.me.staffMember ? view.ctx.me.staffMember.id : null;
  return view.plan.participants.some((p) => p.isCoordinator && p.staffMember && p.staffMember.id === me);
}

function fixLabel(code) {
  return t({
    CONSENT: "recordOral", CROSS_ORGANISATION: "addStaff", OVERALL_RESPONSIBILITY: "chooseOverall",
    PATIENT_GOALS: "addGoal", ACTIONS: "addAction", FOLLOW_UP: "setFollowUp",
    PATIENT_ATTENDED: "scheduleMeeting", RELATIVES_INVITED: "scheduleMeeting",
  }[code] || "fixIt");
}

function fixFor(view, blocker, prefix) {
  const plan = view.plan;
  switch (blocker.code) {
    case "CONSENT": return consentForm(view, prefix);
    case "CROSS_ORGANISATION": return staffForm(view, prefix);
    case "OVERALL_RESPONSIBILITY": return overallForm(view, prefix);
    case "PATIENT_GOALS": return goalForm(view, prefix);
    case "ACTIONS": return actionForm(view, prefix);
    case "FOLLOW_UP": return followUpForm(view, prefix);
    case "PATIENT_ATTENDED": {
      const meeting = currentMeeting(plan);
      if (!meeting) return scheduleForm(view, prefix);
      return h("div", { class: "fix" }, attendanceControls(view, meeting, prefix), videoLink(meeting, true));
    }
    case "RELATIVES_DECIDED":
      return h("div", { class: "fix" }, h("p", { class: "hint" }, t("relativesOnlyPatient")));
    case "RELATIVES_INVITED": {
      const meeting = currentMeeting(plan);
      if (!meeting) return scheduleForm(view, prefix);
      const who = blocker.subject.id;
      return form(`${prefix}-invite`, null, [], `${t("invite")}: ${nameOf(plan, who)}`,
        () => mutate(view, "InviteToMeeting", { meetingId: meeting.id, expectedVersion: meeting.version, participantIds: [who], channel: channelFor(plan, who) }),
        { className: "inline" });
    }
    case "PATIENT_APPROVED":
      return h("div", { class: "fix" }, h("p", { class: "hint" }, t("approveHint")));
    default: return null;
  }
}

function channelFor(plan, participantId) {
  const p = plan.participants.find((x) => x.id === participantId);
  if (p && p.citizen && p.citizen.phone) return "SMS";
  if (p && p.citizen && p.citizen.email) return "EMAIL";
  return "LETTER";
}
