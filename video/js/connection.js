// Signing in (invite or session), the websocket and the meeting's events: presence, the roster, media tracks.
import { GraphQLSocket, Problem, isProblem, socketUrl } from '/app/lib/gql.js';
import { exchangeInvite } from './invite.js';
import { t } from './i18n.js';
import { INVITE_KEY, LINK_CODES, MEDIA_SERVER, TOKEN_MARGIN_MS, app } from './state.js';
import { local, session, showLocal, startMedia, stopEverything, stopMedia } from './devices.js';
import { announce, renderMediaState, setPhase, showAlert, showError } from './page.js';
import { closed, removed, renderRoom } from './room.js';

// ---------------------------------------------------------------------------------------------
// Signing in and the event stream

export function readInvite() {
  try {
    return sessionStorage.getItem(INVITE_KEY);
  } catch {
    return null;
  }
}

export function storeInvite(token) {
  try {
    sessionStorage.setItem(INVITE_KEY, token);
  } catch {
    // a reload will need the link again
  }
}

export async function renewMeetingToken() {
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
export async function connect() {
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

export async function request(name, variables) {
  if (!app.socket) throw new Problem('NETWORK');
  const result = await app.socket.request(name, { meetingId: app.meetingId, ...variables });
  if (isProblem(result)) throw new Problem(result.code, result.message, result);
  return result;
}

export async function join() {
  const presence = await request('JoinMeeting');
  app.joined = true;
  app.me.participantId = presence.participantId;
  setPresence(presence.state);
}

/** The websocket broke (or the stream ended): tidy up, then connect and join again. */
function connectionLost(socket) {
  if (socket !== app.socket || app.leaving || ['left', 'removed', 'closed', 'error'].includes(app.phase)) return;
  app.socket = null;
  socket.close();
  stopMedia();
  app.connection = 'reconnecting';
  renderMediaState();
  announce(navigator.onLine === false ? t('offline') : t('reconnecting'), app.phase === 'room');
  scheduleReconnect();
}

export function scheduleReconnect() {
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
    if (problem.code === 'MEETING_CANCELLED') {
      closed(); // cancelled while we were away: the same words as for those who were there
    } else if (LINK_CODES.has(problem.code) || ['NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED'].includes(problem.code)) {
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
    case 'CLOSED': // staff cancelled the meeting: it is over, for everyone
      closed();
      break;
    case 'MEDIA_LOST': // the media server lost our connection (its Janus died): connect again at once
      if (from === MEDIA_SERVER || from === session?.mediaServerId) session?.restart();
      break;
    case 'MEDIA_TRACKS':
      onMediaTracks(e.payload);
      break;
    case 'OFFER':
      if (from === MEDIA_SERVER || from === session?.mediaServerId) session?.handleOffer(e.payload);
      break;
    case 'ANSWER': // to what we publish (Janus)
      if (from === MEDIA_SERVER || from === session?.mediaServerId) session?.handleAnswer(e.payload);
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
