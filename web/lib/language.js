// The language the person chose, Swedish unless they asked for English: ONE stored choice for every
// page of the service (the plan app and the video page), so a choice made in one holds in the other.
const KEY = "sip.language";
// Keys used before the apps shared this module (the video page had its own); read once, then gone.
const OLD_KEYS = ["sipVideoLanguage"];

function stored() {
  try {
    let value = localStorage.getItem(KEY);
    if (value === null) {
      for (const old of OLD_KEYS) {
        const before = localStorage.getItem(old);
        if (before !== null && value === null) value = before;
      }
      if (value !== null) localStorage.setItem(KEY, value === "en" ? "en" : "sv");
    }
    for (const old of OLD_KEYS) localStorage.removeItem(old);
    return value;
  } catch {
    return null; // storage off (private mode on some phones): Swedish, not remembered
  }
}

let current = stored() === "en" ? "en" : "sv";
document.documentElement.lang = current;

/** "sv" or "en". */
export function language() {
  return current;
}

/** Choose and remember the language (anything but "en" is Swedish). */
export function setLanguage(value) {
  current = value === "en" ? "en" : "sv";
  document.documentElement.lang = current;
  try {
    localStorage.setItem(KEY, current);
  } catch {
    // not remembered; fine
  }
}
