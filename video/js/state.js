// What the page knows: its constants and the one `app` state object every module reads and updates.

export const MEDIA_SERVER = '00000000-0000-0000-0000-000000000000';
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const INVITE_KEY = 'sipVideoInvite';
export const TOKEN_MARGIN_MS = 60_000;
export const SPEAKING_LEVEL = 0.08;
export const SPEAKER_HOLD_MS = 800;
export const NOTICE_CLEAR_MS = 20_000;
// Refusals of the link itself: trying again does not help.
export const LINK_CODES = new Set(['INVITE_UNKNOWN', 'INVITE_REVOKED', 'INVITE_EXPIRED', 'INVITE_NOT_YET_VALID',
  'MEETING_CANCELLED', 'PLAN_CLOSED', 'LINK_MISSING']);
export const VIEWS = ['loading', 'error', 'signin', 'start', 'lobby', 'room', 'ended'];

export const $ = (id) => document.getElementById(id);

export const app = {
  mode: null, // 'guest' (invite link) or 'session' (signed in)
  phase: 'loading', // loading | error | signin | start | prejoin | lobby | room | left | removed | closed
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
