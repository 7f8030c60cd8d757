// The video meeting page: a guest's invite link (/join#t=…) or a signed-in person's meeting
// (/video/?m=<meeting id>) → lobby with a device check → the room. See video/README.md.

import { GraphQLSocket, Problem, isProblem, loadOperations, signedIn, socketUrl } from '/app/lib/gql.js';
import { h } from '/app/lib/dom.js';
import { exchangeInvite } from './invite.js';
import { has, language, pickHalf, setLanguage, t, translatePage } from './i18n.js';
import { Level, LocalMedia, MediaSession, sharedAudioContext, unlockAudio } from './media.js';

const MEDIA_SERVER = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INVITE_KEY = 'sipVideoInvite';
const TOKEN_MARGIN_MS = 60_000;
const SPEAKING_LEVEL = 0.08;
const SPEAKER_HOLD_MS = 800;
const NOTICE_CLEAR_MS = 20_000;
// Refusals of the link itself: trying again does not help.
const LINK_CODES = new Set(['INVITE_UNKNOWN', 'INVITE_REVOKED', 'INVITE_EXPIRED', 'INVITE_NOT_YET_VALID',
  'MEETING_CANCELLED', 'PLAN_CLOSED', 'LINK_MISSING']);
const VIEWS = ['loading', 'error', 'signin', 'start', 'lobby', 'room', 'ended'];

const $ = (id) => document.getElementById(id);

const app = {
  mode: null, // 'guest' (invite link) or 'session' (signed in)
  phase: 'loading', // loading | error | signin | start | prejoin | lobby | room | left | removed
  meetingId: null,
  me: { participantId: null, name: '' },
  isStaff: false,
  presence: 'AWAY',
  joined: false, // asked to join: a reconnect joins again
  leaving: false,
  media: 'idle', // idle | connecting | connected | reconnecting
  connection: 'ok', // the websocket: ok | reconnecting
  roster: new Map(), // participantId → {participantId, name, kind, role, state, audio, video}
  tracks: [], // the latest MEDIA_TRACKS
  remote: new Map(), // participantId → {audio, video}
  invite: null, // the invite token (guests), kept to renew the short-lived meeting token
  meetingToken: null,
  meetingTokenExpires: 0,
  csrf: null,
  problem: null, // what the error view shows
  socket: null,
  retries: 0,
  retryTimer: null,
};

const local = new LocalMedia((kind, track) => {
  session?.replaceLocal(kind, track);
  if (kind === 'audio') localLevel = newLevel(localLevel, track);
  showLocal();
});
let session = null; // MediaSession while in the room
let localLevel = null;
let heardAt = 0;
let speaker = { id: null, since: 0 };
const tiles = new Map(); // participantId → tile parts

// ---------------------------------------------------------------------------------------------
// Start

function boot() {
  exposeDebugHook();
  wire();
  translatePage();
  renderTexts();
  if (!window.RTCPeerConnection || !window.WebSocket || !window.Promise) {
    showError(new Problem('NO_WEBRTC'));
    return;
  }
  const fragment = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  const operations = loadOperations();
  operations.catch(() => {}); // said below, where it is needed
  if (fragment.get('t') || query.get('m') === null) guestStart(fragment.get('t'), operations);
  else sessionStart(query.get('m'), operations);
}

async function guestStart(fromLink, operations) {
  app.mode = 'guest';
  app.invite = fromLink || readInvite();
  if (!app.invite) {
    showError(new Problem('LINK_MISSING'));
    return;
  }
  storeInvite(app.invite);
  // The token leaves the address bar (and history); a reload in this tab finds it again.
  history.replaceState(null, '', location.pathname + location.search);
  try {
    const guest = await renewMeetingToken();
    await operations;
    app.meetingId = guest.meetingId;
    app.me = { participantId: guest.participantId, name: guest.name };
  } catch (problem) {
    showError(problem);
    return;
  }
  setPhase('start');
}

async function sessionStart(meetingId, operations) {
  app.mode = 'session';
  if (!UUID.test(meetingId || '')) {
    showError(new Problem('MEETING_MISSING'));
    return;
  }
  app.meetingId = meetingId;
  try {
    const me = await signedIn();
    if (!me) {
      $('signin-link').href = `/auth/login?next=${encodeURIComponent(location.pathname + location.search)}`;
      setPhase('signin');
      return;
    }
    app.csrf = me.csrfToken;
    app.me.name = me.name;
    app.isStaff = me.kind === 'staff';
    await operations;
    await connect();
  } catch (problem) {
    showError(problem);
    return;
  }
  setPhase(app.presence === 'WAITING' ? 'lobby' : 'prejoin');
  startLocal();
}

async function onJoinTap() {
  unlockAudio(); // within the tap: sound may play from now on (Safari)
  const button = $('join');
  button.disabled = true;
  button.textContent = t('joining');
  startLocal(); // the permission question comes now, while the person is looking
  try {
    await connect();
    await join();
  } catch (problem) {
    showError(problem);
  } finally {
    button.disabled = false;
    button.textContent = t('joinButton');
  }
}

async function onEnterTap() {
  unlockAudio();
  const button = $('enter');
  button.disabled = true;
  try {
    await join();
  } catch (problem) {
    showAlert(problem);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Signing in and the event stream

function readInvite() {
  try {
    return sessionStorage.getItem(INVITE_KEY);
  } catch {
    return null;
  }
}

function storeInvite(token) {
  try {
    sessionStorage.setItem(INVITE_KEY, token);
  } catch {
    // a reload will need the link again
  }
}

async function renewMeetingToken() {
  const guest = await exchangeInvite(app.invite);
  app.meetingToken = guest.meetingToken;
  app.meetingTokenExpires = Date.parse(guest.expiresAt) || Date.now() + 5 * 60_000;
  return guest;
}

async function connectionParams() {
  if (app.mode === 'session') return { csrf: app.csrf };
  if (!app.meetingToken || app.meetingTokenExpires - Date.now() < TOKEN_MARGIN_MS) await renewMeetingToken();
  return { authorization: `Bearer ${app.meetingToken}` };
}

/** Open the websocket, subscribe to the meeting's events, and wait for SUBSCRIBED. */
async function connect() {
  let socket;
  try {
    socket = new GraphQLSocket(socketUrl(), await connectionParams(), () => connectionLost(socket));
    await socket.connect();
  } catch (problem) {
    if (problem.code !== 'UNAUTHENTICATED' || app.mode !== 'guest') throw problem;
    await renewMeetingToken(); // the meeting token ran out: once more with a new one
    socket = new GraphQLSocket(socketUrl(), await connectionParams(), () => connectionLost(socket));
    await socket.connect();
  }
  app.socket = socket;
  await new Promise((resolve, reject) => {
    let subscribed = false;
    socket.subscribe(
      'MeetingEvents',
      { meetingId: app.meetingId },
      (event) => {
        if (event.kind === 'SUBSCRIBED') {
          subscribed = true;
          app.me.participantId = event.fromParticipantId;
          app.me.name = event.fromName || app.me.name;
          app.presence = event.state || 'AWAY';
          resolve();
        } else {
          onEvent(event);
        }
      },
      (problem) => {
        if (!subscribed) {
          socket.close();
          reject(problem || new Problem('NETWORK'));
        } else if (app.socket === socket) {
          connectionLost(socket);
        }
      },
    );
  });
}

async function request(name, variables) {
  if (!app.socket) throw new Problem('NETWORK');
  const result = await app.socket.request(name, { meetingId: app.meetingId, ...variables });
  if (isProblem(result)) throw new Problem(result.code, result.message, result);
  return result;
}

async function join() {
  const presence = await request('JoinMeeting');
  app.joined = true;
  app.me.participantId = presence.participantId;
  setPresence(presence.state);
}

/** The websocket broke (or the stream ended): tidy up, then connect and join again. */
function connectionLost(socket) {
  if (socket !== app.socket || app.leaving || ['left', 'removed', 'error'].includes(app.phase)) return;
  app.socket = null;
  socket.close();
  stopMedia();
  app.connection = 'reconnecting';
  renderMediaState();
  announce(navigator.onLine === false ? t('offline') : t('reconnecting'), app.phase === 'room');
  scheduleReconnect();
}

function scheduleReconnect() {
  clearTimeout(app.retryTimer);
  const delay = Math.min(15_000, 1000 * 2 ** app.retries);
  app.retries += 1;
  app.retryTimer = setTimeout(reconnect, delay);
}

async function reconnect() {
  if (app.socket || app.leaving) return;
  try {
    await connect();
    if (app.joined) await join();
    else if (app.presence === 'IN_ROOM') setPresence('IN_ROOM');
    app.retries = 0;
    app.connection = 'ok';
    renderMediaState();
    announce(t('reconnected'));
  } catch (problem) {
    app.socket?.close();
    app.socket = null;
    if (LINK_CODES.has(problem.code) || ['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED'].includes(problem.code)) {
      stopEverything();
      showError(problem);
    } else {
      scheduleReconnect();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Meeting events

function onEvent(e) {
  const me = app.me.participantId;
  const from = e.fromParticipantId;
  const to = e.toParticipantId;
  switch (e.kind) {
    case 'WAITING':
      if (from === me) {
        setPresence('WAITING');
      } else {
        const before = app.roster.get(from)?.state;
        upsert(from, { name: e.fromName, state: 'WAITING' });
        if (before !== 'WAITING' && app.isStaff) announce(t('someoneWaiting', { name: e.fromName }));
        refreshRosterSoon(); // who they are (patient, relative …) comes with the room's list
      }
      break;
    case 'ADMITTED':
      if (to === me) {
        announce(t('youAdmitted'));
        setPresence('IN_ROOM');
      } else {
        upsert(to, { name: e.toName, state: 'IN_ROOM' });
        announce(t('someoneAdmitted', { name: e.toName || '' }));
      }
      break;
    case 'JOINED':
      if (from === me) {
        setPresence('IN_ROOM');
      } else {
        const before = app.roster.get(from)?.state;
        upsert(from, { name: e.fromName, state: 'IN_ROOM' });
        if (before !== 'IN_ROOM') announce(t('someoneJoined', { name: e.fromName }));
        refreshRosterSoon();
      }
      break;
    case 'LEFT':
      if (from === me) {
        // Another tab of ours closed, or our old stream ended after a reconnect: still here.
        if (app.joined && !app.leaving) rejoinSoon();
      } else if (app.roster.delete(from)) {
        announce(t('someoneLeft', { name: e.fromName }));
        renderRoom();
      }
      break;
    case 'REMOVED':
      if (to === me) {
        removed();
      } else if (app.roster.delete(to)) {
        announce(t('someoneRemoved', { name: e.toName || '' }));
        renderRoom();
      }
      break;
    case 'MEDIA_TRACKS':
      onMediaTracks(e.payload);
      break;
    case 'OFFER':
      if (from === MEDIA_SERVER || from === session?.mediaServerId) session?.handleOffer(e.payload);
      break;
    case 'ICE_CANDIDATE':
      if (from === MEDIA_SERVER || from === session?.mediaServerId) session?.handleCandidate(e.payload);
      break;
    case 'MUTE_STATE':
      onMuteState(from, e.payload);
      break;
    default:
      break;
  }
}

let rejoinTimer = null;
function rejoinSoon() {
  clearTimeout(rejoinTimer);
  rejoinTimer = setTimeout(() => join().catch(() => {}), 1000);
}

function upsert(participantId, fields) {
  if (!participantId) return;
  const old = app.roster.get(participantId) || { participantId, kind: '', role: '', audio: true, video: true };
  const merged = { ...old };
  for (const [key, value] of Object.entries(fields)) if (value !== undefined && value !== null) merged[key] = value;
  app.roster.set(participantId, merged);
  renderRoom();
}

function onMediaTracks(payload) {
  let tracks = [];
  try {
    tracks = JSON.parse(payload || '[]');
  } catch {
    return;
  }
  if (!Array.isArray(tracks)) return;
  app.tracks = tracks;
  session?.setTracks(tracks);
  for (const track of tracks) {
    const known = app.roster.get(track.participantId);
    upsert(track.participantId, {
      name: track.name,
      kind: track.kind,
      role: track.role,
      state: known?.state || 'IN_ROOM',
    });
  }
}

function onMuteState(from, payload) {
  let state;
  try {
    state = JSON.parse(payload || '{}');
  } catch {
    return;
  }
  if (!from || from === app.me.participantId || !app.roster.has(from)) return;
  upsert(from, {
    audio: typeof state.audio === 'boolean' ? state.audio : undefined,
    video: typeof state.video === 'boolean' ? state.video : undefined,
  });
}

function setPresence(state) {
  app.presence = state;
  if (state === 'WAITING') {
    if (app.phase !== 'lobby') {
      setPhase('lobby');
      announce(t('waitingText'), true);
    }
  } else if (state === 'IN_ROOM') {
    enterRoom();
  }
}

let entering = null;
function enterRoom() {
  if (app.phase === 'room' && (session || entering)) return;
  if (app.phase !== 'room') setPhase('room');
  entering = (async () => {
    await refreshRoster();
    await local.start();
    showLocal();
    startMedia();
  })().finally(() => {
    entering = null;
  });
}

async function refreshRoster() {
  try {
    const room = await request('MeetingRoom');
    const flags = new Map([...app.roster].map(([id, p]) => [id, { audio: p.audio, video: p.video }]));
    app.roster.clear();
    for (const m of room.members) {
      app.roster.set(m.participantId, { ...m, audio: true, video: true, ...flags.get(m.participantId) });
    }
    renderRoom();
  } catch (problem) {
    if (problem.code !== 'NETWORK') showAlert(problem);
  }
}

let rosterTimer = null;
function refreshRosterSoon() {
  clearTimeout(rosterTimer);
  rosterTimer = setTimeout(() => {
    if (app.phase === 'room' && app.socket) refreshRoster();
  }, 300);
}

// ---------------------------------------------------------------------------------------------
// Media

function startLocal() {
  local.start().then(async () => {
    localLevel = newLevel(localLevel, local.track('audio'));
    showLocal();
    await fillDevices();
  });
}

function newLevel(old, track) {
  old?.close();
  return track ? new Level(track) : null;
}

function startMedia() {
  if (session || app.leaving) return;
  session = new MediaSession(
    local,
    {
      connectMedia: () => request('ConnectMedia'),
      sendSignal: (to, kind, payload) => request('SendSignal', { toParticipantId: to, kind, payload }),
    },
    {
      onState: (state) => {
        const before = app.media;
        app.media = state;
        renderMediaState();
        // The room shows it in its own status line; screen readers hear it once.
        if (state === 'reconnecting' && before !== 'reconnecting') announce(t('reconnecting'), true);
        if (state === 'connected' && before === 'reconnecting') announce(t('reconnected'));
      },
      onRemote: (remote) => {
        app.remote = remote;
        renderRoom();
      },
      onAnswered: () => sendMuteState(),
    },
  );
  session.setTracks(app.tracks);
  session.start();
}

function stopMedia() {
  session?.close();
  session = null;
  app.remote = new Map();
  app.media = 'idle';
  renderRoom();
}

function stopEverything() {
  stopMedia();
  clearTimeout(app.retryTimer);
  app.socket?.close();
  app.socket = null;
  local.stop();
}

function sendMuteState() {
  if (app.presence !== 'IN_ROOM' || !app.socket) return;
  const payload = JSON.stringify({ audio: local.audioOn, video: local.videoOn });
  request('SendSignal', { toParticipantId: session?.mediaServerId || MEDIA_SERVER, kind: 'MUTE_STATE', payload })
    .catch((problem) => console.warn('mute state not sent', problem));
}

function toggleAudio() {
  local.setAudio(!local.audioOn);
  renderControls();
  renderRoom();
  sendMuteState();
}

function toggleVideo() {
  local.setVideo(!local.videoOn);
  renderControls();
  showLocal();
  renderRoom();
  sendMuteState();
}

async function fillDevices() {
  let devices;
  try {
    devices = await local.devices();
  } catch {
    return;
  }
  fillSelect($('camera-select'), devices.videoinput, local.currentDevice('video'), 'cameraN', 'noCameraDevice');
  fillSelect($('mic-select'), devices.audioinput, local.currentDevice('audio'), 'microphoneN', 'noMicrophone');
}

function fillSelect(select, list, current, numbered, none) {
  select.replaceChildren();
  // The browser's "default" and "communications" entries repeat a real device (same group): one
  // line per device, the one in use chosen.
  const groupOf = new Map(list.map((d) => [d.deviceId, d.groupId]));
  const alias = (d) => d.deviceId === 'default' || d.deviceId === 'communications';
  const shown = list.filter((d) => !alias(d) || !list.some((o) => !alias(o) && o.groupId && o.groupId === d.groupId));
  if (!shown.length) {
    select.append(new Option(t(none), ''));
    select.disabled = true;
    return;
  }
  select.disabled = false;
  const names = new Map();
  shown.forEach((device, i) => {
    let name = friendlyDevice(device.label) || t(numbered, { n: i + 1 });
    if (names.has(name)) name = t(numbered, { n: i + 1 }); // two alike: a number tells them apart
    names.set(name, true);
    const option = new Option(name, device.deviceId);
    option.selected = device.deviceId === current || (alias({ deviceId: current }) && device.groupId === groupOf.get(current));
    select.append(option);
  });
}

// A device's name as a person would say it: no USB ids ("(046d:0825)"), no "Default - " prefix,
// "front"/"back" on a phone in words; a name that is only an id (or empty) gives way to "Kamera 1".
function friendlyDevice(label) {
  let name = (label || '')
    .replace(/\s*\([0-9a-f]{4}:[0-9a-f]{4}\)/gi, '')
    .replace(/^(default|communications|standard|kommunikation)\s*-\s*/i, '')
    .trim();
  if (/facing front|front camera|frontkamera/i.test(name)) return t('cameraFront');
  if (/facing back|back camera|rear|bakre/i.test(name)) return t('cameraBack');
  if (!name || /^[\w.:-]+$/.test(name) && /[_\d]/.test(name) && !/\s/.test(name)) return '';
  if (/^[0-9a-f-]{16,}$/i.test(name)) return '';
  return name;
}

async function chooseDevice(kind, select) {
  if (!select.value) return;
  try {
    await local.use(kind, select.value);
  } catch {
    renderMediaProblem();
  }
  renderMediaProblem();
}

function showLocal() {
  for (const video of [$('preview'), tiles.get('self')?.video].filter(Boolean)) {
    if (video.srcObject !== local.stream) video.srcObject = local.stream;
    video.play?.().catch(() => {});
  }
  const noPicture = !local.track('video') || !local.videoOn;
  $('preview-off').hidden = !noPicture;
  renderMediaProblem();
  renderRoom();
}

// ---------------------------------------------------------------------------------------------
// Leaving

async function leave() {
  app.leaving = true;
  try {
    await request('LeaveMeeting');
  } catch {
    // the stream ending makes us away anyway
  }
  stopEverything();
  setPhase('left');
}

function removed() {
  app.leaving = true;
  stopEverything();
  setPhase('removed');
  announce(t('removedTitle'));
}

// ---------------------------------------------------------------------------------------------
// Staff: admitting and removing

async function admit(participantId, button) {
  button.disabled = true;
  try {
    await request('AdmitToMeeting', { participantId });
  } catch (problem) {
    showAlert(problem);
    button.disabled = false;
  }
}

async function removeParticipant(participantId, button) {
  const name = app.roster.get(participantId)?.name || '';
  if (!window.confirm(t('confirmRemove', { name }))) return;
  button.disabled = true;
  try {
    await request('RemoveFromMeeting', { participantId });
  } catch (problem) {
    showAlert(problem);
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function setPhase(phase) {
  const before = app.phase;
  app.phase = phase;
  const view = { prejoin: 'lobby', left: 'ended', removed: 'ended' }[phase] || phase;
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

function renderTexts() {
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
  $('ended-title').textContent = t(app.phase === 'removed' ? 'removedTitle' : 'leftTitle');
  $('ended-text').textContent = t(app.phase === 'removed' ? 'removedText' : 'leftText');
  if (app.problem) renderError();
  renderMediaProblem();
  renderControls();
  renderMediaState();
  renderRoom();
}

// The microphone and camera buttons say their state in words, and pressed means on (aria-pressed):
// "Mikrofonen är på" (pressed) or "Mikrofonen är av"; a press turns it the other way.
function renderControls() {
  for (const id of ['mute', 'lobby-mute']) {
    $(id).setAttribute('aria-pressed', String(local.audioOn));
    $(id).textContent = t(local.audioOn ? 'micOnButton' : 'micOffButton');
  }
  for (const id of ['camera', 'lobby-camera']) {
    $(id).setAttribute('aria-pressed', String(local.videoOn));
    $(id).textContent = t(local.videoOn ? 'cameraOnButton' : 'cameraOffButton');
  }
}

function renderMediaProblem() {
  const el = $('media-problem');
  el.hidden = !local.problem;
  el.textContent = local.problem ? t(local.problem) : '';
}

function renderMediaState() {
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

function showError(problem) {
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
function showAlert(problem) {
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
function announce(text, quietly = false) {
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

function kindLabel(kind) {
  return kind && has(`kind_${kind}`) ? t(`kind_${kind}`) : '';
}

function renderRoom() {
  if (app.phase !== 'room') return;
  renderWaiting();
  renderTiles();
}

function renderWaiting() {
  const section = $('waiting');
  section.hidden = !app.isStaff;
  if (!app.isStaff) return;
  const waiting = [...app.roster.values()].filter((p) => p.state === 'WAITING');
  const title = $('waiting-title');
  title.textContent = waiting.length ? `${t('waitingListTitle')} (${waiting.length})` : t('nobodyWaiting');
  section.classList.toggle('empty', !waiting.length);
  const list = $('waiting-list');
  const hadFocus = list.contains(document.activeElement);
  list.replaceChildren();
  list.hidden = !waiting.length;
  for (const person of waiting) {
    const who = h('p', { class: 'waiting-who' }, person.name, h('span', {}, person.role || kindLabel(person.kind)));
    const admitButton = button(t('admit'), person.name, 'btn btn-primary', (b) => admit(person.participantId, b));
    const removeButton = button(t('remove'), person.name, 'btn', (b) => removeParticipant(person.participantId, b));
    list.append(h('li', {}, who, admitButton, removeButton));
  }
  if (hadFocus) {
    const next = list.querySelector('button');
    if (next) next.focus();
    else {
      title.tabIndex = -1;
      title.focus();
    }
  }
}

/** A button whose name says whom it is about: "Släpp in Elsa Andersson". */
function button(label, whom, className, onClick) {
  const b = h('button', { type: 'button', class: className }, label,
    whom ? h('span', { class: 'visually-hidden' }, ` ${whom}`) : null);
  b.addEventListener('click', () => onClick(b));
  return b;
}

function renderTiles() {
  const list = $('tiles');
  const others = [...app.roster.values()].filter(
    (p) => p.state === 'IN_ROOM' && p.participantId !== app.me.participantId,
  );
  for (const [id, remote] of app.remote) {
    if (id !== app.me.participantId && !others.some((p) => p.participantId === id)) {
      others.push({ participantId: id, name: remote.info.name, kind: remote.info.kind, role: remote.info.role,
        audio: true, video: true });
    }
  }
  const wanted = [...others.map((p) => p.participantId), 'self']; // the others first: they matter most
  for (const [id, tile] of tiles) {
    if (!wanted.includes(id)) {
      tile.level?.close();
      tile.li.remove();
      tiles.delete(id);
    }
  }
  const me = app.roster.get(app.me.participantId);
  updateTile('self', {
    name: t('youSuffix', { name: app.me.name }),
    role: me?.role || kindLabel(me?.kind),
    audio: local.audioOn && Boolean(local.track('audio')),
    video: local.videoOn && Boolean(local.track('video')),
  }, { video: local.track('video') ? local.stream : null });
  for (const p of others) {
    const remote = app.remote.get(p.participantId);
    updateTile(p.participantId, {
      name: p.name,
      role: p.role || kindLabel(p.kind),
      audio: p.audio !== false,
      video: p.video !== false && Boolean(remote?.video),
      connecting: !remote,
    }, { videoTrack: remote?.video || null, audioTrack: remote?.audio || null });
  }
  for (const id of wanted) list.append(tiles.get(id).li); // in order (moves only what moved)
  $('alone').hidden = others.length > 0;
}

function makeTile(id) {
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound comes from the <audio> element
  video.setAttribute('playsinline', '');
  video.setAttribute('aria-hidden', 'true');
  const placeholder = h('p', { class: 'tile-placeholder' });
  const speaking = h('p', { class: 'tile-speaking' });
  const name = h('p', { class: 'tile-name' });
  const role = h('p', { class: 'tile-role' });
  const state = h('p', { class: 'tile-state' });
  const li = h('li', { class: id === 'self' ? 'tile self' : 'tile' },
    video, placeholder, speaking, h('div', { class: 'tile-label' }, name, role, state));
  const tile = { li, video, placeholder, speaking, name, role, state, audio: null, videoTrack: null,
    audioTrack: null, level: null, removeButton: null };
  if (id !== 'self') {
    tile.audio = document.createElement('audio');
    tile.audio.autoplay = true;
    li.append(tile.audio);
  }
  tiles.set(id, tile);
  return tile;
}

function updateTile(id, info, media) {
  const tile = tiles.get(id) || makeTile(id);
  tile.name.textContent = info.name;
  tile.role.textContent = info.role || '';
  const states = [];
  if (!info.audio) states.push(t('micIsOff'));
  if (id !== 'self' && info.video === false && !info.connecting) states.push(t('cameraIsOff'));
  tile.state.textContent = states.join(' · ');
  tile.speaking.textContent = t('speaking');
  if (id === 'self') {
    if (tile.video.srcObject !== media.video) tile.video.srcObject = media.video;
    tile.placeholder.textContent = info.video ? '' : t('cameraIsOff');
    tile.placeholder.hidden = info.video;
    tile.video.hidden = !info.video;
  } else {
    if (tile.videoTrack !== media.videoTrack) {
      tile.videoTrack = media.videoTrack;
      tile.video.srcObject = media.videoTrack ? new MediaStream([media.videoTrack]) : null;
      tile.video.play?.().catch(() => {});
    }
    if (tile.audioTrack !== media.audioTrack) {
      tile.audioTrack = media.audioTrack;
      tile.audio.srcObject = media.audioTrack ? new MediaStream([media.audioTrack]) : null;
      playSound(tile.audio);
      tile.level = newLevel(tile.level, media.audioTrack);
    }
    const showVideo = Boolean(media.videoTrack) && info.video;
    tile.video.hidden = !showVideo;
    tile.placeholder.hidden = showVideo;
    tile.placeholder.textContent = info.connecting ? t('connectingMedia') : info.video ? t('noMediaYet') : t('cameraIsOff');
    const canRemove = app.isStaff;
    if (canRemove && !tile.removeButton) {
      tile.removeButton = button(t('remove'), info.name, 'btn btn-small', (b) => removeParticipant(id, b));
      tile.li.append(tile.removeButton);
    }
    if (tile.removeButton) {
      tile.removeButton.firstChild.textContent = t('remove');
      tile.removeButton.lastChild.textContent = ` ${info.name ?? ''}`;
    }
  }
}

/** Play someone's sound; where the browser wants a tap first, show a button that asks for one. */
function playSound(audio) {
  if (!audio.srcObject) return;
  const playing = audio.play?.();
  playing?.catch((error) => {
    if (error?.name === 'NotAllowedError') $('sound').hidden = false;
  });
}

function onSoundTap() {
  unlockAudio();
  $('sound').hidden = true;
  for (const tile of tiles.values()) if (tile.audio) playSound(tile.audio);
}

// Sound levels: the lobby's meter, and who speaks in the room (the loudest, held a moment).
function tick() {
  const level = localLevel?.value() || 0;
  if (!$('view-lobby').hidden) {
    $('meter-bar').style.setProperty('--level', Math.min(1, level * 2.5).toFixed(3));
    if (level > SPEAKING_LEVEL) heardAt = Date.now();
    let key = 'hearNothing';
    if (!local.track('audio')) key = 'noMicrophone';
    else if (!local.audioOn) key = 'micIsOff';
    else if (sharedAudioContext()?.state === 'suspended') key = 'meterPaused';
    else if (Date.now() - heardAt < 2000) key = 'hearYou';
    if ($('meter-text').dataset.key !== key) {
      $('meter-text').dataset.key = key;
      $('meter-text').textContent = t(key);
    }
  }
  if (app.phase !== 'room') return;
  let loudest = null;
  let loudestLevel = SPEAKING_LEVEL;
  for (const [id, tile] of tiles) {
    const value = id === 'self' ? level : tile.level?.value() || 0;
    if (value > loudestLevel) {
      loudest = id;
      loudestLevel = value;
    }
  }
  const now = Date.now();
  if (loudest && loudest !== speaker.id) speaker = { id: loudest, since: now };
  else if (loudest) speaker.since = now;
  else if (speaker.id && now - speaker.since > SPEAKER_HOLD_MS) speaker = { id: null, since: now };
  for (const [id, tile] of tiles) tile.li.classList.toggle('speaking', id === speaker.id);
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire() {
  $('language').addEventListener('click', () => {
    setLanguage(language() === 'sv' ? 'en' : 'sv');
    $('notice').textContent = ''; // said in the other language
    translatePage();
    $('meter-text').dataset.key = '';
    renderTexts();
    fillDevices();
  });
  $('join').addEventListener('click', onJoinTap);
  $('enter').addEventListener('click', onEnterTap);
  $('lobby-leave').addEventListener('click', leave);
  $('leave').addEventListener('click', leave);
  $('mute').addEventListener('click', toggleAudio);
  $('lobby-mute').addEventListener('click', toggleAudio);
  $('lobby-camera').addEventListener('click', toggleVideo);
  $('sound').addEventListener('click', onSoundTap);
  $('camera').addEventListener('click', toggleVideo);
  $('rejoin').addEventListener('click', () => location.reload());
  $('error-retry').addEventListener('click', () => location.reload());
  $('camera-select').addEventListener('change', (e) => chooseDevice('video', e.target));
  $('mic-select').addEventListener('change', (e) => chooseDevice('audio', e.target));
  // Any tap or key lets sound play (an AudioContext made before one stays silent).
  for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, unlockAudio, { once: true });
  // Another invite link opened in this tab: start over with it.
  window.addEventListener('hashchange', () => {
    if (new URLSearchParams(location.hash.slice(1)).get('t')) location.reload();
  });
  window.addEventListener('online', () => {
    if (!app.socket && app.connection === 'reconnecting') {
      app.retries = 0;
      scheduleReconnect();
    }
  });
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) location.reload(); // back from the browser's page cache: connections are gone
  });
  window.addEventListener('pagehide', () => {
    app.leaving = true;
    session?.close();
    app.socket?.close();
  });
  setInterval(tick, 100);
}

function exposeDebugHook() {
  // Read-only, for tests and troubleshooting: what the page shows, and frames decoded per person.
  const hook = Object.freeze({
    get state() {
      return JSON.parse(JSON.stringify({
        mode: app.mode,
        phase: app.phase,
        presence: app.presence,
        media: app.media,
        connection: app.connection,
        participantId: app.me.participantId,
        waiting: [...app.roster.values()].filter((p) => p.state === 'WAITING').map((p) => p.name),
        inRoom: [...app.roster.values()].filter((p) => p.state === 'IN_ROOM').map((p) => p.name),
        remote: [...app.remote.keys()],
        tracks: app.tracks,
      }));
    },
    stats: async () => (session ? session.stats() : []),
  });
  Object.defineProperty(window, 'sipVideo', { value: hook, writable: false, configurable: false });
}

boot();
