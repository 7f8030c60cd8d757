// Texts in Swedish (default) and English. Plain words, short sentences.

const STORE_KEY = 'sipVideoLanguage';

const TEXTS = {
  sv: {
    title: 'Videomöte – SIP',
    brand: 'Videomöte',
    skip: 'Hoppa till innehållet',
    switchLanguage: 'In English',
    loading: 'Laddar …',
    // start (guest)
    welcome: 'Välkommen, {name}',
    welcomeNoName: 'Välkommen',
    startIntro: 'Du är inbjuden till ett videomöte om din samordnade plan.',
    startHint: 'När du trycker på knappen startar kameran och mikrofonen. Om telefonen frågar, svara Tillåt.',
    joinButton: 'Gå med',
    joining: 'Ansluter …',
    // sign in (staff, citizens)
    signInTitle: 'Logga in för att gå med',
    signInText: 'Du behöver logga in för att gå med i mötet.',
    signInButton: 'Logga in',
    // lobby
    lobbyTitle: 'Väntrum',
    prepareTitle: 'Gör dig redo för mötet',
    waitingText: 'Du väntar på att personalen släpper in dig.',
    waitingHint: 'Du kan vänta här. Mötet börjar av sig själv när du blir insläppt.',
    prepareText: 'Kontrollera att du syns och hörs. Gå sedan in i mötet.',
    enterButton: 'Gå in i mötet',
    selfView: 'Så här syns du',
    micLevel: 'Ljud från din mikrofon',
    hearYou: 'Vi hör dig.',
    hearNothing: 'Säg något för att prova mikrofonen.',
    meterPaused: 'Klicka eller tryck någonstans på sidan för att prova mikrofonen.',
    noMicrophone: 'Ingen mikrofon är igång.',
    devices: 'Kamera och mikrofon',
    camera: 'Kamera',
    microphone: 'Mikrofon',
    deviceDefault: 'Standard',
    cameraN: 'Kamera {n}',
    cameraFront: 'Kameran på framsidan',
    cameraBack: 'Kameran på baksidan',
    troubleTitle: 'Problem med ljud eller bild?',
    troubleText: 'Välj en annan kamera eller mikrofon här. Hjälper inte det: stäng andra appar som använder dem och ladda om sidan.',
    microphoneN: 'Mikrofon {n}',
    noCameraDevice: 'Ingen kamera',
    mediaDenied:
      'Du har inte gett tillgång till kameran och mikrofonen. Tillåt dem i webbläsarens inställningar och ladda om sidan.',
    mediaMissing: 'Vi hittade ingen kamera eller mikrofon. Du kan ändå vara med.',
    mediaFailed: 'Kameran eller mikrofonen gick inte att starta. Stäng andra appar som använder dem och försök igen.',
    mediaInsecure: 'Kameran och mikrofonen fungerar bara på en säker anslutning (https).',
    noCameraShown: 'Ingen bild från kameran',
    // room
    roomTitle: 'Mötet',
    participants: 'Deltagare',
    you: 'Du',
    youSuffix: '{name} (du)',
    waitingListTitle: 'Väntar på att komma in',
    nobodyWaiting: 'Ingen väntar på att komma in.',
    admit: 'Släpp in',
    remove: 'Ta bort',
    confirmRemove: 'Vill du ta bort {name} från mötet?',
    soundOn: 'Tryck här för att höra de andra',
    micOnButton: 'Mikrofonen är på',
    micOffButton: 'Mikrofonen är av',
    cameraOnButton: 'Kameran är på',
    cameraOffButton: 'Kameran är av',
    leave: 'Lämna mötet',
    micIsOff: 'Mikrofonen är av',
    cameraIsOff: 'Kameran är av',
    speaking: 'Pratar',
    connectingMedia: 'Kopplar upp ljud och bild …',
    noMediaYet: 'Väntar på bild',
    alone: 'Ingen annan är i mötet ännu.',
    // kinds
    kind_PATIENT: 'Patient',
    kind_STAFF: 'Personal',
    kind_RELATIVE: 'Närstående',
    kind_REPRESENTATIVE: 'Företrädare',
    kind_EXTERNAL: 'Extern',
    // announcements
    someoneWaiting: '{name} väntar på att komma in.',
    someoneAdmitted: '{name} är insläppt.',
    youAdmitted: 'Du är insläppt. Mötet börjar.',
    someoneJoined: '{name} kom in i mötet.',
    someoneLeft: '{name} lämnade mötet.',
    someoneRemoved: '{name} togs bort från mötet.',
    reconnecting: 'Återansluter …',
    reconnected: 'Anslutningen fungerar igen.',
    connected: 'Du är med i mötet.',
    offline: 'Ingen internetanslutning. Vi försöker igen.',
    // ended
    leftTitle: 'Du har lämnat mötet',
    leftText: 'Tack för att du var med.',
    removedTitle: 'Du är inte längre med i mötet',
    removedText: 'Personalen har tagit bort dig från mötet. Kontakta dem om det blev fel.',
    rejoin: 'Gå med igen',
    // errors
    errorTitle: 'Det gick inte',
    linkProblemTitle: 'Länken fungerar inte',
    notYetTitle: 'Det är inte dags för mötet än',
    tryAgain: 'Försök igen',
    err_LINK_MISSING: 'Länken är inte hel. Öppna länken i meddelandet igen, eller be personalen om en ny länk.',
    err_MEETING_MISSING: 'Länken saknar mötet. Öppna mötet från planen igen.',
    err_INVITE_UNKNOWN: 'Länken är inte giltig. Be personalen om en ny länk.',
    err_INVITE_REVOKED: 'Länken gäller inte längre. Be personalen om en ny länk.',
    err_INVITE_EXPIRED: 'Länken gäller inte längre, mötet är slut. Be personalen om en ny länk om du behöver.',
    err_MEETING_CANCELLED: 'Mötet är inställt.',
    err_PLAN_CLOSED: 'Planen är avslutad. Mötet blir inte av.',
    err_RATE_LIMITED: 'För många försök. Vänta en minut och försök igen.',
    err_NOT_FOUND: 'Vi hittar inte mötet, eller så är du inte inbjuden till det.',
    err_FORBIDDEN: 'Du får inte göra det här.',
    err_VALIDATION_ERROR: 'Det gick inte: {message}',
    err_UNAUTHENTICATED: 'Du är inte inloggad längre. Logga in igen.',
    err_NETWORK: 'Vi når inte tjänsten. Kontrollera internetanslutningen och försök igen.',
    err_UNKNOWN: 'Något gick fel. Försök igen om en stund.',
    err_NO_WEBRTC: 'Den här webbläsaren kan inte visa videomöten. Prova en nyare webbläsare, till exempel Chrome, Safari eller Firefox.',
  },
  en: {
    title: 'Video meeting – SIP',
    brand: 'Video meeting',
    skip: 'Skip to content',
    switchLanguage: 'På svenska',
    loading: 'Loading …',
    welcome: 'Welcome, {name}',
    welcomeNoName: 'Welcome',
    startIntro: 'You are invited to a video meeting about your coordinated plan.',
    startHint: 'When you press the button, the camera and microphone start. If your phone asks, answer Allow.',
    joinButton: 'Join',
    joining: 'Connecting …',
    signInTitle: 'Sign in to join',
    signInText: 'You need to sign in to join the meeting.',
    signInButton: 'Sign in',
    lobbyTitle: 'Waiting room',
    prepareTitle: 'Get ready for the meeting',
    waitingText: 'You are waiting for the staff to let you in.',
    waitingHint: 'You can wait here. The meeting starts by itself when you are let in.',
    prepareText: 'Check that you can be seen and heard. Then enter the meeting.',
    enterButton: 'Enter the meeting',
    selfView: 'This is how you look',
    micLevel: 'Sound from your microphone',
    hearYou: 'We can hear you.',
    hearNothing: 'Say something to test the microphone.',
    meterPaused: 'Click or tap anywhere on the page to test the microphone.',
    noMicrophone: 'No microphone is on.',
    devices: 'Camera and microphone',
    camera: 'Camera',
    microphone: 'Microphone',
    deviceDefault: 'Default',
    cameraN: 'Camera {n}',
    cameraFront: 'Front camera',
    cameraBack: 'Back camera',
    troubleTitle: 'Problems with sound or picture?',
    troubleText: 'Choose another camera or microphone here. If that does not help, close other apps that use them and reload the page.',
    microphoneN: 'Microphone {n}',
    noCameraDevice: 'No camera',
    mediaDenied:
      'You have not allowed the camera and microphone. Allow them in the browser settings and reload the page.',
    mediaMissing: 'We found no camera or microphone. You can still take part.',
    mediaFailed: 'The camera or microphone could not start. Close other apps that use them and try again.',
    mediaInsecure: 'The camera and microphone only work over a secure connection (https).',
    noCameraShown: 'No picture from the camera',
    roomTitle: 'The meeting',
    participants: 'Participants',
    you: 'You',
    youSuffix: '{name} (you)',
    waitingListTitle: 'Waiting to come in',
    nobodyWaiting: 'Nobody is waiting to come in.',
    admit: 'Let in',
    remove: 'Remove',
    confirmRemove: 'Do you want to remove {name} from the meeting?',
    soundOn: 'Tap here to hear the others',
    micOnButton: 'Microphone is on',
    micOffButton: 'Microphone is off',
    cameraOnButton: 'Camera is on',
    cameraOffButton: 'Camera is off',
    leave: 'Leave',
    micIsOff: 'Microphone is off',
    cameraIsOff: 'Camera is off',
    speaking: 'Speaking',
    connectingMedia: 'Connecting sound and picture …',
    noMediaYet: 'Waiting for picture',
    alone: 'Nobody else is in the meeting yet.',
    kind_PATIENT: 'Patient',
    kind_STAFF: 'Staff',
    kind_RELATIVE: 'Relative',
    kind_REPRESENTATIVE: 'Representative',
    kind_EXTERNAL: 'External',
    someoneWaiting: '{name} is waiting to come in.',
    someoneAdmitted: '{name} has been let in.',
    youAdmitted: 'You have been let in. The meeting starts.',
    someoneJoined: '{name} came into the meeting.',
    someoneLeft: '{name} left the meeting.',
    someoneRemoved: '{name} was removed from the meeting.',
    reconnecting: 'Reconnecting …',
    reconnected: 'The connection works again.',
    connected: 'You are in the meeting.',
    offline: 'No internet connection. We keep trying.',
    leftTitle: 'You have left the meeting',
    leftText: 'Thank you for taking part.',
    removedTitle: 'You are no longer in the meeting',
    removedText: 'The staff removed you from the meeting. Contact them if this was a mistake.',
    rejoin: 'Join again',
    errorTitle: 'That did not work',
    linkProblemTitle: 'The link does not work',
    notYetTitle: 'It is not time for the meeting yet',
    tryAgain: 'Try again',
    err_LINK_MISSING: 'The link is incomplete. Open the link in the message again, or ask the staff for a new link.',
    err_MEETING_MISSING: 'The link does not say which meeting. Open the meeting from the plan again.',
    err_INVITE_UNKNOWN: 'The link is not valid. Ask the staff for a new link.',
    err_INVITE_REVOKED: 'The link no longer works. Ask the staff for a new link.',
    err_INVITE_EXPIRED: 'The link no longer works, the meeting is over. Ask the staff for a new link if you need one.',
    err_MEETING_CANCELLED: 'The meeting has been cancelled.',
    err_PLAN_CLOSED: 'The plan has been closed. The meeting will not take place.',
    err_RATE_LIMITED: 'Too many attempts. Wait a minute and try again.',
    err_NOT_FOUND: 'We cannot find the meeting, or you are not invited to it.',
    err_FORBIDDEN: 'You are not allowed to do this.',
    err_VALIDATION_ERROR: 'That did not work: {message}',
    err_UNAUTHENTICATED: 'You are no longer signed in. Please sign in again.',
    err_NETWORK: 'We cannot reach the service. Check the internet connection and try again.',
    err_UNKNOWN: 'Something went wrong. Try again in a while.',
    err_NO_WEBRTC: 'This browser cannot show video meetings. Try a newer browser, such as Chrome, Safari or Firefox.',
  },
};

function stored() {
  try {
    return localStorage.getItem(STORE_KEY);
  } catch {
    return null; // storage off (private mode on some phones): Swedish
  }
}

let current = stored() === 'en' ? 'en' : 'sv';

export function language() {
  return current;
}

export function setLanguage(lang) {
  current = lang === 'en' ? 'en' : 'sv';
  try {
    localStorage.setItem(STORE_KEY, current);
  } catch {
    // not remembered; fine
  }
}

export function has(key) {
  return Object.hasOwn(TEXTS[current], key);
}

/** The text for `key`, with {placeholders} filled in. */
export function t(key, values = {}) {
  const text = TEXTS[current][key] ?? TEXTS.sv[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

/** A server message written "svenska / English": the half in the current language. */
export function pickHalf(message) {
  const parts = String(message || '').split(' / ');
  if (parts.length !== 2) return String(message || '');
  return current === 'en' ? parts[1] : parts[0];
}

/** Fill every [data-i18n] element's text (and [data-i18n-label] aria-labels). */
export function translatePage(root = document) {
  document.documentElement.lang = current;
  document.title = t('title');
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
}
