// The video meeting page: a guest's invite link (/join#t=…) or a signed-in person's meeting
// (/video/?m=<meeting id>) → lobby with a device check → the room. See video/README.md.
// This module starts the page and wires its controls; state.js holds what the page knows,
// connection.js the websocket and the meeting's events, devices.js the camera and microphone,
// page.js the phases and messages, room.js the room (tiles, who waits, who speaks).
import { Problem, loadOperations, signedIn } from '/app/lib/gql.js';
import { language, setLanguage, t, translatePage } from './i18n.js';
import { unlockAudio } from './media.js';
import { $, UUID, app } from './state.js';
import { connect, join, readInvite, renewMeetingToken, scheduleReconnect, storeInvite } from './connection.js';
import { chooseDevice, fillDevices, session, startLocal, toggleAudio, toggleVideo } from './devices.js';
import { renderTexts, setPhase, showAlert, showError } from './page.js';
import { leave, onSoundTap, tick } from './room.js';

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
    route: async () => (session ? session.route() : null),
  });
  Object.defineProperty(window, 'sipVideo', { value: hook, writable: false, configurable: false });
}

boot();
