// The page's phases (loading, sign-in, start, lobby, room, ended, error), its texts, alerts and notices.
import { Problem } from '/app/lib/gql.js';
import { has, language, pickHalf, t } from './i18n.js';
import { $, LINK_CODES, NOTICE_CLEAR_MS, VIEWS, app } from './state.js';
import { local } from './devices.js';
import { renderRoom } from './room.js';

// ---------------------------------------------------------------------------------------------
// Rendering

export function setPhase(phase) {
  const before = app.phase;
  app.phase = phase;
  const view = { prejoin: 'lobby', left: 'ended', removed: 'ended', closed: 'ended' }[phase] || phase;
  for (const name of VIEWS) $(`view-${name}`).hidden = name !== view;
  const devicesHome = view === 'room' ? 'devices-home-room' : 'devices-home-lobby';
  if ($('devices').parentElement.id !== devicesHome) $(devicesHome).append($('devices'));
  renderTexts();
  if (before !== phase) {
    // Where the page changed, the reader starts: its heading.
    const heading = $(`view-${view}`).querySelector('h1');
    heading.tabIndex = -1;
    heading.focus({ preventScroll: false });
  }
}

export function renderTexts() {
  const lang = language();
  const switcher = $('language');
  switcher.textContent = t('switchLanguage');
  switcher.lang = lang === 'sv' ? 'en' : 'sv';
  $('start-title').textContent = app.me.name ? t('welcome', { name: app.me.name }) : t('welcomeNoName');
  const waiting = app.phase === 'lobby';
  $('lobby-title').textContent = t(waiting ? 'lobbyTitle' : 'prepareTitle');
  $('lobby-text').textContent = waiting ? t('waitingText') : '';
  $('lobby-hint').textContent = t(waiting ? 'waitingHint' : 'prepareText');
  $('enter').hidden = app.phase !== 'prejoin';
  $('lobby-leave').hidden = app.phase === 'prejoin'; // not in the meeting yet: nothing to leave
  const ended = { removed: 'removed', closed: 'closed' }[app.phase] || 'left';
  $('ended-title').textContent = t(`${ended}Title`);
  $('ended-text').textContent = t(`${ended}Text`);
  $('rejoin').hidden = ended === 'closed'; // nothing to join again
  if (app.problem) renderError();
  renderMediaProblem();
  renderControls();
  renderMediaState();
  renderRoom();
}

// The microphone and camera buttons say their state in words, and pressed means on (aria-pressed):
// "Mikrofonen är på" (pressed) or "Mikrofonen är av"; a press turns it the other way.
export function renderControls() {
  for (const id of ['mute', 'lobby-mute']) {
    $(id).setAttribute('aria-pressed', String(local.audioOn));
    $(id).textContent = t(local.audioOn ? 'micOnButton' : 'micOffButton');
  }
  for (const id of ['camera', 'lobby-camera']) {
    $(id).setAttribute('aria-pressed', String(local.videoOn));
    $(id).textContent = t(local.videoOn ? 'cameraOnButton' : 'cameraOffButton');
  }
}

export function renderMediaProblem() {
  const el = $('media-problem');
  el.hidden = !local.problem;
  el.textContent = local.problem ? t(local.problem) : '';
}

export function renderMediaState() {
  const el = $('media-state');
  let key = null;
  if (app.connection === 'reconnecting' || app.media === 'reconnecting') key = 'reconnecting';
  else if (app.media === 'connecting') key = 'connectingMedia';
  el.hidden = !key;
  el.textContent = key ? t(key) : '';
}

function problemText(problem) {
  const code = problem?.code || 'UNKNOWN';
  if (code === 'INVITE_NOT_YET_VALID' && problem.message) return pickHalf(problem.message);
  if (code === 'VALIDATION_ERROR') return t('err_VALIDATION_ERROR', { message: problem.message || '' });
  return has(`err_${code}`) ? t(`err_${code}`) : t('err_UNKNOWN');
}

export function showError(problem) {
  if (app.mode === 'session' && problem?.code === 'UNAUTHENTICATED') {
    // The sign-in ran out: sign in again, and come back here.
    $('signin-link').href = `/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`;
    setPhase('signin');
    return;
  }
  app.problem = problem instanceof Problem ? problem : new Problem('UNKNOWN', String(problem));
  if (!(problem instanceof Problem)) console.error(problem);
  setPhase('error');
}

function renderError() {
  const code = app.problem.code;
  const early = code === 'INVITE_NOT_YET_VALID';
  $('error-title').textContent = t(early ? 'notYetTitle' : LINK_CODES.has(code) ? 'linkProblemTitle' : 'errorTitle');
  $('error-text').textContent = problemText(app.problem);
  // Trying again helps with the network (or later, with an early link), not with a link that no longer works.
  $('error-retry').hidden = (LINK_CODES.has(code) && !early) || code === 'MEETING_MISSING' || code === 'NO_WEBRTC';
}

let alertTimer = null;
export function showAlert(problem) {
  const el = $('alert');
  el.textContent = problemText(problem);
  el.hidden = false;
  clearTimeout(alertTimer);
  alertTimer = setTimeout(() => {
    el.hidden = true;
  }, NOTICE_CLEAR_MS);
}

let noticeTimer = null;
/** Say it in the live region: shown in the notice bar, or (`quietly`, when the page already shows
 * it) only to screen readers. */
export function announce(text, quietly = false) {
  if (quietly) {
    const sr = $('sr-status');
    sr.textContent = '';
    requestAnimationFrame(() => {
      sr.textContent = text;
    });
    return;
  }
  const el = $('notice');
  el.textContent = '';
  // A new text node in the live region is read even when it says the same as before.
  requestAnimationFrame(() => {
    el.textContent = text;
  });
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    el.textContent = '';
  }, NOTICE_CLEAR_MS);
}

export function kindLabel(kind) {
  return kind && has(`kind_${kind}`) ? t(`kind_${kind}`) : '';
}
