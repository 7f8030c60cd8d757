// Meetings: the list, attendance, invitations and their delivery, personal links, scheduling.
import { h, field, options, announce } from "../../lib/dom.js";
import { request } from "../../lib/gql.js";
import { t, formatDateTime, formatTime, todayInStockholm, stockholmToIso, isoToStockholm } from "../i18n.js";
import { load, render } from "../plan.js";
import { PATIENT_SIDE, askButton, confirmPanel, disclosure, editable, form, mutate, upcoming } from "./common.js";

// ---- meetings ------------------------------------------------------------------------------

export function videoLink(meeting, staff) {
  if (meeting.kind === "IN_PERSON" || meeting.status !== "SCHEDULED") return null;
  return h("p", {}, h("a", { class: "button", href: `/video/?m=${meeting.id}` }, staff ? t("startVideo") : t("joinVideo")));
}

export function attendanceControls(view, meeting, prefix) {
  const plan = view.plan;
  if (meeting.kind === "VIDEO") return []; // attendance in a video meeting comes from the video itself
  const who = plan.participants.filter((p) => PATIENT_SIDE.includes(p.kind) && !meeting.attendances.some((a) => a.participantId === p.id));
  return who.map((p) => form(`${prefix}-attest-${p.id}`, null, [], t("attest", { name: p.name }), () =>
    mutate(view, "AttestAttendance", { meetingId: meeting.id, expectedVersion: meeting.version, participantId: p.id }),
  { className: "inline" }));
}

export function meetingList(view) {
  const plan = view.plan;
  if (!plan.meetings.length) return h("p", {}, t("noMeetings"));
  const sorted = [...plan.meetings].sort((a, b) => (a.startsAt < b.startsAt ? 1 : -1));
  const ahead = new Set(upcoming(plan).map((m) => m.id));
  return h("ul", { class: "items", id: "meeting-list" }, sorted.map((m) =>
    h("li", { class: "meeting" },
      h("h3", {}, `${t(m.purpose)}: ${formatDateTime(m.startsAt)}–${formatTime(m.endsAt)}`,
        m.status === "CANCELLED" ? ` (${t("cancelled")})` : ahead.has(m.id) ? "" : ` (${t("meetingOver")})`),
      h("p", {}, t(m.kind), m.location ? ` · ${m.location}` : ""),
      // a meeting that is over is not invited to, moved or cancelled; who was there may still be attested
      view.staff && m.status === "SCHEDULED" && editable(plan) ? [
        invitationList(view, m),
        ahead.has(m.id) ? (m.invitations.length ? disclosure(`invite-${m.id}`, t("inviteMore"), inviteForm(view, m)) : inviteForm(view, m)) : null,
        attendanceControls(view, m, `m-${m.id}`),
        ahead.has(m.id) ? disclosure(`move-${m.id}`, t("reschedule"), rescheduleForm(view, m)) : null,
        !ahead.has(m.id) ? null : view.confirming === `meeting-${m.id}`
          ? confirmPanel(view, `meeting-${m.id}`, t("cancelMeetingQ", { when: formatDateTime(m.startsAt) }), t("yesCancelMeeting"),
            () => mutate(view, "CancelMeeting", { meetingId: m.id, expectedVersion: m.version }), "h-meetings")
          : h("p", {}, askButton(view, `meeting-${m.id}`, t("cancelMeeting"), t("cancelMeeting"))),
      ] : null,
      ahead.has(m.id) ? videoLink(m, view.staff) : null)));
}

// Who was invited, whether the invitation reached them, and their personal join link.
function deliveryText(d, p) {
  if (!d) return "";
  if (d.status === "WAITING_FOR_CONSENT") return t("dWaitingConsent", { org: p && p.organisation ? p.organisation.name : "–" });
  // written before the patient decided otherwise, then held back: not a failure to retry
  if (d.status === "FAILED" && !d.attempts) {
    return p && p.kind === "RELATIVE" && !takesPart(p) ? t("dWithheld", { name: p.name }) : t("dNotSentReason", { error: d.lastError || "–" });
  }
  switch (d.status) {
    case "SENT": return t("dSent", { when: formatDateTime(d.sentAt), n: d.attempts });
    case "PENDING": return d.attempts ? t("dRetry", { n: d.attempts, when: d.nextAttemptAt ? formatDateTime(d.nextAttemptAt) : "–", error: d.lastError || "–" }) : t("dPending");
    case "FAILED": return t("dFailed", { n: d.attempts, error: d.lastError || "–" });
    default: return t("dNotSent");
  }
}

function invitationList(view, m) {
  const plan = view.plan;
  if (!m.invitations.length) return null;
  return [
    h("h4", { class: "sub" }, t("invitations")),
    h("ul", { class: "items invitations", id: `invitations-${m.id}` }, m.invitations.map((inv) => {
      const p = plan.participants.find((x) => x.id === inv.participantId);
      const d = inv.delivery;
      if (!p) return null; // removed from the plan: no longer invited (see "Tidigare deltagare")
      return h("li", { "data-participant": inv.participantId },
        h("p", {}, h("strong", {}, p ? p.name : "–"), ` – ${t("invitedBy", { channel: inv.channel === "IN_PERSON" ? t("IN_PERSON_CH") : t(inv.channel), when: formatDateTime(inv.invitedAt) })}`),
        h("p", { class: `delivery delivery-${d ? d.status : "NONE"}` }, deliveryText(d, p)),
        p && m.kind !== "IN_PERSON" && JOINS_BY_LINK.includes(p.kind) && new Date(m.endsAt).getTime() > Date.now() ? linkControls(view, m, p) : null);
    })),
    h("button", { type: "button", class: "secondary small", onclick: () => checkDeliveries(view) }, t("checkDeliveries")),
  ];
}

async function checkDeliveries(view) {
  let data;
  try {
    data = await request("MeetingDeliveries", { planId: view.plan.id });
  } catch (error) {
    announce(error.message);
    return;
  }
  for (const fresh of data.plan ? data.plan.meetings : []) {
    const m = view.plan.meetings.find((x) => x.id === fresh.id);
    if (!m) continue;
    for (const inv of m.invitations) {
      const f = fresh.invitations.find((x) => x.participantId === inv.participantId);
      if (f) inv.delivery = f.delivery;
    }
  }
  render(view);
  announce(t("deliveriesChecked"));
}

// Who may be given a personal meeting link: the patient side and relatives (once chosen).
const JOINS_BY_LINK = ["PATIENT", "REPRESENTATIVE", "RELATIVE"];

function linkControls(view, m, p) {
  const key = `${m.id}:${p.id}`;
  const link = m.inviteLinks.find((l) => l.participantId === p.id);
  if (!takesPart(p)) {
    // a relative the patient has not chosen (or no longer wants): no link, and an old one is dead
    return h("p", { class: "hint link-state" }, link ? t("linkDeadNotChosen", { name: p.name }) : t("noLinkNotChosen", { name: p.name }));
  }
  const url = view.issued.get(key);
  const out = [];
  if (url) {
    const input = h("input", { id: `link-${m.id}-${p.id}`, type: "text", readonly: true, value: url, class: "link-url" });
    out.push(h("div", { class: "issued" },
      field(t("linkFor", { name: p.name }), input, t("linkOnce")),
      h("button", {
        type: "button", class: "secondary small", "aria-label": `${t("copyLink")}: ${p.name}`,
        onclick: async () => {
          try { await navigator.clipboard.writeText(url); } catch { input.select(); document.execCommand("copy"); }
          announce(t("copied"));
        },
      }, t("copyLink"))));
  }
  if (link) {
    out.push(h("p", { class: "hint link-state" }, t("linkValid", { from: formatDateTime(link.validFrom), to: formatDateTime(link.expiresAt) }),
      " ", link.lastUsedAt ? t("linkUsed", { when: formatDateTime(link.lastUsedAt) }) : t("linkUnused")));
  }
  const issue = form(`link-${m.id}-${p.id}-issue`, null, [], link ? t("newLink", { name: p.name }) : t("issueLink", { name: p.name }),
    () => issueLink(view, m, p), { className: "inline", saved: false });
  const revoke = link
    ? form(`link-${m.id}-${p.id}-revoke`, null, [], t("revokeLink", { name: p.name }), async () => {
      const problem = await mutate(view, "RevokeInviteLink", { meetingId: m.id, expectedVersion: m.version, participantId: p.id });
      if (!problem) { view.issued.delete(key); render(view); announce(t("linkRevoked")); }
      return problem;
    }, { className: "inline danger" })
    : null;
  out.push(h("div", { class: "link-actions" }, issue, revoke));
  return out;
}

async function issueLink(view, m, p) {
  view.ownChangeAt = Date.now();
  let result;
  try {
    result = (await request("IssueInviteLink", { meetingId: m.id, expectedVersion: m.version, participantId: p.id })).issueInviteLink;
  } catch (error) {
    return error.message;
  }
  if (result.code) {
    if (result.code === "VERSION_CONFLICT") { view.conflict = true; render(view); document.getElementById("conflict")?.focus(); return t("conflict"); }
    return result.message;
  }
  view.issued.set(`${m.id}:${p.id}`, result.url);
  announce(t("linkReady", { name: p.name }));
  render(view); // the link at once, with focus on it (a re-render keeps the focus there)
  document.getElementById(`link-${m.id}-${p.id}`)?.focus();
  await load(view, false);
  return null;
}

function rescheduleForm(view, m) {
  const [day, clock] = isoToStockholm(m.startsAt);
  const minutes = Math.max(15, Math.round((new Date(m.endsAt) - new Date(m.startsAt)) / 60000));
  const date = h("input", { id: `move-${m.id}-date`, type: "date", value: day, min: todayInStockholm() });
  const time = h("input", { id: `move-${m.id}-time`, type: "time", value: clock });
  const duration = h("input", { id: `move-${m.id}-len`, type: "number", min: "15", max: "240", step: "15", value: String(minutes), inputmode: "numeric" });
  return form(`move-${m.id}`, null, [h("p", { class: "hint" }, t("rescheduleHint")), field(t("date"), date), field(t("time"), time), field(t("duration"), duration)],
    t("moveMeeting"), () => {
      if (!date.value || !time.value) return t("date");
      const startsAt = stockholmToIso(date.value, time.value);
      const endsAt = new Date(new Date(startsAt).getTime() + (Number(duration.value) || 60) * 60000).toISOString();
      return mutate(view, "RescheduleMeeting", { meetingId: m.id, expectedVersion: m.version, startsAt, endsAt });
    });
}

// Who may be invited: a relative only once the patient chose them (the service refuses the rest).
function takesPart(p) {
  return p.kind !== "RELATIVE" || p.wantedByPatient === true;
}

function inviteForm(view, meeting) {
  const plan = view.plan;
  const invited = new Set(meeting.invitations.map((i) => i.participantId));
  const candidates = plan.participants.filter((p) => !invited.has(p.id) && takesPart(p));
  // a relative the patient has not decided about yet: shown, not tickable, with the reason
  const undecided = plan.participants.filter((p) => !invited.has(p.id) && p.kind === "RELATIVE" && p.wantedByPatient !== true && p.wantedByPatient !== false);
  const waiting = undecided.map((p) => {
    const box = h("input", { type: "checkbox", id: `inv-${meeting.id}-${p.id}`, value: p.id, disabled: true, "aria-describedby": `inv-${meeting.id}-${p.id}-why` });
    return h("div", { class: "check check-disabled" }, box,
      h("div", {}, h("label", { for: box.id }, `${p.name} (${t(p.kind)})`),
        h("p", { class: "hint", id: `inv-${meeting.id}-${p.id}-why` }, t("notChosenYet", { name: p.name }))));
  });
  if (!candidates.length) return [h("p", { class: "ok" }, t("everyoneInvited")), waiting.length ? h("div", { class: "not-chosen" }, waiting) : null];
  // the patient side is ticked in advance; staff, relatives and others are ticked by hand
  const boxes = candidates.map((p) => h("input", {
    type: "checkbox", id: `inv-${meeting.id}-${p.id}`, value: p.id, checked: PATIENT_SIDE.includes(p.kind),
  }));
  const channel = options(h("select", { id: `inv-${meeting.id}-channel` }),
    [["SMS", t("SMS")], ["EMAIL", t("EMAIL")], ["LETTER", t("LETTER")], ["IN_PERSON", t("IN_PERSON_CH")]]);
  return form(`inv-${meeting.id}`, null, [
    h("fieldset", {}, h("legend", {}, t("inviteWho")),
      candidates.map((p, i) => h("div", { class: "check" }, boxes[i], h("label", { for: boxes[i].id }, `${p.name} (${t(p.kind)})`))),
      waiting),
    field(t("channel"), channel),
  ], t("sendInvites"), () => {
    const ids = boxes.filter((b) => b.checked).map((b) => b.value);
    if (!ids.length) return t("inviteWho");
    return mutate(view, "InviteToMeeting", { meetingId: meeting.id, expectedVersion: meeting.version, participantIds: ids, channel: channel.value });
  });
}

export function scheduleForm(view, prefix) {
  const kind = options(h("select", { id: `${prefix}-meet-kind` }), [["VIDEO", t("VIDEO")], ["IN_PERSON", t("IN_PERSON")], ["HYBRID", t("HYBRID")]]);
  // a finalized plan's next meeting is its follow-up; before that, planning
  const purpose = options(h("select", { id: `${prefix}-meet-purpose` }), [["PLANNING", t("PLANNING")], ["FOLLOW_UP", t("FOLLOW_UP")]],
    view.plan.status === "ACTIVE" ? "FOLLOW_UP" : "PLANNING");
  const date = h("input", { id: `${prefix}-meet-date`, type: "date", value: todayInStockholm(), min: todayInStockholm() });
  const time = h("input", { id: `${prefix}-meet-time`, type: "time", value: "10:00" });
  const duration = h("input", { id: `${prefix}-meet-len`, type: "number", min: "15", max: "240", step: "15", value: "60", inputmode: "numeric" });
  const place = h("input", { id: `${prefix}-meet-place`, type: "text" });
  return form(`${prefix}-meet`, null,
    [field(t("meetingPurpose"), purpose), field(t("meetingKind"), kind), field(t("date"), date), field(t("time"), time), field(t("duration"), duration), field(t("location"), place)],
    t("schedule"), async () => {
      if (!date.value || !time.value) return t("date");
      const startsAt = stockholmToIso(date.value, time.value);
      const endsAt = new Date(new Date(startsAt).getTime() + (Number(duration.value) || 60) * 60000).toISOString();
      return mutate(view, "ScheduleMeeting", { planId: view.plan.id, input: { kind: kind.value, purpose: purpose.value, startsAt, endsAt, location: place.value.trim() } });
    });
}
