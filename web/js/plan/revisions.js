// Revisions: the plan's versions and what changed between them.
import { h } from "../../lib/dom.js";
import { t, formatDate, formatDateTime } from "../i18n.js";

// ---- revisions -----------------------------------------------------------------------------

export function revisionList(view) {
  const revisions = [...view.plan.revisions].sort((a, b) => a.number - b.number);
  if (!revisions.length) return h("p", {}, t("noRevisions"));
  return h("ol", { class: "items", id: "revision-list" }, revisions.map((r, i) =>
    h("li", {},
      h("p", {}, h("strong", {}, t("revisionLine", { n: r.number, when: formatDateTime(r.finalizedAt), who: r.finalizedBy ? r.finalizedBy.name : "–" }))),
      h("ul", { class: "changes" }, changes(i ? revisions[i - 1].snapshot : null, r.snapshot).map((c) => h("li", {}, c))))).reverse());
}

function changes(before, after) {
  if (!before) return [t("firstVersion")];
  const out = [];
  if (before.background !== after.background) out.push(t("chBackground"));
  if (before.followUpDate !== after.followUpDate) out.push(t("chFollowUp", { a: formatDate(before.followUpDate) || "–", b: formatDate(after.followUpDate) || "–" }));
  if (before.overallResponsibility !== after.overallResponsibility) out.push(t("chOverall", { a: before.overallResponsibility || "–", b: after.overallResponsibility || "–" }));
  const diff = (list, key, label) => {
    const a = new Map((before[list] || []).map((x) => [x.id, x[key]]));
    const b = new Map((after[list] || []).map((x) => [x.id, x[key]]));
    for (const [id, v] of b) {
      if (!a.has(id)) out.push(t("chAdded", { what: `${label}: ${v}` }));
      else if (a.get(id) !== v) out.push(t("chChanged", { what: `${label}: ”${a.get(id)}” → ”${v}”` }));
    }
    for (const [id, v] of a) if (!b.has(id)) out.push(t("chRemoved", { what: `${label}: ${v}` }));
  };
  diff("goals", "text", t("theGoals"));
  diff("actions", "description", t("actions").split(" –")[0]);
  diff("participants", "name", t("participants"));
  return out.length ? out : [t("noChanges")];
}
