// Participants: who takes part, their contact details and state; adding staff and relatives; removing.
import { h, field, options, announce } from "../../lib/dom.js";
import { request } from "../../lib/gql.js";
import { t, formatDate, formatDateTime, isoToStockholm } from "../i18n.js";
import { askButton, confirmPanel, currentMeeting, editable, form, mutate, organisations, planVars, restoredValue } from "./common.js";
import { telLink } from "./citizen.js";

// ---- participants --------------------------------------------------------------------------

function participantState(view, p) {
  const meeting = currentMeeting(view.plan);
  const bits = [];
  if (p.kind === "RELATIVE") {
    bits.push(p.wantedByPatient === true ? t("wanted") : p.wantedByPatient === false ? t("notWanted") : t("notDecided"));
  }
  if (meeting) {
    const inv = meeting.invitations.find((i) => i.participantId === p.id);
    const channel = inv ? (inv.channel === "IN_PERSON" ? t("IN_PERSON_CH") : t(inv.channel)) : "";
    bits.push(inv ? t("invitedTo", { when: formatDateTime(inv.invitedAt), channel }) : t("notInvited"));
    const att = meeting.attendances.find((a) => a.participantId === p.id);
    if (att) bits.push(t("attended", { how: att.method === "MEDIA" ? t("MEDIA") : t("ATTESTED", { name: att.attestedBy ? att.attestedBy.name : "" }) }));
  }
  return bits.join(" · ");
}

export function participantList(view) {
  const plan = view.plan;
  return h("ul", { class: "items", id: "participant-list" }, plan.participants.map((p) =>
    h("li", {},
      h("p", {}, h("strong", {}, p.name), ` – ${t(p.kind)}`,
        p.organisation ? `, ${p.organisation.name}` : "",
        p.staffMember && p.staffMember.title ? `, ${p.staffMember.title}` : "",
        p.isCoordinator ? ` (${t("coordinator")})` : ""),
      contactLine(p),
      h("p", { class: "hint" }, participantState(view, p)),
      awaitsConsent(plan, p) ? h("p", { class: "note awaiting-consent", role: "note" }, awaitingConsentText(p)) : null,
      removable(view, p) ? (view.confirming === `part-${p.id}`
        ? confirmPanel(view, `part-${p.id}`, t(p.kind === "STAFF" ? "removeStaffQ" : "removePartQ", { name: p.name }), t("yesRemove"),
          () => mutate(view, "RemoveParticipant", { participantId: p.id, expectedVersion: view.plan.version }), "h-participants")
        : askButton(view, `part-${p.id}`, t("remove"), `${t("remove")}: ${p.name}`)) : null)));
}

// How to reach a participant: a staff member's work phone and e-mail, a citizen's own (none is
// given for someone with a protected identity outside their own care: the service leaves it out).
function contactLine(p) {
  const who = p.staffMember || p.citizen;
  const phone = who ? who.phone : null;
  const email = who ? who.email : null;
  if (!phone && !email) return null;
  return h("p", { class: "contact-line" },
    phone ? telLink(phone, false) : null,
    phone && email ? " · " : null,
    email ? h("a", { href: `mailto:${email}` }, email) : null);
}

// Staff of an organisation the patient's consent does not cover yet cannot see the plan (the
// service answers "not found" to them) and are sent no invitation until it does: say so.
export function awaitsConsent(plan, p) {
  return p.kind === "STAFF" && p.organisation && (plan.organisationsAwaitingConsent || []).includes(p.organisation.id);
}
function awaitingConsentText(p) {
  return t("awaitingConsent", { name: p.name, org: p.organisation.name });
}

// Those removed from the plan: what they did stays in its history.
export function removedList(view) {
  const removed = view.plan.removedParticipants || [];
  if (!removed.length) return null;
  return h("div", { class: "removed" },
    h("h3", {}, t("formerParticipants")),
    h("ul", { class: "items removed-list", id: "removed-participants" }, removed.map((p) => h("li", {},
      h("p", {}, h("strong", {}, p.name), ` – ${t(p.kind)}`, p.role ? `, ${p.role}` : ""),
      h("p", { class: "hint" }, p.removedBy
        ? t("removedByOn", { when: formatDate(isoToStockholm(p.removedAt)[0]), who: p.removedBy.name })
        : t("removedOn", { when: formatDate(isoToStockholm(p.removedAt)[0]) }))))));
}

function removable(view, p) {
  const plan = view.plan;
  if (!view.staff || !editable(plan) || p.kind === "PATIENT") return false;
  return !(p.isCoordinator && plan.participants.filter((x) => x.isCoordinator).length === 1);
}

export function staffForm(view, prefix) {
  const org = h("select", { id: `${prefix}-staff-org` });
  const person = h("select", { id: `${prefix}-staff-person`, disabled: true }, h("option", { value: "" }, t("chooseFirst")));
  const role = h("input", { id: `${prefix}-staff-role`, type: "text" });
  const fill = async () => {
    person.replaceChildren();
    if (!org.value) { person.disabled = true; person.append(h("option", { value: "" }, t("chooseFirst"))); return; }
    const staff = (await request("StaffMembers", { organisationId: org.value })).staffMembers;
    const present = new Set(view.plan.participants.filter((p) => p.staffMember).map((p) => p.staffMember.id));
    options(person, staff.filter((s) => !present.has(s.id)).map((s) => [s.id, `${s.name}, ${s.title}`]));
    person.disabled = false;
  };
  org.addEventListener("change", fill);
  organisations().then((data) => {
    options(org, [["", t("chooseOrg")], ...data.organisations.map((o) => [o.id, o.name])]);
    const wanted = restoredValue(org.id);
    if (wanted) { org.value = wanted; fill().then(() => { const p = restoredValue(person.id); if (p) person.value = p; }); }
  });
  return form(`${prefix}-staff`, null, [field(t("organisation"), org), field(t("staffMember"), person), field(t("role"), role)], t("add"), async () => {
    if (!person.value) return t("chooseOrg");
    const staffMemberId = person.value;
    const error = await mutate(view, "AddParticipant", planVars(view, { input: { kind: "STAFF", staffMemberId, role: role.value.trim() } }));
    const added = !error && view.plan.participants.find((p) => p.staffMember && p.staffMember.id === staffMemberId);
    if (added && awaitsConsent(view.plan, added)) announce(awaitingConsentText(added));
    return error;
  });
}

export function relativeForm(view, prefix) {
  const name = h("input", { id: `${prefix}-rel-name`, type: "text", autocomplete: "off" });
  const pnr = h("input", { id: `${prefix}-rel-pnr`, type: "text", inputmode: "numeric", autocomplete: "off" });
  const phone = h("input", { id: `${prefix}-rel-phone`, type: "tel", autocomplete: "off" });
  const email = h("input", { id: `${prefix}-rel-email`, type: "email", autocomplete: "off" });
  return form(`${prefix}-relative`, null, [field(t("name"), name), field(t("personalNumber"), pnr), field(t("phone"), phone), field(t("email"), email)], t("addRelative"), async () => {
    const newCitizen = { name: name.value.trim(), personalNumber: pnr.value.replace(/\D/g, "") };
    if (phone.value.trim()) newCitizen.phone = phone.value.trim();
    if (email.value.trim()) newCitizen.email = email.value.trim();
    return mutate(view, "AddParticipant", planVars(view, { input: { kind: "RELATIVE", newCitizen } }));
  });
}
