// The camera and microphone (media.js underneath): the local media, device menus, and the media
// session while in the room.
import { t } from './i18n.js';
import { Level, LocalMedia } from './media.js';
import { MediaSession } from './peer.js';
import { $, MEDIA_SERVER, app } from './state.js';
import { request } from './connection.js';
import { announce, renderControls, renderMediaProblem, renderMediaState } from './page.js';
import { renderRoom, tiles } from './room.js';

export const local = new LocalMedia((kind, track) => {
  session?.replaceLocal(kind, track);
  if (kind === 'audio') localLevel = newLevel(localLevel, track);
  showLocal();
});
export let session = null; // MediaSession while in the room
export let localLevel = null;

// ---------------------------------------------------------------------------------------------
// Media

export function startLocal() {
  local.start().then(async () => {
    localLevel = newLevel(localLevel, local.track('audio'));
    showLocal();
    await fillDevices();
  });
}

export function newLevel(old, track) {
  old?.close();
  return track ? new Level(track) : null;
}

export function startMedia() {
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

export function stopMedia() {
  session?.close();
  session = null;
  app.remote = new Map();
  app.media = 'idle';
  renderRoom();
}

export function stopEverything() {
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

export function toggleAudio() {
  local.setAudio(!local.audioOn);
  renderControls();
  renderRoom();
  sendMuteState();
}

export function toggleVideo() {
  local.setVideo(!local.videoOn);
  renderControls();
  showLocal();
  renderRoom();
  sendMuteState();
}

export async function fillDevices() {
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

export async function chooseDevice(kind, select) {
  if (!select.value) return;
  try {
    await local.use(kind, select.value);
  } catch {
    renderMediaProblem();
  }
  renderMediaProblem();
}

export function showLocal() {
  for (const video of [$('preview'), tiles.get('self')?.video].filter(Boolean)) {
    if (video.srcObject !== local.stream) video.srcObject = local.stream;
    video.play?.().catch(() => {});
  }
  const noPicture = !local.track('video') || !local.videoOn;
  $('preview-off').hidden = !noPicture;
  renderMediaProblem();
  renderRoom();
}
